//! The commands. Each prints for people and returns an error message that
//! says what to do.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aws_config::BehaviorVersion;
use jiff::Timestamp;
use sparkhub_aws::{Emr, SecretsManager};
use sparkhub_core::errors::message_with_causes;
use sparkhub_core::ports::{ClusterSteps, ClusterTagger, ClusterUntagger, SecretStore};
use sparkhub_core::profile::{MAX_PROFILE_BYTES, ProfileParseError};
use sparkhub_core::render::{self, Deployment, RunOptions, TAG_KEEP_ALIVE_UNTIL, TAG_WARNED_AT};
use sparkhub_core::setup::secrets::write_hashes;
use sparkhub_core::sweep::Config;
use sparkhub_core::text::{printable, shell_word};
use sparkhub_core::users::{hashes_secret_name, random_password, secret_name};
use sparkhub_core::workflow::{cluster_workflow, generated_definitions, mermaid};
use sparkhub_core::{Profile, ProfileName, UserName};

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

fn read_profile(path: &Path) -> Result<Profile, String> {
    read_text(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .and_then(|text| Profile::parse(&text))
        .map_err(|e| format!("{}:\n{e}", path.display()))
}

/// 0: every profile valid; 1: some are invalid; 2: some cannot be read or
/// are not TOML at all (or too large to be a profile).
pub fn validate(paths: &[PathBuf]) -> ExitCode {
    let mut worst = 0u8;
    for path in paths {
        let text = match read_text(path) {
            Ok(text) => text,
            Err(e) => {
                println!("{}: cannot be read: {e}", path.display());
                worst = 2;
                continue;
            }
        };
        match text.and_then(|text| Profile::parse(&text)) {
            Ok(profile) => println!("{}: ok (profile {})", path.display(), profile.name),
            Err(ProfileParseError::Invalid(errors)) => {
                println!("{}: {} problem(s)", path.display(), errors.0.len());
                for error in &errors.0 {
                    println!("  {error}");
                }
                worst = worst.max(1);
            }
            Err(unreadable) => {
                println!("{}: {unreadable}", path.display());
                worst = 2;
            }
        }
    }
    ExitCode::from(worst)
}

pub fn plan(path: &Path, bucket: &str) -> Result<(), String> {
    let profile = read_profile(path)?;
    let deployment = Deployment::with_default_roles(bucket);
    let plan = render::plan(
        &profile,
        &deployment,
        &RunOptions {
            run_id: "plan".into(),
            ..Default::default()
        },
    );
    println!("# RunJobFlow request (the state machine passes it to EMR)");
    println!(
        "{}",
        serde_json::to_string_pretty(&plan.input.request).expect("a request serializes")
    );
    println!("\n# Pipeline steps: {}", plan.input.steps.len());
    for step in &plan.input.steps {
        println!(
            "  {} ({}): {} {}",
            step.name,
            step.action_on_failure,
            step.hadoop_jar_step.jar,
            step.hadoop_jar_step.args.join(" ")
        );
    }
    println!("\n# Scripts uploaded to s3://{bucket}/");
    for script in &plan.scripts {
        let how = if script.bootstrap {
            "bootstrap action"
        } else {
            "step"
        };
        println!("  {} ({how}, {} bytes)", script.key, script.body.len());
    }
    Ok(())
}

pub fn render(out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for (file, json) in generated_definitions() {
        let path = out.join(file);
        std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    println!("{}", mermaid(&cluster_workflow()));
    Ok(())
}

async fn aws() -> aws_config::SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

pub async fn status(bucket: &str) -> Result<(), String> {
    let config = aws().await;
    let sweep = sparkhub_aws::terminator(
        Config {
            bucket: bucket.into(),
            dry_run: true,
            topic_arn: None,
            max_concurrency: sparkhub_core::settings::DEFAULT_MAX_CONCURRENCY,
        },
        &config,
    );
    let summary = sweep.sweep().await.map_err(|e| message_with_causes(&e))?;
    let now = Timestamp::now();
    println!(
        "{:<16} {:<28} {:<14} {:>8}  {:<10} why",
        "cluster", "name", "state", "age", "sweep"
    );
    for c in &summary.clusters {
        let age = c
            .created_at
            .map(|t| format!("{}m", now.duration_since(t).as_mins()))
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
        "\n{} cluster(s); the sweep would terminate {}.",
        summary.checked,
        summary.to_terminate.len()
    );
    for error in &summary.errors {
        println!("error: {}", printable(error));
    }
    Ok(())
}

pub async fn connect(cluster_id: &str, local_port: u16, open: bool) -> Result<(), String> {
    let config = aws().await;
    let emr = Emr::new(aws_sdk_emr::Client::new(&config));
    let cluster = emr
        .cluster(cluster_id)
        .await
        .map_err(|e| format!("describing {cluster_id}: {}", message_with_causes(&e)))?
        .ok_or_else(|| format!("EMR does not know cluster {cluster_id}"))?;
    let dns = cluster.master_dns.as_deref().ok_or_else(|| {
        format!(
            "cluster {cluster_id} has no master DNS name yet (state {})",
            printable(&cluster.state.to_string())
        )
    })?;
    // Every value from EMR is one shell word of the printed commands, so a
    // key pair or host named like a command stays a name (and a control
    // character in one is shown escaped, not sent to the terminal).
    let word = |value: &str| printable(&shell_word(value)).into_owned();
    let key = cluster.key_name.as_deref();
    let key_file = match key {
        Some(key) => format!("~/.ssh/{}", word(&format!("{key}.pem"))),
        None => "~/.ssh/<your key pair>.pem".to_owned(),
    };
    let tunnel = format!("{local_port}:localhost:9443");
    let target = format!("hadoop@{dns}");
    let id = word(cluster_id);
    println!(
        "JupyterHub of {} at https://localhost:{local_port} once one of these runs:\n",
        printable(cluster_id)
    );
    println!(
        "SSH tunnel (port 22 open to you):\n  ssh -i {key_file} -N -L {tunnel} {}\n",
        word(&target)
    );
    println!(
        "SSM port forwarding (no open port; the master's instance id is in `aws emr list-instances --cluster-id {id} --instance-fleet-type MASTER`):\n  aws ssm start-session --target <master instance id> --document-name AWS-StartPortForwardingSession --parameters 'portNumber=9443,localPortNumber={local_port}'"
    );
    if open {
        let home = std::env::var("HOME")
            .map_err(|_| "HOME is not set; run the printed ssh command yourself".to_owned())?;
        let key = key.unwrap_or("<your key pair>");
        let key_file = format!("{home}/.ssh/{key}.pem");
        let status = std::process::Command::new("ssh")
            .args(["-i", &key_file, "-N", "-L", &tunnel, &target])
            .status()
            .map_err(|e| format!("running ssh: {e}"))?;
        if !status.success() {
            return Err(format!("ssh ended with {status}"));
        }
    }
    Ok(())
}

pub async fn password(profile: &str, user: &str, rotate: bool) -> Result<(), String> {
    let profile = ProfileName::parse(profile)?;
    let user = UserName::parse(user)?;
    let config = aws().await;
    let secrets = SecretsManager::new(aws_sdk_secretsmanager::Client::new(&config));
    let name = secret_name(&profile);
    let mut passwords = secrets
        .read(&name)
        .await
        .map_err(|e| message_with_causes(&e))?
        .ok_or_else(|| {
            format!("no secret {name}: has a cluster of profile {profile} been set up yet?")
        })?;
    if !passwords.contains_key(user.as_str()) {
        return Err(format!(
            "secret {name} has no password for {user}; is {user} in the profile's users?"
        ));
    }
    if rotate {
        passwords.insert(user.to_string(), random_password());
        // The plaintext first: if the hashes cannot be written, the next
        // users step's setup function writes them from it.
        secrets
            .update(&name, &passwords)
            .await
            .map_err(|e| message_with_causes(&e))?;
        let hashes_name = hashes_secret_name(&profile);
        write_hashes(&secrets, &profile, &passwords)
            .await
            .map_err(|e| message_with_causes(&e))?;
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

pub async fn keep_alive(cluster_id: &str, ask: &Ask) -> Result<(), String> {
    let until = keep_alive::until(ask, Timestamp::now())?;
    let config = aws().await;
    let emr = Emr::new(aws_sdk_emr::Client::new(&config));
    let cluster = emr
        .cluster(cluster_id)
        .await
        .map_err(|e| format!("describing {cluster_id}: {}", message_with_causes(&e)))?
        .ok_or_else(|| format!("EMR does not know cluster {cluster_id}"))?;
    if !cluster.is_managed() {
        return Err(format!(
            "cluster {cluster_id} ({}) is not sparkhub's (no sparkhub:managed = true tag); \
             sparkhub never tags or terminates it, so there is nothing to keep",
            printable(&cluster.name)
        ));
    }
    if !cluster.state.is_active() {
        return Err(format!(
            "cluster {cluster_id} is {}; only a running cluster can be kept",
            printable(&cluster.state.to_string())
        ));
    }
    let tagging = |e| format!("tagging {cluster_id}: {}", message_with_causes(&e));
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
                "{cluster_id} ({}) is kept alive until {until}: the idle sweep does not terminate it for being idle before then; its maximum lifetime still applies.",
                printable(&cluster.name)
            );
        }
        None => {
            emr.remove_tags(cluster_id, &[TAG_KEEP_ALIVE_UNTIL])
                .await
                .map_err(tagging)?;
            println!(
                "{cluster_id} ({}) is no longer kept alive: the idle sweep judges it as usual.",
                printable(&cluster.name)
            );
        }
    }
    Ok(())
}
