//! sparkhub's shared core: cluster profiles and their validation, RunJobFlow
//! rendering, the typed Amazon States Language and the cluster workflow, and
//! the shell scripts that run on the cluster.
//!
//! Everything here is pure: no AWS SDK type and no I/O. The functions and the
//! tests feed it plain data and act on what it returns.

pub mod asl;
pub mod golden;
pub mod names;
pub mod profile;
pub mod render;
pub mod scripts;
pub mod workflow;

pub use names::{ProfileName, S3Uri, UserName};
pub use profile::{Profile, ValidationErrors};
pub use render::{ClusterPlan, Deployment, RunJobFlowRequest, RunOptions, WorkflowInput};
