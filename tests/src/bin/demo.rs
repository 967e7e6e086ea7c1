//! `make demo`: the whole life of a sparkhub cluster, locally.
//!
//! Against the local emulator (started by `tests/emulator/with-emulator`), it
//! puts the tutorial profile into a bucket, creates the state machine from
//! the generated definition, runs the three functions as real Lambda
//! processes under `cargo lambda watch`, and invokes them with the sample
//! events as EventBridge would deliver them. The emulated cluster is walked
//! through its life: created → users step completes → idle → warned before
//! its termination → terminated by the terminator; the demo ends by printing
//! `sparkhub report` for it. Exits non-zero when any stage did not happen.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use sparkhub_core::idle::{EMR_NAMESPACE, IS_IDLE_METRIC, NOTEBOOK_METRIC, notebook_namespace};
use sparkhub_core::render::TAG_KEEP_ALIVE_UNTIL;
use sparkhub_core::testing::workspace_root;
use sparkhub_core::workflow::CLUSTER_WORKFLOW_FILE;
use sparkhub_tests::browser::chromium;
use sparkhub_tests::{LocalAws, unique, wait_for};

struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

struct Timeline {
    start: Instant,
    stages: Vec<(String, bool, String)>,
}

impl Timeline {
    fn step(&mut self, stage: &str, ok: bool, detail: impl Into<String>) {
        let detail = detail.into();
        let mark = if ok { "ok " } else { "FAILED" };
        println!(
            "[{:>6.1}s] {mark} {stage}: {detail}",
            self.start.elapsed().as_secs_f64()
        );
        self.stages.push((stage.to_owned(), ok, detail));
    }
}

fn event(name: &str) -> Value {
    let path = workspace_root().join("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("sample event"))
        .expect("sample event JSON")
}

/// Invokes a function served by `cargo lambda watch` (the Lambda Invoke API).
fn invoke(port: u16, function: &str, payload: &Value) -> Result<Value, String> {
    let url = format!("http://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations");
    let mut response = ureq::post(&url)
        .config()
        .timeout_global(Some(Duration::from_secs(600)))
        .http_status_as_error(false)
        .build()
        .send_json(payload)
        .map_err(|e| format!("invoking {function}: {e}"))?;
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{function}: {e}"))?;
    let value: Value =
        serde_json::from_str(&body).map_err(|_| format!("{function} answered {body}"))?;
    if value.get("errorType").is_some() {
        return Err(format!("{function} failed: {value}"));
    }
    Ok(value)
}

#[tokio::main]
async fn main() {
    let mut timeline = Timeline {
        start: Instant::now(),
        stages: Vec::new(),
    };
    let ok = run(&mut timeline).await;
    println!("\n| stage | result | detail |\n|---|---|---|");
    for (stage, passed, detail) in &timeline.stages {
        println!(
            "| {stage} | {} | {detail} |",
            if *passed { "ok" } else { "FAILED" }
        );
    }
    if !ok {
        eprintln!("\nmake demo: a stage did not happen");
        std::process::exit(1);
    }
    println!(
        "\nmake demo: the cluster went through its whole life in {:.0} s",
        timeline.start.elapsed().as_secs_f64()
    );
}

async fn run(t: &mut Timeline) -> bool {
    let aws = LocalAws::connect().await;
    let bucket = unique("sparkhub-demo");
    // The tutorial profile under a name of its own, so that clusters other
    // runs left in the emulator do not count against its one-cluster limit.
    let name = unique("demo");
    let profile = std::fs::read_to_string(workspace_root().join("profiles/tutorial.toml"))
        .expect("profiles/tutorial.toml")
        .replacen("name = \"tutorial\"", &format!("name = \"{name}\""), 1);
    aws.bucket_with(&bucket, &[(&format!("profiles/{name}.toml"), &profile)])
        .await;
    let machine = aws
        .create_state_machine(CLUSTER_WORKFLOW_FILE, &unique("sparkhub-cluster"))
        .await;
    // The topic the warnings and termination notices go to.
    let topic = aws_sdk_sns::Client::new(&aws.config)
        .create_topic()
        .name(unique("sparkhub-demo"))
        .send()
        .await
        .ok()
        .and_then(|t| t.topic_arn)
        .unwrap_or_default();
    t.step("set up", true, format!("bucket {bucket} with the tutorial profile as profiles/{name}.toml, state machine {machine}"));

    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = Command::new("cargo")
        .args([
            "lambda",
            "watch",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
        ])
        .env("SPARKHUB_BUCKET", &bucket)
        .env("SPARKHUB_STATE_MACHINE_ARN", &machine)
        .env("SPARKHUB_POLL_SECONDS", "1")
        .env("SPARKHUB_DRY_RUN", "false")
        .env("SPARKHUB_TOPIC_ARN", &topic)
        .current_dir(workspace_root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let _watch = match child {
        Ok(child) => Watch(child),
        Err(e) => {
            t.step(
                "cargo lambda watch",
                false,
                format!("{e}; install it with `pip install cargo-lambda` (make demo does)"),
            );
            return false;
        }
    };
    let ready = wait_for("cargo lambda watch to listen", || async {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    })
    .await;
    drop(ready);
    t.step(
        "cargo lambda watch",
        true,
        format!("serving the functions on 127.0.0.1:{port} (first invocations compile them)"),
    );

    // 1. The schedule fires: EventBridge Scheduler's target input.
    let mut scheduled = event("create-cluster-scheduler-target.json");
    scheduled["profile"] = json!(name);
    scheduled["run_id"] = json!(format!("schedule-{}", Timestamp::now()));
    let outcome = match invoke(port, "create-cluster", &scheduled) {
        Ok(o) => o,
        Err(e) => {
            t.step("create-cluster", false, e);
            return false;
        }
    };
    let Some(execution) = outcome["execution_arn"]
        .as_str()
        .filter(|_| outcome["outcome"] == "started")
    else {
        t.step("create-cluster", false, outcome.to_string());
        return false;
    };
    t.step("create-cluster", true, format!("started {execution}"));
    let again = invoke(port, "create-cluster", &scheduled).unwrap_or_default();
    t.step(
        "duplicate delivery",
        again["outcome"] == "already_started",
        format!("second delivery: {}", again["outcome"]),
    );

    let cluster = aws.cluster_of(execution).await;
    let done = aws.finished(execution).await;
    let state = aws.cluster_state(&cluster).await;
    t.step(
        "cluster ready",
        done.status == "SUCCEEDED" && state == "WAITING",
        format!("{cluster} is {state}; workflow {}", done.status),
    );

    // 2. EMR reports WAITING: the users are set up.
    let mut waiting = event("emr-cluster-state-change-waiting.json");
    waiting["detail"]["clusterId"] = json!(cluster);
    match invoke(port, "setup-jupyter-users", &waiting) {
        Ok(o) if o["outcome"] == "step_added" => {
            let step = o["step_id"].as_str().unwrap_or_default().to_owned();
            t.step(
                "setup-jupyter-users",
                true,
                format!(
                    "passwords in {}, users step {step}",
                    o["secret"].as_str().unwrap_or_default()
                ),
            );
            aws.set_step_state(&cluster, &step, "COMPLETED", None);
            let steps = aws.steps(&cluster).await;
            t.step(
                "users step completed",
                steps.iter().all(|s| s.state == "COMPLETED"),
                format!("{} step(s) COMPLETED", steps.len()),
            );
        }
        Ok(o) => {
            t.step("setup-jupyter-users", false, o.to_string());
            return false;
        }
        Err(e) => {
            t.step("setup-jupyter-users", false, e);
            return false;
        }
    }

    // 3. Time passes and nobody uses the cluster.
    let now = Timestamp::now();
    aws.set_cluster_times(
        &cluster,
        now - SignedDuration::from_hours(3),
        Some(now - SignedDuration::from_hours(2)),
    );
    let idle: Vec<(i64, f64)> = (0..=14).map(|i| (i * 5, 1.0)).collect();
    let nobody: Vec<(i64, f64)> = (0..=14).map(|i| (i * 5, 0.0)).collect();
    aws.put_cluster_metric(&cluster, EMR_NAMESPACE, IS_IDLE_METRIC, &idle)
        .await;
    aws.put_cluster_metric(
        &cluster,
        &notebook_namespace(&name),
        NOTEBOOK_METRIC,
        &nobody,
    )
    .await;
    t.step(
        "idle",
        true,
        "ready 2 h ago, IsIdle = 1 and no notebook user for the last 70 min",
    );

    // 4. Somebody kept it alive until ten minutes from now: the sweep keeps
    // it, and warns that it will terminate it once the keep-alive runs out.
    let tag = |until: Timestamp| {
        let emr = aws.emr.clone();
        let cluster = cluster.clone();
        async move {
            emr.add_tags()
                .resource_id(cluster)
                .tags(
                    aws_sdk_emr::types::Tag::builder()
                        .key(TAG_KEEP_ALIVE_UNTIL)
                        .value(until.to_string())
                        .build(),
                )
                .send()
                .await
                .is_ok()
        }
    };
    let kept = tag(Timestamp::now() + SignedDuration::from_mins(10)).await;
    let sweep = event("terminate-idle-clusters-scheduled-event.json");
    match invoke(port, "terminate-idle-clusters", &sweep) {
        Ok(summary) => {
            let warning = summary["warnings"]
                .as_array()
                .and_then(|a| a.iter().find(|w| w["cluster_id"] == json!(cluster)));
            let sent = summary["warnings_sent"].as_u64().unwrap_or(0);
            let detail = match warning {
                Some(w) => format!(
                    "kept alive for 10 more min; SNS warning sent: terminated by {} ({})",
                    w["terminate_by"].as_str().unwrap_or("?"),
                    w["reason"].as_str().unwrap_or("?")
                ),
                None => format!("no warning: {summary}"),
            };
            t.step("warning", kept && warning.is_some() && sent >= 1, detail);
        }
        Err(e) => {
            t.step("warning", false, e);
            return false;
        }
    }

    // 5. The keep-alive runs out (the demo cannot wait ten minutes: it
    // moves the tag to a minute ago), and the next sweep terminates it.
    tag(Timestamp::now() - SignedDuration::from_mins(1)).await;
    match invoke(port, "terminate-idle-clusters", &sweep) {
        Ok(summary) => {
            let terminated = summary["terminated"]
                .as_array()
                .is_some_and(|a| a.contains(&json!(cluster)));
            let reason = summary["to_terminate"]
                .as_array()
                .and_then(|a| a.iter().find(|d| d["cluster_id"] == json!(cluster)))
                .and_then(|d| d["reason"].as_str())
                .unwrap_or("not decided")
                .to_owned();
            t.step("terminate-idle-clusters", terminated, reason);
        }
        Err(e) => {
            t.step("terminate-idle-clusters", false, e);
            return false;
        }
    }
    let state = aws.cluster_state(&cluster).await;
    t.step(
        "terminated",
        state == "TERMINATED",
        format!("{cluster} is {state}"),
    );
    let history = aws.keys(&bucket, "history/").await;
    let recorded = |kind: &str| {
        history
            .iter()
            .any(|k| k.contains(&format!("{cluster}-{kind}-")))
    };
    t.step(
        "history",
        recorded("warning") && recorded("termination"),
        format!("s3://{bucket}/: {}", history.join(", ")),
    );

    // 6. What it cost and what idle termination saved: `sparkhub report`.
    let html = std::env::temp_dir().join(format!("{}.html", unique("sparkhub-demo-report")));
    let report = Command::new("cargo")
        .args([
            // No -p: the features of the whole workspace, as the functions
            // under cargo lambda watch are built, so nothing is compiled again.
            "run", "-q", "--bin", "sparkhub", "--", "report", "--since", "1d",
        ])
        .arg("--bucket")
        .arg(&bucket)
        .arg("--html")
        .arg(&html)
        .current_dir(workspace_root())
        .output();
    match report {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            println!(
                "\n$ sparkhub report --since 1d --html {}\n{text}",
                html.display()
            );
            let row = text
                .lines()
                .find(|l| l.starts_with(&cluster))
                .unwrap_or_default()
                .to_owned();
            t.step(
                "report",
                row.contains("sparkhub: idle")
                    && row.contains("(warned first)")
                    && row.contains('$'),
                format!(
                    "{} (HTML: {})",
                    row.split_whitespace().collect::<Vec<_>>().join(" "),
                    html.display()
                ),
            );
            let (shown, detail) = bar_in_browser(&html, &cluster);
            t.step("report in a browser", shown, detail);
        }
        Ok(out) => t.step(
            "report",
            false,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        Err(e) => t.step("report", false, e.to_string()),
    }
    t.stages.iter().all(|(_, ok, _)| *ok)
}

/// Opens the HTML report in a headless Chromium (Debian's `chromium`, which
/// `make demo` and `make test` install) and looks for the cluster's bar in
/// the DOM the browser built. The page's own checks (rendering, colours, no
/// request leaving it) are `tests/tests/report_html.rs`.
fn bar_in_browser(html: &std::path::Path, cluster: &str) -> (bool, String) {
    let profile = std::env::temp_dir().join(unique("sparkhub-demo-chromium"));
    let out = chromium(html, &profile, &["--dump-dom".into()]);
    let _ = std::fs::remove_dir_all(&profile);
    match out {
        Ok(out) if out.status.success() => {
            let dom = String::from_utf8_lossy(&out.stdout);
            let bar = format!("class=\"cluster-bar\" data-cluster=\"{cluster}\"");
            let bars = dom.matches("class=\"cluster-bar\"").count();
            (
                dom.contains(&bar),
                format!(
                    "chromium drew {bars} timeline bar(s), {cluster}'s among them: {}",
                    dom.contains(&bar)
                ),
            )
        }
        Ok(out) => (false, String::from_utf8_lossy(&out.stderr).into_owned()),
        Err(e) => (false, e),
    }
}
