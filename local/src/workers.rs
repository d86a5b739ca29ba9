//! The queue consumers of the local stack: what the SQS event source mappings do in AWS. They
//! hand batches of up to 10 messages to the same Lambda handler functions, delete what succeeded,
//! make failed messages visible again after the functions' own back-off through the same
//! `shared::retry::postpone_retries` the Lambdas call (their FIFO group waits with them), and
//! move a message aside after too many receives, like a redrive policy to a DLQ.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use shared::aws::SqsQueue;
use shared::memory::{MemoryQueue, Received};
use shared::retry::{Retry, RetryPolicy, postpone_retries, random_unit};

const BATCH_SIZE: usize = 10;
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Consumes `queue` until the task is aborted.
pub async fn consume<H, F>(name: &'static str, queue: Arc<MemoryQueue>, policy: RetryPolicy, handler: H)
where
    H: Fn(SqsEvent) -> F,
    F: Future<Output = (SqsBatchResponse, Vec<Retry>)>,
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
        let (response, retries) = handler(event).await;
        postpone_retries(queue.as_ref(), &policy, &retries).await;
        let failed: HashSet<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        let postponed: HashSet<&str> = retries
            .iter()
            .flat_map(|retry| std::iter::once(&retry.receipt_handle).chain(&retry.held_back))
            .map(String::as_str)
            .collect();
        for received in &batch {
            if !failed.contains(received.id.to_string().as_str()) {
                queue.delete(received.id);
            } else if received.receive_count >= policy.max_receives {
                // SQS's redrive policy moves it on its next receive; here at once.
                tracing::error!(
                    queue = name,
                    receives = received.receive_count,
                    "message moved to the dead letters"
                );
                queue.dead_letter(received.id);
            } else if !postponed.contains(received.receipt_handle().as_str()) {
                // Failed without a retry from its handler: in SQS it waits for the visibility
                // timeout; here the policy's delay, so it cannot come back at once.
                queue.release(received.id, policy.delay_after(received.receive_count, random_unit()));
            }
        }
    }
}

/// Consumes an SQS queue (AWS or an emulator) the way the event source mapping does, with the
/// Lambda's back-off: batches of up to 10, successes deleted, failures postponed (and moved to
/// the DLQ by the queue's redrive policy). Runs until the task is aborted.
pub async fn consume_sqs<H, F>(name: &'static str, queue: SqsQueue, policy: RetryPolicy, handler: H)
where
    H: Fn(SqsEvent) -> F,
    F: Future<Output = (SqsBatchResponse, Vec<Retry>)>,
{
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    let (client, queue_url) = (queue.client(), queue.queue_url());
    loop {
        let received = client
            .receive_message()
            .queue_url(queue_url)
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
        let (response, retries) = handler(event).await;
        postpone_retries(&queue, &policy, &retries).await;
        let failed: HashSet<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        for message in &messages {
            let succeeded = message.message_id.as_deref().is_some_and(|id| !failed.contains(id));
            let Some(receipt) = message.receipt_handle.as_deref().filter(|_| succeeded) else {
                continue;
            };
            let deleted = client
                .delete_message()
                .queue_url(queue_url)
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
    record.receipt_handle = Some(received.receipt_handle());
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
    use std::sync::Mutex;
    use std::time::Instant;

    use shared::ports::{MessageQueue, QueueMessage};
    use shared::retry::Backoff;
    use testkit::moto;

    use super::*;

    /// Delays of 1 to 2 s (half fixed, half jitter), whole seconds as SQS takes them.
    const POLICY: RetryPolicy = RetryPolicy {
        backoff: Backoff {
            first: Duration::from_secs(2),
            max: Duration::from_secs(2),
        },
        max_receives: 5,
    };

    fn message(body: &str) -> QueueMessage {
        QueueMessage {
            group_id: Some("client".into()),
            dedup_id: Some(body.into()),
            body: body.into(),
        }
    }

    /// A handler failing each record on its first receive (as the processor reports a failure),
    /// recording when each record arrives and with which receive count.
    fn failing_once(
        seen: Arc<Mutex<Vec<(String, u32, Instant)>>>,
    ) -> impl Fn(SqsEvent) -> std::future::Ready<(SqsBatchResponse, Vec<Retry>)> {
        move |event: SqsEvent| {
            let mut response = SqsBatchResponse::default();
            let mut retries = Vec::new();
            for record in event.records {
                let receive_count: u32 = record.attributes["ApproximateReceiveCount"].parse().unwrap();
                let body = record.body.clone().unwrap_or_default();
                seen.lock().unwrap().push((body, receive_count, Instant::now()));
                if receive_count == 1 {
                    let mut failure = aws_lambda_events::event::sqs::BatchItemFailure::default();
                    failure.item_identifier = record.message_id.clone().unwrap_or_default();
                    response.batch_item_failures.push(failure);
                    retries.push(Retry::new(record.receipt_handle.clone().unwrap(), receive_count));
                }
            }
            std::future::ready((response, retries))
        }
    }

    /// Waits (bounded) until `seen` holds `count` arrivals, and returns them.
    async fn arrivals(seen: &Mutex<Vec<(String, u32, Instant)>>, count: usize) -> Vec<(String, u32, Instant)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let now = seen.lock().unwrap().clone();
            if now.len() >= count {
                return now;
            }
            assert!(Instant::now() < deadline, "only {now:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_failed_record_comes_back_in_memory_after_the_policys_delay() {
        let queue = Arc::new(MemoryQueue::new());
        queue.send(message("m1")).await.unwrap();
        queue.send(message("m2")).await.unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let worker = tokio::spawn(consume("test", queue.clone(), POLICY, failing_once(seen.clone())));
        let seen = arrivals(&seen, 4).await;
        worker.abort();
        let order: Vec<(&str, u32)> = seen.iter().map(|(body, count, _)| (body.as_str(), *count)).collect();
        assert_eq!(
            order,
            [("m1", 1), ("m1", 2), ("m2", 1), ("m2", 2)],
            "m2 waits behind m1"
        );
        let waited = seen[1].2 - seen[0].2;
        assert!(
            (Duration::from_secs(1)..Duration::from_millis(2_500)).contains(&waited),
            "the policy's 1-2 s, not a scaled-down delay: {waited:?}"
        );
        assert!(queue.pending().is_empty());
    }

    #[tokio::test]
    async fn a_failed_record_comes_back_from_sqs_after_the_policys_delay_not_the_visibility_timeout() {
        let config = moto::sdk_config().await;
        // moto's default visibility timeout: 30 s.
        let queue = SqsQueue::from_config(&config, moto::fifo_queue(&config).await);
        queue.send(message("m1")).await.unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let worker = tokio::spawn(consume_sqs("test", queue.clone(), POLICY, failing_once(seen.clone())));
        let seen = arrivals(&seen, 2).await;
        worker.abort();
        let order: Vec<(&str, u32)> = seen.iter().map(|(body, count, _)| (body.as_str(), *count)).collect();
        assert_eq!(order, [("m1", 1), ("m1", 2)]);
        let waited = seen[1].2 - seen[0].2;
        assert!(
            (Duration::from_secs(1)..Duration::from_secs(5)).contains(&waited),
            "postponed by the policy's 1-2 s (plus a poll), not the 30 s visibility timeout: {waited:?}"
        );
    }
}
