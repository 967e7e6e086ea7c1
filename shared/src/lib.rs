//! sparkhub's shared core: cluster profiles and their validation, RunJobFlow
//! rendering, the typed Amazon States Language and the cluster workflow, and
//! the shell scripts that run on the cluster.
//!
//! The core is pure: no AWS SDK type and no I/O. AWS is reached through the
//! small traits in [`ports`], implemented in [`aws`] with the SDK and in the
//! tests with fakes.

pub mod asl;
pub mod aws;
pub mod emr;
pub mod errors;
pub mod golden;
pub mod iam;
pub mod idle;
pub mod infra;
pub mod loading;
pub mod names;
pub mod ports;
pub mod profile;
pub mod render;
pub mod scripts;
pub mod settings;
pub mod users;
pub mod workflow;

pub use names::{ProfileName, S3Uri, UserName};
pub use profile::{Profile, ValidationErrors};
pub use render::{ClusterPlan, Deployment, RunJobFlowRequest, RunOptions, WorkflowInput};
