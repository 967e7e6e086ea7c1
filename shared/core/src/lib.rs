//! sparkhub's core: cluster profiles and their validation, RunJobFlow
//! rendering, the typed Amazon States Language and the cluster workflow, the
//! shell scripts that run on the cluster, the idle rules — and the three
//! functions' use cases ([`create`], [`setup`], [`sweep`]), generic over the
//! ports.
//!
//! The core knows no AWS SDK, no Lambda runtime and no async runtime (its
//! dependencies have none of them, so the compiler checks it; tokio only
//! drives its tests). AWS is reached
//! through the small traits in [`ports`], implemented in the `sparkhub-aws`
//! crate with the SDK and, behind the `test-util` feature, in `fakes` in
//! memory.

pub mod asl;
pub mod budget;
pub mod create;
pub mod emr;
pub mod errors;
pub mod events;
pub mod history;
pub mod idle;
pub mod json;
pub mod loading;
pub mod names;
pub mod ports;
pub mod profile;
pub mod recipients;
pub mod render;
pub mod report;
pub mod scripts;
pub mod settings;
pub mod setup;
pub mod startup;
pub mod sweep;
pub mod text;
pub mod users;
pub mod workflow;

#[cfg(any(test, feature = "test-util"))]
pub mod fakes;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub use names::{ProfileName, S3Uri, UserName};
pub use profile::{Profile, ValidationErrors};
pub use render::{ClusterPlan, Deployment, RunJobFlowRequest, RunOptions, WorkflowInput};
