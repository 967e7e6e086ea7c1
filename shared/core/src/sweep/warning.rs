//! The warning before a termination: whether a kept cluster is due one, and
//! what it says. Pure; the sweep sends it and remembers it in the
//! `sparkhub:warned-at` tag. It reaches the operator and the users of the
//! cluster's profile that have an address: its text is for people who work
//! on the cluster, not only for whoever runs sparkhub.

use std::collections::BTreeMap;

use crate::idle::{Forecast, Snapshot, TerminateReason, forecast, idle_since};
use crate::profile::IdlePolicy;
use crate::render::TAG_WARNED_AT;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// How long the command in the warning keeps the cluster.
pub const KEEP_ALIVE_FOR: &str = "2h";

/// One cluster the sweep warns about (in a dry run: would warn about).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub cluster_id: String,
    pub profile: String,
    /// The latest instant the sweep terminates the cluster if nothing changes.
    pub terminate_by: Timestamp,
    pub reason: String,
    /// For idleness (using the cluster keeps it), not its maximum lifetime.
    pub because_idle: bool,
    /// JupyterHub runs on it: its users' saved notebooks outlive it (a
    /// sparkhub cluster keeps them in S3).
    pub notebooks: bool,
    /// Who the warning is for besides the operator: `<profile>/<user>` of
    /// each user of its profile with an address.
    pub recipients: Vec<String>,
}

/// The warning a cluster the sweep keeps now is due, if any: [`forecast`]
/// says the sweep will terminate it within the policy's `warn_minutes`, and
/// no `sparkhub:warned-at` tag speaks for it already (for idleness: a warning
/// in the present idle period, see [`idle_since`]; for the maximum lifetime:
/// a warning within the `warn_minutes` before its end).
pub fn due(
    s: &Snapshot,
    policy: &IdlePolicy,
    tags: &BTreeMap<String, String>,
    now: Timestamp,
) -> Option<Forecast> {
    let soon = forecast(s, policy, now)?;
    let warned_at = tags
        .get(TAG_WARNED_AT)
        .and_then(|v| v.trim().parse::<Timestamp>().ok());
    let covered = warned_at.is_some_and(|at| match soon.reason {
        TerminateReason::Idle { .. } => idle_since(s, at, now),
        TerminateReason::MaxLifetime { .. } => {
            at <= now && at >= soon.by - SignedDuration::from_mins(i64::from(policy.warn_minutes))
        }
    });
    (!covered).then_some(soon)
}

/// The message's subject and body.
pub fn message(w: &Warning, now: Timestamp) -> (String, String) {
    let minutes = (w.terminate_by.duration_since(now).as_secs() + 59) / 60;
    let subject = format!(
        "sparkhub will terminate {} ({}) in {} min",
        w.cluster_id,
        w.profile,
        minutes.max(0)
    );
    let body = format!(
        "sparkhub will terminate EMR cluster {id} if nothing changes.\n\
         Profile: {profile}\n\
         Terminated by: {by} (in about {minutes} minutes)\n\
         Why: {reason}\n\
         \n\
         {using}\n\
         \n\
         To keep it for two more hours{whatever}, run:\n\
         \n\
         \x20   sparkhub keep-alive {id} --for {KEEP_ALIVE_FOR}\n\
         \n\
         (That needs the sparkhub CLI and AWS credentials that may tag the cluster; without them, ask whoever runs sparkhub for your team.)\n\
         {notebooks}",
        id = w.cluster_id,
        profile = w.profile,
        by = w.terminate_by,
        minutes = minutes.max(0),
        reason = w.reason,
        using = if w.because_idle {
            "Working on it (in a notebook, a Spark job, a step) keeps it."
        } else {
            "Working on it does not keep it past its maximum lifetime; only a keep-alive does."
        },
        whatever = if w.because_idle { ", used or not" } else { "" },
        notebooks = if w.notebooks {
            "\nNotebooks saved in JupyterHub are kept in S3 and open again on the profile's next cluster; unsaved changes, running kernels and files only on the cluster are lost with it.\n"
        } else {
            ""
        },
    );
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warning(because_idle: bool, notebooks: bool) -> Warning {
        Warning {
            cluster_id: "j-2AXXXXXXGAPLF".into(),
            profile: "tutorial".into(),
            terminate_by: "2026-11-25T12:15:00Z".parse().unwrap(),
            reason: if because_idle {
                "idle for 60 min (no steps, no Spark work, no notebook activity)".into()
            } else {
                "past its maximum lifetime of 12 h".into()
            },
            because_idle,
            notebooks,
            recipients: vec!["tutorial/philipp".into()],
        }
    }

    /// What a notebook user reads: when, why, what keeps the cluster (and
    /// who can run the command), what happens to the notebooks.
    #[test]
    fn a_warning_tells_a_notebook_user_what_keeps_the_cluster_and_what_is_lost() {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let (subject, body) = message(&warning(true, true), now);
        assert_eq!(
            subject,
            "sparkhub will terminate j-2AXXXXXXGAPLF (tutorial) in 15 min"
        );
        assert_eq!(
            body,
            "sparkhub will terminate EMR cluster j-2AXXXXXXGAPLF if nothing changes.
Profile: tutorial
Terminated by: 2026-11-25T12:15:00Z (in about 15 minutes)
Why: idle for 60 min (no steps, no Spark work, no notebook activity)

Working on it (in a notebook, a Spark job, a step) keeps it.

To keep it for two more hours, used or not, run:

    sparkhub keep-alive j-2AXXXXXXGAPLF --for 2h

(That needs the sparkhub CLI and AWS credentials that may tag the cluster; without them, ask whoever runs sparkhub for your team.)

Notebooks saved in JupyterHub are kept in S3 and open again on the profile's next cluster; unsaved changes, running kernels and files only on the cluster are lost with it.
"
        );
        // At the end of its lifetime, using it does not help.
        let (_, body) = message(&warning(false, true), now);
        assert!(
            body.contains(
                "Working on it does not keep it past its maximum lifetime; only a keep-alive does."
            ) && body.contains("To keep it for two more hours, run:"),
            "{body}"
        );
        // Without JupyterHub (a pipeline), nothing about notebooks.
        let (_, body) = message(&warning(true, false), now);
        assert!(!body.contains("Notebooks"), "{body}");
        assert!(body.ends_with("for your team.)\n"), "{body:?}");
    }
}
