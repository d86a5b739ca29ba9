//! A fake Viber Bot API on loopback. It checks requests the way Viber does (auth token header,
//! 30 KB limit, required fields and limits per message type, subscribed receivers), answers with
//! Viber's status codes, calls the webhook back with a signed `webhook` event on `set_webhook`,
//! and can be told to answer the next requests with any status, HTTP error or delay.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::fixtures;

const MAX_REQUEST_BYTES: usize = 30 * 1024;
const FORBIDDEN_EXTENSIONS: &[&str] = &[
    "bat", "bin", "cmd", "com", "cpl", "exe", "gadget", "inf1", "ins", "inx", "isu", "job", "jse", "lnk", "msc", "msi",
    "msp", "mst", "paf", "pif", "ps1", "reg", "rgs", "sct", "shb", "shs", "u3p", "vb", "vbe", "vbs", "vbscript", "ws",
    "wsf", "action", "app", "command", "csh", "osx", "workflow", "ksh", "out", "run", "apk", "ipa",
];

/// How the fake answers the next request to an endpoint.
#[derive(Debug, Clone)]
pub enum Answer {
    /// HTTP 200 with this Viber `status` and `status_message`.
    Status(i64, &'static str),
    /// This HTTP status with an empty body.
    Http(u16),
    /// Wait this long, then answer normally (to provoke client timeouts).
    Delay(Duration),
}

/// A message `send_message` accepted: its body, the token it answered and when (the fault
/// runs tell a part sent twice because an answer was lost from one sent twice for no reason).
#[derive(Debug, Clone)]
pub struct Accepted {
    pub token: u64,
    pub body: Value,
    pub at: Instant,
}

/// A request the fake accepted for checking (whatever it answered).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub endpoint: String,
    pub auth_token: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    token: String,
    webhook: Option<String>,
    requests: Vec<Recorded>,
    scripted: VecDeque<(String, Answer)>,
    unsubscribed: HashSet<String>,
    next_message_token: u64,
    call_back_on_set_webhook: bool,
    /// The `message_token` of every message `send_message` accepted, in order.
    accepted_tokens: Vec<u64>,
    /// The messages `send_message` accepted, in order.
    accepted: Vec<Accepted>,
    /// Further bots besides the one of `token`, by token (see [`FakeViber::add_bot`]).
    bots: HashMap<String, Bot>,
}

/// A further bot the fake serves: its profile and webhook.
#[derive(Debug, Clone, Default)]
struct Bot {
    name: String,
    uri: String,
    webhook: Option<String>,
}

/// The event types `set_webhook` accepts in `event_types` (docs/viber-api.md §2, §3).
pub const KNOWN_EVENT_TYPES: &[&str] = &[
    "delivered",
    "seen",
    "failed",
    "subscribed",
    "unsubscribed",
    "conversation_started",
    "message",
    "webhook",
    "client_status",
    "action",
];

/// What Viber always sends, whatever `event_types` says.
const MANDATORY_EVENT_TYPES: &[&str] = &["message", "subscribed", "unsubscribed"];

#[derive(Clone)]
pub struct FakeViber {
    pub address: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    http: reqwest::Client,
}

impl FakeViber {
    /// Starts a fake whose bot token is `token`; the API base is [`FakeViber::api_url`].
    pub async fn start(token: &str) -> FakeViber {
        let inner = Arc::new(Mutex::new(Inner {
            token: token.to_owned(),
            next_message_token: 6_031_876_937_401_069_573,
            call_back_on_set_webhook: true,
            ..Inner::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let fake = FakeViber {
            address,
            inner,
            http: crate::http_client(),
        };
        let app = Router::new()
            .route("/pa/{endpoint}", post(endpoint))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    pub fn api_url(&self) -> String {
        format!("http://{}/pa", self.address)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Bodies of the requests to one endpoint, oldest first.
    pub fn bodies(&self, endpoint: &str) -> Vec<Value> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .map(|r| r.body.clone())
            .collect()
    }

    /// The `message_token` of every message `send_message` accepted, in order.
    pub fn accepted_tokens(&self) -> Vec<u64> {
        self.lock().accepted_tokens.clone()
    }

    /// Every message `send_message` accepted, in order, with its body and when.
    pub fn accepted(&self) -> Vec<Accepted> {
        self.lock().accepted.clone()
    }

    /// The next request to `endpoint` gets `answer` (queued in order).
    pub fn script(&self, endpoint: &str, answer: Answer) {
        self.lock().scripted.push_back((endpoint.to_owned(), answer));
    }

    /// Drops every scripted answer not used yet: the next requests are answered normally.
    pub fn clear_script(&self) {
        self.lock().scripted.clear();
    }

    /// The bot's webhook as last set.
    pub fn webhook(&self) -> Option<String> {
        self.lock().webhook.clone()
    }

    pub fn set_token(&self, token: &str) {
        self.lock().token = token.to_owned();
    }

    /// Serves one more bot, with its own token, name and URI (`get_account_info`) and webhook;
    /// several bots can be connected side by side.
    pub fn add_bot(&self, token: &str, name: &str, uri: &str) {
        self.lock().bots.insert(
            token.to_owned(),
            Bot {
                name: name.to_owned(),
                uri: uri.to_owned(),
                webhook: None,
            },
        );
    }

    /// Viber stops accepting this token (as when support reissues it or the bot is removed).
    pub fn revoke(&self, token: &str) {
        let mut inner = self.lock();
        inner.bots.remove(token);
        if inner.token == token {
            inner.token = String::new();
        }
    }

    /// The webhook of the bot with this token, as last set.
    pub fn webhook_of(&self, token: &str) -> Option<String> {
        let inner = self.lock();
        if inner.token == token {
            inner.webhook.clone()
        } else {
            inner.bots.get(token).and_then(|bot| bot.webhook.clone())
        }
    }

    fn knows(&self, token: &str) -> bool {
        let inner = self.lock();
        (!inner.token.is_empty() && inner.token == token) || inner.bots.contains_key(token)
    }

    fn record_webhook(&self, token: &str, url: Option<String>) {
        let mut inner = self.lock();
        if inner.token == token {
            inner.webhook = url;
        } else if let Some(bot) = inner.bots.get_mut(token) {
            bot.webhook = url;
        }
    }

    pub fn unsubscribe(&self, user_id: &str) {
        self.lock().unsubscribed.insert(user_id.to_owned());
    }

    /// Whether `set_webhook` first checks the URL with a signed `webhook` callback (on by default).
    pub fn call_back_on_set_webhook(&self, enabled: bool) {
        self.lock().call_back_on_set_webhook = enabled;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take_script(&self, endpoint: &str) -> Option<Answer> {
        let mut inner = self.lock();
        let position = inner.scripted.iter().position(|(e, _)| e == endpoint)?;
        inner.scripted.remove(position).map(|(_, answer)| answer)
    }

    async fn set_webhook(&self, token: &str, body: &Value) -> Value {
        let url = match body.get("url") {
            None => return status(4, "missingData: url"),
            Some(Value::String(url)) => url.as_str(),
            Some(_) => return status(3, "badData: url must be a string"),
        };
        if let Err(refused) = check_webhook_options(body) {
            return refused;
        }
        if url.is_empty() {
            self.record_webhook(token, None);
            return status(0, "ok");
        }
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return status(1, "invalidUrl");
        }
        let token = token.to_owned();
        let call_back = self.lock().call_back_on_set_webhook;
        if call_back {
            let check = format!(
                r#"{{"event":"webhook","timestamp":{},"chat_hostname":"SN-CHAT-02_","message_token":{}}}"#,
                shared::time::Timestamp::now().millis(),
                self.next_token()
            );
            let answer = self
                .http
                .post(url)
                .header("X-Viber-Content-Signature", fixtures::sign(&token, check.as_bytes()))
                .header("Content-Type", "application/json")
                .body(check)
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            match answer {
                Ok(response) if response.status() == reqwest::StatusCode::OK => {}
                Ok(response) => {
                    return status(1, &format!("webhook answered HTTP {}", response.status().as_u16()));
                }
                Err(error) => return status(1, &format!("java.net.ConnectException: {error}")),
            }
        }
        self.record_webhook(&token, Some(url.to_owned()));
        let mut answer = status(0, "ok");
        answer["event_types"] = match body.get("event_types").and_then(Value::as_array) {
            // What Viber will send: the mandatory events and the optional ones asked for.
            Some(asked) => {
                let mut events: Vec<&str> = MANDATORY_EVENT_TYPES.to_vec();
                events.extend(
                    asked
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|e| !MANDATORY_EVENT_TYPES.contains(e)),
                );
                json!(events)
            }
            None => json!([
                "subscribed",
                "unsubscribed",
                "conversation_started",
                "delivered",
                "failed",
                "message",
                "seen"
            ]),
        };
        answer
    }

    fn account_info(&self, token: &str) -> Value {
        let mut info = fixtures::json("get_account_info_response");
        let inner = self.lock();
        match inner.bots.get(token) {
            Some(bot) => {
                info["name"] = json!(bot.name);
                info["uri"] = json!(bot.uri);
                info["webhook"] = json!(bot.webhook.clone().unwrap_or_default());
            }
            None => info["webhook"] = json!(inner.webhook.clone().unwrap_or_default()),
        }
        info
    }

    fn send_message(&self, body: &Value) -> Value {
        if let Err((code, message)) = check_message(body) {
            return status(code, message);
        }
        let receiver = body["receiver"].as_str().unwrap_or_default();
        if self.lock().unsubscribed.contains(receiver) {
            return status(6, "notSubscribed");
        }
        let token = self.next_token();
        let mut inner = self.lock();
        inner.accepted_tokens.push(token);
        inner.accepted.push(Accepted {
            token,
            body: body.clone(),
            at: Instant::now(),
        });
        drop(inner);
        let mut answer = status(0, "ok");
        answer["message_token"] = json!(token);
        answer["billing_status"] = json!(1);
        answer
    }

    fn next_token(&self) -> u64 {
        let mut inner = self.lock();
        inner.next_message_token += 1;
        inner.next_message_token
    }
}

async fn endpoint(
    State(fake): State<FakeViber>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth_token = headers
        .get("x-viber-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    fake.lock().requests.push(Recorded {
        endpoint: endpoint.clone(),
        auth_token: auth_token.clone(),
        body: parsed.clone().unwrap_or(Value::Null),
    });
    match fake.take_script(&endpoint) {
        Some(Answer::Status(code, message)) => {
            return axum::Json(status(code, message)).into_response();
        }
        Some(Answer::Http(code)) => {
            return StatusCode::from_u16(code)
                .unwrap_or(StatusCode::BAD_GATEWAY)
                .into_response();
        }
        Some(Answer::Delay(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    let answer = match (auth_token, parsed) {
        (None, _) => status(2, "missing_auth_token"),
        (Some(token), _) if !fake.knows(&token) => status(2, "invalidAuthToken"),
        _ if body.len() > MAX_REQUEST_BYTES => status(3, "badData: request over 30 KB"),
        (_, None) => status(3, "badData: invalid JSON"),
        (Some(token), Some(body)) => match endpoint.as_str() {
            "get_account_info" => fake.account_info(&token),
            "set_webhook" => fake.set_webhook(&token, &body).await,
            "send_message" => fake.send_message(&body),
            _ => return StatusCode::NOT_FOUND.into_response(),
        },
    };
    axum::Json(answer).into_response()
}

/// Viber's checks of `set_webhook`'s optional fields (docs/viber-api.md §2): `event_types` a list of known
/// event names, `send_name` / `send_photo` booleans.
fn check_webhook_options(body: &Value) -> Result<(), Value> {
    match body.get("event_types") {
        None => {}
        Some(Value::Array(events)) => {
            for event in events {
                match event.as_str() {
                    Some(name) if KNOWN_EVENT_TYPES.contains(&name) => {}
                    _ => return Err(status(3, "badData: unknown event type in event_types")),
                }
            }
        }
        Some(_) => return Err(status(3, "badData: event_types must be a list")),
    }
    for flag in ["send_name", "send_photo"] {
        if body.get(flag).is_some_and(|value| !value.is_boolean()) {
            return Err(status(3, "badData: send_name and send_photo must be true or false"));
        }
    }
    Ok(())
}

fn status(code: i64, message: &str) -> Value {
    json!({"status": code, "status_message": message, "chat_hostname": "SN-CHAT-05_"})
}

/// Viber's checks of a `send_message` body (docs/viber-api.md §6).
fn check_message(body: &Value) -> Result<(), (i64, &'static str)> {
    let text = |field: &str| body.get(field).and_then(Value::as_str);
    if text("receiver").is_none_or(str::is_empty) {
        return Err((4, "missingData: receiver"));
    }
    let sender_name = body
        .pointer("/sender/name")
        .and_then(Value::as_str)
        .ok_or((4, "missingData: sender.name"))?;
    if sender_name.chars().count() > 28 {
        return Err((3, "badData: sender.name over 28 characters"));
    }
    if text("tracking_data").is_some_and(|t| t.chars().count() > 4000)
        || body.get("tracking_data") == Some(&Value::Null)
    {
        return Err((3, "badData: tracking_data"));
    }
    let media_extension = || {
        let media = text("media")?;
        let path = media.split(['?', '#']).next()?;
        let last = path.rsplit('/').next()?;
        last.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase())
    };
    let size = body.get("size").and_then(Value::as_u64);
    match text("type") {
        Some("text") => match text("text") {
            Some(t) if !t.is_empty() && t.chars().count() <= 7000 => Ok(()),
            Some("") => Err((4, "missingData: text")),
            Some(_) => Err((3, "badData: text over 7000 characters")),
            None => Err((4, "missingData: text")),
        },
        Some("picture") => {
            if text("text").is_none() {
                return Err((4, "missingData: text"));
            }
            match media_extension().as_deref() {
                Some("jpg" | "jpeg" | "png" | "gif") => Ok(()),
                _ => Err((3, "badData: picture media must be .jpeg, .png or .gif")),
            }
        }
        Some("video") => {
            if size.is_none() {
                return Err((4, "missingData: size"));
            }
            if body.get("duration").and_then(Value::as_u64).is_some_and(|d| d > 180) {
                return Err((3, "badData: duration over 180 s"));
            }
            match media_extension().as_deref() {
                Some("mp4") => Ok(()),
                _ => Err((3, "badData: video media must be .mp4")),
            }
        }
        Some("file") => {
            let file_name = text("file_name").ok_or((4, "missingData: file_name"))?;
            let size = size.ok_or((4, "missingData: size"))?;
            if text("media").is_none() {
                return Err((4, "missingData: media"));
            }
            if file_name.chars().count() > 256 || size > 50 * 1024 * 1024 {
                return Err((3, "badData: file too large or name too long"));
            }
            let extension = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
            match extension {
                Some(ext) if FORBIDDEN_EXTENSIONS.contains(&ext.as_str()) => Err((3, "badData: forbidden file type")),
                Some(_) => Ok(()),
                None => Err((3, "badData: file_name needs an extension")),
            }
        }
        Some("url") | Some("sticker") | Some("contact") | Some("location") | Some("rich_media") => Ok(()),
        Some(_) => Err((3, "badData: unknown type")),
        None => Err((4, "missingData: type")),
    }
}
