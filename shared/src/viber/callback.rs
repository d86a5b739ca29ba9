//! Callbacks Viber POSTs to the webhook (docs/viber-api.md §3), as typed values.
//!
//! Dispatch is on `event` (and on `message.type` inside a `message`). Anything Viber adds later,
//! an event or a message type, is kept as an `Unknown*` value with its raw JSON: acknowledged and
//! logged, never an error. A known event whose fields are malformed *is* an error, so nothing
//! quietly turns into "unknown".

use std::borrow::Cow;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// Viber's `message_token`: a 64-bit integer above 2^53, so never a float.
pub type MessageToken = u64;

/// A Viber user profile (`user` / `sender`), as far as the user shares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserProfile {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<u32>,
}

/// `webhook`: Viber checking the URL during `set_webhook`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookCheck {
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_token: Option<MessageToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_hostname: Option<String>,
}

/// `subscribed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscribed {
    pub timestamp: i64,
    pub message_token: MessageToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_hostname: Option<String>,
    pub user: UserProfile,
}

/// `unsubscribed`: only the user id, no profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unsubscribed {
    pub timestamp: i64,
    pub message_token: MessageToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_hostname: Option<String>,
    pub user_id: String,
}

/// `conversation_started`: the user opened the chat (Message button or deep link).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationStarted {
    pub timestamp: i64,
    pub message_token: MessageToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_hostname: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    pub user: UserProfile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribed: Option<bool>,
}

/// `message`: the user wrote to the bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageReceived {
    pub timestamp: i64,
    pub message_token: MessageToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_hostname: Option<String>,
    pub sender: UserProfile,
    pub message: Message,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_type: Option<String>,
}

/// `delivered` and `seen`: receipts for a message the bot sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub timestamp: i64,
    pub message_token: MessageToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_hostname: Option<String>,
    pub user_id: String,
}

/// `failed`: the client rejected a message the API had accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryFailed {
    pub timestamp: i64,
    pub message_token: MessageToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_hostname: Option<String>,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
}

/// An event this version does not know (`client_status`, `action`, anything new).
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownEvent {
    pub event: String,
    pub raw: Value,
}

impl UnknownEvent {
    pub fn message_token(&self) -> Option<MessageToken> {
        self.raw.get("message_token").and_then(Value::as_u64)
    }

    /// The Viber user the event is about, wherever Viber put the id.
    pub fn user_id(&self) -> Option<&str> {
        let raw = &self.raw;
        raw.get("user_id")
            .and_then(Value::as_str)
            .or_else(|| raw.pointer("/user/id").and_then(Value::as_str))
            .or_else(|| raw.pointer("/sender/id").and_then(Value::as_str))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    Webhook(WebhookCheck),
    Subscribed(Subscribed),
    Unsubscribed(Unsubscribed),
    ConversationStarted(ConversationStarted),
    Message(MessageReceived),
    Delivered(Receipt),
    Seen(Receipt),
    Failed(DeliveryFailed),
    Unknown(UnknownEvent),
}

impl Callback {
    /// Parses a callback body. Reads `event` first, then parses the body straight into that
    /// event's type, so a callback costs one cheap scan plus one typed parse.
    pub fn from_slice(body: &[u8]) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        struct EventName<'a> {
            #[serde(borrow)]
            event: Cow<'a, str>,
        }
        let EventName { event } = serde_json::from_slice(body)?;
        Ok(match event.as_ref() {
            "webhook" => Callback::Webhook(serde_json::from_slice(body)?),
            "subscribed" => Callback::Subscribed(serde_json::from_slice(body)?),
            "unsubscribed" => Callback::Unsubscribed(serde_json::from_slice(body)?),
            "conversation_started" => Callback::ConversationStarted(serde_json::from_slice(body)?),
            "message" => Callback::Message(serde_json::from_slice(body)?),
            "delivered" => Callback::Delivered(serde_json::from_slice(body)?),
            "seen" => Callback::Seen(serde_json::from_slice(body)?),
            "failed" => Callback::Failed(serde_json::from_slice(body)?),
            other => Callback::Unknown(UnknownEvent {
                event: other.to_owned(),
                raw: serde_json::from_slice(body)?,
            }),
        })
    }

    /// The `event` name as Viber spells it.
    pub fn event_name(&self) -> &str {
        match self {
            Callback::Webhook(_) => "webhook",
            Callback::Subscribed(_) => "subscribed",
            Callback::Unsubscribed(_) => "unsubscribed",
            Callback::ConversationStarted(_) => "conversation_started",
            Callback::Message(_) => "message",
            Callback::Delivered(_) => "delivered",
            Callback::Seen(_) => "seen",
            Callback::Failed(_) => "failed",
            Callback::Unknown(unknown) => &unknown.event,
        }
    }

    pub fn message_token(&self) -> Option<MessageToken> {
        match self {
            Callback::Webhook(e) => e.message_token,
            Callback::Subscribed(e) => Some(e.message_token),
            Callback::Unsubscribed(e) => Some(e.message_token),
            Callback::ConversationStarted(e) => Some(e.message_token),
            Callback::Message(e) => Some(e.message_token),
            Callback::Delivered(e) | Callback::Seen(e) => Some(e.message_token),
            Callback::Failed(e) => Some(e.message_token),
            Callback::Unknown(e) => e.message_token(),
        }
    }

    /// The Viber user the callback concerns; `None` for `webhook` (and unknown events without one).
    pub fn viber_user_id(&self) -> Option<&str> {
        match self {
            Callback::Webhook(_) => None,
            Callback::Subscribed(e) => Some(&e.user.id),
            Callback::Unsubscribed(e) => Some(&e.user_id),
            Callback::ConversationStarted(e) => Some(&e.user.id),
            Callback::Message(e) => Some(&e.sender.id),
            Callback::Delivered(e) | Callback::Seen(e) => Some(&e.user_id),
            Callback::Failed(e) => Some(&e.user_id),
            Callback::Unknown(e) => e.user_id(),
        }
    }
}

impl<'de> Deserialize<'de> for Callback {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Callback::from_slice(raw.get().as_bytes()).map_err(de::Error::custom)
    }
}

impl Serialize for Callback {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "event", rename_all = "snake_case")]
        enum Tagged<'a> {
            Webhook(&'a WebhookCheck),
            Subscribed(&'a Subscribed),
            Unsubscribed(&'a Unsubscribed),
            ConversationStarted(&'a ConversationStarted),
            Message(&'a MessageReceived),
            Delivered(&'a Receipt),
            Seen(&'a Receipt),
            Failed(&'a DeliveryFailed),
        }
        match self {
            Callback::Webhook(e) => Tagged::Webhook(e).serialize(serializer),
            Callback::Subscribed(e) => Tagged::Subscribed(e).serialize(serializer),
            Callback::Unsubscribed(e) => Tagged::Unsubscribed(e).serialize(serializer),
            Callback::ConversationStarted(e) => Tagged::ConversationStarted(e).serialize(serializer),
            Callback::Message(e) => Tagged::Message(e).serialize(serializer),
            Callback::Delivered(e) => Tagged::Delivered(e).serialize(serializer),
            Callback::Seen(e) => Tagged::Seen(e).serialize(serializer),
            Callback::Failed(e) => Tagged::Failed(e).serialize(serializer),
            Callback::Unknown(e) => e.raw.serialize(serializer),
        }
    }
}

/// A media file the user sent (`picture`, `video`, `file`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Media {
    pub media: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
    /// Caption; Viber may leave it out or send `""`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// The legacy doc calls it `file_size`; real payloads say `size`.
    #[serde(default, alias = "file_size", skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Documented as seconds, observed values look like milliseconds: kept as Viber sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextMessage {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StickerMessage {
    #[serde(deserialize_with = "number_or_numeric_string")]
    pub sticker_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactCard {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactMessage {
    pub contact: ContactCard,
    /// A `share-phone` keyboard button also sends the button's `ActionBody` here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_data: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coordinates {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationMessage {
    pub location: Coordinates,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UrlMessage {
    pub media: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_data: Option<String>,
}

/// A rich-media message (a user can forward one); the cards are kept as Viber sent them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RichMediaMessage {
    pub rich_media: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_data: Option<String>,
}

/// A message type this version does not know: kept whole.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownMessage {
    pub kind: String,
    pub raw: Value,
}

/// What the user sent. Keyboard `reply` buttons arrive as `Text`, `share-phone` as `Contact`,
/// `location-picker` as `Location`.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Text(TextMessage),
    Picture(Media),
    Video(Media),
    File(Media),
    Sticker(StickerMessage),
    Contact(ContactMessage),
    Location(LocationMessage),
    Url(UrlMessage),
    RichMedia(RichMediaMessage),
    Unknown(UnknownMessage),
}

impl Message {
    pub fn kind(&self) -> &str {
        match self {
            Message::Text(_) => "text",
            Message::Picture(_) => "picture",
            Message::Video(_) => "video",
            Message::File(_) => "file",
            Message::Sticker(_) => "sticker",
            Message::Contact(_) => "contact",
            Message::Location(_) => "location",
            Message::Url(_) => "url",
            Message::RichMedia(_) => "rich_media",
            Message::Unknown(m) => &m.kind,
        }
    }

    pub fn tracking_data(&self) -> Option<&str> {
        match self {
            Message::Text(m) => m.tracking_data.as_deref(),
            Message::Picture(m) | Message::Video(m) | Message::File(m) => m.tracking_data.as_deref(),
            Message::Sticker(m) => m.tracking_data.as_deref(),
            Message::Contact(m) => m.tracking_data.as_deref(),
            Message::Location(m) => m.tracking_data.as_deref(),
            Message::Url(m) => m.tracking_data.as_deref(),
            Message::RichMedia(m) => m.tracking_data.as_deref(),
            Message::Unknown(m) => m.raw.get("tracking_data").and_then(Value::as_str),
        }
    }
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(deserializer)?;
        let kind = raw
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| de::Error::missing_field("type"))?
            .to_owned();
        let parsed = match kind.as_str() {
            "text" => serde_json::from_value(raw).map(Message::Text),
            "picture" => serde_json::from_value(raw).map(Message::Picture),
            "video" => serde_json::from_value(raw).map(Message::Video),
            "file" => serde_json::from_value(raw).map(Message::File),
            "sticker" => serde_json::from_value(raw).map(Message::Sticker),
            "contact" => serde_json::from_value(raw).map(Message::Contact),
            "location" => serde_json::from_value(raw).map(Message::Location),
            "url" => serde_json::from_value(raw).map(Message::Url),
            "rich_media" => serde_json::from_value(raw).map(Message::RichMedia),
            _ => return Ok(Message::Unknown(UnknownMessage { kind, raw })),
        };
        parsed.map_err(de::Error::custom)
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Tagged<'a> {
            Text(&'a TextMessage),
            Picture(&'a Media),
            Video(&'a Media),
            File(&'a Media),
            Sticker(&'a StickerMessage),
            Contact(&'a ContactMessage),
            Location(&'a LocationMessage),
            Url(&'a UrlMessage),
            RichMedia(&'a RichMediaMessage),
        }
        match self {
            Message::Text(m) => Tagged::Text(m).serialize(serializer),
            Message::Picture(m) => Tagged::Picture(m).serialize(serializer),
            Message::Video(m) => Tagged::Video(m).serialize(serializer),
            Message::File(m) => Tagged::File(m).serialize(serializer),
            Message::Sticker(m) => Tagged::Sticker(m).serialize(serializer),
            Message::Contact(m) => Tagged::Contact(m).serialize(serializer),
            Message::Location(m) => Tagged::Location(m).serialize(serializer),
            Message::Url(m) => Tagged::Url(m).serialize(serializer),
            Message::RichMedia(m) => Tagged::RichMedia(m).serialize(serializer),
            Message::Unknown(m) => m.raw.serialize(serializer),
        }
    }
}

fn number_or_numeric_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrString<'a> {
        Number(u64),
        String(#[serde(borrow)] Cow<'a, str>),
    }
    match NumberOrString::deserialize(deserializer)? {
        NumberOrString::Number(n) => Ok(n),
        NumberOrString::String(s) => s
            .parse()
            .map_err(|_| de::Error::custom(format!("sticker_id {s:?} is not a number"))),
    }
}
