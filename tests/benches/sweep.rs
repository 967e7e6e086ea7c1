//! The idle sweep over N managed clusters in the local emulator: API calls
//! per sweep by operation, and wall time.
//!
//! Run: `tests/emulator/with-emulator cargo bench -p sparkhub-tests --bench sweep`
//! (optionally followed by `-- 10 100` to choose N; default 10 100 1000).
//!
//! Each fleet: 60 % idle (terminated), 20 % with notebook activity, 10 % in
//! their grace period, 10 % idle but not managed by sparkhub (described, kept).
//! The clusters of one round are terminated before the next round starts.

use std::collections::BTreeMap;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use sparkhub_shared::idle::{EMR_NAMESPACE, IS_IDLE_METRIC, NOTEBOOK_METRIC, NOTEBOOK_NAMESPACE};
use sparkhub_tests::{LocalAws, unique};
use terminate_idle_clusters::{Config, Terminator};

const TUTORIAL: &str = include_str!("../../profiles/tutorial.toml");

fn series(value: impl Fn(i64) -> f64) -> Vec<(i64, f64)> {
    (0..=14).map(|i| (i * 5, value(i * 5))).collect()
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10, 100, 1000]
    } else {
        sizes
    };
    let aws = LocalAws::connect().await;
    let bucket = unique("sparkhub-bench");
    let profile = "bench";
    let text = TUTORIAL.replacen("name = \"tutorial\"", "name = \"bench\"", 1);
    aws.bucket_with(&bucket, &[("profiles/bench.toml", &text)])
        .await;

    println!(
        "| N | ListClusters | GetMetricData | DescribeCluster | ListSteps | TerminateJobFlows | S3 (profiles) | budget | terminated | sweep wall time |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for n in sizes {
        let now = Timestamp::now();
        let mut idle_series = Vec::new();
        let mut notebook_series = Vec::new();
        let mut ids = Vec::new();
        for i in 0..n {
            let kind = i % 10;
            let tags: &[(&str, &str)] = if kind == 9 {
                &[("sparkhub:profile", profile)]
            } else {
                &[("sparkhub:managed", "true"), ("sparkhub:profile", profile)]
            };
            let id = aws
                .run_cluster("sparkhub-bench", tags, &["Spark", "JupyterHub"])
                .await;
            let ready = if kind == 8 {
                now - SignedDuration::from_mins(10)
            } else {
                now - SignedDuration::from_hours(2)
            };
            aws.set_cluster_times(&id, now - SignedDuration::from_hours(3), Some(ready));
            idle_series.push((id.clone(), series(|_| 1.0)));
            let active = matches!(kind, 6 | 7);
            notebook_series.push((
                id.clone(),
                series(|m| if active && m == 10 { 1.0 } else { 0.0 }),
            ));
            ids.push(id);
        }
        aws.put_metrics(EMR_NAMESPACE, IS_IDLE_METRIC, &idle_series)
            .await;
        aws.put_metrics(NOTEBOOK_NAMESPACE, NOTEBOOK_METRIC, &notebook_series)
            .await;

        let terminator = Terminator::with_aws(
            Config {
                bucket: bucket.clone(),
                dry_run: false,
                topic_arn: None,
                max_concurrency: sparkhub_shared::settings::DEFAULT_MAX_CONCURRENCY,
            },
            &aws.config,
        );
        aws.reset_recording();
        let started = Instant::now();
        let summary = terminator.sweep().await.expect("a sweep");
        let elapsed = started.elapsed();
        let calls = count_calls(&aws);
        let get = |op: &str| calls.get(op).copied().unwrap_or(0);

        // The budget: ceil(N/50) listings + metric batches + 2 per
        // cluster still a candidate after metrics + one TerminateJobFlows per
        // ten clusters (the API's limit).
        let candidates = get("DescribeCluster");
        let budget = n.div_ceil(50)
            + get("GetMetricData")
            + 2 * candidates
            + summary.terminated.len().div_ceil(10);
        let emr_calls = get("ListClusters")
            + get("GetMetricData")
            + get("DescribeCluster")
            + get("ListSteps")
            + get("TerminateJobFlows");
        println!(
            "| {n} | {} | {} | {} | {} | {} | {} | {emr_calls} ≤ {budget} | {} | {:.0} ms |",
            get("ListClusters"),
            get("GetMetricData"),
            get("DescribeCluster"),
            get("ListSteps"),
            get("TerminateJobFlows"),
            get("ListObjectsV2") + get("GetObject"),
            summary.terminated.len(),
            elapsed.as_secs_f64() * 1000.0,
        );
        assert!(emr_calls <= budget, "over budget: {calls:?}");
        assert!(summary.errors.is_empty(), "{:?}", summary.errors);

        // Clean up for the next round (not measured).
        let leftover: Vec<String> = ids
            .into_iter()
            .filter(|id| !summary.terminated.contains(id))
            .collect();
        for chunk in leftover.chunks(10) {
            aws.emr
                .terminate_job_flows()
                .set_job_flow_ids(Some(chunk.to_vec()))
                .send()
                .await
                .unwrap();
        }
    }
}

/// Requests the emulator recorded since the last reset, by operation.
fn count_calls(aws: &LocalAws) -> BTreeMap<String, usize> {
    let mut calls = BTreeMap::new();
    for (target, _) in aws.recorded_requests() {
        let op = if let Some((_, op)) = target
            .rsplit_once('.')
            .filter(|_| !target.starts_with("http"))
        {
            op.to_owned()
        } else if target.contains("list-type=2") {
            "ListObjectsV2".to_owned()
        } else if target.contains("/profiles/") {
            "GetObject".to_owned()
        } else {
            target
        };
        *calls.entry(op).or_default() += 1;
    }
    calls
}
