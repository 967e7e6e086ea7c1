//! EMR states as types, with a catch-all for states EMR may add later.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClusterState {
    Starting,
    Bootstrapping,
    Running,
    Waiting,
    Terminating,
    Terminated,
    TerminatedWithErrors,
    Unknown(String),
}

impl ClusterState {
    /// The states in which a cluster exists and costs money.
    pub const ACTIVE: [ClusterState; 4] = [
        Self::Starting,
        Self::Bootstrapping,
        Self::Running,
        Self::Waiting,
    ];

    pub fn parse(state: &str) -> Self {
        match state {
            "STARTING" => Self::Starting,
            "BOOTSTRAPPING" => Self::Bootstrapping,
            "RUNNING" => Self::Running,
            "WAITING" => Self::Waiting,
            "TERMINATING" => Self::Terminating,
            "TERMINATED" => Self::Terminated,
            "TERMINATED_WITH_ERRORS" => Self::TerminatedWithErrors,
            other => Self::Unknown(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Starting => "STARTING",
            Self::Bootstrapping => "BOOTSTRAPPING",
            Self::Running => "RUNNING",
            Self::Waiting => "WAITING",
            Self::Terminating => "TERMINATING",
            Self::Terminated => "TERMINATED",
            Self::TerminatedWithErrors => "TERMINATED_WITH_ERRORS",
            Self::Unknown(s) => s,
        }
    }

    pub fn is_active(&self) -> bool {
        Self::ACTIVE.contains(self)
    }
}

impl fmt::Display for ClusterState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ClusterState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(d)?))
    }
}

/// An EMR step's state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StepState {
    Pending,
    CancelPending,
    Running,
    Completed,
    Cancelled,
    Failed,
    Interrupted,
    Unknown(String),
}

impl StepState {
    pub fn parse(state: &str) -> Self {
        match state {
            "PENDING" => Self::Pending,
            "CANCEL_PENDING" => Self::CancelPending,
            "RUNNING" => Self::Running,
            "COMPLETED" => Self::Completed,
            "CANCELLED" => Self::Cancelled,
            "FAILED" => Self::Failed,
            "INTERRUPTED" => Self::Interrupted,
            other => Self::Unknown(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "PENDING",
            Self::CancelPending => "CANCEL_PENDING",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Cancelled => "CANCELLED",
            Self::Failed => "FAILED",
            Self::Interrupted => "INTERRUPTED",
            Self::Unknown(s) => s,
        }
    }

    /// Waiting to run or running.
    pub fn is_busy(&self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }
}

impl fmt::Display for StepState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_unknown_is_kept() {
        for s in [
            "STARTING",
            "BOOTSTRAPPING",
            "RUNNING",
            "WAITING",
            "TERMINATING",
            "TERMINATED",
            "TERMINATED_WITH_ERRORS",
        ] {
            assert_eq!(ClusterState::parse(s).as_str(), s);
        }
        let future = ClusterState::parse("HIBERNATING");
        assert_eq!(future, ClusterState::Unknown("HIBERNATING".into()));
        assert!(
            !future.is_active(),
            "an unknown state is never counted as active"
        );
        assert!(ClusterState::Waiting.is_active() && !ClusterState::Terminated.is_active());
    }

    #[test]
    fn step_states_round_trip() {
        for s in [
            "PENDING",
            "CANCEL_PENDING",
            "RUNNING",
            "COMPLETED",
            "CANCELLED",
            "FAILED",
            "INTERRUPTED",
        ] {
            assert_eq!(StepState::parse(s).as_str(), s);
        }
        assert_eq!(
            StepState::parse("PAUSED"),
            StepState::Unknown("PAUSED".into())
        );
        assert!(
            StepState::Pending.is_busy()
                && StepState::Running.is_busy()
                && !StepState::Completed.is_busy()
        );
    }
}
