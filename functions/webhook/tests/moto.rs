//! The webhook on its real AWS adapters against moto: DynamoDB for the integration, an SQS FIFO
//! queue for the callbacks.

use std::collections::HashMap;
use std::sync::Arc;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt};
use shared::aws::{DynamoStore, SqsQueue};
use shared::ids::IntegrationId;
use shared::inbound::InboundEnvelope;
use shared::ports::IntegrationStore;
use testkit::fixtures::{self, DOC_TOKEN};
use testkit::{build, moto};
use webhook::Webhook;

struct Deployed {
    config: aws_config::SdkConfig,
    queue_url: String,
    webhook: Webhook,
}

async fn deploy() -> Deployed {
    let config = moto::sdk_config().await;
    let table = moto::table(&config).await;
    let queue_url = moto::fifo_queue(&config).await;
    let store = DynamoStore::from_config(&config, &table);
    store
        .put_integration(&build::integration("acme").build())
        .await
        .unwrap();
    let queue = SqsQueue::from_config(&config, &queue_url);
    queue.warm_up().await;
    let webhook = Webhook::new(Arc::new(store), Arc::new(queue));
    Deployed {
        config,
        queue_url,
        webhook,
    }
}

fn request(integration_id: &str, body: &[u8], signature: Option<String>) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(Method::POST)
        .uri("/viber/x");
    if let Some(signature) = signature {
        builder = builder.header("x-viber-content-signature", signature);
    }
    builder
        .body(Body::from(body.to_vec()))
        .unwrap()
        .with_path_parameters(HashMap::from([(
            "integration_id".to_owned(),
            vec![integration_id.to_owned()],
        )]))
}

#[tokio::test]
async fn a_signed_fixture_lands_in_the_fifo_queue_with_its_group_and_dedup_ids() {
    let deployed = deploy().await;
    let body = fixtures::bytes("message_picture");
    let response = deployed
        .webhook
        .handle(request("acme", &body, Some(fixtures::sign(DOC_TOKEN, &body))))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let received = moto::drain(&deployed.config, &deployed.queue_url, 10).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].group_id.as_deref(), Some("acme:9Kf2mQ1xT7bVnC3pLs8aZw=="));
    let callback = shared::viber::Callback::from_slice(&body).unwrap();
    let expected_dedup = shared::inbound::dedup_id(&IntegrationId::parse("acme").unwrap(), &callback, &body);
    assert_eq!(received[0].dedup_id.as_deref(), Some(expected_dedup.as_str()));
    let envelope: InboundEnvelope = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(envelope.callback().unwrap(), callback);
}

#[tokio::test]
async fn a_resent_callback_is_dropped_by_fifo_deduplication() {
    let deployed = deploy().await;
    let body = fixtures::bytes("message_text");
    for _ in 0..3 {
        let response = deployed
            .webhook
            .handle(request("acme", &body, Some(fixtures::sign(DOC_TOKEN, &body))))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(moto::drain(&deployed.config, &deployed.queue_url, 10).await.len(), 1);
}

#[tokio::test]
async fn rejected_requests_leave_the_queue_empty() {
    let deployed = deploy().await;
    let body = fixtures::bytes("message_text");
    let answers = [
        deployed.webhook.handle(request("acme", &body, None)).await.status(),
        deployed
            .webhook
            .handle(request("acme", &body, Some(fixtures::sign("wrong", &body))))
            .await
            .status(),
        deployed
            .webhook
            .handle(request("nobody", &body, Some(fixtures::sign(DOC_TOKEN, &body))))
            .await
            .status(),
        deployed
            .webhook
            .handle(request("acme", b"{no", Some(fixtures::sign(DOC_TOKEN, b"{no"))))
            .await
            .status(),
    ];
    assert_eq!(
        answers,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::NOT_FOUND,
            StatusCode::BAD_REQUEST
        ]
    );
    let webhook_check = fixtures::bytes("webhook");
    let check = deployed
        .webhook
        .handle(request(
            "acme",
            &webhook_check,
            Some(fixtures::sign(DOC_TOKEN, &webhook_check)),
        ))
        .await;
    assert_eq!(check.status(), StatusCode::OK);
    assert!(moto::drain(&deployed.config, &deployed.queue_url, 10).await.is_empty());
}
