//! A reply's text cut into `text` messages: lengths as Viber counts them, and where to cut.

/// Viber's limit on a `text` message (docs/viber-api.md §6).
pub const TEXT_MAX_CHARS: usize = 7000;

/// A length as Viber may count it: UTF-16 code units. Equal to the number of characters except
/// for characters outside the Basic Multilingual Plane (most emoji), which count twice.
pub fn viber_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Cuts a reply's text into parts of at most `max_chars` ([`viber_len`]) each, for `text`
/// messages of at most [`TEXT_MAX_CHARS`].
///
/// A part ends, in order of preference, at a paragraph break (a blank line), a line break, the
/// end of a sentence, or a space — the last such place that keeps the part at least half full;
/// failing that, at the last break anywhere in it (so a long link moves whole to the next part);
/// failing that, inside a word, but never inside a character, between a character and its
/// combining marks or emoji modifiers, or inside a flag. Only the whitespace where a part is cut
/// is dropped (the next line's indentation is kept), plus blank lines at the start and
/// whitespace at the end of the text. Parts are never empty; a blank text has none.
/// A `max_chars` below 2 still puts at least one character in each part.
pub fn split_text(text: &str, max_chars: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = skip_separator(text.trim_end());
    while !rest.is_empty() {
        if viber_len(rest) <= max_chars {
            parts.push(rest.to_owned());
            break;
        }
        let cut = cut_point(rest, max_chars);
        let part = rest[..cut].trim_end();
        if !part.is_empty() {
            parts.push(part.to_owned());
        }
        rest = skip_separator(&rest[cut..]);
    }
    parts
}

/// Drops the whitespace at the start of a part, except the indentation of its first line.
fn skip_separator(text: &str) -> &str {
    let trimmed = text.trim_start();
    let run = &text[..text.len() - trimmed.len()];
    match run.rfind('\n') {
        Some(newline) => &text[newline + 1..],
        None => trimmed,
    }
}

/// Where to cut `text` (which is longer than `max`): a byte index after at least one character,
/// such that `text[..cut].trim_end()` fits.
fn cut_point(text: &str, max: usize) -> usize {
    let limit = match fitting_prefix(text, max) {
        0 => text.chars().next().map_or(0, char::len_utf8),
        limit => limit,
    };
    // Whitespace right after the limit may be where the cut is: it is trimmed off the part.
    let after = &text[limit..];
    let window = &text[..limit + after.len() - after.trim_start().len()];
    let finders: [fn(&str) -> Option<usize>; 4] =
        [last_paragraph_break, last_line_break, last_sentence_end, last_space];
    let half_full = |cut: &usize| *cut >= limit / 2;
    finders
        .iter()
        .find_map(|find| find(window).filter(half_full))
        .or_else(|| finders.iter().find_map(|find| find(window)))
        .unwrap_or_else(|| hard_cut(text, limit))
}

/// The length in bytes of the longest prefix of `text` within `max` UTF-16 units.
pub(crate) fn fitting_prefix(text: &str, max: usize) -> usize {
    let mut units = 0;
    for (index, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max {
            return index;
        }
    }
    text.len()
}

/// Whether cutting at `cut` leaves something before it.
fn has_text_before(window: &str, cut: usize) -> bool {
    !window[..cut].trim_end().is_empty()
}

/// The line break that ends the last non-blank line followed by a blank one.
fn last_paragraph_break(window: &str) -> Option<usize> {
    window.rmatch_indices('\n').map(|(i, _)| i).find(|&i| {
        window[i + 1..].trim_start_matches([' ', '\t', '\r']).starts_with('\n') && has_text_before(window, i)
    })
}

fn last_line_break(window: &str) -> Option<usize> {
    window
        .rmatch_indices('\n')
        .map(|(i, _)| i)
        .find(|&i| has_text_before(window, i))
}

/// Whitespace after `.`, `!`, `?` or `…` (and any closing quotes or brackets), or the place
/// right after an ideographic full stop, which needs no space.
fn last_sentence_end(window: &str) -> Option<usize> {
    const CLOSERS: &[char] = &['"', '\'', ')', ']', '»', '”', '’', '」', '』'];
    window.char_indices().rev().find_map(|(i, c)| {
        if matches!(c, '。' | '！' | '？') {
            return Some(i + c.len_utf8());
        }
        let ends_sentence = c.is_whitespace()
            && window[..i].trim_end_matches(CLOSERS).ends_with(['.', '!', '?', '…'])
            && has_text_before(window, i);
        ends_sentence.then_some(i)
    })
}

fn last_space(window: &str) -> Option<usize> {
    window
        .char_indices()
        .rev()
        .find(|&(i, c)| c.is_whitespace() && has_text_before(window, i))
        .map(|(i, _)| i)
}

/// `limit`, moved back so that it does not separate what shows as one character; `limit` itself
/// if the whole prefix is one such cluster.
fn hard_cut(text: &str, limit: usize) -> usize {
    let mut cut = limit;
    while cut > 0 && !is_cluster_boundary(text, cut) {
        cut = text[..cut].char_indices().next_back().map_or(0, |(i, _)| i);
    }
    if cut == 0 { limit } else { cut }
}

/// A simplified grapheme-cluster rule for the common cases: combining marks, variation
/// selectors, emoji skin tones and tags stay with the character before them; nothing is cut
/// after a zero-width joiner, inside a flag (a pair of regional indicators) or inside `\r\n`.
fn is_cluster_boundary(text: &str, at: usize) -> bool {
    let (Some(before), Some(after)) = (text[..at].chars().next_back(), text[at..].chars().next()) else {
        return true;
    };
    let extends = matches!(
        after as u32,
        0x0300..=0x036F
            | 0x1AB0..=0x1AFF
            | 0x1DC0..=0x1DFF
            | 0x20D0..=0x20FF
            | 0xFE00..=0xFE0F
            | 0xFE20..=0xFE2F
            | 0x200D
            | 0x1F3FB..=0x1F3FF
            | 0xE0020..=0xE007F
            | 0xE0100..=0xE01EF
    );
    let is_regional = |c: char| matches!(c as u32, 0x1F1E6..=0x1F1FF);
    let inside_flag = is_regional(before)
        && is_regional(after)
        && text[..at].chars().rev().take_while(|&c| is_regional(c)).count() % 2 == 1;
    !(extends || before == '\u{200D}' || inside_flag || (before == '\r' && after == '\n'))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Everything but whitespace, in order: what a split must never lose or reorder.
    pub(in crate::viber::reply) fn ink(text: &str) -> String {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    }

    fn assert_valid_split(text: &str, max: usize, parts: &[String]) {
        for part in parts {
            assert!(!part.trim().is_empty(), "empty part in {parts:?}");
            assert!(viber_len(part) <= max.max(2), "part over {max}: {part:?}");
            assert_eq!(part.trim_end(), part, "trailing whitespace in {part:?}");
        }
        assert_eq!(ink(&parts.concat()), ink(text), "text lost or reordered");
    }

    #[test]
    fn a_text_that_fits_is_one_part() {
        assert_eq!(split_text("Вітаю, Олено!", 7000), vec!["Вітаю, Олено!"]);
        let exactly = "ж".repeat(7000);
        assert_eq!(split_text(&exactly, TEXT_MAX_CHARS), vec![exactly.clone()]);
        assert_eq!(split_text(&format!("{exactly}x"), TEXT_MAX_CHARS).len(), 2);
    }

    #[test]
    fn a_blank_text_has_no_parts() {
        assert!(split_text("", 7000).is_empty());
        assert!(split_text(" \n\t\r\n ", 7000).is_empty());
        assert!(split_text(&" ".repeat(20_000), 7000).is_empty());
    }

    #[test]
    fn only_blank_lines_first_and_whitespace_last_are_dropped() {
        assert_eq!(split_text("\n\n  Hello\n  world \n\n", 100), vec!["  Hello\n  world"]);
    }

    #[test]
    fn counts_characters_not_bytes_and_emoji_as_two() {
        // 7000 Cyrillic letters are 14000 bytes but one part.
        assert_eq!(split_text(&"я".repeat(7000), TEXT_MAX_CHARS).len(), 1);
        // An emoji outside the BMP is two UTF-16 units: 4000 of them need two parts.
        let parts = split_text(&"😀".repeat(4000), TEXT_MAX_CHARS);
        assert_eq!(
            parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
            vec![3500, 500]
        );
    }

    #[test]
    fn prefers_a_paragraph_break() {
        let text = "First paragraph. Still first.\nNext line.\n\nSecond paragraph. More.\nLine two.";
        let parts = split_text(text, 60);
        assert_eq!(parts[0], "First paragraph. Still first.\nNext line.");
        assert_eq!(parts[1], "Second paragraph. More.\nLine two.");
        assert_valid_split(text, 60, &parts);
    }

    #[test]
    fn a_paragraph_break_with_spaces_on_the_blank_line_counts() {
        let parts = split_text("aaaa aaaa\n  \t\nbbbb bbbb", 14);
        assert_eq!(parts, vec!["aaaa aaaa", "bbbb bbbb"]);
    }

    #[test]
    fn then_a_line_break_then_a_sentence_end_then_a_space() {
        assert_eq!(
            split_text("One two. Three\nfour five six", 20),
            vec!["One two. Three", "four five six"]
        );
        assert_eq!(
            split_text("One two three. Four five six seven", 25),
            vec!["One two three.", "Four five six seven"]
        );
        assert_eq!(
            split_text("She said «go!» and left. Then came back", 28),
            vec!["She said «go!» and left.", "Then came back"]
        );
        assert_eq!(
            split_text("alpha beta gamma delta", 12),
            vec!["alpha beta", "gamma delta"]
        );
    }

    #[test]
    fn a_break_in_the_first_half_gives_way_to_a_later_one() {
        // The paragraph break after "Hi." would leave a tiny part: the later space wins.
        let text = "Hi.\n\nThis is a rather long paragraph without line breaks at all";
        let parts = split_text(text, 40);
        assert_eq!(parts[0], "Hi.\n\nThis is a rather long paragraph");
        assert_valid_split(text, 40, &parts);
    }

    #[test]
    fn a_break_exactly_at_the_limit_is_used() {
        // The blank line starts right after the 10th character.
        assert_eq!(split_text("0123456789\n\nabc", 10), vec!["0123456789", "abc"]);
        assert_eq!(split_text("0123456789 abc", 10), vec!["0123456789", "abc"]);
        assert_eq!(split_text("012345678. abc", 10), vec!["012345678.", "abc"]);
    }

    #[test]
    fn a_long_link_moves_whole_to_the_next_part() {
        // 97 characters: cutting at the last space before the limit would cut the link.
        let link = format!("https://example.com/{}", "x".repeat(77));
        let parts = split_text(&format!("See {link} ok"), 100);
        assert_eq!(parts, vec!["See".to_owned(), format!("{link} ok")]);
    }

    #[test]
    fn a_word_longer_than_the_limit_is_cut_inside() {
        let parts = split_text(&"x".repeat(25), 10);
        assert_eq!(parts, vec!["x".repeat(10), "x".repeat(10), "x".repeat(5)]);
    }

    #[test]
    fn ideographic_sentences_split_without_spaces() {
        let text = "这是第一句话。这是第二句话。这是第三句话。";
        assert_eq!(
            split_text(text, 16),
            vec!["这是第一句话。这是第二句话。", "这是第三句话。"]
        );
    }

    #[test]
    fn a_cut_inside_a_word_keeps_marks_emoji_and_flags_whole() {
        // "е" + combining acute accent: the accent stays with its letter.
        let stressed = "ааааaaaaе\u{301}ббб";
        assert_eq!(split_text(stressed, 9), vec!["ааааaaaa", "е\u{301}ббб"]);
        // A family emoji is joined with ZWJs; a thumbs-up has a skin tone.
        let family = "ab👨\u{200D}👩\u{200D}👧";
        let parts = split_text(family, 8);
        assert_eq!(parts, vec!["ab", "👨\u{200D}👩\u{200D}👧"]);
        assert_eq!(split_text("abc👍🏽", 5), vec!["abc", "👍🏽"]);
        // Flags are pairs of regional indicators (two UTF-16 units each).
        assert_eq!(split_text("🇺🇦🇵🇱", 6), vec!["🇺🇦", "🇵🇱"]);
        assert_eq!(split_text("x🇺🇦🇵🇱", 6), vec!["x🇺🇦", "🇵🇱"]);
        // A cluster longer than the limit is still cut (at a character boundary).
        let accents = format!("a{}", "\u{301}".repeat(12));
        assert_valid_split(&accents, 5, &split_text(&accents, 5));
    }

    #[test]
    fn the_next_lines_indentation_is_kept() {
        let text = "Steps:\n  1. open the app\n  2. tap Orders";
        let parts = split_text(text, 24);
        assert_eq!(parts, vec!["Steps:\n  1. open the app", "  2. tap Orders"]);
    }

    #[test]
    fn tiny_limits_still_make_progress() {
        assert_eq!(split_text("😀😀", 1), vec!["😀", "😀"]);
        assert_eq!(split_text("ab", 0), vec!["a", "b"]);
    }

    #[test]
    fn any_text_splits_into_valid_parts() {
        // A small deterministic generator over words, spaces, punctuation, newlines, emoji.
        let pieces = [
            "слово",
            "word",
            " ",
            " ",
            "  ",
            "\n",
            "\n\n",
            "\r\n",
            ". ",
            "! ",
            "? ",
            "…",
            ",",
            "😀",
            "🇺🇦",
            "е\u{301}",
            "\t",
            "https://example.com/a/b?c=d",
            "дуже-довге-слово-без-пробілів",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..300 {
            let mut text = String::new();
            for _ in 0..(round % 120) {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                text.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            for max in [2, 3, 7, 16, 40, 100] {
                let parts = split_text(&text, max);
                assert_valid_split(&text, max, &parts);
            }
        }
    }

    #[test]
    fn a_long_real_reply_splits_under_viber_limit() {
        let paragraph = "Дякуємо за звернення! Ми перевірили ваше замовлення №48213 і побачили, що посилку \
                         передано до служби доставки. Очікуйте на повідомлення з номером ТТН.\n";
        let text = format!("{}\n", paragraph.repeat(12)).repeat(8);
        let parts = split_text(&text, TEXT_MAX_CHARS);
        assert!(parts.len() >= 3, "{}", parts.len());
        assert_valid_split(&text, TEXT_MAX_CHARS, &parts);
        assert!(
            parts.iter().all(|p| p.ends_with('.')),
            "parts end at paragraph or sentence ends"
        );
    }
}
