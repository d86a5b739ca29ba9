//! Counts the AWS requests the code under measurement sends, by operation: an SDK interceptor
//! sees every attempt that goes on the wire (shared by the bench binaries).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;

/// A DynamoDB request as sent, and whether it succeeded (a refused condition does not): what
/// the capacity meter charges.
#[derive(Debug, Clone)]
pub struct DynamoRequest {
    pub operation: String,
    pub body: serde_json::Value,
    pub succeeded: bool,
    /// The answer of a Query or Scan (billed by the size of what it returns).
    pub response: Option<serde_json::Value>,
}

/// Counts requests by service and operation (`DynamoDB GetItem`, `SQS SendMessage`, `S3 HEAD`),
/// and keeps the DynamoDB ones for [`crate::capacity::CapacityMeter`].
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    dynamo: Arc<Mutex<Vec<DynamoRequest>>>,
    /// Whether the request on the wire is a DynamoDB one (a bench sends one at a time).
    sending_dynamo: Arc<Mutex<bool>>,
}

impl RequestCounter {
    pub fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.counts.lock().expect("counter lock"))
    }

    /// The DynamoDB requests captured since the last call.
    pub fn take_dynamo(&self) -> Vec<DynamoRequest> {
        std::mem::take(&mut *self.dynamo.lock().expect("counter lock"))
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
                let is_dynamo = service.starts_with("DynamoDB");
                *self.sending_dynamo.lock().expect("counter lock") = is_dynamo;
                let service = if is_dynamo {
                    let body = request
                        .body()
                        .bytes()
                        .and_then(|bytes| serde_json::from_slice(bytes).ok())
                        .unwrap_or_default();
                    self.dynamo.lock().expect("counter lock").push(DynamoRequest {
                        operation: operation.to_owned(),
                        body,
                        succeeded: false,
                        response: None,
                    });
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
        *self.counts.lock().expect("counter lock").entry(operation).or_default() += 1;
        Ok(())
    }

    /// The outcome of the DynamoDB request captured last (a bench sends one at a time).
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if !std::mem::take(&mut *self.sending_dynamo.lock().expect("counter lock")) {
            return Ok(());
        }
        if let Some(last) = self.dynamo.lock().expect("counter lock").last_mut() {
            last.succeeded = response.status().is_success();
            if matches!(last.operation.as_str(), "Query" | "Scan") {
                last.response = response.body().bytes().and_then(|b| serde_json::from_slice(b).ok());
            }
        }
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
