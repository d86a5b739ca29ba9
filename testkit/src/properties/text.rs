//! Text that breaks naive code: quotes and backslashes (JSON), control characters (escaped at six
//! times their length), characters outside the BMP (two UTF-16 units), combining marks, zero-width
//! joiners and flags (one visible character made of several), Unicode spaces, line breaks.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

const TRICKY: &[char] = &[
    '"',
    '\\',
    '/',
    '\0',
    '\u{1}',
    '\u{1f}',
    '\u{7f}',
    '\n',
    '\r',
    '\t',
    '\u{2028}',
    '\u{2029}',
    '\u{feff}',
    '\u{fffd}',
    '\u{ffff}',
    '😀',
    '\u{1F1FA}',
    '\u{1F1E6}',
    '\u{200D}',
    '\u{301}',
    '\u{FE0F}',
    '\u{1F3FD}',
    'я',
    '字',
    'é',
    ' ',
    '\u{a0}',
    '\u{3000}',
    '.',
    '。',
];

/// Any character, weighted towards the tricky ones.
pub fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => any::<char>(),
        3 => select(TRICKY),
        2 => prop::char::range('a', 'z'),
    ]
}

/// Any text of at most `max_chars` characters.
pub fn any_text(max_chars: usize) -> BoxedStrategy<String> {
    vec(tricky_char(), 0..=max_chars).prop_map(String::from_iter).boxed()
}

/// What a staff reply is made of: words in several scripts, every kind of break the splitter
/// looks for, emoji sequences that show as one character, and odd characters.
const PIECES: &[&str] = &[
    "word",
    "слово",
    "字字字",
    " ",
    "  ",
    "\t",
    "\u{a0}",
    "\u{3000}",
    "\n",
    "\n\n",
    "\n  \n",
    "\r\n",
    ". ",
    "! ",
    "? ",
    "…",
    "» ",
    ".\" ",
    "。",
    "！",
    ",",
    "😀",
    "👍🏽",
    "👨\u{200D}👩\u{200D}👧",
    "🇺🇦",
    "🇺🇦🇵🇱",
    "е\u{301}",
    "\u{301}",
    "\u{200D}",
    "\u{FE0F}",
    "https://example.com/a/b?c=d",
    "\n    indented",
    "\u{1}",
    "\"",
];

/// Runs that make long words (no place to cut), long emoji runs and long blank stretches.
const RUNS: &[&str] = &[
    "x",
    "ж",
    "😀",
    "е\u{301}",
    "👨\u{200D}👩\u{200D}👧",
    "🇺🇦",
    " ",
    "\n",
    "\u{1}",
];

fn piece(longest_run: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        8 => select(PIECES).prop_map(str::to_owned),
        2 => any_text(8),
        1 => (select(RUNS), 1..=longest_run.max(1)).prop_map(|(run, n)| run.repeat(n)),
    ]
}

/// A reply's text: up to `pieces` pieces, runs up to `longest_run` repetitions.
pub fn reply_text(pieces: usize, longest_run: usize) -> BoxedStrategy<String> {
    vec(piece(longest_run), 0..=pieces)
        .prop_map(|pieces| pieces.concat())
        .boxed()
}
