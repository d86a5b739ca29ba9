//! `signature::verify`: any token, body and header gives the oracle's answer (never a panic);
//! the right signature, in any letter case and with surrounding whitespace, is accepted; one
//! byte changed in the body or one digit in the signature, or another token, is refused.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;
use shared::viber::signature::{SignatureError, sign, verify};

use super::text::any_text;

/// A Viber auth token (`445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9`), or any text.
fn token() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9a-f]{16}-[0-9a-f]{16}-[0-9a-f]{16}", any_text(80),]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 0..512), any_text(200).prop_map(String::into_bytes),]
}

/// Whitespace the code trims around the header value (`str::trim`: Unicode whitespace).
fn padding() -> impl Strategy<Value = String> {
    vec(
        select(&[' ', '\t', '\n', '\r', '\u{a0}', '\u{3000}', '\u{2028}'][..]),
        0..3,
    )
    .prop_map(String::from_iter)
}

fn header() -> impl Strategy<Value = Option<String>> {
    option::of(prop_oneof![
        any_text(80),
        "[0-9a-fA-F]{64}",
        "[0-9a-fA-F]{60,68}",
        ("[0-9a-fA-F]{64}", padding(), padding()).prop_map(|(hex, before, after)| format!("{before}{hex}{after}")),
        "[0-9a-fA-F]{63}[^0-9a-fA-F]",
    ])
}

pub fn arbitrary_input() -> impl Strategy<Value = (String, Vec<u8>, Option<String>)> {
    (token(), body(), header())
}

/// What the code documents: a missing header, then anything but 64 hex digits (either case) once
/// trimmed, then anything but the body's HMAC, is refused.
fn oracle(token: &str, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    if header.len() != 64 || !header.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignatureError::Malformed);
    }
    if header.eq_ignore_ascii_case(&sign(token, body)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

pub fn matches_the_oracle((token, body, header): (String, Vec<u8>, Option<String>)) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        verify(&token, &body, header.as_deref()),
        oracle(&token, &body, header.as_deref())
    );
    Ok(())
}

/// A signed body and the ways to tamper with it.
#[derive(Debug, Clone)]
pub struct Tampering {
    pub token: String,
    pub body: Vec<u8>,
    /// Which letters of the signature to uppercase.
    pub uppercase: Vec<bool>,
    pub before: String,
    pub after: String,
    /// A body byte changed (xor with a non-zero byte), inserted, removed.
    pub body_at: Index,
    pub body_xor: u8,
    /// A signature digit changed to another hex digit, and to a non-hex character.
    pub digit_at: Index,
    pub digit_delta: u8,
    pub non_hex: char,
    pub other_token: String,
}

pub fn tampering() -> impl Strategy<Value = Tampering> {
    (
        (token(), body(), vec(any::<bool>(), 64), padding(), padding()),
        (any::<Index>(), 1u8..=255, any::<Index>(), 1u8..16),
        (
            any::<char>().prop_filter("not a hex digit", |c| !c.is_ascii_hexdigit()),
            token(),
        ),
    )
        .prop_map(
            |(
                (token, body, uppercase, before, after),
                (body_at, body_xor, digit_at, digit_delta),
                (non_hex, other_token),
            )| Tampering {
                token,
                body,
                uppercase,
                before,
                after,
                body_at,
                body_xor,
                digit_at,
                digit_delta,
                non_hex,
                other_token,
            },
        )
}

/// Two tokens HMAC cannot tell apart: HMAC pads a key with zero bytes to its block (64 bytes) and
/// hashes a longer one, so `"k"` and `"k\0"` sign alike. Viber's tokens are printable text, and
/// neither case is a different token in practice.
fn same_hmac_key(a: &str, b: &str) -> bool {
    a.trim_end_matches('\0') == b.trim_end_matches('\0') || a.len() > 64 || b.len() > 64
}

pub fn refuses_tampering(t: Tampering) -> Result<(), TestCaseError> {
    let signature = sign(&t.token, &t.body);
    prop_assert_eq!(verify(&t.token, &t.body, Some(&signature)), Ok(()));

    let cased: String = signature
        .chars()
        .zip(&t.uppercase)
        .map(|(c, &upper)| if upper { c.to_ascii_uppercase() } else { c })
        .collect();
    let padded = format!("{}{cased}{}", t.before, t.after);
    prop_assert_eq!(verify(&t.token, &t.body, Some(&padded)), Ok(()), "{:?}", padded);

    if !t.body.is_empty() {
        let at = t.body_at.index(t.body.len());
        let mut changed = t.body.clone();
        changed[at] ^= t.body_xor;
        prop_assert_eq!(
            verify(&t.token, &changed, Some(&signature)),
            Err(SignatureError::Mismatch)
        );
        let mut shorter = t.body.clone();
        shorter.remove(at);
        prop_assert_eq!(
            verify(&t.token, &shorter, Some(&signature)),
            Err(SignatureError::Mismatch)
        );
    }
    let mut longer = t.body.clone();
    longer.insert(t.body_at.index(t.body.len() + 1), t.body_xor);
    prop_assert_eq!(
        verify(&t.token, &longer, Some(&signature)),
        Err(SignatureError::Mismatch)
    );

    let at = t.digit_at.index(64);
    let digit = u8::from_str_radix(&signature[at..=at], 16).expect("hex");
    let other_digit = char::from_digit(u32::from((digit + t.digit_delta) % 16), 16).expect("a digit");
    let mut wrong = signature.clone();
    wrong.replace_range(at..=at, other_digit.encode_utf8(&mut [0; 4]));
    prop_assert_eq!(verify(&t.token, &t.body, Some(&wrong)), Err(SignatureError::Mismatch));
    let mut malformed = signature.clone();
    malformed.replace_range(at..=at, t.non_hex.encode_utf8(&mut [0; 4]));
    // Even whitespace: trimmed at either end, it leaves 63 digits.
    prop_assert_eq!(
        verify(&t.token, &t.body, Some(&malformed)),
        Err(SignatureError::Malformed)
    );

    if !same_hmac_key(&t.token, &t.other_token) {
        prop_assert_eq!(
            verify(&t.other_token, &t.body, Some(&signature)),
            Err(SignatureError::Mismatch)
        );
    }
    Ok(())
}
