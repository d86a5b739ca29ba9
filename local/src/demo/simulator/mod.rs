//! The Viber simulator of `viberdesk-local --demo` (docs/demo.md): the Viber Bot API endpoints
//! viberdesk calls (`get_account_info`, `set_webhook` with its signed `webhook` check,
//! `send_message` with Viber's checks and status codes) for one or more simulated bots, and the
//! simulated clients' phones, whose every action reaches the bot's webhook as a callback signed
//! with the bot's token, exactly as Viber sends it.
//!
//! The phones download the files staff send, answer with `delivered` receipts (and `seen` when
//! their chat is open in the simulator page), and serve the files clients send under links that
//! expire after an hour. On request they misbehave (see [`state::SendFault`] and
//! [`state::DeliveryFault`]) and re-send a callback.

pub mod callbacks;
pub mod images;
pub mod media;
mod misbehaviour;
pub mod page;
mod phone;
mod posting;
pub mod routes;
pub mod rules;
pub mod signing;
pub mod state;
mod viber_api;
mod view;

pub use self::phone::{ActionOutcome, ClientAction, ClientFile, new_viber_user_id};
pub use self::posting::Posted;
pub use self::viber_api::ApiAnswer;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use shared::media::MediaFetcher;
use shared::time::Timestamp;

use self::media::{MediaLinks, MediaStore};
use self::state::{Bot, State};

/// How long the simulator waits for the webhook, as Viber does (about 5 s).
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Viber re-sends a callback that did not get a 200 "several times for an hour"; the simulator
/// does so after these pauses (the local stack's retry scale: seconds, not minutes).
const CALLBACK_RETRY_PAUSES: [Duration; 4] = [
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(10),
    Duration::from_secs(30),
];
/// A phone takes a moment to receive a message before it says `delivered`.
const DELIVERY_PAUSE: Duration = Duration::from_millis(150);
/// Background jobs (receipts, downloads, re-sent callbacks) running at once.
const BACKGROUND_AT_ONCE: usize = 16;
/// Background jobs waiting at once; beyond that a receipt is sent before the API answers.
const BACKGROUND_WAITING: usize = 10_000;
/// The `?sig=` of Viber's own callbacks is not sent: the header is what Viber documents.
const SIGNATURE_HEADER: &str = "X-Viber-Content-Signature";

pub fn now() -> i64 {
    Timestamp::now().millis()
}

pub struct Simulator {
    state: Mutex<State>,
    media: Mutex<MediaStore>,
    http: reqwest::Client,
    fetcher: MediaFetcher,
    /// Links handed to the webhook (absolute, on the public base URL).
    links: MediaLinks,
    /// Links the page shows (relative, so they stay same-origin whatever host the page is on).
    page_links: MediaLinks,
    base_url: String,
    running: Arc<tokio::sync::Semaphore>,
    waiting: AtomicUsize,
}

impl Simulator {
    /// A simulator whose links and avatars are on `public_base_url` (the stack's).
    pub fn new(public_base_url: &str) -> Arc<Self> {
        shared::tls::install_crypto_provider();
        let key = hex::decode(shared::ids::new_secret()).expect("hex");
        let http = reqwest::Client::builder()
            .timeout(CALLBACK_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client initialises");
        Arc::new(Self {
            state: Mutex::new(State::default()),
            media: Mutex::new(MediaStore::default()),
            http,
            fetcher: MediaFetcher::new(),
            links: MediaLinks::new(&key, public_base_url),
            page_links: MediaLinks::new(&key, ""),
            base_url: public_base_url.trim_end_matches('/').to_owned(),
            running: Arc::new(tokio::sync::Semaphore::new(BACKGROUND_AT_ONCE)),
            waiting: AtomicUsize::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn media_store(&self) -> MutexGuard<'_, MediaStore> {
        self.media.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Serves one more bot and answers its new auth token (Viber's shape: 3 × 16 characters).
    pub fn add_bot(&self, key: &str, name: &str, uri: &str) -> String {
        let secret = shared::ids::new_secret();
        let token = format!("{}-{}-{}", &secret[..16], &secret[16..32], &secret[32..48]);
        let mut state = self.lock();
        let colour = state.bots.len() + 5;
        let account_id = format!("pa:{}", u64::from_str_radix(&secret[48..63], 16).unwrap_or(1));
        state.bots.push(Bot {
            key: key.to_owned(),
            token: token.clone(),
            name: name.to_owned(),
            uri: uri.to_owned(),
            account_id,
            colour,
            webhook: None,
        });
        token
    }

    /// The base URL of the links and avatars the simulator hands out.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// How many bot messages the simulator has accepted (remembered ones, for receipts).
    pub fn accepted_messages(&self) -> usize {
        self.lock().sent.len()
    }

    /// The bots' keys, in the order they were added.
    pub fn bot_keys(&self) -> Vec<String> {
        self.lock().bots.iter().map(|b| b.key.clone()).collect()
    }

    /// Runs `job` in the background with bounded concurrency, or now when too much is waiting.
    fn background<F>(self: &Arc<Self>, job: F) -> Option<tokio::task::JoinHandle<()>>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= BACKGROUND_WAITING {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let this = self.clone();
        Some(tokio::spawn(async move {
            let permit = this.running.clone().acquire_owned().await;
            job.await;
            drop(permit);
            this.waiting.fetch_sub(1, Ordering::AcqRel);
        }))
    }
}
