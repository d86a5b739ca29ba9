//! What the simulated Viber knows: its bots (token, profile, webhook), the simulated clients of
//! each bot with their chats, the misbehaviour asked for, and a log of what happened. Every
//! collection is capped; nothing here does I/O.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use super::callbacks::{Callback, TokenClock, User};
use super::rules::{self, BotMessage, Content};

/// Clients across all bots.
pub const MAX_CLIENTS: usize = 20_000;
/// Entries kept per chat (older ones scroll away).
pub const MAX_CHAT_ENTRIES: usize = 200;
/// Log lines kept.
pub const MAX_LOG: usize = 200;
/// Faults waiting at once.
pub const MAX_PENDING_FAULTS: usize = 100;
/// Viber's placeholder name for a user who does not share it.
pub const PLACEHOLDER_NAME: &str = "Subscriber";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    /// `None`: every event.
    pub event_types: Option<Vec<String>>,
    pub send_name: bool,
    pub send_photo: bool,
}

#[derive(Debug, Clone)]
pub struct Bot {
    /// The simulator's short name for it (`demo`, `shop`).
    pub key: String,
    pub token: String,
    pub name: String,
    pub uri: String,
    pub account_id: String,
    pub colour: usize,
    pub webhook: Option<Webhook>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Client {
    /// The simulator's id for it (`c1`, `c2`, …), used in the page's URLs.
    pub key: String,
    pub bot: String,
    pub viber_id: String,
    pub name: String,
    /// Whether the client has a profile picture (an avatar with initials) or shows none.
    pub has_avatar: bool,
    pub colour: usize,
    pub language: String,
    pub country: String,
    pub api_version: u32,
    /// The number the client shares with the share-phone button.
    pub phone: String,
    pub subscribed: bool,
    #[serde(skip)]
    pub last_message_at: Option<i64>,
    /// When the bot sent this client messages since the client last wrote (at most 100 kept).
    #[serde(skip)]
    pub sent_since_reply: VecDeque<i64>,
    /// The `tracking_data` of the bot's last message, echoed in the client's next ones.
    #[serde(skip)]
    pub tracking_data: Option<String>,
    #[serde(skip)]
    pub chat: VecDeque<Entry>,
    #[serde(skip)]
    pub next_entry: u64,
    pub created_at: i64,
}

impl Client {
    /// The bot messages the client has not seen yet.
    pub fn unread(&self) -> usize {
        self.chat
            .iter()
            .filter(|e| e.sender.is_some() && matches!(e.state, EntryState::Delivered | EntryState::Downloading))
            .count()
    }

    fn push(
        &mut self,
        at: i64,
        sender: Option<Sender>,
        content: EntryContent,
        token: Option<u64>,
        state: EntryState,
    ) -> u64 {
        self.next_entry += 1;
        if self.chat.len() >= MAX_CHAT_ENTRIES {
            self.chat.pop_front();
        }
        self.chat.push_back(Entry {
            id: self.next_entry,
            at,
            sender,
            content,
            token,
            state,
        });
        self.next_entry
    }

    pub fn entry_mut(&mut self, id: u64) -> Option<&mut Entry> {
        self.chat.iter_mut().find(|e| e.id == id)
    }
}

/// Who a bot message shows as its sender (`sender` of send_message).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sender {
    pub name: String,
    pub avatar: Option<String>,
}

/// A file in the chat; `media_id` once the phone has it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileRef {
    #[serde(skip)]
    pub media_id: Option<u64>,
    pub file_name: String,
    pub size: u64,
    pub content_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EntryContent {
    Text {
        text: String,
    },
    Picture {
        text: String,
        file: FileRef,
    },
    Video {
        text: String,
        file: FileRef,
        duration: Option<u64>,
    },
    File {
        file: FileRef,
    },
    Sticker {
        sticker_id: u64,
    },
    Contact {
        name: String,
        phone: String,
    },
    Location {
        lat: f64,
        lon: f64,
    },
    Url {
        url: String,
    },
    RichMedia {
        text: String,
    },
    Keyboard,
    /// Something the phone notes in the chat (started the conversation, unsubscribed…).
    Note {
        text: String,
    },
}

impl EntryContent {
    pub fn file_mut(&mut self) -> Option<&mut FileRef> {
        match self {
            EntryContent::Picture { file, .. } | EntryContent::Video { file, .. } | EntryContent::File { file } => {
                Some(file)
            }
            _ => None,
        }
    }

    pub fn file(&self) -> Option<&FileRef> {
        match self {
            EntryContent::Picture { file, .. } | EntryContent::Video { file, .. } | EntryContent::File { file } => {
                Some(file)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum EntryState {
    /// A client's message on its way to the webhook.
    Sending,
    /// The webhook answered 200.
    Accepted,
    /// The webhook did not answer 200 (what it answered); Viber tries again.
    Retrying(String),
    /// The webhook never took it.
    NotDelivered(String),
    /// A bot message whose file the phone is downloading.
    Downloading,
    Delivered,
    Seen,
    /// The phone could not show a bot message (its `failed` reason).
    Failed(String),
    /// The welcome message answering `conversation_started` (no receipts).
    Welcome,
    /// A note of the phone's.
    Note,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub id: u64,
    pub at: i64,
    /// `None`: written by the client.
    pub sender: Option<Sender>,
    pub content: EntryContent,
    #[serde(serialize_with = "token_as_text")]
    pub token: Option<u64>,
    #[serde(flatten)]
    pub state: EntryState,
}

/// Tokens are above 2^53: JavaScript would round them as numbers.
fn token_as_text<S: serde::Serializer>(token: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
    match token {
        Some(token) => serializer.serialize_str(&token.to_string()),
        None => serializer.serialize_none(),
    }
}

/// How the next `send_message` calls fail, one fault per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendFault {
    /// HTTP 500 with an empty body.
    Http500,
    /// Status 12, Viber's rate limit.
    RateLimit,
    /// The connection drops before an answer.
    DropConnection,
}

/// How the phone mishandles the next accepted messages, one per message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryFault {
    /// `seen` comes before `delivered`.
    ReceiptsOutOfOrder,
    /// The phone rejects the message: a `failed` callback.
    ClientRejects,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    pub id: u64,
    pub at: i64,
    pub text: String,
}

/// A callback as it went out, kept to send it again (the panel's duplicate).
#[derive(Debug, Clone)]
pub struct SentCallback {
    pub bot: String,
    pub client: Option<String>,
    pub event: &'static str,
    pub message_token: u64,
    pub url: String,
    pub body: Vec<u8>,
    pub signature: String,
}

#[derive(Debug, Default)]
pub struct State {
    pub bots: Vec<Bot>,
    pub clients: HashMap<String, Client>,
    /// Client keys, oldest first.
    pub client_order: Vec<String>,
    /// Client keys by bot and Viber user id.
    by_viber_id: HashMap<(String, String), String>,
    /// Changes whenever a client is added or changes profile or subscription.
    pub clients_version: u64,
    next_client: u64,
    pub tokens: TokenClock,
    pub send_faults: VecDeque<SendFault>,
    pub delivery_faults: VecDeque<DeliveryFault>,
    pub last_callback: Option<SentCallback>,
    pub log: VecDeque<LogLine>,
    next_log: u64,
    /// Bot message tokens → (client, entry), for receipts.
    pub sent: HashMap<u64, (String, u64)>,
    sent_order: VecDeque<u64>,
}

/// What a new client is like.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct NewClient {
    pub bot: Option<String>,
    pub name: String,
    #[serde(default = "yes")]
    pub avatar: bool,
    #[serde(default = "english")]
    pub language: String,
    #[serde(default = "no_country")]
    pub country: String,
    #[serde(default)]
    pub api_version: Option<u32>,
    /// The client's phone number (a Ukrainian mobile number is made up when absent).
    #[serde(default)]
    pub phone: Option<String>,
}

fn yes() -> bool {
    true
}
fn english() -> String {
    "en".to_owned()
}
fn no_country() -> String {
    "UA".to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{0}")]
    Invalid(String),
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("the simulator holds {MAX_CLIENTS} clients already")]
    Full,
}

/// Where a bot's `send_message` went, once accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub message_token: u64,
    pub billing_status: u8,
    pub client: String,
    pub entry: u64,
    /// The file the phone has to download first.
    pub download: Option<String>,
    pub fault: Option<DeliveryFault>,
}

impl State {
    pub fn bot(&self, key: &str) -> Option<&Bot> {
        self.bots.iter().find(|b| b.key == key)
    }

    pub fn bot_by_token(&self, token: &str) -> Option<&Bot> {
        // Tokens are compared in full; which bot matched is no secret.
        self.bots.iter().find(|b| b.token == token)
    }

    pub fn bot_by_token_mut(&mut self, token: &str) -> Option<&mut Bot> {
        self.bots.iter_mut().find(|b| b.token == token)
    }

    pub fn log(&mut self, now: i64, text: impl Into<String>) {
        self.next_log += 1;
        if self.log.len() >= MAX_LOG {
            self.log.pop_front();
        }
        let text = text.into();
        tracing::info!(target: "viberdesk_local::simulator", "{text}");
        self.log.push_back(LogLine {
            id: self.next_log,
            at: now,
            text,
        });
    }

    pub fn add_client(&mut self, new: NewClient, viber_id: String, now: i64) -> Result<&Client, Refused> {
        if self.clients.len() >= MAX_CLIENTS {
            return Err(Refused::Full);
        }
        let bot = match new.bot.as_deref() {
            Some(key) => self.bot(key).ok_or(Refused::NotFound("bot"))?,
            None => self.bots.first().ok_or(Refused::NotFound("bot"))?,
        }
        .key
        .clone();
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(Refused::Invalid("a client's name is 1 to 64 characters".into()));
        }
        let language = new.language.trim();
        let country = new.country.trim().to_ascii_uppercase();
        if language.is_empty()
            || language.len() > 16
            || !language.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(Refused::Invalid("language is a code such as en, uk or ru-RU".into()));
        }
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(Refused::Invalid("country is a two-letter code such as UA or GB".into()));
        }
        let api_version = new.api_version.unwrap_or(10);
        if !(1..=20).contains(&api_version) {
            return Err(Refused::Invalid("api_version is 1 to 20".into()));
        }
        let phone = match new.phone {
            Some(phone) => phone_number(&phone)?,
            None => format!("+38067{:07}", (self.next_client * 7_919 + 1_234_567) % 10_000_000),
        };
        self.next_client += 1;
        let key = format!("c{}", self.next_client);
        let client = Client {
            key: key.clone(),
            bot,
            viber_id,
            name: name.to_owned(),
            has_avatar: new.avatar,
            colour: super::images::colour_of(name),
            language: language.to_owned(),
            country,
            api_version,
            phone,
            subscribed: false,
            last_message_at: None,
            sent_since_reply: VecDeque::new(),
            tracking_data: None,
            chat: VecDeque::new(),
            next_entry: 0,
            created_at: now,
        };
        self.client_order.push(key.clone());
        self.by_viber_id
            .insert((client.bot.clone(), client.viber_id.clone()), key.clone());
        self.clients_version += 1;
        Ok(self.clients.entry(key).or_insert(client))
    }

    /// The client's profile as its bot's webhook gets it: name and avatar only if the webhook
    /// asked for them (`send_name`, `send_photo`), Viber's placeholders otherwise.
    pub fn user(&self, client: &Client, base_url: &str) -> User {
        let webhook = self.bot(&client.bot).and_then(|b| b.webhook.as_ref());
        let send_name = webhook.is_none_or(|w| w.send_name);
        let send_photo = webhook.is_none_or(|w| w.send_photo);
        let avatar = if !send_photo {
            Some(format!("{base_url}/simulator/avatars/generic.svg"))
        } else if client.has_avatar {
            Some(format!("{base_url}/simulator/avatars/{}.svg", client.key))
        } else {
            None
        };
        User {
            id: client.viber_id.clone(),
            name: Some(if send_name {
                client.name.clone()
            } else {
                PLACEHOLDER_NAME.to_owned()
            }),
            avatar,
            language: Some(client.language.clone()),
            country: Some(client.country.clone()),
            api_version: client.api_version,
        }
    }

    /// A client's message enters the chat: the client is subscribed by it (Viber sends no
    /// `subscribed` for that), the hourly counter of bot messages restarts.
    pub fn client_wrote(&mut self, key: &str, content: EntryContent, token: u64, now: i64) -> Result<u64, Refused> {
        let client = self.clients.get_mut(key).ok_or(Refused::NotFound("client"))?;
        if !client.subscribed {
            client.subscribed = true;
            self.clients_version += 1;
        }
        client.last_message_at = Some(now);
        client.sent_since_reply.clear();
        Ok(client.push(now, None, content, Some(token), EntryState::Sending))
    }

    /// A note of the phone's in a client's chat.
    pub fn note(&mut self, key: &str, text: &str, token: Option<u64>, now: i64) -> Option<u64> {
        let client = self.clients.get_mut(key)?;
        Some(client.push(
            now,
            None,
            EntryContent::Note { text: text.to_owned() },
            token,
            EntryState::Note,
        ))
    }

    pub fn set_entry_state(&mut self, key: &str, entry: u64, state: EntryState) {
        if let Some(entry) = self.clients.get_mut(key).and_then(|c| c.entry_mut(entry)) {
            entry.state = state;
        }
    }

    pub fn set_subscribed(&mut self, key: &str, subscribed: bool) -> Result<(), Refused> {
        let client = self.clients.get_mut(key).ok_or(Refused::NotFound("client"))?;
        if client.subscribed != subscribed {
            client.subscribed = subscribed;
            self.clients_version += 1;
        }
        Ok(())
    }

    /// The welcome message answering `conversation_started` appears in the chat.
    pub fn welcome(&mut self, key: &str, message: &BotMessage, now: i64) {
        if let Some(client) = self.clients.get_mut(key) {
            client.tracking_data = message.tracking_data.clone();
            client.push(
                now,
                Some(Sender {
                    name: message.sender_name.clone(),
                    avatar: message.sender_avatar.clone(),
                }),
                bot_content(&message.content),
                None,
                EntryState::Welcome,
            );
        }
    }

    /// A bot's `send_message` that passed the message checks: Viber's receiver checks, then the
    /// message enters the client's chat.
    pub fn accept_send(&mut self, bot_key: &str, message: &BotMessage, now: i64) -> Result<Accepted, rules::Refusal> {
        let receiver = message.receiver.as_deref().unwrap_or_default();
        let Some(client) = self
            .by_viber_id
            .get(&(bot_key.to_owned(), receiver.to_owned()))
            .and_then(|key| self.clients.get(key))
        else {
            return Err(rules::Refusal::new(5, "receiverNotRegistered"));
        };
        if !client.subscribed {
            return Err(rules::Refusal::new(6, "notSubscribed"));
        }
        if message.min_api_version > client.api_version {
            return Err(rules::Refusal::new(13, "apiVersionNotSupported"));
        }
        if rules::rate_limited(&client.sent_since_reply, now) {
            return Err(rules::Refusal::new(12, "Too many requests"));
        }
        let key = client.key.clone();
        let billing_status = rules::billing_status(client.last_message_at, now);
        let message_token = self.tokens.next(now);
        let fault = self.delivery_faults.pop_front();
        let client = self.clients.get_mut(&key).expect("found above");
        if client.sent_since_reply.len() >= rules::SENDS_PER_HOUR_WITHOUT_REPLY {
            client.sent_since_reply.pop_front();
        }
        client.sent_since_reply.push_back(now);
        if message.tracking_data.is_some() {
            client.tracking_data = message.tracking_data.clone();
        }
        let download = message.content.media().map(str::to_owned);
        let state = if download.is_some() {
            EntryState::Downloading
        } else {
            EntryState::Delivered
        };
        let entry = client.push(
            now,
            Some(Sender {
                name: message.sender_name.clone(),
                avatar: message.sender_avatar.clone(),
            }),
            bot_content(&message.content),
            Some(message_token),
            state,
        );
        self.remember_sent(message_token, &key, entry);
        Ok(Accepted {
            message_token,
            billing_status,
            client: key,
            entry,
            download,
            fault,
        })
    }

    fn remember_sent(&mut self, token: u64, client: &str, entry: u64) {
        if self.sent_order.len() >= MAX_CLIENTS * 4
            && let Some(oldest) = self.sent_order.pop_front()
        {
            self.sent.remove(&oldest);
        }
        self.sent_order.push_back(token);
        self.sent.insert(token, (client.to_owned(), entry));
    }

    /// The bot messages of a client's chat that are delivered but not seen: they become seen.
    pub fn mark_seen(&mut self, key: &str) -> Vec<u64> {
        let Some(client) = self.clients.get_mut(key) else {
            return Vec::new();
        };
        let mut tokens = Vec::new();
        for entry in client.chat.iter_mut().filter(|e| e.sender.is_some()) {
            if entry.state == EntryState::Delivered {
                entry.state = EntryState::Seen;
                tokens.extend(entry.token);
            }
        }
        tokens
    }

    pub fn remember_callback(&mut self, sent: SentCallback) {
        self.last_callback = Some(sent);
    }

    /// Adds faults for the next calls, up to [`MAX_PENDING_FAULTS`] waiting.
    pub fn add_faults<T: Copy>(queue: &mut VecDeque<T>, fault: T, count: usize) -> usize {
        let room = MAX_PENDING_FAULTS.saturating_sub(queue.len());
        let added = count.min(room);
        queue.extend(std::iter::repeat_n(fault, added));
        added
    }
}

/// A phone number as Viber's contact cards carry it: `+` and digits, spaces and dashes dropped.
pub fn phone_number(raw: &str) -> Result<String, Refused> {
    let phone: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    let digits = phone.strip_prefix('+').unwrap_or(&phone);
    if (4..=17).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(phone)
    } else {
        Err(Refused::Invalid("a phone number is + and 4 to 17 digits".into()))
    }
}

/// What the phone shows for a bot's message (files are filled in once downloaded).
fn bot_content(content: &Content) -> EntryContent {
    let file = |media: &str, size: u64, file_name: Option<&str>| FileRef {
        media_id: None,
        file_name: file_name
            .map(str::to_owned)
            .or_else(|| shared::viber::attachments::url_file_name(media))
            .unwrap_or_else(|| "file".to_owned()),
        size,
        content_type: String::new(),
    };
    match content {
        Content::Text { text } => EntryContent::Text { text: text.clone() },
        Content::Picture { text, media } => EntryContent::Picture {
            text: text.clone(),
            file: file(media, 0, None),
        },
        Content::Video { media, size, duration } => EntryContent::Video {
            text: String::new(),
            file: file(media, *size, None),
            duration: *duration,
        },
        Content::File { media, size, file_name } => EntryContent::File {
            file: file(media, *size, Some(file_name)),
        },
        Content::Contact { name, phone } => EntryContent::Contact {
            name: name.clone(),
            phone: phone.clone(),
        },
        Content::Location { lat, lon } => EntryContent::Location { lat: *lat, lon: *lon },
        Content::Url { url } => EntryContent::Url { url: url.clone() },
        Content::Sticker { sticker_id } => EntryContent::Sticker {
            sticker_id: *sticker_id,
        },
        Content::RichMedia { alt_text } => EntryContent::RichMedia {
            text: alt_text.clone().unwrap_or_else(|| "[rich media]".to_owned()),
        },
        Content::Keyboard => EntryContent::Keyboard,
    }
}

/// The receipts the phone sends for an accepted message, in order: `delivered` (and, out of
/// order on purpose, `seen` before it), or `failed` when it rejects the message.
pub fn receipts_for(fault: Option<DeliveryFault>, message_token: u64, user_id: &str, now: i64) -> Vec<Callback> {
    match fault {
        None => vec![Callback::receipt(true, now, message_token, user_id)],
        Some(DeliveryFault::ReceiptsOutOfOrder) => vec![
            Callback::receipt(false, now, message_token, user_id),
            Callback::receipt(true, now + 1, message_token, user_id),
        ],
        Some(DeliveryFault::ClientRejects) => vec![Callback::Failed {
            timestamp: now,
            chat_hostname: super::callbacks::CHAT_HOST,
            message_token,
            user_id: user_id.to_owned(),
            desc: "message validation failed".to_owned(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_732_529_012_480;

    fn state_with_client() -> (State, String) {
        let mut state = State::default();
        state.bots.push(Bot {
            key: "demo".into(),
            token: "t".into(),
            name: "Demo".into(),
            uri: "demo".into(),
            account_id: "pa:1".into(),
            colour: 0,
            webhook: Some(Webhook {
                url: "http://127.0.0.1/viber/demo".into(),
                event_types: None,
                send_name: true,
                send_photo: true,
            }),
        });
        let key = state
            .add_client(
                NewClient {
                    bot: None,
                    name: "Олена Коваленко".into(),
                    avatar: true,
                    language: "uk-UA".into(),
                    country: "ua".into(),
                    api_version: None,
                    phone: None,
                },
                "9Kf2mQ1xT7bVnC3pLs8aZw==".into(),
                NOW,
            )
            .unwrap()
            .key
            .clone();
        (state, key)
    }

    fn text(receiver: &str) -> BotMessage {
        rules::check_message(
            &json!({"receiver": receiver, "sender": {"name": "Anna"}, "type": "text", "text": "hi"}),
            false,
        )
        .unwrap()
    }

    #[test]
    fn a_client_is_unsubscribed_until_it_writes() {
        let (mut state, key) = state_with_client();
        assert_eq!(
            state
                .accept_send("demo", &text("9Kf2mQ1xT7bVnC3pLs8aZw=="), NOW)
                .unwrap_err()
                .status,
            6
        );
        state
            .client_wrote(&key, EntryContent::Text { text: "hello".into() }, 1, NOW)
            .unwrap();
        let accepted = state
            .accept_send("demo", &text("9Kf2mQ1xT7bVnC3pLs8aZw=="), NOW)
            .unwrap();
        assert_eq!(accepted.billing_status, 2, "inside the session");
        assert_eq!(accepted.client, key);
        assert_eq!(
            state.sent.get(&accepted.message_token),
            Some(&(key.clone(), accepted.entry))
        );
        assert_eq!(state.accept_send("demo", &text("nobody"), NOW).unwrap_err().status, 5);
        assert_eq!(
            state
                .accept_send("other-bot", &text("9Kf2mQ1xT7bVnC3pLs8aZw=="), NOW)
                .unwrap_err()
                .status,
            5,
            "user ids are per bot"
        );
        state.set_subscribed(&key, false).unwrap();
        assert_eq!(
            state
                .accept_send("demo", &text("9Kf2mQ1xT7bVnC3pLs8aZw=="), NOW)
                .unwrap_err()
                .status,
            6
        );
    }

    #[test]
    fn the_hundred_and_first_message_without_a_reply_is_refused_until_the_client_writes() {
        let (mut state, key) = state_with_client();
        state
            .client_wrote(&key, EntryContent::Text { text: "hi".into() }, 1, NOW)
            .unwrap();
        for i in 0..100 {
            state
                .accept_send("demo", &text("9Kf2mQ1xT7bVnC3pLs8aZw=="), NOW + i)
                .unwrap();
        }
        assert_eq!(
            state
                .accept_send("demo", &text("9Kf2mQ1xT7bVnC3pLs8aZw=="), NOW + 100)
                .unwrap_err()
                .status,
            12
        );
        state
            .client_wrote(
                &key,
                EntryContent::Text {
                    text: "still there".into(),
                },
                2,
                NOW + 200,
            )
            .unwrap();
        assert!(
            state
                .accept_send("demo", &text("9Kf2mQ1xT7bVnC3pLs8aZw=="), NOW + 300)
                .is_ok()
        );
        assert_eq!(state.clients[&key].chat.len(), MAX_CHAT_ENTRIES.min(103));
    }

    #[test]
    fn seen_covers_every_delivered_message_once() {
        let (mut state, key) = state_with_client();
        state
            .client_wrote(&key, EntryContent::Text { text: "hi".into() }, 1, NOW)
            .unwrap();
        let first = state
            .accept_send("demo", &text("9Kf2mQ1xT7bVnC3pLs8aZw=="), NOW)
            .unwrap();
        let second = state
            .accept_send("demo", &text("9Kf2mQ1xT7bVnC3pLs8aZw=="), NOW)
            .unwrap();
        assert_eq!(state.clients[&key].unread(), 2);
        assert_eq!(state.mark_seen(&key), [first.message_token, second.message_token]);
        assert_eq!(state.mark_seen(&key), Vec::<u64>::new());
        assert_eq!(state.clients[&key].unread(), 0);
    }

    #[test]
    fn profiles_follow_what_the_webhook_asked_for() {
        let (mut state, key) = state_with_client();
        let client = state.clients[&key].clone();
        let user = state.user(&client, "http://x");
        assert_eq!(user.name.as_deref(), Some("Олена Коваленко"));
        assert_eq!(user.country.as_deref(), Some("UA"));
        assert_eq!(user.avatar.as_deref(), Some("http://x/simulator/avatars/c1.svg"));
        let webhook = state.bots[0].webhook.as_mut().unwrap();
        webhook.send_name = false;
        webhook.send_photo = false;
        let user = state.user(&client, "http://x");
        assert_eq!(user.name.as_deref(), Some(PLACEHOLDER_NAME));
        assert_eq!(user.avatar.as_deref(), Some("http://x/simulator/avatars/generic.svg"));
    }

    #[test]
    fn new_clients_are_checked_and_capped() {
        let (mut state, _) = state_with_client();
        let new = |name: &str, language: &str, country: &str| NewClient {
            bot: None,
            name: name.into(),
            avatar: false,
            language: language.into(),
            country: country.into(),
            api_version: None,
            phone: None,
        };
        assert!(state.add_client(new("", "en", "GB"), "x".into(), NOW).is_err());
        assert!(state.add_client(new("A", "en<", "GB"), "x".into(), NOW).is_err());
        assert!(state.add_client(new("A", "en", "GBR"), "x".into(), NOW).is_err());
        let mut unknown_bot = new("A", "en", "GB");
        unknown_bot.bot = Some("nope".into());
        assert_eq!(
            state.add_client(unknown_bot, "x".into(), NOW).unwrap_err(),
            Refused::NotFound("bot")
        );
        for i in state.clients.len()..MAX_CLIENTS {
            state.add_client(new("A", "en", "GB"), format!("id{i}"), NOW).unwrap();
        }
        assert_eq!(
            state.add_client(new("A", "en", "GB"), "x".into(), NOW).unwrap_err(),
            Refused::Full
        );
    }

    #[test]
    fn faults_are_used_once_each_and_capped() {
        let mut queue = VecDeque::new();
        assert_eq!(State::add_faults(&mut queue, SendFault::Http500, 3), 3);
        assert_eq!(
            State::add_faults(&mut queue, SendFault::RateLimit, 1000),
            MAX_PENDING_FAULTS - 3
        );
        assert_eq!(queue.pop_front(), Some(SendFault::Http500));
        let receipts = receipts_for(Some(DeliveryFault::ReceiptsOutOfOrder), 7, "u", NOW);
        assert_eq!(
            receipts.iter().map(Callback::event).collect::<Vec<_>>(),
            ["seen", "delivered"]
        );
        assert_eq!(receipts_for(None, 7, "u", NOW)[0].event(), "delivered");
        assert_eq!(
            receipts_for(Some(DeliveryFault::ClientRejects), 7, "u", NOW)[0].event(),
            "failed"
        );
    }
}
