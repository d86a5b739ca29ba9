//! `viberdesk-local` on the AWS adapters (moto as the endpoint): the same pipeline as in memory,
//! through DynamoDB, a real FIFO queue polled like the event source mapping, and S3.

mod support;

use std::time::{Duration, Instant};

use support::{LocalStack, OWNER_TOKEN};
use testkit::fixtures::{self, DOC_TOKEN};
use testkit::{FakeViber, http_client};

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_message_reaches_the_api_through_dynamodb_and_sqs() {
    let viber = FakeViber::start(DOC_TOKEN).await;
    let env = support::moto_environment().await;
    let stack = LocalStack::start(
        &["--viber-api-url", &viber.api_url(), "--viber-token", DOC_TOKEN],
        &support::pairs(&env),
    )
    .await;

    let body = fixtures::bytes("message_text");
    let posted = http_client()
        .post(format!("{}/viber/default", stack.base_url))
        .header("X-Viber-Content-Signature", fixtures::sign(DOC_TOKEN, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);

    let started = Instant::now();
    loop {
        let tasks: serde_json::Value = http_client()
            .get(format!("{}/api/tasks", stack.base_url))
            .bearer_auth(OWNER_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(task) = tasks["items"].as_array().and_then(|items| items.first()) {
            assert_eq!(task["title"], "Viber: Олена Коваленко");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no task after 15 s: {tasks}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
