//! `viberdesk-local` on the AWS adapters (moto as the endpoint): the same pipeline as in memory,
//! through DynamoDB, a real FIFO queue polled like the event source mapping, and S3.

mod support;

use std::time::Duration;

use support::LOCAL;
use testkit::fixtures;

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_message_reaches_the_api_through_dynamodb_and_sqs() {
    let (_viber, stack) = LOCAL.connected_on_moto().await;
    stack.post_signed(&fixtures::bytes("message_text")).await;
    let (tasks, _) = stack
        .eventually_within(
            Duration::from_secs(15),
            Duration::from_millis(100),
            "/api/tasks",
            |tasks| tasks["items"].as_array().is_some_and(|items| !items.is_empty()),
        )
        .await;
    assert_eq!(tasks["items"][0]["title"], "Viber: Олена Коваленко");
}
