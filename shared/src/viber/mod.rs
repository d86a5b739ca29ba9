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

/// Viber's limit on `sender.name`, in characters, counted as UTF-16 units (docs/viber-api.md §6.1).
pub const SENDER_NAME_MAX_CHARS: usize = 28;
