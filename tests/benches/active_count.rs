//! create-cluster's count of a profile's active clusters
//! (`ClusterDirectory::active_clusters` over the EMR adapter, as
//! `sparkhub_aws::create_cluster` wires it) with N active clusters of that name in
//! the local emulator: API calls and wall time, describing one cluster at a
//! time and a bounded number at once.
//!
//! Run: `tests/emulator/with-emulator cargo bench -p sparkhub-tests --bench active_count`
//! (optionally followed by `-- 100 1000` to choose N, default 10 100 1000;
//! `--delay-ms=50` to send every AWS call 50 ms late; `--concurrency=K`,
//! default sparkhub's).
//!
//! Every cluster carries the profile's cluster name: the worst case, where
//! the name narrows nothing and each cluster is described for its tags.
//! The clusters of one round are terminated before the next round starts.

use std::time::Instant;

use futures::{StreamExt, stream};
use sparkhub_aws::Emr;
use sparkhub_core::ports::ClusterDirectory;
use sparkhub_tests::latency::{BenchArgs, with_latency};
use sparkhub_tests::{LocalAws, unique};

#[tokio::main]
async fn main() {
    let BenchArgs {
        sizes,
        delay,
        concurrency,
    } = BenchArgs::from_command_line();
    let aws = LocalAws::connect().await;
    let slow = with_latency(&aws.config, delay);

    println!(
        "| N | delay | in flight | ListClusters | DescribeCluster | calls vs budget | clusters counted | count wall time |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for n in sizes {
        let name = unique("sparkhub-count");
        let ids: Vec<String> = stream::iter(0..n)
            .map(|_| {
                aws.run_cluster(
                    &name,
                    &[("sparkhub:managed", "true"), ("sparkhub:profile", "count")],
                    &["Spark"],
                )
            })
            .buffered(4)
            .collect()
            .await;

        let mut found = Vec::new();
        for in_flight in [1, concurrency] {
            let emr = Emr::new(aws_sdk_emr::Client::new(&slow)).with_max_in_flight(in_flight);
            aws.reset_recording();
            let started = Instant::now();
            let clusters = emr.active_clusters(&name).await.expect("the count");
            let elapsed = started.elapsed();
            let calls = aws.calls_by_operation();
            let get = |op: &str| calls.get(op).copied().unwrap_or(0);
            let budget = n.div_ceil(50) + n;
            let total = get("ListClusters") + get("DescribeCluster");
            println!(
                "| {n} | {} ms | {in_flight} | {} | {} | {total} ≤ {budget} | {} | {:.0} ms |",
                delay.as_millis(),
                get("ListClusters"),
                get("DescribeCluster"),
                clusters.len(),
                elapsed.as_secs_f64() * 1000.0,
            );
            assert!(total <= budget, "over budget: {calls:?}");
            found.push(clusters);
        }
        assert_eq!(found[0], found[1], "the same clusters, in the same order");
        assert_eq!(found[0].len(), n);

        for chunk in ids.chunks(10) {
            aws.emr
                .terminate_job_flows()
                .set_job_flow_ids(Some(chunk.to_vec()))
                .send()
                .await
                .unwrap();
        }
    }
}
