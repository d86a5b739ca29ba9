//! The webhook handler on in-memory adapters: every answer of README.md "The webhook" and
//! docs/viber-api.md §4.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;
use shared::inbound::InboundEnvelope;
use shared::memory::{MemoryQueue, MemoryStore};
use shared::model::Integration;
use shared::ports::{IntegrationStore, MessageQueue, QueueError, QueueMessage};
use testkit::build;
use testkit::fixtures::{self, CALLBACKS, DOC_TOKEN};
use webhook::Webhook;

struct App {
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
    webhook: Webhook,
}

fn integration(id: &str, token: &str, welcome: Option<&str>) -> Integration {
    build::integration(id)
        .token(token)
        .icon("https://cdn.example.com/bot.jpg")
        .welcome_message(welcome)
        .build()
}

async fn app_with(welcome: Option<&str>) -> App {
    let store = Arc::new(MemoryStore::new());
    store
        .put_integration(&integration("acme", DOC_TOKEN, welcome))
        .await
        .unwrap();
    let queue = Arc::new(MemoryQueue::new());
    let webhook = Webhook::new(store.clone(), queue.clone());
    App { store, queue, webhook }
}

async fn app() -> App {
    app_with(None).await
}

fn request(method: Method, integration_id: &str, body: Vec<u8>, signature: Option<String>) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("https://api.example.com/viber/{integration_id}"))
        .header("content-type", "application/json");
    if let Some(signature) = signature {
        builder = builder.header("X-Viber-Content-Signature", signature);
    }
    builder
        .body(Body::from(body))
        .unwrap()
        .with_path_parameters(HashMap::from([(
            "integration_id".to_owned(),
            vec![integration_id.to_owned()],
        )]))
}

fn signed(body: &[u8]) -> Request {
    request(
        Method::POST,
        "acme",
        body.to_vec(),
        Some(fixtures::sign(DOC_TOKEN, body)),
    )
}

fn json_body(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

fn error_code(response: &Response<Body>) -> String {
    json_body(response)["error"]["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_signed_event_is_queued_with_its_group_and_dedup_id() {
    let app = app().await;
    for name in CALLBACKS.iter().filter(|n| **n != "webhook") {
        let body = fixtures::bytes(name);
        let response = app.webhook.handle(signed(&body)).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let queued = app.queue.drain();
        assert_eq!(queued.len(), 1, "{name}");
        let envelope: InboundEnvelope = serde_json::from_str(&queued[0].body).unwrap();
        assert_eq!(envelope.integration_id.as_str(), "acme");
        assert_eq!(
            envelope.callback.get().as_bytes(),
            body.trim_ascii(),
            "{name}: the signed bytes travel unchanged"
        );
        let raw = fixtures::json(name);
        let user = ["/sender/id", "/user/id", "/user_id"]
            .iter()
            .find_map(|pointer| raw.pointer(pointer).and_then(Value::as_str))
            .unwrap();
        assert_eq!(
            queued[0].group_id.as_deref(),
            Some(format!("acme:{user}").as_str()),
            "{name}"
        );
        assert_eq!(queued[0].dedup_id.as_ref().map(String::len), Some(64), "{name}");
    }
}

#[tokio::test]
async fn the_webhook_check_is_answered_without_enqueueing() {
    let app = app().await;
    let response = app.webhook.handle(signed(&fixtures::bytes("webhook"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(app.queue.pending().is_empty());
}

#[tokio::test]
async fn a_resent_callback_is_queued_once() {
    let app = app().await;
    let body = fixtures::bytes("message_text");
    for _ in 0..3 {
        assert_eq!(app.webhook.handle(signed(&body)).await.status(), StatusCode::OK);
    }
    assert_eq!(app.queue.pending().len(), 1);
}

#[tokio::test]
async fn conversation_started_is_answered_with_the_welcome_message() {
    let app = app_with(Some("Вітаємо в Acme Support!")).await;
    let response = app
        .webhook
        .handle(signed(&fixtures::bytes("conversation_started")))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let welcome = json_body(&response);
    assert_eq!(welcome["type"], "text");
    assert_eq!(welcome["text"], "Вітаємо в Acme Support!");
    assert_eq!(welcome["sender"]["name"], "Acme Support");
    assert_eq!(welcome["sender"]["avatar"], "https://cdn.example.com/bot.jpg");
    assert!(welcome.get("receiver").is_none());
    assert_eq!(app.queue.pending().len(), 1, "the contact is still recorded");
}

#[tokio::test]
async fn conversation_started_without_a_welcome_message_gets_an_empty_200() {
    let app = app().await;
    let response = app
        .webhook
        .handle(signed(&fixtures::bytes("conversation_started")))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.body().as_ref().is_empty());
}

#[tokio::test]
async fn a_bad_or_missing_signature_is_401() {
    let app = app().await;
    let body = fixtures::bytes("message_text");
    let wrong_token = fixtures::sign("another-token", &body);
    let reformatted = String::from_utf8(body.clone()).unwrap().replace("\": ", "\":");
    let cases = [
        request(Method::POST, "acme", body.clone(), None),
        request(Method::POST, "acme", body.clone(), Some(wrong_token)),
        request(Method::POST, "acme", body.clone(), Some("not-hex".into())),
        request(Method::POST, "acme", body.clone(), Some(String::new())),
        request(
            Method::POST,
            "acme",
            reformatted.into_bytes(),
            Some(fixtures::sign(DOC_TOKEN, &body)),
        ),
    ];
    for case in cases {
        let response = app.webhook.handle(case).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(&response), "invalid_signature");
    }
    assert!(app.queue.pending().is_empty());
}

#[tokio::test]
async fn an_unknown_integration_is_404() {
    let app = app().await;
    let body = fixtures::bytes("message_text");
    for id in ["nobody", "../etc", ""] {
        let response = app
            .webhook
            .handle(request(
                Method::POST,
                id,
                body.clone(),
                Some(fixtures::sign(DOC_TOKEN, &body)),
            ))
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{id:?}");
        assert_eq!(error_code(&response), "unknown_integration");
    }
    assert!(app.queue.pending().is_empty());
}

#[tokio::test]
async fn malformed_json_with_a_valid_signature_is_400() {
    let app = app().await;
    for body in [
        &b"{not json"[..],
        b"",
        b"[1,2]",
        br#"{"event":"message","timestamp":1}"#,
    ] {
        let response = app.webhook.handle(signed(body)).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(error_code(&response), "malformed_callback");
    }
    assert!(app.queue.pending().is_empty());
}

#[tokio::test]
async fn a_body_over_1_mib_is_413_before_anything_else() {
    let app = app().await;
    let body = vec![b' '; webhook::MAX_BODY_BYTES + 1];
    let response = app.webhook.handle(signed(&body)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let unsigned = app.webhook.handle(request(Method::POST, "nobody", body, None)).await;
    assert_eq!(unsigned.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(app.queue.pending().is_empty());
}

#[tokio::test]
async fn a_signed_callback_too_large_for_sqs_is_413() {
    let app = app().await;
    let text = "я".repeat(200_000);
    let body = format!(
        r#"{{"event":"message","timestamp":1,"message_token":2,"sender":{{"id":"u"}},"message":{{"type":"text","text":"{text}"}}}}"#
    );
    let response = app.webhook.handle(signed(body.as_bytes())).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(app.queue.pending().is_empty());
}

#[tokio::test]
async fn other_methods_are_405() {
    let app = app().await;
    for method in [Method::GET, Method::PUT, Method::DELETE, Method::PATCH] {
        let body = fixtures::bytes("message_text");
        let response = app
            .webhook
            .handle(request(
                method.clone(),
                "acme",
                body.clone(),
                Some(fixtures::sign(DOC_TOKEN, &body)),
            ))
            .await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(response.headers()["allow"], "POST");
    }
    assert!(app.queue.pending().is_empty());
}

#[tokio::test]
async fn unknown_events_and_message_types_are_acknowledged_and_queued() {
    let app = app().await;
    let body = br#"{"event":"action","timestamp":1,"message_token":77,"user":{"id":"u1"}}"#;
    assert_eq!(app.webhook.handle(signed(body)).await.status(), StatusCode::OK);
    let body =
        br#"{"event":"message","timestamp":1,"message_token":78,"sender":{"id":"u1"},"message":{"type":"hologram"}}"#;
    assert_eq!(app.webhook.handle(signed(body)).await.status(), StatusCode::OK);
    let queued = app.queue.drain();
    assert_eq!(queued.len(), 2);
    assert_eq!(queued[0].group_id.as_deref(), Some("acme:u1"));
}

#[tokio::test]
async fn a_rotated_token_is_used_at_once() {
    let app = app().await;
    let body = fixtures::bytes("message_text");
    assert_eq!(
        app.webhook.handle(signed(&body)).await.status(),
        StatusCode::OK,
        "caches the old token"
    );
    app.store
        .put_integration(&integration("acme", "rotated-token", None))
        .await
        .unwrap();
    let with_new = request(
        Method::POST,
        "acme",
        body.clone(),
        Some(fixtures::sign("rotated-token", &body)),
    );
    assert_eq!(app.webhook.handle(with_new).await.status(), StatusCode::OK);
    let with_old = signed(&fixtures::bytes("message_picture"));
    assert_eq!(app.webhook.handle(with_old).await.status(), StatusCode::UNAUTHORIZED);
}

struct BrokenQueue;

#[async_trait]
impl MessageQueue for BrokenQueue {
    async fn send(&self, _: QueueMessage) -> Result<(), QueueError> {
        Err(QueueError::Unavailable("connection refused".into()))
    }
}

#[tokio::test]
async fn a_queue_failure_is_not_acknowledged_so_viber_resends() {
    let store = Arc::new(MemoryStore::new());
    store
        .put_integration(&integration("acme", DOC_TOKEN, None))
        .await
        .unwrap();
    let webhook = Webhook::new(store, Arc::new(BrokenQueue));
    let response = webhook.handle(signed(&fixtures::bytes("message_text"))).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn error_answers_never_echo_the_token() {
    let app = app().await;
    let body = fixtures::bytes("message_text");
    let response = app
        .webhook
        .handle(request(Method::POST, "acme", body, Some("00".repeat(32))))
        .await;
    let text = String::from_utf8(response.body().as_ref().to_vec()).unwrap();
    assert!(!text.contains(DOC_TOKEN));
}
