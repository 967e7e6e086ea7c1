//! setup-jupyter-users: when a sparkhub cluster reaches WAITING, every
//! JupyterHub user of its profile gets a generated password (kept in Secrets
//! Manager, never overwritten) and one EMR step creates the users on the hub.

pub mod error;
pub mod event;
pub mod handler;
pub mod secrets;
pub mod steps;

pub use error::SetupError;
pub use handler::{Config, MAX_FAILED_USERS_STEPS, Outcome, SetupUsers};
