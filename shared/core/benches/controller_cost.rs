//! What sparkhub itself costs a month, for N clusters that each run 8 hours
//! a weekday (22 days), and what the one-time checks of the idle sweep add
//! against what they save on the tutorial profile's cluster. Arithmetic over
//! counts and durations the other benchmarks measure (named at each input)
//! and unit prices (us-east-1, named with their source and the day they were
//! read); no AWS call.
//!
//! Run: `cargo bench -p sparkhub-core --bench controller_cost`

/// Unit prices, us-east-1, read 2026-12-06. Step Functions from AWS's page
/// (<https://aws.amazon.com/step-functions/pricing/>); the others from
/// secondary copies of AWS's pages (the stored AWS pages load their figures
/// by script): Lambda arm64 and requests (aws.amazon.com/lambda/pricing, as
/// quoted by cloudchipr.com), CloudWatch GetMetricData (as quoted by
/// site24x7.com), S3 requests (as quoted by c3x.dev), EventBridge Scheduler
/// (as quoted by cloudburn.io, March 2026), SNS (as quoted by
/// factualminds.com). PutMetricData and custom metrics: CloudWatch's
/// published list prices as sparkhub knows them, unconfirmed here. EC2
/// m5.xlarge: the report's own table (`src/report/prices.toml`). Check them
/// against the Price List API before relying on them.
mod price {
    pub const LAMBDA_GB_SECOND_ARM: f64 = 0.000_013_333_4;
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    pub const GET_METRIC_DATA_METRIC: f64 = 0.01 / 1e3;
    pub const PUT_METRIC_DATA_REQUEST: f64 = 0.01 / 1e3;
    /// Per metric-month, prorated by the hour it receives data.
    pub const CUSTOM_METRIC_MONTH: f64 = 0.30;
    pub const SFN_TRANSITION: f64 = 0.025 / 1e3;
    pub const S3_PUT_LIST: f64 = 0.005 / 1e3;
    pub const S3_GET: f64 = 0.0004 / 1e3;
    pub const SCHEDULER_INVOCATION: f64 = 1.00 / 1e6;
    pub const SNS_PUBLISH: f64 = 0.50 / 1e6;
    pub const EC2_M5_XLARGE_HOUR: f64 = 0.192;
}

const HOURS_A_MONTH: f64 = 730.0;
const DAYS: f64 = 22.0;
const HOURS_A_DAY: f64 = 8.0;
/// The functions' memory (template Globals), in GB.
const MEMORY_GB: f64 = 0.25;
/// Sweeps a month: `rate(5 minutes)`.
const SWEEPS: f64 = 30.0 * 24.0 * 12.0;
/// Of them, while the clusters run.
const SWEEPS_WITH_CLUSTERS: f64 = DAYS * HOURS_A_DAY * 12.0;
/// Profiles in the bucket (one listing and one read each, every sweep).
const PROFILES: f64 = 2.0;

/// A sweep's wall time with N clusters in question, at 50 ms per AWS call
/// and ten calls in flight: the line through BENCHMARKS.md's sweep table
/// (N = 100: 1348 ms, N = 1000: 11504 ms). An upper bound: that fleet asks
/// for details of 70 % of its clusters, a working fleet of far fewer.
fn sweep_seconds(n: f64) -> f64 {
    let per_cluster = (11.504 - 1.348) / 900.0;
    (1.348 - 100.0 * per_cluster) + per_cluster * n
}

/// One-time checks per idle termination: the overshoot simulation's mean
/// for the tutorial's policy (60 minutes, warned 15 before), rounded up
/// (`cargo bench -p sparkhub-core --bench idle_overshoot`).
const CHECKS_PER_TERMINATION: f64 = 2.0;
/// What a check costs beside its Lambda run: the scheduler's invocation,
/// GetMetricData for one cluster (IsIdle and Busy), the profiles' listing
/// and reads.
fn check_cost() -> f64 {
    price::SCHEDULER_INVOCATION
        + price::LAMBDA_REQUEST
        + sweep_seconds(1.0) * MEMORY_GB * price::LAMBDA_GB_SECOND_ARM
        + 2.0 * price::GET_METRIC_DATA_METRIC
        + price::S3_PUT_LIST
        + PROFILES * price::S3_GET
}

/// Step Functions state transitions of one interactive cluster's run: start
/// and create (2), a poll every 30 s for a 10-minute start (Wait, Describe,
/// Choice: 3 × 20), ready and notify (3) — the generated workflow's states.
const TRANSITIONS_PER_RUN: f64 = 2.0 + 3.0 * 20.0 + 3.0;

fn main() {
    println!(
        "| clusters | sweep Lambda (requests + GB-s) | checks | create + setup Lambda | GetMetricData | agents' PutMetricData | agents' metric | Step Functions | S3 | SNS | total / month | per cluster |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for n in [10.0, 100.0, 1000.0] {
        let runs = n * DAYS;
        let sweep_lambda = SWEEPS * price::LAMBDA_REQUEST
            + (SWEEPS_WITH_CLUSTERS * sweep_seconds(n)
                + (SWEEPS - SWEEPS_WITH_CLUSTERS) * sweep_seconds(0.0))
                * MEMORY_GB
                * price::LAMBDA_GB_SECOND_ARM;
        let checks = runs * CHECKS_PER_TERMINATION * check_cost();
        // create-cluster and setup-jupyter-users once per run, about a
        // second each (their AWS calls at 50 ms).
        let other_lambda =
            2.0 * runs * (price::LAMBDA_REQUEST + MEMORY_GB * price::LAMBDA_GB_SECOND_ARM);
        // Every sweep while clusters run asks for IsIdle and Busy of each.
        let metrics = SWEEPS_WITH_CLUSTERS * n * 2.0 * price::GET_METRIC_DATA_METRIC;
        let agent_puts = n * DAYS * HOURS_A_DAY * 60.0 * price::PUT_METRIC_DATA_REQUEST;
        let agent_metric = n * DAYS * HOURS_A_DAY / HOURS_A_MONTH * price::CUSTOM_METRIC_MONTH;
        let sfn = runs * TRANSITIONS_PER_RUN * price::SFN_TRANSITION;
        // Every sweep lists and reads the profiles; a run reads its profile,
        // writes its lease and up to three scripts; a termination and a
        // warning each write a history record.
        let s3 = SWEEPS * (price::S3_PUT_LIST + PROFILES * price::S3_GET)
            + runs * (price::S3_GET + 4.0 * price::S3_PUT_LIST)
            + runs * 2.0 * price::S3_PUT_LIST;
        let sns = runs * 2.0 * price::SNS_PUBLISH;
        let total = sweep_lambda
            + checks
            + other_lambda
            + metrics
            + agent_puts
            + agent_metric
            + sfn
            + s3
            + sns;
        println!(
            "| {n:.0} | ${sweep_lambda:.2} | ${checks:.2} | ${other_lambda:.2} | ${metrics:.2} | ${agent_puts:.2} | ${agent_metric:.2} | ${sfn:.2} | ${s3:.2} | ${sns:.3} | ${total:.2} | ${:.3} |",
            total / n
        );
    }

    // The tutorial's cluster: three m5.xlarge, terminated idle once a
    // weekday; the overshoot simulation's medians before and after.
    let before_min = 5.5;
    let after_min = 0.8;
    let hourly = 3.0 * price::EC2_M5_XLARGE_HOUR;
    let saved = DAYS * (before_min - after_min) / 60.0 * hourly;
    let added = DAYS * CHECKS_PER_TERMINATION * check_cost();
    println!();
    println!(
        "Tutorial cluster (3 × m5.xlarge, ${hourly:.3}/h EC2), idle-terminated each weekday: \
         EC2 saved ${saved:.2}/month ({before_min} → {after_min} min median overshoot); \
         the checks add ${added:.4}/month = {:.2} % of it (the agent replaces the notebook \
         reporter: same PutMetricData requests, same one metric per cluster, same \
         GetMetricData metrics per sweep).",
        100.0 * added / saved
    );
}
