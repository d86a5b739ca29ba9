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

const TARGET: Duration = Duration::from_micros(10);
/// Untimed runs first, so caches, the allocator and the CPU clock settle.
const WARM_UP: Duration = Duration::from_millis(20);
/// Timed runs per fixture: long enough to average out timer resolution and interrupts.
const MEASURE: Duration = Duration::from_millis(200);
/// Bounds a fixture's runs in case the clock or the code is unexpectedly fast.
const MAX_ITERATIONS: u64 = 2_000_000;
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
        Self {
            name,
            body,
            signature,
        }
    }
}

pub fn run() -> Result<(), Error> {
    let integration = IntegrationId::parse("bench")?;
    println!("time per callback: verify + parse + build queue message (target ≤ 10 µs)");
    let mut results = Vec::with_capacity(CALLBACKS.len());
    for name in CALLBACKS {
        let callback = SignedCallback::load(name);
        // Time the path a real callback takes, not an error path that returns early.
        process(&callback.body, &callback.signature, &integration)
            .map_err(|e| format!("fixture {name}: {e}"))?;
        let per_callback = time_per_callback(&callback, &integration);
        println!(
            "  {:<24} {:>5} B  {:>8.0} ns  {:>6.2} µs",
            callback.name,
            callback.body.len(),
            per_callback.as_secs_f64() * 1e9,
            micros(per_callback)
        );
        results.push((callback.name, per_callback));
    }
    report_summary(&results);
    Ok(())
}

/// What `webhook::Webhook::handle` does with the body once it has the integration's token.
/// `webhook` (Viber's URL check) is answered without a queue message, as the handler does.
fn process(
    body: &[u8],
    signature: &str,
    integration: &IntegrationId,
) -> Result<Option<QueueMessage>, String> {
    signature::verify(DOC_TOKEN, body, Some(signature)).map_err(|e| e.to_string())?;
    let callback = Callback::from_slice(body).map_err(|e| e.to_string())?;
    if matches!(callback, Callback::Webhook(_)) {
        return Ok(None);
    }
    queue_message(integration, body, &callback, Timestamp::now())
        .map(Some)
        .map_err(|e| e.to_string())
}

fn time_per_callback(callback: &SignedCallback, integration: &IntegrationId) -> Duration {
    run_for(WARM_UP, callback, integration);
    let (iterations, elapsed) = run_for(MEASURE, callback, integration);
    elapsed.div_f64(iterations as f64)
}

/// Runs `process` in batches until `budget` has passed (or `MAX_ITERATIONS`); returns how many
/// runs took how long. `black_box` keeps the compiler from hoisting work out of the loop or
/// discarding results it can see are unused.
fn run_for(
    budget: Duration,
    callback: &SignedCallback,
    integration: &IntegrationId,
) -> (u64, Duration) {
    let start = Instant::now();
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS && start.elapsed() < budget {
        for _ in 0..BATCH {
            let result = process(
                black_box(callback.body.as_slice()),
                black_box(callback.signature.as_str()),
                black_box(integration),
            );
            let _ = black_box(result);
        }
        iterations += BATCH;
    }
    (iterations, start.elapsed())
}

fn report_summary(results: &[(&str, Duration)]) {
    let Some(&(worst_name, worst)) = results.iter().max_by_key(|(_, time)| *time) else {
        return;
    };
    let times: Vec<Duration> = results.iter().map(|(_, time)| *time).collect();
    let mean = crate::stats::mean(&times);
    println!(
        "  mean over {} fixtures: {:.2} µs per callback",
        results.len(),
        micros(mean)
    );
    println!(
        "  worst: {:.2} µs per callback ({worst_name})",
        micros(worst)
    );
    println!(
        "  vs target ≤ {:.0} µs: worst is {:.0} % of the target, mean {:.0} %",
        micros(TARGET),
        100.0 * worst.as_secs_f64() / TARGET.as_secs_f64(),
        100.0 * mean.as_secs_f64() / TARGET.as_secs_f64()
    );
    if cfg!(debug_assertions) {
        println!("  NOTE: this is a debug build; run with --release for meaningful timings");
    }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
