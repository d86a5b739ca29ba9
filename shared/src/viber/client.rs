//! The Viber REST client: `POST {base}/{endpoint}` with `X-Viber-Auth-Token`, errors read from the
//! JSON `status` (docs/viber-api.md §1, §7). The token never appears in an error.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::MessageToken;
use super::message::OutboundMessage;
use crate::model::BotProfile;
use crate::secret::AuthToken;

pub const AUTH_HEADER: &str = "X-Viber-Auth-Token";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ViberError {
    /// Connection refused, timeout, a non-2xx HTTP answer or an unreadable one: no `status` to
    /// read. What it means for a reply: [`super::policy::Problem::of`].
    #[error("Viber could not be reached: {0}")]
    Transport(TransportError),
    /// Viber answered with a non-zero `status`.
    #[error("Viber refused the request: status {status} ({message})")]
    Api { status: i64, message: String },
}

/// Why a call got no readable answer: the text says what happened (never the token or the
/// URL), and `http_status` is Viber's HTTP status when it answered with one other than 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    pub http_status: Option<u16>,
    detail: String,
}

impl TransportError {
    /// `{endpoint}` answered with a non-2xx HTTP status.
    pub fn http(endpoint: &str, status: reqwest::StatusCode) -> Self {
        Self {
            http_status: Some(status.as_u16()),
            detail: format!("{endpoint} answered HTTP {status}"),
        }
    }
}

/// A failure without an HTTP status (connection, timeout, unreadable body).
impl From<String> for TransportError {
    fn from(detail: String) -> Self {
        Self {
            http_status: None,
            detail,
        }
    }
}

impl From<&str> for TransportError {
    fn from(detail: &str) -> Self {
        detail.to_owned().into()
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// Reads as its text, like the `String` it replaced (callers redact and log it as text).
impl std::ops::Deref for TransportError {
    type Target = str;

    fn deref(&self) -> &str {
        &self.detail
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Envelope {
    status: i64,
    #[serde(default)]
    status_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AccountInfo {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    pub uri: String,
    #[serde(default)]
    pub icon: Option<String>,
    #[serde(default)]
    pub webhook: Option<String>,
}

impl AccountInfo {
    pub fn bot_profile(&self) -> BotProfile {
        BotProfile {
            name: self.name.clone(),
            uri: self.uri.clone(),
            icon: self.icon.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetWebhook<'a> {
    pub url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_types: Option<&'a [&'a str]>,
    pub send_name: bool,
    pub send_photo: bool,
}

/// The optional events viberdesk asks for (`message`, `subscribed`, `unsubscribed` always come).
pub const EVENT_TYPES: &[&str] = &[
    "delivered",
    "seen",
    "failed",
    "subscribed",
    "unsubscribed",
    "conversation_started",
];

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sent {
    pub message_token: MessageToken,
    #[serde(default)]
    pub billing_status: Option<Value>,
}

#[derive(Clone)]
pub struct ViberClient {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
}

impl ViberClient {
    /// A client whose calls give up after 10 s (Viber answers in well under a second).
    pub fn new(base_url: &str) -> Self {
        Self::with_timeout(base_url, Duration::from_secs(10))
    }

    /// A client whose calls give up after `timeout` (a timeout is a retryable transport error).
    pub fn with_timeout(base_url: &str, timeout: Duration) -> Self {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3).min(timeout))
            .timeout(timeout)
            .build()
            .expect("the HTTP client's TLS backend initialises");
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            timeout,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// How long a call may take at most before it gives up.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub async fn get_account_info(&self, token: &AuthToken) -> Result<AccountInfo, ViberError> {
        self.call("get_account_info", token, &serde_json::json!({})).await
    }

    /// Sets the webhook; Viber checks the URL with a signed `webhook` callback before answering.
    pub async fn set_webhook(&self, token: &AuthToken, url: &str) -> Result<(), ViberError> {
        let request = SetWebhook {
            url,
            event_types: Some(EVENT_TYPES),
            send_name: true,
            send_photo: true,
        };
        self.call::<Value, _>("set_webhook", token, &request).await.map(drop)
    }

    /// `set_webhook` with an empty URL: Viber stops sending callbacks.
    pub async fn remove_webhook(&self, token: &AuthToken) -> Result<(), ViberError> {
        let request = SetWebhook {
            url: "",
            event_types: None,
            send_name: false,
            send_photo: false,
        };
        self.call::<Value, _>("set_webhook", token, &request).await.map(drop)
    }

    pub async fn send_message(&self, token: &AuthToken, message: &OutboundMessage) -> Result<Sent, ViberError> {
        self.call("send_message", token, message).await
    }

    async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        endpoint: &str,
        token: &AuthToken,
        body: &B,
    ) -> Result<T, ViberError> {
        let response = self
            .http
            .post(format!("{}/{endpoint}", self.base_url))
            .header(AUTH_HEADER, token.expose())
            .json(body)
            .send()
            .await
            .map_err(|e| ViberError::Transport(without_url(e).into()))?;
        let http_status = response.status();
        if !http_status.is_success() {
            return Err(ViberError::Transport(TransportError::http(endpoint, http_status)));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ViberError::Transport(without_url(e).into()))?;
        let envelope: Envelope = serde_json::from_slice(&bytes)
            .map_err(|e| ViberError::Transport(format!("{endpoint} answered unreadable JSON: {e}").into()))?;
        if envelope.status != 0 {
            return Err(ViberError::Api {
                status: envelope.status,
                message: envelope.status_message.unwrap_or_default(),
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| ViberError::Transport(format!("{endpoint} answered an unexpected shape: {e}").into()))
    }
}

fn without_url(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let error = error.without_url();
    let mut text = format!("{kind}: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
