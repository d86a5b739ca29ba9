//! The staff API's write routes for replies on the in-memory adapters: announcing uploads,
//! posting internal comments and replies to the client (queued for the sender), and quick
//! replies. Each success and each refusal.

use std::collections::HashMap;
use std::sync::Arc;

use api::{Api, Settings};
use async_trait::async_trait;
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, RequestExt};
use serde_json::{Value, json};
use shared::blobs::MemoryBlobStore;
use shared::ids::{CommentId, IntegrationId, TaskId};
use shared::memory::{MemoryQueue, MemoryStore};
use shared::model::{Author, AuthorKind, Comment, CommentStatus, Task};
use shared::outbound::OutboundJob;
use shared::ports::{
    ContactStore, IntegrationStore, MessageQueue, MessageStore, MessageWrite, PartRef, QueueError, QueueMessage,
    ReplyStore, StaffStore, TaskWrite, token_hash,
};
use shared::rules::contact_id;
use shared::time::Timestamp;
use testkit::build;

const TOKEN: &str = "staff-token-0123456789abcdef";
const USER: &str = "01234567890A=";

struct World {
    store: Arc<MemoryStore>,
    blobs: Arc<MemoryBlobStore>,
    queue: Arc<MemoryQueue>,
    api: Api,
    task: Task,
}

struct Answer {
    status: StatusCode,
    json: Value,
    headers: lambda_http::http::HeaderMap,
}

impl Answer {
    fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or_default()
    }
}

fn now() -> Timestamp {
    Timestamp::now()
}

/// The management routes' settings (not exercised here: see `admin.rs`).
fn settings() -> Settings {
    Settings {
        viber_api_url: "http://127.0.0.1:9/pa".into(),
        public_base_url: Some("https://viberdesk.test".into()),
        blob_origin: None,
    }
}

impl World {
    async fn new(send_as_staff: bool) -> Self {
        let store = Arc::new(MemoryStore::new());
        store
            .put_staff(
                &build::staff("anna")
                    .name("Anna")
                    .avatar("https://avatars.test/anna.png")
                    .build(),
                &token_hash(TOKEN),
            )
            .await
            .unwrap();
        let integration_id = IntegrationId::parse("acme").unwrap();
        store
            .put_integration(&build::integration("acme").send_as_staff(send_as_staff).build())
            .await
            .unwrap();
        let task = build::task(TaskId::generate().as_str())
            .integration(&integration_id)
            .requester(&contact_id(&integration_id, USER))
            .build();
        let contact = build::contact_of(&integration_id, USER)
            .from_ukraine()
            .writing_in(&task.id)
            .build();
        let first = Comment {
            id: CommentId::generate(),
            task_id: task.id.clone(),
            author: Author {
                kind: AuthorKind::Contact,
                id: contact.id.as_str().into(),
            },
            text: Some("Добрий день".into()),
            attachment_ids: vec![],
            notify_client: false,
            status: CommentStatus::Received,
            status_reason: None,
            created_at: now(),
            viber_message_type: Some("text".into()),
            viber_message_token: Some(1),
            parts: Default::default(),
            outbound: None,
            details: None,
        };
        store
            .apply_message(&MessageWrite {
                earlier_tasks: Vec::new(),
                contact: Some(contact),
                expected_contact_version: None,
                task: TaskWrite::Create(task.clone()),
                comment: first,
                attachments: vec![],
            })
            .await
            .unwrap();
        let blobs = Arc::new(MemoryBlobStore::new("http://127.0.0.1:3000"));
        let queue = Arc::new(MemoryQueue::new());
        let api = Api::new(store.clone(), blobs.clone(), queue.clone(), settings());
        World {
            store,
            blobs,
            queue,
            api,
            task,
        }
    }

    async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Answer {
        self.call_with(method, uri, body, &[]).await
    }

    async fn call_with(&self, method: Method, uri: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Answer {
        let mut builder = lambda_http::http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
        let request = builder
            .body(body)
            .unwrap()
            .with_query_string_parameters(HashMap::<String, Vec<String>>::new());
        let response = self.api.handle(request).await;
        let status = response.status();
        let headers = response.headers().clone();
        let json = match response.into_body() {
            Body::Text(text) => serde_json::from_str(&text).unwrap(),
            _ => Value::Null,
        };
        Answer { status, json, headers }
    }

    fn comments_uri(&self) -> String {
        format!("/api/tasks/{}/comments", self.task.id)
    }

    /// Announces and uploads a file through its signed URL, as a browser would.
    async fn upload(&self, file_name: &str, content_type: &str, bytes: &[u8]) -> String {
        let answer = self
            .call(
                Method::POST,
                "/api/attachments",
                Some(json!({"file_name": file_name, "content_type": content_type, "size": bytes.len()})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json);
        self.put_to(answer.json["upload_url"].as_str().unwrap(), content_type, bytes);
        answer.json["id"].as_str().unwrap().to_owned()
    }

    fn put_to(&self, url: &str, content_type: &str, bytes: &[u8]) {
        let (path, query) = url.split_once('?').unwrap();
        let key = path.split_once("/blobs/").unwrap().1;
        let key = percent_decode(key);
        self.blobs
            .accept_put(&key, query, Some(content_type), bytes::Bytes::copy_from_slice(bytes))
            .unwrap();
    }

    fn jobs(&self) -> Vec<shared::memory::Received> {
        let jobs = self.queue.receive(10);
        for job in &jobs {
            self.queue.delete(job.id);
        }
        jobs
    }

    async fn stored(&self, id: &str) -> Comment {
        let part = PartRef {
            task_id: self.task.id.clone(),
            comment_id: CommentId::parse(id).unwrap(),
        };
        self.store.get_reply(&part).await.unwrap().unwrap().comment
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn an_upload_is_announced_with_a_short_lived_signed_put_url() {
    let world = World::new(false).await;
    let answer = world
        .call(
            Method::POST,
            "/api/attachments",
            Some(json!({"file_name": "Фото 1.JPG", "content_type": "image/jpeg", "size": 2048})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json);
    let id = answer.json["id"].as_str().unwrap();
    let url = answer.json["upload_url"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:3000/blobs/attachments/"), "{url}");
    assert!(url.contains("sig="), "{url}");
    let expires = Timestamp::parse_rfc3339(answer.json["expires_at"].as_str().unwrap()).unwrap();
    let minutes = (expires.millis() - now().millis()) / 60_000;
    assert!((14..=15).contains(&minutes), "{minutes}");
    // Announced, not yet uploaded: GET shows it unavailable.
    let got = world.call(Method::GET, &format!("/api/attachments/{id}"), None).await;
    assert_eq!(got.json["available"], false, "{}", got.json);
    assert_eq!(got.json["file_name"], "Фото 1.JPG");
    // The URL takes exactly the announced bytes, nothing else.
    let (path, query) = url.split_once('?').unwrap();
    let key = percent_decode(path.split_once("/blobs/").unwrap().1);
    let wrong_size = world
        .blobs
        .accept_put(&key, query, Some("image/jpeg"), bytes::Bytes::from(vec![0u8; 10]));
    assert!(wrong_size.is_err());
    world.put_to(url, "image/jpeg", &[1u8; 2048]);
}

#[tokio::test]
async fn the_first_read_after_an_upload_records_it_available() {
    use shared::ports::TaskStore;
    let world = World::new(false).await;
    let id = world.upload("scan.pdf", "application/pdf", b"%PDF-1.7 scan").await;
    let attachment_id = shared::ids::AttachmentId::parse(&id).unwrap();
    let announced = world.store.get_attachment(&attachment_id).await.unwrap().unwrap();
    assert!(!announced.available && announced.awaiting_upload);

    let got = world.call(Method::GET, &format!("/api/attachments/{id}"), None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.json["available"], true, "{}", got.json);
    assert!(
        got.json["download_url"].as_str().unwrap().contains("/blobs/"),
        "{}",
        got.json
    );
    // Recorded: later reads and the reply that names it need no look into the bucket.
    let recorded = world.store.get_attachment(&attachment_id).await.unwrap().unwrap();
    assert!(recorded.available && !recorded.awaiting_upload && recorded.unavailable_reason.is_none());
    let answer = world
        .call(
            Method::POST,
            &world.comments_uri(),
            Some(json!({"attachment_ids": [id], "notify_client": true})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.json);
}

#[tokio::test]
async fn uploads_viber_cannot_take_are_refused_before_upload() {
    let world = World::new(false).await;
    for (body, code) in [
        (
            json!({"file_name": "big.zip", "content_type": "application/zip", "size": 60_000_000u64}),
            "file_too_large",
        ),
        (
            json!({"file_name": "setup.exe", "content_type": "application/x-msdownload", "size": 1000}),
            "file_type_not_allowed",
        ),
        (
            json!({"file_name": "x.pdf", "content_type": "application/pdf"}),
            "invalid_body",
        ),
        (
            json!({"file_name": "x.pdf", "content_type": "application/pdf", "size": -1}),
            "invalid_body",
        ),
        (
            json!({"file_name": "x.pdf", "content_type": "application/pdf", "size": 1, "extra": 1}),
            "invalid_body",
        ),
    ] {
        let answer = world.call(Method::POST, "/api/attachments", Some(body.clone())).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::BAD_REQUEST, code),
            "{body}: {}",
            answer.json
        );
    }
    let empty = world.call(Method::POST, "/api/attachments", None).await;
    assert_eq!((empty.status, empty.code()), (StatusCode::BAD_REQUEST, "invalid_body"));
    assert!(world.blobs.keys().is_empty());
}

#[tokio::test]
async fn a_reply_to_the_client_is_queued_with_its_plan() {
    let world = World::new(true).await;
    let picture = world.upload("photo.jpg", "image/jpeg", &[9u8; 3000]).await;
    let answer = world
        .call(
            Method::POST,
            &world.comments_uri(),
            Some(json!({"text": "Ось фото", "attachment_ids": [picture], "notify_client": true})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.json);
    let id = answer.json["id"].as_str().unwrap().to_owned();
    assert_eq!(answer.json, json!({"id": id, "status": "queued"}));

    let jobs = world.jobs();
    assert_eq!(jobs.len(), 1);
    let job = OutboundJob::from_json(&jobs[0].message.body).unwrap();
    assert_eq!(job.comment_id.as_str(), id);
    assert_eq!(jobs[0].message.group_id.as_deref(), Some(job.contact_id.as_str()));
    assert_eq!(jobs[0].message.dedup_id.as_deref(), Some(id.as_str()));

    let stored = world.stored(&id).await;
    assert_eq!(stored.status, CommentStatus::Queued);
    let plan = stored.outbound.expect("a plan");
    assert_eq!(plan.viber_user_id, USER);
    assert_eq!(plan.as_staff.map(|s| s.name), Some("Anna".into()));
    assert_eq!(plan.attachments.len(), 1);
    assert!(plan.attachments[0].available);

    // The conversation shows it queued, with its attachment now available.
    let list = world.call(Method::GET, &world.comments_uri(), None).await;
    let last = list.json["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["status"], "queued");
    assert_eq!(last["author"], json!({"type": "staff", "id": "anna"}));
    assert_eq!(last["attachments"][0]["available"], true);
    assert!(last.get("outbound").is_none(), "the plan is internal: {last}");
}

#[tokio::test]
async fn an_internal_comment_is_stored_and_never_queued() {
    let world = World::new(false).await;
    let answer = world
        .call(
            Method::POST,
            &world.comments_uri(),
            Some(json!({"text": "Check the invoice"})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json);
    assert_eq!(answer.json["status"], "internal");
    assert_eq!(answer.json["notify_client"], false);
    let explicit = world
        .call(
            Method::POST,
            &world.comments_uri(),
            Some(json!({"text": "Note", "notify_client": false})),
        )
        .await;
    assert_eq!(explicit.status, StatusCode::CREATED);
    assert!(world.jobs().is_empty());
}

#[tokio::test]
async fn a_quick_reply_fills_in_the_clients_name() {
    let world = World::new(false).await;
    let created = world
        .call(
            Method::POST,
            "/api/quick-replies",
            Some(json!({"title": "Greeting", "text": "Вітаю, {client_name}! Це {staff_name}."})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let quick = created.json["id"].as_str().unwrap();
    let answer = world
        .call(
            Method::POST,
            &world.comments_uri(),
            Some(json!({"quick_reply_id": quick, "notify_client": true})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.json);
    let stored = world.stored(answer.json["id"].as_str().unwrap()).await;
    assert_eq!(stored.text.as_deref(), Some("Вітаю, Олена! Це Anna."));

    let unknown = world
        .call(
            Method::POST,
            &world.comments_uri(),
            Some(json!({"quick_reply_id": "nope", "notify_client": true})),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::BAD_REQUEST, "unknown_quick_reply")
    );
}

#[tokio::test]
async fn bad_replies_are_refused_and_nothing_is_queued_or_stored() {
    let world = World::new(false).await;
    let announced = world
        .call(
            Method::POST,
            "/api/attachments",
            Some(json!({"file_name": "scan.pdf", "content_type": "application/pdf", "size": 100})),
        )
        .await;
    let never_uploaded = announced.json["id"].as_str().unwrap();
    for (body, status, code) in [
        (json!({"notify_client": true}), StatusCode::BAD_REQUEST, "empty_reply"),
        (
            json!({"text": "  ", "notify_client": true}),
            StatusCode::BAD_REQUEST,
            "empty_reply",
        ),
        (
            json!({"attachment_ids": [never_uploaded], "notify_client": true}),
            StatusCode::BAD_REQUEST,
            "attachment_not_uploaded",
        ),
        (
            json!({"attachment_ids": ["a-unknown"], "notify_client": true}),
            StatusCode::BAD_REQUEST,
            "unknown_attachment",
        ),
        (json!({"text": 5}), StatusCode::BAD_REQUEST, "invalid_body"),
        (
            json!({"text": "hi", "notify": true}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
    ] {
        let answer = world
            .call(Method::POST, &world.comments_uri(), Some(body.clone()))
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (status, code),
            "{body}: {}",
            answer.json
        );
    }
    let unknown_task = world
        .call(
            Method::POST,
            "/api/tasks/no-such-task/comments",
            Some(json!({"text": "hi", "notify_client": true})),
        )
        .await;
    assert_eq!(
        (unknown_task.status, unknown_task.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert!(world.jobs().is_empty());
    let list = world.call(Method::GET, &world.comments_uri(), None).await;
    assert_eq!(
        list.json["items"].as_array().unwrap().len(),
        1,
        "only the client's message"
    );
}

#[tokio::test]
async fn a_reply_to_an_unsubscribed_client_is_a_conflict() {
    let world = World::new(false).await;
    let mut contact = world
        .store
        .get_contact(&world.task.requester_id)
        .await
        .unwrap()
        .unwrap();
    let read = contact.version;
    contact.subscribed = false;
    contact.version += 1;
    world.store.put_contact(&contact, Some(read)).await.unwrap();
    let answer = world
        .call(
            Method::POST,
            &world.comments_uri(),
            Some(json!({"text": "Are you there?", "notify_client": true})),
        )
        .await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::CONFLICT, "client_unsubscribed")
    );
    assert!(world.jobs().is_empty());
    // An internal note about them is still fine.
    let note = world
        .call(
            Method::POST,
            &world.comments_uri(),
            Some(json!({"text": "Unsubscribed"})),
        )
        .await;
    assert_eq!(note.status, StatusCode::CREATED);
}

struct BrokenQueue;

#[async_trait]
impl MessageQueue for BrokenQueue {
    async fn send(&self, _: QueueMessage) -> Result<(), QueueError> {
        Err(QueueError::Unavailable("connection refused".into()))
    }
}

#[tokio::test]
async fn a_reply_that_cannot_be_queued_is_not_stored() {
    let mut world = World::new(false).await;
    world.api = Api::new(
        world.store.clone(),
        world.blobs.clone(),
        Arc::new(BrokenQueue),
        settings(),
    );
    let answer = world
        .call(
            Method::POST,
            &world.comments_uri(),
            Some(json!({"text": "Hello", "notify_client": true})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    let list = world.call(Method::GET, &world.comments_uri(), None).await;
    assert_eq!(list.json["items"].as_array().unwrap().len(), 1);
}

const KEY: &str = "8d3f0a6e-5b1c-4e2a-9f7d-0c1b2a3d4e5f";

impl World {
    /// Posts a reply under `key`.
    async fn post_keyed(&self, key: &str, body: Value) -> Answer {
        self.call_with(
            Method::POST,
            &self.comments_uri(),
            Some(body),
            &[("Idempotency-Key", key)],
        )
        .await
    }

    async fn staff_comments(&self) -> Vec<Value> {
        let list = self.call(Method::GET, &self.comments_uri(), None).await;
        let items = list.json["items"].as_array().unwrap().clone();
        items.into_iter().filter(|c| c["author"]["type"] == "staff").collect()
    }
}

fn replayed(answer: &Answer) -> bool {
    answer.headers.get("idempotent-replayed").is_some_and(|v| v == "true")
}

#[tokio::test]
async fn a_reply_posted_again_under_its_key_is_answered_not_stored_or_sent_twice() {
    let world = World::new(false).await;
    let body = json!({"text": "Ваше замовлення вже в дорозі", "notify_client": true});
    let first = world.post_keyed(KEY, body.clone()).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.json);
    assert!(!replayed(&first));
    let id = first.json["id"].as_str().unwrap().to_owned();
    assert_eq!(world.jobs().len(), 1);

    let again = world.post_keyed(KEY, body.clone()).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.json);
    assert_eq!(again.json, json!({"id": id, "status": "queued"}));
    assert!(replayed(&again));
    assert!(world.jobs().is_empty(), "nothing queued again");
    assert_eq!(world.staff_comments().await.len(), 1);

    // Without a key the same text is another reply (a staff member may well say it twice).
    let unkeyed = world.call(Method::POST, &world.comments_uri(), Some(body)).await;
    assert_eq!(unkeyed.status, StatusCode::ACCEPTED);
    assert_ne!(unkeyed.json["id"], id);
    assert_eq!(world.staff_comments().await.len(), 2);
}

#[tokio::test]
async fn a_reply_whose_write_landed_but_answered_503_is_not_stored_again_on_retry() {
    let mut world = World::new(false).await;
    let faulty = Arc::new(testkit::faulty::Faulty::new(world.store.clone()).answer_lost("add_staff_comment", 1));
    world.api = Api::new(faulty, world.blobs.clone(), world.queue.clone(), settings());
    let body = json!({"text": "Готово", "notify_client": true});
    let lost = world.post_keyed(KEY, body.clone()).await;
    assert_eq!(lost.status, StatusCode::SERVICE_UNAVAILABLE, "{}", lost.json);
    assert_eq!(lost.code(), "store_unavailable");
    // The comment and its job did land.
    let stored = world.staff_comments().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(world.jobs().len(), 1);

    let retry = world.post_keyed(KEY, body).await;
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{}", retry.json);
    assert!(replayed(&retry));
    assert_eq!(retry.json["id"], stored[0]["id"]);
    assert!(world.jobs().is_empty());
    assert_eq!(world.staff_comments().await.len(), 1);
}

#[tokio::test]
async fn an_internal_comment_posted_again_under_its_key_answers_the_comment() {
    let world = World::new(false).await;
    let body = json!({"text": "Check the invoice"});
    let first = world.post_keyed(KEY, body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    let again = world.post_keyed(KEY, body).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.json);
    assert!(replayed(&again));
    assert_eq!(again.json, first.json);
    assert_eq!(world.staff_comments().await.len(), 1);
}

#[tokio::test]
async fn a_key_used_for_another_request_is_refused_and_nothing_is_posted() {
    let world = World::new(false).await;
    let first = world
        .post_keyed(KEY, json!({"text": "One", "notify_client": true}))
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    world.jobs();
    for other in [
        json!({"text": "Two", "notify_client": true}),
        json!({"text": "One", "notify_client": false}),
        json!({"text": "One", "notify_client": true, "attachment_ids": []}),
    ] {
        let answer = world.post_keyed(KEY, other.clone()).await;
        if other["attachment_ids"].is_array() {
            // No attachments named is the same request as none given.
            assert_eq!(answer.status, StatusCode::ACCEPTED, "{other}");
            assert!(replayed(&answer));
            continue;
        }
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{other}: {}",
            answer.json
        );
        assert_eq!(answer.code(), "idempotency_key_reused");
    }
    // The same key on another task.
    let other_task = world
        .call_with(
            Method::POST,
            &format!("/api/tasks/{}/comments", TaskId::generate()),
            Some(json!({"text": "One", "notify_client": true})),
            &[("Idempotency-Key", KEY)],
        )
        .await;
    assert_eq!(
        other_task.status,
        StatusCode::NOT_FOUND,
        "a task that does not exist is looked up first"
    );
    assert!(world.jobs().is_empty());
    assert_eq!(world.staff_comments().await.len(), 1);
}

#[tokio::test]
async fn malformed_idempotency_keys_are_refused_before_anything_is_posted() {
    let world = World::new(false).await;
    let body = json!({"text": "Hello", "notify_client": true});
    let too_long = "k".repeat(65);
    for key in ["", "two words", "a/b", too_long.as_str()] {
        let answer = world.post_keyed(key, body.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{key:?}: {}", answer.json);
        assert_eq!(answer.code(), "invalid_idempotency_key");
    }
    let twice = world
        .call_with(
            Method::POST,
            &world.comments_uri(),
            Some(body),
            &[("Idempotency-Key", "a"), ("Idempotency-Key", "b")],
        )
        .await;
    assert_eq!(twice.code(), "invalid_idempotency_key");
    assert!(world.jobs().is_empty());
    assert!(world.staff_comments().await.is_empty());
}

#[tokio::test]
async fn quick_replies_are_created_listed_changed_and_deleted() {
    let world = World::new(false).await;
    let mut ids = Vec::new();
    for (title, text) in [("Hello", "Hi {client_name}"), ("Bye", "Have a nice day")] {
        let created = world
            .call(
                Method::POST,
                "/api/quick-replies",
                Some(json!({"title": title, "text": text})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert_eq!(created.json["title"], title);
        ids.push(created.json["id"].as_str().unwrap().to_owned());
    }
    let list = world.call(Method::GET, "/api/quick-replies", None).await;
    assert_eq!(list.status, StatusCode::OK);
    let listed: Vec<&str> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(list.json["next_cursor"], Value::Null);

    let uri = format!("/api/quick-replies/{}", ids[0]);
    let changed = world
        .call(Method::PATCH, &uri, Some(json!({"text": "Hello {client_name}!"})))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.json);
    assert_eq!(
        changed.json,
        json!({"id": ids[0], "title": "Hello", "text": "Hello {client_name}!"})
    );
    let got = world.call(Method::GET, &uri, None).await;
    assert_eq!(got.json, changed.json);

    let bad = world.call(Method::PATCH, &uri, Some(json!({"title": ""}))).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_body"));
    let missing = world
        .call(Method::POST, "/api/quick-replies", Some(json!({"title": "x"})))
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);

    let deleted = world.call(Method::DELETE, &uri, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let body = (method == Method::PATCH).then(|| json!({"text": "x"}));
        let gone = world.call(method.clone(), &uri, body).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{method}");
    }
    let wrong = world.call(Method::PUT, "/api/quick-replies", None).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn write_routes_need_a_staff_token() {
    let world = World::new(false).await;
    for (method, uri) in [
        (Method::POST, "/api/attachments".to_owned()),
        (Method::POST, world.comments_uri()),
        (Method::POST, "/api/quick-replies".to_owned()),
        (Method::DELETE, "/api/quick-replies/q1".to_owned()),
    ] {
        let request = lambda_http::http::Request::builder()
            .method(method.clone())
            .uri(&uri)
            .body(Body::Text(json!({"text": "x"}).to_string()))
            .unwrap();
        let response = world.api.handle(request).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {uri}");
    }
    assert!(world.jobs().is_empty());
}
