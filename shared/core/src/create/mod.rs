//! create-cluster: starts the cluster workflow for a profile — from an
//! EventBridge Scheduler target or manual invoke (`{"profile": ...}`), an
//! EventBridge rule's "Scheduled Event", or an S3 "Object Created" event —
//! exactly once per trigger.

pub mod error;
pub mod event_args;
pub mod handler;
pub mod limit;
pub mod matching;
pub mod object_key;
pub mod pool;
pub mod trigger;

pub use error::CreateError;
pub use handler::{Config, CreateCluster, Outcome};
