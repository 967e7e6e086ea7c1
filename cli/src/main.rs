//! `sparkhub`: the command line over the same `shared/` code the functions use.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod keep_alive;
mod report;

#[derive(Parser)]
#[command(
    name = "sparkhub",
    version,
    about = "Spark + JupyterHub clusters on Amazon EMR, started and stopped for you"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check profiles; every problem of every file at once.
    Validate {
        #[arg(required = true)]
        profiles: Vec<PathBuf>,
    },
    /// Show the RunJobFlow request and the scripts a profile would upload.
    Plan {
        profile: PathBuf,
        /// The sparkhub bucket (default: $SPARKHUB_BUCKET).
        #[arg(long, env = "SPARKHUB_BUCKET", default_value = "your-sparkhub-bucket")]
        bucket: String,
    },
    /// Write the state machine definitions and print a Mermaid diagram of each.
    Render {
        #[arg(long, default_value = "infra/statemachines")]
        out: PathBuf,
    },
    /// Managed clusters and what the idle sweep would decide for each, and why.
    Status {
        #[arg(long, env = "SPARKHUB_BUCKET")]
        bucket: String,
    },
    /// The SSH tunnel and SSM commands that reach a cluster's JupyterHub.
    Connect {
        cluster_id: String,
        /// Local port for the hub.
        #[arg(long, default_value_t = 10501)]
        local_port: u16,
        /// Run the SSH tunnel instead of printing it.
        #[arg(long)]
        open: bool,
    },
    /// Print one user's JupyterHub password (operators only: nodes get
    /// its crypt hash, never the password).
    Password {
        /// The sparkhub profile.
        profile: String,
        /// The JupyterHub user.
        user: String,
        /// Give the user a new password (and a new hash) first, and print it.
        #[arg(long)]
        rotate: bool,
    },
    /// Keep a sparkhub cluster from being terminated for being idle (its
    /// maximum lifetime still applies), or stop keeping it.
    KeepAlive {
        cluster_id: String,
        #[command(flatten)]
        how: KeepAliveArgs,
    },
    /// What sparkhub's clusters of a period cost, how each ended, and the
    /// hours idle termination saved (EMR's cluster list and sparkhub's history).
    Report {
        /// The period, back from now (30d, 12h, 2w; EMR lists 60 days).
        #[arg(long, default_value = "30d")]
        since: String,
        /// Also write a self-contained HTML page with a timeline and cost bars.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Print JSON instead of the table.
        #[arg(long)]
        json: bool,
        #[arg(long, env = "SPARKHUB_BUCKET")]
        bucket: String,
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
        Command::Validate { profiles } => return commands::validate(&profiles),
        Command::Plan { profile, bucket } => commands::plan(&profile, &bucket),
        Command::Render { out } => commands::render(&out),
        Command::Status { bucket } => commands::status(&bucket).await,
        Command::Connect {
            cluster_id,
            local_port,
            open,
        } => commands::connect(&cluster_id, local_port, open).await,
        Command::Password {
            profile,
            user,
            rotate,
        } => commands::password(&profile, &user, rotate).await,
        Command::KeepAlive { cluster_id, how } => {
            let ask = match (how.for_, how.until) {
                (Some(text), _) => keep_alive::Ask::For(text),
                (None, Some(text)) => keep_alive::Ask::Until(text),
                (None, None) => keep_alive::Ask::Clear,
            };
            commands::keep_alive(&cluster_id, &ask).await
        }
        Command::Report {
            since,
            html,
            json,
            bucket,
        } => report::run(&bucket, &since, &report::Output { json, html }).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sparkhub: {message}");
            ExitCode::FAILURE
        }
    }
}
