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
/// Clients whose messages share one batch. The processor applies a batch's clients side by side
/// (`Processor::handle_batch`), so the invocation waits on DynamoDB about as long as for one
/// message; on a busy queue of many clients each message of a full batch is another client's.
pub const CLIENTS_PER_BATCH: f64 = 10.0;
/// The webhook's run per callback: 128 MB, ~20 ms (measured CPU ~4 µs; the rest is SendMessage).
const WEBHOOK_GB_SECONDS: f64 = 0.125 * 0.020;
/// The processor's memory (infra/template.yaml: 128 MB since the media copy moved to its own worker).
const PROCESSOR_GB: f64 = 0.125;
/// Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB: a CPU-second
/// measured on one core here costs 1,769 MB-seconds (1.7275 GB-s) whatever the memory size.
const GB_SECONDS_PER_CPU_SECOND: f64 = 1769.0 / 1024.0;
/// One DynamoDB request's round trip from Lambda, waited for (not CPU).
const DYNAMODB_ROUND_TRIP_SECONDS: f64 = 0.020;

/// What one inbound message costs the processor, as the benches measure it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessorRun {
    /// DynamoDB requests made one after another (each waited for).
    pub round_trips: f64,
    /// The processor's own CPU time (the handler, the SDK, serialisation), measured.
    pub cpu_seconds: f64,
    /// CloudWatch Logs bytes written at the functions' level (`ApplicationLogLevel: INFO`; with
    /// `SystemLogLevel: WARN` Lambda adds no platform lines), measured.
    pub log_bytes: f64,
}

/// The cost of one inbound text message: HTTP API + webhook Lambda + SQS send, the batched
/// receive/delete and processor invocation, the processor's duration (its CPU, and its waits on
/// DynamoDB shared by the batch's clients) and its DynamoDB `units`.
pub fn inbound_message(run: ProcessorRun, units: Units) -> f64 {
    let sqs = (1.0 + 2.0 / PROCESSOR_BATCH) * SQS_REQUEST;
    let lambda_requests = (1.0 + 1.0 / PROCESSOR_BATCH) * LAMBDA_REQUEST;
    let processor_waits = PROCESSOR_GB * DYNAMODB_ROUND_TRIP_SECONDS * run.round_trips / CLIENTS_PER_BATCH;
    let processor_cpu = GB_SECONDS_PER_CPU_SECOND * run.cpu_seconds;
    let duration = (WEBHOOK_GB_SECONDS + processor_waits + processor_cpu) * LAMBDA_GB_SECOND;
    HTTP_API_REQUEST + sqs + lambda_requests + duration + dynamodb(units) + run.log_bytes * LOG_BYTE
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
