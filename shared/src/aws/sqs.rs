//! The SQS adapter of the queue port.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;

use super::describe;
use crate::ports::{MessageQueue, Postpone, QueueError, QueueMessage};

#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self::new(Client::new(config), queue_url)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Opens the connection (TLS, credentials) during INIT, so a cold start does not pay the
    /// handshake while Viber waits. A failure is only logged.
    pub async fn warm_up(&self) {
        let result = self
            .client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await;
        if let Err(error) = result {
            tracing::warn!(error = %describe(&error), "SQS warm-up failed");
        }
    }
}

#[async_trait]
impl Postpone for SqsQueue {
    /// Changes the message's visibility timeout to `delay`, in whole seconds rounded up (SQS
    /// allows at most 12 hours).
    async fn postpone(&self, receipt_handle: &str, delay: std::time::Duration) -> Result<(), QueueError> {
        const MAX_VISIBILITY_SECONDS: u64 = 12 * 3600;
        let seconds = delay.as_secs_f64().ceil() as u64;
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds.min(MAX_VISIBILITY_SECONDS) as i32)
            .send()
            .await
            .map_err(|error| QueueError::Unavailable(describe(&error)))?;
        Ok(())
    }
}

#[async_trait]
impl MessageQueue for SqsQueue {
    async fn send(&self, message: QueueMessage) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(message.body)
            .set_message_group_id(message.group_id)
            .set_message_deduplication_id(message.dedup_id)
            .send()
            .await
            .map_err(|error| match error.as_service_error() {
                Some(service) if service.is_invalid_message_contents() => QueueError::Rejected(describe(&error)),
                _ => QueueError::Unavailable(describe(&error)),
            })?;
        Ok(())
    }
}
