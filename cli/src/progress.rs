//! What `sparkhub start` shows while it follows a run: where the run is,
//! decided from plain data (the run, the cluster's state, its users step),
//! and the line a person reads. Pure; `lifecycle::start` asks AWS.

use std::time::Duration;

use sparkhub_core::emr::{ClusterState, StepState};
use sparkhub_core::ports::RunProgress;
use sparkhub_core::workflow::WAIT_TO_START;

/// The cluster of the run, as EMR describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    pub id: String,
    pub state: ClusterState,
    /// The users step (`sparkhub-users…`), the newest when there are several.
    pub users_step: Option<StepState>,
}

/// Where the run is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// The workflow has not created (or claimed) its cluster yet.
    Starting,
    /// A `ready_by` run waits before it creates the cluster.
    WaitingToStart,
    /// EMR starts the cluster (STARTING, BOOTSTRAPPING, RUNNING).
    ClusterStarting,
    /// The cluster is up; its users step is not done yet.
    SettingUpUsers,
    /// WAITING with its users set: people can log in.
    Ready,
    /// A pipeline run ended with its work done (its cluster gone).
    Done,
    /// The run or its cluster failed: why.
    Failed(String),
}

const RUN_FAILED: [&str; 3] = ["FAILED", "TIMED_OUT", "ABORTED"];

pub fn phase(run: &RunProgress, cluster: Option<&ClusterView>) -> Phase {
    if RUN_FAILED.contains(&run.status.as_str()) {
        return Phase::Failed(format!(
            "the run is {}{}",
            run.status,
            run.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ));
    }
    let Some(cluster) = cluster else {
        return match (run.status.as_str(), run.current_state.as_deref()) {
            ("SUCCEEDED", _) => Phase::Failed("the run ended without a cluster".into()),
            (_, Some(WAIT_TO_START)) => Phase::WaitingToStart,
            _ => Phase::Starting,
        };
    };
    match (&cluster.state, cluster.users_step.as_ref()) {
        (ClusterState::Waiting, Some(StepState::Completed)) => Phase::Ready,
        (_, Some(step @ (StepState::Failed | StepState::Cancelled | StepState::Interrupted))) => {
            Phase::Failed(format!(
                "the users step of {} is {step}: `aws emr list-steps --cluster-id {}` shows why",
                cluster.id, cluster.id
            ))
        }
        (ClusterState::Waiting, _) => Phase::SettingUpUsers,
        (ClusterState::Running, Some(_)) => Phase::SettingUpUsers,
        (ClusterState::Terminating | ClusterState::Terminated, _) if run.status == "SUCCEEDED" => {
            Phase::Done
        }
        (
            state @ (ClusterState::Terminating
            | ClusterState::Terminated
            | ClusterState::TerminatedWithErrors),
            _,
        ) => Phase::Failed(format!("cluster {} is {state}", cluster.id)),
        _ => Phase::ClusterStarting,
    }
}

/// `12:05` (minutes and seconds; hours when there are any).
pub fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// One line: elapsed time, the run's status and state, the cluster's EMR
/// state and its users step.
pub fn line(run: &RunProgress, cluster: Option<&ClusterView>, took: Duration) -> String {
    let phase = phase(run, cluster);
    let what = match &phase {
        Phase::Starting => "starting the run".to_owned(),
        Phase::WaitingToStart => "waiting to create the cluster (ready_by)".to_owned(),
        Phase::ClusterStarting => "EMR is starting the cluster".to_owned(),
        Phase::SettingUpUsers => "setting up the JupyterHub users".to_owned(),
        Phase::Ready => "ready".to_owned(),
        Phase::Done => "done".to_owned(),
        Phase::Failed(why) => format!("failed: {why}"),
    };
    let mut out = format!("[{}] {what} · run {}", elapsed(took), run.status);
    // The state a running run is in (an ended one's last state says nothing).
    if let Some(state) = run
        .current_state
        .as_ref()
        .filter(|_| run.status == "RUNNING")
    {
        out.push_str(&format!(" ({state})"));
    }
    if let Some(c) = cluster {
        out.push_str(&format!(" · cluster {} {}", c.id, c.state));
        if let Some(step) = &c.users_step {
            out.push_str(&format!(" · users step {step}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: &str, state: Option<&str>) -> RunProgress {
        RunProgress {
            status: status.into(),
            current_state: state.map(str::to_owned),
            cluster_id: None,
            error: None,
        }
    }

    fn cluster(state: ClusterState, users: Option<StepState>) -> ClusterView {
        ClusterView {
            id: "j-1".into(),
            state,
            users_step: users,
        }
    }

    #[test]
    fn a_run_is_ready_only_when_waiting_with_its_users_step_done() {
        use ClusterState as C;
        use StepState as S;
        let running = run("RUNNING", Some("Describe cluster"));
        let done = run("SUCCEEDED", None);
        for (run, cluster, want) in [
            (&running, None, Phase::Starting),
            (
                &run("RUNNING", Some(WAIT_TO_START)),
                None,
                Phase::WaitingToStart,
            ),
            (
                &running,
                Some(cluster(C::Starting, None)),
                Phase::ClusterStarting,
            ),
            (
                &running,
                Some(cluster(C::Bootstrapping, None)),
                Phase::ClusterStarting,
            ),
            (
                &done,
                Some(cluster(C::Waiting, None)),
                Phase::SettingUpUsers,
            ),
            (
                &done,
                Some(cluster(C::Waiting, Some(S::Pending))),
                Phase::SettingUpUsers,
            ),
            (
                &done,
                Some(cluster(C::Running, Some(S::Running))),
                Phase::SettingUpUsers,
            ),
            (
                &done,
                Some(cluster(C::Waiting, Some(S::Completed))),
                Phase::Ready,
            ),
            (&done, Some(cluster(C::Terminated, None)), Phase::Done),
        ] {
            assert_eq!(phase(run, cluster.as_ref()), want, "{run:?} {cluster:?}");
        }
    }

    #[test]
    fn a_failed_run_step_or_cluster_says_why() {
        let mut failed = run("FAILED", Some("Cluster did not start"));
        failed.error = Some("sparkhub.ClusterDidNotStart: BOOTSTRAP_FAILURE".into());
        let Phase::Failed(why) = phase(&failed, None) else {
            panic!("failed")
        };
        assert!(
            why.contains("FAILED") && why.contains("BOOTSTRAP_FAILURE"),
            "{why}"
        );
        let users_failed = cluster(ClusterState::Waiting, Some(StepState::Failed));
        let Phase::Failed(why) = phase(&run("SUCCEEDED", None), Some(&users_failed)) else {
            panic!("failed")
        };
        assert!(
            why.contains("users step") && why.contains("list-steps"),
            "{why}"
        );
        let gone = cluster(ClusterState::TerminatedWithErrors, None);
        assert!(matches!(
            phase(&run("RUNNING", None), Some(&gone)),
            Phase::Failed(_)
        ));
    }

    #[test]
    fn the_line_shows_elapsed_time_run_and_cluster_states() {
        let line = line(
            &run("RUNNING", Some("Wait for cluster")),
            Some(&cluster(ClusterState::Bootstrapping, None)),
            Duration::from_secs(125),
        );
        assert_eq!(
            line,
            "[02:05] EMR is starting the cluster · run RUNNING (Wait for cluster) · cluster j-1 BOOTSTRAPPING"
        );
        assert_eq!(elapsed(Duration::from_secs(3725)), "1:02:05");
    }
}
