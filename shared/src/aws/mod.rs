//! AWS adapters. Clients come from `aws-config`, so `AWS_ENDPOINT_URL` points every one of them
//! at an emulator (moto in tests).

pub mod dynamo;
pub mod s3;
pub mod schema;
pub mod sqs;

pub use dynamo::DynamoStore;
pub use s3::S3BlobStore;
pub use sqs::SqsQueue;

/// Loads region, credentials and endpoint from the environment, once per Lambda instance.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    config_loader().load().await
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
/// virtual-host names like `bucket.localhost` do not resolve.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let builder = aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some());
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
