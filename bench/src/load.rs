//! `webhook-bench load`: the release `viberdesk-local` (in memory) pinned to one core, taking
//! signed message callbacks over HTTP as fast as a fixed number of connections can post them,
//! then draining its queue into the store. Prints callbacks/s (accepted, and end to end until
//! stored), HTTP latency, the stack's CPU time and memory, and whether every accepted callback
//! was stored (counted through the staff API). With `--traffic receipts` it posts delivery
//! receipts for tokens the stack never sent instead: traffic that stores nothing but passes
//! through every structure that grows with traffic (the queue and its deduplication window, the
//! integration cache), so the stack's memory must stay flat; RSS is printed per minute. See
//! `docs/local-load.md`.

use std::collections::HashMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use shared::viber::signature::SIGNATURE_HEADER;
use testkit::fixtures::{self, DOC_TOKEN};
use testkit::local::LocalStack;
use testkit::{FakeViber, http_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Error;
use crate::stats::{self, millis};
use crate::workspace;

/// The callbacks/s the issue asks of one core, end to end.
const TARGET_PER_SECOND: f64 = 20_000.0;
/// How long the stack may take to store its backlog once the load stops.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);
const DRAIN_POLL: Duration = Duration::from_millis(100);
/// How often the stack's memory is sampled during the load.
const MEMORY_SAMPLE: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
/// A response head larger than this is not the webhook's.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The staff API's largest page.
const PAGE: usize = 100;
/// Message tokens of the load start here, clear of the fixtures' tokens.
const FIRST_TOKEN: u64 = 7_000_000_000_000_000_000;

#[derive(clap::Args)]
pub struct Options {
    /// Seconds of load per run.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// Concurrent connections; one run (on a fresh stack) for each.
    #[arg(long, value_delimiter = ',', default_values_t = [2, 32])]
    connections: Vec<usize>,
    /// Viber users the callbacks come from: one message group, contact and task each. Each
    /// connection posts for its own users, so a user's callbacks are sent one after another.
    #[arg(long, default_value_t = 256)]
    users: usize,
    /// The CPU the stack is pinned to (`taskset -c`); the bench itself runs on the others.
    #[arg(long, default_value_t = 0)]
    cpu: usize,
    /// `RUST_LOG` for the stack (its default is `info`; its log goes to target/load-bench-local.log).
    #[arg(long, default_value = "info")]
    log: String,
    /// The viberdesk-local binary [default: builds one with `cargo build --release -p viberdesk-local`].
    #[arg(long)]
    local_bin: Option<PathBuf>,
    /// What the connections post: text messages (stored), or delivery receipts for message
    /// tokens the stack never sent (acknowledged and dropped by the processor: nothing stored).
    #[arg(long, value_enum, default_value_t = Traffic::Messages)]
    traffic: Traffic,
    /// Post at most this many callbacks per second in all (each connection its share, evenly
    /// spaced) [default: as fast as the stack answers]. A steady rate keeps what the stack holds
    /// per second of traffic steady, so memory that tracks the traffic shows as flat.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    rate: Option<u64>,
}

/// What one connection posts, and how fast.
#[derive(Debug, Clone, Copy)]
struct Pace {
    traffic: Traffic,
    /// The time between two posts of the connection; none: as fast as the answers come.
    interval: Option<Duration>,
}

/// The callbacks a run posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Traffic {
    /// Text messages, each with a fresh token: the store grows with them.
    Messages,
    /// `delivered` receipts, each with a fresh token: every one is accepted, queued (a fresh
    /// deduplication id) and processed, and none is stored, so the memory they hold is only
    /// the traffic-driven structures'.
    Receipts,
}

pub fn run(options: &Options) -> Result<(), Error> {
    if options.connections.iter().any(|&c| c == 0 || c > options.users) {
        return Err("each --connections must be from 1 to --users".into());
    }
    let binary = match &options.local_bin {
        Some(binary) => binary.clone(),
        None => build_local()?,
    };
    if !binary.is_file() {
        return Err(format!("no viberdesk-local binary at {}", binary.display()).into());
    }
    // Read before pinning: afterwards this process sees only the CPUs it may run on.
    let machine = machine_load();
    let pinned = pin_self_away_from(options.cpu);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "local load: {} (in memory) on CPU {} (taskset), {:?} traffic at {}, RUST_LOG={}, {} s per run, {} users",
        binary.display(),
        options.cpu,
        options.traffic,
        options.rate.map_or("full speed".to_owned(), |rate| format!("{rate}/s")),
        options.log,
        options.seconds,
        options.users
    );
    println!("  bench client on CPUs {pinned}; {machine}");
    for &connections in &options.connections {
        let run = runtime.block_on(run_once(&binary, options, connections))?;
        run.report(connections);
    }
    Ok(())
}

fn build_local() -> Result<PathBuf, Error> {
    println!("building the local stack for the host: cargo build --release -p viberdesk-local");
    workspace::run_to_completion(workspace::cargo().args(["build", "--release", "-p", "viberdesk-local"]))?;
    Ok(workspace::target_dir().join("release").join("viberdesk-local"))
}

/// Moves this process (all its threads, and the ones it starts later) off the stack's CPU, so
/// the client does not take the core it measures. Returns the CPUs it runs on.
fn pin_self_away_from(cpu: usize) -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let others: Vec<String> = (0..cpus).filter(|&c| c != cpu).map(|c| c.to_string()).collect();
    if others.is_empty() {
        return "all (only one CPU)".to_owned();
    }
    let list = others.join(",");
    let pinned = Command::new("taskset")
        .args(["-a", "-p", "-c", &list, &std::process::id().to_string()])
        .stdout(std::process::Stdio::null())
        .status();
    match pinned {
        Ok(status) if status.success() => list,
        _ => "all (taskset failed)".to_owned(),
    }
}

/// What one run measured.
struct Run {
    load: Duration,
    drained: Duration,
    accepted: u64,
    refused: u64,
    stored: u64,
    latencies: Vec<Duration>,
    /// The stack's CPU time from the start of the load until drained.
    stack_cpu: Duration,
    /// The bench's own CPU time over the load (client and fake Viber).
    client_cpu: Duration,
    memory: Memory,
    /// Accepted callbacks per second of load, per tenth of the run: flat or falling.
    per_tenth: Vec<f64>,
    traffic: Traffic,
    /// The text messages posted after a run of receipts, one per user, to see the queue drained.
    markers: u64,
}

/// The stack's resident memory, in KiB.
#[derive(Default)]
struct Memory {
    start: u64,
    middle: u64,
    end_of_load: u64,
    drained: u64,
    peak: u64,
    /// Sampled at each whole minute of the load.
    per_minute: Vec<u64>,
}

impl Run {
    fn report(&self, connections: usize) {
        let seconds = |d: Duration| d.as_secs_f64();
        let ingest = self.accepted as f64 / seconds(self.load);
        let end_to_end = self.accepted as f64 / seconds(self.drained);
        let p50 = stats::percentile(&self.latencies, 50.0);
        let p99 = stats::percentile(&self.latencies, 99.0);
        println!("{connections} connections, {:.0} s of load:", seconds(self.load));
        println!(
            "  accepted {} callbacks ({} refused): {ingest:.0}/s while posting",
            self.accepted, self.refused
        );
        println!(
            "  drained {:.2} s after the load stopped: {end_to_end:.0} callbacks/s end to end (target ≥ {TARGET_PER_SECOND:.0}/s on one core: {:.0} %)",
            seconds(self.drained.saturating_sub(self.load)),
            100.0 * end_to_end / TARGET_PER_SECOND
        );
        let tenths: Vec<String> = self.per_tenth.iter().map(|rate| format!("{rate:.0}")).collect();
        println!("  accepted/s by tenth of the run: {}", tenths.join(" "));
        println!("  latency (HTTP round trip): p50 {}, p99 {}", millis(p50), millis(p99));
        println!(
            "  stack CPU {:.2} s ({:.0} callbacks per CPU-second); bench client CPU {:.2} s",
            seconds(self.stack_cpu),
            self.accepted as f64 / seconds(self.stack_cpu).max(1e-9),
            seconds(self.client_cpu)
        );
        let mib = |kib: u64| kib as f64 / 1024.0;
        println!(
            "  stack RSS: start {:.1} MiB, middle {:.1} MiB, end of load {:.1} MiB, drained {:.1} MiB, peak {:.1} MiB",
            mib(self.memory.start),
            mib(self.memory.middle),
            mib(self.memory.end_of_load),
            mib(self.memory.drained),
            mib(self.memory.peak)
        );
        let minutes: Vec<String> = self
            .memory
            .per_minute
            .iter()
            .map(|&kib| format!("{:.1}", mib(kib)))
            .collect();
        println!(
            "  stack RSS at each minute of the load (MiB): {}",
            if minutes.is_empty() {
                "(under a minute)".to_owned()
            } else {
                minutes.join(" ")
            }
        );
        match self.traffic {
            Traffic::Messages => {
                let verdict = if self.stored == self.accepted { "yes" } else { "NO" };
                println!(
                    "  stored == accepted: {verdict} ({} stored, {} accepted)",
                    self.stored, self.accepted
                );
            }
            Traffic::Receipts => {
                let stored = self.stored.saturating_sub(self.markers);
                let verdict = if stored == 0 { "yes" } else { "NO" };
                println!(
                    "  receipts stored nothing: {verdict} ({stored} comments besides the {} drain markers)",
                    self.markers
                );
            }
        }
    }
}

async fn run_once(binary: &Path, options: &Options, connections: usize) -> Result<Run, Error> {
    let viber = FakeViber::start(DOC_TOKEN).await;
    let log_path = workspace::target_dir().join("load-bench-local.log");
    let log = File::create(&log_path)?;
    let command = || {
        let mut command = Command::new("taskset");
        command
            .args(["-c", &options.cpu.to_string()])
            .arg(binary)
            .stderr(log.try_clone().expect("clone the log file's handle"));
        command
    };
    let api_url = viber.api_url();
    let stack = LocalStack::start_command(
        command,
        &["--viber-api-url", &api_url, "--viber-token", DOC_TOKEN],
        &[("RUST_LOG", options.log.as_str())],
    )
    .await;
    let pid = stack.pid();
    let address: SocketAddr = stack.base_url.trim_start_matches("http://").parse()?;
    // One message first, so the bot's integration is cached and the first task exists before
    // the clock starts (as on a stack that has been running).
    let mut warm = Connection::open(address).await?;
    let warm_up = Callback::new(0, FIRST_TOKEN - 1, "warm-up");
    if warm.post(&warm_up).await? != 200 {
        return Err("the warm-up callback was refused".into());
    }

    let duration = Duration::from_secs(options.seconds);
    let memory_start = rss_kib(pid);
    let stack_cpu_start = cpu_time(pid)?;
    let client_cpu_start = cpu_time(std::process::id())?;
    let started = Instant::now();
    let deadline = started + duration;
    let next_token = Arc::new(AtomicU64::new(FIRST_TOKEN));
    let sampler = tokio::spawn(sample_memory(pid, started, duration));
    let workers: Vec<_> = (0..connections)
        .map(|index| {
            let users: Vec<usize> = (0..options.users).filter(|u| u % connections == index).collect();
            let next_token = next_token.clone();
            let pace = Pace {
                traffic: options.traffic,
                // Each connection's share of the rate.
                interval: options
                    .rate
                    .map(|rate| Duration::from_secs_f64(connections as f64 / rate as f64)),
            };
            tokio::spawn(post_until(
                address, users, pace, next_token, started, deadline, duration,
            ))
        })
        .collect();
    let mut posted = Posted::default();
    for worker in workers {
        posted.merge(worker.await??);
    }
    let load = started.elapsed();
    let client_cpu = cpu_time(std::process::id())?.saturating_sub(client_cpu_start);
    let memory_end_of_load = rss_kib(pid);
    let (memory_middle, memory_per_minute) = sampler.await?;

    let markers = match options.traffic {
        Traffic::Messages => 0,
        Traffic::Receipts => post_markers(address, options.users, &next_token, &mut posted).await?,
    };
    let expected: HashMap<String, String> = posted
        .last_text
        .iter()
        .map(|(user, text)| (user_name(*user), text.clone()))
        .collect();
    wait_until_drained(&stack, &expected).await?;
    let drained = started.elapsed();
    let stack_cpu = cpu_time(pid)?.saturating_sub(stack_cpu_start);
    let memory = Memory {
        start: memory_start,
        middle: memory_middle,
        end_of_load: memory_end_of_load,
        drained: rss_kib(pid),
        peak: status_kib(pid, "VmHWM:"),
        per_minute: memory_per_minute,
    };
    // The warm-up message is stored too, but was not counted as accepted.
    let stored = count_comments(&stack).await?.saturating_sub(1);
    posted.latencies.sort_unstable();
    let tenth = duration.as_secs_f64() / 10.0;
    Ok(Run {
        load,
        drained,
        accepted: posted.accepted,
        refused: posted.refused,
        stored,
        latencies: posted.latencies,
        stack_cpu,
        client_cpu,
        memory,
        per_tenth: posted.per_tenth.iter().map(|&n| n as f64 / tenth).collect(),
        traffic: options.traffic,
        markers,
    })
}

/// After a run of receipts, a text message from each user, recorded as the user's last text:
/// each follows the user's receipts in its FIFO group, so once all are stored the queue is
/// drained. Returns how many were posted (they are not counted as accepted).
async fn post_markers(
    address: SocketAddr,
    users: usize,
    next_token: &AtomicU64,
    posted: &mut Posted,
) -> Result<u64, Error> {
    let mut connection = Connection::open(address).await?;
    for user in 0..users {
        let token = next_token.fetch_add(1, Ordering::Relaxed);
        let marker = Callback::new(user, token, &format!("drained {token}"));
        if connection.post(&marker).await? != 200 {
            return Err(format!("the drain marker of user {user} was refused").into());
        }
        posted.last_text.insert(user, marker.text);
    }
    Ok(users as u64)
}

fn user_name(user: usize) -> String {
    format!("Load user {user}")
}

/// A text message callback from `user`, as Viber sends it.
struct Callback {
    user: usize,
    text: String,
    body: String,
    signature: String,
}

impl Callback {
    fn new(user: usize, token: u64, text: &str) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let body = format!(
            r#"{{"event":"message","timestamp":{now},"chat_hostname":"SN-CALLBACK-04_","message_token":{token},"sender":{{"id":"load-{user}-Kf2mQ1xT7bVnC3pLs8a==","name":"{name}","language":"uk-UA","country":"UA","api_version":10}},"message":{{"text":"{text}","type":"text"}},"silent":false}}"#,
            name = user_name(user)
        );
        let signature = fixtures::sign(DOC_TOKEN, body.as_bytes());
        Self {
            user,
            text: text.to_owned(),
            body,
            signature,
        }
    }

    /// A `delivered` receipt from `user` for `token`, which the stack never sent: the processor
    /// finds no reply part with it and acknowledges it without storing anything.
    fn receipt(user: usize, token: u64) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let body = format!(
            r#"{{"event":"delivered","timestamp":{now},"chat_hostname":"SN-CHAT-02_","message_token":{token},"user_id":"load-{user}-Kf2mQ1xT7bVnC3pLs8a=="}}"#
        );
        let signature = fixtures::sign(DOC_TOKEN, body.as_bytes());
        Self {
            user,
            text: String::new(),
            body,
            signature,
        }
    }
}

/// What the connections posted.
#[derive(Default)]
struct Posted {
    accepted: u64,
    refused: u64,
    latencies: Vec<Duration>,
    /// Each user's last accepted text: once the task shows it, the user's callbacks are stored.
    last_text: HashMap<usize, String>,
    /// Accepted callbacks per tenth of the run.
    per_tenth: [u64; 10],
}

impl Posted {
    fn merge(&mut self, other: Posted) {
        self.accepted += other.accepted;
        self.refused += other.refused;
        self.latencies.extend(other.latencies);
        self.last_text.extend(other.last_text);
        for (mine, theirs) in self.per_tenth.iter_mut().zip(other.per_tenth) {
            *mine += theirs;
        }
    }
}

/// One connection: posts a callback for each of its users in turn, waiting for each answer,
/// until `deadline`.
async fn post_until(
    address: SocketAddr,
    users: Vec<usize>,
    pace: Pace,
    next_token: Arc<AtomicU64>,
    started: Instant,
    deadline: Instant,
    duration: Duration,
) -> Result<Posted, std::io::Error> {
    let mut connection = Connection::open(address).await?;
    let mut posted = Posted::default();
    for (n, user) in users.iter().cycle().enumerate() {
        if let Some(interval) = pace.interval {
            // On a schedule from the start, so a slow answer is made up for, not carried on.
            tokio::time::sleep_until((started + interval.mul_f64(n as f64)).into()).await;
        }
        let sent = Instant::now();
        if sent >= deadline {
            break;
        }
        let token = next_token.fetch_add(1, Ordering::Relaxed);
        let callback = match pace.traffic {
            Traffic::Messages => Callback::new(*user, token, &format!("load {token}")),
            Traffic::Receipts => Callback::receipt(*user, token),
        };
        let status = connection.post(&callback).await?;
        posted.latencies.push(sent.elapsed());
        if status == 200 {
            posted.accepted += 1;
            if pace.traffic == Traffic::Messages {
                posted.last_text.insert(callback.user, callback.text);
            }
            let tenth = (10.0 * sent.duration_since(started).as_secs_f64() / duration.as_secs_f64()) as usize;
            posted.per_tenth[tenth.min(9)] += 1;
        } else {
            posted.refused += 1;
        }
    }
    Ok(posted)
}

/// A kept-alive HTTP/1.1 connection to the stack, written by hand so that the client spends as
/// little CPU per request as possible (the stack's core is the one measured, but the client's
/// core is shared with the rest of the machine).
struct Connection {
    stream: TcpStream,
    host: String,
    request: Vec<u8>,
    response: Vec<u8>,
}

impl Connection {
    async fn open(address: SocketAddr) -> Result<Self, std::io::Error> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            host: address.to_string(),
            request: Vec::with_capacity(2048),
            response: Vec::with_capacity(4096),
        })
    }

    /// POSTs the callback to `/viber/default`: the response's status.
    async fn post(&mut self, callback: &Callback) -> Result<u16, std::io::Error> {
        self.request.clear();
        self.request.extend_from_slice(
            format!(
                "POST /viber/default HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n{SIGNATURE_HEADER}: {}\r\ncontent-length: {}\r\n\r\n",
                self.host,
                callback.signature,
                callback.body.len()
            )
            .as_bytes(),
        );
        self.request.extend_from_slice(callback.body.as_bytes());
        self.stream.write_all(&self.request).await?;
        self.read_response().await
    }

    /// Reads one response (head and `content-length` body): its status.
    async fn read_response(&mut self) -> Result<u16, std::io::Error> {
        let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        self.response.clear();
        let head_end = loop {
            if let Some(end) = find(&self.response, b"\r\n\r\n") {
                break end + 4;
            }
            if self.response.len() > MAX_RESPONSE_BYTES {
                return Err(invalid("response head too large"));
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.response[..head_end]).map_err(|_| invalid("response head not UTF-8"))?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| invalid("no status"))?;
        let length: usize = head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse().ok())
            .ok_or_else(|| invalid("no content-length"))?;
        if length > MAX_RESPONSE_BYTES {
            return Err(invalid("response body too large"));
        }
        while self.response.len() < head_end + length {
            self.fill().await?;
        }
        Ok(status)
    }

    async fn fill(&mut self) -> Result<(), std::io::Error> {
        let mut chunk = [0u8; 4096];
        let read = self.stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.response.extend_from_slice(&chunk[..read]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Samples the stack's RSS every second during the load: the sample nearest the middle, and the
/// first sample at or after each whole minute.
async fn sample_memory(pid: u32, started: Instant, duration: Duration) -> (u64, Vec<u64>) {
    let middle = started + duration / 2;
    let mut nearest = (Duration::MAX, 0);
    let mut per_minute = Vec::new();
    while started.elapsed() < duration {
        let now = Instant::now();
        let rss = rss_kib(pid);
        let distance = if now > middle { now - middle } else { middle - now };
        if distance < nearest.0 {
            nearest = (distance, rss);
        }
        if now.duration_since(started) >= MINUTE * (per_minute.len() as u32 + 1) {
            per_minute.push(rss);
        }
        tokio::time::sleep(MEMORY_SAMPLE.min(duration / 4)).await;
    }
    (nearest.1, per_minute)
}

/// Polls the task list until each user's task shows the user's last accepted text: a user's
/// callbacks are one FIFO message group, stored in order, so then all of them are stored.
async fn wait_until_drained(stack: &LocalStack, expected: &HashMap<String, String>) -> Result<(), Error> {
    let started = Instant::now();
    loop {
        let tasks = all_items(stack, "/api/tasks").await?;
        let shown: HashMap<&str, &str> = tasks
            .iter()
            .filter_map(|task| Some((task["requester_name"].as_str()?, task["last_message_preview"].as_str()?)))
            .collect();
        let waiting = expected
            .iter()
            .filter(|(user, text)| shown.get(user.as_str()) != Some(&text.as_str()))
            .count();
        if waiting == 0 {
            return Ok(());
        }
        if started.elapsed() > DRAIN_LIMIT {
            return Err(format!("{waiting} users' last callbacks were not stored within {DRAIN_LIMIT:?}").into());
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
}

/// Every client comment stored, counted page by page through the staff API.
async fn count_comments(stack: &LocalStack) -> Result<u64, Error> {
    let mut stored = 0;
    for task in all_items(stack, "/api/tasks").await? {
        let id = task["id"].as_str().ok_or("a task without an id")?;
        stored += all_items(stack, &format!("/api/tasks/{id}/comments")).await?.len() as u64;
    }
    Ok(stored)
}

/// Every item of a staff API list, following its cursors.
async fn all_items(stack: &LocalStack, path: &str) -> Result<Vec<Value>, Error> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        // Cursors are hex: nothing to escape.
        let url = match &cursor {
            Some(cursor) => stack.url(&format!("{path}?limit={PAGE}&cursor={cursor}")),
            None => stack.url(&format!("{path}?limit={PAGE}")),
        };
        let response = http_client()
            .get(url)
            .bearer_auth(testkit::local::OWNER_TOKEN)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("GET {path}: {}", response.status()).into());
        }
        let page: Value = response.json().await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(items),
        }
    }
}

/// A line of `/proc/{pid}/status` in KiB (`VmRSS:`, `VmHWM:`); 0 if unreadable.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// User plus system CPU time of a process, from `/proc/{pid}/stat` (in clock ticks of 1/100 s,
/// Linux's `USER_HZ`).
fn cpu_time(pid: u32) -> Result<Duration, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks =
        |index: usize| -> Result<u64, Error> { Ok(fields.get(index).ok_or("short /proc stat line")?.parse::<u64>()?) };
    // utime and stime are the 14th and 15th fields; the 3rd (state) is the first after ')'.
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_millis(total * 10))
}

/// The 1-minute load average, so a reader can tell a slow figure from a busy machine.
fn machine_load() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let one_minute = load.split_whitespace().next().unwrap_or("?");
    format!(
        "load average {one_minute} on {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )
}
