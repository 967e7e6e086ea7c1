//! The idle sweep over N managed clusters in the local emulator: API calls
//! per sweep by operation, and wall time, with the per-cluster calls one at a
//! time (`SPARKHUB_MAX_CONCURRENCY=1`) and a bounded number at once.
//!
//! Run: `tests/emulator/with-emulator cargo bench -p sparkhub-tests --bench sweep`
//! (optionally followed by `-- 100 1000` to choose N, default 10 100 1000;
//! `--delay-ms=50` to send every AWS call 50 ms late, as a round trip to AWS
//! would; `--concurrency=K` for the concurrent sweep, default sparkhub's).
//!
//! Each fleet: 60 % idle (terminated), 20 % with notebook activity, 10 % in
//! their grace period, 10 % idle but not managed by sparkhub (described, kept).
//! The concurrent sweep runs first; the clusters it terminated are set WAITING
//! again and the sequential sweep judges the very same fleet. Both must reach
//! the same verdicts, in the same report order, with the same calls.
//! The clusters of one round are terminated before the next round starts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use jiff::{SignedDuration, Timestamp};
use sparkhub_core::idle::{AGENT_METRIC, EMR_NAMESPACE, IS_IDLE_METRIC, activity_namespace};
use sparkhub_core::sweep::{Config, Summary};
use sparkhub_tests::latency::{BenchArgs, with_latency};
use sparkhub_tests::{LocalAws, unique};

const TUTORIAL: &str = include_str!("../../profiles/tutorial.toml");

fn series(value: impl Fn(i64) -> f64) -> Vec<(i64, f64)> {
    (0..=14).map(|i| (i * 5, value(i * 5))).collect()
}

/// One measured sweep.
struct Run {
    summary: Summary,
    calls: BTreeMap<String, usize>,
    elapsed: Duration,
}

#[tokio::main]
async fn main() {
    let args = BenchArgs::from_command_line();
    let aws = LocalAws::connect().await;
    let slow = with_latency(&aws.config, args.delay);
    let bucket = unique("sparkhub-bench");
    let profile = "bench";
    let text = TUTORIAL.replacen("name = \"tutorial\"", "name = \"bench\"", 1);
    aws.bucket_with(&bucket, &[("profiles/bench.toml", &text)])
        .await;

    eprintln!(
        "delay per AWS call: {} ms; concurrent sweep: {} calls in flight",
        args.delay.as_millis(),
        args.concurrency
    );
    println!(
        "| N | delay | in flight | ListClusters | GetMetricData | DescribeCluster | ListSteps | TerminateJobFlows | S3 (profiles) | EMR + CloudWatch calls vs budget | terminated | sweep wall time |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for n in args.sizes.iter().copied() {
        let setup = Instant::now();
        let ids = fleet(&aws, n, profile).await;
        eprintln!(
            "N={n}: fleet ready in {:.1} s",
            setup.elapsed().as_secs_f64()
        );

        let sweep = |concurrency: usize| {
            let (aws, slow, bucket) = (&aws, &slow, bucket.clone());
            async move {
                let terminator = sparkhub_aws::terminator(
                    Config {
                        bucket,
                        dry_run: false,
                        topic_arn: None,
                        max_concurrency: concurrency,
                        checks: None,
                    },
                    slow,
                );
                aws.reset_recording();
                let started = Instant::now();
                let summary = terminator.sweep().await.expect("a sweep");
                let elapsed = started.elapsed();
                Run {
                    summary,
                    calls: aws.calls_by_operation(),
                    elapsed,
                }
            }
        };

        let concurrent = sweep(args.concurrency).await;
        for id in &concurrent.summary.terminated {
            aws.set_cluster_state(id, "WAITING", None);
        }
        let sequential = sweep(1).await;

        assert_eq!(
            verdicts(&concurrent.summary),
            verdicts(&sequential.summary),
            "the same verdicts, in the same order"
        );
        assert_eq!(
            concurrent.summary.terminated, sequential.summary.terminated,
            "the same clusters terminated"
        );
        assert_eq!(concurrent.calls, sequential.calls, "the same calls");
        for (label, run) in [
            ("1", &sequential),
            (&*args.concurrency.to_string(), &concurrent),
        ] {
            row(n, args.delay, label, run);
        }
        if args.delay > Duration::ZERO {
            eprintln!(
                "N={n}: {:.1} times faster with {} in flight",
                sequential.elapsed.as_secs_f64() / concurrent.elapsed.as_secs_f64(),
                args.concurrency
            );
        }

        // Clean up for the next round (not measured).
        let leftover: Vec<String> = ids
            .into_iter()
            .filter(|id| !sequential.summary.terminated.contains(id))
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

/// N clusters as the module comment describes, with their metrics.
async fn fleet(aws: &LocalAws, n: usize, profile: &str) -> Vec<String> {
    let now = Timestamp::now();
    let ids: Vec<String> = stream::iter(0..n)
        .map(|i| async move {
            let tags: &[(&str, &str)] = if i % 10 == 9 {
                &[("sparkhub:profile", profile)]
            } else {
                &[("sparkhub:managed", "true"), ("sparkhub:profile", profile)]
            };
            aws.run_cluster(
                &format!("sparkhub-{profile}"),
                tags,
                &["Spark", "JupyterHub"],
            )
            .await
        })
        .buffered(4)
        .collect()
        .await;
    let mut idle_series = Vec::new();
    let mut notebook_series = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let kind = i % 10;
        let ready = if kind == 8 {
            now - SignedDuration::from_mins(10)
        } else {
            now - SignedDuration::from_hours(2)
        };
        aws.set_cluster_times(id, now - SignedDuration::from_hours(3), Some(ready));
        idle_series.push((id.clone(), series(|_| 1.0)));
        let active = matches!(kind, 6 | 7);
        notebook_series.push((
            id.clone(),
            series(|m| if active && m == 10 { 1.0 } else { 0.0 }),
        ));
    }
    aws.put_metrics(EMR_NAMESPACE, IS_IDLE_METRIC, &idle_series)
        .await;
    aws.put_metrics(&activity_namespace(profile), AGENT_METRIC, &notebook_series)
        .await;
    ids
}

fn verdicts(summary: &Summary) -> Vec<(String, bool, String)> {
    summary
        .clusters
        .iter()
        .map(|c| (c.cluster_id.clone(), c.terminate, c.reason.clone()))
        .collect()
}

fn row(n: usize, delay: Duration, in_flight: &str, run: &Run) {
    let get = |op: &str| run.calls.get(op).copied().unwrap_or(0);
    // The budget: ceil(N/50) listings + metric batches + 2 per cluster still
    // a candidate after metrics + one TerminateJobFlows per ten clusters
    // (the API's limit).
    let candidates = get("DescribeCluster");
    let budget = n.div_ceil(50)
        + get("GetMetricData")
        + 2 * candidates
        + run.summary.terminated.len().div_ceil(10);
    let emr_calls = get("ListClusters")
        + get("GetMetricData")
        + get("DescribeCluster")
        + get("ListSteps")
        + get("TerminateJobFlows");
    println!(
        "| {n} | {} ms | {in_flight} | {} | {} | {} | {} | {} | {} | {emr_calls} ≤ {budget} | {} | {:.0} ms |",
        delay.as_millis(),
        get("ListClusters"),
        get("GetMetricData"),
        get("DescribeCluster"),
        get("ListSteps"),
        get("TerminateJobFlows"),
        get("ListObjectsV2") + get("GetObject"),
        run.summary.terminated.len(),
        run.elapsed.as_secs_f64() * 1000.0,
    );
    assert!(emr_calls <= budget, "over budget: {:?}", run.calls);
    assert!(run.summary.errors.is_empty(), "{:?}", run.summary.errors);
}
