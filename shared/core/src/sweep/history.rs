//! The sweep's history: each termination and warning it made, written to the
//! [`HistoryStore`] after the fact. A write never holds up or undoes a
//! termination; a failed one is logged and counted.

use futures::{StreamExt, stream};
use tracing::warn;

use crate::errors::message_with_causes;
use crate::history::Record;
use crate::ports::HistoryStore;

/// Writes `records`, `limit` at once; the messages of the writes that failed,
/// in the order of `records`.
pub async fn record_all<H: HistoryStore + Sync>(
    store: &H,
    records: &[Record],
    limit: usize,
) -> Vec<String> {
    let outcomes: Vec<Option<String>> = stream::iter(records)
        .map(|record| async move {
            let e = store.record(record).await.err()?;
            let message = format!(
                "history of {} ({}): {}",
                record.cluster_id,
                record.kind.as_str(),
                message_with_causes(&e)
            );
            warn!(cluster_id = %record.cluster_id, key = %record.key(), error = %message, "history record not written; the termination or warning itself stands");
            Some(message)
        })
        .buffered(limit.max(1))
        .collect()
        .await;
    outcomes.into_iter().flatten().collect()
}
