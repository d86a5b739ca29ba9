//! Property tests of the parsers and the reply builder, on generated input (testkit's
//! `properties`: the same generators and checks `property-bench` runs a million times each).
//! 256 cases per property by default; `PROPTEST_CASES=10000 cargo test -p viberdesk-shared --test
//! properties` for more.

use proptest::prelude::*;
use serde_json::Value;
use shared::viber::Callback;
use testkit::fixtures;
use testkit::properties::{callbacks, reply, signature, split};

proptest! {
    #[test]
    fn a_callback_parser_never_panics_on_bytes(body in callbacks::arbitrary_bytes()) {
        callbacks::never_panics(&body)?;
    }

    #[test]
    fn a_callback_parser_never_panics_on_mutated_callbacks(body in callbacks::mutated_callback()) {
        callbacks::never_panics(&body)?;
    }

    #[test]
    fn every_callback_viber_sends_parses_to_its_fields(input in callbacks::encoded_callback()) {
        callbacks::round_trips(input)?;
    }

    #[test]
    fn a_signature_check_answers_as_documented(input in signature::arbitrary_input()) {
        signature::matches_the_oracle(input)?;
    }

    #[test]
    fn a_signature_check_refuses_any_tampering(input in signature::tampering()) {
        signature::refuses_tampering(input)?;
    }

    #[test]
    fn any_text_splits_into_valid_parts(input in split::split_input()) {
        split::splits_validly(input)?;
    }

    #[test]
    fn any_valid_reply_builds_within_vibers_limits(input in reply::valid_reply()) {
        reply::builds(input)?;
    }

    #[test]
    fn any_reply_builds_or_is_refused_for_a_reason(input in reply::any_reply()) {
        reply::builds_or_refuses(input)?;
    }
}

/// The generator writes a callback exactly as Viber does: each fixture, parsed and written again
/// by `callback_json`, is the same JSON.
#[test]
fn generated_callbacks_have_the_fixtures_shape() {
    let plain = callbacks::Encoding {
        style: testkit::properties::json::Style {
            pretty: true,
            escape_non_ascii: false,
        },
        nulls: false,
        reversed: false,
        sticker_id_as_string: false,
        legacy_file_size: false,
        extra_field: None,
    };
    for name in fixtures::CALLBACKS.iter().chain(&["message_rich_media"]) {
        let original: Value = serde_json::from_slice(&fixtures::bytes(name)).unwrap();
        let callback = Callback::from_slice(&fixtures::bytes(name)).unwrap();
        let written = callbacks::callback_json(&callback, &plain).render(plain.style);
        assert_eq!(serde_json::from_str::<Value>(&written).unwrap(), original, "{name}");
    }
}
