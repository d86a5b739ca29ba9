//! The management routes (integrations, staff, task workflow) through the API handler, on the
//! in-memory store and on DynamoDB (moto): each route's success and refusals (400, 401, 403,
//! 404, 409, 422, 502). Viber is the fake Viber; the webhook (the real handler, sharing the
//! store and the integration cache) listens on loopback, so Viber's signed check during
//! `set_webhook` is answered exactly as in production.

use std::collections::HashMap;
use std::sync::Arc;

use api::{Api, Settings};
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, RequestExt};
use serde_json::{Value, json};
use shared::aws::DynamoStore;
use shared::blobs::MemoryBlobStore;
use shared::cache::{DEFAULT_TTL, IntegrationCache};
use shared::ids::{CommentId, ContactId, IntegrationId};
use shared::memory::{MemoryQueue, MemoryStore};
use shared::model::{Author, AuthorKind, Comment, CommentStatus, Role, Task, TaskState};
use shared::ports::{MessageWrite, Store, TaskWrite, token_hash};
use shared::time::Timestamp;
use shared::viber::client::EVENT_TYPES;
use testkit::build;
use testkit::fake_viber::Answer;
use testkit::{FakeViber, fixtures, moto};
use webhook::{INTEGRATION_ID_PARAMETER, Webhook};

const OWNER: &str = "owner-token-0123456789abcdef";
const STAFF: &str = "staff-token-0123456789abcdef";
const BOT_TOKEN: &str = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9";
const OTHER_BOT_TOKEN: &str = "4a2b6c8d0e1f3a5b-7c9d1e3f5a7b9c1d-2e4f6a8b0c2d4e6f";

struct World<S: Store> {
    store: Arc<S>,
    api: Api,
    /// The webhook's integration cache, which the API shares.
    cache: Arc<IntegrationCache>,
    viber: FakeViber,
    /// Where the webhook listens (the API's PUBLIC_BASE_URL).
    base_url: String,
}

struct Reply {
    status: StatusCode,
    json: Value,
    text: String,
}

impl Reply {
    fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or_default()
    }
}

/// Serves the webhook handler on loopback, as API Gateway would.
async fn serve_webhook(webhook: Arc<Webhook>) -> String {
    use axum::extract::{Path, State};
    async fn callback(
        State(webhook): State<Arc<Webhook>>,
        Path(id): Path<String>,
        request: axum::extract::Request,
    ) -> axum::response::Response {
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, 2 * 1024 * 1024).await.unwrap();
        let request = lambda_http::http::Request::from_parts(parts, Body::Binary(bytes.to_vec()))
            .with_path_parameters(HashMap::from([(INTEGRATION_ID_PARAMETER.to_owned(), vec![id])]));
        let (parts, body) = webhook.handle(request).await.into_parts();
        let body = match body {
            Body::Text(text) => axum::body::Body::from(text),
            Body::Binary(bytes) => axum::body::Body::from(bytes),
            _ => axum::body::Body::empty(),
        };
        axum::response::Response::from_parts(parts, body)
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/viber/{id}", axum::routing::any(callback))
        .with_state(webhook);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

/// The API on `store`, connecting bots at `viber`, sharing the webhook's `cache`.
fn api<S: Store>(store: &Arc<S>, viber: &FakeViber, cache: &Arc<IntegrationCache>, base_url: &str) -> Api {
    let settings = Settings {
        viber_api_url: viber.api_url(),
        public_base_url: Some(base_url.to_owned()),
        blob_origin: None,
    };
    Api::new(
        store.clone(),
        Arc::new(MemoryBlobStore::new("")),
        Arc::new(MemoryQueue::new()),
        settings,
    )
    .with_webhook_cache(cache.clone())
}

impl<S: Store> World<S> {
    async fn new(store: S) -> Self {
        let store = Arc::new(store);
        let at = |ms: i64| Timestamp::from_millis(1_732_528_955_000 + ms);
        for (id, token, role, ms) in [("olga", OWNER, Role::Owner, 0), ("ivan", STAFF, Role::Staff, 1)] {
            let member = build::staff(id).role(role).created_at(at(ms)).build();
            store.put_staff(&member, &token_hash(token)).await.unwrap();
        }
        let viber = FakeViber::start(BOT_TOKEN).await;
        viber.add_bot(OTHER_BOT_TOKEN, "Acme Sales", "acmesales");
        let cache = Arc::new(IntegrationCache::new(store.clone(), DEFAULT_TTL));
        let webhook = Arc::new(Webhook::with_cache(cache.clone(), Arc::new(MemoryQueue::new())));
        let base_url = serve_webhook(webhook).await;
        let api = api(&store, &viber, &cache, &base_url);
        World {
            store,
            api,
            cache,
            viber,
            base_url,
        }
    }

    /// The API with webhook URLs under `base_url` instead.
    fn with_public_base_url(self, base_url: &str) -> Self {
        World {
            api: api(&self.store, &self.viber, &self.cache, base_url),
            ..self
        }
    }

    async fn send(&self, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut builder = lambda_http::http::Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
        // The query as API Gateway hands it over, parsed.
        let mut query: HashMap<String, Vec<String>> = HashMap::new();
        if let Some((_, raw)) = uri.split_once('?') {
            for pair in raw.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                query.entry(key.to_owned()).or_default().push(value.to_owned());
            }
        }
        let request = builder.body(body).unwrap().with_query_string_parameters(query);
        let response = self.api.handle(request).await;
        let status = response.status();
        let text = match response.into_body() {
            Body::Text(text) => text,
            Body::Empty => String::new(),
            other => panic!("unexpected body {other:?}"),
        };
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        Reply { status, json, text }
    }

    async fn owner(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        self.send(method, uri, Some(OWNER), body).await
    }

    async fn connect(&self, token: &str, extra: Value) -> Reply {
        let mut body = json!({"name": "Support", "auth_token": token});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        self.owner(Method::POST, "/api/integrations", Some(body)).await
    }

    async fn connected(&self, token: &str, extra: Value) -> String {
        let reply = self.connect(token, extra).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.json["id"].as_str().unwrap().to_owned()
    }

    async fn integration_ids(&self) -> Vec<String> {
        let reply = self.owner(Method::GET, "/api/integrations", None).await;
        assert_eq!(reply.status, StatusCode::OK);
        reply.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Posts a callback signed with `token` to the webhook of integration `id`.
    async fn callback(&self, id: &str, token: &str) -> u16 {
        let body = fixtures::bytes("message_text");
        testkit::http_client()
            .post(format!("{}/viber/{id}", self.base_url))
            .header("X-Viber-Content-Signature", fixtures::sign(token, &body))
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// A client's first message opened task `id` (with contact `c-{id}`).
    async fn open_task(&self, id: &str) -> Task {
        let at = Timestamp::from_millis(1_732_528_955_000);
        let task = build::task(id)
            .requester(&ContactId::parse(&format!("c-{id}")).unwrap())
            .assignee(Some("ivan"))
            .at(at)
            .build();
        let contact = build::contact(task.requester_id.as_str())
            .writing_in(&task.id)
            .at(at)
            .build();
        let comment = Comment {
            id: CommentId::parse(&format!("m-{id}")).unwrap(),
            task_id: task.id.clone(),
            author: Author {
                kind: AuthorKind::Contact,
                id: contact.id.to_string(),
            },
            text: Some("hi".into()),
            attachment_ids: vec![],
            notify_client: false,
            status: CommentStatus::Received,
            status_reason: None,
            created_at: at,
            viber_message_type: Some("text".into()),
            viber_message_token: None,
            parts: Default::default(),
            outbound: None,
            details: None,
        };
        self.store
            .apply_message(&MessageWrite {
                earlier_tasks: Vec::new(),
                contact: Some(contact),
                expected_contact_version: None,
                task: TaskWrite::Create(task.clone()),
                comment,
                attachments: vec![],
            })
            .await
            .unwrap();
        task
    }
}

macro_rules! suite {
    ($module:ident, $store:expr) => {
        mod $module {
            use super::*;
            suite!(@tests $store;
                connecting_a_bot_sets_its_webhook_after_storing_it,
                a_token_viber_rejects_leaves_nothing_behind,
                a_webhook_viber_cannot_set_leaves_nothing_behind,
                only_owners_manage_integrations,
                integration_bodies_are_checked,
                a_bot_is_connected_once_and_several_side_by_side,
                an_integration_changes_template_and_options,
                a_new_token_is_verified_and_the_old_one_kept_on_refusal,
                disconnecting_unsets_the_webhook_and_stops_callbacks,
                staff_are_added_with_a_token_shown_once,
                staff_roles_are_enforced,
                the_last_owner_stays_and_a_template_assignee_too,
                tasks_move_through_statuses_and_can_be_deleted,
                a_bot_has_a_contact_template,
                contact_templates_out_of_bounds_are_refused,
                staff_sort_a_contact_and_lists_follow,
                contact_changes_out_of_bounds_are_refused,
                contact_list_filters_out_of_bounds_are_refused,
            );
        }
    };
    (@tests $store:expr; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $test() {
                super::$test(World::new($store).await).await;
            }
        )*
    };
}

suite!(memory, MemoryStore::new());
suite!(dynamodb, {
    let config = moto::sdk_config().await;
    DynamoStore::from_config(&config, moto::table(&config).await)
});

// ---- Integrations ----

async fn connecting_a_bot_sets_its_webhook_after_storing_it<S: Store>(world: World<S>) {
    let reply = world
        .connect(
            BOT_TOKEN,
            json!({"template": {"task_title": "{bot}: {name}", "assignee_id": "ivan", "participant_ids": ["olga"]},
                   "options": {"new_task_if_no_active": false, "welcome_message": "Вітаємо!"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert!(!reply.text.contains(BOT_TOKEN), "the token is never answered");
    let id = reply.json["id"].as_str().unwrap();
    assert!(IntegrationId::parse(id).is_ok() && id != "default");
    let webhook_url = format!("{}/viber/{id}", world.base_url);
    assert_eq!(reply.json["webhook_url"], webhook_url);
    assert_eq!(
        reply.json["bot"],
        json!({"name": "Acme Support", "uri": "acmesupport", "icon": fixtures::json("get_account_info_response")["icon"]})
    );
    assert_eq!(reply.json["deep_link"], "viber://pa?chatURI=acmesupport");
    assert_eq!(reply.json["template"]["assignee_id"], "ivan");
    assert_eq!(reply.json["template"]["initial_status"], "new");
    assert_eq!(reply.json["options"]["new_task_if_no_active"], false);
    assert_eq!(reply.json["connected_by"], "olga");

    let set = world.viber.bodies("set_webhook");
    assert_eq!(set.len(), 1);
    assert_eq!(
        set[0],
        json!({"url": webhook_url, "event_types": EVENT_TYPES, "send_name": true, "send_photo": true})
    );
    assert_eq!(world.viber.webhook().as_deref(), Some(webhook_url.as_str()));
    assert!(
        world
            .viber
            .requests()
            .iter()
            .all(|r| r.auth_token.as_deref() == Some(BOT_TOKEN))
    );

    let read = world.owner(Method::GET, &format!("/api/integrations/{id}"), None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json, reply.json);
    assert_eq!(world.integration_ids().await, [id]);
    let by_staff = world.send(Method::GET, "/api/integrations", Some(STAFF), None).await;
    assert_eq!(by_staff.status, StatusCode::OK, "everyone may read integrations");
    assert_eq!(world.callback(id, BOT_TOKEN).await, 200);
    assert_eq!(world.callback(id, "another-token").await, 401);
}

async fn a_token_viber_rejects_leaves_nothing_behind<S: Store>(world: World<S>) {
    let rejected = "rejected0000000a-rejected0000000b-rejected0000000c";
    let reply = world.connect(rejected, json!({})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.code(), "viber_rejected");
    let message = reply.json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("invalidAuthToken") && message.contains("status 2"),
        "{message}"
    );
    assert!(!reply.text.contains(rejected));
    assert!(world.integration_ids().await.is_empty());
    assert!(world.viber.bodies("set_webhook").is_empty());

    world.viber.script("get_account_info", Answer::Http(503));
    let reply = world.connect(BOT_TOKEN, json!({})).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(reply.code(), "viber_unavailable");
    assert!(!reply.text.contains(BOT_TOKEN));
    assert!(world.integration_ids().await.is_empty());
}

async fn a_webhook_viber_cannot_set_leaves_nothing_behind<S: Store>(world: World<S>) {
    world.viber.script("set_webhook", Answer::Status(1, "invalidUrl"));
    let reply = world.connect(BOT_TOKEN, json!({})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert!(reply.json["error"]["message"].as_str().unwrap().contains("invalidUrl"));
    assert!(world.integration_ids().await.is_empty());

    world.viber.script("set_webhook", Answer::Http(500));
    let reply = world.connect(BOT_TOKEN, json!({})).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert!(world.integration_ids().await.is_empty());

    // Viber's check of the URL fails (nothing listens there): Viber refuses, nothing stays.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let unreachable = world.with_public_base_url(&format!("http://{closed}"));
    let reply = unreachable.connect(BOT_TOKEN, json!({})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert!(unreachable.integration_ids().await.is_empty());
    assert_eq!(unreachable.viber.webhook(), None);
}

async fn only_owners_manage_integrations<S: Store>(world: World<S>) {
    let id = world.connected(BOT_TOKEN, json!({})).await;
    let path = format!("/api/integrations/{id}");
    let body = json!({"name": "Mine", "auth_token": OTHER_BOT_TOKEN});
    for (method, uri, body) in [
        (Method::POST, "/api/integrations", Some(body.clone())),
        (Method::PATCH, path.as_str(), Some(json!({"name": "Mine"}))),
        (Method::DELETE, path.as_str(), None),
    ] {
        let reply = world.send(method.clone(), uri, Some(STAFF), body.clone()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {uri}");
        assert_eq!(reply.code(), "forbidden");
        let reply = world.send(method.clone(), uri, None, body).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
    }
    assert_eq!(world.integration_ids().await, [id]);
    for path in ["/api/integrations/nope", "/api/integrations/a%2Fb"] {
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let reply = world.owner(method.clone(), path, Some(json!({"name": "x"}))).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        }
    }
    let reply = world.owner(Method::PUT, "/api/integrations", None).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

async fn integration_bodies_are_checked<S: Store>(world: World<S>) {
    for (body, status, code) in [
        (json!({"name": "Support"}), StatusCode::BAD_REQUEST, "invalid_body"),
        (
            json!({"name": "Support", "auth_token": 42}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            json!({"name": " ", "auth_token": BOT_TOKEN}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            json!({"auth_token": BOT_TOKEN}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            json!({"name": "S", "auth_token": BOT_TOKEN, "colour": "red"}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            json!({"name": "S", "auth_token": BOT_TOKEN, "template": {"initial_status": "done"}}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            json!({"name": "S", "auth_token": BOT_TOKEN, "template": {"assignee_id": "ghost"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_staff",
        ),
        (
            json!({"name": "S", "auth_token": BOT_TOKEN, "template": {"participant_ids": ["ivan", "ghost"]}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_staff",
        ),
    ] {
        let reply = world.owner(Method::POST, "/api/integrations", Some(body.clone())).await;
        assert_eq!((reply.status, reply.code()), (status, code), "{body}: {}", reply.text);
        assert!(!reply.text.contains(BOT_TOKEN));
    }
    let reply = world.owner(Method::POST, "/api/integrations", None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(world.integration_ids().await.is_empty());
    assert!(
        world.viber.requests().is_empty(),
        "Viber is asked only about valid requests"
    );
}

async fn a_bot_is_connected_once_and_several_side_by_side<S: Store>(world: World<S>) {
    let support = world
        .connected(BOT_TOKEN, json!({"template": {"assignee_id": "ivan"}}))
        .await;
    let reply = world.connect(BOT_TOKEN, json!({})).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "already_connected");
    let sales = world
        .connected(
            OTHER_BOT_TOKEN,
            json!({"name": "Sales", "template": {"task_title": "Sales: {name}"}}),
        )
        .await;
    assert_eq!(world.integration_ids().await, [support.clone(), sales.clone()]);
    let read = world
        .owner(Method::GET, &format!("/api/integrations/{sales}"), None)
        .await;
    assert_eq!(read.json["bot"]["uri"], "acmesales");
    assert_eq!(read.json["template"]["task_title"], "Sales: {name}");
    assert_eq!(read.json["template"]["assignee_id"], Value::Null);
    assert_eq!(
        world.viber.webhook_of(OTHER_BOT_TOKEN),
        Some(format!("{}/viber/{sales}", world.base_url))
    );
    assert_eq!(world.callback(&sales, OTHER_BOT_TOKEN).await, 200);
    assert_eq!(world.callback(&support, BOT_TOKEN).await, 200);
    assert_eq!(world.callback(&sales, BOT_TOKEN).await, 401);
}

async fn an_integration_changes_template_and_options<S: Store>(world: World<S>) {
    let id = world
        .connected(BOT_TOKEN, json!({"template": {"assignee_id": "ivan"}}))
        .await;
    let path = format!("/api/integrations/{id}");
    let reply = world
        .owner(
            Method::PATCH,
            &path,
            Some(json!({"name": "Help desk", "template": {"initial_status": "in_progress", "participant_ids": ["olga", "olga"]},
                        "options": {"new_task_if_no_active": false, "send_as_staff": true, "welcome_message": "Hi"}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["name"], "Help desk");
    assert_eq!(
        reply.json["template"],
        json!({"task_title": "Viber: {name}", "initial_status": "in_progress", "assignee_id": "ivan", "participant_ids": ["olga"]})
    );
    assert_eq!(
        reply.json["options"],
        json!({"new_task_if_no_active": false, "send_as_staff": true, "welcome_message": "Hi"})
    );
    let reply = world
        .owner(
            Method::PATCH,
            &path,
            Some(json!({"template": {"assignee_id": null}, "options": {"welcome_message": null}})),
        )
        .await;
    assert_eq!(reply.json["template"]["assignee_id"], Value::Null);
    assert_eq!(reply.json["template"]["initial_status"], "in_progress");
    assert_eq!(reply.json["options"]["welcome_message"], Value::Null);
    assert_eq!(reply.json["options"]["send_as_staff"], true);
    let stored = world
        .store
        .get_integration(&IntegrationId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.options.new_task_if_no_active && stored.template.assignee_id.is_none());

    for (body, status) in [
        (
            json!({"template": {"assignee_id": "ghost"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"template": {"initial_status": "done"}}), StatusCode::BAD_REQUEST),
        (json!({"options": {"send_as_staff": "yes"}}), StatusCode::BAD_REQUEST),
        (json!({"template": {"task_title": ""}}), StatusCode::BAD_REQUEST),
    ] {
        let reply = world.owner(Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!(reply.status, status, "{body}");
    }
    assert_eq!(world.viber.bodies("set_webhook").len(), 1, "no token, no Viber call");
}

async fn a_new_token_is_verified_and_the_old_one_kept_on_refusal<S: Store>(world: World<S>) {
    let id = world.connected(BOT_TOKEN, json!({})).await;
    let path = format!("/api/integrations/{id}");
    let rejected = "rejected0000000a-rejected0000000b-rejected0000000c";
    let reply = world
        .owner(Method::PATCH, &path, Some(json!({"auth_token": rejected})))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!reply.text.contains(rejected));
    assert_eq!(world.callback(&id, BOT_TOKEN).await, 200, "the old token stays");

    // Viber knows the new token but refuses the webhook: the old token is put back.
    let reissued = "reissued0000000a-reissued0000000b-reissued0000000c";
    world.viber.add_bot(reissued, "Acme Support", "acmesupport");
    world.viber.script("set_webhook", Answer::Status(1, "invalidUrl"));
    let reply = world
        .owner(Method::PATCH, &path, Some(json!({"auth_token": reissued})))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert_eq!(world.callback(&id, BOT_TOKEN).await, 200);
    assert_eq!(world.callback(&id, reissued).await, 401);

    // Accepted: the webhook is set with the new token (Viber's check signed with it passes).
    let reply = world
        .owner(
            Method::PATCH,
            &path,
            Some(json!({"auth_token": reissued, "name": "Rotated"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(!reply.text.contains(reissued));
    assert_eq!(reply.json["name"], "Rotated");
    let last = world
        .viber
        .requests()
        .into_iter()
        .rfind(|r| r.endpoint == "set_webhook")
        .unwrap();
    assert_eq!(last.auth_token.as_deref(), Some(reissued));
    assert_eq!(last.body["url"], format!("{}/viber/{id}", world.base_url));
    assert_eq!(world.callback(&id, reissued).await, 200);
    assert_eq!(world.callback(&id, BOT_TOKEN).await, 401);

    // Another integration's bot cannot be taken over.
    world.connected(OTHER_BOT_TOKEN, json!({})).await;
    let reply = world
        .owner(Method::PATCH, &path, Some(json!({"auth_token": OTHER_BOT_TOKEN})))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
}

async fn disconnecting_unsets_the_webhook_and_stops_callbacks<S: Store>(world: World<S>) {
    let id = world.connected(BOT_TOKEN, json!({})).await;
    let path = format!("/api/integrations/{id}");
    world.open_task("kept").await;
    assert_eq!(world.callback(&id, BOT_TOKEN).await, 200);

    world.viber.script("set_webhook", Answer::Http(502));
    let reply = world.owner(Method::DELETE, &path, None).await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_GATEWAY,
        "Viber out of reach: nothing changes"
    );
    assert_eq!(world.integration_ids().await, vec![id.clone()]);

    let reply = world.owner(Method::DELETE, &path, None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(world.viber.webhook(), None);
    let unset = world.viber.bodies("set_webhook").pop().unwrap();
    assert_eq!(unset["url"], "");
    assert_eq!(world.callback(&id, BOT_TOKEN).await, 404, "callbacks refused at once");
    assert_eq!(
        world.owner(Method::GET, &path, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        world.owner(Method::DELETE, &path, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(world.integration_ids().await.is_empty());
    assert_eq!(
        world.owner(Method::GET, "/api/tasks/kept", None).await.status,
        StatusCode::OK,
        "tasks and contacts stay"
    );

    // A bot whose token Viber no longer accepts is disconnected all the same.
    let id = world.connected(BOT_TOKEN, json!({})).await;
    world.viber.revoke(BOT_TOKEN);
    let reply = world
        .owner(Method::DELETE, &format!("/api/integrations/{id}"), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(world.integration_ids().await.is_empty());
}

// ---- Staff ----

async fn staff_are_added_with_a_token_shown_once<S: Store>(world: World<S>) {
    let reply = world
        .owner(
            Method::POST,
            "/api/staff",
            Some(json!({"name": " Петро ", "avatar_url": "https://a.example/p.png", "role": "staff"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json["name"], "Петро");
    assert_eq!(reply.json["role"], "staff");
    let token = reply.json["token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 32);
    let id = reply.json["id"].as_str().unwrap().to_owned();
    let me = world.send(Method::GET, "/api/me", Some(&token), None).await;
    assert_eq!(me.json["id"], id.as_str());
    assert!(me.json.get("token").is_none());

    let list = world.send(Method::GET, "/api/staff", Some(&token), None).await;
    assert_eq!(list.status, StatusCode::OK);
    let names: Vec<&str> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["olga", "ivan", "Петро"]);
    assert!(!list.text.contains(&token));
    let one = world.owner(Method::GET, &format!("/api/staff/{id}"), None).await;
    assert_eq!(one.json["avatar_url"], "https://a.example/p.png");

    let owner = world
        .owner(
            Method::POST,
            "/api/staff",
            Some(json!({"name": "Co-owner", "role": "owner"})),
        )
        .await;
    assert_eq!(owner.json["role"], "owner");
    let default_role = world
        .owner(Method::POST, "/api/staff", Some(json!({"name": "New"})))
        .await;
    assert_eq!(default_role.json["role"], "staff");
    for body in [
        json!({"role": "staff"}),
        json!({"name": "X", "role": "admin"}),
        json!({"name": "X", "avatar_url": "ftp://x"}),
        json!({"name": "X", "token": "mine"}),
    ] {
        let reply = world.owner(Method::POST, "/api/staff", Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(
        world.owner(Method::GET, "/api/staff/ghost", None).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn staff_roles_are_enforced<S: Store>(world: World<S>) {
    let reply = world
        .send(
            Method::POST,
            "/api/staff",
            Some(STAFF),
            Some(json!({"name": "Sneaky", "role": "owner"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = world
        .send(
            Method::PATCH,
            "/api/staff/ivan",
            Some(STAFF),
            Some(json!({"name": "Іван", "avatar_url": "https://a.example/i.png"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["name"], "Іван");
    let me = world.send(Method::GET, "/api/me", Some(STAFF), None).await;
    assert_eq!(me.json["avatar_url"], "https://a.example/i.png");
    for (uri, body) in [
        ("/api/staff/ivan", json!({"role": "owner"})),
        ("/api/staff/olga", json!({"name": "Not me"})),
    ] {
        let reply = world.send(Method::PATCH, uri, Some(STAFF), Some(body)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{uri}");
    }
    let reply = world.send(Method::DELETE, "/api/staff/olga", Some(STAFF), None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = world
        .owner(
            Method::PATCH,
            "/api/staff/ivan",
            Some(json!({"role": "owner", "avatar_url": null})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["role"], "owner");
    assert_eq!(reply.json["avatar_url"], Value::Null);
    let reply = world
        .owner(Method::PATCH, "/api/staff/ghost", Some(json!({"name": "X"})))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

async fn the_last_owner_stays_and_a_template_assignee_too<S: Store>(world: World<S>) {
    let reply = world
        .owner(Method::PATCH, "/api/staff/olga", Some(json!({"role": "staff"})))
        .await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "last_owner"));
    let reply = world.owner(Method::DELETE, "/api/staff/olga", None).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "last_owner"));

    let id = world
        .connected(BOT_TOKEN, json!({"template": {"participant_ids": ["ivan"]}}))
        .await;
    let reply = world.owner(Method::DELETE, "/api/staff/ivan", None).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "staff_in_use"));
    assert!(reply.json["error"]["message"].as_str().unwrap().contains(&id));
    world
        .owner(
            Method::PATCH,
            &format!("/api/integrations/{id}"),
            Some(json!({"template": {"participant_ids": []}})),
        )
        .await;
    let reply = world.owner(Method::DELETE, "/api/staff/ivan", None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let revoked = world.send(Method::GET, "/api/me", Some(STAFF), None).await;
    assert_eq!(
        revoked.status,
        StatusCode::UNAUTHORIZED,
        "the token stops working at once"
    );
    assert_eq!(
        world.owner(Method::DELETE, "/api/staff/ivan", None).await.status,
        StatusCode::NOT_FOUND
    );
    // With a second owner, the first may leave.
    let other = world
        .owner(
            Method::POST,
            "/api/staff",
            Some(json!({"name": "Co-owner", "role": "owner"})),
        )
        .await;
    let other_token = other.json["token"].as_str().unwrap().to_owned();
    let reply = world
        .send(Method::DELETE, "/api/staff/olga", Some(&other_token), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        world.send(Method::GET, "/api/me", Some(OWNER), None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

// ---- Task workflow ----

async fn tasks_move_through_statuses_and_can_be_deleted<S: Store>(world: World<S>) {
    let task = world.open_task("t1").await;
    let path = "/api/tasks/t1";
    let reply = world
        .send(
            Method::PATCH,
            path,
            Some(STAFF),
            Some(json!({"status": "completed", "assignee_id": "olga", "participant_ids": ["ivan"]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["status"], "completed");
    assert_eq!(reply.json["assignee_id"], "olga");
    assert_eq!(reply.json["participant_ids"], json!(["ivan"]));
    assert_eq!(reply.json["requester"]["id"], task.requester_id.as_str());
    let contact = world.store.get_contact(&task.requester_id).await.unwrap().unwrap();
    assert_eq!(contact.current_task.unwrap().state, TaskState::Inactive);
    let listed = world
        .owner(Method::GET, "/api/tasks?status=completed&assignee_id=olga", None)
        .await;
    assert_eq!(listed.json["items"][0]["id"], "t1");

    for (body, status) in [
        (json!({"status": "done"}), StatusCode::BAD_REQUEST),
        (json!({}), StatusCode::BAD_REQUEST),
        (json!({"title": "x"}), StatusCode::BAD_REQUEST),
        (json!({"assignee_id": "ghost"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"participant_ids": ["ghost"]}), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let reply = world.owner(Method::PATCH, path, Some(body.clone())).await;
        assert_eq!(reply.status, status, "{body}");
    }
    let reply = world
        .owner(Method::PATCH, "/api/tasks/none", Some(json!({"status": "new"})))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = world
        .send(Method::PATCH, path, None, Some(json!({"status": "new"})))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = world
        .owner(Method::PATCH, path, Some(json!({"assignee_id": null})))
        .await;
    assert_eq!(reply.json["assignee_id"], Value::Null);
    assert_eq!(reply.json["status"], "completed");

    let reply = world.send(Method::DELETE, path, Some(STAFF), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(world.owner(Method::GET, path, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        world.owner(Method::DELETE, path, None).await.status,
        StatusCode::NOT_FOUND
    );
    let reply = world.owner(Method::PATCH, path, Some(json!({"status": "new"}))).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let listed = world.owner(Method::GET, "/api/tasks", None).await;
    assert_eq!(listed.json["items"], json!([]));
    let contact = world.store.get_contact(&task.requester_id).await.unwrap().unwrap();
    assert_eq!(contact.current_task.unwrap().state, TaskState::Deleted);
}

// ---- Contact templates and the sorting of contacts (issue 16) ----

async fn a_bot_has_a_contact_template<S: Store>(world: World<S>) {
    let id = world
        .connected(
            BOT_TOKEN,
            json!({"contact_template": {"group": " Retail clients ", "labels": ["viber", "viber", "new"],
                                        "fields": {"source": "Viber bot Acme"}}}),
        )
        .await;
    let path = format!("/api/integrations/{id}");
    let read = world.owner(Method::GET, &path, None).await;
    assert_eq!(
        read.json["contact_template"],
        json!({"group": "Retail clients", "labels": ["viber", "new"], "fields": {"source": "Viber bot Acme"}})
    );
    // Only what is given changes; `group: null` clears the group.
    let reply = world
        .owner(
            Method::PATCH,
            &path,
            Some(json!({"contact_template": {"labels": ["b2b"]}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json["contact_template"],
        json!({"group": "Retail clients", "labels": ["b2b"], "fields": {"source": "Viber bot Acme"}})
    );
    let reply = world
        .owner(
            Method::PATCH,
            &path,
            Some(json!({"contact_template": {"group": null, "fields": {}}})),
        )
        .await;
    assert_eq!(
        reply.json["contact_template"],
        json!({"group": null, "labels": ["b2b"], "fields": {}})
    );
    // A bot connected without one gives its contacts nothing (today's behaviour).
    let other = world.connected(OTHER_BOT_TOKEN, json!({})).await;
    let read = world
        .owner(Method::GET, &format!("/api/integrations/{other}"), None)
        .await;
    assert_eq!(
        read.json["contact_template"],
        json!({"group": null, "labels": [], "fields": {}})
    );
    let reply = world
        .send(
            Method::PATCH,
            &path,
            Some(STAFF),
            Some(json!({"contact_template": {"group": "x"}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

/// Each refusal of a contact's or a template's group, labels or fields: (body, code).
fn sorting_refusals() -> Vec<(Value, &'static str)> {
    let many_labels: Vec<String> = (0..11).map(|n| format!("l{n}")).collect();
    let many_fields: serde_json::Map<String, Value> = (0..21).map(|n| (format!("f{n}"), json!("v"))).collect();
    vec![
        (json!({"group": ""}), "invalid_group"),
        (json!({"group": "g".repeat(65)}), "invalid_group"),
        (json!({"group": "a\nb"}), "invalid_group"),
        (json!({"labels": [""]}), "invalid_label"),
        (json!({"labels": ["l".repeat(33)]}), "invalid_label"),
        (json!({"labels": many_labels}), "too_many_labels"),
        (json!({"fields": {"": "x"}}), "invalid_field_name"),
        (json!({"fields": {"n".repeat(33): "x"}}), "invalid_field_name"),
        (json!({"fields": {"source": "v".repeat(257)}}), "invalid_field_value"),
        (json!({"fields": many_fields}), "too_many_fields"),
        (json!({"group": 5}), "invalid_body"),
        (json!({"labels": "vip"}), "invalid_body"),
        (json!({"fields": {"source": 1}}), "invalid_body"),
        (json!({"colour": "red"}), "invalid_body"),
    ]
}

async fn contact_templates_out_of_bounds_are_refused<S: Store>(world: World<S>) {
    let id = world.connected(BOT_TOKEN, json!({})).await;
    let path = format!("/api/integrations/{id}");
    for (template, code) in sorting_refusals() {
        let reply = world
            .owner(Method::PATCH, &path, Some(json!({"contact_template": template})))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{template}");
        assert_eq!(reply.code(), code, "{template}");
        if code != "invalid_body" {
            let message = reply.json["error"]["message"].as_str().unwrap();
            assert!(message.starts_with("contact_template."), "{message}");
        }
        let reply = world
            .connect(OTHER_BOT_TOKEN, json!({"contact_template": template}))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "connect with {template}");
        assert_eq!(reply.code(), code, "connect with {template}");
    }
    let read = world.owner(Method::GET, &path, None).await;
    assert_eq!(
        read.json["contact_template"],
        json!({"group": null, "labels": [], "fields": {}})
    );
    assert_eq!(world.integration_ids().await.len(), 1, "nothing half-connected");
}

async fn contact_ids<S: Store>(world: &World<S>, query: &str) -> Vec<String> {
    let reply = world
        .send(Method::GET, &format!("/api/contacts{query}"), Some(STAFF), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text);
    reply.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn staff_sort_a_contact_and_lists_follow<S: Store>(world: World<S>) {
    world.open_task("t1").await;
    world.open_task("t2").await;
    let reply = world
        .send(
            Method::PATCH,
            "/api/contacts/c-t1",
            Some(STAFF),
            Some(json!({"group": " Wholesale ", "labels": ["vip", "b2b", "vip"], "fields": {"source": "fair"}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["id"], "c-t1");
    assert_eq!(reply.json["group"], "Wholesale");
    assert_eq!(reply.json["labels"], json!(["vip", "b2b"]));
    assert_eq!(reply.json["fields"], json!({"source": "fair"}));
    world
        .send(
            Method::PATCH,
            "/api/contacts/c-t2",
            Some(OWNER),
            Some(json!({"group": "Wholesale", "labels": ["b2b"]})),
        )
        .await;
    assert_eq!(contact_ids(&world, "?group=Wholesale").await, ["c-t2", "c-t1"]);
    assert_eq!(contact_ids(&world, "?label=vip").await, ["c-t1"]);
    assert_eq!(
        contact_ids(&world, "?label=b2b&group=Wholesale").await,
        ["c-t2", "c-t1"]
    );
    assert_eq!(contact_ids(&world, "?group=Wholesale&limit=1").await, ["c-t2"]);
    assert!(contact_ids(&world, "?group=Retail").await.is_empty());
    assert_eq!(contact_ids(&world, "").await.len(), 2, "no filter: every contact");

    // Only the given fields change; `group: null` takes the contact out of its group.
    let reply = world
        .send(
            Method::PATCH,
            "/api/contacts/c-t1",
            Some(STAFF),
            Some(json!({"group": null})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["group"], Value::Null);
    assert_eq!(reply.json["labels"], json!(["vip", "b2b"]));
    assert_eq!(reply.json["fields"], json!({"source": "fair"}));
    assert_eq!(contact_ids(&world, "?group=Wholesale").await, ["c-t2"]);
    let reply = world
        .send(
            Method::PATCH,
            "/api/contacts/c-t1",
            Some(STAFF),
            Some(json!({"labels": []})),
        )
        .await;
    assert_eq!(reply.json["labels"], json!([]));
    assert!(contact_ids(&world, "?label=vip").await.is_empty());
    // The task's requester shows the same.
    let task = world.send(Method::GET, "/api/tasks/t2", Some(STAFF), None).await;
    assert_eq!(task.json["requester"]["group"], "Wholesale");
    assert_eq!(task.json["requester"]["labels"], json!(["b2b"]));
}

async fn contact_changes_out_of_bounds_are_refused<S: Store>(world: World<S>) {
    world.open_task("t1").await;
    let path = "/api/contacts/c-t1";
    for (body, code) in sorting_refusals() {
        let reply = world.send(Method::PATCH, path, Some(STAFF), Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.code(), code, "{body}");
    }
    for body in [json!({}), json!([1]), json!("group")] {
        let reply = world.send(Method::PATCH, path, Some(STAFF), Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.code(), "invalid_body", "{body}");
    }
    let reply = world.send(Method::PATCH, path, Some(STAFF), None).await;
    assert_eq!(reply.code(), "invalid_body", "no body");
    let reply = world
        .send(
            Method::PATCH,
            "/api/contacts/nobody",
            Some(STAFF),
            Some(json!({"group": "x"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = world.send(Method::PATCH, path, None, Some(json!({"group": "x"}))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = world.send(Method::DELETE, path, Some(OWNER), None).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    let stored = world
        .store
        .get_contact(&ContactId::parse("c-t1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.group.is_none() && stored.labels.is_empty() && stored.fields.is_empty());
}

async fn contact_list_filters_out_of_bounds_are_refused<S: Store>(world: World<S>) {
    let long_group = "g".repeat(65);
    let long_label = "l".repeat(33);
    for query in [
        format!("?group={long_group}"),
        format!("?label={long_label}"),
        "?group=a&group=b".to_owned(),
        "?label=a&label=b".to_owned(),
    ] {
        let reply = world
            .send(Method::GET, &format!("/api/contacts{query}"), Some(STAFF), None)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.code(), "invalid_parameter", "{query}");
    }
    let reply = world
        .send(Method::GET, "/api/contacts?group=x&cursor=zz", Some(STAFF), None)
        .await;
    assert_eq!(reply.code(), "invalid_cursor");
}
