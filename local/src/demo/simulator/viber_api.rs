//! The Viber Bot API the stack calls (`/simulator/pa/{endpoint}`): `get_account_info`,
//! `set_webhook` with its signed check of the URL, and `send_message`, whose accepted messages
//! the client's phone then receives, downloads and acknowledges.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use super::callbacks::{CHAT_HOST, Callback};
use super::posting::{Posted, Target};
use super::rules::{self, Refusal};
use super::state::{self, Bot, DeliveryFault, EntryState, SendFault, Webhook};
use super::{BACKGROUND_WAITING, DELIVERY_PAUSE, Simulator, media, now};

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

impl Simulator {
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
}

fn status(code: i64, message: &str) -> Value {
    json!({"status": code, "status_message": message, "chat_hostname": CHAT_HOST})
}

fn refused(refusal: Refusal) -> Value {
    status(refusal.status, &refusal.message)
}
