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
