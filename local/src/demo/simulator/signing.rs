//! The simulator's own HMAC-SHA256: the `X-Viber-Content-Signature` it puts on every callback, and
//! the signatures of its expiring media links (docs/demo.md, "How faithful the simulator is").
//!
//! Written here rather than borrowed from `shared::viber::signature`, so that the webhook's check
//! is tested against an independent signer: a mistake in one would not hide in the other.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Lowercase hex HMAC-SHA256 of the exact body bytes, keyed by the bot's auth token, as Viber
/// signs callbacks.
pub fn callback_signature(auth_token: &str, body: &[u8]) -> String {
    keyed_hex(auth_token.as_bytes(), &[body])
}

/// Lowercase hex HMAC-SHA256 of `parts`, each preceded by its length, so that no two
/// different lists of parts sign the same bytes.
pub fn keyed_hex(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    if let [only] = parts {
        mac.update(only);
    } else {
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Compares two signatures in constant time (as hex text of equal length).
pub fn same_signature(expected: &str, given: &str) -> bool {
    let (expected, given) = (expected.as_bytes(), given.as_bytes());
    if expected.len() != given.len() {
        return false;
    }
    expected.iter().zip(given).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_every_vector_of_the_fixtures_as_viber_does() {
        let vectors = testkit::fixtures::json("signature_vectors");
        let mut checked = 0;
        for vector in vectors["vectors"].as_array().unwrap() {
            let token = vector["token"].as_str().unwrap();
            let body = vector["body"].as_str().unwrap();
            assert_eq!(
                callback_signature(token, body.as_bytes()),
                vector["signature"].as_str().unwrap(),
                "{}",
                vector["name"]
            );
            checked += 1;
        }
        assert!(checked >= 4);
    }

    #[test]
    fn signs_the_exact_bytes_of_every_callback_fixture() {
        let vectors = testkit::fixtures::json("signature_vectors");
        let token = vectors["doc_token"].as_str().unwrap();
        let files = vectors["fixture_files"].as_array().unwrap();
        for file in files {
            let name = file["file"].as_str().unwrap();
            assert_eq!(
                callback_signature(token, &testkit::fixtures::bytes(name.trim_end_matches(".json"))),
                file["signature"].as_str().unwrap(),
                "{name}"
            );
        }
        assert!(files.len() >= 10);
    }

    #[test]
    fn the_webhook_accepts_what_the_simulator_signs() {
        let body = br#"{"event":"webhook","timestamp":1,"message_token":2}"#;
        let signature = callback_signature("a-token", body);
        assert_eq!(
            shared::viber::signature::verify("a-token", body, Some(&signature)),
            Ok(())
        );
        assert!(shared::viber::signature::verify("another", body, Some(&signature)).is_err());
    }

    #[test]
    fn parts_are_framed_so_that_moving_a_boundary_changes_the_signature() {
        let key = b"k";
        assert_ne!(keyed_hex(key, &[b"ab", b"c"]), keyed_hex(key, &[b"a", b"bc"]));
        assert_eq!(keyed_hex(key, &[b"ab", b"c"]), keyed_hex(key, &[b"ab", b"c"]));
    }

    #[test]
    fn comparison_needs_every_character() {
        assert!(same_signature("abcd", "abcd"));
        assert!(!same_signature("abcd", "abce"));
        assert!(!same_signature("abcd", "abc"));
        assert!(!same_signature("", "a"));
    }
}
