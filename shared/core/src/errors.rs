//! Error text for people: an error's message followed by each cause in its
//! chain (the SDK's service error, say) that the message does not already say.

pub fn message_with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// An error a function answers with: its `errorType` (the names the retry
/// policies, alarms and README use, `sparkhub.Retryable` and so on) and, as
/// its message, [`message_with_causes`]. The one mapping every function uses.
pub trait Failure: std::error::Error + 'static {
    fn error_type(&self) -> &'static str;
}

/// What a function reports for a [`Failure`]: Lambda's `errorType` and
/// `errorMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub error_type: String,
    pub error_message: String,
}

impl<E: Failure> From<E> for Reported {
    fn from(error: E) -> Self {
        Self {
            error_type: error.error_type().to_owned(),
            error_message: message_with_causes(&error),
        }
    }
}
