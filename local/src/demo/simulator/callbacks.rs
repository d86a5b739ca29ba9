//! The callbacks the simulator POSTs to a bot's webhook, built field by field in the order and
//! shape Viber sends them (the payloads in `fixtures/viber/`), and the message tokens it numbers
//! them with.

use serde::Serialize;

/// Where Viber's callbacks say they come from (`chat_hostname`), as observed.
pub const CALLBACK_HOST: &str = "SN-CALLBACK-04_";
pub const CHAT_HOST: &str = "SN-CHAT-02_";

/// The profile a callback carries (`sender` of a message, `user` of the others).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    pub api_version: u32,
}

/// What a client writes: the `message` object of a `message` callback.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ClientMessage {
    Text {
        text: String,
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        tracking_data: Option<String>,
    },
    /// `picture` and `video` (`duration` only for videos).
    Media {
        #[serde(rename = "type")]
        kind: &'static str,
        text: String,
        media: String,
        thumbnail: String,
        file_name: String,
        size: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        duration: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tracking_data: Option<String>,
    },
    File {
        #[serde(rename = "type")]
        kind: &'static str,
        media: String,
        file_name: String,
        size: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        tracking_data: Option<String>,
    },
    Contact {
        #[serde(rename = "type")]
        kind: &'static str,
        contact: ContactCard,
        #[serde(skip_serializing_if = "Option::is_none")]
        tracking_data: Option<String>,
    },
    Location {
        #[serde(rename = "type")]
        kind: &'static str,
        location: Coordinates,
        #[serde(skip_serializing_if = "Option::is_none")]
        tracking_data: Option<String>,
    },
    Sticker {
        #[serde(rename = "type")]
        kind: &'static str,
        sticker_id: u64,
        media: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        tracking_data: Option<String>,
    },
    Url {
        #[serde(rename = "type")]
        kind: &'static str,
        media: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        tracking_data: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactCard {
    pub name: String,
    pub phone_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Coordinates {
    pub lat: f64,
    pub lon: f64,
}

impl ClientMessage {
    /// Viber's `type` of the message.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Text { kind, .. }
            | ClientMessage::Media { kind, .. }
            | ClientMessage::File { kind, .. }
            | ClientMessage::Contact { kind, .. }
            | ClientMessage::Location { kind, .. }
            | ClientMessage::Sticker { kind, .. }
            | ClientMessage::Url { kind, .. } => kind,
        }
    }

    /// Viber echoes the `tracking_data` of the bot's last message in the user's next one.
    pub fn with_tracking_data(mut self, data: Option<String>) -> Self {
        match &mut self {
            ClientMessage::Text { tracking_data, .. }
            | ClientMessage::Media { tracking_data, .. }
            | ClientMessage::File { tracking_data, .. }
            | ClientMessage::Contact { tracking_data, .. }
            | ClientMessage::Location { tracking_data, .. }
            | ClientMessage::Sticker { tracking_data, .. }
            | ClientMessage::Url { tracking_data, .. } => *tracking_data = data.filter(|d| !d.is_empty()),
        }
        self
    }
}

/// Every callback the simulator sends, serialised exactly as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Callback {
    Webhook {
        timestamp: i64,
        chat_hostname: &'static str,
        message_token: u64,
    },
    Message {
        timestamp: i64,
        chat_hostname: &'static str,
        message_token: u64,
        sender: User,
        message: ClientMessage,
        silent: bool,
    },
    ConversationStarted {
        timestamp: i64,
        chat_hostname: &'static str,
        message_token: u64,
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        context: Option<String>,
        user: User,
        subscribed: bool,
    },
    Subscribed {
        timestamp: i64,
        chat_hostname: &'static str,
        user: User,
        message_token: u64,
    },
    Unsubscribed {
        timestamp: i64,
        chat_hostname: &'static str,
        user_id: String,
        message_token: u64,
    },
    Delivered(Receipt),
    Seen(Receipt),
    Failed {
        timestamp: i64,
        chat_hostname: &'static str,
        message_token: u64,
        user_id: String,
        desc: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receipt {
    pub timestamp: i64,
    pub chat_hostname: &'static str,
    pub message_token: u64,
    pub user_id: String,
}

impl Callback {
    pub fn receipt(delivered: bool, timestamp: i64, message_token: u64, user_id: &str) -> Self {
        let receipt = Receipt {
            timestamp,
            chat_hostname: CHAT_HOST,
            message_token,
            user_id: user_id.to_owned(),
        };
        if delivered {
            Callback::Delivered(receipt)
        } else {
            Callback::Seen(receipt)
        }
    }

    /// The event name, as `set_webhook`'s `event_types` lists it.
    pub fn event(&self) -> &'static str {
        match self {
            Callback::Webhook { .. } => "webhook",
            Callback::Message { .. } => "message",
            Callback::ConversationStarted { .. } => "conversation_started",
            Callback::Subscribed { .. } => "subscribed",
            Callback::Unsubscribed { .. } => "unsubscribed",
            Callback::Delivered(_) => "delivered",
            Callback::Seen(_) => "seen",
            Callback::Failed { .. } => "failed",
        }
    }

    pub fn message_token(&self) -> u64 {
        match self {
            Callback::Webhook { message_token, .. }
            | Callback::Message { message_token, .. }
            | Callback::ConversationStarted { message_token, .. }
            | Callback::Subscribed { message_token, .. }
            | Callback::Unsubscribed { message_token, .. }
            | Callback::Failed { message_token, .. } => *message_token,
            Callback::Delivered(receipt) | Callback::Seen(receipt) => receipt.message_token,
        }
    }

    /// The exact bytes that are signed and posted.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("callbacks always serialise")
    }
}

/// Events Viber sends whatever a bot's `event_types` says.
pub const MANDATORY_EVENTS: &[&str] = &["message", "subscribed", "unsubscribed"];

/// Whether a bot whose webhook asked for `event_types` gets this event (`None`: it asked for all).
pub fn wanted(event_types: Option<&[String]>, event: &str) -> bool {
    event == "webhook"
        || MANDATORY_EVENTS.contains(&event)
        || event_types.is_none_or(|types| types.iter().any(|t| t == event))
}

/// Numbers message tokens as Viber does: 64-bit, above 2^53, growing with time, never repeated
/// within a run, and unlikely to repeat across runs (they start from the clock).
#[derive(Debug, Clone, Default)]
pub struct TokenClock {
    last: u64,
}

/// Observed tokens lie between 4.9e18 and 6.0e18.
const TOKEN_BASE: u64 = 5_000_000_000_000_000_000;

impl TokenClock {
    pub fn next(&mut self, now_millis: i64) -> u64 {
        let from_clock = TOKEN_BASE + (now_millis.max(0) as u64).saturating_mul(1000);
        self.last = from_clock.max(self.last + 1);
        self.last
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::viber::callback::Callback as Parsed;

    use super::*;

    fn olena() -> User {
        let fixture = testkit::fixtures::json("message_text");
        User {
            id: fixture["sender"]["id"].as_str().unwrap().into(),
            name: fixture["sender"]["name"].as_str().map(Into::into),
            avatar: fixture["sender"]["avatar"].as_str().map(Into::into),
            language: Some("uk-UA".into()),
            country: Some("UA".into()),
            api_version: 10,
        }
    }

    /// The fixture's value with the simulator's `chat_hostname` (which differs between captures).
    fn fixture(name: &str) -> Value {
        let mut value = testkit::fixtures::json(name);
        value["chat_hostname"] = Value::Null;
        value
    }

    fn built(callback: &Callback) -> Value {
        let mut value: Value = serde_json::from_slice(&callback.to_bytes()).unwrap();
        value["chat_hostname"] = Value::Null;
        value
    }

    fn message(fixture_name: &str, message: ClientMessage) -> (Value, Value) {
        let f = fixture(fixture_name);
        let callback = Callback::Message {
            timestamp: f["timestamp"].as_i64().unwrap(),
            chat_hostname: CALLBACK_HOST,
            message_token: f["message_token"].as_u64().unwrap(),
            sender: olena(),
            message,
            silent: false,
        };
        (built(&callback), f)
    }

    #[test]
    fn messages_have_the_shape_of_viber_s() {
        let f = testkit::fixtures::json("message_text");
        let (ours, theirs) = message(
            "message_text",
            ClientMessage::Text {
                text: f["message"]["text"].as_str().unwrap().into(),
                kind: "text",
                tracking_data: None,
            }
            .with_tracking_data(Some("ticket:4711".into())),
        );
        assert_eq!(ours, theirs);

        let f = testkit::fixtures::json("message_picture");
        let m = &f["message"];
        let (ours, theirs) = message(
            "message_picture",
            ClientMessage::Media {
                kind: "picture",
                text: m["text"].as_str().unwrap().into(),
                media: m["media"].as_str().unwrap().into(),
                thumbnail: m["thumbnail"].as_str().unwrap().into(),
                file_name: m["file_name"].as_str().unwrap().into(),
                size: m["size"].as_u64().unwrap(),
                duration: None,
                tracking_data: None,
            },
        );
        assert_eq!(ours, theirs);

        let f = testkit::fixtures::json("message_video");
        let m = &f["message"];
        let (ours, theirs) = message(
            "message_video",
            ClientMessage::Media {
                kind: "video",
                text: String::new(),
                media: m["media"].as_str().unwrap().into(),
                thumbnail: m["thumbnail"].as_str().unwrap().into(),
                file_name: m["file_name"].as_str().unwrap().into(),
                size: m["size"].as_u64().unwrap(),
                duration: m["duration"].as_u64(),
                tracking_data: None,
            },
        );
        assert_eq!(ours, theirs);

        let f = testkit::fixtures::json("message_file");
        let m = &f["message"];
        let (ours, theirs) = message(
            "message_file",
            ClientMessage::File {
                kind: "file",
                media: m["media"].as_str().unwrap().into(),
                file_name: m["file_name"].as_str().unwrap().into(),
                size: m["size"].as_u64().unwrap(),
                tracking_data: None,
            },
        );
        assert_eq!(ours, theirs);

        let f = testkit::fixtures::json("message_contact");
        let c = &f["message"]["contact"];
        let (ours, theirs) = message(
            "message_contact",
            ClientMessage::Contact {
                kind: "contact",
                contact: ContactCard {
                    name: c["name"].as_str().unwrap().into(),
                    phone_number: c["phone_number"].as_str().unwrap().into(),
                    avatar: c["avatar"].as_str().map(Into::into),
                },
                tracking_data: None,
            },
        );
        assert_eq!(ours, theirs);

        let (ours, theirs) = message(
            "message_location",
            ClientMessage::Location {
                kind: "location",
                location: Coordinates {
                    lat: 50.4501071,
                    lon: 30.5234013,
                },
                tracking_data: Some("ticket:4711".into()),
            },
        );
        assert_eq!(ours, theirs);

        let (ours, theirs) = message(
            "message_sticker",
            ClientMessage::Sticker {
                kind: "sticker",
                sticker_id: 40133,
                media: "http://content.cdn.viber.com/stickers/100/40133/00040133.png".into(),
                tracking_data: None,
            },
        );
        assert_eq!(ours, theirs);

        let (ours, theirs) = message(
            "message_url",
            ClientMessage::Url {
                kind: "url",
                media: "https://shop.example.com/orders/48213".into(),
                tracking_data: None,
            },
        );
        assert_eq!(ours, theirs);
    }

    #[test]
    fn other_events_have_the_shape_of_viber_s() {
        let f = fixture("conversation_started");
        let started = Callback::ConversationStarted {
            timestamp: f["timestamp"].as_i64().unwrap(),
            chat_hostname: CALLBACK_HOST,
            message_token: f["message_token"].as_u64().unwrap(),
            kind: "open",
            context: Some("order-48213".into()),
            user: olena(),
            subscribed: false,
        };
        assert_eq!(built(&started), f);

        let f = fixture("unsubscribed");
        let unsubscribed = Callback::Unsubscribed {
            timestamp: f["timestamp"].as_i64().unwrap(),
            chat_hostname: CHAT_HOST,
            user_id: f["user_id"].as_str().unwrap().into(),
            message_token: f["message_token"].as_u64().unwrap(),
        };
        assert_eq!(built(&unsubscribed), f);

        for (name, delivered) in [("delivered", true), ("seen", false)] {
            let f = fixture(name);
            let receipt = Callback::receipt(
                delivered,
                f["timestamp"].as_i64().unwrap(),
                f["message_token"].as_u64().unwrap(),
                f["user_id"].as_str().unwrap(),
            );
            assert_eq!(built(&receipt), f, "{name}");
        }

        let f = fixture("failed");
        let failed = Callback::Failed {
            timestamp: f["timestamp"].as_i64().unwrap(),
            chat_hostname: CHAT_HOST,
            message_token: f["message_token"].as_u64().unwrap(),
            user_id: f["user_id"].as_str().unwrap().into(),
            desc: "message validation failed".into(),
        };
        assert_eq!(built(&failed), f);

        let f = fixture("webhook");
        let check = Callback::Webhook {
            timestamp: f["timestamp"].as_i64().unwrap(),
            chat_hostname: CHAT_HOST,
            message_token: f["message_token"].as_u64().unwrap(),
        };
        assert_eq!(built(&check), f);
    }

    #[test]
    fn the_event_comes_first_and_the_webhook_parses_every_callback() {
        let user = olena();
        let callbacks = [
            Callback::Subscribed {
                timestamp: 1,
                chat_hostname: CHAT_HOST,
                user: user.clone(),
                message_token: 6_031_874_383_612_715_028,
            },
            Callback::Message {
                timestamp: 1,
                chat_hostname: CALLBACK_HOST,
                message_token: 6_031_874_383_612_715_029,
                sender: user,
                message: ClientMessage::Text {
                    text: "<img src=x onerror=alert(1)>".into(),
                    kind: "text",
                    tracking_data: None,
                },
                silent: false,
            },
        ];
        for callback in callbacks {
            let bytes = callback.to_bytes();
            assert!(
                bytes.starts_with(br#"{"event":""#),
                "{}",
                String::from_utf8_lossy(&bytes)
            );
            let parsed = Parsed::from_slice(&bytes).unwrap();
            assert_eq!(parsed.event_name(), callback.event());
            assert_eq!(parsed.message_token(), Some(callback.message_token()));
        }
        let value: Value = serde_json::from_slice(&Callback::receipt(true, 5, u64::MAX - 1, "u").to_bytes()).unwrap();
        assert_eq!(value["message_token"], json!(u64::MAX - 1), "tokens stay integers");
    }

    #[test]
    fn tokens_grow_are_unique_and_above_two_to_the_53() {
        let mut clock = TokenClock::default();
        let first = clock.next(1_732_528_955_210);
        let second = clock.next(1_732_528_955_210);
        let earlier_clock = clock.next(1_000);
        assert!(first > 1 << 53);
        assert!(second > first && earlier_clock > second);
        assert!(
            clock.next(4_102_444_800_000) < i64::MAX as u64,
            "fits an i64 until 2100"
        );
    }

    #[test]
    fn filtered_events_are_not_sent_but_mandatory_ones_always_are() {
        let asked = vec!["delivered".to_owned()];
        assert!(wanted(Some(&asked), "delivered"));
        assert!(!wanted(Some(&asked), "seen"));
        assert!(!wanted(Some(&asked), "conversation_started"));
        assert!(wanted(Some(&[]), "message"));
        assert!(wanted(Some(&[]), "unsubscribed"));
        assert!(wanted(None, "seen"));
    }
}
