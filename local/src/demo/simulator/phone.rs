//! The simulated clients' phones: what a Viber user does in the chat with a bot, each action a
//! callback signed with the bot's token and posted to its webhook.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::callbacks::{CALLBACK_HOST, CHAT_HOST, Callback, ClientMessage, ContactCard, Coordinates};
use super::posting::{Posted, Target};
use super::rules::{self, Refusal};
use super::state::{self, EntryContent, FileRef, NewClient, Refused, State};
use super::{Simulator, images, now};

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

impl Simulator {
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
    pub(super) fn target_of(&self, state: &State, key: &str) -> Result<Target, Refused> {
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
}

fn outcome(callback: &Callback, posted: &Posted) -> ActionOutcome {
    ActionOutcome {
        event: callback.event(),
        message_token: callback.message_token(),
        webhook: posted.describe(),
        accepted: matches!(posted, Posted::Accepted(_)),
    }
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
