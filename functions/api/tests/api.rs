//! The staff API's read routes on the in-memory store: each route's answer and shape, bearer
//! authentication, 404 / 405 / 400 / 503, filters and pagination, comment statuses, and
//! attachment download URLs.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use api::{Api, DOWNLOAD_URL_TTL_SECONDS, Settings};
use async_trait::async_trait;
use lambda_http::http::{HeaderMap, Method, StatusCode, header};
use lambda_http::{Body, RequestExt};
use serde_json::{Value, json};
use shared::ids::{AttachmentId, CommentId, ContactId, IntegrationId, TaskId};
use shared::memory::{MemoryQueue, MemoryStore};
use shared::model::{
    Attachment, Author, AuthorKind, Comment, CommentStatus, Contact, CurrentTask, Task, TaskState, TaskStatus,
};
use shared::ports::{
    BlobError, BlobStore, ContactStore, DeliveryStore, MessageStore, MessageWrite, PartRef, StaffStore, TaskWrite,
    token_hash,
};
use shared::rules::contact_id;
use shared::time::Timestamp;
use testkit::build;
use testkit::faulty::Faulty;

const OWNER_TOKEN: &str = "owner-secret-token-0123456789";
const STAFF_TOKEN: &str = "staff-secret-token-9876543210";
/// 2024-11-25T10:02:35.000Z
const T0: i64 = 1_732_528_955_000;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_millis(T0 + seconds * 1000)
}

fn rfc3339(seconds: i64) -> String {
    at(seconds).to_rfc3339()
}

// ---- A blob store that signs deterministic URLs, and a store that is down ----

#[derive(Default)]
struct TestBlobs {
    missing: Mutex<HashSet<String>>,
    down: AtomicBool,
}

#[async_trait]
impl BlobStore for TestBlobs {
    async fn put(&self, _key: &str, _bytes: bytes::Bytes, _content_type: &str) -> Result<(), BlobError> {
        Ok(())
    }

    async fn presign_get(&self, key: &str, file_name: &str, expires_at: Timestamp) -> Result<String, BlobError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(BlobError::Unavailable("bucket down".into()));
        }
        if self.missing.lock().unwrap().contains(key) {
            return Err(BlobError::NotFound(key.into()));
        }
        Ok(format!(
            "https://blobs.test/{key}?name={file_name}&expires={}",
            expires_at.millis()
        ))
    }

    async fn presign_put(
        &self,
        key: &str,
        _content_type: &str,
        _size: u64,
        expires_at: Timestamp,
    ) -> Result<String, BlobError> {
        Ok(format!(
            "https://blobs.test/{key}?upload&expires={}",
            expires_at.millis()
        ))
    }

    async fn stat(&self, key: &str) -> Result<Option<u64>, BlobError> {
        Ok((!self.missing.lock().unwrap().contains(key)).then_some(0))
    }
}

/// The management routes' settings (not exercised here: see `admin.rs`).
fn settings() -> Settings {
    Settings {
        viber_api_url: "http://127.0.0.1:9/pa".into(),
        public_base_url: Some("https://viberdesk.test".into()),
        blob_origin: None,
    }
}

// ---- The world: two staff members and helpers that write through the store ports ----

struct World {
    store: Arc<MemoryStore>,
    blobs: Arc<TestBlobs>,
    api: Api,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

impl Reply {
    fn error_code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or_default()
    }

    fn ids(&self) -> Vec<String> {
        self.json["items"]
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {}", self.json))
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// A request as API Gateway (HTTP API, payload 2.0) hands it over: raw path, parsed query.
fn request(method: Method, uri: &str, authorization: Option<&str>) -> lambda_http::Request {
    let mut builder = lambda_http::http::Request::builder().method(method).uri(uri);
    if let Some(authorization) = authorization {
        builder = builder.header(header::AUTHORIZATION, authorization);
    }
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    if let Some((_, raw)) = uri.split_once('?') {
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            query.entry(key.to_owned()).or_default().push(value.to_owned());
        }
    }
    builder.body(Body::Empty).unwrap().with_query_string_parameters(query)
}

impl World {
    async fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        store
            .put_staff(
                &build::staff("olga")
                    .name("Olga")
                    .owner()
                    .avatar("https://avatars.test/olga.png")
                    .created_at(at(-1000))
                    .build(),
                &token_hash(OWNER_TOKEN),
            )
            .await
            .unwrap();
        store
            .put_staff(
                &build::staff("ivan").name("Ivan").created_at(at(-1000)).build(),
                &token_hash(STAFF_TOKEN),
            )
            .await
            .unwrap();
        let blobs = Arc::new(TestBlobs::default());
        let api = Api::new(store.clone(), blobs.clone(), Arc::new(MemoryQueue::new()), settings());
        World { store, blobs, api }
    }

    async fn send(&self, method: Method, uri: &str, authorization: Option<&str>) -> Reply {
        let response = self.api.handle(request(method, uri, authorization)).await;
        let (parts, body) = response.into_parts();
        let json = match body {
            Body::Text(text) => serde_json::from_str(&text).unwrap(),
            other => panic!("expected a JSON body, got {other:?}"),
        };
        assert_eq!(parts.headers[header::CONTENT_TYPE], "application/json");
        Reply {
            status: parts.status,
            headers: parts.headers,
            json,
        }
    }

    async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, Some(&format!("Bearer {OWNER_TOKEN}")))
            .await
    }

    async fn get_ok(&self, uri: &str) -> Value {
        let reply = self.get(uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.json);
        reply.json
    }

    /// A client's message that opens a task (and creates or updates the contact).
    async fn open_task(
        &self,
        integration: &str,
        user: &str,
        status: TaskStatus,
        assignee: Option<&str>,
        seconds: i64,
    ) -> Task {
        let integration_id = IntegrationId::parse(integration).unwrap();
        let contact_id = contact_id(&integration_id, user);
        let existing = self.store.get_contact(&contact_id).await.unwrap();
        let task = build::task(&format!("task-{integration}-{user}-{seconds}"))
            .integration(&integration_id)
            .requester(&contact_id)
            .title(&format!("Viber: {user}"))
            .description(&format!("Conversation with {user} in Viber."))
            .status(status)
            .assignee(assignee)
            .participants(&["ivan"])
            .previous(
                existing
                    .as_ref()
                    .and_then(|c| c.current_task.as_ref())
                    .map(|current| current.id.clone()),
            )
            .at(at(seconds))
            .build();
        let mut contact = existing.clone().unwrap_or_else(|| Contact {
            subscription_changed_at: Some(at(seconds)),
            ..build::contact_of(&integration_id, user)
                .name(&format!("Client {user}"))
                .from_ukraine()
                .version(0)
                .at(at(seconds))
                .build()
        });
        contact.version += 1;
        contact.updated_at = at(seconds);
        contact.current_task = Some(CurrentTask {
            id: task.id.clone(),
            state: TaskState::of(status, false),
            since: None,
            previous: None,
        });
        let comment = client_comment(&task, seconds, "hello");
        self.store
            .apply_message(&MessageWrite {
                earlier_tasks: Vec::new(),
                contact: Some(contact),
                expected_contact_version: existing.map(|c| c.version),
                task: TaskWrite::Create(task.clone()),
                comment,
                attachments: Vec::new(),
            })
            .await
            .unwrap();
        task
    }

    /// One more comment (a client's or a staff member's) in `task`, with its attachments.
    async fn add_comment(&self, task: &Task, comment: Comment, attachments: Vec<Attachment>) {
        let existing = self.store.get_contact(&task.requester_id).await.unwrap().unwrap();
        let mut contact = existing.clone();
        contact.version += 1;
        self.store
            .apply_message(&MessageWrite {
                earlier_tasks: Vec::new(),
                contact: Some(contact),
                expected_contact_version: Some(existing.version),
                task: TaskWrite::Append {
                    task_id: task.id.clone(),
                    last_message_at: comment.created_at,
                    require_active: false,
                    last_message: None,
                    requester_name: None,
                    requester_avatar: None,
                },
                comment,
                attachments,
            })
            .await
            .unwrap();
    }
}

fn comment_id(seconds: i64, n: u64) -> CommentId {
    CommentId::parse(&format!("{:012x}-{n}", at(seconds).millis())).unwrap()
}

fn client_comment(task: &Task, seconds: i64, text: &str) -> Comment {
    Comment {
        id: comment_id(seconds, 0),
        task_id: task.id.clone(),
        author: Author {
            kind: AuthorKind::Contact,
            id: task.requester_id.to_string(),
        },
        text: Some(text.into()),
        attachment_ids: Vec::new(),
        notify_client: false,
        status: CommentStatus::Received,
        status_reason: None,
        created_at: at(seconds),
        viber_message_type: Some("text".into()),
        viber_message_token: Some(seconds as u64),
        parts: Default::default(),
        outbound: None,
        details: None,
    }
}

fn staff_comment(task: &Task, seconds: i64, text: &str, status: CommentStatus) -> Comment {
    Comment {
        id: comment_id(seconds, 1),
        task_id: task.id.clone(),
        author: Author {
            kind: AuthorKind::Staff,
            id: "ivan".into(),
        },
        text: Some(text.into()),
        attachment_ids: Vec::new(),
        notify_client: status != CommentStatus::Internal,
        status,
        status_reason: None,
        created_at: at(seconds),
        viber_message_type: None,
        viber_message_token: None,
        parts: Default::default(),
        outbound: None,
        details: None,
    }
}

fn attachment(id: &str, available: bool) -> Attachment {
    Attachment {
        id: AttachmentId::parse(id).unwrap(),
        file_name: format!("{id} report.pdf"),
        content_type: "application/pdf".into(),
        size: 1234,
        available,
        unavailable_reason: (!available).then(|| "Viber's link had expired".to_owned()),
        awaiting_upload: false,
        blob_key: format!("attachments/{id}"),
        created_at: at(0),
    }
}

// ---- Authentication ----

#[tokio::test]
async fn me_is_the_calling_staff_member() {
    let world = World::new().await;
    assert_eq!(
        world.get_ok("/api/me").await,
        json!({"id": "olga", "name": "Olga", "avatar_url": "https://avatars.test/olga.png", "role": "owner"})
    );
    let ivan = world
        .send(Method::GET, "/api/me", Some(&format!("Bearer {STAFF_TOKEN}")))
        .await;
    assert_eq!(ivan.status, StatusCode::OK);
    assert_eq!(
        ivan.json,
        json!({"id": "ivan", "name": "Ivan", "avatar_url": null, "role": "staff"})
    );
    let lower_case_scheme = world
        .send(Method::GET, "/api/me", Some(&format!("bearer {STAFF_TOKEN}")))
        .await;
    assert_eq!(lower_case_scheme.status, StatusCode::OK);
}

#[tokio::test]
async fn every_route_needs_a_valid_bearer_token() {
    let world = World::new().await;
    let wrong = format!("Bearer {OWNER_TOKEN}x");
    let basic = "Basic b2xnYTpzZWNyZXQ=".to_owned();
    let cases: [(Option<&str>, &str); 5] = [
        (None, "Authorization: Bearer"),
        (Some(&wrong), "not valid"),
        (Some(&basic), "must be 'Bearer <token>'"),
        (Some("Bearer"), "must be 'Bearer <token>'"),
        (Some(OWNER_TOKEN), "must be 'Bearer <token>'"),
    ];
    for uri in [
        "/api/me",
        "/api/tasks",
        "/api/tasks/t1",
        "/api/tasks/t1/comments",
        "/api/contacts",
        "/api/contacts/c1",
        "/api/attachments/a1",
        "/api/no-such-route",
    ] {
        for (authorization, message) in &cases {
            let reply = world.send(Method::GET, uri, *authorization).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri} {authorization:?}");
            assert_eq!(reply.error_code(), "unauthorized");
            assert!(
                reply.json["error"]["message"].as_str().unwrap().contains(message),
                "{}",
                reply.json
            );
            assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
            assert!(
                !reply.json.to_string().contains(OWNER_TOKEN),
                "the token is never echoed"
            );
        }
    }
}

#[tokio::test]
async fn a_store_failure_is_a_503() {
    let world = World::new().await;
    let staff_down = Api::new(
        Arc::new(Faulty::new(world.store.clone()).down("StaffStore")),
        world.blobs.clone(),
        Arc::new(MemoryQueue::new()),
        settings(),
    );
    let response = staff_down
        .handle(request(Method::GET, "/api/me", Some(&format!("Bearer {OWNER_TOKEN}"))))
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    let data_down = World {
        api: Api::new(
            Arc::new(Faulty::new(world.store.clone()).down("TaskStore").down("ContactStore")),
            world.blobs.clone(),
            Arc::new(MemoryQueue::new()),
            settings(),
        ),
        store: world.store.clone(),
        blobs: world.blobs.clone(),
    };
    for uri in [
        "/api/tasks",
        "/api/tasks/t1",
        "/api/tasks/t1/comments",
        "/api/contacts",
        "/api/contacts/c1",
        "/api/attachments/a1",
    ] {
        let reply = data_down.get(uri).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        assert_eq!(reply.error_code(), "store_unavailable");
    }
}

// ---- Routing ----

#[tokio::test]
async fn unknown_routes_are_404_and_other_methods_405() {
    let world = World::new().await;
    for uri in ["/api/nothing", "/api/tasks/t1/nothing", "/api", "/api/me/x"] {
        let reply = world.get(uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(reply.error_code(), "not_found");
    }
    for (method, uri) in [
        (Method::POST, "/api/me"),
        (Method::DELETE, "/api/tasks"),
        (Method::PUT, "/api/contacts"),
        (Method::PATCH, "/api/attachments/a1"),
    ] {
        let reply = world
            .send(method.clone(), uri, Some(&format!("Bearer {OWNER_TOKEN}")))
            .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_eq!(reply.error_code(), "method_not_allowed");
        assert_eq!(reply.headers[header::ALLOW], "GET");
    }
}

// ---- Tasks ----

#[tokio::test]
async fn a_task_shows_its_fields_and_its_requester() {
    let world = World::new().await;
    let task = world
        .open_task("acme", "u1", TaskStatus::InProgress, Some("olga"), 10)
        .await;
    let contact = contact_id(&IntegrationId::parse("acme").unwrap(), "u1").to_string();
    let expected_task = json!({
        "id": "task-acme-u1-10", "integration_id": "acme", "title": "Viber: u1",
        "description": "Conversation with u1 in Viber.", "status": "in_progress",
        "requester_id": contact, "assignee_id": "olga", "participant_ids": ["ivan"],
        "previous_task_id": null, "created_at": rfc3339(10), "updated_at": rfc3339(10),
        "last_message_at": rfc3339(10), "unread": true, "requester_name": null, "requester_avatar": null,
        "last_message_preview": null, "last_message_type": null
    });
    let list = world.get_ok("/api/tasks").await;
    assert_eq!(list, json!({"items": [expected_task.clone()], "next_cursor": null}));

    let detail = world.get_ok(&format!("/api/tasks/{}", task.id)).await;
    let mut expected_detail = expected_task;
    expected_detail["requester"] = json!({
        "id": contact, "integration_id": "acme", "viber_user_id": "u1", "name": "Client u1",
        "avatar_url": null, "language": "uk", "country": "UA", "api_version": 10, "phone": null,
        "subscribed": true, "created_at": rfc3339(10), "updated_at": rfc3339(10), "avatar": null,
        "group": null, "labels": [], "fields": {}
    });
    assert_eq!(detail, expected_detail);
}

#[tokio::test]
async fn a_follow_up_task_links_the_previous_one() {
    let world = World::new().await;
    let first = world.open_task("acme", "u1", TaskStatus::Completed, None, 10).await;
    let second = world.open_task("acme", "u1", TaskStatus::New, None, 20).await;
    let detail = world.get_ok(&format!("/api/tasks/{}", second.id)).await;
    assert_eq!(detail["previous_task_id"], first.id.as_str());
    assert_eq!(detail["assignee_id"], Value::Null);
}

#[tokio::test]
async fn unknown_and_deleted_tasks_are_404() {
    let world = World::new().await;
    let mut deleted = world.open_task("acme", "u1", TaskStatus::New, None, 10).await;
    deleted.id = TaskId::parse("task-deleted").unwrap();
    deleted.deleted = true;
    let mut contact = world.store.get_contact(&deleted.requester_id).await.unwrap().unwrap();
    let version = contact.version;
    contact.version += 1;
    world
        .store
        .apply_message(&MessageWrite {
            earlier_tasks: Vec::new(),
            contact: Some(contact),
            expected_contact_version: Some(version),
            task: TaskWrite::Create(deleted.clone()),
            comment: client_comment(&deleted, 11, "gone"),
            attachments: Vec::new(),
        })
        .await
        .unwrap();
    for uri in [
        "/api/tasks/task-deleted",
        "/api/tasks/task-deleted/comments",
        "/api/tasks/nope",
        "/api/tasks/nope/comments",
        "/api/tasks/not.an.id",
        "/api/tasks/%2e%2e/comments",
    ] {
        let reply = world.get(uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(reply.error_code(), "not_found");
    }
    assert_eq!(
        world.get("/api/tasks").await.ids(),
        ["task-acme-u1-10"],
        "deleted tasks are not listed"
    );
}

#[tokio::test]
async fn tasks_are_listed_newest_activity_first_and_filtered() {
    let world = World::new().await;
    let a = world.open_task("acme", "u1", TaskStatus::New, Some("olga"), 10).await;
    let b = world
        .open_task("acme", "u2", TaskStatus::Waiting, Some("ivan"), 20)
        .await;
    let c = world.open_task("shop", "u3", TaskStatus::New, Some("ivan"), 30).await;
    let d = world.open_task("shop", "u4", TaskStatus::Completed, None, 40).await;
    // A new message moves the oldest task to the top.
    world.add_comment(&a, client_comment(&a, 50, "again"), vec![]).await;

    let ids = |tasks: &[&Task]| tasks.iter().map(|t| t.id.to_string()).collect::<Vec<_>>();
    assert_eq!(world.get("/api/tasks").await.ids(), ids(&[&a, &d, &c, &b]));
    assert_eq!(world.get("/api/tasks?status=new").await.ids(), ids(&[&a, &c]));
    assert_eq!(world.get("/api/tasks?status=completed").await.ids(), ids(&[&d]));
    assert!(world.get("/api/tasks?status=cancelled").await.ids().is_empty());
    assert_eq!(world.get("/api/tasks?assignee_id=ivan").await.ids(), ids(&[&c, &b]));
    assert_eq!(world.get("/api/tasks?integration_id=shop").await.ids(), ids(&[&d, &c]));
    assert_eq!(
        world
            .get("/api/tasks?status=new&assignee_id=ivan&integration_id=shop")
            .await
            .ids(),
        ids(&[&c])
    );
    assert_eq!(
        world.get("/api/tasks?status=&assignee_id=&integration_id=").await.ids(),
        ids(&[&a, &d, &c, &b]),
        "empty filters are no filters"
    );
    assert_eq!(
        world.get_ok("/api/tasks?integration_id=nobody").await["items"],
        json!([])
    );
}

#[tokio::test]
async fn task_pages_follow_the_cursor_to_the_end() {
    let world = World::new().await;
    let mut expected = Vec::new();
    for n in 0..5 {
        let task = world
            .open_task("acme", &format!("u{n}"), TaskStatus::New, None, n)
            .await;
        expected.insert(0, task.id.to_string());
    }
    let mut seen = Vec::new();
    let mut uri = "/api/tasks?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = world.get_ok(&uri).await;
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/api/tasks?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);
    assert_eq!(world.get("/api/tasks?limit=5").await.json["next_cursor"], Value::Null);
    assert_eq!(world.get("/api/tasks").await.ids().len(), 5, "the default limit is 50");
}

#[tokio::test]
async fn bad_task_filters_limits_and_cursors_are_400() {
    let world = World::new().await;
    world.open_task("acme", "u1", TaskStatus::New, None, 10).await;
    for (query, parameter) in [
        ("status=done", "status"),
        ("status=New", "status"),
        ("status=new&status=waiting", "status"),
        ("assignee_id=not.an.id", "assignee_id"),
        ("integration_id=a/b", "integration_id"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
    ] {
        let reply = world.get(&format!("/api/tasks?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.error_code(), "invalid_parameter", "{query}");
        let message = reply.json["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(parameter), "{query}: {message}");
    }
    for uri in [
        "/api/tasks?cursor=not-hex",
        "/api/contacts?cursor=zz",
        "/api/tasks/task-acme-u1-10/comments?cursor=xyz",
    ] {
        let reply = world.get(uri).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(reply.error_code(), "invalid_cursor", "{uri}");
    }
    for uri in [
        "/api/contacts?limit=1000",
        "/api/tasks/task-acme-u1-10/comments?limit=0",
    ] {
        assert_eq!(world.get(uri).await.status, StatusCode::BAD_REQUEST, "{uri}");
    }
}

// ---- Comments ----

#[tokio::test]
async fn comments_are_oldest_first_with_their_delivery_status() {
    let world = World::new().await;
    let task = world.open_task("acme", "u1", TaskStatus::New, Some("ivan"), 10).await;
    world
        .add_comment(
            &task,
            staff_comment(&task, 20, "internal note", CommentStatus::Internal),
            vec![],
        )
        .await;
    world
        .add_comment(
            &task,
            staff_comment(&task, 30, "on its way", CommentStatus::Queued),
            vec![],
        )
        .await;
    let mut two_parts = staff_comment(&task, 40, "two parts", CommentStatus::Sent);
    two_parts.attachment_ids = vec![AttachmentId::parse("file1").unwrap()];
    world
        .add_comment(&task, two_parts.clone(), vec![attachment("file1", true)])
        .await;
    let mut failing = staff_comment(&task, 50, "will fail", CommentStatus::Sent);
    failing.id = comment_id(50, 2);
    world.add_comment(&task, failing.clone(), vec![]).await;
    let mut with_files = client_comment(&task, 60, "photos");
    with_files.attachment_ids = vec![
        AttachmentId::parse("photo2").unwrap(),
        AttachmentId::parse("photo1").unwrap(),
    ];
    world
        .add_comment(
            &task,
            with_files,
            vec![attachment("photo1", true), attachment("photo2", false)],
        )
        .await;

    let integration = IntegrationId::parse("acme").unwrap();
    for (comment, token, status, reason) in [
        (&two_parts, 1, CommentStatus::Seen, None),
        (&two_parts, 2, CommentStatus::Delivered, None),
        (&failing, 3, CommentStatus::Failed, Some("receiverNotSubscribed")),
    ] {
        let part = PartRef {
            task_id: task.id.clone(),
            comment_id: comment.id.clone(),
        };
        world.store.record_part(&integration, token, &part).await.unwrap();
        world.store.advance_part(&part, token, status, reason).await.unwrap();
    }

    let page = world.get_ok(&format!("/api/tasks/{}/comments", task.id)).await;
    assert_eq!(page["next_cursor"], Value::Null);
    let items = page["items"].as_array().unwrap();
    let summary: Vec<(&str, &str, &str, bool)> = items
        .iter()
        .map(|c| {
            (
                c["text"].as_str().unwrap(),
                c["author"]["type"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["notify_client"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("hello", "contact", "received", false),
            ("internal note", "staff", "internal", false),
            ("on its way", "staff", "queued", true),
            ("two parts", "staff", "delivered", true),
            ("will fail", "staff", "failed", true),
            ("photos", "contact", "received", false),
        ]
    );
    assert_eq!(items[4]["status_reason"], "receiverNotSubscribed");
    assert_eq!(
        items[0],
        json!({
            "id": comment_id(10, 0).as_str(), "task_id": task.id.as_str(),
            "author": {"type": "contact", "id": task.requester_id.as_str()}, "text": "hello",
            "attachments": [], "notify_client": false, "status": "received", "status_reason": null,
            "created_at": rfc3339(10), "message_type": "text", "location": null,
            "shared_contact": null, "sticker_id": null
        })
    );
    assert_eq!(items[1]["author"], json!({"type": "staff", "id": "ivan"}));
    assert_eq!(
        items[3]["attachments"],
        json!([{"id": "file1", "file_name": "file1 report.pdf", "content_type": "application/pdf", "size": 1234, "available": true,
                "unavailable_reason": null}])
    );
    assert_eq!(
        items[5]["attachments"],
        json!([
            {"id": "photo2", "file_name": "photo2 report.pdf", "content_type": "application/pdf", "size": 1234, "available": false,
             "unavailable_reason": "Viber's link had expired"},
            {"id": "photo1", "file_name": "photo1 report.pdf", "content_type": "application/pdf", "size": 1234, "available": true,
             "unavailable_reason": null}
        ]),
        "in the comment's order"
    );
}

#[tokio::test]
async fn comment_pages_follow_the_cursor() {
    let world = World::new().await;
    let task = world.open_task("acme", "u1", TaskStatus::New, None, 0).await;
    for n in 1..5 {
        world
            .add_comment(&task, client_comment(&task, n, &format!("m{n}")), vec![])
            .await;
    }
    let first = world.get_ok(&format!("/api/tasks/{}/comments?limit=3", task.id)).await;
    let texts = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["text"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(texts(&first), ["hello", "m1", "m2"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = world
        .get_ok(&format!("/api/tasks/{}/comments?limit=3&cursor={cursor}", task.id))
        .await;
    assert_eq!(texts(&second), ["m3", "m4"]);
    assert_eq!(second["next_cursor"], Value::Null);
}

// ---- Contacts ----

#[tokio::test]
async fn contacts_are_listed_most_recently_updated_first_and_read_by_id() {
    let world = World::new().await;
    for (n, user) in ["u1", "u2", "u3"].into_iter().enumerate() {
        world
            .open_task("acme", user, TaskStatus::New, None, n as i64 * 10)
            .await;
    }
    let ids: Vec<String> = ["u3", "u2", "u1"]
        .iter()
        .map(|u| contact_id(&IntegrationId::parse("acme").unwrap(), u).to_string())
        .collect();
    let first = world.get_ok("/api/contacts?limit=2").await;
    let second = world
        .get_ok(&format!(
            "/api/contacts?limit=2&cursor={}",
            first["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(second["next_cursor"], Value::Null);
    let listed: Vec<&str> = [&first, &second]
        .iter()
        .flat_map(|page| page["items"].as_array().unwrap())
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids);

    let mut contact = world
        .store
        .get_contact(&ContactId::parse(&ids[0]).unwrap())
        .await
        .unwrap()
        .unwrap();
    let version = contact.version;
    contact.phone = Some("+380671234567".into());
    contact.subscribed = false;
    contact.version += 1;
    world.store.put_contact(&contact, Some(version)).await.unwrap();
    let shown = world.get_ok(&format!("/api/contacts/{}", ids[0])).await;
    assert_eq!(
        shown,
        json!({
            "id": ids[0], "integration_id": "acme", "viber_user_id": "u3", "name": "Client u3",
            "avatar_url": null, "language": "uk", "country": "UA", "api_version": 10,
            "phone": "+380671234567", "subscribed": false, "created_at": rfc3339(20),
            "updated_at": rfc3339(20), "avatar": null, "group": null, "labels": [], "fields": {}
        }),
        "the profile, never current_task / version / subscription_changed_at"
    );
    assert_eq!(first["items"][0].as_object().unwrap().len(), 16);

    for uri in ["/api/contacts/nobody", "/api/contacts/not.an.id"] {
        let reply = world.get(uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(reply.error_code(), "not_found");
    }
}

// ---- Attachments ----

async fn world_with_attachments() -> World {
    let world = World::new().await;
    let task = world.open_task("acme", "u1", TaskStatus::New, None, 0).await;
    let mut comment = client_comment(&task, 5, "files");
    comment.attachment_ids = vec![
        AttachmentId::parse("ready").unwrap(),
        AttachmentId::parse("expired").unwrap(),
    ];
    world
        .add_comment(
            &task,
            comment,
            vec![attachment("ready", true), attachment("expired", false)],
        )
        .await;
    world
}

#[tokio::test]
async fn an_attachment_comes_with_a_short_lived_download_url() {
    let world = world_with_attachments().await;
    let before = Timestamp::now();
    let reply = world.get_ok("/api/attachments/ready").await;
    let after = Timestamp::now();
    let expires_at = Timestamp::parse_rfc3339(reply["expires_at"].as_str().unwrap()).unwrap();
    assert!(
        before.plus_seconds(DOWNLOAD_URL_TTL_SECONDS) <= expires_at
            && expires_at <= after.plus_seconds(DOWNLOAD_URL_TTL_SECONDS)
    );
    assert_eq!(DOWNLOAD_URL_TTL_SECONDS, 15 * 60);
    assert_eq!(
        reply,
        json!({
            "id": "ready", "file_name": "ready report.pdf", "content_type": "application/pdf",
            "size": 1234, "available": true, "unavailable_reason": null,
            "download_url": format!("https://blobs.test/attachments/ready?name=ready report.pdf&expires={}", expires_at.millis()),
            "expires_at": expires_at.to_rfc3339()
        })
    );
}

#[tokio::test]
async fn an_unavailable_attachment_has_no_download_url() {
    let world = world_with_attachments().await;
    let expected = |id: &str, reason: &str| {
        json!({
            "id": id, "file_name": format!("{id} report.pdf"), "content_type": "application/pdf",
            "size": 1234, "available": false, "unavailable_reason": reason, "download_url": null, "expires_at": null
        })
    };
    assert_eq!(
        world.get_ok("/api/attachments/expired").await,
        expected("expired", "Viber's link had expired")
    );
    world.blobs.missing.lock().unwrap().insert("attachments/ready".into());
    assert_eq!(
        world.get_ok("/api/attachments/ready").await,
        expected("ready", "the file is no longer stored"),
        "a file missing from the bucket is unavailable"
    );
}

#[tokio::test]
async fn attachment_failures() {
    let world = world_with_attachments().await;
    for uri in ["/api/attachments/nothing", "/api/attachments/not.an.id"] {
        let reply = world.get(uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(reply.error_code(), "not_found");
    }
    world.blobs.down.store(true, Ordering::SeqCst);
    let reply = world.get("/api/attachments/ready").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error_code(), "store_unavailable");
    assert_eq!(
        world.get("/api/attachments/expired").await.status,
        StatusCode::OK,
        "an unavailable file needs no signature"
    );
}
