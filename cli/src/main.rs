//! `sparkhub`: the command line over the same `shared/` code the functions use.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sparkhub_aws::operator::AwsChoice;

mod commands;
mod failure;
mod keep_alive;
mod lifecycle;
mod progress;
mod report;
mod stack;

use stack::StackArgs;

#[derive(Parser)]
#[command(
    name = "sparkhub",
    version,
    about = "Spark + JupyterHub clusters on Amazon EMR, started and stopped for you",
    after_help = "Exit codes, the same in every command: 0 ok; 1 the thing asked about is wrong \
                  (an invalid profile, a cluster EMR does not know or that is not sparkhub's, a \
                  user without a password, a run that failed); 2 usage or environment (a bad \
                  argument, an unreadable file, no stack or bucket, a stack that does not exist, no \
                  AWS credentials, no region, an unknown AWS profile, access denied, AWS \
                  unreachable).\n\nThe stack: commands that need the sparkhub bucket, the \
                  create-cluster function or the state machine read them once from the \
                  CloudFormation stack's outputs: --stack <name> or SPARKHUB_STACK. --bucket (or \
                  SPARKHUB_BUCKET) gives the bucket directly and wins over the stack's."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the commands that call AWS find it.
#[derive(clap::Args, Debug, Clone)]
struct AwsArgs {
    /// The AWS region of the stack's clusters (default: AWS_REGION, or the
    /// AWS profile's `region`).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// The named profile of ~/.aws/config or ~/.aws/credentials to call AWS
    /// with (default: AWS_PROFILE). Not a sparkhub profile.
    #[arg(long, value_name = "NAME")]
    aws_profile: Option<String>,
}

impl AwsArgs {
    fn choice(&self) -> AwsChoice {
        AwsChoice {
            region: self.region.clone(),
            profile: self.aws_profile.clone(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Check profiles; every problem of every file at once, and of the files
    /// together (a file not named <name>.toml, two files of one name, two
    /// profiles sharing a user in one notebook bucket).
    ///
    /// Exit 0: every file is a valid profile; 1: some are invalid, or do not
    /// go together; 2: some cannot be read, are not TOML or are too large.
    ///
    /// With --json, stdout is one JSON object:
    /// {"files": [{"path": "<as given>", "status": "ok" | "invalid" | "unreadable",
    /// "profile": "<name>" (when ok), "problems": [{"field": "<key path>",
    /// "message": "<what is wrong>"}] (when invalid), "error": "<why>" (when
    /// unreadable)}], "together": [{"files": ["<path>", …], "message": "<what
    /// is wrong>"}] (problems of the files taken together), "exit_code": 0 | 1 | 2}
    Validate {
        /// Profile files (TOML) to check.
        #[arg(required = true, value_name = "PROFILE.toml")]
        profiles: Vec<PathBuf>,
        /// Print one JSON object (fields above) instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Show what a profile's run would do: the RunJobFlow request, the
    /// pipeline steps, the scripts uploaded, the users, schedule, packages and
    /// idle policy. Calls no AWS.
    ///
    /// stdout is always JSON: the plan is a document (its RunJobFlow request
    /// is JSON already), so it goes to `jq` as it is; a few notes for people
    /// go to stderr, and --json leaves them out. Fields:
    /// {"profile": "<name>", "kind": "interactive" | "pipeline",
    /// "bucket": "<name>", "request": {RunJobFlow request as EMR's API spells
    /// it}, "steps": [{"Name", "ActionOnFailure", "HadoopJarStep": {"Jar",
    /// "Args"}}], "scripts": [{"name": "<file>", "key": "scripts/…", "uri":
    /// "s3://…", "kind": "bootstrap" | "step", "bytes": <n>}], "users":
    /// ["<name>"], "schedule": {"cron": "cron(…)", "timezone": "<IANA>"} |
    /// null, "python_packages": ["<pip spec>"], "idle": {"timeout_minutes",
    /// "grace_minutes", "max_lifetime_hours", "warn_minutes"}}
    ///
    /// Exit 1: the profile is invalid; 2: the file cannot be read or is not
    /// TOML, or no bucket was given.
    Plan {
        /// The profile file (TOML).
        #[arg(value_name = "PROFILE.toml")]
        profile: PathBuf,
        /// The sparkhub bucket's name, without s3:// (default: $SPARKHUB_BUCKET;
        /// the stack's BucketName output).
        #[arg(long, env = "SPARKHUB_BUCKET", value_name = "NAME")]
        bucket: Option<String>,
        /// Leave out the notes on stderr: JSON and nothing else.
        #[arg(long)]
        json: bool,
    },
    /// Managed clusters and what the idle sweep would decide for each, and
    /// why. Read-only: it terminates, tags and notifies nothing.
    ///
    /// With --json, stdout is one JSON object:
    /// {"clusters": [{"cluster_id", "name", "state", "created_at": "<RFC
    /// 3339>" | null, "age_minutes": <n> | null, "verdict": "terminate" |
    /// "keep", "reason": "<why>"}], "checked": <n>, "would_terminate":
    /// ["<cluster id>"], "errors": ["<what could not be checked>"]}
    Status {
        /// Where the profiles and their idle policies are.
        #[command(flatten)]
        stack: StackArgs,
        /// Print one JSON object (fields above) instead of the table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// The commands that reach a cluster's JupyterHub: Session Manager port
    /// forwarding to the master node (no open port; first unless the cluster
    /// has a key pair) and an SSH tunnel.
    Connect {
        /// The EMR cluster id (j-…).
        #[arg(value_name = "CLUSTER_ID")]
        cluster_id: String,
        /// Local port for the hub.
        #[arg(long, default_value_t = 10501)]
        local_port: u16,
        /// Run the SSH tunnel instead of printing it.
        #[arg(long)]
        open: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Print one user's JupyterHub password (operators only: nodes get
    /// its crypt hash, never the password).
    Password {
        /// The sparkhub profile's name.
        #[arg(value_name = "PROFILE")]
        profile: String,
        /// The JupyterHub user.
        user: String,
        /// Give the user a new password (and a new hash) first, and print it.
        #[arg(long)]
        rotate: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Keep a sparkhub cluster from being terminated by the idle sweep until
    /// an instant at most 7 days ahead (for being idle, and past its maximum
    /// lifetime too), or stop keeping it.
    KeepAlive {
        /// The EMR cluster id (j-…).
        #[arg(value_name = "CLUSTER_ID")]
        cluster_id: String,
        #[command(flatten)]
        how: KeepAliveArgs,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// What sparkhub's clusters of a period cost, how each ended, and the
    /// hours idle termination saved (EMR's cluster list and sparkhub's history).
    Report {
        /// The period, back from now (30d, 12h, 2w; EMR lists 60 days).
        #[arg(long, default_value = "30d")]
        since: String,
        /// Also write a self-contained HTML page: a timeline on a UTC time
        /// axis, cost bars per profile and per day, the prices and their sources.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Print JSON instead of the table.
        #[arg(long)]
        json: bool,
        /// Ask AWS's Price List nothing: prices from the local cache
        /// ($XDG_CACHE_HOME/sparkhub/prices.json) and sparkhub's offline
        /// table only. Without it, types not cached in the last 7 days are
        /// asked of the Price List (pricing:GetProducts), and the offline
        /// table serves when it cannot be reached.
        #[arg(long)]
        offline_prices: bool,
        /// Where the profiles and the history are.
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Validate profiles and upload them to the sparkhub bucket
    /// (profiles/<name>.toml), only if every file is valid; warns about a
    /// profile whose instance profile (sparkhub-node-<profile>) the account
    /// does not have yet (`make generate` and a deploy create it).
    ///
    /// Exit 0: all uploaded; 1: some are invalid or do not go together,
    /// nothing uploaded; 2: some cannot be read (nothing uploaded), or no
    /// stack or bucket, or AWS refused.
    Push {
        /// Profile files (TOML) to check and upload.
        #[arg(required = true, value_name = "PROFILE.toml")]
        profiles: Vec<PathBuf>,
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Start a cluster of a profile now: a manual run of the stack's
    /// create-cluster function ({"profile": "<name>"}), followed until the
    /// cluster is WAITING with its JupyterHub users set (one updating line
    /// on a terminal, a line per change otherwise, on stderr); then how to
    /// connect. Needs --stack (or SPARKHUB_STACK).
    ///
    /// Exit 0: ready (or started, with --no-wait); 1: create-cluster refused
    /// the run, the run or its cluster failed, or --timeout ran out; 2: usage
    /// or environment.
    Start {
        /// The sparkhub profile's name (uploaded with `sparkhub push`).
        #[arg(value_name = "PROFILE")]
        profile: String,
        /// Have the cluster ready by this RFC 3339 instant: the run creates
        /// it that long before as the profile's recent startups took (README,
        /// "Ready by a time").
        #[arg(long, value_name = "RFC 3339")]
        ready_by: Option<String>,
        /// Return once the run is started: print its execution ARN.
        #[arg(long)]
        no_wait: bool,
        /// Seconds between two looks at the run and its cluster.
        #[arg(long, default_value_t = 10, value_name = "SECONDS")]
        poll: u64,
        /// Give up following after this many minutes (the run goes on).
        #[arg(long, default_value_t = 60, value_name = "MINUTES")]
        timeout: u64,
        /// The sparkhub stack's CloudFormation name (default:
        /// $SPARKHUB_STACK): its outputs name the create-cluster function and
        /// the state machine.
        #[arg(long, env = "SPARKHUB_STACK", value_name = "NAME")]
        stack: Option<String>,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Terminate a sparkhub cluster now, and record in the history that a
    /// person stopped it (`sparkhub report` shows "a person, sparkhub
    /// stop"). Refuses a cluster without sparkhub:managed = true and one
    /// with termination protection (sparkhub never removes it).
    ///
    /// Exit 0: terminating and recorded; 1: not sparkhub's, protected,
    /// ended already or unknown to EMR; 2: usage or environment.
    Stop {
        /// The EMR cluster id (j-…).
        #[arg(value_name = "CLUSTER_ID")]
        cluster_id: String,
        /// Where the history is.
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        aws: AwsArgs,
    },
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct KeepAliveArgs {
    /// For this long from now (2h, 90m, 1d 6h; at most 7 days).
    #[arg(long = "for", value_name = "DURATION")]
    for_: Option<String>,
    /// Until this RFC 3339 instant (at most 7 days ahead).
    #[arg(long, value_name = "RFC 3339")]
    until: Option<String>,
    /// Remove the keep-alive: the idle sweep judges the cluster as usual.
    #[arg(long)]
    clear: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate { profiles, json } => return commands::validate(&profiles, json),
        Command::Plan {
            profile,
            bucket,
            json,
        } => commands::plan(&profile, bucket.as_deref(), json),
        Command::Status { stack, json, aws } => commands::status(&aws.choice(), &stack, json).await,
        Command::Connect {
            cluster_id,
            local_port,
            open,
            aws,
        } => commands::connect(&aws.choice(), &cluster_id, local_port, open).await,
        Command::Password {
            profile,
            user,
            rotate,
            aws,
        } => commands::password(&aws.choice(), &profile, &user, rotate).await,
        Command::KeepAlive {
            cluster_id,
            how,
            aws,
        } => {
            let ask = match (how.for_, how.until) {
                (Some(text), _) => keep_alive::Ask::For(text),
                (None, Some(text)) => keep_alive::Ask::Until(text),
                (None, None) => keep_alive::Ask::Clear,
            };
            commands::keep_alive(&aws.choice(), &cluster_id, &ask).await
        }
        Command::Report {
            since,
            html,
            json,
            offline_prices,
            stack,
            aws,
        } => {
            report::run(
                &aws.choice(),
                &stack,
                &since,
                &report::Output {
                    json,
                    html,
                    offline_prices,
                },
            )
            .await
        }
        Command::Push {
            profiles,
            stack,
            aws,
        } => lifecycle::push(&aws.choice(), &stack, &profiles).await,
        Command::Start {
            profile,
            ready_by,
            no_wait,
            poll,
            timeout,
            stack,
            aws,
        } => {
            let options = lifecycle::StartOptions {
                ready_by,
                no_wait,
                poll: std::time::Duration::from_secs(poll.max(1)),
                timeout: std::time::Duration::from_secs(timeout.saturating_mul(60)),
            };
            let stack = StackArgs {
                stack,
                bucket: None,
            };
            lifecycle::start(&aws.choice(), &stack, &profile, &options).await
        }
        Command::Stop {
            cluster_id,
            stack,
            aws,
        } => lifecycle::stop(&aws.choice(), &stack, &cluster_id).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("sparkhub: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every positional argument and flag of every command says what it is
    /// in `--help`.
    #[test]
    fn every_argument_has_a_help_line() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let command = Cli::command();
        let mut missing = Vec::new();
        walk(&command, "sparkhub", &mut missing);
        assert!(
            command.get_subcommands().count() >= 7,
            "the walk sees the commands"
        );
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }
}
