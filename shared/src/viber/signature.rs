//! `X-Viber-Content-Signature`: lowercase hex HMAC-SHA256 of the exact raw body, keyed by the
//! bot's auth token (docs/viber-api.md §5).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header Viber signs callbacks with (header names are case-insensitive).
pub const SIGNATURE_HEADER: &str = "x-viber-content-signature";

/// Why a signature was refused. Callers answer every variant with the same 401; the variant is
/// only for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header missing")]
    Missing,
    #[error("signature is not 64 hex digits")]
    Malformed,
    #[error("signature does not match the body")]
    Mismatch,
}

/// Signs `body` the way Viber does.
pub fn sign(auth_token: &str, body: &[u8]) -> String {
    hex::encode(mac(auth_token, body).finalize().into_bytes())
}

/// Verifies a signature header value against the raw body in constant time.
pub fn verify(auth_token: &str, body: &[u8], signature: Option<&str>) -> Result<(), SignatureError> {
    let signature = signature.ok_or(SignatureError::Missing)?.trim();
    let mut expected = [0u8; 32];
    hex::decode_to_slice(signature, &mut expected).map_err(|_| SignatureError::Malformed)?;
    mac(auth_token, body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

fn mac(auth_token: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDK_TOKEN: &str = "44dafb7e0f40021e-61a47a1e6778d187-f2c5a676a07050b3";
    const SDK_BODY: &str = r#"{"event":"webhook","timestamp":4977069964384421269,"message_token":1478683725125}"#;
    const SDK_SIGNATURE: &str = "d21b343448c8aee33b8e93768ef6ceb64a6ba6163099973a2b8bd028fea510ef";

    #[test]
    fn signs_the_viber_sdk_test_vector() {
        assert_eq!(sign(SDK_TOKEN, SDK_BODY.as_bytes()), SDK_SIGNATURE);
    }

    #[test]
    fn verifies_the_viber_sdk_test_vector() {
        assert_eq!(verify(SDK_TOKEN, SDK_BODY.as_bytes(), Some(SDK_SIGNATURE)), Ok(()));
    }

    #[test]
    fn accepts_uppercase_hex() {
        let upper = SDK_SIGNATURE.to_uppercase();
        assert_eq!(verify(SDK_TOKEN, SDK_BODY.as_bytes(), Some(&upper)), Ok(()));
    }

    #[test]
    fn refuses_a_missing_signature() {
        assert_eq!(
            verify(SDK_TOKEN, SDK_BODY.as_bytes(), None),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn refuses_a_signature_of_the_wrong_length_or_alphabet() {
        for bad in [
            "",
            "abc",
            &SDK_SIGNATURE[..62],
            &format!("{SDK_SIGNATURE}00"),
            &SDK_SIGNATURE.replace('d', "z"),
        ] {
            assert_eq!(
                verify(SDK_TOKEN, SDK_BODY.as_bytes(), Some(bad)),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_a_different_body_or_token() {
        let reformatted = SDK_BODY.replace(':', ": ");
        assert_eq!(
            verify(SDK_TOKEN, reformatted.as_bytes(), Some(SDK_SIGNATURE)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("another-token", SDK_BODY.as_bytes(), Some(SDK_SIGNATURE)),
            Err(SignatureError::Mismatch)
        );
    }
}
