//! What the staff inbox's lists show of a client's messages: each task keeps the client's name and
//! their last message (type and a short preview), and a location, shared contact card or sticker
//! keeps its details on the comment.

use std::sync::Arc;

use processor::Processor;
use serde_json::json;
use shared::ids::IntegrationId;
use shared::inbound::queue_message;
use shared::memory::{MemoryQueue, MemoryStore};
use shared::model::{BotProfile, Integration, IntegrationOptions, LastMessage, MessageDetails, Task, TaskTemplate};
use shared::ports::{IntegrationStore, PageRequest, TaskFilter, TaskStore};
use shared::secret::AuthToken;
use shared::time::Timestamp;
use shared::viber::Callback;
use testkit::fixtures::{self, DOC_TOKEN};

async fn processor() -> (Arc<MemoryStore>, Processor) {
    let store = Arc::new(MemoryStore::new());
    store
        .put_integration(&Integration {
            id: IntegrationId::parse("acme").unwrap(),
            name: "Acme".into(),
            auth_token: AuthToken::new(DOC_TOKEN),
            bot: BotProfile {
                name: "Acme Support".into(),
                uri: "acmesupport".into(),
                icon: None,
            },
            webhook_url: "https://x/viber/acme".into(),
            template: TaskTemplate::default(),
            options: IntegrationOptions::default(),
            contact_template: Default::default(),
            connected_by: None,
            created_at: Timestamp::now(),
        })
        .await
        .unwrap();
    let processor = Processor::new(store.clone(), Arc::new(MemoryQueue::new()), 5).without_avatar_copies();
    (store, processor)
}

fn queued(body: &[u8]) -> String {
    let callback = Callback::from_slice(body).unwrap();
    queue_message(
        &IntegrationId::parse("acme").unwrap(),
        body,
        &callback,
        Timestamp::now(),
    )
    .unwrap()
    .body
}

fn from_olena(token: u64, name: &str, message: serde_json::Value) -> String {
    let callback = json!({
        "event": "message",
        "timestamp": 1_732_529_012_480_i64 + token as i64,
        "message_token": token,
        "sender": {"id": "01234567890A=", "name": name, "api_version": 10},
        "message": message,
        "silent": false,
    });
    queued(&serde_json::to_vec(&callback).unwrap())
}

async fn only_task(store: &MemoryStore) -> Task {
    let mut tasks = store
        .list_tasks(&TaskFilter::default(), &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(tasks.len(), 1);
    tasks.remove(0)
}

#[tokio::test]
async fn a_task_keeps_the_clients_name_and_last_message() {
    let (store, processor) = processor().await;
    processor
        .process(&from_olena(
            1,
            "Олена",
            json!({"type": "text", "text": "Де моє замовлення?"}),
        ))
        .await
        .unwrap();
    let task = only_task(&store).await;
    assert_eq!(task.requester_name.as_deref(), Some("Олена"));
    assert_eq!(
        task.last_message,
        Some(LastMessage {
            kind: "text".into(),
            preview: Some("Де моє замовлення?".into())
        })
    );
    // The next message is a sticker, from a renamed profile.
    processor
        .process(&from_olena(
            2,
            "Олена К.",
            json!({"type": "sticker", "sticker_id": 46105}),
        ))
        .await
        .unwrap();
    let task = only_task(&store).await;
    assert_eq!(task.requester_name.as_deref(), Some("Олена К."));
    assert_eq!(task.last_message.unwrap().kind, "sticker");
}

#[tokio::test]
async fn locations_contacts_and_stickers_keep_their_details() {
    let (store, processor) = processor().await;
    for fixture in ["message_location", "message_contact", "message_sticker"] {
        processor.process(&queued(&fixtures::bytes(fixture))).await.unwrap();
    }
    let task = only_task(&store).await;
    let comments = store
        .list_comments(&task.id, &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    let details: Vec<&MessageDetails> = comments.iter().filter_map(|c| c.details.as_ref()).collect();
    assert_eq!(details.len(), 3, "{comments:?}");
    assert!(
        details.iter().any(|d| matches!(d, MessageDetails::Location { .. })),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| matches!(d, MessageDetails::SharedContact { phone: Some(_), .. })),
        "{details:?}"
    );
    assert!(
        details.iter().any(|d| matches!(d, MessageDetails::Sticker { .. })),
        "{details:?}"
    );
}
