//! `processor-bench`: AWS requests per callback made by the processor's real code (DynamoDB
//! adapter against moto), counted by an SDK interceptor on every attempt that goes on the wire.
//! Scenarios: a new contact's first message (opening a task), a message to an existing active
//! task, a delivery receipt, a duplicate, a picture, a known client's text opening a new task
//! after staff closed the last one. Prints the DynamoDB requests and capacity units per callback
//! (units computed from item sizes, see `capacity.rs`: moto does not report real ones) and the
//! cost per million inbound text messages from the price table of docs/cost.md (`prices.rs`).
//! The staff reply's figures come from `sender-bench`, in the same shape.
//! Needs `VIBERDESK_MOTO_ENDPOINT` (a moto server on loopback).
//!
//! `cargo run --release -p viberdesk-bench --bin processor-bench [-- CALLBACKS]`

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[path = "../aws_requests.rs"]
mod aws_requests;
#[path = "../capacity.rs"]
mod capacity;
#[path = "../prices.rs"]
mod prices;

use aws_requests::RequestCounter;
use capacity::{CapacityMeter, Units};
use prices::ProcessorRun;
use processor::Processor;
use shared::aws::DynamoStore;
use shared::ids::{IntegrationId, StaffId};
use shared::inbound::queue_message;
use shared::model::TaskStatus;
use shared::ports::{
    ContactStore, DeliveryStore, IntegrationStore, PageRequest, PartRef, StaffStore, TaskChange, TaskFilter, TaskStore,
    TaskWorkflow,
};
use shared::time::Timestamp;
use shared::viber::Callback;
use testkit::build;

/// A text sent now (Viber's time says when the client wrote; the processor compares it with
/// when the contact's task was opened).
fn text_message(token: u64, user: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"message","timestamp":{},"message_token":{token},"sender":{{"id":"{user}","name":"Олена","avatar":"https://a/1.jpg","language":"uk","country":"UA","api_version":10}},"message":{{"type":"text","text":"Добрий день!"}},"silent":false}}"#,
        Timestamp::now().millis()
    )
    .into_bytes()
}

fn delivered(token: u64, user: &str) -> Vec<u8> {
    format!(r#"{{"event":"delivered","timestamp":1732529470339,"message_token":{token},"user_id":"{user}"}}"#)
        .into_bytes()
}

fn envelope(integration: &IntegrationId, body: &[u8]) -> String {
    let callback = Callback::from_slice(body).expect("bench callbacks parse");
    queue_message(integration, body, &callback, Timestamp::now())
        .expect("fits a queue message")
        .body
}

fn picture_message(token: u64, user: &str, url: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"message","timestamp":{},"message_token":{token},"sender":{{"id":"{user}","name":"Олена"}},"message":{{"type":"picture","text":"","media":"{url}","file_name":"box.jpg","size":20000}},"silent":false}}"#,
        Timestamp::now().millis()
    )
    .into_bytes()
}

/// What `measure` saw of one scenario.
struct Measured {
    counts: BTreeMap<String, u64>,
    units: Units,
    cpu_seconds: f64,
    log_bytes: u64,
}

/// One scenario's figures per callback; returns the processor's run and the units per callback.
fn report(scenario: &str, measured: &Measured, callbacks: u64) -> (ProcessorRun, Units) {
    let Measured {
        counts,
        units,
        cpu_seconds,
        log_bytes,
    } = measured;
    let n = callbacks as f64;
    let dynamo: Vec<(&String, &u64)> = counts.iter().filter(|(op, _)| op.starts_with("DynamoDB")).collect();
    let requests = dynamo.iter().map(|(_, c)| **c).sum::<u64>() as f64 / n;
    let mut detail: Vec<String> = dynamo
        .iter()
        .map(|(op, c)| format!("{} {:.2}", op.trim_start_matches("DynamoDB "), **c as f64 / n))
        .collect();
    detail.extend(
        counts
            .iter()
            .filter(|(op, _)| !op.starts_with("DynamoDB"))
            .map(|(op, c)| format!("{op} {:.2}", *c as f64 / n)),
    );
    let per = Units {
        read: units.read / n,
        write: units.write / n,
    };
    prices::report(scenario, "callback", requests, &detail.join(", "), per);
    let run = ProcessorRun {
        // The processor's DynamoDB requests are made one after another.
        round_trips: requests,
        cpu_seconds: cpu_seconds / n,
        log_bytes: *log_bytes as f64 / n,
    };
    println!(
        "{:<40} processor CPU {:.0} µs/callback, {:.0} log bytes/callback at INFO",
        "",
        run.cpu_seconds * 1e6,
        run.log_bytes
    );
    (run, per)
}

/// CPU time of this process so far (every thread): the processor's own work, its SDK calls and
/// serialisation; moto runs in another process.
fn process_cpu_seconds() -> f64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec to write to; the clock id is a constant Linux knows.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    now.tv_sec as f64 + now.tv_nsec as f64 / 1e9
}

/// Bytes the processor logged, in the Lambda JSON format at INFO (`shared::telemetry`).
static LOG_BYTES: AtomicU64 = AtomicU64::new(0);

struct CountingWriter;

impl std::io::Write for CountingWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOG_BYTES.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `callbacks` through the processor, metering each (the processor's CPU and log bytes
/// only while it runs: the meter's own reads are not counted).
async fn measure(
    processor: &Processor,
    meter: &mut CapacityMeter,
    counter: &RequestCounter,
    bodies: Vec<String>,
) -> Result<Measured, String> {
    meter.resync().await?;
    counter.take();
    let mut units = Units::default();
    let mut cpu_seconds = 0.0;
    let mut log_bytes = 0;
    for body in bodies {
        let (cpu_before, logs_before) = (process_cpu_seconds(), LOG_BYTES.load(Ordering::Relaxed));
        processor.process(&body).await.map_err(|e| e.to_string())?;
        cpu_seconds += process_cpu_seconds() - cpu_before;
        log_bytes += LOG_BYTES.load(Ordering::Relaxed) - logs_before;
        units += meter.settle().await?;
    }
    Ok(Measured {
        counts: counter.take(),
        units,
        cpu_seconds,
        log_bytes,
    })
}

async fn run(callbacks: u64) -> Result<(), String> {
    // The functions' log format and level in Lambda (`ApplicationLogLevel: INFO`).
    shared::telemetry::init_json_to(Some("info"), || CountingWriter);
    let config = testkit::moto::sdk_config().await;
    let counter = RequestCounter::default();
    let (dynamodb, _, _) = aws_requests::counted_clients(&config, &counter);
    let table = testkit::moto::table(&config).await;
    let store = Arc::new(DynamoStore::new(dynamodb, table.clone()));
    let mut meter = CapacityMeter::new(aws_sdk_dynamodb::Client::new(&config), &table, &counter);
    let integration_id = IntegrationId::parse("bench").expect("valid id");
    store
        .put_integration(&build::integration("bench").name("Bench").bot("Bench", "bench").build())
        .await
        .map_err(|e| e.to_string())?;
    let owner = build::staff(StaffId::generate().as_str()).name("Owner").owner().build();
    store
        .put_staff(&owner, "bench-token-hash")
        .await
        .map_err(|e| e.to_string())?;
    let processor = Processor::new(
        store.clone(),
        // Text messages only: no media copy is queued.
        Arc::new(shared::memory::MemoryQueue::new()),
        processor::DEFAULT_MAX_RECEIVES,
    )
    // The fixtures' avatars are on Viber's CDN: nothing is fetched from outside here.
    .without_avatar_copies();
    // The integration is cached per instance: one read, paid once, not per callback.
    processor
        .process(&envelope(&integration_id, &text_message(1, "warm-up")))
        .await
        .map_err(|e| e.to_string())?;
    counter.take();

    println!(
        "processor: per callback against moto, {callbacks} callbacks per scenario; capacity units computed from item sizes"
    );
    let users: Vec<String> = (0..callbacks).map(|i| format!("user-{i}")).collect();
    let bodies = |first: u64| -> Vec<String> {
        users
            .iter()
            .enumerate()
            .map(|(i, user)| envelope(&integration_id, &text_message(first + i as u64, user)))
            .collect()
    };
    let measured = measure(&processor, &mut meter, &counter, bodies(1000)).await?;
    let new_contact = report("text opening a task (a new contact)", &measured, callbacks);

    // A client's next message, written after the task was opened (beyond the clock-skew margin
    // within which a message is also looked for in the contact's earlier tasks).
    tokio::time::sleep(std::time::Duration::from_millis(
        shared::rules::CLOCK_SKEW_MARGIN_MILLIS as u64 + 1_000,
    ))
    .await;
    let appended = bodies(5000);
    let measured = measure(&processor, &mut meter, &counter, appended.clone()).await?;
    let append = report("message to an existing active task", &measured, callbacks);

    let tasks = store
        .list_tasks(&TaskFilter::default(), &PageRequest::first(1))
        .await
        .map_err(|e| e.to_string())?;
    let task = tasks.items.first().ok_or("no task was created")?;
    let comments = store
        .list_comments(&task.id, &PageRequest::first(1))
        .await
        .map_err(|e| e.to_string())?;
    let comment = comments.items.first().ok_or("no comment was stored")?;
    let part = PartRef {
        task_id: task.id.clone(),
        comment_id: comment.id.clone(),
    };
    for i in 0..callbacks {
        store
            .record_part(&integration_id, 9000 + i, &part)
            .await
            .map_err(|e| e.to_string())?;
    }
    let receipts = (0..callbacks)
        .map(|i| envelope(&integration_id, &delivered(9000 + i, "user-0")))
        .collect();
    let measured = measure(&processor, &mut meter, &counter, receipts).await?;
    report("delivery receipt", &measured, callbacks);

    let measured = measure(&processor, &mut meter, &counter, appended).await?;
    report("redelivered message (duplicate)", &measured, callbacks);

    let media = testkit::MediaServer::start().await;
    let url = media.serve("/5/media/box.jpg", vec![7u8; 20_000], "image/jpeg");
    let pictures = users
        .iter()
        .enumerate()
        .map(|(i, user)| envelope(&integration_id, &picture_message(20_000 + i as u64, user, &url)))
        .collect();
    let measured = measure(&processor, &mut meter, &counter, pictures).await?;
    report("picture to an existing task (S3 copy)", &measured, callbacks);

    // Staff close every client's task (uncounted); each client's next text opens a new one,
    // linked to the closed task, which it is checked against (docs/data-model.md, "A client
    // message").
    for user in &users {
        let contact_id = shared::rules::contact_id(&integration_id, user);
        let contact = store
            .get_contact(&contact_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no contact was stored")?;
        let current = contact.current_task.ok_or("the contact has no task")?;
        let completed = TaskChange {
            status: Some(TaskStatus::Completed),
            ..TaskChange::default()
        };
        store
            .update_task(&current.id, &completed, Timestamp::now())
            .await
            .map_err(|e| e.to_string())?;
    }
    // The instance's copies of the integration and of the account owner are fresh again (a busy
    // instance reads them once per TTL, not per message): one more new client, uncounted.
    processor
        .process(&envelope(&integration_id, &text_message(2, "warm-up-2")))
        .await
        .map_err(|e| e.to_string())?;
    let measured = measure(&processor, &mut meter, &counter, bodies(30_000)).await?;
    let known_client = report("text opening a task (a known client)", &measured, callbacks);
    println!(
        "SQS requests per callback from the processor's code: 0 (receive and delete are done by the Lambda event source mapping, in batches of up to {})",
        prices::PROCESSOR_BATCH
    );
    println!(
        "cost per million inbound text messages opening a task for a new client: ${:.2}",
        prices::inbound_message(new_contact.0, new_contact.1) * 1e6
    );
    println!(
        "cost per million inbound text messages: ${:.2} (append) / ${:.2} (new task)",
        prices::inbound_message(append.0, append.1) * 1e6,
        prices::inbound_message(known_client.0, known_client.1) * 1e6
    );
    Ok(())
}

// One thread: the CPU measured is the processor's work, not idle runtime workers looking for some.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let callbacks = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(50)
        .clamp(1, 1000);
    match run(callbacks).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("processor-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
