//! The real-format Viber payloads in `fixtures/viber/` (copied from the team's API reference).

use std::path::PathBuf;

/// The doc example token: every callback fixture's signature in `signature_vectors.json` uses it.
pub const DOC_TOKEN: &str = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9";

/// Every fixture that is a callback body Viber POSTs.
pub const CALLBACKS: &[&str] = &[
    "webhook",
    "subscribed",
    "unsubscribed",
    "conversation_started",
    "message_text",
    "message_picture",
    "message_video",
    "message_file",
    "message_contact",
    "message_location",
    "message_sticker",
    "message_url",
    "message_keyboard_reply",
    "delivered",
    "seen",
    "failed",
    "client_status",
];

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/viber")
}

/// The exact bytes of `fixtures/viber/{name}.json`.
pub fn bytes(name: &str) -> Vec<u8> {
    let path = dir().join(format!("{name}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

pub fn json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&bytes(name)).expect("fixtures are JSON")
}

/// Signs a body as Viber does.
pub fn sign(token: &str, body: &[u8]) -> String {
    shared::viber::signature::sign(token, body)
}
