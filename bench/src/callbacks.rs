//! The CPU the webhook spends on one callback once the integration is known: verify the
//! signature, parse the callback, build the queue message. The integration lookup is cached per
//! instance and the enqueue is network I/O, so these three steps are the part of a warm
//! invocation that the code controls; `serve` measures the whole invocation.

use std::hint::black_box;
use std::time::{Duration, Instant};

use shared::ids::IntegrationId;
use shared::inbound::queue_message;
use shared::ports::QueueMessage;
use shared::time::Timestamp;
use shared::viber::Callback;
use shared::viber::signature;
use testkit::fixtures::{self, CALLBACKS, DOC_TOKEN};

use crate::Error;
use crate::stats;

const TARGET: Duration = Duration::from_micros(10);
/// Untimed runs first, so caches, the allocator and the CPU clock settle.
const WARM_UP: Duration = Duration::from_millis(20);
/// Timed runs per fixture come in rounds (5 × 40 ms = 200 ms). Other processes on the machine
/// (builds, on a 2-core box) slow some rounds down; the fastest round is the code's own cost,
/// the median shows how much the machine interfered.
const ROUNDS: usize = 5;
const ROUND: Duration = Duration::from_millis(40);
/// Bounds a round's runs in case the clock or the code is unexpectedly fast.
const MAX_ITERATIONS: u64 = 1_000_000;
/// The clock is read once per batch, so reading it costs next to nothing per callback.
const BATCH: u64 = 32;

/// A callback fixture, signed once outside the timed loop (Viber signs; the webhook verifies).
struct SignedCallback {
    name: &'static str,
    body: Vec<u8>,
    signature: String,
}

impl SignedCallback {
    fn load(name: &'static str) -> Self {
        let body = fixtures::bytes(name);
        let signature = fixtures::sign(DOC_TOKEN, &body);
        Self { name, body, signature }
    }
}

/// Time per callback over the rounds.
#[derive(Clone, Copy)]
struct Timing {
    best: Duration,
    median: Duration,
}

pub fn run() -> Result<(), Error> {
    let integration = IntegrationId::parse("bench")?;
    println!(
        "time per callback: verify + parse + build queue message (target ≤ 10 µs; best and median of {ROUNDS} rounds of {} ms)",
        ROUND.as_millis()
    );
    print_load();
    let mut results = Vec::with_capacity(CALLBACKS.len());
    for name in CALLBACKS {
        let callback = SignedCallback::load(name);
        // Time the path a real callback takes, not an error path that returns early.
        process(&callback.body, &callback.signature, &integration).map_err(|e| format!("fixture {name}: {e}"))?;
        let timing = time(|| {
            process(
                black_box(callback.body.as_slice()),
                black_box(callback.signature.as_str()),
                black_box(&integration),
            )
        });
        println!(
            "  {:<24} {:>5} B  best {:>6.2} µs  median {:>6.2} µs",
            callback.name,
            callback.body.len(),
            micros(timing.best),
            micros(timing.median)
        );
        results.push((callback, timing));
    }
    report_summary(&results);
    if let Some((worst, _)) = results.iter().max_by_key(|(_, timing)| timing.best) {
        report_breakdown(worst, &integration)?;
    }
    if cfg!(debug_assertions) {
        println!("  NOTE: this is a debug build; run with --release for meaningful timings");
    }
    Ok(())
}

/// What `webhook::Webhook::handle` does with the body once it has the integration's token.
/// `webhook` (Viber's URL check) is answered without a queue message, as the handler does.
fn process(body: &[u8], signature: &str, integration: &IntegrationId) -> Result<Option<QueueMessage>, String> {
    signature::verify(DOC_TOKEN, body, Some(signature)).map_err(|e| e.to_string())?;
    let callback = Callback::from_slice(body).map_err(|e| e.to_string())?;
    if matches!(callback, Callback::Webhook(_)) {
        return Ok(None);
    }
    queue_message(integration, body, &callback, Timestamp::now())
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Warms up, then times `work` in `ROUNDS` rounds.
fn time<T>(mut work: impl FnMut() -> T) -> Timing {
    run_for(WARM_UP, &mut work);
    let mut rounds: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let (iterations, elapsed) = run_for(ROUND, &mut work);
            elapsed.div_f64(iterations as f64)
        })
        .collect();
    rounds.sort();
    Timing {
        best: rounds[0],
        median: stats::percentile(&rounds, 50.0),
    }
}

/// Runs `work` in batches until `budget` has passed (or `MAX_ITERATIONS`); returns how many
/// runs took how long. `black_box` on the result keeps the compiler from discarding work whose
/// result it can see is unused (the caller black-boxes the inputs, so nothing is hoisted).
fn run_for<T>(budget: Duration, work: &mut impl FnMut() -> T) -> (u64, Duration) {
    let start = Instant::now();
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS && start.elapsed() < budget {
        for _ in 0..BATCH {
            black_box(work());
        }
        iterations += BATCH;
    }
    (iterations, start.elapsed())
}

fn report_summary(results: &[(SignedCallback, Timing)]) {
    let Some((worst, worst_timing)) = results.iter().max_by_key(|(_, timing)| timing.best) else {
        return;
    };
    let best: Vec<Duration> = results.iter().map(|(_, timing)| timing.best).collect();
    let mean = stats::mean(&best);
    println!(
        "  mean over {} fixtures: {:.2} µs per callback",
        results.len(),
        micros(mean)
    );
    println!(
        "  worst: {:.2} µs per callback ({}, {} B)",
        micros(worst_timing.best),
        worst.name,
        worst.body.len()
    );
    println!(
        "  vs target ≤ {:.0} µs: worst is {:.0} % of the target, mean {:.0} %",
        micros(TARGET),
        percent_of_target(worst_timing.best),
        percent_of_target(mean)
    );
}

/// Each step alone for one fixture, to show where its time goes.
fn report_breakdown(callback: &SignedCallback, integration: &IntegrationId) -> Result<(), Error> {
    let body = callback.body.as_slice();
    let parsed = Callback::from_slice(body)?;
    let verify = time(|| signature::verify(DOC_TOKEN, black_box(body), Some(black_box(callback.signature.as_str()))));
    let parse = time(|| Callback::from_slice(black_box(body)));
    let message = time(|| {
        queue_message(
            black_box(integration),
            black_box(body),
            black_box(&parsed),
            Timestamp::now(),
        )
    });
    println!(
        "  where {}'s time goes (best): verify {:.2} µs, parse {:.2} µs, queue message {:.2} µs",
        callback.name,
        micros(verify.best),
        micros(parse.best),
        micros(message.best)
    );
    Ok(())
}

/// The 1-minute load average, so a reader can tell a slow figure from a busy machine.
fn print_load() {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    if let Some(one_minute) = load.split_whitespace().next() {
        println!(
            "  (load average {one_minute} on {} CPUs)",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
}

fn percent_of_target(duration: Duration) -> f64 {
    100.0 * duration.as_secs_f64() / TARGET.as_secs_f64()
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
