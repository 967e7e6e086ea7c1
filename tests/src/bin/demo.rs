//! `make demo`: the whole life of a sparkhub cluster, locally.
//!
//! Against the local emulator (started by `tests/emulator/with-emulator`), it
//! puts the tutorial profile into a bucket, creates the state machine from
//! the generated definition, runs the three functions as real Lambda
//! processes behind `cargo lambda watch`'s Lambda APIs (the binaries `make
//! build` made beside this one), and starts a cluster as a person does:
//! `sparkhub start --stack`, which invokes create-cluster and follows the
//! run; the other functions get the sample events as EventBridge would
//! deliver them. The emulated cluster is walked through its life: created
//! (`sparkhub start`) → users step completes (start says ready) → idle → warned before
//! its termination → terminated by the terminator; the demo ends by printing
//! `sparkhub report` for it, what its figures mean, and what to run against
//! a real account. Exits non-zero when any stage did not happen.
//!
//! It prints one line per stage, stamped with the time of day (UTC, as the
//! report shows times). Its files (the report's HTML page, Chromium's
//! profile, the logs of cargo lambda watch and of each function) live in one
//! directory under the system's temporary directory, removed at the end;
//! `--keep` (`make demo KEEP=1`) keeps it and prints where, and so does a
//! failed stage.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use sparkhub_core::idle::{AGENT_METRIC, EMR_NAMESPACE, IS_IDLE_METRIC, activity_namespace};
use sparkhub_core::profile::{Fleet, Profile};
use sparkhub_core::render::{TAG_KEEP_ALIVE_UNTIL, TAG_WARNED_AT};
use sparkhub_core::testing::workspace_root;
use sparkhub_core::users::secret_name;
use sparkhub_core::workflow::CLUSTER_WORKFLOW_FILE;
use sparkhub_tests::browser::chromium;
use sparkhub_tests::{LocalAws, wait_for};

/// How long ago the demo says the cluster was created, and became ready.
const CREATED_HOURS_AGO: i64 = 3;
const READY_HOURS_AGO: i64 = 2;

struct Watch(Child);

/// The functions the demo runs, by their binaries' names.
const FUNCTIONS: [&str; 3] = [
    "create-cluster",
    "setup-jupyter-users",
    "terminate-idle-clusters",
];

/// Where a process's output goes: a file in the demo's directory, kept
/// when a stage fails (nowhere when it cannot be created).
fn log_to(dir: &Path, name: &str) -> (Stdio, Stdio) {
    let file = std::fs::File::create(dir.join(format!("{name}.log")));
    match file.and_then(|f| Ok((f.try_clone()?, f))) {
        Ok((out, err)) => (Stdio::from(out), Stdio::from(err)),
        Err(_) => (Stdio::null(), Stdio::null()),
    }
}

/// A binary of the workspace, built beside the demo's own.
fn built(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// The demo's files: one directory under the system's temporary directory,
/// removed when the demo ends unless it is to be kept.
struct Scratch {
    dir: PathBuf,
    keep: bool,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The time of day, to the second, in UTC: how every line of the demo
/// says when.
fn clock(at: Timestamp) -> String {
    at.strftime("%H:%M:%S").to_string()
}

/// One line per stage; the names of the stages that did not happen; what
/// to print once the stages are told (the report and what it means).
struct Story {
    failed: Vec<String>,
    after: String,
}

impl Story {
    fn step(&mut self, stage: &str, ok: bool, detail: impl AsRef<str>) {
        let mark = if ok { "ok" } else { "FAILED" };
        println!(
            "{}  {mark:<6}  {stage:<19} {}",
            clock(Timestamp::now()),
            detail.as_ref()
        );
        if !ok {
            self.failed.push(stage.to_owned());
        }
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
        .timeout_global(Some(Duration::from_secs(120)))
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

/// EMR's normalization factor of an instance type (an hour of it counts
/// this many normalized instance hours): 1 for `small`, 2 `medium`, 4
/// `large`, 8 `xlarge`, 16 `2xlarge`, and so on (EMR Management Guide,
/// "normalized instance hours").
fn normalization_factor(instance_type: &str) -> Option<u32> {
    let size = instance_type.split('.').nth(1)?;
    match size {
        "small" => Some(1),
        "medium" => Some(2),
        "large" => Some(4),
        "xlarge" => Some(8),
        _ => size
            .strip_suffix("xlarge")?
            .parse::<u32>()
            .ok()
            .map(|n| n * 8),
    }
}

/// The profile's fleets: master, core, and the task fleet when it has one.
fn fleets(profile: &Profile) -> impl Iterator<Item = &Fleet> {
    [&profile.fleets.master, &profile.fleets.core]
        .into_iter()
        .chain(profile.fleets.task.as_ref())
}

#[tokio::main]
async fn main() {
    let mut keep = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--keep" => keep = true,
            "-h" | "--help" => {
                println!(
                    "Usage: demo [--keep]\n\n  --keep  keep the demo's files (the report's HTML page) and print where they are\n\n\
                     Run it with `make demo` (`make demo KEEP=1` for --keep): it needs the local emulator."
                );
                return;
            }
            other => {
                eprintln!("demo: unknown argument {other:?}; usage: demo [--keep]");
                std::process::exit(2);
            }
        }
    }
    let started = Instant::now();
    let run = Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string();
    let dir = std::env::temp_dir().join(format!("sparkhub-demo-{run}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let scratch = Scratch { dir, keep };
    let mut story = Story {
        failed: Vec::new(),
        after: String::new(),
    };

    println!(
        "make demo: the tutorial profile's cluster from its schedule to its report, against a local \
         AWS emulator.\nEach line: the time (UTC), whether the stage happened, the stage, what happened.\n"
    );
    let profile = run_story(&mut story, &run, &scratch.dir).await;
    print!("{}", story.after);
    if !story.failed.is_empty() {
        // Kept for a look, unless there is nothing in it.
        let kept = std::fs::remove_dir(&scratch.dir).is_err();
        eprintln!(
            "\nmake demo: these stages did not happen: {}.{}",
            story.failed.join(", "),
            if kept {
                format!(
                    " The demo's files (and each process's log) are kept in {}",
                    scratch.dir.display()
                )
            } else {
                String::new()
            }
        );
        std::process::exit(1);
    }
    println!(
        "\nmake demo: the cluster went through its whole life in {} s.",
        started.elapsed().as_secs()
    );
    if scratch.keep {
        println!(
            "The report's page is kept: {} (open it in a browser; remove {} when done).",
            scratch.dir.join("report.html").display(),
            scratch.dir.display()
        );
    } else {
        drop(scratch);
        println!(
            "The report's page was removed with the demo's other files (`make demo KEEP=1` keeps them)."
        );
    }
    if let Some(profile) = profile {
        what_next(&profile);
    }
}

/// The README's path to a real account, in the order a user takes it.
fn what_next(profile: &Profile) {
    let name = &profile.name;
    let user = profile
        .users
        .first()
        .map(|u| u.to_string())
        .unwrap_or_else(|| "<user>".into());
    let start = format!("sparkhub start {name}");
    let password = format!("sparkhub password {name} {user}");
    let whose = format!("{user}'s JupyterHub password");
    let commands: [(&str, &str); 8] = [
        (
            "sparkhub validate profiles/*.toml",
            "every problem of every profile at once",
        ),
        (
            "make generate",
            "the node roles, schedules and e-mail subscriptions of profiles/ into the template",
        ),
        (
            "sam build && sam deploy --guided",
            "the stack; then export SPARKHUB_STACK=<its name>",
        ),
        (
            "sparkhub push profiles/*.toml",
            "the profiles into the stack's bucket, if all are valid",
        ),
        (&start, "a cluster now, followed until its users can log in"),
        (
            "sparkhub status",
            "the clusters, and what the idle sweep would decide",
        ),
        (
            "sparkhub connect j-XXXXXXXX",
            "the command that brings JupyterHub to your machine",
        ),
        (&password, &whose),
    ];
    println!(
        "\nNext, against a real AWS account (README: \"Deploy to an AWS account\"; \
         `cargo install --path cli` installs sparkhub):"
    );
    for (command, what) in commands {
        if what.is_empty() {
            println!("  {command}");
        } else {
            println!("  {command:<40} # {what}");
        }
    }
}

/// The cluster's life, stage by stage. Returns the tutorial profile when it
/// could be read.
async fn run_story(t: &mut Story, run: &str, dir: &Path) -> Option<Profile> {
    let aws = LocalAws::connect().await;
    let bucket = format!("sparkhub-demo-{run}");
    let text = std::fs::read_to_string(workspace_root().join("profiles/tutorial.toml"))
        .expect("profiles/tutorial.toml");
    let profile = match Profile::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            t.step("set up", false, format!("profiles/tutorial.toml: {e}"));
            return None;
        }
    };
    let name = profile.name.to_string();
    // The profile keeps its name: the Makefile gives the demo an emulator of
    // its own (in `make test` too), so no cluster another test left running
    // under the tutorial's name counts against its one active cluster.
    let others = aws.clusters_of_profile(&name).await;
    if !others.is_empty() {
        t.step(
            "set up",
            false,
            format!(
                "this emulator already runs {name} cluster(s) {}: the demo needs an emulator of its own (`make demo` starts one)",
                others.join(", ")
            ),
        );
        return Some(profile);
    }
    aws.bucket_with(&bucket, &[(&format!("profiles/{name}.toml"), &text)])
        .await;
    let machine = aws
        .create_state_machine(CLUSTER_WORKFLOW_FILE, &format!("sparkhub-cluster-{run}"))
        .await;
    // The topic the warnings and termination notices go to.
    let topic = aws_sdk_sns::Client::new(&aws.config)
        .create_topic()
        .name(format!("sparkhub-demo-{run}"))
        .send()
        .await
        .ok()
        .and_then(|t| t.topic_arn)
        .unwrap_or_default();
    // The stack's outputs, as a deploy leaves them: `sparkhub start`
    // finds the function, the state machine and the bucket there.
    let stack = format!("sparkhub-demo-{run}");
    aws.create_stack(
        &stack,
        &[
            ("BucketName", &bucket),
            ("StateMachineArn", &machine),
            ("CreateClusterFunctionName", "create-cluster"),
        ],
    )
    .await;
    t.step(
        "set up",
        true,
        format!(
            "bucket {bucket} with profiles/{name}.toml, the cluster state machine, an SNS topic for warnings, stack {stack} with their names as outputs"
        ),
    );

    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    // cargo lambda watch serves the Lambda APIs only; the functions are the
    // binaries beside this one, built by the same `cargo build --workspace
    // --all-targets` as the tests (make build), so nothing compiles here.
    // Each polls the runtime API under its own name, as cargo lambda's own
    // processes do (AWS_LAMBDA_RUNTIME_API = <address>/.rt/<function>).
    let (out, err) = log_to(dir, "cargo-lambda-watch");
    let child = Command::new("cargo")
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
        ])
        .current_dir(workspace_root())
        .stdout(out)
        .stderr(err)
        .spawn();
    let mut processes = match child {
        Ok(child) => vec![Watch(child)],
        Err(e) => {
            t.step(
                "functions up",
                false,
                format!(
                    "cargo lambda watch: {e}; install it with `pip install cargo-lambda` (make demo does)"
                ),
            );
            return Some(profile);
        }
    };
    let ready = wait_for("cargo lambda watch to listen", || async {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    })
    .await;
    drop(ready);
    for function in FUNCTIONS {
        let binary = built(function);
        let (out, err) = log_to(dir, function);
        let process = Command::new(&binary)
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt/{function}"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("SPARKHUB_BUCKET", &bucket)
            .env("SPARKHUB_STATE_MACHINE_ARN", &machine)
            .env("SPARKHUB_POLL_SECONDS", "1")
            .env("SPARKHUB_DRY_RUN", "false")
            .env("SPARKHUB_TOPIC_ARN", &topic)
            .stdout(out)
            .stderr(err)
            .spawn();
        match process {
            Ok(process) => processes.push(Watch(process)),
            Err(e) => {
                t.step(
                    "functions up",
                    false,
                    format!(
                        "{}: {e}; build the workspace first (`make build`, which make demo runs)",
                        binary.display()
                    ),
                );
                return Some(profile);
            }
        }
    }
    // Started once the APIs listen: a function that cannot reach them exits.
    let _processes = processes;
    t.step(
        "functions up",
        true,
        "create-cluster, setup-jupyter-users, terminate-idle-clusters as Lambda processes behind `cargo lambda watch`'s Lambda APIs",
    );

    // 1. A person starts a cluster: `sparkhub start`, which invokes
    // create-cluster (served by cargo lambda watch: the SDK's Lambda
    // endpoint is set to it) and follows the run until the users are set.
    let (out, err) = log_to(dir, "sparkhub-start");
    let start = Command::new(built("sparkhub"))
        .args(["start", &name, "--stack", &stack, "--poll", "1"])
        .env(
            "AWS_ENDPOINT_URL_LAMBDA",
            format!("http://127.0.0.1:{port}"),
        )
        .stdout(out)
        .stderr(err)
        .spawn();
    let mut start = match start {
        Ok(child) => Watch(child),
        Err(e) => {
            t.step(
                "sparkhub start",
                false,
                format!("{}: {e}", built("sparkhub").display()),
            );
            return Some(profile);
        }
    };
    let cluster = wait_for("sparkhub start's run to create its cluster", || async {
        aws.clusters_of_profile(&name).await.into_iter().next()
    })
    .await;
    let execution = aws
        .executions(&machine)
        .await
        .first()
        .map(|e| {
            format!(
                "{}:{e}",
                machine.replacen(":stateMachine:", ":execution:", 1)
            )
        })
        .unwrap_or_default();
    t.step(
        "sparkhub start",
        !execution.is_empty(),
        format!(
            "`sparkhub start {name} --stack {stack}` invoked create-cluster (a manual run); the workflow created {cluster}"
        ),
    );
    let execution = execution.as_str();
    let done = aws.finished(execution).await;
    let state = aws.cluster_state(&cluster).await;
    t.step(
        "cluster ready",
        done.status == "SUCCEEDED" && state == "WAITING",
        format!(
            "EMR says {cluster} is {state} (up, nothing running); the workflow {}",
            done.status
        ),
    );

    // 2. EMR reports WAITING: the users are set up.
    let mut waiting = event("emr-cluster-state-change-waiting.json");
    waiting["detail"]["clusterId"] = json!(cluster);
    match invoke(port, "setup-jupyter-users", &waiting) {
        Ok(o) if o["outcome"] == "step_added" => {
            let step = o["step_id"].as_str().unwrap_or_default().to_owned();
            let users = o["users"]
                .as_array()
                .map(|u| {
                    u.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let secret = secret_name(&profile.name);
            let stored = aws_sdk_secretsmanager::Client::new(&aws.config)
                .describe_secret()
                .secret_id(&secret)
                .send()
                .await
                .is_ok();
            t.step(
                "users",
                stored,
                format!(
                    "setup-jupyter-users, on EMR's WAITING event: passwords for {users} in Secrets Manager ({secret}{}), users step {step}",
                    if stored { "" } else { " is missing" }
                ),
            );
            aws.set_step_state(&cluster, &step, "COMPLETED", None);
            let steps = aws.steps(&cluster).await;
            let completed = steps.iter().filter(|s| s.state == "COMPLETED").count();
            t.step(
                "users step done",
                steps.iter().all(|s| s.state == "COMPLETED"),
                format!(
                    "{completed} of {} step(s) COMPLETED (the demo plays EMR here)",
                    steps.len()
                ),
            );
        }
        Ok(o) => {
            t.step("users", false, o.to_string());
            return Some(profile);
        }
        Err(e) => {
            t.step("users", false, e);
            return Some(profile);
        }
    }

    // sparkhub start saw the cluster WAITING with its users step done.
    let deadline = Instant::now() + Duration::from_secs(60);
    let ended = loop {
        match start.0.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            _ => break None,
        }
    };
    let said = std::fs::read_to_string(dir.join("sparkhub-start.log")).unwrap_or_default();
    let ready = said
        .lines()
        .find(|l| l.contains("is ready"))
        .unwrap_or_default();
    t.step(
        "start says ready",
        ended.is_some_and(|s| s.success()) && !ready.is_empty(),
        if ready.is_empty() {
            format!("sparkhub start did not say ready: {said}")
        } else {
            format!("sparkhub start: {ready} (`sparkhub connect {cluster}` next)")
        },
    );

    // 3. Time passes and nobody uses the cluster: the demo moves its clock
    // back, and EMR counts the normalized instance hours it ran.
    let now = Timestamp::now();
    let created = now - SignedDuration::from_hours(CREATED_HOURS_AGO);
    let ready_at = now - SignedDuration::from_hours(READY_HOURS_AGO);
    aws.set_cluster_times(&cluster, created, Some(ready_at));
    let instances: u32 = fleets(&profile).map(|f| f.on_demand + f.spot).sum();
    let normalized: Option<u32> = fleets(&profile)
        .map(|f| {
            let factor = normalization_factor(f.instance_types.first()?)?;
            Some((f.on_demand + f.spot) * factor * CREATED_HOURS_AGO as u32)
        })
        .sum();
    if let Some(n) = normalized {
        aws.set_normalized_instance_hours(&cluster, n);
    }
    let idle: Vec<(i64, f64)> = (0..=14).map(|i| (i * 5, 1.0)).collect();
    let nobody: Vec<(i64, f64)> = (0..=14).map(|i| (i * 5, 0.0)).collect();
    aws.put_cluster_metric(&cluster, EMR_NAMESPACE, IS_IDLE_METRIC, &idle)
        .await;
    aws.put_cluster_metric(&cluster, &activity_namespace(&name), AGENT_METRIC, &nobody)
        .await;
    t.step(
        "nobody uses it",
        true,
        format!(
            "backdated: created {}, ready {}; since {} EMR's IsIdle is 1 (no YARN work) and 0 notebook users",
            clock(created),
            clock(ready_at),
            clock(now - SignedDuration::from_mins(70)),
        ),
    );

    // 4. Somebody kept it alive until ten minutes from now: the sweep keeps
    // it, and warns that it will terminate it once the keep-alive runs out.
    let tag_as = |key: &'static str, until: Timestamp| {
        let emr = aws.emr.clone();
        let cluster = cluster.clone();
        async move {
            emr.add_tags()
                .resource_id(cluster)
                .tags(
                    aws_sdk_emr::types::Tag::builder()
                        .key(key)
                        .value(until.to_string())
                        .build(),
                )
                .send()
                .await
                .is_ok()
        }
    };
    let tag = |until: Timestamp| tag_as(TAG_KEEP_ALIVE_UNTIL, until);
    let kept_until = Timestamp::now() + SignedDuration::from_mins(10);
    let kept = tag(kept_until).await;
    let sweep = event("terminate-idle-clusters-scheduled-event.json");
    match invoke(port, "terminate-idle-clusters", &sweep) {
        Ok(summary) => {
            let warning = summary["warnings"]
                .as_array()
                .and_then(|a| a.iter().find(|w| w["cluster_id"] == json!(cluster)));
            let sent = summary["warnings_sent"].as_u64().unwrap_or(0);
            let detail = match warning {
                Some(w) => format!(
                    "a keep-alive until {} holds it: the idle sweep keeps it and warns (SNS): terminated by {} at the latest, {}",
                    clock(kept_until),
                    w["terminate_by"]
                        .as_str()
                        .and_then(|by| by.parse::<Timestamp>().ok())
                        .map(clock)
                        .unwrap_or_else(|| "?".into()),
                    w["reason"].as_str().unwrap_or("?")
                ),
                None => format!("no warning: {summary}"),
            };
            t.step("warned", kept && warning.is_some() && sent >= 1, detail);
        }
        Err(e) => {
            t.step("warned", false, e);
            return Some(profile);
        }
    }

    // 5. The keep-alive runs out and the warning's minutes pass (the demo
    // cannot wait: it moves the keep-alive to a minute ago and the warning
    // as far back as its minutes), and the next sweep terminates it.
    let ran_out = Timestamp::now() - SignedDuration::from_mins(1);
    tag(ran_out).await;
    let warn_minutes = i64::from(profile.idle.warn_minutes);
    tag_as(
        TAG_WARNED_AT,
        ran_out - SignedDuration::from_mins(warn_minutes),
    )
    .await;
    let terminated_at = Timestamp::now();
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
            t.step(
                "sweep terminates",
                terminated,
                format!(
                    "keep-alive over (moved to {} rather than wait 10 min): the next sweep terminates it, {reason}",
                    clock(ran_out)
                ),
            );
        }
        Err(e) => {
            t.step("sweep terminates", false, e);
            return Some(profile);
        }
    }
    let state = aws.cluster_state(&cluster).await;
    t.step(
        "terminated",
        state == "TERMINATED",
        format!("EMR says {cluster} is {state}"),
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
        format!(
            "warning and termination recorded in s3://{bucket}/: {}",
            history.join(", ")
        ),
    );

    // 6. What it cost and what idle termination saved: `sparkhub report`.
    let html = dir.join("report.html");
    let report = Command::new(built("sparkhub"))
        .args(["report", "--since", "1d"])
        .arg("--bucket")
        .arg(&bucket)
        .arg("--html")
        .arg(&html)
        // The price cache among the demo's files, not the user's.
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .current_dir(workspace_root())
        .output();
    match report {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            t.after = format!(
                "\nWhat it cost, and what terminating it when idle saved:\n\n\
                 $ sparkhub report --bucket {bucket} --since 1d --html {}\n{text}",
                html.display()
            );
            let row = text
                .lines()
                .find(|l| l.starts_with(&cluster))
                .unwrap_or_default()
                .to_owned();
            let columns: Vec<&str> = row.split_whitespace().collect();
            // cluster, profile, created (date, time), ended (date, time),
            // hours, norm. h, cost, saved h, how it ended.
            let figures = (columns.len() > 10).then(|| Figures {
                hours: columns[6],
                normalized: columns[7],
                cost: columns[8],
                saved: columns[9],
            });
            if let Some(f) = &figures {
                t.after += &explain(
                    f,
                    &profile,
                    instances,
                    created,
                    terminated_at,
                    normalized.is_some(),
                );
            }
            let expected_normalized = normalized.map(|n| n.to_string());
            t.step(
                "report",
                row.contains("sparkhub: idle")
                    && row.contains("(warned first)")
                    && row.contains('$')
                    && figures.as_ref().is_some_and(|f| {
                        expected_normalized
                            .as_deref()
                            .is_none_or(|n| f.normalized == n)
                    }),
                match &figures {
                    Some(f) => format!(
                        "sparkhub report: {cluster} ended by sparkhub as idle, warned first; {} h, {} norm. h, {}, {} h saved",
                        f.hours, f.normalized, f.cost, f.saved
                    ),
                    None => format!("no row for {cluster} in the report: {row:?}"),
                },
            );
            // Its prices come from the Price List's answer (the emulator
            // serves the documented-format answers of tests/fixtures/pricing/
            // through the same adapter AWS would), and the report says so.
            let priced = text
                .lines()
                .filter(|l| l.contains(" in ") && l.contains(": EC2 $"))
                .map(str::trim)
                .collect::<Vec<_>>();
            t.step(
                "prices",
                !priced.is_empty()
                    && priced
                        .iter()
                        .all(|l| l.contains("from the AWS Price List API, fetched")),
                format!(
                    "the report's prices and their source: {}",
                    priced.join("; ")
                ),
            );
            // The budget: the sweep kept this month's estimate of the
            // cluster in s3://<bucket>/budgets/<profile>/<month>.json, at
            // the same prices; it and the report say the same to the cent.
            let month = sparkhub_core::budget::month_of(terminated_at);
            let key = format!("budgets/{}/{month}.json", profile.name);
            let estimate = match aws.s3.get_object().bucket(&bucket).key(&key).send().await {
                Ok(object) => object
                    .body
                    .collect()
                    .await
                    .ok()
                    .and_then(|b| String::from_utf8(b.into_bytes().to_vec()).ok())
                    .and_then(|body| sparkhub_core::budget::MonthSpend::parse(&body))
                    .and_then(|m| m.clusters.get(&cluster).map(|c| c.usd)),
                Err(_) => None,
            };
            let reported = figures.as_ref().and_then(|f| {
                f.cost
                    .trim_start_matches(['~', '≤'])
                    .trim_start_matches('$')
                    .parse::<f64>()
                    .ok()
            });
            let same = match (estimate, reported) {
                // The sweep's clock and EMR's end time are the same
                // termination a few hundred milliseconds apart: at most
                // a rounding cent.
                (Some(e), Some(r)) => (sparkhub_core::budget::cents(e) - r).abs() < 0.011,
                _ => false,
            };
            t.step(
                "budget",
                same,
                format!(
                    "the sweep's estimate of {cluster} this month (s3://{bucket}/{key}): {}; the report: {}",
                    estimate.map_or("none".into(), |e| format!("${:.2}", sparkhub_core::budget::cents(e))),
                    reported.map_or("none".into(), |r| format!("${r:.2}"))
                ),
            );
            let (shown, detail) = bar_in_browser(&html, &dir.join("chromium"), &cluster);
            t.step("report in a browser", shown, detail);
        }
        Ok(out) => t.step("report", false, String::from_utf8_lossy(&out.stderr)),
        Err(e) => t.step("report", false, e.to_string()),
    }
    Some(profile)
}

/// The cluster's figures in the report, as printed.
struct Figures<'a> {
    hours: &'a str,
    normalized: &'a str,
    cost: &'a str,
    saved: &'a str,
}

/// One line for each figure of the cluster's row: what it counts.
fn explain(
    f: &Figures,
    profile: &Profile,
    instances: u32,
    created: Timestamp,
    ended: Timestamp,
    emr_counted: bool,
) -> String {
    let mut kinds: Vec<&str> = fleets(profile)
        .filter_map(|f| f.instance_types.first().map(String::as_str))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    format!(
        "\nWhat the cluster's figures mean:\n\
         \x20 hours    {:>6}  it ran from {} to {} (created to terminated)\n\
         \x20 norm. h  {:>6}  EMR's NormalizedInstanceHours: instance hours weighted by size, an xlarge's hour counting 8{}\n\
         \x20 cost     {:>6}  on-demand EC2 + EMR for its {instances} instances ({}) for those hours, at the prices listed under the table (each with its source)\n\
         \x20 saved h  {:>6}  terminated when idle, it ran that much less than its {} h maximum lifetime (idle.max_lifetime_hours) allows\n\
         The profile's row adds up its clusters; cost saved is what the hours saved would have cost.\n",
        f.hours,
        clock(created),
        clock(ended),
        f.normalized,
        if emr_counted {
            format!(
                " ({instances} instances × {CREATED_HOURS_AGO} h × 8, as the demo tells the emulator EMR would count)"
            )
        } else {
            " (the emulator does not count them)".into()
        },
        f.cost,
        kinds.join(", "),
        f.saved,
        profile.idle.max_lifetime_hours,
    )
}

/// Opens the HTML report in a headless Chromium (Debian's `chromium`, which
/// `make demo` and `make test` install) and looks for the cluster's bar in
/// the DOM the browser built. The page's own checks (rendering, colours, no
/// request leaving it) are `tests/tests/report_html.rs`.
fn bar_in_browser(html: &Path, profile: &Path, cluster: &str) -> (bool, String) {
    let out = chromium(html, profile, &["--dump-dom".into()]);
    let _ = std::fs::remove_dir_all(profile);
    match out {
        Ok(out) if out.status.success() => {
            let dom = String::from_utf8_lossy(&out.stdout);
            let bar = format!("class=\"cluster-bar\" data-cluster=\"{cluster}\"");
            let bars = dom.matches("class=\"cluster-bar\"").count();
            (
                dom.contains(&bar),
                if dom.contains(&bar) {
                    format!(
                        "headless Chromium drew {bars} timeline bar(s) on the report's page, {cluster}'s among them"
                    )
                } else {
                    format!("headless Chromium drew {bars} timeline bar(s), none for {cluster}")
                },
            )
        }
        Ok(out) => (false, String::from_utf8_lossy(&out.stderr).into_owned()),
        Err(e) => (false, e),
    }
}

#[cfg(test)]
mod tests {
    use super::normalization_factor;

    #[test]
    fn normalization_factors_are_emrs() {
        for (instance_type, factor) in [
            ("m1.small", Some(1)),
            ("t3.medium", Some(2)),
            ("m5.large", Some(4)),
            ("m5.xlarge", Some(8)),
            ("m5a.2xlarge", Some(16)),
            ("r5.24xlarge", Some(192)),
            ("m5.metal", None),
            ("m5", None),
        ] {
            assert_eq!(
                normalization_factor(instance_type),
                factor,
                "{instance_type}"
            );
        }
    }
}
