//! The life of a cluster from the command line: `push` the profiles, `start`
//! a cluster and follow it until people can log in, `stop` it. Every AWS
//! call goes through a port of `sparkhub_core::ports`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{Value, json};
use sparkhub_aws::operator::AwsChoice;
use sparkhub_aws::{Emr, Iam, LambdaFunctions, S3Bucket, StepFunctions, Sts};
use sparkhub_core::ProfileName;
use sparkhub_core::history::Record;
use sparkhub_core::ports::{
    CallerIdentity, ClusterFleet, ClusterSteps, FunctionInvoker, HistoryStore, InstanceProfiles,
    ProfilePublisher, RunWatcher,
};
use sparkhub_core::render::{Deployment, instance_role_name};
use sparkhub_core::text::{printable, shell_word};
use sparkhub_core::users::USERS_STEP_PREFIX;

use crate::commands::{examine, known_cluster};
use crate::failure::{Aws, Failure};
use crate::progress::{self, ClusterView, Phase};
use crate::stack::{FUNCTION_OUTPUT, STATE_MACHINE_OUTPUT, StackArgs};

/// Validates every file; uploads them only if all are valid; warns about a
/// profile whose instance profile the account does not have yet.
pub async fn push(choice: &AwsChoice, stack: &StackArgs, paths: &[PathBuf]) -> Result<(), Failure> {
    let examined = examine(paths);
    for line in &examined.lines {
        println!("{line}");
    }
    if examined.worst != 0 {
        let message = "nothing was uploaded: fix the problems above (`sparkhub validate` says the same) and push again";
        return Err(if examined.worst == 1 {
            Failure::wrong(message)
        } else {
            Failure::usage(message)
        });
    }
    stack.bucket_given("push")?;
    let aws = Aws::load(choice).await?;
    let bucket = stack.bucket(&aws, "push").await?;
    let store = S3Bucket::new(aws_sdk_s3::Client::new(aws.sdk()), &bucket);
    for (profile, text) in &examined.valid {
        store
            .put_profile(&profile.name, text)
            .await
            .map_err(|e| aws.failure(&format!("uploading profile {}", profile.name), &e))?;
        println!(
            "uploaded s3://{bucket}/{}",
            S3Bucket::profile_key(profile.name.as_str())
        );
    }
    // The stack's default names (EmrInstanceRolePrefix sparkhub-node).
    let prefix = Deployment::with_default_roles(&bucket).instance_role_prefix;
    let iam = Iam::from_config(aws.sdk());
    for (profile, _) in &examined.valid {
        let name = instance_role_name(&prefix, profile.name.as_str());
        match iam.instance_profile_exists(&name).await {
            Ok(true) => {}
            Ok(false) => eprintln!(
                "warning: the instance profile {name} does not exist in this account yet, so a cluster of profile {} cannot start: run `make generate` and deploy the stack (`sam build && sam deploy`) first",
                profile.name
            ),
            Err(e) => eprintln!(
                "warning: could not check the instance profile {name}: {}",
                aws.failure("", &e).message.trim_start_matches(": ")
            ),
        }
    }
    Ok(())
}

/// How `start` runs.
pub struct StartOptions {
    pub ready_by: Option<String>,
    pub no_wait: bool,
    pub poll: Duration,
    pub timeout: Duration,
}

pub async fn start(
    choice: &AwsChoice,
    stack: &StackArgs,
    profile: &str,
    options: &StartOptions,
) -> Result<(), Failure> {
    let profile = ProfileName::parse(profile).map_err(Failure::usage)?;
    let ready_by = options
        .ready_by
        .as_deref()
        .map(|text| {
            text.parse::<Timestamp>().map_err(|_| {
                Failure::usage(format!(
                    "--ready-by {} is not an RFC 3339 instant; write it like 2026-12-07T08:00:00+01:00",
                    printable(text)
                ))
            })
        })
        .transpose()?;
    let aws = Aws::load(choice).await?;
    let function = stack.output(&aws, "start", FUNCTION_OUTPUT).await?;
    let machine = stack.output(&aws, "start", STATE_MACHINE_OUTPUT).await?;
    let mut payload = json!({ "profile": profile.as_str() });
    if let Some(at) = ready_by {
        payload["ready_by"] = json!(at.to_string());
    }
    let invoked = LambdaFunctions::from_config(aws.sdk())
        .invoke(&function, &payload.to_string())
        .await
        .map_err(|e| aws.failure(&format!("invoking {}", printable(&function)), &e))?;
    let answer: Value = serde_json::from_str(&invoked.payload).unwrap_or(Value::Null);
    if invoked.function_error.is_some() {
        let kind = answer["errorType"].as_str().unwrap_or("an error");
        let message = answer["errorMessage"].as_str().unwrap_or(&invoked.payload);
        let hint = if kind == "sparkhub.ProfileNotFound" {
            format!("; upload it first: `sparkhub push profiles/{profile}.toml`")
        } else {
            String::new()
        };
        return Err(Failure::wrong(format!(
            "create-cluster did not start profile {profile} ({}): {}{hint}",
            printable(kind),
            printable(message)
        )));
    }
    let execution = match answer["outcome"].as_str() {
        Some("started" | "already_started") => answer["execution_arn"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        Some("skipped") => {
            return Err(Failure::wrong(format!(
                "create-cluster did not start profile {profile}: {}",
                printable(answer["reason"].as_str().unwrap_or("skipped"))
            )));
        }
        _ => {
            return Err(Failure::usage(format!(
                "{} answered something sparkhub does not know: {}; is it sparkhub's create-cluster function?",
                printable(&function),
                printable(&invoked.payload)
            )));
        }
    };
    let again = answer["outcome"] == "already_started";
    println!(
        "{} run of {profile}: {}",
        if again { "an earlier" } else { "started a" },
        printable(&execution)
    );
    if let Some(at) = answer["creates_cluster_at"].as_str() {
        println!("it creates the cluster at {at}, to be ready by the time asked");
    }
    if options.no_wait {
        println!(
            "not waiting (--no-wait): `sparkhub status` shows its cluster once it has one; `aws stepfunctions describe-execution --execution-arn {}` the run",
            shell_word(&execution)
        );
        return Ok(());
    }
    let cluster_id = follow(&aws, &machine, &execution, options).await?;
    let id = shell_word(&cluster_id);
    println!(
        "{} is ready: JupyterHub runs and its users are set.",
        printable(&cluster_id)
    );
    for (command, what) in [
        (format!("sparkhub connect {id}"), "how to reach JupyterHub"),
        (
            format!("sparkhub password {profile} <user>"),
            "a user's password",
        ),
        (
            format!("sparkhub stop {id}"),
            "when you are done (the idle sweep also ends it once nobody uses it)",
        ),
    ] {
        println!("  {:<44} # {what}", printable(&command));
    }
    Ok(())
}

/// Follows the run until its cluster is ready (its id), failed or the
/// timeout ran out; one updating line on a terminal, a line per change
/// otherwise (both on stderr).
async fn follow(
    aws: &Aws,
    machine: &str,
    execution: &str,
    options: &StartOptions,
) -> Result<String, Failure> {
    let runs = StepFunctions::from_config(aws.sdk(), machine);
    let emr = Emr::new(aws_sdk_emr::Client::new(aws.sdk()));
    let terminal = std::io::stderr().is_terminal();
    let began = Instant::now();
    let mut last = String::new();
    let shown = printable(execution).into_owned();
    loop {
        let run = runs
            .run_progress(execution)
            .await
            .map_err(|e| aws.failure(&format!("reading run {shown}"), &e))?
            .ok_or_else(|| Failure::wrong(format!("there is no run {shown} (any more)")))?;
        let cluster = match &run.cluster_id {
            Some(id) => Some(view(aws, &emr, id).await?),
            None => None,
        };
        let phase = progress::phase(&run, cluster.as_ref());
        let line = progress::line(&run, cluster.as_ref(), began.elapsed());
        // The state without the clock: a new plain line only when it changes.
        let state = line.split_once("] ").map_or(line.as_str(), |(_, s)| s);
        if terminal {
            eprint!("\r\x1b[2K{}", printable(&line));
            let _ = std::io::stderr().flush();
        } else if state != last {
            eprintln!("{}", printable(&line));
        }
        last = state.to_owned();
        let end = match phase {
            Phase::Ready | Phase::Done => Some(Ok(run.cluster_id.clone().unwrap_or_default())),
            Phase::Failed(why) => Some(Err(Failure::wrong(format!(
                "the run of {shown} failed: {}",
                printable(&why)
            )))),
            _ if began.elapsed() >= options.timeout => Some(Err(Failure::wrong(format!(
                "not ready after {} (--timeout); it may still come up: `sparkhub status` shows the cluster",
                progress::elapsed(options.timeout)
            )))),
            _ => None,
        };
        if let Some(end) = end {
            if terminal {
                eprintln!();
            }
            return end;
        }
        tokio::time::sleep(options.poll).await;
    }
}

/// The cluster's state and its newest users step.
async fn view(aws: &Aws, emr: &Emr, id: &str) -> Result<ClusterView, Failure> {
    let cluster = ClusterSteps::cluster(emr, id)
        .await
        .map_err(|e| aws.failure(&format!("describing {}", printable(id)), &e))?;
    let steps = ClusterSteps::steps(emr, id)
        .await
        .map_err(|e| aws.failure(&format!("listing the steps of {}", printable(id)), &e))?;
    Ok(ClusterView {
        id: id.to_owned(),
        state: cluster.map_or(
            sparkhub_core::emr::ClusterState::Unknown(String::new()),
            |c| c.state,
        ),
        // ListSteps answers newest first.
        users_step: steps
            .iter()
            .find(|s| s.name.starts_with(USERS_STEP_PREFIX))
            .map(|s| s.state.clone()),
    })
}

pub async fn stop(choice: &AwsChoice, stack: &StackArgs, cluster_id: &str) -> Result<(), Failure> {
    stack.bucket_given("stop")?;
    let aws = Aws::load(choice).await?;
    let emr = Emr::new(aws_sdk_emr::Client::new(aws.sdk()));
    let cluster = known_cluster(&aws, &emr, cluster_id).await?;
    let shown = printable(cluster_id).into_owned();
    if !cluster.is_managed() {
        return Err(Failure::wrong(format!(
            "cluster {shown} ({}) is not sparkhub's (no sparkhub:managed = true tag): sparkhub stops only its own clusters. \
             If you mean to end it, terminate it yourself: `aws emr terminate-clusters --cluster-ids {}`",
            printable(&cluster.name),
            shell_word(cluster_id)
        )));
    }
    if !cluster.state.is_active() {
        return Err(Failure::wrong(format!(
            "cluster {shown} is {} already; nothing to stop",
            printable(&cluster.state.to_string())
        )));
    }
    if cluster.termination_protected {
        return Err(Failure::wrong(format!(
            "cluster {shown} has termination protection, and sparkhub never removes it: \
             if it is to end, remove the protection yourself (`aws emr modify-cluster-attributes --cluster-id {} --no-termination-protected`) and run sparkhub stop again",
            shell_word(cluster_id)
        )));
    }
    let bucket = stack.bucket(&aws, "stop").await?;
    let by = Sts::from_config(aws.sdk())
        .caller_arn()
        .await
        .map_err(|e| aws.failure("finding who you are (STS GetCallerIdentity)", &e))?;
    ClusterFleet::terminate(&emr, &[cluster_id.to_owned()])
        .await
        .map_err(|e| aws.failure(&format!("terminating {shown}"), &e))?;
    let record = Record::stopped(&cluster, &by, Timestamp::now());
    let history = S3Bucket::new(aws_sdk_s3::Client::new(aws.sdk()), &bucket);
    history.record(&record).await.map_err(|e| {
        let mut failure = aws.failure(
            &format!("{shown} is terminating, but recording it in s3://{bucket}/history/"),
            &e,
        );
        failure
            .message
            .push_str("\n`sparkhub report` will show it as ended by a person, without who.");
        failure
    })?;
    println!(
        "{shown} ({}) is terminating: stopped by {} (recorded in s3://{bucket}/{}; `sparkhub report` shows it as ended by a person, sparkhub stop).",
        printable(&cluster.name),
        printable(&by),
        record.key()
    );
    Ok(())
}
