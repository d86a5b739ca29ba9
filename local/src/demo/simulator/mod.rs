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
pub mod page;
pub mod routes;
pub mod rules;
pub mod signing;
pub mod state;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::media::MediaFetcher;
use shared::time::Timestamp;

use self::callbacks::{CALLBACK_HOST, CHAT_HOST, Callback, ClientMessage, ContactCard, Coordinates};
use self::media::{MediaLinks, MediaStore, StoredFile};
use self::rules::Refusal;
use self::state::{
    Bot, DeliveryFault, EntryContent, EntryState, FileRef, NewClient, Refused, SendFault, SentCallback, State, Webhook,
};

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

/// What the simulated Viber API answers.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiAnswer {
    /// HTTP 200 with this JSON (Viber's `status` inside).
    Json(Value),
    /// This HTTP status, empty body.
    Http(u16),
    /// The connection drops before an answer.
    Drop,
}

/// Where a callback goes: a bot's webhook.
#[derive(Debug, Clone)]
struct Target {
    bot: String,
    token: String,
    url: String,
    event_types: Option<Vec<String>>,
}

impl Target {
    fn of(bot: &Bot) -> Option<Self> {
        let webhook = bot.webhook.as_ref()?;
        Some(Self {
            bot: bot.key.clone(),
            token: bot.token.clone(),
            url: webhook.url.clone(),
            event_types: webhook.event_types.clone(),
        })
    }
}

/// What became of one callback.
#[derive(Debug, Clone, PartialEq)]
pub enum Posted {
    /// HTTP 200, with the body (the welcome message answering `conversation_started`).
    Accepted(Bytes),
    /// Another HTTP status.
    Refused(u16),
    /// No answer (connection refused, timeout).
    Unreachable(String),
    /// The bot's webhook did not ask for this event.
    Filtered,
}

impl Posted {
    pub fn describe(&self) -> String {
        match self {
            Posted::Accepted(_) => "200".to_owned(),
            Posted::Refused(status) => format!("HTTP {status}"),
            Posted::Unreachable(reason) => format!("no answer ({reason})"),
            Posted::Filtered => "not sent (the webhook did not ask for this event)".to_owned(),
        }
    }
}

/// What a simulated client does, as the page asks for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientAction {
    Text {
        text: String,
    },
    Sticker {
        sticker_id: u64,
    },
    /// Shares their own contact card (Viber's share-phone button), with their number unless
    /// another is given.
    Contact {
        #[serde(default)]
        phone: Option<String>,
    },
    Location {
        lat: f64,
        lon: f64,
    },
    Url {
        url: String,
    },
}

/// A client's file, uploaded from the page.
#[derive(Debug, Clone)]
pub struct ClientFile {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Bytes,
    pub caption: String,
}

/// Longest text a simulated client may write (Viber's own limit for bots, as a sane bound).
const CLIENT_TEXT_MAX_CHARS: usize = 7000;

/// The outcome of a client's action, for the page.
#[derive(Debug, Clone, Serialize)]
pub struct ActionOutcome {
    pub event: &'static str,
    #[serde(serialize_with = "as_text")]
    pub message_token: u64,
    /// What the webhook answered.
    pub webhook: String,
    pub accepted: bool,
}

fn as_text<S: serde::Serializer>(token: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&token.to_string())
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

    // ---- The Viber Bot API ----

    /// One call of the Viber API: `endpoint` with the `X-Viber-Auth-Token` header (or the body's
    /// `auth_token`, which Viber also accepts) and the raw body.
    pub async fn api(self: &Arc<Self>, endpoint: &str, auth_header: Option<&str>, body: &[u8]) -> ApiAnswer {
        let at = now();
        if endpoint == "send_message" {
            let mut state = self.lock();
            if let Some(fault) = state.send_faults.pop_front() {
                let left = state.send_faults.len();
                let answer = match fault {
                    SendFault::Http500 => ApiAnswer::Http(500),
                    SendFault::RateLimit => ApiAnswer::Json(status(12, "Too many requests")),
                    SendFault::DropConnection => ApiAnswer::Drop,
                };
                let what = match fault {
                    SendFault::Http500 => "HTTP 500",
                    SendFault::RateLimit => "status 12 (rate limit)",
                    SendFault::DropConnection => "connection dropped",
                };
                state.log(
                    at,
                    format!("send_message → {what}, as asked ({left} more faults waiting)"),
                );
                return answer;
            }
        }
        if body.len() > rules::MAX_REQUEST_BYTES {
            return ApiAnswer::Json(status(3, "badData: the request is over 30 KB"));
        }
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return ApiAnswer::Json(status(3, "badData: the body is not JSON"));
        };
        let token = auth_header
            .map(str::to_owned)
            .or_else(|| request.get("auth_token").and_then(Value::as_str).map(str::to_owned));
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return ApiAnswer::Json(status(2, "missing_auth_token"));
        };
        let Some(bot) = self.lock().bot_by_token(&token).cloned() else {
            return ApiAnswer::Json(status(2, "invalidAuthToken"));
        };
        match endpoint {
            "get_account_info" => ApiAnswer::Json(self.account_info(&bot)),
            "set_webhook" => ApiAnswer::Json(self.set_webhook(&bot, &request).await),
            "send_message" => ApiAnswer::Json(self.send_message(&bot, &request, at).await),
            _ => ApiAnswer::Http(404),
        }
    }

    fn account_info(&self, bot: &Bot) -> Value {
        let state = self.lock();
        let subscribers = state
            .clients
            .values()
            .filter(|c| c.bot == bot.key && c.subscribed)
            .count();
        let mut info = status(0, "ok");
        let extra = json!({
            "id": bot.account_id,
            "name": bot.name,
            "uri": bot.uri,
            "icon": format!("{}/simulator/avatars/bot-{}.svg", self.base_url, bot.key),
            "background": format!("{}/simulator/avatars/bot-{}.svg", self.base_url, bot.key),
            "category": "Companies, Brands & Products",
            "subcategory": "Retail",
            "location": {"lat": 50.4501, "lon": 30.5234},
            "country": "UA",
            "webhook": bot.webhook.as_ref().map(|w| w.url.clone()).unwrap_or_default(),
            "event_types": rules::answered_event_types(bot.webhook.as_ref().and_then(|w| w.event_types.as_deref())),
            "members": [],
            "subscribers_count": subscribers,
            "chat_flags": [],
        });
        for (key, value) in extra.as_object().expect("an object") {
            info[key] = value.clone();
        }
        info
    }

    async fn set_webhook(self: &Arc<Self>, bot: &Bot, request: &Value) -> Value {
        let at = now();
        let checked = match rules::check_set_webhook(request) {
            Ok(checked) => checked,
            Err(refusal) => return refused(refusal),
        };
        let Some(url) = checked.url else {
            let mut state = self.lock();
            if let Some(bot) = state.bot_by_token_mut(&bot.token) {
                bot.webhook = None;
            }
            state.log(at, format!("set_webhook: the webhook of {} removed", bot.key));
            return status(0, "ok");
        };
        // Before answering, Viber checks the URL with a signed `webhook` callback.
        let check = Callback::Webhook {
            timestamp: at,
            chat_hostname: CHAT_HOST,
            message_token: self.lock().tokens.next(at),
        };
        let target = Target {
            bot: bot.key.clone(),
            token: bot.token.clone(),
            url: url.clone(),
            event_types: None,
        };
        let posted = self.post(&target, &check, None, false).await;
        let mut state = self.lock();
        if !matches!(posted, Posted::Accepted(_)) {
            state.log(
                at,
                format!("set_webhook {url}: the check callback got {}", posted.describe()),
            );
            return status(
                1,
                &format!("Result[HttpRequest[POST {url}]] failed: {}", posted.describe()),
            );
        }
        if let Some(stored) = state.bot_by_token_mut(&bot.token) {
            stored.webhook = Some(Webhook {
                url: url.clone(),
                event_types: checked.event_types.clone(),
                send_name: checked.send_name,
                send_photo: checked.send_photo,
            });
        }
        state.log(at, format!("set_webhook: {} now calls {url}", bot.key));
        let mut answer = status(0, "ok");
        answer["event_types"] = json!(rules::answered_event_types(checked.event_types.as_deref()));
        answer
    }

    async fn send_message(self: &Arc<Self>, bot: &Bot, request: &Value, at: i64) -> Value {
        let message = match rules::check_message(request, false) {
            Ok(message) => message,
            Err(refusal) => {
                self.lock().log(
                    at,
                    format!("send_message → status {} ({})", refusal.status, refusal.message),
                );
                return refused(refusal);
            }
        };
        let Some(target) = Target::of(bot) else {
            return refused(Refusal::new(10, "webhookNotSet"));
        };
        let (accepted, user_id) = {
            let mut state = self.lock();
            match state.accept_send(&bot.key, &message, at) {
                Ok(accepted) => {
                    let user_id = state.clients[&accepted.client].viber_id.clone();
                    let name = state.clients[&accepted.client].name.clone();
                    state.log(
                        at,
                        format!(
                            "send_message to {name} → ok, message_token {}, billing_status {}",
                            accepted.message_token, accepted.billing_status
                        ),
                    );
                    (accepted, user_id)
                }
                Err(refusal) => {
                    state.log(
                        at,
                        format!("send_message → status {} ({})", refusal.status, refusal.message),
                    );
                    return refused(refusal);
                }
            }
        };
        let mut answer = status(0, "ok");
        answer["message_token"] = json!(accepted.message_token);
        answer["billing_status"] = json!(accepted.billing_status);
        let this = self.clone();
        let deliver = async move { this.deliver_to_phone(target, accepted, user_id).await };
        // Too much waiting: deliver before answering (slower, never lost).
        if let Some(deliver) = self.background_or_inline(deliver) {
            deliver.await;
        }
        answer
    }

    /// Runs `job` in the background, or hands it back to be awaited now.
    fn background_or_inline<F>(self: &Arc<Self>, job: F) -> Option<F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if self.waiting.load(Ordering::Acquire) >= BACKGROUND_WAITING {
            return Some(job);
        }
        self.background(job);
        None
    }

    /// The phone receives an accepted message: downloads its file, then says `delivered` (or
    /// misbehaves as asked).
    async fn deliver_to_phone(self: &Arc<Self>, target: Target, accepted: state::Accepted, user_id: String) {
        if let Some(url) = &accepted.download
            && let Err(reason) = self.download(&accepted, url).await
        {
            let at = now();
            let failed = Callback::Failed {
                timestamp: at,
                chat_hostname: CHAT_HOST,
                message_token: accepted.message_token,
                user_id,
                desc: reason.clone(),
            };
            self.lock()
                .set_entry_state(&accepted.client, accepted.entry, EntryState::Failed(reason));
            self.post_retrying(target, failed, Some(accepted.client.clone()), None)
                .await;
            return;
        }
        tokio::time::sleep(DELIVERY_PAUSE).await;
        let receipts = state::receipts_for(accepted.fault, accepted.message_token, &user_id, now());
        if let Some(fault) = accepted.fault {
            let what = match fault {
                DeliveryFault::ReceiptsOutOfOrder => "seen before delivered",
                DeliveryFault::ClientRejects => "a failed callback",
            };
            self.lock().log(
                now(),
                format!(
                    "the phone answers message_token {} with {what}, as asked",
                    accepted.message_token
                ),
            );
        }
        for receipt in receipts {
            let state = match &receipt {
                Callback::Delivered(_) => EntryState::Delivered,
                Callback::Seen(_) => EntryState::Seen,
                Callback::Failed { desc, .. } => EntryState::Failed(desc.clone()),
                _ => continue,
            };
            {
                let mut guard = self.lock();
                let current = guard
                    .clients
                    .get_mut(&accepted.client)
                    .and_then(|c| c.entry_mut(accepted.entry))
                    .map(|e| e.state.clone());
                // A late `delivered` does not undo `seen` on the phone either.
                if !(state == EntryState::Delivered && current == Some(EntryState::Seen)) {
                    guard.set_entry_state(&accepted.client, accepted.entry, state);
                }
            }
            self.post_retrying(target.clone(), receipt, Some(accepted.client.clone()), None)
                .await;
        }
    }

    /// Downloads a staff file as the phone (Viber) does; `Err` is the `failed` reason.
    async fn download(&self, accepted: &state::Accepted, url: &str) -> Result<(), String> {
        let fetched = self
            .fetcher
            .fetch(url, media::MAX_FILE_BYTES as u64)
            .await
            .map_err(|e| format!("the media could not be downloaded: {e}"))?;
        let file_name = {
            let state = self.lock();
            state
                .clients
                .get(&accepted.client)
                .and_then(|c| c.chat.iter().find(|e| e.id == accepted.entry))
                .and_then(|e| e.content.file())
                .map(|f| f.file_name.clone())
                .unwrap_or_else(|| "file".to_owned())
        };
        let content_type = fetched
            .content_type
            .filter(|t| !shared::viber::attachments::is_generic_content_type(t))
            .unwrap_or_else(|| shared::viber::attachments::guess_content_type(&file_name).to_owned());
        let size = fetched.bytes.len() as u64;
        let id = self
            .media_store()
            .insert(&file_name, &content_type, fetched.bytes, now(), false)
            .map_err(|e| e.to_string())?;
        let mut state = self.lock();
        if let Some(entry) = state
            .clients
            .get_mut(&accepted.client)
            .and_then(|c| c.entry_mut(accepted.entry))
            && let Some(file) = entry.content.file_mut()
        {
            file.media_id = Some(id);
            file.size = size;
            file.content_type = content_type;
        }
        Ok(())
    }

    // ---- Callbacks ----

    /// Signs and POSTs one callback to `target`; `remember` keeps it for the panel's duplicate.
    async fn post(&self, target: &Target, callback: &Callback, client: Option<&str>, remember: bool) -> Posted {
        let event = callback.event();
        if !callbacks::wanted(target.event_types.as_deref(), event) {
            return Posted::Filtered;
        }
        let body = callback.to_bytes();
        let signature = signing::callback_signature(&target.token, &body);
        if remember {
            self.lock().remember_callback(SentCallback {
                bot: target.bot.clone(),
                client: client.map(str::to_owned),
                event,
                message_token: callback.message_token(),
                url: target.url.clone(),
                body: body.clone(),
                signature: signature.clone(),
            });
        }
        let posted = self.send_signed(&target.url, body, &signature).await;
        self.lock().log(
            now(),
            format!(
                "{event} callback (message_token {}) → {}",
                callback.message_token(),
                posted.describe()
            ),
        );
        posted
    }

    async fn send_signed(&self, url: &str, body: Vec<u8>, signature: &str) -> Posted {
        let answer = self
            .http
            .post(url)
            .header(SIGNATURE_HEADER, signature)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        match answer {
            Ok(response) if response.status() == reqwest::StatusCode::OK => {
                let body = response.bytes().await.unwrap_or_default();
                Posted::Accepted(body)
            }
            Ok(response) => Posted::Refused(response.status().as_u16()),
            Err(error) if error.is_timeout() => Posted::Unreachable("timed out".to_owned()),
            Err(error) if error.is_connect() => Posted::Unreachable("connection refused".to_owned()),
            Err(_) => Posted::Unreachable("the connection failed".to_owned()),
        }
    }

    /// Posts a callback; if the webhook does not take it, Viber tries again later: so does the
    /// simulator, a few times, in the background. `entry` follows what became of it.
    async fn post_retrying(
        self: &Arc<Self>,
        target: Target,
        callback: Callback,
        client: Option<String>,
        entry: Option<u64>,
    ) -> Posted {
        let posted = self.post(&target, &callback, client.as_deref(), true).await;
        if matches!(posted, Posted::Accepted(_) | Posted::Filtered) {
            if let (Some(client), Some(entry)) = (&client, entry) {
                self.lock().set_entry_state(client, entry, EntryState::Accepted);
            }
            return posted;
        }
        if let (Some(client), Some(entry)) = (&client, entry) {
            self.lock()
                .set_entry_state(client, entry, EntryState::Retrying(posted.describe()));
        }
        let this = self.clone();
        self.background(async move {
            let mut last = String::new();
            for pause in CALLBACK_RETRY_PAUSES {
                tokio::time::sleep(pause).await;
                let posted = this.post(&target, &callback, client.as_deref(), false).await;
                if matches!(posted, Posted::Accepted(_) | Posted::Filtered) {
                    if let (Some(client), Some(entry)) = (&client, entry) {
                        this.lock().set_entry_state(client, entry, EntryState::Accepted);
                    }
                    return;
                }
                last = posted.describe();
                if let (Some(client), Some(entry)) = (&client, entry) {
                    this.lock()
                        .set_entry_state(client, entry, EntryState::Retrying(last.clone()));
                }
            }
            if let (Some(client), Some(entry)) = (&client, entry) {
                this.lock()
                    .set_entry_state(client, entry, EntryState::NotDelivered(last));
            }
        });
        posted
    }

    // ---- The clients' phones ----

    /// A new simulated client of a bot (the first bot if none is named).
    pub fn create_client(&self, new: NewClient) -> Result<Value, Refused> {
        let viber_id = new_viber_user_id();
        let mut state = self.lock();
        let client = state.add_client(new, viber_id, now())?.clone();
        let name = client.name.clone();
        state.log(now(), format!("new client {name} ({})", client.key));
        Ok(self.client_view(&state, &client))
    }

    /// The bot and webhook a client's callbacks go to.
    fn target_of(&self, state: &State, key: &str) -> Result<Target, Refused> {
        let client = state.clients.get(key).ok_or(Refused::NotFound("client"))?;
        let bot = state.bot(&client.bot).ok_or(Refused::NotFound("bot"))?;
        Target::of(bot).ok_or_else(|| Refused::Invalid(format!("{} has no webhook: Viber would not deliver", bot.name)))
    }

    /// A client writes: text, a sticker, their contact card, a location or a link.
    pub async fn client_acts(self: &Arc<Self>, key: &str, action: ClientAction) -> Result<ActionOutcome, Refused> {
        let (message, content) = {
            let state = self.lock();
            let client = state.clients.get(key).ok_or(Refused::NotFound("client"))?;
            match action {
                ClientAction::Text { text } => {
                    let text = text.trim().to_owned();
                    if text.is_empty() || text.chars().count() > CLIENT_TEXT_MAX_CHARS {
                        return Err(Refused::Invalid("a message is 1 to 7000 characters".into()));
                    }
                    (
                        ClientMessage::Text {
                            text: text.clone(),
                            kind: "text",
                            tracking_data: None,
                        },
                        EntryContent::Text { text },
                    )
                }
                ClientAction::Sticker { sticker_id } => {
                    if !images::STICKERS.iter().any(|(id, _)| *id == sticker_id) {
                        return Err(Refused::NotFound("sticker"));
                    }
                    (
                        ClientMessage::Sticker {
                            kind: "sticker",
                            sticker_id,
                            media: format!("{}/simulator/stickers/{sticker_id}.png", self.base_url),
                            tracking_data: None,
                        },
                        EntryContent::Sticker { sticker_id },
                    )
                }
                ClientAction::Contact { phone } => {
                    let phone = match phone {
                        Some(phone) => state::phone_number(&phone)?,
                        None => client.phone.clone(),
                    };
                    let user = state.user(client, &self.base_url);
                    (
                        ClientMessage::Contact {
                            kind: "contact",
                            contact: ContactCard {
                                name: client.name.clone(),
                                phone_number: phone.clone(),
                                avatar: user.avatar,
                            },
                            tracking_data: None,
                        },
                        EntryContent::Contact {
                            name: client.name.clone(),
                            phone,
                        },
                    )
                }
                ClientAction::Location { lat, lon } => {
                    if !(lat.abs() <= 90.0 && lon.abs() <= 180.0) {
                        return Err(Refused::Invalid("latitude is ±90, longitude ±180".into()));
                    }
                    (
                        ClientMessage::Location {
                            kind: "location",
                            location: Coordinates { lat, lon },
                            tracking_data: None,
                        },
                        EntryContent::Location { lat, lon },
                    )
                }
                ClientAction::Url { url } => {
                    let url = url.trim().to_owned();
                    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 {
                        return Err(Refused::Invalid("a link starts with http:// or https://".into()));
                    }
                    (
                        ClientMessage::Url {
                            kind: "url",
                            media: url.clone(),
                            tracking_data: None,
                        },
                        EntryContent::Url { url },
                    )
                }
            }
        };
        self.send_client_message(key, message, content).await
    }

    /// A client sends a file: a picture (JPEG, PNG, GIF), a video (MP4) or any other file.
    pub async fn client_sends_file(self: &Arc<Self>, key: &str, file: ClientFile) -> Result<ActionOutcome, Refused> {
        let file_name = clean_file_name(&file.file_name);
        let content_type = if file.content_type.trim().is_empty()
            || shared::viber::attachments::is_generic_content_type(&file.content_type)
        {
            shared::viber::attachments::guess_content_type(&file_name).to_owned()
        } else {
            file.content_type.trim().to_owned()
        };
        if file.bytes.is_empty() {
            return Err(Refused::Invalid("the file is empty".into()));
        }
        if file.caption.chars().count() > 768 {
            return Err(Refused::Invalid("a caption is at most 768 characters".into()));
        }
        if !self.lock().clients.contains_key(key) {
            return Err(Refused::NotFound("client"));
        }
        let size = file.bytes.len() as u64;
        let at = now();
        let id = self
            .media_store()
            .insert(&file_name, &content_type, file.bytes, at, true)
            .map_err(|e| Refused::Invalid(e.to_string()))?;
        let link = self.links.link(id, &file_name, at);
        let reference = FileRef {
            media_id: Some(id),
            file_name: file_name.clone(),
            size,
            content_type: content_type.clone(),
        };
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let (message, content) = match essence.as_str() {
            "image/jpeg" | "image/png" | "image/gif" => (
                ClientMessage::Media {
                    kind: "picture",
                    text: file.caption.clone(),
                    media: link.clone(),
                    thumbnail: link,
                    file_name,
                    size,
                    duration: None,
                    tracking_data: None,
                },
                EntryContent::Picture {
                    text: file.caption,
                    file: reference,
                },
            ),
            "video/mp4" => (
                ClientMessage::Media {
                    kind: "video",
                    text: file.caption.clone(),
                    media: link,
                    thumbnail: format!("{}/simulator/stickers/video.png", self.base_url),
                    file_name,
                    size,
                    duration: Some(0),
                    tracking_data: None,
                },
                EntryContent::Video {
                    text: file.caption,
                    file: reference,
                    duration: None,
                },
            ),
            _ => (
                ClientMessage::File {
                    kind: "file",
                    media: link,
                    file_name,
                    size,
                    tracking_data: None,
                },
                EntryContent::File { file: reference },
            ),
        };
        self.send_client_message(key, message, content).await
    }

    async fn send_client_message(
        self: &Arc<Self>,
        key: &str,
        message: ClientMessage,
        content: EntryContent,
    ) -> Result<ActionOutcome, Refused> {
        let at = now();
        let (target, callback, entry) = {
            let mut state = self.lock();
            let target = self.target_of(&state, key)?;
            let token = state.tokens.next(at);
            let client = &state.clients[key];
            let tracking_data = client.tracking_data.clone();
            let user = state.user(client, &self.base_url);
            let entry = state.client_wrote(key, content, token, at)?;
            let callback = Callback::Message {
                timestamp: at,
                chat_hostname: CALLBACK_HOST,
                message_token: token,
                sender: user,
                message: message.with_tracking_data(tracking_data),
                silent: false,
            };
            (target, callback, entry)
        };
        let posted = self
            .post_retrying(target, callback.clone(), Some(key.to_owned()), Some(entry))
            .await;
        Ok(outcome(&callback, &posted))
    }

    /// The client opens the chat (the Message button or a deep link): `conversation_started`,
    /// answered with the bot's welcome message, which appears in the chat.
    pub async fn start_conversation(
        self: &Arc<Self>,
        key: &str,
        context: Option<String>,
    ) -> Result<ActionOutcome, Refused> {
        if context.as_ref().is_some_and(|c| c.chars().count() > 2000) {
            return Err(Refused::Invalid("the deep link's context is too long".into()));
        }
        let at = now();
        let (target, callback) = {
            let mut state = self.lock();
            let target = self.target_of(&state, key)?;
            let token = state.tokens.next(at);
            let client = &state.clients[key];
            let callback = Callback::ConversationStarted {
                timestamp: at,
                chat_hostname: CALLBACK_HOST,
                message_token: token,
                kind: "open",
                context: context.filter(|c| !c.is_empty()),
                user: state.user(client, &self.base_url),
                subscribed: client.subscribed,
            };
            state.note(key, "You opened the chat", Some(token), at);
            (target, callback)
        };
        let posted = self.post(&target, &callback, Some(key), true).await;
        if let Posted::Accepted(body) = &posted
            && !body.is_empty()
        {
            let mut state = self.lock();
            match serde_json::from_slice::<Value>(body)
                .map_err(|_| Refusal::new(3, "the answer is not JSON"))
                .and_then(|value| rules::check_message(&value, true))
            {
                Ok(welcome) => state.welcome(key, &welcome, now()),
                Err(refusal) => {
                    state.log(now(), format!("the welcome message was refused: {}", refusal.message));
                    state.note(
                        key,
                        &format!("Viber refused the welcome message: {}", refusal.message),
                        None,
                        now(),
                    );
                }
            }
        }
        Ok(outcome(&callback, &posted))
    }

    /// The client unsubscribes (`unsubscribed`, only the user id) or subscribes again
    /// (`subscribed`, with the profile).
    pub async fn set_subscription(self: &Arc<Self>, key: &str, subscribed: bool) -> Result<ActionOutcome, Refused> {
        let at = now();
        let (target, callback) = {
            let mut state = self.lock();
            let target = self.target_of(&state, key)?;
            let token = state.tokens.next(at);
            state.set_subscribed(key, subscribed)?;
            let client = &state.clients[key];
            let callback = if subscribed {
                Callback::Subscribed {
                    timestamp: at,
                    chat_hostname: CHAT_HOST,
                    user: state.user(client, &self.base_url),
                    message_token: token,
                }
            } else {
                Callback::Unsubscribed {
                    timestamp: at,
                    chat_hostname: CHAT_HOST,
                    user_id: client.viber_id.clone(),
                    message_token: token,
                }
            };
            let note = if subscribed {
                "You subscribed to the bot"
            } else {
                "You unsubscribed: the bot can no longer write to you"
            };
            state.note(key, note, Some(token), at);
            (target, callback)
        };
        let posted = self
            .post_retrying(target, callback.clone(), Some(key.to_owned()), None)
            .await;
        Ok(outcome(&callback, &posted))
    }

    /// The client's chat is open on screen: every delivered bot message becomes seen, one `seen`
    /// receipt each.
    pub fn chat_open(self: &Arc<Self>, key: &str) -> Result<usize, Refused> {
        let at = now();
        let (target, user_id, tokens) = {
            let mut state = self.lock();
            let target = self.target_of(&state, key)?;
            let user_id = state.clients[key].viber_id.clone();
            (target, user_id, state.mark_seen(key))
        };
        let count = tokens.len();
        if count > 0 {
            let this = self.clone();
            let key = key.to_owned();
            self.background(async move {
                for token in tokens {
                    let seen = Callback::receipt(false, at, token, &user_id);
                    this.post_retrying(target.clone(), seen, Some(key.clone()), None).await;
                }
            });
        }
        Ok(count)
    }

    // ---- Misbehaviour ----

    pub fn add_send_faults(&self, fault: SendFault, count: usize) -> usize {
        let mut state = self.lock();
        let added = State::add_faults(&mut state.send_faults, fault, count);
        state.log(
            now(),
            format!("the next {added} send_message calls will fail ({fault:?})"),
        );
        added
    }

    pub fn add_delivery_faults(&self, fault: DeliveryFault, count: usize) -> usize {
        let mut state = self.lock();
        let added = State::add_faults(&mut state.delivery_faults, fault, count);
        state.log(
            now(),
            format!("the phones will mishandle the next {added} messages ({fault:?})"),
        );
        added
    }

    pub fn clear_faults(&self) {
        let mut state = self.lock();
        state.send_faults.clear();
        state.delivery_faults.clear();
        state.log(now(), "no more faults");
    }

    /// Sends the last callback again, byte for byte and with its signature, as Viber does when
    /// it did not see an answer in time.
    pub async fn resend_last(&self) -> Result<ActionOutcome, Refused> {
        let last = self
            .lock()
            .last_callback
            .clone()
            .ok_or(Refused::NotFound("callback to re-send"))?;
        let posted = self.send_signed(&last.url, last.body.clone(), &last.signature).await;
        self.lock().log(
            now(),
            format!(
                "{} callback (message_token {}) re-sent as a duplicate → {}",
                last.event,
                last.message_token,
                posted.describe()
            ),
        );
        Ok(ActionOutcome {
            event: last.event,
            message_token: last.message_token,
            accepted: matches!(posted, Posted::Accepted(_)),
            webhook: posted.describe(),
        })
    }

    // ---- What the page and the URLs serve ----

    /// A client's or a bot's avatar, an SVG with initials.
    pub fn avatar(&self, name: &str) -> Option<String> {
        let state = self.lock();
        if name == "generic" {
            return Some(images::avatar_svg("", 5));
        }
        // Staff avatars of the seeded team (`staff-Anna-Melnyk`).
        if let Some(person) = name.strip_prefix("staff-").filter(|p| p.len() <= 64) {
            let person = person.replace('-', " ");
            return Some(images::avatar_svg(&person, images::colour_of(&person)));
        }
        if let Some(bot) = name.strip_prefix("bot-") {
            let bot = state.bot(bot)?;
            return Some(images::avatar_svg(&bot.name, bot.colour));
        }
        let client = state.clients.get(name)?;
        client
            .has_avatar
            .then(|| images::avatar_svg(&client.name, client.colour))
    }

    /// A file behind a media link, if the link is valid and the file still there.
    pub fn media_file(&self, id: u64, file_name: &str, query: &str) -> Result<StoredFile, u16> {
        let at = now();
        self.links
            .check(id, file_name, query, at)
            .map_err(media::LinkRefused::status)?;
        let store = self.media_store();
        match store.get(id, at) {
            Some(file) if file.file_name == file_name => Ok(file.clone()),
            _ => Err(404),
        }
    }

    fn client_view(&self, state: &State, client: &state::Client) -> Value {
        let mut view = serde_json::to_value(client).expect("clients serialise");
        view["avatar"] = json!(
            client
                .has_avatar
                .then(|| format!("/simulator/avatars/{}.svg", client.key))
        );
        view["unread"] = json!(client.unread());
        view["bot_name"] = json!(state.bot(&client.bot).map(|b| b.name.clone()));
        view
    }

    /// What the page shows: the bots, the clients (when they changed since `clients_version`),
    /// the chat of `client`, the faults waiting and the log after `log_after`.
    pub fn view(&self, client: Option<&str>, clients_version: Option<u64>, log_after: u64) -> Value {
        let at = now();
        let state = self.lock();
        let bots: Vec<Value> = state
            .bots
            .iter()
            .map(|bot| {
                json!({
                    "key": bot.key,
                    "name": bot.name,
                    "uri": bot.uri,
                    "icon": format!("/simulator/avatars/bot-{}.svg", bot.key),
                    "webhook": bot.webhook.is_some(),
                })
            })
            .collect();
        // Unread counts change often: sent apart from the client list, only where not zero.
        let unread: serde_json::Map<String, Value> = state
            .clients
            .values()
            .filter_map(|c| Some((c.key.clone(), json!(Some(c.unread()).filter(|n| *n > 0)?))))
            .collect();
        let mut view = json!({
            "bots": bots,
            "unread": unread,
            "clients_version": state.clients_version,
            "stickers": images::STICKERS.iter().map(|(id, name)| json!({"id": id, "name": name, "url": format!("/simulator/stickers/{id}.png")})).collect::<Vec<_>>(),
            "faults": {
                "send": state.send_faults.iter().collect::<Vec<_>>(),
                "delivery": state.delivery_faults.iter().collect::<Vec<_>>(),
            },
            "last_callback": state.last_callback.as_ref().map(|last| json!({
                "event": last.event,
                "message_token": last.message_token.to_string(),
                "client": last.client.as_ref().and_then(|k| state.clients.get(k)).map(|c| c.name.clone()),
            })),
            "log": state.log.iter().filter(|line| line.id > log_after).collect::<Vec<_>>(),
        });
        if clients_version != Some(state.clients_version) {
            view["clients"] = Value::Array(
                state
                    .client_order
                    .iter()
                    .filter_map(|key| state.clients.get(key))
                    .map(|client| self.client_view(&state, client))
                    .collect(),
            );
        }
        if let Some(client) = client.and_then(|key| state.clients.get(key)) {
            let entries: Vec<Value> = client
                .chat
                .iter()
                .map(|entry| {
                    let mut value = serde_json::to_value(entry).expect("entries serialise");
                    if let Some(file) = entry.content.file()
                        && let Some(id) = file.media_id
                    {
                        value["content"]["file"]["url"] = json!(self.page_links.link(id, &file.file_name, at));
                    }
                    if let EntryContent::Sticker { sticker_id } = entry.content {
                        value["content"]["url"] = json!(format!("/simulator/stickers/{sticker_id}.png"));
                    }
                    value
                })
                .collect();
            view["chat"] = json!({
                "client": self.client_view(&state, client),
                "subscribed": client.subscribed,
                "unread": client.unread(),
                "entries": entries,
            });
        }
        view
    }

    /// The `webhook` the bot with this key calls (for the demo's banner and tests).
    pub fn webhook_of(&self, key: &str) -> Option<String> {
        self.lock().bot(key)?.webhook.as_ref().map(|w| w.url.clone())
    }
}

fn outcome(callback: &Callback, posted: &Posted) -> ActionOutcome {
    ActionOutcome {
        event: callback.event(),
        message_token: callback.message_token(),
        webhook: posted.describe(),
        accepted: matches!(posted, Posted::Accepted(_)),
    }
}

fn status(code: i64, message: &str) -> Value {
    json!({"status": code, "status_message": message, "chat_hostname": CHAT_HOST})
}

fn refused(refusal: Refusal) -> Value {
    status(refusal.status, &refusal.message)
}

/// A Viber user id: 16 random bytes in base64, like `9Kf2mQ1xT7bVnC3pLs8aZw==` (with `+`, `/`
/// and `=` that must survive URLs).
pub fn new_viber_user_id() -> String {
    let random = hex::decode(&shared::ids::new_secret()[..32]).expect("hex");
    base64(&random)
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A file name as a phone would send it: no path, no control characters, at most 200 characters.
fn clean_file_name(name: &str) -> String {
    let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let name: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
    let name = name.trim();
    if name.is_empty() || name == "." || name == ".." {
        "file".to_owned()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_look_like_viber_s() {
        assert_eq!(base64(b"\x00\x00\x00"), "AAAA");
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
        let id = new_viber_user_id();
        assert_eq!(id.len(), 24);
        assert!(id.ends_with("=="));
        assert_ne!(id, new_viber_user_id());
    }

    #[test]
    fn file_names_lose_their_path() {
        assert_eq!(clean_file_name("C:\\Users\\o\\scan.pdf"), "scan.pdf");
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name(".."), "file");
        assert_eq!(clean_file_name("a\u{0}b.txt"), "ab.txt");
    }
}
