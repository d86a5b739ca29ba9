//! What the staff web inbox asks of the API beyond the resources: which tasks are unread for the
//! caller, the live change feed (and its 304s), the list's filters and what its items show, and
//! the conversation's 304 while nothing changed. On the in-memory adapters.

use std::collections::HashMap;
use std::sync::Arc;

use api::{Api, Settings};
use lambda_http::http::{HeaderMap, Method, StatusCode, header};
use lambda_http::{Body, RequestExt};
use serde_json::Value;
use shared::blobs::MemoryBlobStore;
use shared::ids::{CommentId, ContactId, IntegrationId, TaskId};
use shared::memory::{MemoryQueue, MemoryStore};
use shared::model::{Author, AuthorKind, Comment, CommentStatus, Task, TaskStatus};
use shared::ports::{
    BlobStore, ContactStore, MessageStore, MessageWrite, StaffStore, TaskWrite, WriteOutcome, token_hash,
};
use shared::rules::contact_id;
use shared::time::Timestamp;
use testkit::build;

const OWNER: &str = "owner-token-0123456789";
const STAFF: &str = "staff-token-0123456789";

struct World {
    store: Arc<MemoryStore>,
    blobs: Arc<MemoryBlobStore>,
    api: Api,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

impl Reply {
    fn ids(&self) -> Vec<String> {
        self.json["items"]
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {}", self.json))
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl World {
    async fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        store
            .put_staff(&build::staff("olga").name("Olga").owner().build(), &token_hash(OWNER))
            .await
            .unwrap();
        store
            .put_staff(&build::staff("ivan").name("Ivan").build(), &token_hash(STAFF))
            .await
            .unwrap();
        let blobs = Arc::new(MemoryBlobStore::new("http://127.0.0.1:3000"));
        let settings = Settings {
            viber_api_url: "http://127.0.0.1:9/pa".into(),
            public_base_url: Some("http://127.0.0.1:3000".into()),
            blob_origin: None,
        };
        let api = Api::new(store.clone(), blobs.clone(), Arc::new(MemoryQueue::new()), settings);
        World { store, blobs, api }
    }

    async fn call(&self, method: Method, uri: &str, token: &str, headers: &[(header::HeaderName, &str)]) -> Reply {
        let mut builder = lambda_http::http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        for (name, value) in headers {
            builder = builder.header(name, *value);
        }
        let mut query: HashMap<String, Vec<String>> = HashMap::new();
        if let Some((_, raw)) = uri.split_once('?') {
            for pair in raw.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let value = urlencoding::decode(value).unwrap().into_owned();
                query.entry(key.to_owned()).or_default().push(value);
            }
        }
        let request = builder.body(Body::Empty).unwrap().with_query_string_parameters(query);
        let (parts, body) = self.api.handle(request).await.into_parts();
        let json = match body {
            Body::Text(text) => serde_json::from_str(&text).unwrap(),
            _ => Value::Null,
        };
        Reply {
            status: parts.status,
            headers: parts.headers,
            json,
        }
    }

    async fn get(&self, uri: &str, token: &str) -> Reply {
        self.call(Method::GET, uri, token, &[]).await
    }

    /// A client's first message at `at`: their contact and task (`t-{user}`).
    async fn open(
        &self,
        user: &str,
        at: Timestamp,
        shape: impl FnOnce(build::TaskBuilder) -> build::TaskBuilder,
    ) -> Task {
        let integration = IntegrationId::parse("acme").unwrap();
        let contact_id = contact_id(&integration, user);
        let task = shape(
            build::task(&format!("t-{user}"))
                .integration(&integration)
                .requester(&contact_id)
                .title(&format!("Viber: {user}"))
                .at(at),
        )
        .build();
        let write = MessageWrite {
            earlier_tasks: Vec::new(),
            contact: Some(
                build::contact_of(&integration, user)
                    .writing_in(&task.id)
                    .version(1)
                    .at(at)
                    .build(),
            ),
            expected_contact_version: None,
            task: TaskWrite::Create(task.clone()),
            comment: client_comment(&task.id, &format!("m-{user}-1"), at),
            attachments: vec![],
        };
        assert_eq!(self.store.apply_message(&write).await.unwrap(), WriteOutcome::Applied);
        task
    }

    /// The client of `task` writes again at `at`.
    async fn client_writes(&self, task: &Task, id: &str, at: Timestamp) {
        let mut contact = self.store.get_contact(&task.requester_id).await.unwrap().unwrap();
        let version = contact.version;
        contact.version += 1;
        let write = MessageWrite {
            earlier_tasks: Vec::new(),
            contact: Some(contact),
            expected_contact_version: Some(version),
            task: TaskWrite::Append {
                task_id: task.id.clone(),
                last_message_at: at,
                require_active: false,
                last_message: None,
                requester_name: None,
                requester_avatar: None,
            },
            comment: client_comment(&task.id, id, at),
            attachments: vec![],
        };
        assert_eq!(self.store.apply_message(&write).await.unwrap(), WriteOutcome::Applied);
    }
}

fn client_comment(task: &TaskId, id: &str, at: Timestamp) -> Comment {
    Comment {
        id: CommentId::parse(id).unwrap(),
        task_id: task.clone(),
        author: Author {
            kind: AuthorKind::Contact,
            id: "client".into(),
        },
        text: Some(format!("message {id}")),
        attachment_ids: vec![],
        notify_client: false,
        status: CommentStatus::Received,
        status_reason: None,
        created_at: at,
        viber_message_type: Some("text".into()),
        viber_message_token: Some(1),
        parts: Default::default(),
        outbound: None,
        details: None,
    }
}

fn unread_of(list: &Reply, id: &str) -> bool {
    list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|task| task["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed: {}", list.json))["unread"]
        .as_bool()
        .unwrap()
}

#[tokio::test]
async fn a_task_is_unread_for_each_member_until_they_read_it() {
    let world = World::new().await;
    let task = world.open("u1", Timestamp::from_millis(1_000_000), |t| t).await;
    let id = task.id.as_str();
    assert!(unread_of(&world.get("/api/tasks", OWNER).await, id));
    assert!(unread_of(&world.get("/api/tasks", STAFF).await, id));

    let read = world
        .call(Method::POST, &format!("/api/tasks/{id}/read"), OWNER, &[])
        .await;
    assert_eq!(read.status, StatusCode::NO_CONTENT);
    assert!(!unread_of(&world.get("/api/tasks", OWNER).await, id));
    assert_eq!(
        world.get(&format!("/api/tasks/{id}"), OWNER).await.json["unread"],
        false
    );
    assert!(
        unread_of(&world.get("/api/tasks", STAFF).await, id),
        "each member reads for themselves"
    );

    // The client writes again: unread again.
    world
        .client_writes(&task, "m-u1-2", Timestamp::from_millis(2_000_000))
        .await;
    assert!(unread_of(&world.get("/api/tasks", OWNER).await, id));

    let unknown = world.call(Method::POST, "/api/tasks/nope/read", OWNER, &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let other_method = world.get(&format!("/api/tasks/{id}/read"), OWNER).await;
    assert_eq!(other_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(other_method.headers[header::ALLOW], "POST");
}

#[tokio::test]
async fn the_change_feed_answers_304_until_a_client_writes() {
    let world = World::new().await;
    let start = world.get("/api/changes", OWNER).await;
    assert_eq!(start.status, StatusCode::OK);
    assert_eq!(start.json["items"], serde_json::json!([]));
    assert_eq!(start.json["resync"], false);
    let since = start.json["next_since"].as_str().unwrap().to_owned();
    let quiet = world.get(&format!("/api/changes?since={since}"), OWNER).await;
    assert_eq!(quiet.status, StatusCode::NOT_MODIFIED);
    assert_eq!(quiet.json, Value::Null, "no body");

    let task = world
        .open("u1", Timestamp::now(), |t| {
            t.shown_as("Олена", "text", Some("Добрий день"))
        })
        .await;
    let changed = world.get(&format!("/api/changes?since={since}"), OWNER).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.json);
    assert_eq!(changed.ids(), [task.id.as_str()]);
    let item = &changed.json["items"][0];
    assert_eq!(item["unread"], true);
    assert_eq!(item["requester_name"], "Олена");
    assert_eq!(item["last_message_preview"], "Добрий день");
    let next = changed.json["next_since"].as_str().unwrap().to_owned();
    assert_ne!(next, since);
    // Nothing new since: 304, however often asked.
    for _ in 0..2 {
        let again = world.get(&format!("/api/changes?since={next}"), OWNER).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    }
    // A token that was never handed out.
    for bad in ["nonsense", "zz.0000000000000000"] {
        let refused = world.get(&format!("/api/changes?since={bad}"), OWNER).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(refused.json["error"]["code"], "invalid_since");
    }
}

#[tokio::test]
async fn the_lists_filters_answer_the_inbox_tabs_and_search() {
    let world = World::new().await;
    let first = world
        .open("u1", Timestamp::from_millis(1_000), |t| {
            t.shown_as("Олена Коваленко", "text", None)
        })
        .await;
    world
        .open("u2", Timestamp::from_millis(2_000), |t| {
            t.assignee(Some("ivan")).shown_as("Ivan Client", "picture", None)
        })
        .await;
    world
        .open("u3", Timestamp::from_millis(3_000), |t| t.status(TaskStatus::Completed))
        .await;
    let ids = |reply: Reply| reply.ids();
    assert_eq!(
        ids(world.get("/api/tasks?unassigned=true", OWNER).await),
        ["t-u3", "t-u1"]
    );
    assert_eq!(
        ids(world.get("/api/tasks?unassigned=true&status=new", OWNER).await),
        ["t-u1"]
    );
    assert_eq!(
        ids(world
            .get(
                "/api/tasks?q=%D0%BA%D0%BE%D0%B2%D0%B0%D0%BB%D0%B5%D0%BD%D0%BA%D0%BE",
                OWNER
            )
            .await),
        ["t-u1"]
    );
    assert_eq!(ids(world.get("/api/tasks?q=IVAN", OWNER).await), ["t-u2"]);
    let requester = first.requester_id.as_str();
    assert_eq!(
        ids(world.get(&format!("/api/tasks?requester_id={requester}"), OWNER).await),
        ["t-u1"]
    );
    for bad in [
        "/api/tasks?unassigned=maybe",
        "/api/tasks?unassigned=true&assignee_id=ivan",
        "/api/tasks?requester_id=../x",
    ] {
        let refused = world.get(bad, OWNER).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(refused.json["error"]["code"], "invalid_parameter", "{bad}");
    }
}

#[tokio::test]
async fn list_items_show_the_clients_name_avatar_and_last_message() {
    let world = World::new().await;
    let key = "avatars/c/olena";
    world
        .blobs
        .put(key, bytes::Bytes::from_static(b"\xFF\xD8 jpeg"), "image/jpeg")
        .await
        .unwrap();
    let task = world
        .open("u1", Timestamp::from_millis(1_000), |t| {
            t.shown_as("Олена", "sticker", None).requester_avatar(key)
        })
        .await;
    let list = world.get("/api/tasks", OWNER).await;
    let item = &list.json["items"][0];
    assert_eq!(item["requester_name"], "Олена");
    assert_eq!(item["last_message_type"], "sticker");
    assert_eq!(item["last_message_preview"], Value::Null);
    let url = item["requester_avatar"]["url"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:3000/blobs/avatars/c/olena?"), "{url}");
    assert!(item["requester_avatar"]["expires_at"].is_string());
    let detail = world.get(&format!("/api/tasks/{}", task.id), OWNER).await;
    assert_eq!(
        detail.json["requester_avatar"]["url"]
            .as_str()
            .unwrap()
            .split('?')
            .next(),
        url.split('?').next()
    );
    // The contact's own avatar copy is not set here: its view says so.
    let contact = world
        .get(
            &format!("/api/contacts/{}", ContactId::as_str(&task.requester_id)),
            OWNER,
        )
        .await;
    assert_eq!(contact.json["avatar"], Value::Null);
}

#[tokio::test]
async fn the_conversation_answers_304_while_unchanged() {
    let world = World::new().await;
    let task = world.open("u1", Timestamp::from_millis(1_000), |t| t).await;
    let uri = format!("/api/tasks/{}/comments", task.id);
    let first = world.get(&uri, OWNER).await;
    assert_eq!(first.status, StatusCode::OK);
    let etag = first.headers[header::ETAG].to_str().unwrap().to_owned();
    let same = world
        .call(Method::GET, &uri, OWNER, &[(header::IF_NONE_MATCH, &etag)])
        .await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    assert_eq!(same.json, Value::Null);
    world
        .client_writes(&task, "m-u1-2", Timestamp::from_millis(2_000))
        .await;
    let changed = world
        .call(Method::GET, &uri, OWNER, &[(header::IF_NONE_MATCH, &etag)])
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.ids().len(), 2);
    assert_ne!(changed.headers[header::ETAG].to_str().unwrap(), etag);
}
