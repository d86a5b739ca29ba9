//! Callbacks on their way to a bot's webhook: signed with the bot's token, posted, and sent
//! again a few times when the webhook does not answer 200, as Viber does.

use std::sync::Arc;

use bytes::Bytes;

use super::callbacks::{self, Callback};
use super::phone::ActionOutcome;
use super::signing;
use super::state::{Bot, EntryState, Refused, SentCallback};
use super::{CALLBACK_RETRY_PAUSES, SIGNATURE_HEADER, Simulator, now};

/// Where a callback goes: a bot's webhook.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) bot: String,
    pub(super) token: String,
    pub(super) url: String,
    pub(super) event_types: Option<Vec<String>>,
}

impl Target {
    pub(super) fn of(bot: &Bot) -> Option<Self> {
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

impl Simulator {
    /// Signs and POSTs one callback to `target`; `remember` keeps it for the panel's duplicate.
    pub(super) async fn post(
        &self,
        target: &Target,
        callback: &Callback,
        client: Option<&str>,
        remember: bool,
    ) -> Posted {
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

    pub(super) async fn send_signed(&self, url: &str, body: Vec<u8>, signature: &str) -> Posted {
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
    pub(super) async fn post_retrying(
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
}
