//! Viber's Bot REST API: callbacks and their signatures, the messages the bot sends (`message`),
//! what a staff reply becomes (`reply`, `attachments`) and the HTTP client.

pub mod attachments;
pub mod callback;
pub mod client;
pub mod message;
pub mod policy;
pub mod reply;
pub mod signature;

pub use callback::{Callback, Message, MessageToken, UserProfile};

/// Viber's limit on `sender.name`, in characters.
pub const SENDER_NAME_MAX_CHARS: usize = 28;

/// Cuts `text` to at most `max` characters (not bytes), so it never splits a character.
pub fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((byte_index, _)) => &text[..byte_index],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_by_characters_not_bytes() {
        assert_eq!(
            truncate_chars("Служба підтримки Acme Support International", 28),
            "Служба підтримки Acme Suppor"
        );
        assert_eq!(truncate_chars("short", 28), "short");
        assert_eq!(truncate_chars("", 28), "");
    }
}
