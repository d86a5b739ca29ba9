//! Messages the bot sends (`send_message` bodies, and the welcome message that answers
//! `conversation_started`), docs/viber-api.md §4, §6. `None` fields are left out: Viber refuses `null`s.

use serde::{Deserialize, Serialize};

use super::SENDER_NAME_MAX_CHARS;
use super::reply::fitting_prefix;

/// Who a message shows as from (its `sender` field): a name and an avatar, per message, so a
/// reply can carry the staff member's name. Not to be confused with the sender Lambda.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SenderIdentity {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

impl SenderIdentity {
    /// A sender whose name is cut to Viber's 28 characters, counted as UTF-16 units like every
    /// length viberdesk sends (docs/viber-api.md §6.1), so an emoji counts twice.
    pub fn new(name: &str, avatar: Option<String>) -> Self {
        Self {
            name: name[..fitting_prefix(name, SENDER_NAME_MAX_CHARS)].to_owned(),
            avatar,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text {
        text: String,
    },
    Picture {
        text: String,
        media: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thumbnail: Option<String>,
    },
    Video {
        media: String,
        size: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thumbnail: Option<String>,
    },
    File {
        media: String,
        size: u64,
        file_name: String,
    },
}

/// A message to one user. `receiver` is absent only in the welcome message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_api_version: Option<u32>,
    pub sender: SenderIdentity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_data: Option<String>,
    #[serde(flatten)]
    pub content: Content,
}

/// The body answering `conversation_started`: a `send_message` request without `receiver`.
pub fn welcome_message(sender: SenderIdentity, text: &str) -> OutboundMessage {
    OutboundMessage {
        receiver: None,
        min_api_version: None,
        sender,
        tracking_data: Some("welcome".to_owned()),
        content: Content::Text { text: text.to_owned() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welcome_message_has_the_fixture_shape() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../../fixtures/viber/welcome_message_response.json")).unwrap();
        let sender = SenderIdentity::new(
            "Acme Support",
            Some("https://cdn.example.com/bot-avatar-720.jpg".into()),
        );
        let text = fixture["text"].as_str().unwrap();
        assert_eq!(serde_json::to_value(welcome_message(sender, text)).unwrap(), fixture);
    }

    #[test]
    fn sender_name_is_cut_to_28_characters() {
        assert_eq!(SenderIdentity::new(&"я".repeat(40), None).name.chars().count(), 28);
    }

    /// Found by the property tests: the name was cut to 28 characters, so 28 emoji were 56
    /// UTF-16 units, which Viber may refuse (every message of the reply, permanently).
    #[test]
    fn sender_name_counts_emoji_as_two() {
        let name = SenderIdentity::new(&"Support 😀".repeat(5), None).name;
        assert_eq!(name, "Support 😀Support 😀Support ");
        assert_eq!(name.encode_utf16().count(), 28);
        assert_eq!(SenderIdentity::new(&"😀".repeat(20), None).name, "😀".repeat(14));
    }
}
