//! `reply::split_text`: any text (multi-byte, emoji and ZWJ sequences, flags, newlines, words
//! longer than a part) splits into parts within the limit, none empty, which are the text in
//! order with only whitespace between them (the code drops the whitespace where it cuts, blank
//! lines at the start and whitespace at the end).

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use shared::viber::reply::{TEXT_MAX_CHARS, split_text, viber_len};

use super::text::reply_text;

/// A text and a limit: tiny limits (every cut is forced), middling ones, and Viber's own.
pub fn split_input() -> BoxedStrategy<(String, usize)> {
    prop_oneof![
        6 => (reply_text(40, 30), 0usize..=20),
        3 => (reply_text(60, 300), prop::sample::select(&[24usize, 40, 100, 500][..])),
        1 => (reply_text(8, TEXT_MAX_CHARS), Just(TEXT_MAX_CHARS)),
    ]
    .boxed()
}

pub fn splits_validly((text, max): (String, usize)) -> Result<(), TestCaseError> {
    check_parts(&text, max, &split_text(&text, max))
}

/// What every split must be, whoever made it (the splitter, or the reply builder's text
/// messages at [`TEXT_MAX_CHARS`]).
pub fn check_parts<S: AsRef<str>>(text: &str, max: usize, parts: &[S]) -> Result<(), TestCaseError> {
    let mut position = 0;
    for (i, part) in parts.iter().enumerate() {
        let part = part.as_ref();
        prop_assert!(!part.is_empty(), "part {} is empty", i);
        // Below 2 units a part still holds one character, however wide.
        prop_assert!(
            viber_len(part) <= max || part.chars().count() == 1,
            "part {} is {} units, over {}: {:?}",
            i,
            viber_len(part),
            max,
            part
        );
        prop_assert_eq!(part.trim_end(), part, "part {} ends with whitespace", i);
        let start = after_whitespace(text, position, part)
            .ok_or_else(|| TestCaseError::fail(format!("part {i} {part:?} is not the text after byte {position}")))?;
        if i > 0 && start == position {
            // Cut without whitespace: inside a word that had no space to cut at, or right after
            // an ideographic full stop.
            let previous = parts[i - 1].as_ref();
            prop_assert!(
                previous.ends_with(['。', '！', '？']) || !previous.trim_start().contains(char::is_whitespace),
                "part {} was cut inside a word although it has spaces: {:?}",
                i - 1,
                previous
            );
        }
        position = start + part.len();
    }
    prop_assert!(
        text[position..].trim().is_empty(),
        "text after byte {} is lost: {:?}",
        position,
        &text[position..]
    );
    Ok(())
}

/// Where `part` starts if it follows `position` after whitespace only.
fn after_whitespace(text: &str, position: usize, part: &str) -> Option<usize> {
    let rest = &text[position..];
    let run_end = position + rest.len() - rest.trim_start().len();
    (position..=run_end)
        .filter(|&start| text.is_char_boundary(start))
        .find(|&start| text[start..].starts_with(part))
}
