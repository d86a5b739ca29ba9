//! The real webhook binary serving signed callbacks, as Lambda would run it: a child process
//! with Lambda's environment, polling a fake Runtime API on loopback, storing to moto. Reports the
//! cold start, the handler time as Lambda sees it, and the peak RSS against a 128 MB function.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use serde_json::json;
use shared::aws::{DynamoStore, SqsQueue};
use shared::model::Integration;
use shared::ports::{IntegrationStore, MessageQueue, QueueMessage};
use shared::viber::signature::SIGNATURE_HEADER;
use testkit::fixtures::{self, CALLBACKS, DOC_TOKEN};
use testkit::{build, moto};

use crate::Error;
use crate::runtime_api::{Observed, Outcome, RuntimeApi};
use crate::stats::{self, millis};
use crate::workspace;

const INTEGRATION: &str = "bench";
const PATH: &str = "/viber/bench";
const ROUTE_KEY: &str = "POST /viber/{integration_id}";
const LAMBDA_MEMORY_MB: u64 = 128;
/// Bounds the whole run, however the child behaves.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// SQS sends timed from the bench itself, to tell moto's latency from the function's.
const BASELINE_SENDS: usize = 20;

#[derive(clap::Args)]
pub struct Options {
    /// Invocations to serve, cycling through the callback fixtures.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    invocations: u32,
    /// The webhook binary to run [default: builds one with `cargo build --release -p webhook`].
    #[arg(long)]
    webhook_bin: Option<PathBuf>,
}

/// The moto resources the child is pointed at.
struct Backend {
    endpoint: String,
    table: String,
    queue_url: String,
    /// See [`sqs_send_round_trip`].
    send_round_trip: Duration,
}

pub fn run(options: &Options) -> Result<(), Error> {
    let endpoint = moto_endpoint()?;
    let binary = match &options.webhook_bin {
        Some(binary) => binary.clone(),
        None => workspace::build_host_webhook()?,
    };
    if !binary.is_file() {
        return Err(format!("no webhook binary at {}", binary.display()).into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let invocations = options.invocations as usize;
    let run = runtime.block_on(async {
        let backend = prepare_backend(endpoint).await?;
        serve(&binary, &backend, invocations).await
    })?;
    report(&binary, invocations, &run)
}

/// `VIBERDESK_MOTO_ENDPOINT`, which must be on loopback: the bench and the child use fake
/// credentials, and nothing here may reach a real AWS account.
fn moto_endpoint() -> Result<String, Error> {
    let endpoint = std::env::var(moto::ENDPOINT_VARIABLE).map_err(|_| {
        format!(
            "{} is not set; start moto first: `~/.cache/viberdesk-venv/bin/moto_server -H 127.0.0.1 -p 5055 &` \
             and export {0}=http://127.0.0.1:5055",
            moto::ENDPOINT_VARIABLE
        )
    })?;
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    if !loopback.iter().any(|prefix| endpoint.starts_with(prefix)) {
        return Err(format!(
            "{} must be a loopback http:// URL, not {endpoint}",
            moto::ENDPOINT_VARIABLE
        )
        .into());
    }
    Ok(endpoint)
}

/// A fresh table holding integration `bench` (signed with the doc token) and a fresh FIFO queue.
async fn prepare_backend(endpoint: String) -> Result<Backend, Error> {
    let config = moto::sdk_config().await;
    let table = moto::table(&config).await;
    let queue_url = moto::fifo_queue(&config).await;
    DynamoStore::from_config(&config, &table)
        .put_integration(&integration())
        .await?;
    let send_round_trip = sqs_send_round_trip(&config, &queue_url).await?;
    Ok(Backend {
        endpoint,
        table,
        queue_url,
        send_round_trip,
    })
}

/// Mean time of one SQS send to moto from here, over a warm connection. Every accepted callback
/// waits for one such send, so this is the emulator's share of the handler time (real SQS has
/// its own, different latency).
async fn sqs_send_round_trip(config: &SdkConfig, queue_url: &str) -> Result<Duration, Error> {
    let queue = SqsQueue::from_config(config, queue_url);
    queue.warm_up().await;
    let mut times = Vec::with_capacity(BASELINE_SENDS);
    for index in 0..BASELINE_SENDS {
        let message = QueueMessage {
            group_id: Some("bench:baseline".to_owned()),
            dedup_id: Some(format!("baseline-{index}")),
            body: "{}".to_owned(),
        };
        let started = Instant::now();
        queue.send(message).await?;
        times.push(started.elapsed());
    }
    Ok(stats::mean(&times))
}

fn integration() -> Integration {
    build::integration(INTEGRATION)
        .name("Bench")
        .bot("Bench bot", "benchbot")
        .webhook_url(&format!("https://bench.example{PATH}"))
        .build()
}

/// What one run measured.
struct Run {
    observed: Observed,
    /// Spawn to the first `next`: process start plus the function's INIT.
    cold_start: Option<Duration>,
    /// Spawn to the first answer: the cold start plus the first invocation, what a cold caller waits.
    first_answer: Option<Duration>,
    peak_rss_kib: u64,
    /// See [`sqs_send_round_trip`].
    sqs_send: Duration,
}

/// Runs the child until every invocation is answered, reads its peak RSS, then stops it.
async fn serve(binary: &Path, backend: &Backend, invocations: usize) -> Result<Run, Error> {
    let api = RuntimeApi::start(signed_events()?, invocations).await?;
    let log_path = workspace::target_dir().join("webhook-bench-webhook.log");
    let spawned_at = Instant::now();
    let mut child = KillOnDrop(lambda_command(binary, backend, api.addr, File::create(&log_path)?)?.spawn()?);
    println!(
        "webhook child pid {} polling {} (its log: {})",
        child.0.id(),
        api.addr,
        log_path.display()
    );
    wait_until_finished(&api, &mut child, &log_path).await?;
    // Read while the child still lives: /proc/<pid> goes with it.
    let peak_rss_kib = peak_rss_kib(child.0.id())?;
    drop(child);
    let observed = api.observed();
    let cold_start = observed
        .first_next
        .map(|first| first.saturating_duration_since(spawned_at));
    let first_answer = observed
        .first_answer
        .map(|first| first.saturating_duration_since(spawned_at));
    Ok(Run {
        observed,
        cold_start,
        first_answer,
        peak_rss_kib,
        sqs_send: backend.send_round_trip,
    })
}

/// The child's environment is Lambda's (`provided.al2023`, 128 MB) plus the function's own
/// variables; nothing is inherited, so a developer's AWS profile cannot leak in.
fn lambda_command(binary: &Path, backend: &Backend, api: std::net::SocketAddr, log: File) -> Result<Command, Error> {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "webhook")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", LAMBDA_MEMORY_MB.to_string())
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/webhook")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2024/11/25/[$LATEST]bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", &backend.endpoint)
        .env("TABLE_NAME", &backend.table)
        .env("INBOUND_QUEUE_URL", &backend.queue_url)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    Ok(command)
}

/// Polls until the Runtime API has every answer, the child dies, or `RUN_TIMEOUT` passes.
async fn wait_until_finished(api: &RuntimeApi, child: &mut KillOnDrop, log: &Path) -> Result<(), Error> {
    let started = Instant::now();
    while !api.finished() {
        if let Some(status) = child.0.try_wait()? {
            return Err(format!("the webhook exited early ({status}); see {}", log.display()).into());
        }
        if started.elapsed() > RUN_TIMEOUT {
            return Err(format!("not finished after {RUN_TIMEOUT:?}; see {}", log.display()).into());
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    Ok(())
}

/// One API Gateway HTTP API (payload format 2.0) event per callback fixture, signed as Viber
/// signs: what API Gateway hands the function for a POST to `/viber/bench`.
fn signed_events() -> Result<Vec<String>, Error> {
    CALLBACKS
        .iter()
        .map(|name| {
            let body = String::from_utf8(fixtures::bytes(name)).map_err(|_| format!("fixture {name} is not UTF-8"))?;
            let signature = fixtures::sign(DOC_TOKEN, body.as_bytes());
            Ok(api_gateway_event(&body, &signature))
        })
        .collect()
}

fn api_gateway_event(body: &str, signature: &str) -> String {
    json!({
        "version": "2.0",
        "routeKey": ROUTE_KEY,
        "rawPath": PATH,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "content-length": body.len().to_string(),
            "host": "bench.execute-api.us-east-1.amazonaws.com",
            "user-agent": "Viber",
            SIGNATURE_HEADER: signature,
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {
                "method": "POST",
                "path": PATH,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "Viber",
            },
            "requestId": "bench",
            "routeKey": ROUTE_KEY,
            "stage": "$default",
            "time": "25/Nov/2024:10:02:35 +0000",
            "timeEpoch": 1_732_528_955_210_i64,
        },
        "pathParameters": { "integration_id": INTEGRATION },
        "body": body,
        "isBase64Encoded": false,
    })
    .to_string()
}

/// `VmHWM` ("high water mark") from `/proc/<pid>/status`: the peak resident set so far, in KiB;
/// the closest local stand-in for Lambda's "Max Memory Used".
fn peak_rss_kib(pid: u32) -> Result<u64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .ok_or("no VmHWM in /proc status")?;
    let kib = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim();
    Ok(kib.parse()?)
}

fn report(binary: &Path, invocations: usize, run: &Run) -> Result<(), Error> {
    let observed = &run.observed;
    println!(
        "webhook serving {invocations} signed callbacks ({} fixtures in turn) behind a fake Lambda Runtime API",
        CALLBACKS.len()
    );
    let binary = binary.strip_prefix(workspace::root()).unwrap_or(binary);
    println!(
        "  binary: {} (host arch {}); DynamoDB and SQS are moto",
        binary.display(),
        std::env::consts::ARCH
    );
    match run.cold_start {
        Some(cold_start) => println!(
            "  cold start (spawn → first `next`, incl. INIT's DynamoDB + SQS warm-up calls): {}",
            millis(cold_start)
        ),
        None => println!("  cold start: the function never asked for an event"),
    }
    match run.first_answer {
        Some(first_answer) => println!(
            "  cold start to the first answer (spawn → first callback answered): {}",
            millis(first_answer)
        ),
        None => println!("  cold start to the first answer: no callback was answered"),
    }
    let mut times = observed.handler_times.clone();
    times.sort();
    println!(
        "  handler time (event handed out → answer posted, {} samples): mean {}, p50 {}, p99 {}, max {}",
        times.len(),
        millis(stats::mean(&times)),
        millis(stats::percentile(&times, 50.0)),
        millis(stats::percentile(&times, 99.0)),
        millis(times.last().copied().unwrap_or_default())
    );
    println!(
        "    of which moto: one SQS send from the bench takes {} on average (the webhook makes one per callback but `webhook`)",
        millis(run.sqs_send)
    );
    // Lambda's "MB" of memory are MiB, like VmHWM's "kB".
    let peak_mib = run.peak_rss_kib as f64 / 1024.0;
    println!(
        "  peak RSS (VmHWM): {peak_mib:.1} MB of the {LAMBDA_MEMORY_MB} MB Lambda size ({:.0} %)",
        100.0 * peak_mib / LAMBDA_MEMORY_MB as f64
    );
    println!("  answers: {}", describe_outcomes(observed));
    check_complete(invocations, observed)
}

fn describe_outcomes(observed: &Observed) -> String {
    let mut parts: Vec<String> = observed
        .outcomes
        .iter()
        .map(|(outcome, count)| match outcome {
            Outcome::Status(status) => format!("{status} × {count}"),
            Outcome::Unreadable => format!("no statusCode × {count}"),
            Outcome::Error => format!("invocation error × {count}"),
        })
        .collect();
    if parts.is_empty() {
        parts.push("none".to_owned());
    }
    parts.join(", ")
}

/// The figures only describe the webhook's accepting path if every invocation got a 200.
fn check_complete(invocations: usize, observed: &Observed) -> Result<(), Error> {
    if let Some(init_error) = &observed.init_error {
        return Err(format!("the function's INIT failed: {init_error}").into());
    }
    let ok = observed.outcomes.get(&Outcome::Status(200)).copied().unwrap_or(0);
    if ok == invocations {
        Ok(())
    } else {
        Err(
            format!("only {ok} of {invocations} invocations answered 200: the figures above are not the happy path")
                .into(),
        )
    }
}

/// Kills and reaps the child however the run ends, so no webhook process outlives the bench.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
