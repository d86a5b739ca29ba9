//! The inbound queue's message: a verified Viber callback and the integration it came to.
//!
//! The callback travels as the exact bytes Viber signed (embedded as raw JSON), so nothing Viber
//! sent is lost to re-serialisation and the processor parses it once.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::ids::IntegrationId;
use crate::ports::QueueMessage;
use crate::time::Timestamp;
use crate::viber::Callback;

/// SQS's limit on a message body.
pub const SQS_MAX_BODY_BYTES: usize = 262_144;
/// SQS's limit on `MessageGroupId`.
const MAX_GROUP_ID_LEN: usize = 128;

#[derive(Debug, Serialize, Deserialize)]
pub struct InboundEnvelope<'a> {
    pub integration_id: IntegrationId,
    pub received_at: Timestamp,
    #[serde(borrow)]
    pub callback: &'a RawValue,
}

impl InboundEnvelope<'_> {
    pub fn callback(&self) -> Result<Callback, serde_json::Error> {
        Callback::from_slice(self.callback.get().as_bytes())
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the callback does not fit in one queue message ({0} bytes)")]
    TooLarge(usize),
    #[error("the body is not a JSON document")]
    NotJson,
}

/// Builds the FIFO message for a verified callback: grouped per Viber user so each user's events
/// stay in order, deduplicated on (integration, event, message token) so Viber's re-sends within
/// SQS's five-minute window are dropped before they cost a Lambda run.
pub fn queue_message(
    integration_id: &IntegrationId,
    raw_body: &[u8],
    callback: &Callback,
    received_at: Timestamp,
) -> Result<QueueMessage, EnvelopeError> {
    let raw_text = std::str::from_utf8(raw_body).map_err(|_| EnvelopeError::NotJson)?;
    let sqs_safe = escape_sqs_forbidden(raw_text);
    let callback_json: &RawValue = serde_json::from_str(&sqs_safe).map_err(|_| EnvelopeError::NotJson)?;
    let envelope = InboundEnvelope {
        integration_id: integration_id.clone(),
        received_at,
        callback: callback_json,
    };
    let body = serde_json::to_string(&envelope).expect("the envelope always serialises");
    if body.len() > SQS_MAX_BODY_BYTES {
        return Err(EnvelopeError::TooLarge(body.len()));
    }
    Ok(QueueMessage {
        group_id: Some(group_id(integration_id, callback.viber_user_id())),
        dedup_id: Some(dedup_id(integration_id, callback, raw_body)),
        body,
    })
}

/// `{integration_id}:{viber_user_id}`; a user id that would overflow SQS's 128 characters is
/// replaced by its hash (still one group per user).
pub fn group_id(integration_id: &IntegrationId, viber_user_id: Option<&str>) -> String {
    let user = viber_user_id.unwrap_or("-");
    let plain = format!("{integration_id}:{user}");
    if plain.len() <= MAX_GROUP_ID_LEN {
        plain
    } else {
        format!("{integration_id}:{}", hex::encode(Sha256::digest(user.as_bytes())))
    }
}

/// SHA-256 (hex, 64 characters, always a valid SQS id) of integration, event and message token;
/// of the body itself for the rare event without a token.
pub fn dedup_id(integration_id: &IntegrationId, callback: &Callback, raw_body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(integration_id.as_str().as_bytes());
    hash.update(b"\n");
    hash.update(callback.event_name().as_bytes());
    hash.update(b"\n");
    match callback.message_token() {
        Some(token) => hash.update(token.to_string().as_bytes()),
        None => hash.update(raw_body),
    }
    hex::encode(hash.finalize())
}

/// SQS refuses the noncharacters U+FFFE and U+FFFF. In a JSON document they can only stand inside
/// strings, where the `\u` escape means the same text.
fn escape_sqs_forbidden(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.contains(['\u{FFFE}', '\u{FFFF}']) {
        raw.replace('\u{FFFE}', "\\ufffe").replace('\u{FFFF}', "\\uffff").into()
    } else {
        raw.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> IntegrationId {
        IntegrationId::parse("acme").unwrap()
    }

    const MESSAGE: &str = r#"{"event":"message","timestamp":1732528955210,"message_token":6031874777027428736,"sender":{"id":"9Kf2mQ1xT7bVnC3pLs8aZw=="},"message":{"type":"text","text":"hi"}}"#;

    #[test]
    fn groups_by_integration_and_user_and_keeps_the_raw_callback() {
        let callback = Callback::from_slice(MESSAGE.as_bytes()).unwrap();
        let message = queue_message(&id(), MESSAGE.as_bytes(), &callback, Timestamp::from_millis(0)).unwrap();
        assert_eq!(message.group_id.as_deref(), Some("acme:9Kf2mQ1xT7bVnC3pLs8aZw=="));
        let envelope: InboundEnvelope = serde_json::from_str(&message.body).unwrap();
        assert_eq!(envelope.callback.get(), MESSAGE);
        assert_eq!(envelope.integration_id, id());
        assert_eq!(envelope.callback().unwrap(), callback);
    }

    #[test]
    fn dedup_id_is_stable_per_token_and_differs_per_event_and_integration() {
        let callback = Callback::from_slice(MESSAGE.as_bytes()).unwrap();
        let resent = MESSAGE.replace("1732528955210", "1732528999999");
        let resent_callback = Callback::from_slice(resent.as_bytes()).unwrap();
        let first = dedup_id(&id(), &callback, MESSAGE.as_bytes());
        assert_eq!(first, dedup_id(&id(), &resent_callback, resent.as_bytes()));
        assert_eq!(first.len(), 64);
        let other = IntegrationId::parse("other").unwrap();
        assert_ne!(first, dedup_id(&other, &callback, MESSAGE.as_bytes()));
        let seen = r#"{"event":"seen","timestamp":1,"message_token":6031874777027428736,"user_id":"u"}"#;
        let seen_callback = Callback::from_slice(seen.as_bytes()).unwrap();
        assert_ne!(first, dedup_id(&id(), &seen_callback, seen.as_bytes()));
    }

    #[test]
    fn overlong_user_ids_are_hashed_into_the_group_id() {
        let group = group_id(&id(), Some(&"x".repeat(200)));
        assert!(group.len() <= 128);
        assert!(group.starts_with("acme:"));
    }

    #[test]
    fn escapes_characters_sqs_refuses() {
        let body = "{\"event\":\"message\",\"timestamp\":1,\"message_token\":1,\"sender\":{\"id\":\"u\"},\"message\":{\"type\":\"text\",\"text\":\"a\u{FFFF}b\"}}";
        let callback = Callback::from_slice(body.as_bytes()).unwrap();
        let message = queue_message(&id(), body.as_bytes(), &callback, Timestamp::from_millis(0)).unwrap();
        assert!(!message.body.contains('\u{FFFF}'));
        let envelope: InboundEnvelope = serde_json::from_str(&message.body).unwrap();
        assert_eq!(envelope.callback().unwrap(), callback);
    }

    #[test]
    fn refuses_a_callback_too_large_for_sqs() {
        let text = "x".repeat(SQS_MAX_BODY_BYTES);
        let body = MESSAGE.replace("\"hi\"", &format!("\"{text}\""));
        let callback = Callback::from_slice(body.as_bytes()).unwrap();
        let result = queue_message(&id(), body.as_bytes(), &callback, Timestamp::from_millis(0));
        assert!(matches!(result, Err(EnvelopeError::TooLarge(_))));
    }
}
