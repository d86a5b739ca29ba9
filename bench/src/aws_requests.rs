//! Counts the AWS requests the code under measurement sends, by operation: an SDK interceptor
//! sees every attempt that goes on the wire (shared by the bench binaries).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;

/// Counts requests by service and operation (`DynamoDB GetItem`, `SQS SendMessage`, `S3 HEAD`).
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl RequestCounter {
    pub fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.0.lock().expect("counter lock"))
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        // DynamoDB and SQS (JSON protocols) name the operation in `X-Amz-Target`; S3 is REST, so
        // it is counted by method.
        let operation = match request.headers().get("x-amz-target") {
            Some(target) => {
                let (service, operation) = target.split_once('.').unwrap_or(("", target));
                let service = if service.starts_with("DynamoDB") {
                    "DynamoDB"
                } else {
                    "SQS"
                };
                format!("{service} {operation}")
            }
            // A presigned URL is signed without sending anything, but the interceptor still sees
            // the request it signs.
            None if request.uri().contains("X-Amz-Signature=") => {
                format!("S3 {} presign (no request sent)", request.method())
            }
            None => format!("S3 {}", request.method()),
        };
        *self.0.lock().expect("counter lock").entry(operation).or_default() += 1;
        Ok(())
    }
}

/// DynamoDB, S3 (path-style, as moto needs) and SQS clients whose requests `counter` counts.
pub fn counted_clients(
    config: &aws_config::SdkConfig,
    counter: &RequestCounter,
) -> (aws_sdk_dynamodb::Client, aws_sdk_s3::Client, aws_sdk_sqs::Client) {
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(config)
            .interceptor(counter.clone())
            .build(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .interceptor(counter.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(config)
            .interceptor(counter.clone())
            .build(),
    );
    (dynamodb, s3, sqs)
}
