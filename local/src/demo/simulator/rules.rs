//! Viber's rules for the requests a bot makes, as pure functions: what `send_message` (and the
//! welcome message answering `conversation_started`) must contain, what `set_webhook` accepts,
//! the per-user rate limit and the billing category (docs/demo.md, "How faithful the simulator
//! is"). The simulator answers with Viber's status codes; nothing here trusts the caller.
//!
//! The limits are Viber's documented ones, kept here independently of the product's own checks
//! (`shared::viber::reply`), so that a mistake there shows up as a refusal here.

use serde_json::Value;

/// Viber refuses any request over 30 KB of JSON.
pub const MAX_REQUEST_BYTES: usize = 30 * 1024;
const TEXT_MAX_CHARS: usize = 7000;
const SENDER_NAME_MAX_CHARS: usize = 28;
const TRACKING_DATA_MAX_CHARS: usize = 4000;
/// The longest picture caption the newest documentation allows.
const CAPTION_MAX_CHARS: usize = 768;
const FILE_NAME_MAX_CHARS: usize = 256;
const FILE_MAX_BYTES: u64 = 50 * 1024 * 1024;
const VIDEO_MAX_SECONDS: u64 = 180;
const URL_MAX_CHARS: usize = 2000;
const CONTACT_NAME_MAX_CHARS: usize = 28;
const PHONE_MAX_CHARS: usize = 18;
/// Messages a bot may send one user in an hour without a reply from that user.
pub const SENDS_PER_HOUR_WITHOUT_REPLY: usize = 100;
/// A session: the 24 hours after a user's message, in which replies are not billed.
pub const SESSION_MILLIS: i64 = 24 * 3600 * 1000;

/// File types Viber refuses to carry.
const FORBIDDEN_EXTENSIONS: &[&str] = &[
    "bat", "bin", "cmd", "com", "cpl", "exe", "gadget", "inf1", "ins", "inx", "isu", "job", "jse", "lnk", "msc", "msi",
    "msp", "mst", "paf", "pif", "ps1", "reg", "rgs", "sct", "shb", "shs", "u3p", "vb", "vbe", "vbs", "vbscript", "ws",
    "wsf", "action", "app", "command", "csh", "osx", "workflow", "ksh", "out", "run", "apk", "ipa",
];

/// The event types `set_webhook` knows.
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

/// A Viber status code with its message, as answered with HTTP 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: i64,
    pub message: String,
}

impl Refusal {
    pub fn new(status: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn missing(field: &str) -> Self {
        Self::new(4, format!("missingData: {field}"))
    }

    fn bad(what: &str) -> Self {
        Self::new(3, format!("badData: {what}"))
    }
}

/// What a bot's message shows on the phone.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text {
        text: String,
    },
    Picture {
        text: String,
        media: String,
    },
    Video {
        media: String,
        size: u64,
        duration: Option<u64>,
    },
    File {
        media: String,
        size: u64,
        file_name: String,
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
    Sticker {
        sticker_id: u64,
    },
    RichMedia {
        alt_text: Option<String>,
    },
    /// A message with only a keyboard (no `type`).
    Keyboard,
}

impl Content {
    /// The link the phone downloads the message's media from, if it has one.
    pub fn media(&self) -> Option<&str> {
        match self {
            Content::Picture { media, .. } | Content::Video { media, .. } | Content::File { media, .. } => Some(media),
            _ => None,
        }
    }
}

/// A bot's message that passed Viber's checks.
#[derive(Debug, Clone, PartialEq)]
pub struct BotMessage {
    pub receiver: Option<String>,
    pub sender_name: String,
    pub sender_avatar: Option<String>,
    pub tracking_data: Option<String>,
    pub min_api_version: u32,
    pub content: Content,
}

/// Checks a `send_message` body (`welcome: false`) or the welcome message answering
/// `conversation_started` (`welcome: true`, which has no `receiver`).
pub fn check_message(body: &Value, welcome: bool) -> Result<BotMessage, Refusal> {
    if !body.is_object() {
        return Err(Refusal::bad("the body must be a JSON object"));
    }
    let receiver = match body.get("receiver") {
        Some(Value::String(receiver)) if !receiver.is_empty() => Some(receiver.clone()),
        Some(Value::String(_)) | None if !welcome => return Err(Refusal::missing("receiver")),
        None => None,
        Some(_) if !welcome => return Err(Refusal::bad("receiver must be a string")),
        Some(_) => None,
    };
    let sender = body.get("sender").ok_or_else(|| Refusal::missing("sender"))?;
    let sender_name = sender
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::missing("sender.name"))?;
    if sender_name.chars().count() > SENDER_NAME_MAX_CHARS {
        return Err(Refusal::bad("sender.name is over 28 characters"));
    }
    let sender_avatar = match sender.get("avatar") {
        None => None,
        Some(Value::String(avatar)) if avatar.chars().count() <= URL_MAX_CHARS => Some(avatar.clone()),
        Some(_) => return Err(Refusal::bad("sender.avatar must be a URL")),
    };
    let tracking_data = match body.get("tracking_data") {
        None => None,
        Some(Value::String(data)) if data.chars().count() <= TRACKING_DATA_MAX_CHARS => Some(data.clone()),
        Some(Value::String(_)) => return Err(Refusal::bad("tracking_data is over 4000 characters")),
        Some(_) => return Err(Refusal::bad("tracking_data must be a string")),
    };
    let min_api_version = match body.get("min_api_version") {
        None => 1,
        Some(version) => version
            .as_u64()
            .filter(|v| (1..=100).contains(v))
            .ok_or_else(|| Refusal::bad("min_api_version must be a positive integer"))? as u32,
    };
    let content = check_content(body)?;
    Ok(BotMessage {
        receiver,
        sender_name: sender_name.to_owned(),
        sender_avatar,
        tracking_data,
        min_api_version,
        content,
    })
}

fn check_content(body: &Value) -> Result<Content, Refusal> {
    let text = |field: &str| body.get(field).and_then(Value::as_str);
    let size = || body.get("size").and_then(Value::as_u64);
    let Some(kind) = body.get("type") else {
        return match body.get("keyboard") {
            Some(Value::Object(_)) => Ok(Content::Keyboard),
            _ => Err(Refusal::missing("type")),
        };
    };
    match kind.as_str() {
        Some("text") => match text("text") {
            None | Some("") => Err(Refusal::missing("text")),
            Some(t) if t.chars().count() > TEXT_MAX_CHARS => Err(Refusal::bad("text is over 7000 characters")),
            Some(t) => Ok(Content::Text { text: t.to_owned() }),
        },
        Some("picture") => {
            let caption = text("text").ok_or_else(|| Refusal::missing("text"))?;
            if caption.chars().count() > CAPTION_MAX_CHARS {
                return Err(Refusal::bad("the picture's text is over 768 characters"));
            }
            let media = media_url(body)?;
            match url_extension(media).as_deref() {
                Some("jpg" | "jpeg" | "png" | "gif") => Ok(Content::Picture {
                    text: caption.to_owned(),
                    media: media.to_owned(),
                }),
                _ => Err(Refusal::bad("a picture's media must end in .jpeg, .jpg, .png or .gif")),
            }
        }
        Some("video") => {
            let media = media_url(body)?;
            let size = size().ok_or_else(|| Refusal::missing("size"))?;
            let duration = match body.get("duration") {
                None => None,
                Some(d) => Some(d.as_u64().ok_or_else(|| Refusal::bad("duration must be a number"))?),
            };
            if duration.is_some_and(|d| d > VIDEO_MAX_SECONDS) {
                return Err(Refusal::bad("duration is over 180 seconds"));
            }
            match url_extension(media).as_deref() {
                Some("mp4") => Ok(Content::Video {
                    media: media.to_owned(),
                    size,
                    duration,
                }),
                _ => Err(Refusal::bad("a video's media must end in .mp4")),
            }
        }
        Some("file") => {
            let media = media_url(body)?;
            let size = size().ok_or_else(|| Refusal::missing("size"))?;
            let file_name = text("file_name").ok_or_else(|| Refusal::missing("file_name"))?;
            if file_name.chars().count() > FILE_NAME_MAX_CHARS {
                return Err(Refusal::bad("file_name is over 256 characters"));
            }
            if size > FILE_MAX_BYTES {
                return Err(Refusal::bad("the file is over 50 MB"));
            }
            match file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()) {
                Some(ext) if FORBIDDEN_EXTENSIONS.contains(&ext.as_str()) => {
                    Err(Refusal::bad("Viber does not carry this file type"))
                }
                Some(ext) if !ext.is_empty() => Ok(Content::File {
                    media: media.to_owned(),
                    size,
                    file_name: file_name.to_owned(),
                }),
                _ => Err(Refusal::bad("file_name needs an extension")),
            }
        }
        Some("contact") => {
            let contact = body.get("contact").ok_or_else(|| Refusal::missing("contact"))?;
            let name = contact.get("name").and_then(Value::as_str).unwrap_or_default();
            let phone = contact
                .get("phone_number")
                .and_then(Value::as_str)
                .ok_or_else(|| Refusal::missing("contact.phone_number"))?;
            if name.chars().count() > CONTACT_NAME_MAX_CHARS
                || phone.chars().count() > PHONE_MAX_CHARS
                || !phone.chars().all(|c| c == '+' || c.is_ascii_digit())
            {
                return Err(Refusal::bad("contact"));
            }
            Ok(Content::Contact {
                name: name.to_owned(),
                phone: phone.to_owned(),
            })
        }
        Some("location") => {
            let coordinate = |field: &str, limit: f64| {
                body.pointer(&format!("/location/{field}"))
                    .and_then(Value::as_f64)
                    .filter(|v| v.abs() <= limit)
                    .ok_or_else(|| Refusal::bad("location"))
            };
            Ok(Content::Location {
                lat: coordinate("lat", 90.0)?,
                lon: coordinate("lon", 180.0)?,
            })
        }
        Some("url") => {
            let url = media_url(body)?;
            if url.chars().count() > URL_MAX_CHARS {
                return Err(Refusal::bad("media is over 2000 characters"));
            }
            Ok(Content::Url { url: url.to_owned() })
        }
        Some("sticker") => {
            let sticker_id = match body.get("sticker_id") {
                Some(Value::Number(n)) => n.as_u64(),
                Some(Value::String(s)) => s.parse().ok(),
                _ => return Err(Refusal::missing("sticker_id")),
            };
            sticker_id
                .map(|sticker_id| Content::Sticker { sticker_id })
                .ok_or_else(|| Refusal::bad("sticker_id"))
        }
        Some("rich_media") => {
            if !body.get("rich_media").is_some_and(Value::is_object) {
                return Err(Refusal::missing("rich_media"));
            }
            Ok(Content::RichMedia {
                alt_text: text("alt_text").map(str::to_owned),
            })
        }
        _ => Err(Refusal::bad("unknown message type")),
    }
}

/// `media`, which must be an http(s) URL.
fn media_url(body: &Value) -> Result<&str, Refusal> {
    let media = body
        .get("media")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::missing("media"))?;
    if media.starts_with("https://") || media.starts_with("http://") {
        Ok(media)
    } else {
        Err(Refusal::bad("media must be an http(s) URL"))
    }
}

/// The lowercased extension of a URL's last path segment (Viber looks at that, not the type).
pub fn url_extension(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let last = path.rsplit('/').next()?;
    last.rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .filter(|ext| !ext.is_empty())
}

/// What `set_webhook` asks for, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// `None`: remove the webhook (`url: ""`).
    pub url: Option<String>,
    /// `None`: every event.
    pub event_types: Option<Vec<String>>,
    pub send_name: bool,
    pub send_photo: bool,
}

pub fn check_set_webhook(body: &Value) -> Result<WebhookRequest, Refusal> {
    let url = match body.get("url") {
        None => return Err(Refusal::missing("url")),
        Some(Value::String(url)) => url.trim(),
        Some(_) => return Err(Refusal::bad("url must be a string")),
    };
    let event_types = match body.get("event_types") {
        None | Some(Value::Null) => None,
        Some(Value::Array(events)) => {
            let mut names = Vec::with_capacity(events.len().min(KNOWN_EVENT_TYPES.len()));
            for event in events {
                match event.as_str() {
                    Some(name) if KNOWN_EVENT_TYPES.contains(&name) => {
                        if !names.iter().any(|n| n == name) {
                            names.push(name.to_owned());
                        }
                    }
                    _ => return Err(Refusal::bad("unknown event type in event_types")),
                }
            }
            Some(names)
        }
        Some(_) => return Err(Refusal::bad("event_types must be a list")),
    };
    let flag = |name: &str| match body.get(name) {
        None => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(_) => Err(Refusal::bad("send_name and send_photo must be true or false")),
    };
    let (send_name, send_photo) = (flag("send_name")?, flag("send_photo")?);
    if url.is_empty() {
        return Ok(WebhookRequest {
            url: None,
            event_types,
            send_name,
            send_photo,
        });
    }
    // Viber itself only calls HTTPS URLs with a trusted certificate; on one machine the
    // simulator calls plain HTTP too.
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > URL_MAX_CHARS {
        return Err(Refusal::new(1, "invalidUrl"));
    }
    Ok(WebhookRequest {
        url: Some(url.to_owned()),
        event_types,
        send_name,
        send_photo,
    })
}

/// What the answer to `set_webhook` says Viber will send: the mandatory events and those asked
/// for (all of the usual ones when no list was given).
pub fn answered_event_types(asked: Option<&[String]>) -> Vec<String> {
    let mut events: Vec<String> = super::callbacks::MANDATORY_EVENTS
        .iter()
        .map(|e| (*e).to_owned())
        .collect();
    match asked {
        Some(asked) => events.extend(
            asked
                .iter()
                .filter(|e| !events.contains(e))
                .cloned()
                .collect::<Vec<_>>(),
        ),
        None => events.extend(
            ["conversation_started", "delivered", "failed", "seen"]
                .iter()
                .map(|e| (*e).to_owned()),
        ),
    }
    events
}

/// Whether one more message to a user breaks Viber's limit: `sent` holds the times of the
/// messages sent to them since their last message (any order), `now` and the times in ms.
pub fn rate_limited<'a>(sent: impl IntoIterator<Item = &'a i64>, now: i64) -> bool {
    let hour_ago = now - 3600 * 1000;
    sent.into_iter().filter(|at| **at > hour_ago).count() >= SENDS_PER_HOUR_WITHOUT_REPLY
}

/// `billing_status` of an accepted message from a billable bot (every bot created since
/// February 2024): 2 inside the user's 24-hour session, 5 (charged) outside it.
pub fn billing_status(last_user_message: Option<i64>, now: i64) -> u8 {
    match last_user_message {
        Some(at) if now - at < SESSION_MILLIS => 2,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn status(body: Value) -> i64 {
        match check_message(&body, false) {
            Ok(_) => 0,
            Err(refusal) => refusal.status,
        }
    }

    #[test]
    fn the_fixture_requests_pass() {
        for name in [
            "send_text",
            "send_text_with_keyboard",
            "send_picture",
            "send_video",
            "send_file",
        ] {
            let body = testkit::fixtures::json(name);
            let checked = check_message(&body, false).unwrap_or_else(|r| panic!("{name}: {r:?}"));
            assert_eq!(checked.receiver.as_deref(), body["receiver"].as_str());
        }
        let welcome = testkit::fixtures::json("welcome_message_response");
        let checked = check_message(&welcome, true).unwrap();
        assert_eq!(checked.receiver, None);
        assert_eq!(checked.tracking_data.as_deref(), Some("welcome"));
        assert_eq!(status(welcome), 4, "send_message needs a receiver");
    }

    #[test]
    fn common_fields_follow_viber_s_limits() {
        let ok = json!({"receiver": "u", "sender": {"name": "Acme"}, "type": "text", "text": "hi"});
        assert_eq!(status(ok.clone()), 0);
        let with = |field: &str, value: Value| {
            let mut body = ok.clone();
            body[field] = value;
            status(body)
        };
        assert_eq!(with("receiver", json!("")), 4);
        assert_eq!(with("sender", json!({})), 4);
        assert_eq!(with("sender", json!({"name": "я".repeat(28)})), 0);
        assert_eq!(with("sender", json!({"name": "я".repeat(29)})), 3);
        assert_eq!(with("tracking_data", Value::Null), 3, "Viber refuses a null");
        assert_eq!(with("tracking_data", json!("t".repeat(4000))), 0);
        assert_eq!(with("tracking_data", json!("t".repeat(4001))), 3);
        assert_eq!(with("min_api_version", json!(0)), 3);
        assert_eq!(with("text", json!("")), 4);
        assert_eq!(with("text", json!("я".repeat(7000))), 0);
        assert_eq!(with("text", json!("я".repeat(7001))), 3);
        assert_eq!(with("type", json!("hologram")), 3);
        let mut untyped = ok.clone();
        untyped.as_object_mut().unwrap().remove("type");
        assert_eq!(status(untyped.clone()), 4);
        untyped["keyboard"] = json!({"Type": "keyboard", "Buttons": []});
        assert_eq!(status(untyped), 0, "a keyboard alone is a message");
    }

    #[test]
    fn media_messages_follow_viber_s_rules() {
        let base = json!({"receiver": "u", "sender": {"name": "Acme"}});
        let message = |fields: Value| {
            let mut body = base.clone();
            for (k, v) in fields.as_object().unwrap() {
                body[k] = v.clone();
            }
            status(body)
        };
        let picture = |media: &str| message(json!({"type": "picture", "text": "", "media": media}));
        assert_eq!(picture("http://127.0.0.1/blobs/a/label.JPG?X-Sig=1"), 0);
        assert_eq!(picture("https://x.test/a.webp"), 3);
        assert_eq!(picture("ftp://x.test/a.png"), 3);
        assert_eq!(message(json!({"type": "picture", "media": "https://x.test/a.png"})), 4);
        assert_eq!(
            message(json!({"type": "picture", "text": "я".repeat(769), "media": "https://x.test/a.png"})),
            3
        );
        let video = |fields: Value| message(json!({"type": "video", "media": "https://x.test/v.mp4"}).merge(fields));
        assert_eq!(video(json!({"size": 10})), 0);
        assert_eq!(video(json!({})), 4);
        assert_eq!(video(json!({"size": 10, "duration": 181})), 3);
        assert_eq!(
            message(json!({"type": "video", "media": "https://x.test/v.mov", "size": 1})),
            3
        );
        let file = |name: &str, size: u64| {
            message(json!({"type": "file", "media": "https://x.test/f", "file_name": name, "size": size}))
        };
        assert_eq!(file("Рахунок.pdf", 1), 0);
        assert_eq!(file("setup.EXE", 1), 3);
        assert_eq!(file("README", 1), 3);
        assert_eq!(file("big.zip", 50 * 1024 * 1024 + 1), 3);
        assert_eq!(file(&format!("{}.txt", "n".repeat(253)), 1), 3);
        assert_eq!(
            message(json!({"type": "file", "media": "https://x.test/f", "size": 1})),
            4
        );
        assert_eq!(message(json!({"type": "sticker", "sticker_id": 40133})), 0);
        assert_eq!(message(json!({"type": "sticker", "sticker_id": "40129"})), 0);
        assert_eq!(message(json!({"type": "sticker"})), 4);
        assert_eq!(
            message(json!({"type": "location", "location": {"lat": 50.4, "lon": 30.5}})),
            0
        );
        assert_eq!(
            message(json!({"type": "location", "location": {"lat": 91, "lon": 30.5}})),
            3
        );
        assert_eq!(
            message(json!({"type": "contact", "contact": {"name": "Olena", "phone_number": "+380671234567"}})),
            0
        );
        assert_eq!(
            message(json!({"type": "contact", "contact": {"name": "Olena", "phone_number": "call me"}})),
            3
        );
        assert_eq!(message(json!({"type": "url", "media": "https://x.test/orders/1"})), 0);
    }

    trait Merge {
        fn merge(self, other: Value) -> Value;
    }

    impl Merge for Value {
        fn merge(mut self, other: Value) -> Value {
            for (k, v) in other.as_object().unwrap() {
                self[k] = v.clone();
            }
            self
        }
    }

    #[test]
    fn set_webhook_is_checked_like_viber_does() {
        let request = check_set_webhook(&testkit::fixtures::json("set_webhook_request")).unwrap();
        assert!(request.url.unwrap().starts_with("https://"));
        assert!(request.send_name && request.send_photo);
        assert_eq!(check_set_webhook(&json!({})).unwrap_err().status, 4);
        assert_eq!(check_set_webhook(&json!({"url": 1})).unwrap_err().status, 3);
        assert_eq!(check_set_webhook(&json!({"url": "ftp://x"})).unwrap_err().status, 1);
        assert_eq!(
            check_set_webhook(&json!({"url": "https://x", "event_types": ["typing"]}))
                .unwrap_err()
                .status,
            3
        );
        assert_eq!(
            check_set_webhook(&json!({"url": "https://x", "send_name": "yes"}))
                .unwrap_err()
                .status,
            3
        );
        assert_eq!(check_set_webhook(&json!({"url": ""})).unwrap().url, None);
        let asked = vec!["delivered".to_owned(), "message".to_owned()];
        assert_eq!(
            answered_event_types(Some(&asked)),
            ["message", "subscribed", "unsubscribed", "delivered"]
        );
        assert_eq!(answered_event_types(None).len(), 7);
    }

    #[test]
    fn a_hundred_messages_an_hour_without_a_reply_is_the_limit() {
        let now = 10 * 3600 * 1000;
        let recent: Vec<i64> = (0..99).map(|i| now - i * 1000).collect();
        assert!(!rate_limited(&recent, now));
        let mut full = recent.clone();
        full.push(now - 3_599_000);
        assert!(rate_limited(&full, now));
        let mut stale = recent;
        stale.push(now - 3_601_000);
        assert!(!rate_limited(&stale, now), "older sends no longer count");
    }

    #[test]
    fn replies_inside_the_session_are_not_charged() {
        let now = 100 * SESSION_MILLIS;
        assert_eq!(billing_status(Some(now - 1000), now), 2);
        assert_eq!(billing_status(Some(now - SESSION_MILLIS), now), 5);
        assert_eq!(billing_status(None, now), 5);
    }
}
