//! `Callback::from_slice`: any bytes give `Ok` or `Err`, never a panic; every callback Viber sends
//! (every event, every message type, shaped like `fixtures/viber/*.json`) parses to exactly the
//! fields it was generated from, however its JSON is written.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;
use serde_json::{Number, Value, json};
use shared::viber::Callback;
use shared::viber::Message;
use shared::viber::callback::{
    ContactCard, ContactMessage, ConversationStarted, Coordinates, DeliveryFailed, LocationMessage, Media,
    MessageReceived, Receipt, RichMediaMessage, StickerMessage, Subscribed, TextMessage, Unsubscribed, UrlMessage,
    UserProfile, WebhookCheck,
};

use super::json::{Json, Style, arbitrary_value, style};
use super::text::any_text;

/// The events Viber sends, and a few it may add.
const EVENTS: &[&str] = &[
    "webhook",
    "subscribed",
    "unsubscribed",
    "conversation_started",
    "message",
    "delivered",
    "seen",
    "failed",
    "client_status",
    "action",
];

fn string() -> BoxedStrategy<String> {
    prop_oneof![
        8 => any_text(24),
        1 => any_text(600),
    ]
    .boxed()
}

fn opt_string() -> BoxedStrategy<Option<String>> {
    option::of(string()).boxed()
}

fn edge_u64() -> BoxedStrategy<u64> {
    prop_oneof![
        Just(0),
        Just(u64::MAX),
        Just(1 << 53),
        Just((1 << 53) + 1),
        Just(i64::MAX as u64 + 1),
        Just(6_031_874_556_554_240_371),
        any::<u64>(),
    ]
    .boxed()
}

fn edge_i64() -> BoxedStrategy<i64> {
    prop_oneof![
        Just(0),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(-1),
        Just(1_732_528_902_665),
        any::<i64>(),
    ]
    .boxed()
}

fn edge_u32() -> BoxedStrategy<u32> {
    prop_oneof![Just(0), Just(u32::MAX), Just(10), any::<u32>()].boxed()
}

/// Any finite number (JSON has no NaN or infinity), or a coordinate with 7 decimals as Viber
/// sends them.
fn coordinate() -> BoxedStrategy<f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![
        (NORMAL | SUBNORMAL | ZERO | NEGATIVE | POSITIVE),
        (-1_800_000_000i64..=1_800_000_000).prop_map(|n| n as f64 / 1e7),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(-0.0),
    ]
    .boxed()
}

fn duration() -> BoxedStrategy<Number> {
    prop_oneof![
        edge_u64().prop_map(Number::from),
        edge_i64().prop_map(Number::from),
        coordinate().prop_map(|f| Number::from_f64(f).expect("finite")),
    ]
    .boxed()
}

prop_compose! {
    fn profile_fields()(
        id in string(),
        name in opt_string(),
        avatar in opt_string(),
        country in opt_string(),
        language in opt_string(),
        api_version in option::of(edge_u32()),
    ) -> UserProfile {
        UserProfile { id, name, avatar, country, language, api_version }
    }
}

prop_compose! {
    fn media_fields()(
        media in string(),
        thumbnail in opt_string(),
        text in opt_string(),
        file_name in opt_string(),
        size in option::of(edge_u64()),
        duration in option::of(duration()),
        tracking_data in opt_string(),
    ) -> Media {
        Media { media, thumbnail, text, file_name, size, duration, tracking_data }
    }
}

fn profile() -> BoxedStrategy<UserProfile> {
    profile_fields().boxed()
}

fn media() -> BoxedStrategy<Media> {
    media_fields().boxed()
}

/// A rich-media message as a user forwards it: Viber's card layout with arbitrary texts, or any
/// JSON at all (it is kept as sent).
fn rich_media() -> BoxedStrategy<Value> {
    prop_oneof![
        (string(), string(), 1u64..=7, edge_u64()).prop_map(|(text, url, rows, n)| json!({
            "Type": "rich_media",
            "ButtonsGroupColumns": 6,
            "ButtonsGroupRows": rows,
            "BgColor": "#FFFFFF",
            "Buttons": [
                {"Columns": 6, "Rows": 3, "ActionType": "open-url", "ActionBody": url, "Image": url},
                {"Columns": 6, "Rows": 2, "Text": text, "ActionType": "reply", "ActionBody": n.to_string(),
                 "TextSize": "medium", "TextVAlign": "middle", "TextHAlign": "left"}
            ]
        })),
        arbitrary_value(),
    ]
    .boxed()
}

fn message() -> BoxedStrategy<Message> {
    prop_oneof![
        4 => (string(), opt_string()).prop_map(|(text, tracking_data)| Message::Text(TextMessage { text, tracking_data })).boxed(),
        1 => media().prop_map(Message::Picture).boxed(),
        1 => media().prop_map(Message::Video).boxed(),
        1 => media().prop_map(Message::File).boxed(),
        1 => (edge_u64(), opt_string(), opt_string()).prop_map(|(sticker_id, media, tracking_data)| {
            Message::Sticker(StickerMessage { sticker_id, media, tracking_data })
        }).boxed(),
        1 => (opt_string(), opt_string(), opt_string(), opt_string(), opt_string()).prop_map(
            |(name, phone_number, avatar, text, tracking_data)| Message::Contact(ContactMessage {
                contact: ContactCard { name, phone_number, avatar },
                text,
                tracking_data,
            })
        ).boxed(),
        1 => (coordinate(), coordinate(), opt_string(), opt_string()).prop_map(|(lat, lon, text, tracking_data)| {
            Message::Location(LocationMessage { location: Coordinates { lat, lon }, text, tracking_data })
        }).boxed(),
        1 => (string(), opt_string()).prop_map(|(media, tracking_data)| Message::Url(UrlMessage { media, tracking_data })).boxed(),
        1 => (rich_media(), opt_string(), opt_string()).prop_map(|(rich_media, alt_text, tracking_data)| {
            Message::RichMedia(RichMediaMessage { rich_media, alt_text, tracking_data })
        }).boxed(),
    ]
    .boxed()
}

/// What every event carries: `timestamp`, `message_token`, `chat_hostname`.
fn common_fields() -> impl Strategy<Value = (i64, u64, Option<String>)> {
    (edge_i64(), edge_u64(), opt_string())
}

fn receipt() -> impl Strategy<Value = Receipt> {
    (common_fields(), string()).prop_map(|((timestamp, message_token, chat_hostname), user_id)| Receipt {
        timestamp,
        message_token,
        chat_hostname,
        user_id,
    })
}

/// Any callback of an event Viber sends.
pub fn callback() -> BoxedStrategy<Callback> {
    prop_oneof![
        1 => (edge_i64(), option::of(edge_u64()), opt_string()).prop_map(|(timestamp, message_token, chat_hostname)| {
            Callback::Webhook(WebhookCheck { timestamp, message_token, chat_hostname })
        }).boxed(),
        1 => (common_fields(), profile()).prop_map(|((timestamp, message_token, chat_hostname), user)| {
            Callback::Subscribed(Subscribed { timestamp, message_token, chat_hostname, user })
        }).boxed(),
        1 => (common_fields(), string()).prop_map(|((timestamp, message_token, chat_hostname), user_id)| {
            Callback::Unsubscribed(Unsubscribed { timestamp, message_token, chat_hostname, user_id })
        }).boxed(),
        1 => (common_fields(), opt_string(), opt_string(), profile(), option::of(any::<bool>())).prop_map(
            |((timestamp, message_token, chat_hostname), kind, context, user, subscribed)| {
                Callback::ConversationStarted(ConversationStarted {
                    timestamp, message_token, chat_hostname, kind, context, user, subscribed,
                })
            }
        ).boxed(),
        6 => (common_fields(), profile(), message(), option::of(any::<bool>()), opt_string()).prop_map(
            |((timestamp, message_token, chat_hostname), sender, message, silent, reply_type)| {
                Callback::Message(MessageReceived {
                    timestamp, message_token, chat_hostname, sender, message, silent, reply_type,
                })
            }
        ).boxed(),
        1 => receipt().prop_map(Callback::Delivered).boxed(),
        1 => receipt().prop_map(Callback::Seen).boxed(),
        1 => (receipt(), opt_string()).prop_map(|(r, desc)| Callback::Failed(DeliveryFailed {
            timestamp: r.timestamp,
            message_token: r.message_token,
            chat_hostname: r.chat_hostname,
            user_id: r.user_id,
            desc,
        })).boxed(),
    ]
    .boxed()
}

/// How a callback's JSON is written, beyond its [`Style`].
#[derive(Debug, Clone)]
pub struct Encoding {
    pub style: Style,
    /// An absent field written as `null`.
    pub nulls: bool,
    /// Keys in the reverse of the fixtures' order (`event` last).
    pub reversed: bool,
    /// `sticker_id` as a string of digits, as some clients send it.
    pub sticker_id_as_string: bool,
    /// A media's size under the legacy name `file_size`.
    pub legacy_file_size: bool,
    /// A field this version does not know, in every object.
    pub extra_field: Option<(String, Value)>,
}

pub fn encoding() -> BoxedStrategy<Encoding> {
    let extra = option::of((any_text(8).prop_map(|k| format!("x-{k}")), arbitrary_value()));
    (
        style(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        extra,
    )
        .prop_map(
            |(style, nulls, reversed, sticker_id_as_string, legacy_file_size, extra_field)| Encoding {
                style,
                nulls,
                reversed,
                sticker_id_as_string,
                legacy_file_size,
                extra_field,
            },
        )
        .boxed()
}

/// An object's fields in the fixtures' order.
struct Fields<'e> {
    entries: Vec<(String, Json)>,
    encoding: &'e Encoding,
}

impl<'e> Fields<'e> {
    fn new(encoding: &'e Encoding) -> Self {
        Self {
            entries: Vec::new(),
            encoding,
        }
    }

    fn put(mut self, key: &str, value: Json) -> Self {
        self.entries.push((key.to_owned(), value));
        self
    }

    fn opt(self, key: &str, value: Option<Json>) -> Self {
        match value {
            Some(value) => self.put(key, value),
            None if self.encoding.nulls => self.put(key, Json::Literal("null".into())),
            None => self,
        }
    }

    fn opt_str(self, key: &str, value: &Option<String>) -> Self {
        self.opt(key, value.as_deref().map(Json::str))
    }

    fn build(mut self) -> Json {
        if let Some((key, value)) = &self.encoding.extra_field {
            self.entries.push((key.clone(), Json::from_value(value)));
        }
        if self.encoding.reversed {
            self.entries.reverse();
        }
        Json::Object(self.entries)
    }
}

fn boolean(value: &Option<bool>) -> Option<Json> {
    value.map(Json::number)
}

fn profile_json(user: &UserProfile, e: &Encoding) -> Json {
    Fields::new(e)
        .put("id", Json::str(&user.id))
        .opt_str("name", &user.name)
        .opt_str("avatar", &user.avatar)
        .opt_str("language", &user.language)
        .opt_str("country", &user.country)
        .opt("api_version", user.api_version.map(Json::number))
        .build()
}

fn media_json(kind: &str, m: &Media, e: &Encoding) -> Json {
    let size_key = if e.legacy_file_size { "file_size" } else { "size" };
    Fields::new(e)
        .put("type", Json::str(kind))
        .opt_str("text", &m.text)
        .put("media", Json::str(&m.media))
        .opt_str("thumbnail", &m.thumbnail)
        .opt_str("file_name", &m.file_name)
        .opt(size_key, m.size.map(Json::number))
        .opt("duration", m.duration.as_ref().map(Json::number))
        .opt_str("tracking_data", &m.tracking_data)
        .build()
}

/// A message as in `fixtures/viber/message_*.json`.
pub fn message_json(message: &Message, e: &Encoding) -> Json {
    let fields = Fields::new(e);
    match message {
        Message::Text(m) => fields
            .put("text", Json::str(&m.text))
            .put("type", Json::str("text"))
            .opt_str("tracking_data", &m.tracking_data)
            .build(),
        Message::Picture(m) => media_json("picture", m, e),
        Message::Video(m) => media_json("video", m, e),
        Message::File(m) => media_json("file", m, e),
        Message::Sticker(m) => {
            let id = if e.sticker_id_as_string {
                Json::Str(m.sticker_id.to_string())
            } else {
                Json::number(m.sticker_id)
            };
            fields
                .put("type", Json::str("sticker"))
                .put("sticker_id", id)
                .opt_str("media", &m.media)
                .opt_str("tracking_data", &m.tracking_data)
                .build()
        }
        Message::Contact(m) => {
            let contact = Fields::new(e)
                .opt_str("name", &m.contact.name)
                .opt_str("phone_number", &m.contact.phone_number)
                .opt_str("avatar", &m.contact.avatar)
                .build();
            fields
                .put("type", Json::str("contact"))
                .opt_str("text", &m.text)
                .put("contact", contact)
                .opt_str("tracking_data", &m.tracking_data)
                .build()
        }
        Message::Location(m) => {
            let location = Fields::new(e)
                .put(
                    "lat",
                    Json::Literal(serde_json::to_string(&m.location.lat).expect("finite")),
                )
                .put(
                    "lon",
                    Json::Literal(serde_json::to_string(&m.location.lon).expect("finite")),
                )
                .build();
            fields
                .put("type", Json::str("location"))
                .opt_str("text", &m.text)
                .put("location", location)
                .opt_str("tracking_data", &m.tracking_data)
                .build()
        }
        Message::Url(m) => fields
            .put("type", Json::str("url"))
            .put("media", Json::str(&m.media))
            .opt_str("tracking_data", &m.tracking_data)
            .build(),
        Message::RichMedia(m) => fields
            .put("type", Json::str("rich_media"))
            .put("rich_media", Json::from_value(&m.rich_media))
            .opt_str("alt_text", &m.alt_text)
            .opt_str("tracking_data", &m.tracking_data)
            .build(),
        Message::Unknown(m) => Json::from_value(&m.raw),
    }
}

/// The fields every event starts with.
fn common<'e>(fields: Fields<'e>, timestamp: i64, token: Option<u64>, host: &Option<String>) -> Fields<'e> {
    fields
        .put("timestamp", Json::number(timestamp))
        .opt_str("chat_hostname", host)
        .opt("message_token", token.map(Json::number))
}

/// A callback as in `fixtures/viber/<event>.json`.
pub fn callback_json(callback: &Callback, e: &Encoding) -> Json {
    let event = Fields::new(e).put("event", Json::str(callback.event_name()));
    match callback {
        Callback::Webhook(c) => common(event, c.timestamp, c.message_token, &c.chat_hostname).build(),
        Callback::Subscribed(c) => common(event, c.timestamp, Some(c.message_token), &c.chat_hostname)
            .put("user", profile_json(&c.user, e))
            .build(),
        Callback::Unsubscribed(c) => common(event, c.timestamp, Some(c.message_token), &c.chat_hostname)
            .put("user_id", Json::str(&c.user_id))
            .build(),
        Callback::ConversationStarted(c) => common(event, c.timestamp, Some(c.message_token), &c.chat_hostname)
            .opt_str("type", &c.kind)
            .opt_str("context", &c.context)
            .put("user", profile_json(&c.user, e))
            .opt("subscribed", boolean(&c.subscribed))
            .build(),
        Callback::Message(c) => common(event, c.timestamp, Some(c.message_token), &c.chat_hostname)
            .put("sender", profile_json(&c.sender, e))
            .put("message", message_json(&c.message, e))
            .opt("silent", boolean(&c.silent))
            .opt_str("reply_type", &c.reply_type)
            .build(),
        Callback::Delivered(c) | Callback::Seen(c) => {
            common(event, c.timestamp, Some(c.message_token), &c.chat_hostname)
                .put("user_id", Json::str(&c.user_id))
                .build()
        }
        Callback::Failed(c) => common(event, c.timestamp, Some(c.message_token), &c.chat_hostname)
            .put("user_id", Json::str(&c.user_id))
            .opt_str("desc", &c.desc)
            .build(),
        Callback::Unknown(c) => Json::from_value(&c.raw),
    }
}

/// A callback and its JSON text.
pub fn encoded_callback() -> impl Strategy<Value = (Callback, String)> {
    (callback(), encoding()).prop_map(|(callback, encoding)| {
        let text = callback_json(&callback, &encoding).render(encoding.style);
        (callback, text)
    })
}

/// Parses to exactly the generated fields, through both entry points, and again after the
/// queue envelope's serialisation.
pub fn round_trips((expected, text): (Callback, String)) -> Result<(), TestCaseError> {
    let parsed = Callback::from_slice(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("refused: {e}")))?;
    prop_assert_eq!(&parsed, &expected);
    let through_serde: Callback =
        serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("Deserialize refused: {e}")))?;
    prop_assert_eq!(&through_serde, &expected);
    let serialised = serde_json::to_vec(&parsed).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let again = Callback::from_slice(&serialised).map_err(|e| TestCaseError::fail(format!("re-parse: {e}")))?;
    prop_assert_eq!(&again, &expected);
    Ok(())
}

/// Bytes of any kind: random, or JSON objects with a known event and fields of any type.
pub fn arbitrary_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..256),
        (
            select(EVENTS),
            proptest::collection::btree_map(select(FIELD_NAMES), arbitrary_value(), 0..8)
        )
            .prop_map(|(event, fields)| {
                let mut object: serde_json::Map<String, Value> =
                    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                object.insert("event".into(), event.into());
                serde_json::to_vec(&object).expect("a Value serialises")
            }),
    ]
}

const FIELD_NAMES: &[&str] = &[
    "timestamp",
    "message_token",
    "chat_hostname",
    "user",
    "user_id",
    "sender",
    "message",
    "type",
    "context",
    "subscribed",
    "silent",
    "desc",
];

#[derive(Debug, Clone)]
pub enum Mutation {
    /// One byte replaced.
    Replace(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    /// The body cut short.
    Truncate(Index),
    /// A field's value replaced by a value of any type (the text re-rendered).
    Retype(usize, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), any::<u8>()).prop_map(|(at, b)| Mutation::Replace(at, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        2 => any::<Index>().prop_map(Mutation::Delete),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        3 => (any::<usize>(), arbitrary_value()).prop_map(|(n, v)| Mutation::Retype(n, v)),
    ]
}

/// A valid callback's JSON with a few mutations: the parser's typed paths, not just its lexer.
pub fn mutated_callback() -> impl Strategy<Value = Vec<u8>> {
    (callback(), encoding(), vec(mutation(), 1..4)).prop_map(|(callback, encoding, mutations)| {
        let mut json = callback_json(&callback, &encoding);
        for mutation in &mutations {
            if let Mutation::Retype(n, value) = mutation {
                json.replace_nth(*n, Json::from_value(value));
            }
        }
        let mut bytes = json.render(encoding.style).into_bytes();
        for mutation in mutations {
            match mutation {
                Mutation::Replace(at, b) if !bytes.is_empty() => {
                    let at = at.index(bytes.len());
                    bytes[at] = b;
                }
                Mutation::Insert(at, b) => bytes.insert(at.index(bytes.len() + 1), b),
                Mutation::Delete(at) if !bytes.is_empty() => {
                    bytes.remove(at.index(bytes.len()));
                }
                Mutation::Truncate(at) => bytes.truncate(at.index(bytes.len() + 1)),
                _ => {}
            }
        }
        bytes
    })
}

/// `Ok` or `Err`, never a panic; what parses can be read, serialised and parsed back the same.
pub fn never_panics(body: &[u8]) -> Result<(), TestCaseError> {
    let through_serde = serde_json::from_slice::<Callback>(body).ok();
    let Ok(callback) = Callback::from_slice(body) else {
        prop_assert!(through_serde.is_none(), "Deserialize accepted what from_slice refused");
        return Ok(());
    };
    // `from_slice` skips the fields it does not know without checking their UTF-8; `Deserialize`
    // (through `RawValue`) checks all of it. The webhook refuses such a body either way
    // (`inbound::queue_message` needs UTF-8).
    if std::str::from_utf8(body).is_ok() {
        prop_assert_eq!(through_serde.as_ref(), Some(&callback));
    }
    let _ = (
        callback.event_name(),
        callback.message_token(),
        callback.viber_user_id(),
    );
    if let Callback::Message(received) = &callback {
        let _ = (received.message.kind(), received.message.tracking_data());
    }
    let serialised = serde_json::to_vec(&callback).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let again = Callback::from_slice(&serialised).map_err(|e| TestCaseError::fail(format!("re-parse: {e}")))?;
    prop_assert_eq!(again, callback);
    Ok(())
}
