//! The AWS adapters against moto: the same behaviour as their in-memory twins.

use shared::aws::{DynamoStore, SqsQueue};
use shared::ids::{IntegrationId, StaffId};
use shared::model::{IntegrationOptions, TaskStatus, TaskTemplate};
use shared::ports::{IntegrationStore, MessageQueue, Postpone, QueueMessage, StaffStore, token_hash};
use shared::time::Timestamp;
use testkit::{build, moto};

#[tokio::test]
async fn integrations_round_trip_through_dynamodb() {
    let config = moto::sdk_config().await;
    let store = DynamoStore::from_config(&config, moto::table(&config).await);
    let id = IntegrationId::generate();
    assert_eq!(store.get_integration(&id).await.unwrap(), None);
    let integration = build::integration(id.as_str())
        .token("token-1")
        .template(TaskTemplate {
            task_title: "Viber: {name}".into(),
            initial_status: TaskStatus::Waiting,
            assignee_id: Some(StaffId::generate()),
            participant_ids: vec![StaffId::generate(), StaffId::generate()],
        })
        .options(IntegrationOptions {
            new_task_if_no_active: false,
            send_as_staff: true,
            welcome_message: Some("Привіт".into()),
        })
        .connected_by(StaffId::generate().as_str())
        .created_at(Timestamp::from_millis(1_732_528_955_210))
        .build();
    store.put_integration(&integration).await.unwrap();
    assert_eq!(store.get_integration(&id).await.unwrap(), Some(integration));
}

#[tokio::test]
async fn staff_are_found_by_token_hash_only() {
    let config = moto::sdk_config().await;
    let store = DynamoStore::from_config(&config, moto::table(&config).await);
    let owner = build::staff(StaffId::generate().as_str()).name("Owner").owner().build();
    store.put_staff(&owner, &token_hash("secret-token")).await.unwrap();
    assert_eq!(
        store.staff_by_token_hash(&token_hash("secret-token")).await.unwrap(),
        Some(owner)
    );
    assert_eq!(store.staff_by_token_hash(&token_hash("other")).await.unwrap(), None);
}

#[tokio::test]
async fn the_sqs_adapter_sends_with_group_and_dedup_ids() {
    let config = moto::sdk_config().await;
    let url = moto::fifo_queue(&config).await;
    let queue = SqsQueue::from_config(&config, &url);
    for body in ["one", "one-again", "two"] {
        let dedup = if body == "two" { "d2" } else { "d1" };
        let message = QueueMessage {
            group_id: Some("g:u".into()),
            dedup_id: Some(dedup.into()),
            body: body.into(),
        };
        queue.send(message).await.unwrap();
    }
    let received = moto::drain(&config, &url, 10).await;
    let bodies: Vec<_> = received.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(bodies, ["one", "two"]);
    assert_eq!(received[0].group_id.as_deref(), Some("g:u"));
}

#[tokio::test]
async fn a_postponed_message_stays_invisible_for_the_delay() {
    let config = moto::sdk_config().await;
    let url = moto::fifo_queue(&config).await;
    let queue = SqsQueue::from_config(&config, &url);
    let message = QueueMessage {
        group_id: Some("contact-1".into()),
        dedup_id: Some("comment-1".into()),
        body: "job".into(),
    };
    queue.send(message).await.unwrap();
    let receive = || async {
        queue
            .client()
            .receive_message()
            .queue_url(&url)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
    };
    let first = receive().await;
    assert_eq!(first.len(), 1);
    let receipt = first[0].receipt_handle.clone().unwrap();
    // Back to visible at once, then postponed by a minute: hidden again.
    queue.postpone(&receipt, std::time::Duration::ZERO).await.unwrap();
    let again = receive().await;
    assert_eq!(again.len(), 1, "visible again after a zero delay");
    let receipt = again[0].receipt_handle.clone().unwrap();
    queue
        .postpone(&receipt, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(receive().await.is_empty(), "hidden for the delay");
}

/// What the processor and the sender rely on: a failed record postponed, with the records of its
/// group held back behind it released at once, keeps the group waiting for the delay (it is
/// still in flight), then comes back first. (Releasing them after the same delay instead lets
/// moto hand out `a2` before `a1`.)
#[tokio::test]
async fn a_postponed_retry_brings_its_held_back_records_back_after_it() {
    use shared::retry::{Backoff, Retry, RetryPolicy, postpone_retries};
    let config = moto::sdk_config().await;
    let url = moto::fifo_queue(&config).await;
    let queue = SqsQueue::from_config(&config, &url);
    for body in ["a1", "a2"] {
        let message = QueueMessage {
            group_id: Some("contact-1".into()),
            dedup_id: Some(body.into()),
            body: body.into(),
        };
        queue.send(message).await.unwrap();
    }
    let receive = || async {
        queue
            .client()
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
    };
    let mut batch = Vec::new();
    for _ in 0..3 {
        batch.extend(receive().await);
        if batch.len() == 2 {
            break;
        }
    }
    let bodies: Vec<_> = batch.iter().map(|m| m.body.clone().unwrap()).collect();
    assert_eq!(bodies, ["a1", "a2"]);
    let handle = |index: usize| batch[index].receipt_handle.clone().unwrap();
    let retry = Retry {
        held_back: vec![handle(1)],
        ..Retry::new(handle(0), 1)
    };
    let policy = RetryPolicy {
        backoff: Backoff {
            first: std::time::Duration::from_secs(2),
            max: std::time::Duration::from_secs(2),
        },
        max_receives: 5,
    };
    postpone_retries(&queue, &policy, &[retry]).await;
    assert!(receive().await.is_empty(), "a2 is visible but waits behind a1");
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let again = receive().await;
    let bodies: Vec<_> = again.iter().map(|m| m.body.clone().unwrap()).collect();
    assert_eq!(bodies.first().map(String::as_str), Some("a1"), "{bodies:?}");
}
