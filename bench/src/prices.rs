//! The price table of docs/cost.md ("Prices used", us-east-1 list prices) and the cost of one
//! inbound text message built from what a bench counted: the benches print their dollar
//! figures from here, so the document and the benches use the same numbers.

use crate::capacity::Units;

/// API Gateway HTTP API, per request.
pub const HTTP_API_REQUEST: f64 = 1.00e-6;
/// Lambda arm64, per request and per GB-second.
pub const LAMBDA_REQUEST: f64 = 0.20e-6;
pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
/// SQS FIFO, per request (up to 64 KB).
pub const SQS_REQUEST: f64 = 0.50e-6;
/// DynamoDB on-demand, per write and read request unit.
pub const DYNAMODB_WRU: f64 = 0.625e-6;
pub const DYNAMODB_RRU: f64 = 0.125e-6;
/// CloudWatch Logs ingestion, per byte ($0.50/GB).
pub const LOG_BYTE: f64 = 0.50 / 1e9;

/// Messages per processor invocation, and so per SQS receive and delete: the event source
/// mapping's `BatchSize` (infra/template.yaml). A full batch is what a busy queue hands over;
/// at a trickle every message is its own batch (docs/cost.md shows both).
pub const PROCESSOR_BATCH: f64 = 10.0;
/// The webhook's run per callback: 128 MB, ~20 ms (measured CPU ~4 µs; the rest is SendMessage).
const WEBHOOK_GB_SECONDS: f64 = 0.125 * 0.020;
/// The processor's run per message: 256 MB, ~5 ms of its own plus ~20 ms per DynamoDB round trip.
const PROCESSOR_GB: f64 = 0.25;
const PROCESSOR_OWN_SECONDS: f64 = 0.005;
const DYNAMODB_ROUND_TRIP_SECONDS: f64 = 0.020;
/// CloudWatch Logs per message: Lambda's platform lines (START/END/REPORT, ~1 KB an invocation
/// in JSON) are off with `SystemLogLevel: WARN`; at `ApplicationLogLevel: INFO` the webhook and
/// the processor write nothing for a message that goes through (their per-message lines are
/// DEBUG), so what remains is warnings and errors, budgeted at 100 bytes a message.
pub const LOG_BYTES_PER_MESSAGE: f64 = 100.0;

/// The cost of one inbound text message: HTTP API + webhook Lambda + SQS send, the batched
/// receive/delete and processor invocation, and the processor's DynamoDB `requests` and `units`.
pub fn inbound_message(requests: f64, units: Units) -> f64 {
    let sqs = (1.0 + 2.0 / PROCESSOR_BATCH) * SQS_REQUEST;
    let lambda_requests = (1.0 + 1.0 / PROCESSOR_BATCH) * LAMBDA_REQUEST;
    let processor_seconds = PROCESSOR_OWN_SECONDS + DYNAMODB_ROUND_TRIP_SECONDS * requests;
    let duration = (WEBHOOK_GB_SECONDS + PROCESSOR_GB * processor_seconds) * LAMBDA_GB_SECOND;
    HTTP_API_REQUEST + sqs + lambda_requests + duration + dynamodb(units) + LOG_BYTES_PER_MESSAGE * LOG_BYTE
}

/// DynamoDB's share: the request units.
pub fn dynamodb(units: Units) -> f64 {
    units.read * DYNAMODB_RRU + units.write * DYNAMODB_WRU
}

/// One scenario's figures per callback (or per reply), in the shape both benches print.
pub fn report(scenario: &str, per: &str, requests: f64, detail: &str, units: Units) {
    println!(
        "{scenario:<40} {requests:>5.2} DynamoDB requests/{per} ({detail}); {:.2} RRU + {:.2} WRU = ${:.2} per million in DynamoDB",
        units.read,
        units.write,
        dynamodb(units) * 1e6
    );
}
