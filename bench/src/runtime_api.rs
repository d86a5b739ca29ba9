//! A tiny Lambda Runtime API on 127.0.0.1: just the four endpoints a custom runtime calls
//! (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html). It hands out a fixed number
//! of events and timestamps each hand-out and each answer, which is the view Lambda itself has of
//! a function: a cold start ends at the first `next`, an invocation lasts from the event leaving
//! to the answer arriving.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::Error;

/// Each invocation's deadline, as Lambda announces it; generous, since nothing here enforces it.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:webhook";
const TRACE_ID: &str = "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0";

/// How the function answered one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// A response whose `statusCode` (API Gateway's payload format 2.0) is this.
    Status(u16),
    /// A response without a readable `statusCode`.
    Unreadable,
    /// The function reported an invocation error.
    Error,
}

/// What the API saw, for the report.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub first_next: Option<Instant>,
    /// When the first invocation's answer arrived.
    pub first_answer: Option<Instant>,
    /// From event handed out to answer received, per answered invocation.
    pub handler_times: Vec<Duration>,
    pub outcomes: BTreeMap<Outcome, usize>,
    pub init_error: Option<String>,
}

struct Shared {
    /// The events to hand out, in turn.
    events: Vec<String>,
    /// How many events to hand out in all.
    budget: usize,
    ledger: Mutex<Ledger>,
}

#[derive(Default)]
struct Ledger {
    handed_out: usize,
    in_flight: HashMap<String, Instant>,
    observed: Observed,
}

impl Shared {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // A poisoned lock only means a handler panicked mid-update; the counts are still usable.
        self.ledger.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    /// Serves `budget` invocations, cycling through `events`, on an ephemeral loopback port.
    pub async fn start(events: Vec<String>, budget: usize) -> Result<Self, Error> {
        if events.is_empty() {
            return Err("no events to serve".into());
        }
        let shared = Arc::new(Shared {
            events,
            budget,
            ledger: Mutex::default(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(&shared));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("fake runtime API stopped: {error}");
            }
        });
        Ok(Self { addr, shared, server })
    }

    /// Every invocation answered, or INIT failed (after which nothing more will come).
    pub fn finished(&self) -> bool {
        let ledger = self.shared.ledger();
        let answered: usize = ledger.observed.outcomes.values().sum();
        answered >= self.shared.budget || ledger.observed.init_error.is_some()
    }

    pub fn observed(&self) -> Observed {
        self.shared.ledger().observed.clone()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // Ends the server, including a `next` parked after the budget ran out.
        self.server.abort();
    }
}

/// Hands out the next event; once the budget is spent, never answers (as Lambda does between
/// invocations), so the function idles until the bench reads its memory and stops it.
async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let invocation = {
        let mut ledger = shared.ledger();
        ledger.observed.first_next.get_or_insert_with(Instant::now);
        if ledger.handed_out < shared.budget {
            let index = ledger.handed_out;
            ledger.handed_out += 1;
            Some(index)
        } else {
            None
        }
    };
    let Some(index) = invocation else {
        return std::future::pending().await;
    };
    let request_id = format!("bench-{index:06}");
    let event = shared.events[index % shared.events.len()].clone();
    let response = (
        [
            ("content-type", "application/json".to_owned()),
            ("lambda-runtime-aws-request-id", request_id.clone()),
            ("lambda-runtime-deadline-ms", deadline_millis().to_string()),
            ("lambda-runtime-invoked-function-arn", FUNCTION_ARN.to_owned()),
            ("lambda-runtime-trace-id", TRACE_ID.to_owned()),
        ],
        event,
    )
        .into_response();
    // Stamped last, so the handler time does not include building this response.
    shared.ledger().in_flight.insert(request_id, Instant::now());
    response
}

async fn response(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let outcome = match status_code(&body) {
        Some(status) => Outcome::Status(status),
        None => Outcome::Unreadable,
    };
    record(&shared, &id, outcome);
    StatusCode::ACCEPTED
}

async fn invocation_error(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    eprintln!("invocation {id} failed: {}", String::from_utf8_lossy(&body));
    record(&shared, &id, Outcome::Error);
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    shared.ledger().observed.init_error = Some(String::from_utf8_lossy(&body).into_owned());
    StatusCode::ACCEPTED
}

fn record(shared: &Shared, id: &str, outcome: Outcome) {
    let answered_at = Instant::now();
    let mut ledger = shared.ledger();
    ledger.observed.first_answer.get_or_insert(answered_at);
    if let Some(handed_out_at) = ledger.in_flight.remove(id) {
        ledger.observed.handler_times.push(answered_at - handed_out_at);
    }
    *ledger.observed.outcomes.entry(outcome).or_default() += 1;
}

/// `statusCode` of an API Gateway payload-format-2.0 response.
fn status_code(body: &[u8]) -> Option<u16> {
    let response: serde_json::Value = serde_json::from_slice(body).ok()?;
    response.get("statusCode")?.as_u64()?.try_into().ok()
}

fn deadline_millis() -> u128 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (now + INVOCATION_TIMEOUT).as_millis()
}
