//! Identifiers: opaque strings, parsed once at the boundary.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an id from outside was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} id must be 1 to 64 characters of letters, digits, '-' or '_'")]
pub struct InvalidId {
    pub kind: &'static str,
}

macro_rules! id_type {
    ($name:ident, $kind:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(new_id())
            }

            pub fn parse(raw: &str) -> Result<Self, InvalidId> {
                if is_valid_id(raw) {
                    Ok(Self(raw.to_owned()))
                } else {
                    Err(InvalidId { kind: $kind })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(IntegrationId, "integration");
id_type!(StaffId, "staff");
id_type!(ContactId, "contact");
id_type!(TaskId, "task");
id_type!(CommentId, "comment");
id_type!(AttachmentId, "attachment");
id_type!(QuickReplyId, "quick reply");
// A staff client's `Idempotency-Key` for a reply (docs/staff-api.md): the same rules as an id, so
// a UUID fits.
id_type!(IdempotencyKey, "idempotency key");

fn is_valid_id(raw: &str) -> bool {
    (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// 12 hex digits of milliseconds since the epoch, then 12 random hex digits: ids sort by creation.
pub fn new_id() -> String {
    let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).expect("the OS random source is available");
    format!("{:012x}{}", millis as u64 & 0xffff_ffff_ffff, hex::encode(random))
}

/// A random secret of 32 bytes, hex-encoded (staff tokens, URL-signing keys).
pub fn new_secret() -> String {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).expect("the OS random source is available");
    hex::encode(random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_ordered() {
        let first = TaskId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = TaskId::generate();
        assert!(TaskId::parse(first.as_str()).is_ok());
        assert!(first < second);
    }

    #[test]
    fn refuses_ids_that_could_break_keys_or_paths() {
        for bad in ["", "a/b", "a#b", "a b", "../x", &"x".repeat(65), "ід"] {
            assert!(IntegrationId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(IntegrationId::parse("default").is_ok());
    }
}
