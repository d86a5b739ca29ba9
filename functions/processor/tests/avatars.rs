//! Contacts' avatars are copied from a stand-in for Viber's media server into the blob store, so
//! the staff inbox can show them from its own origin: once per picture, again when the picture
//! changes, never holding back the client's message when the copy fails.

use std::sync::Arc;

use processor::{Outcome, Processor};
use serde_json::json;
use shared::blobs::MemoryBlobStore;
use shared::ids::IntegrationId;
use shared::inbound::queue_message;
use shared::media::{AVATAR_MAX_BYTES, avatar_key};
use shared::memory::MemoryStore;
use shared::model::{BotProfile, Contact, Integration, IntegrationOptions, StoredAvatar, TaskTemplate};
use shared::ports::{ContactStore, IntegrationStore, PageRequest, TaskFilter, TaskStore};
use shared::rules::contact_id;
use shared::secret::AuthToken;
use shared::time::Timestamp;
use shared::viber::Callback;
use testkit::MediaServer;
use testkit::fixtures::DOC_TOKEN;

const USER: &str = "9Kf2mQ1xT7bVnC3pLs8aZw==";

struct Setup {
    store: Arc<MemoryStore>,
    blobs: Arc<MemoryBlobStore>,
    server: MediaServer,
    processor: Processor,
}

async fn setup(copy_avatars: bool) -> Setup {
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
    let blobs = Arc::new(MemoryBlobStore::new("http://blobs.test"));
    let mut processor = Processor::new(store.clone(), blobs.clone(), 5);
    if !copy_avatars {
        processor = processor.without_avatar_copies();
    }
    Setup {
        store,
        blobs,
        server: MediaServer::start().await,
        processor,
    }
}

fn queued(callback: serde_json::Value) -> String {
    let body = serde_json::to_vec(&callback).unwrap();
    let parsed = Callback::from_slice(&body).unwrap();
    queue_message(&IntegrationId::parse("acme").unwrap(), &body, &parsed, Timestamp::now())
        .unwrap()
        .body
}

fn message(token: u64, avatar: &str) -> String {
    queued(json!({
        "event": "message",
        "timestamp": 1_732_529_012_480_i64 + token as i64,
        "message_token": token,
        "sender": {"id": USER, "name": "Олена", "avatar": avatar, "language": "uk", "country": "UA", "api_version": 10},
        "message": {"type": "text", "text": format!("message {token}")},
        "silent": false,
    }))
}

async fn contact(setup: &Setup) -> Contact {
    let id = contact_id(&IntegrationId::parse("acme").unwrap(), USER);
    setup
        .store
        .get_contact(&id)
        .await
        .unwrap()
        .expect("the contact is stored")
}

async fn messages_stored(setup: &Setup) -> usize {
    let tasks = setup
        .store
        .list_tasks(&TaskFilter::default(), &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    let mut count = 0;
    for task in tasks {
        count += setup
            .store
            .list_comments(&task.id, &PageRequest::first(100))
            .await
            .unwrap()
            .items
            .len();
    }
    count
}

fn avatar_bytes() -> Vec<u8> {
    let mut bytes = b"\xFF\xD8\xFF\xE0JFIF avatar".to_vec();
    bytes.extend((0..5_000u32).map(|i| (i % 251) as u8));
    bytes
}

#[tokio::test]
async fn a_new_clients_avatar_is_copied_once() {
    let setup = setup(true).await;
    let url = setup.server.serve("/avatar/olena.jpg", avatar_bytes(), "image/jpeg");
    assert_eq!(
        setup.processor.process(&message(1, &url), 1).await.unwrap(),
        Outcome::Applied
    );
    let stored = contact(&setup).await;
    let key = avatar_key(&stored.id, &url);
    assert_eq!(
        stored.avatar,
        Some(StoredAvatar {
            source_url: url.clone(),
            blob_key: Some(key.clone())
        })
    );
    let object = setup.blobs.object(&key).expect("the copy is in the blob store");
    assert_eq!(object.bytes.to_vec(), avatar_bytes());
    assert_eq!(object.content_type, "image/jpeg");
    // The next message with the same picture fetches nothing.
    setup.processor.process(&message(2, &url), 1).await.unwrap();
    assert_eq!(setup.server.hits("/avatar/olena.jpg"), 1);
    assert_eq!(messages_stored(&setup).await, 2);
}

#[tokio::test]
async fn a_new_picture_is_copied_again() {
    let setup = setup(true).await;
    let first = setup.server.serve("/avatar/1.jpg", avatar_bytes(), "image/jpeg");
    let second = setup
        .server
        .serve("/avatar/2.png", b"\x89PNG new picture".to_vec(), "image/png");
    setup.processor.process(&message(1, &first), 1).await.unwrap();
    setup.processor.process(&message(2, &second), 1).await.unwrap();
    let stored = contact(&setup).await;
    let avatar = stored.avatar.unwrap();
    assert_eq!(avatar.source_url, second);
    let object = setup.blobs.object(avatar.blob_key.as_deref().unwrap()).unwrap();
    assert_eq!(object.content_type, "image/png");
    assert_eq!(setup.server.hits("/avatar/2.png"), 1);
}

#[tokio::test]
async fn a_failed_copy_never_holds_back_the_message() {
    let setup = setup(true).await;
    // The server fails for now: the message is stored, the avatar is tried again later.
    let url = setup.server.fail("/avatar/flaky.jpg", 503);
    assert_eq!(
        setup.processor.process(&message(1, &url), 1).await.unwrap(),
        Outcome::Applied
    );
    assert_eq!(contact(&setup).await.avatar, None);
    setup.server.serve("/avatar/flaky.jpg", avatar_bytes(), "image/jpeg");
    setup.processor.process(&message(2, &url), 1).await.unwrap();
    assert!(contact(&setup).await.avatar.unwrap().blob_key.is_some());

    // A picture over the limit can never be copied: recorded, not tried again.
    let huge = setup.server.serve(
        "/avatar/huge.jpg",
        vec![0u8; AVATAR_MAX_BYTES as usize + 1],
        "image/jpeg",
    );
    setup.processor.process(&message(3, &huge), 1).await.unwrap();
    setup.processor.process(&message(4, &huge), 1).await.unwrap();
    let avatar = contact(&setup).await.avatar.unwrap();
    assert_eq!((avatar.source_url.as_str(), avatar.blob_key), (huge.as_str(), None));
    assert_eq!(setup.server.hits("/avatar/huge.jpg"), 1);
    assert_eq!(messages_stored(&setup).await, 4);
}

#[tokio::test]
async fn a_conversation_start_copies_the_avatar_too() {
    let setup = setup(true).await;
    let url = setup.server.serve("/avatar/start.jpg", avatar_bytes(), "image/jpeg");
    let started = queued(json!({
        "event": "conversation_started",
        "timestamp": 1_732_529_012_480_i64,
        "message_token": 99,
        "type": "open",
        "user": {"id": USER, "name": "Олена", "avatar": url, "api_version": 10},
        "subscribed": false,
    }));
    setup.processor.process(&started, 1).await.unwrap();
    assert!(contact(&setup).await.avatar.unwrap().blob_key.is_some());
}

#[tokio::test]
async fn nothing_is_fetched_when_copies_are_off() {
    let setup = setup(false).await;
    let url = setup.server.serve("/avatar/olena.jpg", avatar_bytes(), "image/jpeg");
    setup.processor.process(&message(1, &url), 1).await.unwrap();
    assert_eq!(setup.server.hits("/avatar/olena.jpg"), 0);
    assert_eq!(contact(&setup).await.avatar, None);
}
