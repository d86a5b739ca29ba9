//! `viberdesk-local` on the AWS adapters (moto): an owner connects a bot through the API (Viber's
//! signed check reaches the stack's webhook, which reads the integration from DynamoDB), a client
//! writes, the owner completes the task, the next message opens a linked task, and the bot is
//! disconnected.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::LOCAL;
use testkit::FakeViber;
use testkit::fixtures::DOC_TOKEN;
use testkit::local::LocalStack;

async fn client_writes(stack: &LocalStack, id: &str, message_token: u64) -> u16 {
    let body = json!({
        "event": "message", "timestamp": 1_732_528_955_000u64 + message_token % 1000, "message_token": message_token,
        "sender": {"id": "u==", "name": "Олена"}, "message": {"type": "text", "text": "Добрий день"}
    })
    .to_string();
    stack.post_signed_to(id, DOC_TOKEN, body.as_bytes()).await.as_u16()
}

async fn tasks_when(stack: &LocalStack, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let items = |page: &Value| page["items"].as_array().cloned().unwrap_or_default();
    let (page, _) = stack
        .eventually_within(
            Duration::from_secs(15),
            Duration::from_millis(100),
            "/api/tasks",
            |page| ready(&items(page)),
        )
        .await;
    items(&page)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bot_connected_through_the_api_works_on_dynamodb_and_sqs() {
    let viber = FakeViber::start(DOC_TOKEN).await;
    let stack = LOCAL.start_on_moto(&["--viber-api-url", &viber.api_url()]).await;

    let (status, connected) = stack
        .post_json(
            "/api/integrations",
            json!({"name": "Support", "auth_token": DOC_TOKEN, "template": {"initial_status": "in_progress"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{connected}");
    let id = connected["id"].as_str().unwrap().to_owned();

    assert_eq!(client_writes(&stack, &id, 7_100_000_000_000_000_001).await, 200);
    let first = tasks_when(&stack, |t| t.len() == 1).await.remove(0);
    assert_eq!(first["status"], "in_progress");
    let first_id = first["id"].as_str().unwrap().to_owned();
    let (status, _) = stack
        .patch_json(&format!("/api/tasks/{first_id}"), json!({"status": "completed"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(client_writes(&stack, &id, 7_100_000_000_000_000_002).await, 200);
    let tasks = tasks_when(&stack, |t| t.len() == 2).await;
    let second = tasks.iter().find(|t| t["id"] != first_id.as_str()).unwrap();
    assert_eq!(second["previous_task_id"], first_id.as_str());

    let (status, _) = stack.delete(&format!("/api/integrations/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(client_writes(&stack, &id, 7_100_000_000_000_000_003).await, 404);
    assert_eq!(viber.webhook(), None);
}
