//! `sender-bench`: what one staff reply costs, measured on the real code.
//!
//! 1. Requests per reply (DynamoDB / SQS / S3 against moto, counted by an SDK interceptor; Viber
//!    requests counted by the fake Viber on loopback): `POST /api/tasks/{id}/comments` through the
//!    API handler, then the sender's job. Scenarios: text only; text + a picture + a file.
//! 2. Sender CPU time per reply, excluding the network: the sender on the in-memory store with
//!    the fake Viber on another thread, CPU time of the sender's thread
//!    (`/proc/thread-self/schedstat`) over many replies.
//!
//! Part 1 also prints each side's DynamoDB requests and capacity units per reply in the shape
//! `processor-bench` prints (units computed from item sizes, see `capacity.rs`).
//!
//! Needs `VIBERDESK_MOTO_ENDPOINT` (a moto server on loopback) for part 1.
//!
//! `cargo run --release -p viberdesk-bench --bin sender-bench [-- REPLIES]`

#[path = "../aws_requests.rs"]
mod aws_requests;
#[path = "../capacity.rs"]
mod capacity;
// Only the report's shape and the DynamoDB prices are used here.
#[allow(dead_code)]
#[path = "../prices.rs"]
mod prices;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::{Api, Settings};
use aws_requests::RequestCounter;
use capacity::{CapacityMeter, Units};
use lambda_http::http::{Method, header};
use lambda_http::{Body, RequestExt};
use sender::{Outcome, Sender};
use shared::aws::{DynamoStore, S3BlobStore, SqsQueue};
use shared::blobs::MemoryBlobStore;
use shared::ids::{AttachmentId, CommentId, IntegrationId, StaffId, TaskId};
use shared::memory::MemoryStore;
use shared::model::{Attachment, Author, AuthorKind, Comment, CommentStatus, Integration, OutboundPlan, Task};
use shared::outbound::OutboundJob;
use shared::ports::{BlobStore, IntegrationStore, MessageStore, MessageWrite, StaffStore, TaskWrite, token_hash};
use shared::time::Timestamp;
use shared::viber::client::ViberClient;
use testkit::fixtures::DOC_TOKEN;
use testkit::{FakeViber, build};

const STAFF_TOKEN: &str = "bench-staff-token-0123456789";
const USER: &str = "9Kf2mQ1xT7bVnC3pLs8aZw==";

type Error = Box<dyn std::error::Error>;

fn integration(id: &IntegrationId) -> Integration {
    build::integration(id.as_str())
        .name("Bench")
        .bot("Bench Support", "benchsupport")
        .build()
}

/// A client with an open task (written directly, not measured); returns the task.
async fn seed_task<S: MessageStore>(store: &S, integration_id: &IntegrationId, n: usize) -> Result<Task, Error> {
    let user = format!("{USER}{n}");
    let contact_id = shared::rules::contact_id(integration_id, &user);
    let now = Timestamp::now();
    let task = build::task(TaskId::generate().as_str())
        .integration(integration_id)
        .requester(&contact_id)
        .at(now)
        .build();
    let contact = build::contact_of(integration_id, &user)
        .from_ukraine()
        .writing_in(&task.id)
        .at(now)
        .build();
    let comment = Comment {
        id: CommentId::generate(),
        task_id: task.id.clone(),
        author: Author {
            kind: AuthorKind::Contact,
            id: contact_id.as_str().into(),
        },
        text: Some("Добрий день".into()),
        attachment_ids: vec![],
        notify_client: false,
        status: CommentStatus::Received,
        status_reason: None,
        created_at: now,
        viber_message_type: Some("text".into()),
        viber_message_token: Some(n as u64 + 1),
        parts: Default::default(),
        outbound: None,
        details: None,
    };
    store
        .apply_message(&MessageWrite {
            earlier_tasks: Vec::new(),
            contact: Some(contact),
            expected_contact_version: None,
            task: TaskWrite::Create(task.clone()),
            comment,
            attachments: vec![],
        })
        .await?;
    Ok(task)
}

fn post(uri: &str, body: serde_json::Value) -> lambda_http::Request {
    lambda_http::http::Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {STAFF_TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body.to_string()))
        .expect("a valid request")
        .with_query_string_parameters(std::collections::HashMap::<String, Vec<String>>::new())
}

fn per_reply(counts: &BTreeMap<String, u64>, replies: usize, service: &str) -> (f64, String) {
    let selected: Vec<(&String, &u64)> = counts.iter().filter(|(op, _)| op.starts_with(service)).collect();
    let total: u64 = selected.iter().map(|(_, n)| **n).sum();
    let detail: Vec<String> = selected
        .iter()
        .map(|(op, n)| {
            format!(
                "{} {:.2}",
                op.trim_start_matches(service).trim(),
                **n as f64 / replies as f64
            )
        })
        .collect();
    (total as f64 / replies as f64, detail.join(", "))
}

fn print_counts(side: &str, counts: &BTreeMap<String, u64>, replies: usize, services: &[&str]) {
    for service in services {
        let (total, detail) = per_reply(counts, replies, service);
        println!("    {side:<7} {service:<8} {total:>5.2} per reply  ({detail})");
    }
}

/// Part 1: requests per reply against moto.
async fn requests_per_reply(replies: usize) -> Result<(), Error> {
    let config = testkit::moto::sdk_config().await;
    let counter = RequestCounter::default();
    let (dynamodb, s3, sqs) = aws_requests::counted_clients(&config, &counter);
    let table = testkit::moto::table(&config).await;
    let store = Arc::new(DynamoStore::new(dynamodb, table.clone()));
    let mut meter = CapacityMeter::new(aws_sdk_dynamodb::Client::new(&config), &table, &counter);
    let blobs = Arc::new(S3BlobStore::new(s3, testkit::moto::bucket(&config).await));
    let queue_url = testkit::moto::fifo_queue(&config).await;
    let outbound = Arc::new(SqsQueue::new(sqs, queue_url.clone()));
    let viber = FakeViber::start(DOC_TOKEN).await;
    let integration_id = IntegrationId::parse("bench").expect("valid id");
    store.put_integration(&integration(&integration_id)).await?;
    let staff = build::staff(StaffId::generate().as_str()).name("Anna").build();
    store.put_staff(&staff, &token_hash(STAFF_TOKEN)).await?;
    let settings = Settings {
        viber_api_url: viber.api_url(),
        public_base_url: Some("https://viberdesk.test".into()),
        blob_origin: None,
    };
    let api = Api::new(store.clone(), blobs.clone(), outbound, settings);
    let sender = Sender::new(
        store.clone(),
        blobs.clone(),
        ViberClient::with_timeout(&viber.api_url(), sender::VIBER_TIMEOUT),
        sender::DEFAULT_MAX_RECEIVES,
    );
    let jobs = testkit::moto::sdk_config().await;
    let plain_sqs = aws_sdk_sqs::Client::new(&jobs);

    println!("requests per staff reply against moto ({replies} replies per scenario; the integration is cached)");
    for (scenario, files) in [("text only", 0usize), ("text + picture + file", 2)] {
        let mut tasks = Vec::with_capacity(replies);
        let mut uploads = Vec::with_capacity(replies);
        for n in 0..replies {
            tasks.push(seed_task(store.as_ref(), &integration_id, n + 1000 * files).await?);
            let mut ids = Vec::new();
            for (name, content_type, size) in [
                ("photo.jpg", "image/jpeg", 20_000usize),
                ("invoice.pdf", "application/pdf", 60_000),
            ]
            .into_iter()
            .take(files)
            {
                let announced = api
                    .handle(post(
                        "/api/attachments",
                        serde_json::json!({"file_name": name, "content_type": content_type, "size": size}),
                    ))
                    .await;
                let answer: serde_json::Value = match announced.into_body() {
                    Body::Text(text) => serde_json::from_str(&text)?,
                    other => return Err(format!("unexpected answer {other:?}").into()),
                };
                let id = answer["id"].as_str().ok_or("no attachment id")?.to_owned();
                let key = format!("attachments/{id}/{name}");
                blobs.put(&key, vec![7u8; size].into(), content_type).await?;
                ids.push(id);
            }
            uploads.push(ids);
        }
        meter.resync().await?;
        counter.take();
        let mut api_units = Units::default();
        let mut answers = Vec::with_capacity(replies);
        for (task, ids) in tasks.iter().zip(&uploads) {
            // As the web inbox posts a reply: under an Idempotency-Key (one more read, and the
            // key written in the comment's transaction).
            let mut request = post(
                &format!("/api/tasks/{}/comments", task.id),
                serde_json::json!({"text": "Добрий день! Ось документи.", "attachment_ids": ids, "notify_client": true}),
            );
            request.headers_mut().insert(
                "idempotency-key",
                lambda_http::http::HeaderValue::from_str(shared::ids::new_id().as_str())?,
            );
            let response = api.handle(request).await;
            if response.status() != 202 {
                return Err(format!("POST comment answered {}: {:?}", response.status(), response.body()).into());
            }
            answers.push(response);
            api_units += meter.settle().await?;
        }
        let api_counts = counter.take();
        let mut jobs = Vec::with_capacity(replies);
        while jobs.len() < replies {
            let received = plain_sqs
                .receive_message()
                .queue_url(&queue_url)
                .max_number_of_messages(10)
                .send()
                .await?;
            for message in received.messages.unwrap_or_default() {
                jobs.push(OutboundJob::from_json(message.body.as_deref().unwrap_or_default())?);
                plain_sqs
                    .delete_message()
                    .queue_url(&queue_url)
                    .receipt_handle(message.receipt_handle.unwrap_or_default())
                    .send()
                    .await?;
            }
        }
        let viber_before = viber.requests().len();
        meter.resync().await?;
        counter.take();
        let mut sender_units = Units::default();
        for job in &jobs {
            match sender.send(job, 1).await? {
                Outcome::Sent { .. } => {}
                other => return Err(format!("reply not sent: {other:?}").into()),
            }
            sender_units += meter.settle().await?;
        }
        let sender_counts = counter.take();
        let viber_requests = viber.requests().len() - viber_before;
        println!("  {scenario} ({} Viber messages per reply)", 1 + files);
        print_counts("api", &api_counts, replies, &["DynamoDB", "SQS", "S3"]);
        print_counts("sender", &sender_counts, replies, &["DynamoDB", "SQS", "S3"]);
        println!(
            "    sender  Viber    {:>5.2} per reply  (send_message; one per message part, no retries)",
            viber_requests as f64 / replies as f64
        );
        for (side, counts, units) in [
            ("api", &api_counts, api_units),
            ("sender", &sender_counts, sender_units),
        ] {
            let (requests, detail) = per_reply(counts, replies, "DynamoDB");
            let per = Units {
                read: units.read / replies as f64,
                write: units.write / replies as f64,
            };
            prices::report(
                &format!("staff reply, {scenario} ({side})"),
                "reply",
                requests,
                &detail,
                per,
            );
        }
    }
    println!(
        "  (api: 2 GetItem authenticate the bearer token on every call; SQS receive/delete are the event source mapping's)"
    );
    Ok(())
}

/// CPU time this thread has run, from the scheduler's accounting (nanoseconds).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let nanos = stat.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    Duration::from_nanos(nanos)
}

/// Part 2: the sender's CPU per reply on the in-memory store, the fake Viber on its own thread.
fn cpu_per_reply(replies: usize) -> Result<(), Error> {
    let (url_sender, url) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(async move {
            let viber = FakeViber::start(DOC_TOKEN).await;
            url_sender.send(viber.api_url()).expect("the bench waits");
            std::future::pending::<()>().await;
        });
    });
    let viber_url = url.recv()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        println!("sender CPU per reply, excluding the network ({replies} replies per scenario, in-memory store)");
        for (scenario, files) in [("text only", 0usize), ("text + picture + file", 2)] {
            let store = Arc::new(MemoryStore::new());
            let integration_id = IntegrationId::parse("bench").expect("valid id");
            store.put_integration(&integration(&integration_id)).await?;
            let blobs = Arc::new(MemoryBlobStore::new("http://127.0.0.1:3000"));
            let sender = Sender::new(
                store.clone(),
                blobs,
                ViberClient::with_timeout(&viber_url, sender::VIBER_TIMEOUT),
                sender::DEFAULT_MAX_RECEIVES,
            );
            let mut jobs = Vec::with_capacity(replies);
            for n in 0..replies {
                let task = seed_task(store.as_ref(), &integration_id, n).await?;
                let attachments: Vec<Attachment> = [("photo.jpg", "image/jpeg", 20_000u64), ("invoice.pdf", "application/pdf", 60_000)]
                    .into_iter()
                    .take(files)
                    .map(|(name, content_type, size)| {
                        let id = AttachmentId::generate();
                        Attachment {
                            blob_key: format!("attachments/{id}/{name}"),
                            id,
                            file_name: name.into(),
                            content_type: content_type.into(),
                            size,
                            available: true,
                            unavailable_reason: None,
                            awaiting_upload: false,
                            created_at: Timestamp::now(),
                        }
                    })
                    .collect();
                let comment = Comment {
                    id: CommentId::generate(),
                    task_id: task.id.clone(),
                    author: Author {
                        kind: AuthorKind::Staff,
                        id: "anna".into(),
                    },
                    text: Some("Добрий день! Ось документи.".into()),
                    attachment_ids: attachments.iter().map(|a| a.id.clone()).collect(),
                    notify_client: true,
                    status: CommentStatus::Queued,
                    status_reason: None,
                    created_at: Timestamp::now(),
                    viber_message_type: None,
                    viber_message_token: None,
                    parts: Default::default(),
                    outbound: Some(OutboundPlan {
                        integration_id: integration_id.clone(),
                        contact_id: task.requester_id.clone(),
                        viber_user_id: format!("{USER}{n}"),
                        as_staff: None,
                        part_count: 1 + attachments.len(),
                        attachments,
                    }),
                    details: None,
                };
                shared::ports::CommentStore::add_staff_comment(store.as_ref(), &comment, &[], None).await?;
                jobs.push(OutboundJob {
                    task_id: task.id.clone(),
                    comment_id: comment.id.clone(),
                    contact_id: task.requester_id.clone(),
                    queued_at: Timestamp::now(),
                });
            }
            // Warm-up: the connection to the fake Viber and the integration cache.
            let (warm, measured) = jobs.split_at(jobs.len().min(5));
            for job in warm {
                sender.send(job, 1).await?;
            }
            let (cpu, wall) = (thread_cpu(), Instant::now());
            for job in measured {
                sender.send(job, 1).await?;
            }
            let (cpu, wall) = (thread_cpu() - cpu, wall.elapsed());
            let n = measured.len().max(1) as u32;
            println!(
                "  {scenario:<24} {:>7.1} µs CPU per reply   (wall {:.2} ms per reply, {} Viber messages each)   target ≤ 1000 µs",
                (cpu / n).as_secs_f64() * 1e6,
                (wall / n).as_secs_f64() * 1e3,
                1 + files
            );
        }
        Ok::<(), Error>(())
    })
}

fn main() -> ExitCode {
    let replies: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(50)
        .clamp(5, 2000);
    let counts = tokio::runtime::Runtime::new()
        .map_err(Error::from)
        .and_then(|runtime| runtime.block_on(requests_per_reply(replies)));
    let result = counts.and_then(|()| cpu_per_reply(replies * 4));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sender-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
