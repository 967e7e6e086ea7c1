//! terminate-idle-clusters: the sweep that switches off the clusters nobody
//! uses, deciding each with `sparkhub_shared::idle::judge`.

pub mod sweep;
pub mod warning;

pub use sweep::{ClusterReport, Config, Decision, Summary, SweepError, Terminator};
