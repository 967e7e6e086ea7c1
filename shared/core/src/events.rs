//! The EventBridge envelope both event-driven functions read. Written here
//! rather than taken from `aws_lambda_events` so that the core depends on no
//! AWS crate; the fields and their optionality follow that crate's
//! `EventBridgeEvent` and AWS's event structure reference
//! (<https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html>).

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct EventBridgeEvent {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    pub detail_type: String,
    pub source: String,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub time: Option<jiff::Timestamp>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub resources: Option<Vec<String>>,
    pub detail: Value,
}
