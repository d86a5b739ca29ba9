//! AWS adapters. Clients come from `aws-config`, so `AWS_ENDPOINT_URL` points every one of them
//! at an emulator (moto in tests).

pub mod dynamo;
pub mod s3;
pub mod schema;
pub mod sqs;

pub use dynamo::DynamoStore;
pub use s3::S3BlobStore;
pub use sqs::SqsQueue;

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;

/// How long connecting to an AWS endpoint may take (the SDK's default is 3.1 s): in a region it
/// takes milliseconds, so a second means the endpoint is unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one attempt of a call may take. DynamoDB and SQS answer in milliseconds; the local
/// stack's queue consumer long-polls SQS for 1 s, which must fit.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a call may take with the SDK's own retries (3 attempts) before it fails. Without a
/// limit a call to an unreachable endpoint takes 10 s or more (3 connect timeouts and the
/// back-off between them); with it the webhook answers 503 while Viber still waits (it re-sends
/// a callback after ~5 s, and the webhook Lambda's timeout is 5 s), and the staff API answers
/// 503 instead of hanging.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);

/// Loads region, credentials and endpoint from the environment, once per Lambda instance, with
/// [`timeouts`].
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    config_loader().timeout_config(timeouts()).load().await
}

/// The timeouts of every DynamoDB and SQS call: [`CONNECT_TIMEOUT`], [`ATTEMPT_TIMEOUT`],
/// [`OPERATION_TIMEOUT`]. (S3 keeps only the connect timeout: see [`s3_client`].)
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The SDK's configuration loader with viberdesk's HTTPS client (rustls with ring: the SDK's
/// default aws-lc provider would nearly triple the size of every Lambda zip).
pub fn config_loader() -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https)
}

/// An S3 client; path-style addressing whenever an endpoint override is set (moto, MinIO), since
/// virtual-host names like `bucket.localhost` do not resolve. Its calls have no attempt or
/// operation timeout: an upload of a client's file (up to 50 MiB) takes as long as it takes.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let transfers = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .disable_operation_attempt_timeout()
        .disable_operation_timeout()
        .build();
    let builder = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(config.endpoint_url().is_some())
        .timeout_config(transfers);
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// The SDK's error with its source chain, without request details (which may carry secrets).
pub(crate) fn describe<E: std::error::Error>(error: &E) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use aws_config::Region;
    use aws_sdk_sqs::config::Credentials;

    use super::*;
    use crate::ports::{MessageQueue, QueueError, QueueMessage};

    /// An endpoint that accepts connections and never answers: a network path that swallows
    /// packets looks the same to a client that already connected.
    async fn silent_endpoint() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn a_call_to_an_endpoint_that_never_answers_fails_within_the_operation_timeout() {
        let config = config_loader()
            .timeout_config(timeouts())
            .endpoint_url(silent_endpoint().await)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await;
        let queue = super::SqsQueue::from_config(&config, "http://127.0.0.1/queue/inbound.fifo");
        let started = Instant::now();
        let sent = queue
            .send(QueueMessage {
                group_id: Some("client".into()),
                dedup_id: Some("token".into()),
                body: "{}".into(),
            })
            .await;
        let took = started.elapsed();
        assert!(matches!(sent, Err(QueueError::Unavailable(_))), "{sent:?}");
        assert!(
            took >= ATTEMPT_TIMEOUT && took < OPERATION_TIMEOUT + Duration::from_millis(500),
            "failed after {took:?}"
        );
    }

    #[test]
    fn a_call_fails_before_viber_re_sends_the_callback_it_came_from() {
        assert!(CONNECT_TIMEOUT < ATTEMPT_TIMEOUT && ATTEMPT_TIMEOUT <= OPERATION_TIMEOUT);
        assert!(OPERATION_TIMEOUT < Duration::from_secs(5));
        assert!(
            ATTEMPT_TIMEOUT > Duration::from_secs(1),
            "the local consumer's 1 s long poll fits"
        );
    }
}
