//! What a cluster's steps say about its JupyterHub users step: pure, so the
//! rule has its own table test.

use crate::emr::StepState;
use crate::ports::StepSummary;

/// After this many failed users steps for the same set of users, no new one
/// is added: the cause (a hub that never comes up, a broken secret) needs a
/// person, and EMR turns the cluster WAITING again after every failure.
pub const MAX_FAILED_USERS_STEPS: usize = 3;

/// The users step named `name` on a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsersStep<'a> {
    /// Pending, running or completed: nothing to add.
    AlreadyThere(&'a StepSummary),
    /// [`MAX_FAILED_USERS_STEPS`] or more failed, newest first. `tell` when
    /// the last failure is the cluster's newest step: the event that follows
    /// it tells people; later WAITING events (after other steps) do not, so
    /// people hear once.
    GaveUp {
        failed: Vec<&'a StepSummary>,
        tell: bool,
    },
    /// None yet, or fewer failures than the limit: add one.
    Add,
}

/// `steps` newest first, as EMR's ListSteps returns them.
pub fn users_step<'a>(steps: &'a [StepSummary], name: &str) -> UsersStep<'a> {
    if let Some(step) = steps
        .iter()
        .find(|s| s.name == name && (s.state.is_busy() || s.state == StepState::Completed))
    {
        return UsersStep::AlreadyThere(step);
    }
    let failed: Vec<&StepSummary> = steps
        .iter()
        .filter(|s| s.name == name && s.state == StepState::Failed)
        .collect();
    if failed.len() >= MAX_FAILED_USERS_STEPS {
        let tell = steps.first().map(|s| &s.id) == Some(&failed[0].id);
        return UsersStep::GaveUp { failed, tell };
    }
    UsersStep::Add
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, name: &str, state: StepState) -> StepSummary {
        StepSummary {
            id: id.into(),
            name: name.into(),
            state,
            failure_reason: None,
            log_file: None,
        }
    }

    #[test]
    fn the_users_step_rule() {
        use StepState::*;
        let us = "users";
        let f = |id: &str| step(id, us, Failed);
        // (what, steps newest first, expected: "there:<id>", "gave_up:<n>:<tell>" or "add")
        let cases: Vec<(&str, Vec<StepSummary>, &str)> = vec![
            ("no steps", vec![], "add"),
            (
                "another step only",
                vec![step("s-1", "etl", Completed)],
                "add",
            ),
            ("running", vec![step("s-1", us, Running)], "there:s-1"),
            ("pending", vec![step("s-1", us, Pending)], "there:s-1"),
            (
                "completed after a failure",
                vec![step("s-2", us, Completed), f("s-1")],
                "there:s-2",
            ),
            (
                "a users step for other users does not count",
                vec![step("s-1", "users-other", Completed)],
                "add",
            ),
            ("two failures: try again", vec![f("s-2"), f("s-1")], "add"),
            (
                "three failures, the last on top: tell",
                vec![f("s-3"), f("s-2"), f("s-1")],
                "gave_up:3:true",
            ),
            (
                "three failures, another step since: quiet",
                vec![step("s-4", "etl", Completed), f("s-3"), f("s-2"), f("s-1")],
                "gave_up:3:false",
            ),
            (
                "cancelled ones are not failures",
                vec![step("s-3", us, Cancelled), f("s-2"), f("s-1")],
                "add",
            ),
        ];
        for (what, steps, want) in cases {
            let got = match users_step(&steps, us) {
                UsersStep::AlreadyThere(s) => format!("there:{}", s.id),
                UsersStep::GaveUp { failed, tell } => format!("gave_up:{}:{tell}", failed.len()),
                UsersStep::Add => "add".into(),
            };
            assert_eq!(got, want, "{what}");
        }
    }
}
