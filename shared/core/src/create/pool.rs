//! Warm pools: a pipeline profile with `[pool]` runs on a waiting cluster of
//! its own instead of creating one, and leaves it for the next run.
//!
//! **Which cluster.** One that is WAITING (never one starting, bootstrapping,
//! running another step or terminating), managed and tagged with the
//! profile, whose [`TAG_CONFIG_HASH`] is this run's (the rendered RunJobFlow
//! request, whose script keys are content hashes: the same scripts, release,
//! fleets, roles and tags), and that no live run holds.
//!
//! **Claims, exclusive and crash-safe.** A run holds a cluster by the tags
//! [`TAG_CLAIMED_BY`] (its execution name) and [`TAG_CLAIMED_AT`]. Claims
//! are made only under the profile's lease (`crate::create::limit`), so two
//! invocations never claim at once; the lease already serialises the count
//! and the start, so no second lock is needed (a tag lock re-read after a
//! wait, as mrjob does, would still race where EMR's tags are eventually
//! consistent). A claim counts only while its execution is RUNNING or was
//! started under the lease lately: a run that crashed, was stopped or timed
//! out holds nothing, without anyone cleaning up. A run releases its claim
//! at its end (the workflow's "Release cluster", RemoveTags); if that fails
//! the claim dies with the execution anyway.
//!
//! **Never more than `max_clusters`.** A pooled cluster counts as one active
//! run whoever holds it (its claimant's execution is not counted again);
//! when all are busy, the invocation waits for one to be released (the
//! profile's lease is free while it waits) and gives up with a retryable
//! error after [`PoolWait`], so Lambda tries the event again later.
//!
//! **A claimed cluster that goes away** (terminated between the claim and
//! the first step) makes the workflow create one with the same request
//! ("Claimed cluster gone" → "Create cluster").

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use crate::emr::ClusterState;
use crate::ports::Cluster;
use crate::render::RunJobFlowRequest;

/// The configuration a pooled cluster was created with (hash of its request).
pub const TAG_CONFIG_HASH: &str = "sparkhub:config-hash";
/// The execution that holds the cluster.
pub const TAG_CLAIMED_BY: &str = "sparkhub:claimed-by";
/// When it claimed it (RFC 3339): the idle sweep leaves a cluster claimed
/// less than [`CLAIM_HOLD`] ago alone, so it cannot end one between the
/// claim and the run's first step.
pub const TAG_CLAIMED_AT: &str = "sparkhub:claimed-at";
/// See [`TAG_CLAIMED_AT`].
pub const CLAIM_HOLD: SignedDuration = SignedDuration::from_mins(10);

/// How long an invocation waits for a pooled cluster to be free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolWait {
    pub attempts: u32,
    pub pause: Duration,
}

impl Default for PoolWait {
    /// 10 minutes, looking every 15 s: with the lease waits and listings
    /// of each round, well within the function's 15-minute timeout.
    fn default() -> Self {
        Self {
            attempts: 40,
            pause: Duration::from_secs(15),
        }
    }
}

/// The hash of a rendered request, before any run's own tags are added.
pub fn config_hash(request: &RunJobFlowRequest) -> String {
    let canonical = crate::json::canonical(request);
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A claimed cluster is not offered when less than this is left of its
/// maximum lifetime: the sweep would end it under the run's steps.
pub const LIFETIME_MARGIN: SignedDuration = SignedDuration::from_mins(60);

/// Who holds what, as the claiming invocation sees it under the lease.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holders {
    /// Executions RUNNING or started lately: a claim tag naming one holds.
    pub live: BTreeSet<String>,
    /// Clusters claimed by live runs recorded in the lease (EMR's tags may
    /// not show those claims yet).
    pub clusters: BTreeSet<String>,
}

/// The first cluster a run with `hash` may claim: WAITING, managed, of
/// `profile`, of the same configuration, held by no live run, and with at
/// least [`LIFETIME_MARGIN`] of its `max_lifetime` left at `now`.
pub fn claimable<'a>(
    clusters: &'a [Cluster],
    profile: &str,
    hash: &str,
    holders: &Holders,
    max_lifetime: SignedDuration,
    now: Timestamp,
) -> Option<&'a Cluster> {
    clusters.iter().find(|c| {
        c.state == ClusterState::Waiting
            && c.is_managed()
            && c.profile() == Some(profile)
            && c.tags.get(TAG_CONFIG_HASH).map(String::as_str) == Some(hash)
            && c.tags
                .get(TAG_CLAIMED_BY)
                .is_none_or(|by| !holders.live.contains(by))
            && !holders.clusters.contains(&c.id)
            && c.created_at
                .is_some_and(|t| t + max_lifetime - LIFETIME_MARGIN > now)
    })
}

/// Whether a claim made at the tag's instant still holds the sweep back.
pub fn claim_holds(claimed_at: Option<&str>, now: Timestamp) -> Option<Timestamp> {
    let at: Timestamp = claimed_at?.trim().parse().ok()?;
    let until = at + CLAIM_HOLD;
    (until > now).then_some(until)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cluster(id: &str, state: ClusterState, tags: &[(&str, &str)]) -> Cluster {
        let mut all: BTreeMap<String, String> = [
            ("sparkhub:managed", "true"),
            ("sparkhub:profile", "retrain"),
            (TAG_CONFIG_HASH, "abc"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in tags {
            all.insert(k.to_string(), v.to_string());
        }
        Cluster {
            id: id.into(),
            name: "sparkhub-retrain".into(),
            state,
            tags: all,
            termination_protected: false,
            applications: vec![],
            master_dns: None,
            key_name: None,
            created_at: Some("2026-12-06T09:00:00Z".parse().unwrap()),
            ready_at: None,
        }
    }

    #[test]
    fn only_a_waiting_cluster_of_the_same_configuration_no_live_run_holds() {
        let now: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
        let holders = Holders {
            live: ["retrain_run-1_abc".to_owned()].into(),
            clusters: ["j-LEASED".to_owned()].into(),
        };
        let pick = |clusters: &[Cluster]| {
            claimable(
                clusters,
                "retrain",
                "abc",
                &holders,
                SignedDuration::from_hours(8),
                now,
            )
            .map(|c| c.id.clone())
        };
        // Claimed moments ago under the lease, its tag not shown yet.
        let leased = cluster("j-LEASED", ClusterState::Waiting, &[]);
        assert_eq!(pick(std::slice::from_ref(&leased)), None);
        // Less than an hour of its eight left.
        let mut aged = cluster("j-AGED", ClusterState::Waiting, &[]);
        aged.created_at = Some(now - SignedDuration::from_mins(7 * 60 + 5));
        assert_eq!(pick(&[aged]), None);
        let starting = cluster("j-START", ClusterState::Starting, &[]);
        let terminating = cluster("j-END", ClusterState::Terminating, &[]);
        let running = cluster("j-RUN", ClusterState::Running, &[]);
        let other_config = cluster("j-OLD", ClusterState::Waiting, &[(TAG_CONFIG_HASH, "old")]);
        let held = cluster(
            "j-HELD",
            ClusterState::Waiting,
            &[(TAG_CLAIMED_BY, "retrain_run-1_abc")],
        );
        assert_eq!(
            pick(&[starting, terminating, running, other_config, held.clone()]),
            None
        );
        // A claim of a run that is no longer running holds nothing.
        let crashed = cluster(
            "j-FREE",
            ClusterState::Waiting,
            &[(TAG_CLAIMED_BY, "retrain_run-0_dead")],
        );
        assert_eq!(pick(&[held.clone(), crashed]), Some("j-FREE".into()));
        let released = cluster("j-REL", ClusterState::Waiting, &[]);
        assert_eq!(pick(&[held, released]), Some("j-REL".into()));
        let mut unmanaged = cluster("j-NOT", ClusterState::Waiting, &[]);
        unmanaged.tags.remove("sparkhub:managed");
        assert_eq!(pick(&[unmanaged]), None);
    }

    #[test]
    fn a_fresh_claim_holds_the_sweep_back_for_ten_minutes() {
        let now: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
        assert_eq!(
            claim_holds(Some("2026-12-06T09:55:00Z"), now),
            Some("2026-12-06T10:05:00Z".parse().unwrap())
        );
        assert_eq!(claim_holds(Some("2026-12-06T09:49:00Z"), now), None);
        assert_eq!(claim_holds(Some("garbage"), now), None);
        assert_eq!(claim_holds(None, now), None);
    }
}
