//! SNS: the topic people hear from.

use sparkhub_core::ports::{AwsError, Notifier};
use sparkhub_core::recipients::RECIPIENTS_ATTRIBUTE;

use crate::aws_error;

/// An SNS topic.
#[derive(Debug, Clone)]
pub struct Sns {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl Sns {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

impl Notifier for Sns {
    async fn notify(
        &self,
        subject: &str,
        message: &str,
        recipients: &[String],
    ) -> Result<(), AwsError> {
        // SNS subjects: at most 100 printable ASCII characters.
        let subject: String = subject
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control())
            .take(100)
            .collect();
        let mut publish = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message);
        // The users' e-mail subscriptions let through the messages whose
        // String.Array names their `<profile>/<user>`; a message for the
        // operator alone carries no attribute (the operator's subscription
        // has no filter).
        if !recipients.is_empty() {
            let names = serde_json::to_string(recipients).expect("a list of strings is JSON");
            let attribute = aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String.Array")
                .string_value(names)
                .build()
                .map_err(|e| AwsError::new("SNS Publish", false, None, e))?;
            publish = publish.message_attributes(RECIPIENTS_ATTRIBUTE, attribute);
        }
        publish
            .send()
            .await
            .map_err(|e| aws_error("SNS Publish", e))?;
        Ok(())
    }
}
