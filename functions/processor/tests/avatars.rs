//! Contacts' avatars are copied by the media worker from a stand-in for Viber's media server into
//! the blob store, so the staff inbox can show them from its own origin: queued by the processor
//! once per picture (again when the picture changes), never holding back the client's message,
//! recorded on the contact and its current task, a repeated job changing nothing.

use std::sync::Arc;

use processor::media::{CopyOutcome, MediaWorker};
use processor::{Outcome, Processor};
use serde_json::json;
use shared::blobs::MemoryBlobStore;
use shared::ids::IntegrationId;
use shared::inbound::queue_message;
use shared::media::{AVATAR_MAX_BYTES, avatar_key};
use shared::memory::{MemoryQueue, MemoryStore};
use shared::model::Task;
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
    jobs: Arc<MemoryQueue>,
    processor: Processor,
    worker: MediaWorker,
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
    let jobs = Arc::new(MemoryQueue::new());
    let mut processor = Processor::new(store.clone(), jobs.clone(), 5);
    if !copy_avatars {
        processor = processor.without_avatar_copies();
    }
    let worker = MediaWorker::new(store.clone(), blobs.clone(), 5);
    Setup {
        store,
        blobs,
        server: MediaServer::start().await,
        jobs,
        processor,
        worker,
    }
}

impl Setup {
    /// The copies queued so far (taken off the queue).
    fn queued_jobs(&self) -> Vec<String> {
        self.jobs.drain().into_iter().map(|message| message.body).collect()
    }

    /// Runs every queued copy once, as its first receive: their outcomes.
    async fn run_jobs(&self) -> Vec<CopyOutcome> {
        let mut outcomes = Vec::new();
        for job in self.queued_jobs() {
            outcomes.push(self.worker.copy(&job, 1).await.unwrap());
        }
        outcomes
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

/// The contact's only task.
async fn task(setup: &Setup) -> Task {
    let mut tasks = setup
        .store
        .list_tasks(&TaskFilter::default(), &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(tasks.len(), 1);
    tasks.remove(0)
}

#[tokio::test]
async fn a_new_clients_avatar_is_copied_once_off_the_messages_path() {
    let setup = setup(true).await;
    let url = setup.server.serve("/avatar/olena.jpg", avatar_bytes(), "image/jpeg");
    assert_eq!(
        setup.processor.process(&message(1, &url)).await.unwrap(),
        Outcome::Applied
    );
    // Stored without waiting for the copy.
    assert_eq!(contact(&setup).await.avatar, None);
    assert_eq!(setup.server.hits("/avatar/olena.jpg"), 0);

    assert_eq!(setup.run_jobs().await, [CopyOutcome::Copied]);
    let stored = contact(&setup).await;
    let key = avatar_key(&stored.id, &url);
    assert_eq!(
        stored.avatar,
        Some(StoredAvatar {
            source_url: url.clone(),
            blob_key: Some(key.clone())
        })
    );
    assert_eq!(
        task(&setup).await.requester_avatar,
        Some(key.clone()),
        "the task lists show it"
    );
    let object = setup.blobs.object(&key).expect("the copy is in the blob store");
    assert_eq!(object.bytes.to_vec(), avatar_bytes());
    assert_eq!(object.content_type, "image/jpeg");
    // The next message with the same picture queues nothing.
    setup.processor.process(&message(2, &url)).await.unwrap();
    assert!(setup.queued_jobs().is_empty());
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
    setup.processor.process(&message(1, &first)).await.unwrap();
    setup.run_jobs().await;
    setup.processor.process(&message(2, &second)).await.unwrap();
    assert_eq!(setup.run_jobs().await, [CopyOutcome::Copied]);
    let stored = contact(&setup).await;
    let avatar = stored.avatar.unwrap();
    assert_eq!(avatar.source_url, second);
    let object = setup.blobs.object(avatar.blob_key.as_deref().unwrap()).unwrap();
    assert_eq!(object.content_type, "image/png");
    assert_eq!(setup.server.hits("/avatar/2.png"), 1);
}

#[tokio::test]
async fn a_repeated_or_outdated_avatar_job_changes_nothing() {
    let setup = setup(true).await;
    let first = setup.server.serve("/avatar/1.jpg", avatar_bytes(), "image/jpeg");
    let second = setup.server.serve("/avatar/2.jpg", avatar_bytes(), "image/jpeg");
    // Two messages before the worker runs: two jobs for the same picture.
    setup.processor.process(&message(1, &first)).await.unwrap();
    setup.processor.process(&message(2, &first)).await.unwrap();
    let jobs = setup.queued_jobs();
    assert_eq!(jobs.len(), 2);
    assert_eq!(setup.worker.copy(&jobs[0], 1).await.unwrap(), CopyOutcome::Copied);
    let copied = contact(&setup).await;
    assert_eq!(
        setup.worker.copy(&jobs[1], 1).await.unwrap(),
        CopyOutcome::AlreadyCopied
    );
    assert_eq!(contact(&setup).await, copied, "the duplicate wrote nothing");
    assert_eq!(setup.server.hits("/avatar/1.jpg"), 1);

    // The client changes their picture: a job for the old one left in the queue copies nothing.
    setup.processor.process(&message(3, &second)).await.unwrap();
    assert_eq!(
        setup.worker.copy(&jobs[0], 1).await.unwrap(),
        CopyOutcome::Ignored("the contact has another picture")
    );
    assert_eq!(setup.server.hits("/avatar/1.jpg"), 1);
}

#[tokio::test]
async fn a_failed_copy_never_holds_back_the_message() {
    let setup = setup(true).await;
    // The server fails for now: the message is stored, the copy is retried.
    let url = setup.server.fail("/avatar/flaky.jpg", 503);
    assert_eq!(
        setup.processor.process(&message(1, &url)).await.unwrap(),
        Outcome::Applied
    );
    let job = setup.queued_jobs().remove(0);
    assert!(setup.worker.copy(&job, 1).await.unwrap_err().is_retryable());
    assert_eq!(contact(&setup).await.avatar, None);
    setup.server.serve("/avatar/flaky.jpg", avatar_bytes(), "image/jpeg");
    assert_eq!(setup.worker.copy(&job, 2).await.unwrap(), CopyOutcome::Copied);
    assert!(contact(&setup).await.avatar.unwrap().blob_key.is_some());

    // A picture over the limit can never be copied: recorded, not tried again.
    let huge = setup.server.serve(
        "/avatar/huge.jpg",
        vec![0u8; AVATAR_MAX_BYTES as usize + 1],
        "image/jpeg",
    );
    setup.processor.process(&message(3, &huge)).await.unwrap();
    assert_eq!(setup.run_jobs().await, [CopyOutcome::GivenUp]);
    setup.processor.process(&message(4, &huge)).await.unwrap();
    assert!(setup.queued_jobs().is_empty());
    let avatar = contact(&setup).await.avatar.unwrap();
    assert_eq!((avatar.source_url.as_str(), avatar.blob_key), (huge.as_str(), None));
    assert_eq!(setup.server.hits("/avatar/huge.jpg"), 1);
    assert_eq!(messages_stored(&setup).await, 3);
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
    setup.processor.process(&started).await.unwrap();
    assert_eq!(setup.run_jobs().await, [CopyOutcome::Copied]);
    assert!(contact(&setup).await.avatar.unwrap().blob_key.is_some());
}

#[tokio::test]
async fn nothing_is_queued_when_copies_are_off() {
    let setup = setup(false).await;
    let url = setup.server.serve("/avatar/olena.jpg", avatar_bytes(), "image/jpeg");
    setup.processor.process(&message(1, &url)).await.unwrap();
    assert!(setup.queued_jobs().is_empty());
    assert_eq!(setup.server.hits("/avatar/olena.jpg"), 0);
    assert_eq!(contact(&setup).await.avatar, None);
}
