//! The AWS adapters' tests run against a moto server. The README's test command starts one and
//! sets `VIBERDESK_MOTO_ENDPOINT`; every test makes its own uniquely named resources.

use aws_config::{Region, SdkConfig};
use aws_sdk_sqs::config::Credentials;
use aws_sdk_sqs::types::QueueAttributeName;

pub const ENDPOINT_VARIABLE: &str = "VIBERDESK_MOTO_ENDPOINT";

pub fn endpoint() -> String {
    std::env::var(ENDPOINT_VARIABLE).unwrap_or_else(|_| {
        panic!("{ENDPOINT_VARIABLE} is not set: run the tests with ./scripts/test, which starts a moto server")
    })
}

/// An SDK configuration pointed at moto, as `AWS_ENDPOINT_URL` would point it.
pub async fn sdk_config() -> SdkConfig {
    shared::aws::config_loader()
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", shared::ids::new_id())
}

/// A fresh table with viberdesk's schema.
pub async fn table(config: &SdkConfig) -> String {
    let name = unique("viberdesk");
    shared::aws::schema::create_table(&aws_sdk_dynamodb::Client::new(config), &name)
        .await
        .expect("create table");
    name
}

/// A fresh private bucket like the attachments bucket.
pub async fn bucket(config: &SdkConfig) -> String {
    let name = unique("attachments").to_ascii_lowercase();
    shared::aws::s3_client(config)
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("create bucket");
    name
}

/// A fresh FIFO queue like the inbound one (deduplication ids required, not content-based).
pub async fn fifo_queue(config: &SdkConfig) -> String {
    let client = aws_sdk_sqs::Client::new(config);
    let output = client
        .create_queue()
        .queue_name(format!("{}.fifo", unique("inbound")))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "false")
        .send()
        .await
        .expect("create queue");
    output.queue_url.expect("queue url")
}

/// A fresh standard queue like the media one: its redrive policy moves a message to a fresh
/// dead-letter queue after `max_receives` receives, as the template's does.
pub async fn standard_queue(config: &SdkConfig, max_receives: u32) -> String {
    let client = aws_sdk_sqs::Client::new(config);
    let dead_letters = client
        .create_queue()
        .queue_name(unique("media-dlq"))
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url");
    let dead_letters_arn = client
        .get_queue_attributes()
        .queue_url(&dead_letters)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .and_then(|attributes| attributes.get(&QueueAttributeName::QueueArn).cloned())
        .expect("queue arn");
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dead_letters_arn}","maxReceiveCount":{max_receives}}}"#);
    let output = client
        .create_queue()
        .queue_name(unique("media"))
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .expect("create queue");
    output.queue_url.expect("queue url")
}

/// A received SQS message with the attributes the tests check.
#[derive(Debug)]
pub struct Received {
    pub body: String,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
}

/// Receives everything waiting (up to `max`), deleting it.
pub async fn drain(config: &SdkConfig, queue_url: &str, max: usize) -> Vec<Received> {
    let client = aws_sdk_sqs::Client::new(config);
    let mut received = Vec::new();
    while received.len() < max {
        let output = client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        let messages = output.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let attributes = message.attributes.clone().unwrap_or_default();
            let attribute = |name: &str| {
                attributes
                    .iter()
                    .find(|(key, _)| key.as_str() == name)
                    .map(|(_, value)| value.clone())
            };
            received.push(Received {
                body: message.body.clone().unwrap_or_default(),
                group_id: attribute("MessageGroupId"),
                dedup_id: attribute("MessageDeduplicationId"),
            });
            client
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle.unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
    }
    received
}
