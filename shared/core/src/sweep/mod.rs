//! terminate-idle-clusters: the sweep that switches off the clusters nobody
//! uses, deciding each with `crate::idle::judge`.

pub mod budget;
pub mod history;
pub mod terminator;
pub mod warning;

pub use terminator::{
    Check, ChecksConfig, ClusterReport, Config, Decision, Summary, SweepError, SweepEvent,
    Terminator,
};
