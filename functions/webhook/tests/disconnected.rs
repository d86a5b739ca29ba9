//! Connecting and disconnecting bots as each webhook instance sees it through its own cache (as
//! in AWS, where the API cannot reach the webhook's instances): a bot connected a moment ago is
//! found at once, also after an earlier miss (misses are not cached), so Viber's check during
//! `set_webhook` passes; a disconnected bot is refused by every instance that had not cached it,
//! and by a warm instance once its cache entry expires (`shared::cache::DEFAULT_TTL`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, RequestExt};
use shared::cache::IntegrationCache;
use shared::ids::IntegrationId;
use shared::memory::{MemoryQueue, MemoryStore};
use shared::model::Integration;
use shared::ports::{IntegrationAdmin, IntegrationStore};
use testkit::build;
use testkit::fixtures::{self, DOC_TOKEN};
use webhook::Webhook;

fn integration(id: &str) -> Integration {
    build::integration(id).build()
}

async fn check(webhook: &Webhook, id: &str) -> StatusCode {
    let body = fixtures::bytes("webhook");
    let request = lambda_http::http::Request::builder()
        .method(Method::POST)
        .uri(format!("https://api.example.com/viber/{id}"))
        .header("X-Viber-Content-Signature", fixtures::sign(DOC_TOKEN, &body))
        .body(Body::from(body))
        .unwrap()
        .with_path_parameters(HashMap::from([("integration_id".to_owned(), vec![id.to_owned()])]));
    webhook.handle(request).await.status()
}

#[tokio::test]
async fn a_bot_connected_a_moment_ago_is_found_even_after_a_miss() {
    let store = Arc::new(MemoryStore::new());
    let webhook = Webhook::new(store.clone(), Arc::new(MemoryQueue::new()));
    assert_eq!(check(&webhook, "fresh").await, StatusCode::NOT_FOUND);
    store.create_integration(&integration("fresh")).await.unwrap();
    assert_eq!(check(&webhook, "fresh").await, StatusCode::OK);
}

#[tokio::test]
async fn a_disconnected_bot_is_refused_once_no_instance_holds_it() {
    let store = Arc::new(MemoryStore::new());
    store.put_integration(&integration("acme")).await.unwrap();
    let ttl = Duration::from_millis(150);
    let warm = Webhook::with_cache(
        Arc::new(IntegrationCache::new(store.clone(), ttl)),
        Arc::new(MemoryQueue::new()),
    );
    assert_eq!(check(&warm, "acme").await, StatusCode::OK);

    assert!(
        store
            .delete_integration(&IntegrationId::parse("acme").unwrap())
            .await
            .unwrap()
    );
    let cold = Webhook::new(store.clone(), Arc::new(MemoryQueue::new()));
    assert_eq!(
        check(&cold, "acme").await,
        StatusCode::NOT_FOUND,
        "a cold instance at once"
    );
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    assert_eq!(
        check(&warm, "acme").await,
        StatusCode::NOT_FOUND,
        "a warm one after its TTL"
    );
}
