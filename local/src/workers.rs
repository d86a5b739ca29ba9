//! The queue consumers of the local stack: what the SQS event source mappings do in AWS. They
//! hand batches of up to 10 messages to the same Lambda handler functions, delete what succeeded,
//! make failed messages visible again after a back-off (their FIFO group waits with them), and
//! move a message aside after too many receives, like a redrive policy to a DLQ.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use shared::memory::{MemoryQueue, Received};
use shared::retry::{Backoff, random_unit};

/// The local retry policy: AWS's shape, with the delays scaled down to seconds.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_receives: u32,
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_receives: 5,
            backoff: Backoff {
                first: Duration::from_millis(250),
                max: Duration::from_secs(8),
            },
        }
    }
}

impl RetryPolicy {
    /// Doubling back-off after each failed receive, with jitter.
    pub fn delay_after(&self, receive_count: u32) -> Duration {
        self.backoff.delay(receive_count, random_unit())
    }
}

const BATCH_SIZE: usize = 10;
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Consumes `queue` until the task is aborted.
pub async fn consume<H, F>(name: &'static str, queue: Arc<MemoryQueue>, policy: RetryPolicy, handler: H)
where
    H: Fn(SqsEvent) -> F,
    F: Future<Output = SqsBatchResponse>,
{
    loop {
        let batch = queue.receive(BATCH_SIZE);
        if batch.is_empty() {
            let wait = queue
                .next_visible_at()
                .map(|at| at.saturating_duration_since(std::time::Instant::now()))
                .unwrap_or(IDLE_POLL)
                .clamp(Duration::from_millis(5), IDLE_POLL);
            queue.wait_for_change(wait).await;
            continue;
        }
        let mut event = SqsEvent::default();
        event.records = batch.iter().map(record).collect();
        let response = handler(event).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        for received in &batch {
            if !failed.contains(&received.id.to_string().as_str()) {
                queue.delete(received.id);
            } else if received.receive_count >= policy.max_receives {
                tracing::error!(
                    queue = name,
                    receives = received.receive_count,
                    "message moved to the dead letters"
                );
                queue.dead_letter(received.id);
            } else {
                queue.release(received.id, policy.delay_after(received.receive_count));
            }
        }
    }
}

/// Consumes an SQS queue (AWS or an emulator) the way the event source mapping does: batches of
/// up to 10, successes deleted, failures left to come back after the visibility timeout (and to
/// the DLQ through the queue's redrive policy). Runs until the task is aborted.
pub async fn consume_sqs<H, F>(name: &'static str, client: aws_sdk_sqs::Client, queue_url: String, handler: H)
where
    H: Fn(SqsEvent) -> F,
    F: Future<Output = SqsBatchResponse>,
{
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    loop {
        let received = client
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(BATCH_SIZE as i32)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await;
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(error) => {
                tracing::warn!(queue = name, error = %error, "receive failed; trying again");
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let mut event = SqsEvent::default();
        event.records = messages.iter().map(sqs_record).collect();
        let response = handler(event).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        for message in &messages {
            let succeeded = message.message_id.as_deref().is_some_and(|id| !failed.contains(&id));
            let Some(receipt) = message.receipt_handle.as_deref().filter(|_| succeeded) else {
                continue;
            };
            let deleted = client
                .delete_message()
                .queue_url(&queue_url)
                .receipt_handle(receipt)
                .send()
                .await;
            if let Err(error) = deleted {
                tracing::warn!(queue = name, error = %error, "delete failed; the message will come back");
            }
        }
    }
}

fn sqs_record(message: &aws_sdk_sqs::types::Message) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id.clone();
    record.receipt_handle = message.receipt_handle.clone();
    record.body = message.body.clone();
    for (name, value) in message.attributes.iter().flatten() {
        record.attributes.insert(name.as_str().to_owned(), value.clone());
    }
    record
}

fn record(received: &Received) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(received.id.to_string());
    record.body = Some(received.message.body.clone());
    record
        .attributes
        .insert("ApproximateReceiveCount".to_owned(), received.receive_count.to_string());
    if let Some(group) = &received.message.group_id {
        record.attributes.insert("MessageGroupId".to_owned(), group.clone());
    }
    if let Some(dedup) = &received.message.dedup_id {
        record
            .attributes
            .insert("MessageDeduplicationId".to_owned(), dedup.clone());
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_and_is_capped() {
        let policy = RetryPolicy::default();
        assert!(policy.delay_after(1) <= Duration::from_millis(250));
        assert!(policy.delay_after(2) >= Duration::from_millis(250));
        assert!(policy.delay_after(10) <= Duration::from_secs(8));
        assert!(policy.delay_after(10) >= Duration::from_secs(4));
    }
}
