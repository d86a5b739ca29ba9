//! `viberdesk-local`: the whole stack in one process, for development, demos and tests. It serves
//! `/viber/{id}`, `/api/…` and the staff web inbox (`/`, `/app/…`) through the same handler
//! functions the Lambdas run, on in-memory adapters by default, or on AWS (or an emulator) when
//! `AWS_ENDPOINT_URL` and the resource variables are set (see [`config`]).

pub mod config;
pub mod demo;
mod gateway;
mod workers;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use api::Api;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use clap::Parser;
use shared::aws::{DynamoStore, S3BlobStore, SqsQueue, load_sdk_config};
use shared::blobs::MemoryBlobStore;
use shared::cache::{DEFAULT_TTL, IntegrationCache};
use shared::config::{ConfigError, DEFAULT_VIBER_API_URL, VIBER_API_URL};
use shared::ids::{IntegrationId, StaffId};
use shared::memory::{MemoryQueue, MemoryStore};
use shared::model::{Integration, IntegrationOptions, Role, StaffMember, TaskTemplate, webhook_url};
use shared::ports::{BlobStore, MessageQueue, StaffStore, Store, StoreError, token_hash};
use shared::retry::{Backoff, Retry, RetryPolicy};
use shared::secret::AuthToken;
use shared::time::Timestamp;
use shared::viber::client::{ViberClient, ViberError};
use webhook::{INTEGRATION_ID_PARAMETER, Webhook};

use crate::config::{AwsResources, BackendConfig, Config};

/// The integration id `--viber-token` connects.
pub const DEFAULT_INTEGRATION: &str = "default";

#[derive(Debug, Clone, Parser)]
#[command(
    name = "viberdesk-local",
    about = "viberdesk's webhook, API, processor, media worker and sender in one process"
)]
pub struct Options {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Public base URL used in webhook URLs [default: http://{listen}].
    #[arg(long)]
    pub public_base_url: Option<String>,
    /// The Viber Bot API base URL.
    #[arg(long, env = VIBER_API_URL.name, default_value = DEFAULT_VIBER_API_URL)]
    pub viber_api_url: String,
    /// Connect the bot with this auth token at start, as integration `default` (`/viber/default`).
    #[arg(long, env = "VIBERDESK_VIBER_TOKEN", hide_env_values = true)]
    pub viber_token: Option<String>,
    /// Seed an owner staff member with this bearer token (otherwise one is generated and printed once).
    #[arg(long, env = "VIBERDESK_OWNER_TOKEN", hide_env_values = true)]
    pub owner_token: Option<String>,
    /// Do not copy contacts' avatars from Viber into the blob store (nothing is fetched from
    /// outside; the inbox shows initials). Tests use it.
    #[arg(long)]
    pub no_avatar_copy: bool,
    /// Retry failed queue records after FIRST ms, doubling up to MAX ms (with jitter), instead of
    /// the Lambdas' own back-off (processor 2 s … 60 s, media worker 10 s … 5 min, sender 5 s …
    /// 5 min). Tests use it to see a retry within a second.
    #[arg(long, env = "VIBERDESK_RETRY_BACKOFF_MS", value_name = "FIRST:MAX", value_parser = parse_backoff)]
    pub retry_backoff_ms: Option<Backoff>,
    #[command(flatten)]
    pub demo: demo::DemoOptions,
}

/// `FIRST:MAX` in milliseconds, e.g. `100:800`.
fn parse_backoff(value: &str) -> Result<Backoff, String> {
    let millis = |part: &str| {
        part.trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("expected FIRST:MAX in milliseconds, such as 100:800, not {value:?}"))
    };
    let (first, max) = value
        .split_once(':')
        .ok_or_else(|| format!("expected FIRST:MAX in milliseconds, such as 100:800, not {value:?}"))?;
    let (first, max) = (millis(first)?, millis(max)?);
    if first > max {
        return Err(format!(
            "the first delay ({first:?}) is longer than the longest ({max:?})"
        ));
    }
    Ok(Backoff { first, max })
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("blob store: {0}")]
    Blobs(shared::ports::BlobError),
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("Viber refused the bot token given with --viber-token: {0}")]
    BotToken(ViberError),
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error("{0}")]
    Demo(#[from] demo::DemoError),
}

/// The adapters every handler uses, chosen once at start.
struct Backend {
    kind: &'static str,
    /// One store for every handler, each seeing it as its own consumer's store.
    store: Arc<dyn Store>,
    blobs: Arc<dyn BlobStore>,
    /// The embedded blob store (in-memory backend only), told the public base URL at start.
    memory_blobs: Option<Arc<MemoryBlobStore>>,
    /// The origin of the blob store's URLs when it is not the stack's own (S3 or an emulator).
    blob_origin: Option<String>,
    /// Client callbacks for the local processor.
    inbound: LocalQueue,
    /// Staff replies for the local sender.
    outbound: LocalQueue,
    /// Media copies (a client's file, a contact's avatar) for the local media worker.
    media: LocalQueue,
}

/// A queue of the local stack: embedded, or SQS (AWS or an emulator).
#[derive(Clone)]
enum LocalQueue {
    Memory(Arc<MemoryQueue>),
    Sqs(SqsQueue),
}

impl LocalQueue {
    /// The queue as the handlers send to it.
    fn port(&self) -> Arc<dyn MessageQueue> {
        match self {
            LocalQueue::Memory(queue) => queue.clone(),
            LocalQueue::Sqs(queue) => Arc::new(queue.clone()),
        }
    }
}

impl Backend {
    fn new(
        kind: &'static str,
        store: Arc<dyn Store>,
        blobs: Arc<dyn BlobStore>,
        inbound: LocalQueue,
        outbound: LocalQueue,
        media: LocalQueue,
    ) -> Self {
        Self {
            kind,
            store,
            blobs,
            memory_blobs: None,
            blob_origin: None,
            inbound,
            outbound,
            media,
        }
    }

    fn memory() -> Self {
        let blobs = Arc::new(MemoryBlobStore::new(""));
        let backend = Self::new(
            "in-memory",
            Arc::new(MemoryStore::new()),
            blobs.clone(),
            LocalQueue::Memory(Arc::new(MemoryQueue::new())),
            LocalQueue::Memory(Arc::new(MemoryQueue::new())),
            LocalQueue::Memory(Arc::new(MemoryQueue::new())),
        );
        Self {
            memory_blobs: Some(blobs),
            ..backend
        }
    }

    async fn aws(resources: AwsResources) -> Result<Self, LocalError> {
        let sdk = load_sdk_config().await;
        let blobs = Arc::new(S3BlobStore::from_config(&sdk, resources.attachments_bucket));
        let blob_origin = blobs.url_origin().await.map_err(LocalError::Blobs)?;
        let backend = Self::new(
            "AWS",
            Arc::new(DynamoStore::from_config(&sdk, resources.table_name)),
            blobs,
            LocalQueue::Sqs(SqsQueue::from_config(&sdk, resources.inbound_queue_url)),
            LocalQueue::Sqs(SqsQueue::from_config(&sdk, resources.outbound_queue_url)),
            LocalQueue::Sqs(SqsQueue::from_config(&sdk, resources.media_queue_url)),
        );
        Ok(Self {
            blob_origin: Some(blob_origin),
            ..backend
        })
    }

    async fn from_config(config: BackendConfig) -> Result<Self, LocalError> {
        match config {
            BackendConfig::Aws(resources) => Self::aws(resources).await,
            BackendConfig::Memory => Ok(Self::memory()),
        }
    }
}

#[derive(Clone)]
struct AppState {
    webhook: Arc<Webhook>,
    api: Arc<Api>,
    blobs: Option<Arc<MemoryBlobStore>>,
}

/// How many log lines may wait for the log's thread: beyond them a new line is dropped, never
/// waited for.
pub const LOG_QUEUE_LINES: usize = 10_000;

/// A writer of log lines to `sink` from a thread of its own. `tracing_subscriber::fmt` writes each
/// event from the thread that emits it, and stdout is written synchronously under one
/// process-wide lock: when the log's sink stalls (a pipe nobody reads, a file on a disk busy
/// with writeback), the first runtime worker that logs blocks in `write(2)` and every other one
/// on the lock at its next line, and the whole stack stops: no request is answered, no queue
/// polled, no timer fired, not even the AWS SDK's timeouts. (The fault run caught it once, a
/// stack silent for over a minute while a build wrote to the same disk; bench/README.md.) So
/// the workers only queue a line, and a line that finds [`LOG_QUEUE_LINES`] waiting is dropped.
/// The guard writes out what is queued when dropped (waiting at most a second).
pub fn log_writer<W: std::io::Write + Send + 'static>(
    sink: W,
) -> (
    tracing_appender::non_blocking::NonBlocking,
    tracing_appender::non_blocking::WorkerGuard,
) {
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("log-writer")
        .finish(sink)
}

/// Parses the command line, runs until Ctrl-C, and turns the outcome into an exit code.
pub async fn main_with_args() -> ExitCode {
    let options = Options::parse();
    // Kept until the end: dropping it writes out the lines still queued.
    let mut _log_guard = None;
    let outcome = match Config::from_env() {
        Ok(config) => {
            let (writer, guard) = log_writer(std::io::stdout());
            _log_guard = Some(guard);
            shared::telemetry::init_text_to(config.log_filter.as_deref(), writer);
            run(options, config.backend, shutdown_signal()).await
        }
        Err(error) => Err(error.into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("viberdesk-local: {error}");
            ExitCode::FAILURE
        }
    }
}

pub async fn run(
    options: Options,
    backend: BackendConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LocalError> {
    let backend = Backend::from_config(backend).await?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| LocalError::Listen(options.listen, e))?;
    let address = listener
        .local_addr()
        .map_err(|e| LocalError::Listen(options.listen, e))?;
    let public_base_url = options
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    // In demo mode the stack's Viber client talks to the built-in simulator instead of Viber.
    let demo = demo::Demo::new(&options.demo, address, &public_base_url);
    let viber_api_url = demo
        .as_ref()
        .map_or(options.viber_api_url.clone(), |demo| demo.viber_api_url().to_owned());
    let cache = Arc::new(IntegrationCache::new(backend.store.clone(), DEFAULT_TTL));
    let webhook = Arc::new(Webhook::with_cache(cache.clone(), backend.inbound.port()));
    if let Some(blobs) = &backend.memory_blobs {
        blobs.set_base_url(&public_base_url);
    }
    // Integrations created through the API are served at once: the webhook shares this
    // process's cache, which the API updates on every change.
    let settings = api::Settings {
        viber_api_url: viber_api_url.clone(),
        public_base_url: Some(public_base_url.clone()),
        blob_origin: backend.blob_origin.clone(),
    };
    let api = Arc::new(
        Api::new(
            backend.store.clone(),
            backend.blobs.clone(),
            backend.outbound.port(),
            settings,
        )
        .with_webhook_cache(cache.clone()),
    );
    let (owner, owner_token) = seed_owner(backend.store.as_ref(), options.owner_token.as_deref()).await?;
    if owner_token.generated && demo.is_none() {
        // Printed once, on stdout only: it is stored as a hash and cannot be shown again.
        println!("owner token (shown once): {}", owner_token.token);
    }
    let backoff = options.retry_backoff_ms;
    let inbound_worker = start_processor(&backend, cache.clone(), !options.no_avatar_copy, backoff);
    let outbound_worker = start_sender(&backend, cache.clone(), &viber_api_url, backoff);
    let media_worker = start_media_worker(&backend, backoff);

    // The bot is stored before the server answers anything, so a callback that arrives as soon
    // as the port accepts connections finds its integration.
    let bot = match &options.viber_token {
        Some(token) => {
            let viber = ViberClient::new(&options.viber_api_url);
            let integration =
                store_default_bot(&backend, &viber, AuthToken::new(token), &public_base_url, &owner.id).await?;
            Some((viber, integration))
        }
        None => None,
    };

    let app = Router::new()
        .route("/viber/{integration_id}", any(viber_callback))
        .route("/api/{*proxy}", any(api_request))
        .route("/", get(web_request))
        .route("/app/{*proxy}", get(api_request))
        .route("/blobs/{*key}", get(download_blob).put(upload_blob))
        .route("/health", any(|| async { "ok" }))
        .with_state(AppState {
            webhook,
            api,
            blobs: backend.memory_blobs.clone(),
        });
    let app = match &demo {
        Some(demo) => app.merge(demo.routes()),
        None => app,
    };
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(LocalError::Serve)
    });
    tracing::info!(backend = backend.kind, "viberdesk-local serving on http://{address}");
    tracing::info!("Viber callbacks: {public_base_url}/viber/{{integration_id}}; staff API: {public_base_url}/api");
    tracing::info!("staff web inbox: {public_base_url}/");

    if let Some((viber, integration)) = bot {
        set_default_webhook(&viber, &integration).await;
    }
    if let Some(demo) = &demo {
        let started = demo
            .start(
                backend.store.as_ref(),
                &owner,
                &owner_token.token,
                owner_token.generated,
            )
            .await;
        if let Err(error) = started {
            server.abort();
            for worker in [inbound_worker, outbound_worker, media_worker] {
                worker.abort();
            }
            return Err(error.into());
        }
    }
    let outcome = server.await.unwrap_or(Ok(()));
    for worker in [inbound_worker, outbound_worker, media_worker] {
        worker.abort();
    }
    tracing::info!("viberdesk-local stopped");
    outcome
}

async fn viber_callback(
    State(state): State<AppState>,
    Path(integration_id): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let parameters = HashMap::from([(INTEGRATION_ID_PARAMETER.to_owned(), integration_id)]);
    match gateway::to_lambda_request(request, parameters).await {
        Ok(request) => gateway::from_lambda_response(state.webhook.handle(request).await),
        Err(refused) => refused.into_response(),
    }
}

/// `ANY /api/{proxy+}` and `GET /app/{proxy+}` (the web inbox's files), as API Gateway routes
/// them to the API Lambda.
async fn api_request(
    State(state): State<AppState>,
    Path(proxy): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let parameters = HashMap::from([("proxy".to_owned(), proxy)]);
    match gateway::to_lambda_request(request, parameters).await {
        Ok(request) => gateway::from_lambda_response(state.api.handle(request).await),
        Err(refused) => refused.into_response(),
    }
}

/// `GET /`, as API Gateway routes it to the API Lambda: the staff web inbox's page.
async fn web_request(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    match gateway::to_lambda_request(request, HashMap::new()).await {
        Ok(request) => gateway::from_lambda_response(state.api.handle(request).await),
        Err(refused) => refused.into_response(),
    }
}

/// A function's retry policy in the local stack: its own (`own`, as its Lambda retries), unless
/// `--retry-backoff-ms` sets another back-off.
fn retry_policy(own: RetryPolicy, configured: Option<Backoff>) -> RetryPolicy {
    RetryPolicy {
        backoff: configured.unwrap_or(own.backoff),
        ..own
    }
}

/// Runs the processor on the inbound queue (embedded, or SQS when the backend is AWS), as the SQS
/// event source mapping and the processor Lambda's back-off do in AWS.
fn start_processor(
    backend: &Backend,
    integrations: Arc<IntegrationCache>,
    copy_avatars: bool,
    backoff: Option<Backoff>,
) -> tokio::task::JoinHandle<()> {
    let max_receives = processor::DEFAULT_MAX_RECEIVES;
    let mut processor =
        processor::Processor::new(backend.store.clone(), backend.media.port(), max_receives).with_cache(integrations);
    if !copy_avatars {
        processor = processor.without_avatar_copies();
    }
    let policy = retry_policy(processor.retry_policy(), backoff);
    let processor = Arc::new(processor);
    let handler = move |event| {
        let processor = processor.clone();
        async move { processor.handle_batch_with_retries(event).await }
    };
    spawn_consumer("inbound", backend.inbound.clone(), policy, handler)
}

/// Runs the media worker on the media queue (embedded, or SQS when the backend is AWS), as the
/// SQS event source mapping and the media worker Lambda's back-off do in AWS.
fn start_media_worker(backend: &Backend, backoff: Option<Backoff>) -> tokio::task::JoinHandle<()> {
    let worker = processor::media::MediaWorker::new(
        backend.store.clone(),
        backend.blobs.clone(),
        processor::media::DEFAULT_MAX_RECEIVES,
    );
    let policy = retry_policy(worker.retry_policy(), backoff);
    let worker = Arc::new(worker);
    let handler = move |event| {
        let worker = worker.clone();
        async move { worker.handle_batch_with_retries(event).await }
    };
    spawn_consumer("media", backend.media.clone(), policy, handler)
}

/// Runs the sender on the outbound queue (embedded, or SQS when the backend is AWS), as the SQS
/// event source mapping and the sender Lambda's back-off do in AWS.
fn start_sender(
    backend: &Backend,
    integrations: Arc<IntegrationCache>,
    viber_api_url: &str,
    backoff: Option<Backoff>,
) -> tokio::task::JoinHandle<()> {
    let sender = sender::Sender::new(
        backend.store.clone(),
        backend.blobs.clone(),
        ViberClient::with_timeout(viber_api_url, sender::VIBER_TIMEOUT),
        sender::DEFAULT_MAX_RECEIVES,
    )
    .with_cache(integrations);
    let policy = retry_policy(sender.retry_policy(), backoff);
    let sender = Arc::new(sender);
    let handler = move |event| {
        let sender = sender.clone();
        async move { sender.handle_batch_with_retries(event).await }
    };
    spawn_consumer("outbound", backend.outbound.clone(), policy, handler)
}

/// Consumes `queue` with `handler` until aborted, as the event source mapping does.
fn spawn_consumer<H, F>(
    name: &'static str,
    queue: LocalQueue,
    policy: RetryPolicy,
    handler: H,
) -> tokio::task::JoinHandle<()>
where
    H: Fn(aws_lambda_events::event::sqs::SqsEvent) -> F + Send + 'static,
    F: Future<Output = (aws_lambda_events::event::sqs::SqsBatchResponse, Vec<Retry>)> + Send + 'static,
{
    match queue {
        LocalQueue::Memory(queue) => tokio::spawn(workers::consume(name, queue, policy, handler)),
        LocalQueue::Sqs(sqs) => tokio::spawn(workers::consume_sqs(name, sqs, policy, handler)),
    }
}

/// A signed download URL of the embedded blob store (S3's presigned GET, locally).
async fn download_blob(
    State(state): State<AppState>,
    Path(key): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let Some(blobs) = state.blobs else {
        return http::StatusCode::NOT_FOUND.into_response();
    };
    match blobs.serve_get(&key, request.uri().query().unwrap_or("")) {
        Ok(served) => (
            [
                (http::header::CONTENT_TYPE, served.content_type.clone()),
                (http::header::CONTENT_DISPOSITION, served.content_disposition()),
            ],
            served.bytes,
        )
            .into_response(),
        Err(refused) => refused_url(&refused),
    }
}

/// A signed upload URL of the embedded blob store (S3's presigned PUT, locally).
async fn upload_blob(
    State(state): State<AppState>,
    Path(key): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let Some(blobs) = state.blobs else {
        return http::StatusCode::NOT_FOUND.into_response();
    };
    let query = request.uri().query().unwrap_or("").to_owned();
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match axum::body::to_bytes(request.into_body(), shared::media::MAX_MEDIA_BYTES as usize).await {
        Ok(body) => body,
        Err(_) => return http::StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    match blobs.accept_put(&key, &query, content_type.as_deref(), body) {
        Ok(()) => http::StatusCode::OK.into_response(),
        Err(refused) => refused_url(&refused),
    }
}

fn refused_url(refused: &shared::blobs::UrlRefused) -> Response {
    let status = http::StatusCode::from_u16(refused.status()).unwrap_or(http::StatusCode::FORBIDDEN);
    (status, refused.to_string()).into_response()
}

/// The owner's bearer token, and whether it was generated (then it is shown once).
struct OwnerToken {
    token: String,
    generated: bool,
}

async fn seed_owner(staff: &dyn StaffStore, token: Option<&str>) -> Result<(StaffMember, OwnerToken), LocalError> {
    let owner = StaffMember {
        id: StaffId::generate(),
        name: "Owner".to_owned(),
        avatar_url: None,
        role: Role::Owner,
        created_at: Timestamp::now(),
    };
    let token = match token {
        Some(token) => OwnerToken {
            token: token.to_owned(),
            generated: false,
        },
        None => OwnerToken {
            token: shared::ids::new_secret(),
            generated: true,
        },
    };
    staff.put_staff(&owner, &token_hash(&token.token)).await?;
    Ok((owner, token))
}

/// Stores the bot as integration `default`, with the profile `get_account_info` gives, so that
/// Viber's signed check during `set_webhook` can be verified.
async fn store_default_bot(
    backend: &Backend,
    viber: &ViberClient,
    token: AuthToken,
    public_base_url: &str,
    owner: &StaffId,
) -> Result<Integration, LocalError> {
    let info = viber.get_account_info(&token).await.map_err(LocalError::BotToken)?;
    let id = IntegrationId::parse(DEFAULT_INTEGRATION).expect("a valid id");
    let integration = Integration {
        webhook_url: webhook_url(public_base_url, &id),
        id,
        name: info.name.clone(),
        auth_token: token,
        bot: info.bot_profile(),
        template: TaskTemplate::default(),
        options: IntegrationOptions::default(),
        contact_template: Default::default(),
        connected_by: Some(owner.clone()),
        created_at: Timestamp::now(),
    };
    backend.store.put_integration(&integration).await?;
    tracing::info!(bot = %integration.bot.name, deep_link = %integration.deep_link(), "bot connected as integration `default`");
    Ok(integration)
}

async fn set_default_webhook(viber: &ViberClient, integration: &Integration) {
    match viber
        .set_webhook(&integration.auth_token, &integration.webhook_url)
        .await
    {
        Ok(()) => tracing::info!(webhook = %integration.webhook_url, "Viber webhook set"),
        // Viber only calls public HTTPS URLs; locally the webhook is often set through a tunnel.
        Err(error) => {
            tracing::warn!(webhook = %integration.webhook_url, %error, "Viber did not accept the webhook; callbacks arrive only once it is set to a public HTTPS URL (see --public-base-url)")
        }
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    mod log {
        use std::io::Write;
        use std::sync::{Arc, Condvar, Mutex};
        use std::time::{Duration, Instant};

        use crate::{LOG_QUEUE_LINES, log_writer};

        /// A sink that takes nothing until opened: a pipe nobody reads, a disk stuck in writeback.
        #[derive(Clone, Default)]
        struct Gate {
            open: Arc<(Mutex<bool>, Condvar)>,
            written: Arc<Mutex<Vec<u8>>>,
        }

        impl Gate {
            fn open(&self) {
                *self.open.0.lock().unwrap() = true;
                self.open.1.notify_all();
            }

            fn lines(&self) -> Vec<String> {
                String::from_utf8(self.written.lock().unwrap().clone())
                    .unwrap()
                    .lines()
                    .map(str::to_owned)
                    .collect()
            }
        }

        impl Write for Gate {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                let (open, opened) = &*self.open;
                drop(opened.wait_while(open.lock().unwrap(), |open| !*open).unwrap());
                self.written.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        #[test]
        fn a_stalled_log_sink_never_blocks_the_thread_that_logs() {
            let gate = Gate::default();
            let (mut writer, guard) = log_writer(gate.clone());
            let started = Instant::now();
            for n in 0..2 * LOG_QUEUE_LINES {
                writer.write_all(format!("line {n}\n").as_bytes()).unwrap();
            }
            let took = started.elapsed();
            assert!(took < Duration::from_secs(2), "logging waited for the sink: {took:?}");

            // Once the sink takes lines again, what was queued is written, in order, and what
            // found the queue full was dropped.
            gate.open();
            drop(guard);
            let lines = gate.lines();
            assert_eq!(lines.first().map(String::as_str), Some("line 0"));
            assert!(
                (LOG_QUEUE_LINES..=LOG_QUEUE_LINES + 2).contains(&lines.len()),
                "{} lines written",
                lines.len()
            );
            let numbers: Vec<usize> = lines
                .iter()
                .map(|line| line["line ".len()..].parse().unwrap())
                .collect();
            assert!(numbers.windows(2).all(|pair| pair[0] < pair[1]), "out of order");
        }
    }

    use super::*;

    #[test]
    fn the_local_stack_retries_as_the_lambdas_do_unless_told_otherwise() {
        let own = RetryPolicy {
            backoff: processor::BACKOFF,
            max_receives: 5,
        };
        assert_eq!(retry_policy(own, None), own, "no scaled-down default");
        let short = Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_millis(800),
        };
        assert_eq!(
            retry_policy(own, Some(short)),
            RetryPolicy {
                backoff: short,
                max_receives: 5
            }
        );
    }

    #[test]
    fn the_retry_back_off_flag_takes_first_and_max_in_milliseconds() {
        let options = Options::try_parse_from(["viberdesk-local", "--retry-backoff-ms", "100:800"]).unwrap();
        assert_eq!(
            options.retry_backoff_ms,
            Some(Backoff {
                first: Duration::from_millis(100),
                max: Duration::from_millis(800),
            })
        );
        for bad in ["100", "a:800", "900:800"] {
            assert!(parse_backoff(bad).is_err(), "{bad}");
        }
    }
}
