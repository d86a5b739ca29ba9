//! `processor-bench`: AWS requests per callback made by the processor's real code (DynamoDB
//! adapter against moto), counted by an SDK interceptor on every attempt that goes on the wire.
//! Scenarios: a new contact's first message, a message to an existing active task, a delivery
//! receipt. Needs `VIBERDESK_MOTO_ENDPOINT` (a moto server on loopback).
//!
//! `cargo run --release -p viberdesk-bench --bin processor-bench [-- CALLBACKS]`

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

#[path = "../aws_requests.rs"]
mod aws_requests;

use aws_requests::RequestCounter;
use processor::Processor;
use shared::aws::DynamoStore;
use shared::ids::{IntegrationId, StaffId};
use shared::inbound::queue_message;
use shared::ports::{DeliveryStore, IntegrationStore, PageRequest, PartRef, StaffStore, TaskFilter, TaskStore};
use shared::time::Timestamp;
use shared::viber::Callback;
use testkit::build;

fn text_message(token: u64, user: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"message","timestamp":{},"message_token":{token},"sender":{{"id":"{user}","name":"Олена","avatar":"https://a/1.jpg","language":"uk","country":"UA","api_version":10}},"message":{{"type":"text","text":"Добрий день!"}},"silent":false}}"#,
        1_732_528_955_210 + token as i64
    )
    .into_bytes()
}

fn delivered(token: u64, user: &str) -> Vec<u8> {
    format!(r#"{{"event":"delivered","timestamp":1732529470339,"message_token":{token},"user_id":"{user}"}}"#)
        .into_bytes()
}

fn envelope(integration: &IntegrationId, body: &[u8]) -> String {
    let callback = Callback::from_slice(body).expect("bench callbacks parse");
    queue_message(integration, body, &callback, Timestamp::now())
        .expect("fits a queue message")
        .body
}

fn picture_message(token: u64, user: &str, url: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"message","timestamp":{},"message_token":{token},"sender":{{"id":"{user}","name":"Олена"}},"message":{{"type":"picture","text":"","media":"{url}","file_name":"box.jpg","size":20000}},"silent":false}}"#,
        1_732_528_955_210 + token as i64
    )
    .into_bytes()
}

fn report(scenario: &str, counts: &BTreeMap<String, u64>, callbacks: u64, target: &str) {
    let total: u64 = counts.values().sum();
    let detail: Vec<String> = counts
        .iter()
        .map(|(op, n)| format!("{op} {:.2}", *n as f64 / callbacks as f64))
        .collect();
    println!(
        "{scenario:<40} {:>5.2} requests/callback  ({})   target {target}",
        total as f64 / callbacks as f64,
        detail.join(", ")
    );
}

async fn run(callbacks: u64) -> Result<(), String> {
    let config = testkit::moto::sdk_config().await;
    let counter = RequestCounter::default();
    let (dynamodb, s3, _) = aws_requests::counted_clients(&config, &counter);
    let store = Arc::new(DynamoStore::new(dynamodb, testkit::moto::table(&config).await));
    let integration_id = IntegrationId::parse("bench").expect("valid id");
    store
        .put_integration(&build::integration("bench").name("Bench").bot("Bench", "bench").build())
        .await
        .map_err(|e| e.to_string())?;
    let owner = build::staff(StaffId::generate().as_str()).name("Owner").owner().build();
    store
        .put_staff(&owner, "bench-token-hash")
        .await
        .map_err(|e| e.to_string())?;
    let processor = Processor::new(
        store.clone(),
        Arc::new(shared::aws::S3BlobStore::new(s3, testkit::moto::bucket(&config).await)),
        processor::DEFAULT_MAX_RECEIVES,
    )
    // The fixtures' avatars are on Viber's CDN: nothing is fetched from outside here.
    .without_avatar_copies();
    // The integration is cached per instance: one read, paid once, not per callback.
    processor
        .process(&envelope(&integration_id, &text_message(1, "warm-up")), 1)
        .await
        .map_err(|e| e.to_string())?;
    counter.take();

    println!("processor: AWS requests per callback against moto, {callbacks} callbacks per scenario");
    let users: Vec<String> = (0..callbacks).map(|i| format!("user-{i}")).collect();
    for (i, user) in users.iter().enumerate() {
        processor
            .process(&envelope(&integration_id, &text_message(1000 + i as u64, user)), 1)
            .await
            .map_err(|e| e.to_string())?;
    }
    report(
        "new contact's first message (new task)",
        &counter.take(),
        callbacks,
        "≤ 4",
    );

    for (i, user) in users.iter().enumerate() {
        processor
            .process(&envelope(&integration_id, &text_message(5000 + i as u64, user)), 1)
            .await
            .map_err(|e| e.to_string())?;
    }
    report("message to an existing active task", &counter.take(), callbacks, "≤ 2");

    let tasks = store
        .list_tasks(&TaskFilter::default(), &PageRequest::first(1))
        .await
        .map_err(|e| e.to_string())?;
    let task = tasks.items.first().ok_or("no task was created")?;
    let comments = store
        .list_comments(&task.id, &PageRequest::first(1))
        .await
        .map_err(|e| e.to_string())?;
    let comment = comments.items.first().ok_or("no comment was stored")?;
    let part = PartRef {
        task_id: task.id.clone(),
        comment_id: comment.id.clone(),
    };
    for i in 0..callbacks {
        store
            .record_part(&integration_id, 9000 + i, &part)
            .await
            .map_err(|e| e.to_string())?;
    }
    counter.take();
    for i in 0..callbacks {
        processor
            .process(&envelope(&integration_id, &delivered(9000 + i, "user-0")), 1)
            .await
            .map_err(|e| e.to_string())?;
    }
    report("delivery receipt", &counter.take(), callbacks, "—");

    for (i, user) in users.iter().enumerate() {
        processor
            .process(&envelope(&integration_id, &text_message(5000 + i as u64, user)), 1)
            .await
            .map_err(|e| e.to_string())?;
    }
    report("redelivered message (duplicate)", &counter.take(), callbacks, "—");

    let media = testkit::MediaServer::start().await;
    let url = media.serve("/5/media/box.jpg", vec![7u8; 20_000], "image/jpeg");
    for (i, user) in users.iter().enumerate() {
        let body = picture_message(20_000 + i as u64, user, &url);
        processor
            .process(&envelope(&integration_id, &body), 1)
            .await
            .map_err(|e| e.to_string())?;
    }
    report("picture to an existing task (S3 copy)", &counter.take(), callbacks, "—");
    println!(
        "SQS requests per callback from the processor's code: 0 (receive and delete are done by the Lambda event source mapping, in batches of up to 10)"
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let callbacks = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(50)
        .clamp(1, 1000);
    match run(callbacks).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("processor-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
