//! The commands. Each prints for people (or JSON) and fails with a message
//! that says what to do and the exit code of [`crate::failure`].

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jiff::Timestamp;
use serde_json::{Value, json};
use sparkhub_aws::operator::AwsChoice;
use sparkhub_aws::{Emr, SecretsManager};
use sparkhub_core::ports::{
    ClusterInstances, ClusterSteps, ClusterTagger, ClusterUntagger, SecretStore,
};
use sparkhub_core::profile::{MAX_PROFILE_BYTES, ProfileKind, ProfileParseError};
use sparkhub_core::render::{self, Deployment, RunOptions, TAG_KEEP_ALIVE_UNTIL, TAG_WARNED_AT};
use sparkhub_core::setup::secrets::write_hashes;
use sparkhub_core::sweep::Config;
use sparkhub_core::text::{printable, shell_word};
use sparkhub_core::users::{hashes_secret_name, random_password, secret_name};
use sparkhub_core::{Profile, ProfileName, UserName};

use crate::failure::{Aws, Failure};
use crate::keep_alive::{self, Ask};

/// A profile file's text, reading at most [`MAX_PROFILE_BYTES`] + 1 bytes of
/// it: a larger file (or a device that never ends) is the parser's "too
/// large", never read whole.
fn read_text(path: &Path) -> std::io::Result<Result<String, ProfileParseError>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    (&file)
        .take(MAX_PROFILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_PROFILE_BYTES {
        let size = file.metadata().map_or(0, |m| m.len());
        return Ok(Err(ProfileParseError::TooLarge {
            size: usize::try_from(size).unwrap_or(usize::MAX).max(bytes.len()),
        }));
    }
    String::from_utf8(bytes)
        .map(Ok)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// A profile file, or why not: unreadable, not TOML or too large (exit 2),
/// invalid (exit 1, every problem).
fn read_profile(path: &Path) -> Result<Profile, Failure> {
    let text = read_text(path)
        .map_err(|e| Failure::usage(format!("{}: cannot be read: {e}", path.display())))?;
    match text.and_then(|text| Profile::parse(&text)) {
        Ok(profile) => Ok(profile),
        Err(ProfileParseError::Invalid(errors)) => Err(Failure::wrong(format!(
            "{}: {} problem(s); `sparkhub validate` says the same:\n{errors}",
            path.display(),
            errors.0.len()
        ))),
        Err(unreadable) => Err(Failure::usage(format!("{}: {unreadable}", path.display()))),
    }
}

/// What `validate` found in a set of files: the exit code (0 valid, 1 some
/// invalid or not going together, 2 some unreadable, not TOML or too large),
/// the lines for people, the JSON document's parts, and the valid profiles
/// with their text (what `push` uploads).
pub struct Examined {
    pub worst: u8,
    pub lines: Vec<String>,
    files: Vec<Value>,
    together: Vec<Value>,
    pub valid: Vec<(Profile, String)>,
}

/// Reads and checks every file, each alone and all together.
pub fn examine(paths: &[PathBuf]) -> Examined {
    let mut worst = 0u8;
    let mut lines = Vec::new();
    let mut files = Vec::new();
    let mut valid: Vec<(String, Profile, String)> = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        let parsed = match read_text(path) {
            Ok(text) => text.and_then(|text| Profile::parse(&text).map(|p| (p, text))),
            Err(e) => {
                worst = 2;
                lines.push(format!("{shown}: cannot be read: {e}"));
                files.push(json!({"path": shown, "status": "unreadable", "error": format!("cannot be read: {e}")}));
                continue;
            }
        };
        match parsed {
            Ok((profile, text)) => {
                lines.push(format!("{shown}: ok (profile {})", profile.name));
                files
                    .push(json!({"path": shown, "status": "ok", "profile": profile.name.as_str()}));
                valid.push((shown, profile, text));
            }
            Err(ProfileParseError::Invalid(errors)) => {
                worst = worst.max(1);
                lines.push(format!("{shown}: {} problem(s)", errors.0.len()));
                for error in &errors.0 {
                    lines.push(format!("  {error}"));
                }
                let problems: Vec<Value> = errors
                    .0
                    .iter()
                    .map(|e| json!({"field": e.field, "message": e.message}))
                    .collect();
                files.push(json!({"path": shown, "status": "invalid", "problems": problems}));
            }
            Err(unreadable) => {
                worst = 2;
                lines.push(format!("{shown}: {unreadable}"));
                files.push(
                    json!({"path": shown, "status": "unreadable", "error": unreadable.to_string()}),
                );
            }
        }
    }
    // The files taken together: names, file names, shared notebook folders
    // (a file given twice counts once).
    let mut seen = std::collections::BTreeSet::new();
    valid.retain(|(f, _, _)| {
        seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| PathBuf::from(f)))
    });
    let pairs: Vec<(&str, &Profile)> = valid.iter().map(|(f, p, _)| (f.as_str(), p)).collect();
    let together: Vec<Value> = sparkhub_core::profile::problems_together(&pairs)
        .into_iter()
        .map(|(files, message)| {
            lines.push(format!("{}: {message}", files.join(", ")));
            json!({"files": files, "message": message})
        })
        .collect();
    if !together.is_empty() {
        worst = worst.max(1);
    }
    Examined {
        worst,
        lines,
        files,
        together,
        valid: valid.into_iter().map(|(_, p, t)| (p, t)).collect(),
    }
}

/// 0: every profile valid; 1: some are invalid; 2: some cannot be read or
/// are not TOML at all (or too large to be a profile).
pub fn validate(paths: &[PathBuf], json: bool) -> ExitCode {
    let examined = examine(paths);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "files": examined.files,
                "together": examined.together,
                "exit_code": examined.worst
            }))
            .expect("JSON values serialize")
        );
    } else {
        for line in &examined.lines {
            println!("{line}");
        }
    }
    ExitCode::from(examined.worst)
}

/// The sparkhub bucket a command was given (--bucket or SPARKHUB_BUCKET): a
/// bucket's name, the same convention for every command.
pub fn bucket_name(command: &str, bucket: Option<&str>) -> Result<String, Failure> {
    let bucket = bucket
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| {
            Failure::usage(format!(
                "{command} needs the sparkhub bucket: pass --bucket <name> or set \
             SPARKHUB_BUCKET (the stack's BucketName output)"
            ))
        })?;
    if let Some(rest) = bucket.strip_prefix("s3://") {
        let name = rest.split('/').next().unwrap_or_default();
        return Err(Failure::usage(format!(
            "--bucket (or SPARKHUB_BUCKET) takes the bucket's name, without s3://: --bucket {}",
            shell_word(if name.is_empty() { "<name>" } else { name })
        )));
    }
    sparkhub_core::names::check_bucket(bucket).map_err(|e| {
        Failure::usage(format!(
            "--bucket (or SPARKHUB_BUCKET) {}: {e}",
            printable(bucket)
        ))
    })?;
    Ok(bucket.to_owned())
}

pub fn plan(path: &Path, bucket: Option<&str>, json_only: bool) -> Result<(), Failure> {
    let bucket = bucket_name("plan", bucket)?;
    let profile = read_profile(path)?;
    let deployment = Deployment::with_default_roles(&bucket);
    let plan = render::plan(
        &profile,
        &deployment,
        &RunOptions {
            run_id: "plan".into(),
            ..Default::default()
        },
    );
    let scripts: Vec<Value> = plan
        .scripts
        .iter()
        .map(|s| {
            json!({
                "name": s.file_name,
                "key": s.key,
                "uri": format!("s3://{bucket}/{}", s.key),
                "kind": if s.bootstrap { "bootstrap" } else { "step" },
                "bytes": s.body.len(),
            })
        })
        .collect();
    let idle = &profile.idle;
    let document = json!({
        "profile": profile.name.as_str(),
        "kind": match profile.kind {
            ProfileKind::Interactive => "interactive",
            ProfileKind::Pipeline => "pipeline",
        },
        "bucket": bucket,
        "request": plan.input.request,
        "steps": plan.input.steps,
        "scripts": scripts,
        "users": profile.users.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
        "schedule": profile.schedule.as_ref().map(|s| json!({"cron": s.cron, "timezone": s.timezone})),
        "python_packages": profile.python_packages,
        "idle": {
            "timeout_minutes": idle.timeout_minutes,
            "grace_minutes": idle.grace_minutes,
            "max_lifetime_hours": idle.max_lifetime_hours,
            "warn_minutes": idle.warn_minutes,
        },
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&document).expect("a plan serializes")
    );
    if !json_only {
        eprintln!(
            "plan of profile {}: create-cluster would upload the {} script(s) to s3://{bucket}/ \
             (only those not there yet) and start the workflow with this request; nothing was \
             called.",
            profile.name,
            plan.scripts.len()
        );
    }
    Ok(())
}

pub async fn status(
    choice: &AwsChoice,
    stack: &crate::stack::StackArgs,
    json: bool,
) -> Result<(), Failure> {
    stack.bucket_given("status")?;
    let aws = Aws::load(choice).await?;
    let bucket = &stack.bucket(&aws, "status").await?;
    let sweep = sparkhub_aws::terminator(
        Config {
            bucket: bucket.into(),
            dry_run: true,
            topic_arn: None,
            max_concurrency: sparkhub_core::settings::DEFAULT_MAX_CONCURRENCY,
            checks: None,
        },
        aws.sdk(),
    );
    // A dry run: the sweep decides and changes nothing.
    let summary = sweep
        .sweep()
        .await
        .map_err(|e| aws.failure("listing the clusters", &e))?;
    let now = Timestamp::now();
    let age = |t: Option<Timestamp>| t.map(|t| now.duration_since(t).as_mins());
    if json {
        let clusters: Vec<Value> = summary
            .clusters
            .iter()
            .map(|c| {
                json!({
                    "cluster_id": c.cluster_id,
                    "name": c.name,
                    "state": c.state,
                    "created_at": c.created_at.map(|t| t.to_string()),
                    "age_minutes": age(c.created_at),
                    "verdict": if c.terminate { "terminate" } else { "keep" },
                    "reason": c.reason,
                })
            })
            .collect();
        let document = json!({
            "clusters": clusters,
            "checked": summary.checked,
            "would_terminate": summary.to_terminate.iter().map(|d| &d.cluster_id).collect::<Vec<_>>(),
            "errors": summary.errors,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&document).expect("a status serializes")
        );
        return Ok(());
    }
    println!(
        "{:<16} {:<28} {:<14} {:>8}  {:<10} why",
        "cluster", "name", "state", "age", "sweep"
    );
    for c in &summary.clusters {
        let age = age(c.created_at)
            .map(|m| format!("{m}m"))
            .unwrap_or_else(|| "?".into());
        let verdict = if c.terminate { "TERMINATE" } else { "keep" };
        // Names, states and reasons come from AWS (tags, profile names):
        // nothing in them acts on the terminal.
        println!(
            "{:<16} {:<28} {:<14} {:>8}  {:<10} {}",
            printable(&c.cluster_id),
            printable(&c.name),
            printable(&c.state),
            age,
            verdict,
            printable(&c.reason)
        );
    }
    println!(
        "\n{} cluster(s); the next sweep would terminate {} (status itself changes nothing).",
        summary.checked,
        summary.to_terminate.len()
    );
    for error in &summary.errors {
        println!("could not check: {}", printable(error));
    }
    Ok(())
}

/// A cluster EMR knows, or exit 1.
pub(crate) async fn known_cluster(
    aws: &Aws,
    emr: &Emr,
    cluster_id: &str,
) -> Result<sparkhub_core::ports::Cluster, Failure> {
    emr.cluster(cluster_id)
        .await
        .map_err(|e| aws.failure(&format!("describing {}", printable(cluster_id)), &e))?
        .ok_or_else(|| {
            Failure::wrong(format!(
                "EMR does not know cluster {} in {}: check the id (`aws emr list-clusters --active`) and --region",
                printable(cluster_id),
                aws.sdk().region().map(|r| r.to_string()).unwrap_or_default()
            ))
        })
}

/// The remote port of JupyterHub on EMR's master node.
const HUB_PORT: u16 = 9443;

pub async fn connect(
    choice: &AwsChoice,
    cluster_id: &str,
    local_port: u16,
    open: bool,
) -> Result<(), Failure> {
    let aws = Aws::load(choice).await?;
    let emr = Emr::new(aws_sdk_emr::Client::new(aws.sdk()));
    let cluster = known_cluster(&aws, &emr, cluster_id).await?;
    // Every value from EMR (and every name given) is one shell word of the
    // printed commands, so a key pair or host named like a command stays a
    // name (and a control character in one is shown escaped, not sent to
    // the terminal).
    let word = |value: &str| printable(&shell_word(value)).into_owned();
    let id = word(cluster_id);
    let master = match emr.master_instance(cluster_id).await {
        Ok(Some(instance)) => word(&instance),
        Ok(None) => {
            eprintln!(
                "cluster {} has no running master node yet (state {}); its instance id comes with it: `aws emr list-instances --cluster-id {id} --instance-states RUNNING`",
                printable(cluster_id),
                printable(&cluster.state.to_string())
            );
            "<master instance id>".to_owned()
        }
        Err(e) => {
            eprintln!(
                "{}\n(`aws emr list-instances --cluster-id {id} --instance-states RUNNING` lists it too)",
                aws.failure("finding the master node", &e).message
            );
            "<master instance id>".to_owned()
        }
    };
    let region = aws
        .sdk()
        .region()
        .map(|r| format!(" --region {}", word(r.as_ref())))
        .unwrap_or_default();
    let profile = aws
        .config
        .profile
        .as_deref()
        .map(|p| format!(" --profile {}", word(p)))
        .unwrap_or_default();
    // The parameters as AWS's Session Manager guide writes them:
    // https://docs.aws.amazon.com/systems-manager/latest/userguide/getting-started-specify-session-document.html
    let parameters = serde_json::to_string(&json!({
        "portNumber": [HUB_PORT.to_string()],
        "localPortNumber": [local_port.to_string()],
    }))
    .expect("JSON values serialize");
    let ssm = format!(
        "Session Manager port forwarding (no open port; needs the AWS CLI's Session Manager plugin):\n  aws ssm start-session --target {master} --document-name AWS-StartPortForwardingSession --parameters {}{region}{profile}",
        shell_word(&parameters)
    );
    let tunnel = format!("{local_port}:localhost:{HUB_PORT}");
    let ssh = match (cluster.key_name.as_deref(), cluster.master_dns.as_deref()) {
        (Some(key), Some(dns)) => Some(format!(
            "SSH tunnel (port 22 open to you, the cluster's key pair):\n  ssh -i ~/.ssh/{} -N -L {tunnel} {}",
            word(&format!("{key}.pem")),
            word(&format!("hadoop@{dns}"))
        )),
        (Some(_), None) => Some(format!(
            "SSH tunnel: the master has no DNS name yet (state {})",
            printable(&cluster.state.to_string())
        )),
        (None, _) => None,
    };
    println!(
        "JupyterHub of {} at https://localhost:{local_port} once one of these runs:\n",
        printable(cluster_id)
    );
    match &ssh {
        Some(ssh) => println!("{ssh}\n\n{ssm}"),
        None => println!("{ssm}\n\n(no SSH tunnel: the cluster has no EC2 key pair)"),
    }
    if open {
        let (Some(key), Some(dns)) = (cluster.key_name.as_deref(), cluster.master_dns.as_deref())
        else {
            return Err(Failure::wrong(format!(
                "--open runs the SSH tunnel, and cluster {} has no key pair or no master DNS name; run the aws ssm command above",
                printable(cluster_id)
            )));
        };
        let home = std::env::var("HOME")
            .map_err(|_| Failure::usage("HOME is not set; run the printed ssh command yourself"))?;
        let key_file = format!("{home}/.ssh/{key}.pem");
        let target = format!("hadoop@{dns}");
        let status = std::process::Command::new("ssh")
            .args(["-i", &key_file, "-N", "-L", &tunnel, &target])
            .status()
            .map_err(|e| Failure::usage(format!("running ssh: {e}")))?;
        if !status.success() {
            return Err(Failure::usage(format!("ssh ended with {status}")));
        }
    }
    Ok(())
}

pub async fn password(
    choice: &AwsChoice,
    profile: &str,
    user: &str,
    rotate: bool,
) -> Result<(), Failure> {
    // Names that cannot be a profile's or a user's are a usage error.
    let profile = ProfileName::parse(profile).map_err(Failure::usage)?;
    let user = UserName::parse(user).map_err(Failure::usage)?;
    let aws = Aws::load(choice).await?;
    let secrets = SecretsManager::new(aws_sdk_secretsmanager::Client::new(aws.sdk()));
    let name = secret_name(&profile);
    let mut passwords = secrets
        .read(&name)
        .await
        .map_err(|e| aws.failure(&format!("reading secret {name}"), &e))?
        .ok_or_else(|| {
            Failure::wrong(format!(
                "no secret {name}: has a cluster of profile {profile} been set up yet (in this region)?"
            ))
        })?;
    if !passwords.contains_key(user.as_str()) {
        return Err(Failure::wrong(format!(
            "secret {name} has no password for {user}; is {user} in the profile's users?"
        )));
    }
    if rotate {
        passwords.insert(user.to_string(), random_password());
        // The plaintext first: if the hashes cannot be written, the next
        // users step's setup function writes them from it.
        secrets
            .update(&name, &passwords)
            .await
            .map_err(|e| aws.failure(&format!("writing secret {name}"), &e))?;
        let hashes_name = hashes_secret_name(&profile);
        write_hashes(&secrets, &profile, &passwords)
            .await
            .map_err(|e| {
                // The new password is stored already: say where, so that it
                // is not lost with this error.
                let mut failure = aws.failure(&format!("writing secret {hashes_name}"), &e);
                failure.message.push_str(&format!(
                    "\nThe new password is stored in {name}: `sparkhub password {profile} {user}` \
                     prints it; the next users step writes its hash."
                ));
                failure
            })?;
        eprintln!(
            "{user} has a new password (the old one is gone from {name} and {hashes_name}). \
             Clusters started from now on use it. A running cluster gets it from a new users \
             step, which sparkhub adds when the cluster next turns WAITING (after any step); \
             until then the old password works there."
        );
    }
    println!("{}", passwords[user.as_str()]);
    Ok(())
}

pub async fn keep_alive(choice: &AwsChoice, cluster_id: &str, ask: &Ask) -> Result<(), Failure> {
    let until = keep_alive::until(ask, Timestamp::now()).map_err(Failure::usage)?;
    let aws = Aws::load(choice).await?;
    let emr = Emr::new(aws_sdk_emr::Client::new(aws.sdk()));
    let cluster = known_cluster(&aws, &emr, cluster_id).await?;
    let shown = printable(cluster_id);
    if !cluster.is_managed() {
        return Err(Failure::wrong(format!(
            "cluster {shown} ({}) is not sparkhub's (no sparkhub:managed = true tag); \
             sparkhub never tags or terminates it, so there is nothing to keep",
            printable(&cluster.name)
        )));
    }
    if !cluster.state.is_active() {
        return Err(Failure::wrong(format!(
            "cluster {shown} is {}; only a running cluster can be kept",
            printable(&cluster.state.to_string())
        )));
    }
    let tagging = |e: sparkhub_core::ports::AwsError| aws.failure(&format!("tagging {shown}"), &e);
    match until {
        Some(until) => {
            emr.add_tags(cluster_id, &[(TAG_KEEP_ALIVE_UNTIL, &until.to_string())])
                .await
                .map_err(tagging)?;
            // A new keep-alive is an answer to any warning: the next idle
            // period gets its own.
            if cluster.tags.contains_key(TAG_WARNED_AT) {
                emr.remove_tags(cluster_id, &[TAG_WARNED_AT])
                    .await
                    .map_err(tagging)?;
            }
            println!(
                "{shown} ({}) is kept alive until {until}: the idle sweep does not terminate it before then, neither for being idle nor at its maximum lifetime.",
                printable(&cluster.name)
            );
        }
        None => {
            emr.remove_tags(cluster_id, &[TAG_KEEP_ALIVE_UNTIL])
                .await
                .map_err(tagging)?;
            println!(
                "{shown} ({}) is no longer kept alive: the idle sweep judges it as usual.",
                printable(&cluster.name)
            );
        }
    }
    Ok(())
}
