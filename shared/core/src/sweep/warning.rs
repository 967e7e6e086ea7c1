//! The warning before a termination: whether a kept cluster is due one, and
//! what it says. Pure; the sweep sends it and remembers it in the
//! `sparkhub:warned-at` tag.

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
         To keep it for two more hours, run:\n\
         \n\
         \x20   sparkhub keep-alive {id} --for {KEEP_ALIVE_FOR}\n\
         {using}",
        id = w.cluster_id,
        profile = w.profile,
        by = w.terminate_by,
        minutes = minutes.max(0),
        reason = w.reason,
        using = if w.because_idle {
            "\nUsing it (a notebook, a Spark job, a step) also keeps it.\n"
        } else {
            ""
        },
    );
    (subject, body)
}
