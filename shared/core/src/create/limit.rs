//! How `max_active_clusters` holds when many triggers arrive at once.
//!
//! Counting clusters and then starting a run is check-then-act: fifty objects
//! uploaded together give fifty invocations that each count no cluster. And
//! even one invocation at a time undercounts, because a run's cluster appears
//! in `ListClusters` only after the execution has called `runJobFlow`, and
//! `ListExecutions` itself is eventually consistent in AWS. So:
//!
//! 1. **One starter per profile at a time.** Before counting, an invocation
//!    takes the profile's lease, the object `locks/<profile>.json` in the
//!    sparkhub bucket, with an S3 conditional write: `PutObject` with
//!    `If-None-Match: *` creates it only if it does not exist, `If-Match:
//!    <ETag>` replaces it only if nobody else wrote it since it was read; the
//!    loser gets 412 (or 409 for a concurrent conditional write) and waits.
//!    The lease is released by rewriting it (again `If-Match`) as free; the
//!    object stays. No other service is needed (no DynamoDB table), S3 and
//!    the local emulator both support it, and it does not depend on Lambda
//!    reserved concurrency (which would drop triggers, and which the emulator
//!    does not have).
//! 2. **Leases expire.** A holder writes an expiry ([`LEASE_TTL`], far more
//!    than the count and `StartExecution` need). An invocation that crashed or
//!    timed out while holding it blocks its profile until then; after that
//!    the next invocation takes the lease over (`If-Match` on the stale
//!    version, so only one of several can). A holder whose lease is about to
//!    expire starts nothing.
//! 3. **Count what is starting, not just what is up.** Under the lease the
//!    active runs of a profile are the union of its active clusters (named
//!    `sparkhub-<profile>`, confirmed by tags), its RUNNING executions, and the
//!    runs started under the lease in the last [`RECENT`] (kept in the lease
//!    object, because the listings may not show them yet). A cluster carries
//!    the tag [`TAG_EXECUTION`] with its run's execution name, so a run is
//!    counted once whether it is seen as a cluster, an execution or both.
//! 4. **A start is written down before it is made.** The holder records the
//!    run in the lease object ([`record_start`], `If-Match` again, renewing
//!    the expiry) *before* it calls `StartExecution`, and gives up waiting
//!    for the call before its lease ends. So an invocation that takes over
//!    a lease whose holder died inside `StartExecution` (or whose call
//!    outlived the lease) counts that start as active. A start Step
//!    Functions refused outright is forgotten again on release; one that
//!    may have happened (a timeout, a transient error) is remembered.

use std::collections::BTreeMap;

use crate::ports::{AwsError, Cluster, LeaseStore};
use crate::{Profile, ProfileName};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::create::trigger::profile_of_execution;

/// How long a lease holds without its holder renewing or releasing it.
pub const LEASE_TTL: SignedDuration = SignedDuration::from_secs(60);
/// A holder starts nothing when less than this is left of its lease.
pub const LEASE_MARGIN: SignedDuration = SignedDuration::from_secs(10);
/// How long a start is remembered in the lease object.
pub const RECENT: SignedDuration = SignedDuration::from_mins(15);
/// Cluster tag with the execution name of the run that created it.
pub const TAG_EXECUTION: &str = "sparkhub:execution";

/// The lease object of a profile.
pub fn lease_key(profile: &ProfileName) -> String {
    format!("locks/{profile}.json")
}

/// A run started under the lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentStart {
    pub execution: String,
    pub at: Timestamp,
    /// The waiting cluster of its pool the run claimed, if it claimed one
    /// (see `crate::create::pool`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

/// The lease object's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseBody {
    /// Execution name of the invocation holding the lease; `None` when free.
    pub holder: Option<String>,
    /// When the holder's claim ends.
    pub expires_at: Option<Timestamp>,
    /// Runs started lately, for the count.
    #[serde(default)]
    pub started: Vec<RecentStart>,
}

/// A lease this invocation holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub key: String,
    pub version: String,
    pub body: LeaseBody,
}

impl Lease {
    /// Forgets a recorded start that Step Functions refused outright: it
    /// will never run, so it is not remembered on release.
    pub fn forget_start(&mut self, execution: &str) {
        self.body.started.retain(|s| s.execution != execution);
    }

    /// Whether enough of the lease is left to act under it.
    pub fn still_held(&self, now: Timestamp) -> bool {
        self.body
            .expires_at
            .is_some_and(|until| now + LEASE_MARGIN < until)
    }
}

/// What one attempt to take the lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Acquired(Lease),
    /// Someone else holds it (`holder` and `until` when the object says so,
    /// `None` when another writer was just first).
    Busy {
        holder: Option<String>,
        until: Option<Timestamp>,
    },
}

fn to_json(body: &LeaseBody) -> String {
    serde_json::to_string(body).expect("a lease body serializes")
}

fn recent(started: Vec<RecentStart>, now: Timestamp) -> Vec<RecentStart> {
    started
        .into_iter()
        .filter(|s| s.at + RECENT > now && s.at <= now + LEASE_TTL)
        .collect()
}

/// One attempt to take the lease of `key` for `holder`.
pub async fn try_acquire<L: LeaseStore>(
    store: &L,
    key: &str,
    holder: &str,
    now: Timestamp,
) -> Result<Attempt, AwsError> {
    let held = |started| LeaseBody {
        holder: Some(holder.to_owned()),
        expires_at: Some(now + LEASE_TTL),
        started,
    };
    let lost = Attempt::Busy {
        holder: None,
        until: None,
    };
    // Create first, read only when the lease exists: a GET of a missing key
    // answers 404 only to a caller whose s3:ListBucket covers it (otherwise
    // 403), so "absent" is learnt from the conditional create, never from a
    // failed read.
    let body = held(Vec::new());
    if let Some(version) = store.create(key, &to_json(&body)).await? {
        return Ok(Attempt::Acquired(Lease {
            key: key.to_owned(),
            version,
            body,
        }));
    }
    let Some((version, text)) = store.read(key).await? else {
        // Deleted between the two calls: someone else's turn.
        return Ok(lost);
    };
    let previous: LeaseBody = serde_json::from_str(&text).unwrap_or_else(|e| {
        warn!(key, error = %e, "the lease object is unreadable; taking it over as free");
        LeaseBody::default()
    });
    if let (Some(other), Some(until)) = (&previous.holder, previous.expires_at)
        && until > now
    {
        return Ok(Attempt::Busy {
            holder: Some(other.clone()),
            until: Some(until),
        });
    }
    if let Some(other) = &previous.holder {
        warn!(key, holder = %other, "taking over an expired lease (its holder did not release it)");
    }
    let body = held(recent(previous.started, now));
    Ok(match store.replace(key, &version, &to_json(&body)).await? {
        Some(version) => Attempt::Acquired(Lease {
            key: key.to_owned(),
            version,
            body,
        }),
        None => lost,
    })
}

/// Records in the lease, before `StartExecution`, that `execution` is being
/// started, and renews the lease: a conditional write (`If-Match`), so it
/// fails when someone else took the lease over. Returns whether it was
/// recorded; `lease` then has the new version, body and expiry.
pub async fn record_start<L: LeaseStore>(
    store: &L,
    lease: &mut Lease,
    execution: &str,
    now: Timestamp,
) -> Result<bool, AwsError> {
    record_claim(store, lease, execution, None, now).await
}

/// [`record_start`] of a run that claimed `cluster` of its pool: the lease
/// remembers which cluster, so the next invocation neither claims it again
/// (EMR's tags may not show the claim yet) nor counts the run beside it.
pub async fn record_claim<L: LeaseStore>(
    store: &L,
    lease: &mut Lease,
    execution: &str,
    cluster: Option<&str>,
    now: Timestamp,
) -> Result<bool, AwsError> {
    let mut started = recent(lease.body.started.clone(), now);
    started.retain(|s| s.execution != execution);
    started.push(RecentStart {
        execution: execution.to_owned(),
        at: now,
        cluster: cluster.map(str::to_owned),
    });
    let body = LeaseBody {
        holder: lease.body.holder.clone(),
        expires_at: Some(now + LEASE_TTL),
        started,
    };
    match store
        .replace(&lease.key, &lease.version, &to_json(&body))
        .await?
    {
        Some(version) => {
            lease.version = version;
            lease.body = body;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Frees the lease, remembering the starts recorded under it
/// ([`record_start`]). Returns false when the lease had expired and someone
/// else took it.
pub async fn release<L: LeaseStore>(
    store: &L,
    lease: Lease,
    now: Timestamp,
) -> Result<bool, AwsError> {
    let body = LeaseBody {
        holder: None,
        expires_at: None,
        started: recent(lease.body.started, now),
    };
    let released = store
        .replace(&lease.key, &lease.version, &to_json(&body))
        .await?
        .is_some();
    if !released {
        warn!(key = %lease.key, "the lease had expired and was taken over before it was released");
    }
    Ok(released)
}

/// The limit rule: `None` when one more run of `profile` may start beside
/// its `active` runs ([`active_runs`]); otherwise why not, for a person.
pub fn at_limit(profile: &Profile, active: &[String]) -> Option<String> {
    let limit = profile.active_cluster_limit();
    (active.len() >= limit as usize).then(|| {
        format!(
            "{} active cluster(s) of profile {} already, the limit is {limit} (max_active_clusters): {}",
            active.len(),
            profile.name,
            active.join(", ")
        )
    })
}

/// The active runs of a profile, each once, described for a person: its
/// clusters (managed, tagged with the profile), its RUNNING executions and
/// the runs started lately under its lease.
pub fn active_runs(
    profile: &ProfileName,
    clusters: &[Cluster],
    running: &[String],
    started: &[RecentStart],
) -> Vec<String> {
    let mut runs: BTreeMap<String, String> = BTreeMap::new();
    // A pooled cluster counts once, whichever run holds it: its claimant's
    // execution is covered by it.
    let mut covered = std::collections::BTreeSet::new();
    for c in clusters
        .iter()
        .filter(|c| c.is_managed() && c.profile() == Some(profile.as_str()))
    {
        let key = c.tags.get(TAG_EXECUTION).unwrap_or(&c.id).clone();
        if let Some(claimant) = c.tags.get(crate::create::pool::TAG_CLAIMED_BY) {
            covered.insert(claimant.clone());
        }
        runs.insert(key, format!("{} ({})", c.id, c.state));
    }
    for name in running
        .iter()
        .filter(|n| profile_of_execution(n) == Some(profile.as_str()))
        .filter(|n| !covered.contains(*n))
    {
        runs.entry(name.clone())
            .or_insert_with(|| format!("execution {name} (running)"));
    }
    // A run that claimed a cluster still listed is that cluster's run.
    let listed: std::collections::BTreeSet<&str> = clusters.iter().map(|c| c.id.as_str()).collect();
    for s in started
        .iter()
        .filter(|s| !covered.contains(&s.execution))
        .filter(|s| s.cluster.as_deref().is_none_or(|c| !listed.contains(c)))
    {
        runs.entry(s.execution.clone())
            .or_insert_with(|| format!("execution {} (started {})", s.execution, s.at));
    }
    runs.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emr::ClusterState;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    use crate::fakes::Leases as Store;

    #[tokio::test]
    async fn one_holder_at_a_time_until_release_or_expiry() {
        let store = Store::default();
        let t0 = at("2026-11-25T07:00:00Z");
        let Attempt::Acquired(first) = try_acquire(&store, "k", "a_1", t0).await.unwrap() else {
            panic!("a free lease is taken")
        };
        assert!(first.still_held(t0));
        assert_eq!(
            try_acquire(&store, "k", "b_2", t0).await.unwrap(),
            Attempt::Busy {
                holder: Some("a_1".into()),
                until: Some(t0 + LEASE_TTL)
            }
        );
        let mut first = first;
        assert!(record_start(&store, &mut first, "a_1", t0).await.unwrap());
        assert!(release(&store, first, t0).await.unwrap());
        let Attempt::Acquired(second) = try_acquire(&store, "k", "b_2", t0).await.unwrap() else {
            panic!("a released lease is taken")
        };
        assert_eq!(
            second.body.started,
            [RecentStart {
                execution: "a_1".into(),
                at: t0,
                cluster: None,
            }],
            "the start made under the lease is remembered"
        );

        // b_2 crashes while holding it: after the TTL, c_3 takes it over, and b_2
        // can no longer release (or act under) it.
        let later = t0 + LEASE_TTL + SignedDuration::from_secs(1);
        assert!(!second.still_held(later));
        let Attempt::Acquired(third) = try_acquire(&store, "k", "c_3", later).await.unwrap() else {
            panic!("an expired lease is taken over")
        };
        assert!(!release(&store, second, later).await.unwrap());
        assert!(release(&store, third, later).await.unwrap());

        // Starts older than RECENT are forgotten.
        let much_later = t0 + RECENT + SignedDuration::from_secs(1);
        let Attempt::Acquired(fourth) = try_acquire(&store, "k", "d_4", much_later).await.unwrap()
        else {
            panic!()
        };
        assert!(fourth.body.started.is_empty());
    }

    /// The start is in the lease before StartExecution is called: whoever
    /// takes the lease over after its holder died in the call counts it; a
    /// start Step Functions refused is forgotten on release.
    #[tokio::test]
    async fn a_start_is_recorded_before_it_is_made_and_survives_a_takeover() {
        let store = Store::default();
        let t0 = at("2026-11-25T07:00:00Z");
        let Attempt::Acquired(mut a) = try_acquire(&store, "k", "a_1", t0).await.unwrap() else {
            panic!()
        };
        let t1 = t0 + SignedDuration::from_secs(30);
        assert!(record_start(&store, &mut a, "a_1", t1).await.unwrap());
        assert_eq!(a.body.expires_at, Some(t1 + LEASE_TTL), "recording renews");
        assert!(a.still_held(t1 + SignedDuration::from_secs(45)));

        // a_1 never returns from StartExecution; b_2 takes the lease over.
        let later = t1 + LEASE_TTL + SignedDuration::from_secs(1);
        let Attempt::Acquired(mut b) = try_acquire(&store, "k", "b_2", later).await.unwrap() else {
            panic!("an expired lease is taken over")
        };
        assert_eq!(
            b.body.started,
            [RecentStart {
                execution: "a_1".into(),
                at: t1,
                cluster: None,
            }],
            "the pending start is counted by whoever takes over"
        );
        assert!(
            !record_start(&store, &mut a, "a_1", later).await.unwrap(),
            "a lease taken over cannot be written by its old holder"
        );

        // b_2's own start is refused: it is forgotten, a_1's is kept.
        assert!(record_start(&store, &mut b, "b_2", later).await.unwrap());
        b.forget_start("b_2");
        assert!(release(&store, b, later).await.unwrap());
        let Attempt::Acquired(c) = try_acquire(&store, "k", "c_3", later).await.unwrap() else {
            panic!()
        };
        let remembered: Vec<&str> = c
            .body
            .started
            .iter()
            .map(|s| s.execution.as_str())
            .collect();
        assert_eq!(remembered, ["a_1"]);
    }

    #[tokio::test]
    async fn an_unreadable_lease_object_is_taken_over() {
        let store = Store::default();
        store
            .0
            .lock()
            .unwrap()
            .insert("k".into(), (7, "not json".into()));
        assert!(matches!(
            try_acquire(&store, "k", "a_1", at("2026-11-25T07:00:00Z"))
                .await
                .unwrap(),
            Attempt::Acquired(_)
        ));
    }

    fn cluster(id: &str, profile: &str, execution: Option<&str>) -> Cluster {
        let mut tags: BTreeMap<String, String> = [
            ("sparkhub:managed".to_owned(), "true".to_owned()),
            ("sparkhub:profile".to_owned(), profile.to_owned()),
        ]
        .into();
        if let Some(e) = execution {
            tags.insert(TAG_EXECUTION.into(), e.into());
        }
        Cluster {
            id: id.into(),
            name: format!("sparkhub-{profile}"),
            state: ClusterState::Starting,
            tags,
            termination_protected: false,
            applications: vec![],
            master_dns: None,
            key_name: None,
            created_at: None,
            ready_at: None,
        }
    }

    #[test]
    fn a_run_counts_once_whether_seen_as_cluster_execution_or_recent_start() {
        let p = ProfileName::parse("retrain").unwrap();
        let t0 = at("2026-11-25T07:00:00Z");
        let runs = active_runs(
            &p,
            &[
                cluster("j-1", "retrain", Some("retrain_a_111111111111")),
                cluster("j-OLD", "retrain", None),
                cluster("j-X", "retrain-2", Some("retrain-2_a_222222222222")),
            ],
            &[
                "retrain_a_111111111111".into(),
                "retrain_b_333333333333".into(),
                "retrain-2_c_444444444444".into(),
            ],
            &[
                RecentStart {
                    execution: "retrain_b_333333333333".into(),
                    at: t0,
                    cluster: None,
                },
                RecentStart {
                    execution: "retrain_c_555555555555".into(),
                    at: t0,
                    cluster: None,
                },
            ],
        );
        assert_eq!(runs.len(), 4, "{runs:?}");
        assert!(runs.contains(&"j-1 (STARTING)".to_owned()), "{runs:?}");
        assert!(runs.contains(&"j-OLD (STARTING)".to_owned()), "{runs:?}");
        assert!(
            runs.contains(&"execution retrain_b_333333333333 (running)".to_owned()),
            "{runs:?}"
        );
        assert!(!runs.iter().any(|r| r.contains("retrain-2")), "{runs:?}");
    }
    #[test]
    fn the_limit_rule() {
        use crate::profile::{DEFAULT_PIPELINE_LIMIT, ProfileKind};
        let tutorial = Profile::parse(include_str!("../../../../profiles/tutorial.toml")).unwrap();
        let runs = |n: usize| {
            (0..n)
                .map(|i| format!("j-{i} (WAITING)"))
                .collect::<Vec<_>>()
        };
        let with = |kind: ProfileKind, max: Option<u32>| {
            let mut p = tutorial.clone();
            p.kind = kind;
            p.max_active_clusters = max;
            p
        };
        let pipeline = DEFAULT_PIPELINE_LIMIT as usize;
        // (what, profile, active runs, may start)
        let cases = [
            (
                "interactive, none yet",
                with(ProfileKind::Interactive, None),
                0,
                true,
            ),
            (
                "interactive: one at a time",
                with(ProfileKind::Interactive, None),
                1,
                false,
            ),
            (
                "pipeline below its default",
                with(ProfileKind::Pipeline, None),
                pipeline - 1,
                true,
            ),
            (
                "pipeline at its default",
                with(ProfileKind::Pipeline, None),
                pipeline,
                false,
            ),
            (
                "explicit limit 3, two running",
                with(ProfileKind::Interactive, Some(3)),
                2,
                true,
            ),
            (
                "explicit limit 3, three running",
                with(ProfileKind::Interactive, Some(3)),
                3,
                false,
            ),
            (
                "explicit limit 3, more running",
                with(ProfileKind::Pipeline, Some(3)),
                4,
                false,
            ),
        ];
        for (what, profile, n, may_start) in cases {
            let refused = at_limit(&profile, &runs(n));
            assert_eq!(refused.is_none(), may_start, "{what}: {refused:?}");
            if let Some(reason) = refused {
                assert!(
                    reason.starts_with(&format!(
                        "{n} active cluster(s) of profile tutorial already, the limit is {}",
                        profile.active_cluster_limit()
                    )) && reason.contains("j-0 (WAITING)"),
                    "{what}: {reason}"
                );
            }
        }
    }

    /// A run that claimed a pooled cluster is that cluster's run: counted
    /// once with it, even after it ended and another run claimed it.
    #[test]
    fn a_claimed_pool_cluster_counts_once_whoever_claimed_it() {
        let t0 = at("2026-11-25T08:00:00Z");
        let warm = Cluster {
            id: "j-X".into(),
            name: "sparkhub-retrain".into(),
            state: crate::emr::ClusterState::Waiting,
            tags: [
                ("sparkhub:managed", "true"),
                ("sparkhub:profile", "retrain"),
                ("sparkhub:execution", "retrain_a_111111111111"),
                ("sparkhub:claimed-by", "retrain_c_333333333333"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            termination_protected: false,
            applications: vec![],
            master_dns: None,
            key_name: None,
            created_at: None,
            ready_at: None,
        };
        let claim = |execution: &str| RecentStart {
            execution: execution.into(),
            at: t0,
            cluster: Some("j-X".into()),
        };
        let active = active_runs(
            &ProfileName::parse("retrain").unwrap(),
            &[warm],
            &["retrain_c_333333333333".to_owned()],
            // b claimed j-X, ran and released it; c holds it now.
            &[
                claim("retrain_b_222222222222"),
                claim("retrain_c_333333333333"),
            ],
        );
        assert_eq!(active.len(), 1, "{active:?}");
    }
}
