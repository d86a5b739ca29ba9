//! What a staff reply becomes in Viber (DESIGN.md data flow step 3, API.md §6): the text cut into
//! parts Viber accepts, one message per attachment of the right type (`picture`, `video` or
//! `file`), the sender the client sees, and quick-reply placeholders. Pure functions, no I/O.
//!
//! Where the documents disagree or are vague, the stricter reading is taken, because a message
//! Viber refuses (or a client cannot open) is worse than one that is split or sent as a file:
//! - sizes are decimal: 1 MB = 1,000,000 bytes, 30 KB = 30,000 bytes;
//! - lengths are counted in UTF-16 code units ([`viber_len`]): never fewer than characters, so a
//!   text fits whether Viber counts characters or UTF-16 units (API.md §14 ⚠);
//! - pictures up to 1 MB (the iOS limit; the receiver's device is unknown), videos up to 26 MB.
//!
//! Every [`ReplyError`] is permanent: sending the same reply again fails the same way.

use super::outbound::{Content, OutboundMessage, Sender};
use crate::media::{extension, extension_for_content_type, guess_content_type, is_generic_content_type, url_file_name};
use crate::model::{Attachment, BotProfile, Contact, StaffMember};

/// Viber's limit on a `text` message (API.md §6).
pub const TEXT_MAX_CHARS: usize = 7000;
/// Viber's limit on `tracking_data` (API.md §6).
pub const TRACKING_DATA_MAX_CHARS: usize = 4000;
/// Viber's limit on a `file` message's `file_name` (API.md §6).
pub const FILE_NAME_MAX_CHARS: usize = 256;
/// Viber's limit on any request body: 30 KB of JSON (API.md §1), read as 30,000 bytes.
pub const REQUEST_MAX_BYTES: usize = 30_000;

const MB: u64 = 1_000_000;
/// A JPEG or PNG goes as a `picture` up to 1 MB: Viber allows 1 MB on iOS and 3 MB on Android,
/// and a reply cannot know which device the client reads it on. Larger ones go as a `file`.
pub const PICTURE_MAX_BYTES: u64 = MB;
/// A GIF goes as a `picture` only up to 100 KB. Viber's pictures must not be animated, and
/// whether a GIF is animated cannot be told from its name, type and size. Animations are rarely
/// this small while static GIFs (icons, diagrams) usually are; a larger GIF goes as a `file`,
/// which keeps any animation. A small animated GIF sent as a picture loses only its motion.
pub const GIF_PICTURE_MAX_BYTES: u64 = 100 * 1000;
/// An MP4 goes as a `video` up to 26 MB (creators-hub and the newer legacy docs; older ones
/// said 50 MB). Larger ones go as a `file`.
pub const VIDEO_MAX_BYTES: u64 = 26 * MB;
/// Viber's largest media limit: a `file` of at most 50 MB.
pub const FILE_MAX_BYTES: u64 = 50 * MB;

/// Extensions Viber refuses in a `file` message (API.md §6, creators-hub), lowercase.
/// Windows first, then macOS (`action app command csh osx workflow`; `bin` is in both lists),
/// Linux (`ksh out run`; `bin csh` again), Android (`apk`) and iOS (`ipa`).
pub const FORBIDDEN_EXTENSIONS: &[&str] = &[
    "bat", "bin", "cmd", "com", "cpl", "exe", "gadget", "inf1", "ins", "inx", "isu", "job", "jse", "lnk", "msc", "msi",
    "msp", "mst", "paf", "pif", "ps1", "reg", "rgs", "sct", "shb", "shs", "u3p", "vb", "vbe", "vbs", "vbscript", "ws",
    "wsf", "action", "app", "command", "csh", "osx", "workflow", "ksh", "out", "run", "apk", "ipa",
];

/// Why a reply cannot become Viber messages. The messages are written for the staff member who
/// sent it (they end up as the comment's `status_reason` or an API error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("the reply has no text and no attachments")]
    EmptyReply,
    #[error("\"{file_name}\" is empty (0 bytes)")]
    EmptyFile { file_name: String },
    #[error("\"{file_name}\" is {}; Viber accepts files up to {}", format_size(*size), format_size(*limit))]
    TooLarge { file_name: String, size: u64, limit: u64 },
    #[error("Viber does not accept .{extension} files (\"{file_name}\")")]
    ForbiddenExtension { file_name: String, extension: String },
    #[error("\"{file_name}\" has no file extension (such as .pdf), which Viber needs to send it as a file")]
    MissingExtension { file_name: String },
    #[error("\"{file_name}\" is not available: {reason}")]
    Unavailable { file_name: String, reason: String },
    #[error("the link to \"{file_name}\" is not an http(s) URL")]
    InvalidMediaUrl { file_name: String },
    #[error("the tracking data is {length} characters long; Viber accepts up to {TRACKING_DATA_MAX_CHARS}")]
    TrackingDataTooLong { length: usize },
    #[error("a message would be {bytes} bytes of JSON; Viber accepts requests up to {REQUEST_MAX_BYTES} bytes")]
    MessageTooLarge { bytes: usize },
}

/// `1.5 MB`, `60 MB`, `512 KB`, `10 bytes` (decimal units, like the limits).
fn format_size(bytes: u64) -> String {
    let (value, unit) = match bytes {
        b if b >= MB => (b as f64 / MB as f64, "MB"),
        b if b >= 1000 => (b as f64 / 1000.0, "KB"),
        b => return format!("{b} bytes"),
    };
    let text = format!("{value:.1}");
    format!("{} {unit}", text.strip_suffix(".0").unwrap_or(&text))
}

/// A length as Viber may count it: UTF-16 code units. Equal to the number of characters except
/// for characters outside the Basic Multilingual Plane (most emoji), which count twice.
pub fn viber_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

// ---------------------------------------------------------------------------------------------
// Text

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
fn fitting_prefix(text: &str, max: usize) -> usize {
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

// ---------------------------------------------------------------------------------------------
// Media

/// The Viber message type an attachment is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Picture,
    Video,
    File,
}

/// The extensions a `picture` link may end with (`.jpg` is not in the rule's text but in every
/// example of Viber's docs, and works).
const PICTURE_URL_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "gif"];

/// Which message type an attachment goes as:
/// - [`MediaKind::Picture`]: JPEG or PNG up to [`PICTURE_MAX_BYTES`], GIF up to
///   [`GIF_PICTURE_MAX_BYTES`];
/// - [`MediaKind::Video`]: MP4 (`video/mp4`) up to [`VIDEO_MAX_BYTES`];
/// - [`MediaKind::File`]: anything else up to [`FILE_MAX_BYTES`], with an extension (its own, or
///   one for its content type, see [`viber_file_name`]) that Viber does not forbid.
///
/// The content type decides; a generic one (`application/octet-stream`, empty) is replaced by
/// the type the file name's extension suggests. A name with a forbidden extension is refused
/// whatever the type claims, and so is an empty file.
pub fn media_kind(content_type: &str, file_name: &str, size: u64) -> Result<MediaKind, ReplyError> {
    if size == 0 {
        return Err(ReplyError::EmptyFile {
            file_name: file_name.to_owned(),
        });
    }
    refuse_forbidden(file_name, clean_name(file_name))?;
    let essence = essence(content_type, file_name);
    let picture_limit = match essence.as_str() {
        "image/gif" => Some(GIF_PICTURE_MAX_BYTES),
        e if picture_extension(e).is_some() => Some(PICTURE_MAX_BYTES),
        _ => None,
    };
    if picture_limit.is_some_and(|limit| size <= limit) {
        return Ok(MediaKind::Picture);
    }
    if essence == "video/mp4" && size <= VIDEO_MAX_BYTES {
        return Ok(MediaKind::Video);
    }
    check_file(content_type, file_name, size)?;
    Ok(MediaKind::File)
}

/// What the staff API checks before handing out an upload URL: whether the file can be sent to
/// Viber at all (not empty, at most [`FILE_MAX_BYTES`], an extension Viber accepts). The same
/// rules as [`media_kind`], so an accepted upload is never refused when the reply is sent.
pub fn check_upload(file_name: &str, content_type: &str, size: u64) -> Result<(), ReplyError> {
    media_kind(content_type, file_name, size).map(drop)
}

/// The rules of a `file` message: at most 50 MB, and a `file_name` Viber accepts.
fn check_file(content_type: &str, file_name: &str, size: u64) -> Result<(), ReplyError> {
    if size > FILE_MAX_BYTES {
        return Err(ReplyError::TooLarge {
            file_name: file_name.to_owned(),
            size,
            limit: FILE_MAX_BYTES,
        });
    }
    viber_file_name(file_name, content_type).map(drop)
}

/// The `file_name` of a `file` message: the attachment's name without surrounding whitespace and
/// trailing dots, given an extension for its content type when it has none (`report` +
/// `application/pdf` → `report.pdf`), and shortened to [`FILE_NAME_MAX_CHARS`] keeping the
/// extension. Refused when no extension can be found or Viber forbids it.
pub fn viber_file_name(file_name: &str, content_type: &str) -> Result<String, ReplyError> {
    let name = clean_name(file_name);
    let (stem, ext) = match extension(name) {
        Some(ext) => (&name[..name.len() - ext.len() - 1], ext),
        None => {
            let ext = extension_for_content_type(&essence(content_type, name)).ok_or_else(|| {
                ReplyError::MissingExtension {
                    file_name: file_name.to_owned(),
                }
            })?;
            (if name.is_empty() { "file" } else { name }, ext)
        }
    };
    refuse_forbidden(file_name, &format!("x.{ext}"))?;
    let stem_budget = FILE_NAME_MAX_CHARS - ext.len() - 1;
    let stem = stem[..fitting_prefix(stem, stem_budget)].trim_end();
    let stem = if stem.is_empty() { "file" } else { stem };
    Ok(format!("{stem}.{ext}"))
}

/// A name without surrounding whitespace or trailing dots (Windows drops those, so
/// `setup.exe.` would be saved as `setup.exe`).
fn clean_name(file_name: &str) -> &str {
    file_name.trim().trim_end_matches(['.', ' ']).trim()
}

/// Refuses `name` when its extension is one Viber forbids; `file_name` is the one to report.
fn refuse_forbidden(file_name: &str, name: &str) -> Result<(), ReplyError> {
    match extension(name).map(str::to_ascii_lowercase) {
        Some(ext) if FORBIDDEN_EXTENSIONS.contains(&ext.as_str()) => Err(ReplyError::ForbiddenExtension {
            file_name: file_name.to_owned(),
            extension: ext,
        }),
        _ => Ok(()),
    }
}

/// The content type without parameters, lowercase; the file name's type when it says nothing.
fn essence(content_type: &str, file_name: &str) -> String {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if is_generic_content_type(&essence) {
        guess_content_type(clean_name(file_name)).to_owned()
    } else {
        essence
    }
}

/// The extension a picture of this content type gets, if Viber takes it as a picture.
fn picture_extension(essence: &str) -> Option<&'static str> {
    match essence {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Some("jpeg"),
        "image/png" => Some("png"),
        "image/gif" => Some("gif"),
        _ => None,
    }
}

/// The extension (without the dot) the media link of an attachment sent as `kind` must end
/// with (API.md §6: Viber checks the last path segment of a `picture` or `video` link):
/// - picture: the file's own extension when it names the same format (`jpg`/`jpeg`, `png`,
///   `gif`, any case), else `jpeg`, `png` or `gif` for the content type;
/// - video: `mp4`;
/// - file: the file's own extension, else one for its content type; empty only for a file that
///   [`media_kind`] refuses (no extension at all).
pub fn extension_for<'a>(kind: MediaKind, content_type: &str, file_name: &'a str) -> &'a str {
    let own = extension(clean_name(file_name));
    let essence = essence(content_type, file_name);
    match kind {
        MediaKind::Picture => {
            let wanted = picture_extension(&essence).unwrap_or("jpeg");
            let same_format = |ext: &&str| {
                let ext = ext.to_ascii_lowercase();
                ext == wanted || (wanted == "jpeg" && ext == "jpg")
            };
            own.filter(same_format).unwrap_or(wanted)
        }
        MediaKind::Video => "mp4",
        MediaKind::File => own.or_else(|| extension_for_content_type(&essence)).unwrap_or(""),
    }
}

/// The file name to use as the last path segment of an attachment's blob key, so that its
/// presigned URL satisfies Viber's extension rule: the name with its extension replaced by (or,
/// if it has none, followed by) [`extension_for`], lowercase — `Scan 1.HEIC` sent as a JPEG
/// picture becomes `Scan 1.jpeg`, `clip.MP4` becomes `clip.mp4`, `report` (PDF) `report.pdf`.
/// Pass it through [`crate::media::attachment_key`], which makes the rest of the name safe and
/// keeps this extension.
pub fn media_key_name(kind: MediaKind, content_type: &str, file_name: &str) -> String {
    let name = clean_name(file_name);
    let stem = match extension(name) {
        Some(ext) => &name[..name.len() - ext.len() - 1],
        None => name,
    };
    let stem = if stem.is_empty() { "file" } else { stem };
    match extension_for(kind, content_type, file_name) {
        "" => stem.to_owned(),
        ext => format!("{stem}.{}", ext.to_ascii_lowercase()),
    }
}

/// Whether a media link's last path segment ends with an extension Viber accepts for `kind`.
fn link_fits(kind: MediaKind, url: &str) -> bool {
    let Some(name) = url_file_name(url) else {
        return false;
    };
    let ext = extension(&name).map(str::to_ascii_lowercase);
    match kind {
        MediaKind::Picture => ext.is_some_and(|e| PICTURE_URL_EXTENSIONS.contains(&e.as_str())),
        MediaKind::Video => ext.as_deref() == Some("mp4"),
        MediaKind::File => true,
    }
}

// ---------------------------------------------------------------------------------------------
// Sender and messages

/// Who a reply shows as from. With the integration's "send as staff member" option on and the
/// replying staff member known (and named), their name, cut to Viber's 28 characters, and their
/// avatar — or the bot's icon when they have none, so the message never shows a blank avatar.
/// Otherwise the bot's name and icon.
pub fn sender_for(integration_bot: &BotProfile, send_as_staff: bool, staff: Option<&StaffMember>) -> Sender {
    let present = |url: Option<&String>| url.map(|u| u.trim()).filter(|u| !u.is_empty()).map(str::to_owned);
    let bot_icon = present(integration_bot.icon.as_ref());
    let mut sender = match staff.filter(|s| send_as_staff && !s.name.trim().is_empty()) {
        Some(staff) => Sender::new(staff.name.trim(), present(staff.avatar_url.as_ref()).or(bot_icon)),
        None => Sender::new(integration_bot.name.trim(), bot_icon),
    };
    // A cut may leave a space at the end ("Customer Care Department of |Acme").
    let kept = sender.name.trim_end().len();
    sender.name.truncate(kept);
    sender
}

/// The Viber messages a reply is sent as, in order: the text parts ([`split_text`] at
/// [`TEXT_MAX_CHARS`]), then one message per attachment, each with its media URL —
/// `picture` (empty caption), `video` (with `size`) or `file` (with `size` and
/// [`viber_file_name`]) as [`media_kind`] decides. A picture or video whose URL does not end
/// with the extension Viber requires (see [`media_key_name`]) goes as a `file` instead.
/// Every message carries `receiver`, `sender`, `min_api_version` 1 and `tracking_data`, and
/// serialises to at most [`REQUEST_MAX_BYTES`]; a text part that would not (many characters
/// JSON escapes at length) is split further.
///
/// The result depends only on the arguments, so a retry rebuilds exactly the same messages.
/// Refused: no text (or only whitespace) and no attachments, an unavailable attachment, a URL
/// that is not http(s), an attachment [`media_kind`] refuses, tracking data over
/// [`TRACKING_DATA_MAX_CHARS`], a message over the size limit.
pub fn build_messages(
    receiver: &str,
    sender: Sender,
    text: Option<&str>,
    attachments: &[(Attachment, String)],
    tracking_data: Option<String>,
) -> Result<Vec<OutboundMessage>, ReplyError> {
    if let Some(length) = tracking_data.as_deref().map(viber_len)
        && length > TRACKING_DATA_MAX_CHARS
    {
        return Err(ReplyError::TrackingDataTooLong { length });
    }
    let parts = text.map(|t| split_text(t, TEXT_MAX_CHARS)).unwrap_or_default();
    if parts.is_empty() && attachments.is_empty() {
        return Err(ReplyError::EmptyReply);
    }
    let message = |content: Content| OutboundMessage {
        receiver: Some(receiver.to_owned()),
        min_api_version: Some(1),
        sender: sender.clone(),
        tracking_data: tracking_data.clone(),
        content,
    };
    let mut messages = Vec::new();
    if !parts.is_empty() {
        check_size(&message(Content::Text { text: String::new() }))?;
    }
    for part in &parts {
        push_text(&mut messages, &message, part, TEXT_MAX_CHARS)?;
    }
    for (attachment, url) in attachments {
        let built = message(attachment_content(attachment, url)?);
        check_size(&built)?;
        messages.push(built);
    }
    Ok(messages)
}

/// Adds a text message, split further while its JSON is over the request limit.
fn push_text(
    messages: &mut Vec<OutboundMessage>,
    message: &impl Fn(Content) -> OutboundMessage,
    text: &str,
    max_chars: usize,
) -> Result<(), ReplyError> {
    let built = message(Content::Text { text: text.to_owned() });
    match check_size(&built) {
        Ok(()) => messages.push(built),
        Err(error) if max_chars < 2 => return Err(error),
        Err(_) => {
            for part in split_text(text, max_chars / 2) {
                push_text(messages, message, &part, max_chars / 2)?;
            }
        }
    }
    Ok(())
}

fn check_size(message: &OutboundMessage) -> Result<(), ReplyError> {
    let bytes = serde_json::to_vec(message)
        .expect("an outbound message always serialises")
        .len();
    if bytes > REQUEST_MAX_BYTES {
        return Err(ReplyError::MessageTooLarge { bytes });
    }
    Ok(())
}

fn attachment_content(attachment: &Attachment, url: &str) -> Result<Content, ReplyError> {
    let Attachment {
        file_name,
        content_type,
        size,
        ..
    } = attachment;
    if !attachment.available {
        return Err(ReplyError::Unavailable {
            file_name: file_name.clone(),
            reason: attachment
                .unavailable_reason
                .clone()
                .unwrap_or_else(|| "the file was not stored".to_owned()),
        });
    }
    let is_http = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
    if !is_http {
        return Err(ReplyError::InvalidMediaUrl {
            file_name: file_name.clone(),
        });
    }
    let mut kind = media_kind(content_type, file_name, *size)?;
    if !link_fits(kind, url) {
        check_file(content_type, file_name, *size)?;
        kind = MediaKind::File;
    }
    let media = url.to_owned();
    Ok(match kind {
        MediaKind::Picture => Content::Picture {
            text: String::new(),
            media,
            thumbnail: None,
        },
        MediaKind::Video => Content::Video {
            media,
            size: *size,
            duration: None,
            thumbnail: None,
        },
        MediaKind::File => Content::File {
            media,
            size: *size,
            file_name: viber_file_name(file_name, content_type)?,
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Quick replies

const PLACEHOLDERS: &[&str] = &["{client_name}", "{client_phone}", "{staff_name}", "{bot_name}"];

/// Fills a quick reply's placeholders in one pass (a value that looks like a placeholder stays
/// as it is): `{client_name}` the contact's name, `{client_phone}` their phone (known only if they
/// shared it), `{staff_name}` the replying staff member's name, or `bot_name` when there is none,
/// `{bot_name}` the bot's name. Other `{…}` are left untouched.
///
/// A placeholder with nothing to fill in (typically a client without a name) is removed with the
/// separator in front of it, so the text reads naturally in any language instead of greeting
/// "there" or leaving a gap: `Вітаю, {client_name}!` → `Вітаю!`, `Hi {client_name}, thanks` →
/// `Hi, thanks`, and at the start of a line `{client_name}, thank you` → `Thank you`.
pub fn render_quick_reply(template: &str, contact: &Contact, staff: Option<&StaffMember>, bot_name: &str) -> String {
    let value_of = |placeholder: &str| match placeholder {
        "{client_name}" => known(contact.name.as_deref()),
        "{client_phone}" => known(contact.phone.as_deref()),
        "{staff_name}" => known(staff.map(|s| s.name.as_str())).or(known(Some(bot_name))),
        _ => known(Some(bot_name)),
    };
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let (literal, from_brace) = rest.split_at(open);
        out.push_str(literal);
        match PLACEHOLDERS.iter().find(|p| from_brace.starts_with(**p)) {
            None => {
                out.push('{');
                rest = &from_brace[1..];
            }
            Some(placeholder) => {
                rest = &from_brace[placeholder.len()..];
                match value_of(placeholder) {
                    Some(value) => out.push_str(value),
                    None => rest = drop_empty_slot(&mut out, rest),
                }
            }
        }
    }
    out.push_str(rest);
    out
}

/// A value with something in it, trimmed.
fn known(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Tidies the text around a placeholder that was left empty: the spaces before it go, and a
/// comma before it too when punctuation or the end of the line follows; at the start of a line,
/// the punctuation after it goes and the next word gets a capital letter.
fn drop_empty_slot<'a>(out: &mut String, rest: &'a str) -> &'a str {
    const SPACES: [char; 2] = [' ', '\t'];
    out.truncate(out.trim_end_matches(SPACES).len());
    if out.is_empty() || out.ends_with('\n') {
        let rest = rest.trim_start_matches([',', ';', ':']).trim_start_matches(SPACES);
        let mut chars = rest.chars();
        return match chars.next() {
            Some(first) if first.is_lowercase() => {
                out.extend(first.to_uppercase());
                chars.as_str()
            }
            _ => rest,
        };
    }
    let punctuation_follows = rest.is_empty() || rest.starts_with([',', '.', '!', '?', ';', ':', '…', ')', '\n', '\r']);
    if punctuation_follows && out.ends_with(',') {
        out.pop();
        out.truncate(out.trim_end_matches(SPACES).len());
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AttachmentId, ContactId, IntegrationId, StaffId};
    use crate::media::attachment_key;
    use crate::model::Role;
    use crate::time::Timestamp;

    // --- split_text -----------------------------------------------------------------------

    /// Everything but whitespace, in order: what a split must never lose or reorder.
    fn ink(text: &str) -> String {
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

    // --- media --------------------------------------------------------------------------

    #[test]
    fn pictures_are_jpeg_png_and_small_gif() {
        assert_eq!(media_kind("image/jpeg", "label.jpg", 250_000), Ok(MediaKind::Picture));
        assert_eq!(
            media_kind("image/png", "scan.png", PICTURE_MAX_BYTES),
            Ok(MediaKind::Picture)
        );
        assert_eq!(media_kind("IMAGE/PNG; q=1", "scan", 1000), Ok(MediaKind::Picture));
        assert_eq!(media_kind("image/jpg", "x.jpeg", 1000), Ok(MediaKind::Picture));
        assert_eq!(
            media_kind("image/gif", "logo.gif", GIF_PICTURE_MAX_BYTES),
            Ok(MediaKind::Picture)
        );
    }

    #[test]
    fn pictures_over_their_limit_and_other_images_are_files() {
        assert_eq!(
            media_kind("image/jpeg", "photo.jpg", PICTURE_MAX_BYTES + 1),
            Ok(MediaKind::File)
        );
        assert_eq!(
            media_kind("image/gif", "dance.gif", GIF_PICTURE_MAX_BYTES + 1),
            Ok(MediaKind::File)
        );
        assert_eq!(media_kind("image/webp", "sticker.webp", 10_000), Ok(MediaKind::File));
        assert_eq!(media_kind("image/heic", "IMG_0001.HEIC", 10_000), Ok(MediaKind::File));
    }

    #[test]
    fn videos_are_mp4_up_to_26_mb() {
        assert_eq!(media_kind("video/mp4", "unboxing.mp4", 8_388_608), Ok(MediaKind::Video));
        assert_eq!(
            media_kind("video/mp4", "unboxing.mp4", VIDEO_MAX_BYTES),
            Ok(MediaKind::Video)
        );
        assert_eq!(
            media_kind("video/mp4", "long.mp4", VIDEO_MAX_BYTES + 1),
            Ok(MediaKind::File)
        );
        assert_eq!(media_kind("video/quicktime", "clip.mov", 1000), Ok(MediaKind::File));
    }

    #[test]
    fn a_generic_content_type_is_read_from_the_name() {
        assert_eq!(
            media_kind("application/octet-stream", "photo.JPG", 1000),
            Ok(MediaKind::Picture)
        );
        assert_eq!(media_kind("", "clip.mp4", 1000), Ok(MediaKind::Video));
        assert_eq!(
            media_kind("application/octet-stream", "data.csv", 1000),
            Ok(MediaKind::File)
        );
    }

    #[test]
    fn files_are_limited_to_50_mb() {
        assert_eq!(
            media_kind("application/pdf", "big.pdf", FILE_MAX_BYTES),
            Ok(MediaKind::File)
        );
        assert_eq!(
            media_kind("application/pdf", "big.pdf", FILE_MAX_BYTES + 1),
            Err(ReplyError::TooLarge {
                file_name: "big.pdf".into(),
                size: FILE_MAX_BYTES + 1,
                limit: FILE_MAX_BYTES
            })
        );
        assert!(media_kind("video/mp4", "huge.mp4", 60 * MB).is_err());
    }

    #[test]
    fn every_forbidden_extension_is_refused_in_any_case() {
        for ext in FORBIDDEN_EXTENSIONS {
            for name in [format!("setup.{ext}"), format!("SETUP.{}", ext.to_uppercase())] {
                assert_eq!(
                    media_kind("application/octet-stream", &name, 1000),
                    Err(ReplyError::ForbiddenExtension {
                        file_name: name.clone(),
                        extension: ext.to_string()
                    })
                );
            }
        }
        assert_eq!(FORBIDDEN_EXTENSIONS.len(), 44);
    }

    #[test]
    fn forbidden_extensions_cannot_hide() {
        // Trailing dots and spaces are dropped by Windows; a picture type does not make an .exe safe.
        assert!(matches!(
            media_kind("application/pdf", "setup.exe. ", 1000),
            Err(ReplyError::ForbiddenExtension { .. })
        ));
        assert!(matches!(
            media_kind("image/jpeg", "photo.exe", 1000),
            Err(ReplyError::ForbiddenExtension { .. })
        ));
        // Only the last extension counts, as for Viber.
        assert_eq!(
            media_kind("application/pdf", "setup.exe.pdf", 1000),
            Ok(MediaKind::File)
        );
        // Extensions that merely start like a forbidden one are fine.
        assert_eq!(
            media_kind("application/octet-stream", "notes.batch", 1000),
            Ok(MediaKind::File)
        );
    }

    #[test]
    fn a_file_needs_an_extension_its_type_can_supply() {
        assert_eq!(media_kind("application/pdf", "report", 1000), Ok(MediaKind::File));
        assert_eq!(
            media_kind("application/octet-stream", "README", 1000),
            Err(ReplyError::MissingExtension {
                file_name: "README".into()
            })
        );
        // A picture needs none: its link gets one.
        assert_eq!(media_kind("image/png", "screenshot", 1000), Ok(MediaKind::Picture));
    }

    #[test]
    fn empty_files_are_refused() {
        assert_eq!(
            media_kind("application/pdf", "a.pdf", 0),
            Err(ReplyError::EmptyFile {
                file_name: "a.pdf".into()
            })
        );
    }

    #[test]
    fn upload_check_refuses_what_can_never_be_sent() {
        assert_eq!(check_upload("return-form.pdf", "application/pdf", 183_912), Ok(()));
        assert_eq!(check_upload("photo.jpg", "image/jpeg", 5 * MB), Ok(()));
        assert_eq!(check_upload("film.mp4", "video/mp4", 40 * MB), Ok(()));
        assert!(matches!(
            check_upload("film.mp4", "video/mp4", 51 * MB),
            Err(ReplyError::TooLarge { .. })
        ));
        assert!(matches!(
            check_upload("app.apk", "application/vnd.android.package-archive", 1000),
            Err(ReplyError::ForbiddenExtension { .. })
        ));
        assert!(matches!(
            check_upload("noext", "application/octet-stream", 10),
            Err(ReplyError::MissingExtension { .. })
        ));
    }

    #[test]
    fn errors_read_well() {
        let too_large = media_kind("application/zip", "backup.zip", 60 * MB).unwrap_err();
        assert_eq!(
            too_large.to_string(),
            "\"backup.zip\" is 60 MB; Viber accepts files up to 50 MB"
        );
        let forbidden = media_kind("", "Setup.EXE", 10).unwrap_err();
        assert_eq!(
            forbidden.to_string(),
            "Viber does not accept .exe files (\"Setup.EXE\")"
        );
        let missing = media_kind("", "README", 10).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "\"README\" has no file extension (such as .pdf), which Viber needs to send it as a file"
        );
        assert_eq!(format_size(1_500_000), "1.5 MB");
        assert_eq!(format_size(512_000), "512 KB");
        assert_eq!(format_size(12), "12 bytes");
    }

    #[test]
    fn file_names_get_an_extension_and_fit_256_characters() {
        assert_eq!(
            viber_file_name(" return-form.pdf ", "application/pdf").unwrap(),
            "return-form.pdf"
        );
        assert_eq!(viber_file_name("Рахунок", "application/pdf").unwrap(), "Рахунок.pdf");
        assert_eq!(viber_file_name("", "application/pdf").unwrap(), "file.pdf");
        let long = format!("{}.docx", "д".repeat(300));
        let short = viber_file_name(&long, "").unwrap();
        assert_eq!(short.chars().count(), FILE_NAME_MAX_CHARS);
        assert!(short.ends_with("д.docx"));
        let emoji = format!("{}.pdf", "📄".repeat(200));
        assert!(viber_len(&viber_file_name(&emoji, "").unwrap()) <= FILE_NAME_MAX_CHARS);
    }

    #[test]
    fn the_link_extension_follows_the_kind() {
        use MediaKind::*;
        assert_eq!(extension_for(Picture, "image/jpeg", "label.JPG"), "JPG");
        assert_eq!(extension_for(Picture, "image/jpeg", "label.jpeg"), "jpeg");
        assert_eq!(extension_for(Picture, "image/jpeg", "scan.heic"), "jpeg");
        assert_eq!(extension_for(Picture, "image/png", "shot.jpg"), "png");
        assert_eq!(extension_for(Picture, "image/gif", "logo"), "gif");
        assert_eq!(extension_for(Picture, "", "photo.png"), "png");
        assert_eq!(extension_for(Video, "video/mp4", "clip.m4v"), "mp4");
        assert_eq!(extension_for(File, "application/pdf", "form.PDF"), "PDF");
        assert_eq!(extension_for(File, "application/pdf", "form"), "pdf");
        assert_eq!(extension_for(File, "application/x-unknown", "form"), "");
    }

    #[test]
    fn key_names_end_with_what_viber_checks() {
        use MediaKind::*;
        assert_eq!(media_key_name(Picture, "image/jpeg", "Label.JPG"), "Label.jpg");
        assert_eq!(media_key_name(Picture, "image/jpeg", "Скан 1.HEIC"), "Скан 1.jpeg");
        assert_eq!(media_key_name(Picture, "image/png", "screenshot"), "screenshot.png");
        assert_eq!(media_key_name(Video, "video/mp4", "clip.MP4"), "clip.mp4");
        assert_eq!(media_key_name(Video, "video/mp4", "clip"), "clip.mp4");
        assert_eq!(media_key_name(File, "application/pdf", "Form.PDF"), "Form.pdf");
        assert_eq!(media_key_name(File, "application/pdf", "form"), "form.pdf");
        assert_eq!(media_key_name(Picture, "image/png", ".png"), ".png.png");
    }

    #[test]
    fn key_names_survive_attachment_key_and_pass_the_link_check() {
        let id = AttachmentId::parse("a1").unwrap();
        let cases = [
            ("image/jpeg", "Скан 1.HEIC", 1000, MediaKind::Picture),
            ("image/png", "", 1000, MediaKind::Picture),
            ("image/gif", "anim?.gif", 1000, MediaKind::Picture),
            ("video/mp4", "my clip.MOV", 1000, MediaKind::Video),
            ("application/pdf", "Рахунок №5", 1000, MediaKind::File),
        ];
        for (content_type, file_name, size, expected) in cases {
            let kind = media_kind(content_type, file_name, size).unwrap();
            assert_eq!(kind, expected);
            let key = attachment_key(&id, &media_key_name(kind, content_type, file_name), None);
            let url = format!("https://bucket.s3.eu-central-1.amazonaws.com/{key}?X-Amz-Signature=abc");
            assert!(link_fits(kind, &url), "{url}");
        }
    }

    #[test]
    fn links_are_checked_on_their_last_path_segment() {
        assert!(link_fits(MediaKind::Picture, "https://x/a/label.jpg?Expires=1"));
        assert!(link_fits(MediaKind::Picture, "https://x/a/label.JPEG"));
        assert!(!link_fits(MediaKind::Picture, "https://x/a/label.jpg/download"));
        assert!(!link_fits(MediaKind::Picture, "https://x/a/label.webp"));
        assert!(link_fits(MediaKind::Video, "https://x/a/v.mp4"));
        assert!(!link_fits(MediaKind::Video, "https://x/a/v.mov"));
        assert!(link_fits(MediaKind::File, "https://x/a/anything"));
    }

    // --- sender -------------------------------------------------------------------------

    fn bot() -> BotProfile {
        BotProfile {
            name: "Acme Support".into(),
            uri: "acmesupport".into(),
            icon: Some("https://cdn.example.com/bot-avatar-720.jpg".into()),
        }
    }

    fn staff(name: &str, avatar: Option<&str>) -> StaffMember {
        StaffMember {
            id: StaffId::parse("ivan").unwrap(),
            name: name.into(),
            avatar_url: avatar.map(str::to_owned),
            role: Role::Staff,
            created_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn the_bot_sends_unless_the_option_is_on() {
        let ivan = staff("Іван", Some("https://cdn.example.com/staff/ivan-720.jpg"));
        let expected = Sender::new(
            "Acme Support",
            Some("https://cdn.example.com/bot-avatar-720.jpg".into()),
        );
        assert_eq!(sender_for(&bot(), false, Some(&ivan)), expected);
        assert_eq!(sender_for(&bot(), true, None), expected);
        assert_eq!(sender_for(&bot(), true, Some(&staff("  ", None))), expected);
    }

    #[test]
    fn the_staff_member_sends_with_the_option_on() {
        let ivan = staff("Support · Іван", Some("https://cdn.example.com/staff/ivan-720.jpg"));
        assert_eq!(
            sender_for(&bot(), true, Some(&ivan)),
            Sender::new(
                "Support · Іван",
                Some("https://cdn.example.com/staff/ivan-720.jpg".into())
            )
        );
        // Without an avatar of their own, the bot's icon is shown.
        let olena = staff("Олена", None);
        assert_eq!(sender_for(&bot(), true, Some(&olena)).avatar, bot().icon);
    }

    #[test]
    fn long_names_are_cut_to_28_characters_without_a_trailing_space() {
        let long = staff("Олександра-Вікторія Костянтинопольська", None);
        let sender = sender_for(&bot(), true, Some(&long));
        assert_eq!(sender.name, "Олександра-Вікторія Костянти");
        // The 28th character is a space.
        let spaced = staff("Customer Care Department of Acme", None);
        assert_eq!(
            sender_for(&bot(), true, Some(&spaced)).name,
            "Customer Care Department of"
        );
        let no_icon = BotProfile { icon: None, ..bot() };
        assert_eq!(sender_for(&no_icon, false, None), Sender::new("Acme Support", None));
    }

    // --- messages -----------------------------------------------------------------------

    const RECEIVER: &str = "9Kf2mQ1xT7bVnC3pLs8aZw==";

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/../fixtures/viber/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn fixture_sender() -> Sender {
        Sender::new(
            "Support · Іван",
            Some("https://cdn.example.com/staff/ivan-720.jpg".into()),
        )
    }

    fn attachment(file_name: &str, content_type: &str, size: u64) -> Attachment {
        Attachment {
            id: AttachmentId::parse("a1").unwrap(),
            file_name: file_name.into(),
            content_type: content_type.into(),
            size,
            available: true,
            unavailable_reason: None,
            awaiting_upload: false,
            blob_key: format!("attachments/a1/{file_name}"),
            created_at: Timestamp::from_millis(0),
        }
    }

    fn build(text: Option<&str>, attachments: &[(Attachment, String)]) -> Result<Vec<OutboundMessage>, ReplyError> {
        build_messages(
            RECEIVER,
            fixture_sender(),
            text,
            attachments,
            Some("ticket:4711".into()),
        )
    }

    fn json(message: &OutboundMessage) -> serde_json::Value {
        serde_json::to_value(message).unwrap()
    }

    /// A fixture without the optional fields a reply does not send (thumbnails, duration).
    fn without(mut value: serde_json::Value, fields: &[&str]) -> serde_json::Value {
        for field in fields {
            value.as_object_mut().unwrap().remove(*field);
        }
        value
    }

    #[test]
    fn text_then_one_message_per_attachment_in_the_fixture_shapes() {
        let text = fixture("send_text")["text"].as_str().unwrap().to_owned();
        let attachments = [
            (
                attachment("label.jpg", "image/jpeg", 48_000),
                "https://attachments.example.com/a/7f3c9e2b/label.jpg".to_owned(),
            ),
            (
                attachment("unboxing.mp4", "video/mp4", 8_388_608),
                "https://attachments.example.com/a/0d41aa17/unboxing.mp4".to_owned(),
            ),
            (
                attachment("return-form.pdf", "application/pdf", 183_912),
                "https://attachments.example.com/a/5e90c1d4/return-form.pdf".to_owned(),
            ),
        ];
        let messages = build(Some(&text), &attachments).unwrap();
        let values: Vec<_> = messages.iter().map(json).collect();
        assert_eq!(
            values,
            vec![
                fixture("send_text"),
                without(fixture("send_picture"), &["thumbnail"]),
                without(fixture("send_video"), &["thumbnail", "duration"]),
                fixture("send_file"),
            ]
        );
    }

    #[test]
    fn a_long_text_is_several_messages_before_the_attachments() {
        let text = "Перевіряю ваше замовлення. ".repeat(600);
        let attachments = [(
            attachment("label.png", "image/png", 1000),
            "https://x.example/a/label.png".to_owned(),
        )];
        let messages = build(Some(&text), &attachments).unwrap();
        assert_eq!(messages.len(), 4);
        let texts: Vec<&str> = messages[..3]
            .iter()
            .map(|m| match &m.content {
                Content::Text { text } => text.as_str(),
                other => panic!("expected text, got {other:?}"),
            })
            .collect();
        assert!(texts.iter().all(|t| viber_len(t) <= TEXT_MAX_CHARS));
        assert_eq!(ink(&texts.concat()), ink(&text));
        assert!(matches!(messages[3].content, Content::Picture { .. }));
        assert!(
            messages
                .iter()
                .all(|m| m.tracking_data.as_deref() == Some("ticket:4711"))
        );
    }

    #[test]
    fn attachments_alone_are_a_reply() {
        let attachments = [(
            attachment("a.pdf", "application/pdf", 10),
            "https://x.example/a/a.pdf".to_owned(),
        )];
        let messages = build(None, &attachments).unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(
            build(Some("  \n "), &attachments).unwrap(),
            messages,
            "blank text adds nothing"
        );
    }

    #[test]
    fn an_empty_reply_is_refused() {
        assert_eq!(build(None, &[]), Err(ReplyError::EmptyReply));
        assert_eq!(build(Some(""), &[]), Err(ReplyError::EmptyReply));
        assert_eq!(build(Some(" \n\t"), &[]), Err(ReplyError::EmptyReply));
    }

    #[test]
    fn a_picture_or_video_whose_link_lacks_the_extension_goes_as_a_file() {
        let attachments = [
            (
                attachment("photo.jpg", "image/jpeg", 1000),
                "https://x.example/blobs/a1?sig=1".to_owned(),
            ),
            (
                attachment("clip.mp4", "video/mp4", 1000),
                "https://x.example/a/clip.mp4/raw".to_owned(),
            ),
        ];
        let messages = build(None, &attachments).unwrap();
        assert!(matches!(&messages[0].content, Content::File { file_name, .. } if file_name == "photo.jpg"));
        assert!(matches!(&messages[1].content, Content::File { file_name, .. } if file_name == "clip.mp4"));
    }

    #[test]
    fn large_media_and_odd_names_go_as_files() {
        let long_name = format!("{}.pdf", "a".repeat(400));
        let attachments = [
            (
                attachment("photo.jpg", "image/jpeg", 2 * MB),
                "https://x.example/a/photo.jpg".to_owned(),
            ),
            (
                attachment(&long_name, "application/pdf", 1000),
                "https://x.example/a/long.pdf".to_owned(),
            ),
            (
                attachment("Рахунок", "application/pdf", 1000),
                "https://x.example/a/r.pdf".to_owned(),
            ),
        ];
        let messages = build(None, &attachments).unwrap();
        assert_eq!(
            json(&messages[0])["type"],
            "file",
            "a 2 MB photo is over the picture limit"
        );
        assert_eq!(json(&messages[0])["size"], 2 * MB);
        let name = json(&messages[1])["file_name"].as_str().unwrap().to_owned();
        assert_eq!(name.chars().count(), FILE_NAME_MAX_CHARS);
        assert!(name.ends_with(".pdf"));
        assert_eq!(json(&messages[2])["file_name"], "Рахунок.pdf");
    }

    #[test]
    fn unsendable_attachments_are_refused() {
        let url = "https://x.example/a/f.pdf".to_owned();
        let mut missing = attachment("f.pdf", "application/pdf", 10);
        missing.available = false;
        missing.unavailable_reason = Some("the upload never finished".into());
        assert_eq!(
            build(Some("hi"), &[(missing, url.clone())]).unwrap_err().to_string(),
            "\"f.pdf\" is not available: the upload never finished"
        );
        assert!(matches!(
            build(
                None,
                &[(attachment("run.exe", "application/octet-stream", 10), url.clone())]
            ),
            Err(ReplyError::ForbiddenExtension { .. })
        ));
        for bad in ["s3://bucket/a/f.pdf", "file:///tmp/f.pdf", "/a/f.pdf", ""] {
            assert_eq!(
                build(None, &[(attachment("f.pdf", "application/pdf", 10), bad.to_owned())]),
                Err(ReplyError::InvalidMediaUrl {
                    file_name: "f.pdf".into()
                }),
                "{bad}"
            );
        }
    }

    #[test]
    fn tracking_data_is_limited_and_optional() {
        let messages = build_messages(RECEIVER, fixture_sender(), Some("hi"), &[], None).unwrap();
        assert!(json(&messages[0]).get("tracking_data").is_none(), "never null");
        let exactly = "t".repeat(TRACKING_DATA_MAX_CHARS);
        assert!(build_messages(RECEIVER, fixture_sender(), Some("hi"), &[], Some(exactly)).is_ok());
        let over = "t".repeat(TRACKING_DATA_MAX_CHARS + 1);
        assert_eq!(
            build_messages(RECEIVER, fixture_sender(), Some("hi"), &[], Some(over)),
            Err(ReplyError::TrackingDataTooLong { length: 4001 })
        );
    }

    #[test]
    fn every_message_fits_the_request_limit() {
        // Control characters are escaped as \u0001 by JSON: 7000 of them would be 42 KB.
        let text = "\u{1}".repeat(7000);
        let messages = build(Some(&text), &[]).unwrap();
        assert!(messages.len() >= 2);
        for message in &messages {
            assert!(serde_json::to_vec(message).unwrap().len() <= REQUEST_MAX_BYTES);
        }
        let total: usize = messages
            .iter()
            .map(|m| match &m.content {
                Content::Text { text } => text.chars().count(),
                _ => 0,
            })
            .sum();
        assert_eq!(total, 7000);
        // The worst ordinary text: 7000 three-byte characters with quotes.
        let cjk = "字\"".repeat(3500);
        assert_eq!(build(Some(&cjk), &[]).unwrap().len(), 1);
    }

    #[test]
    fn a_message_that_cannot_fit_is_refused() {
        let url = format!("https://x.example/{}/f.pdf", "a".repeat(31_000));
        assert!(matches!(
            build(None, &[(attachment("f.pdf", "application/pdf", 10), url)]),
            Err(ReplyError::MessageTooLarge { .. })
        ));
        let huge_avatar = Sender::new("Acme", Some(format!("https://x.example/{}.jpg", "a".repeat(31_000))));
        assert!(matches!(
            build_messages(RECEIVER, huge_avatar, Some("hi"), &[], None),
            Err(ReplyError::MessageTooLarge { .. })
        ));
    }

    #[test]
    fn the_same_reply_builds_the_same_messages() {
        let text = "Абзац один.\n\n".repeat(1000);
        let attachments = [(
            attachment("a.png", "image/png", 10),
            "https://x.example/a/a.png".to_owned(),
        )];
        assert_eq!(build(Some(&text), &attachments), build(Some(&text), &attachments));
    }

    // --- quick replies ------------------------------------------------------------------

    fn contact(name: Option<&str>, phone: Option<&str>) -> Contact {
        Contact {
            id: ContactId::parse("c1").unwrap(),
            integration_id: IntegrationId::parse("acme").unwrap(),
            viber_user_id: RECEIVER.into(),
            name: name.map(str::to_owned),
            avatar_url: None,
            language: Some("uk".into()),
            country: Some("UA".into()),
            api_version: Some(10),
            phone: phone.map(str::to_owned),
            subscribed: true,
            subscription_changed_at: None,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
            current_task: None,
            version: 1,
        }
    }

    #[test]
    fn placeholders_are_filled() {
        let olena = contact(Some("Олена"), Some("+380671234567"));
        let ivan = staff("Іван", None);
        let template = "Вітаю, {client_name}! Я {staff_name} з {bot_name}. Ми зателефонуємо на {client_phone}.";
        assert_eq!(
            render_quick_reply(template, &olena, Some(&ivan), "Acme Support"),
            "Вітаю, Олена! Я Іван з Acme Support. Ми зателефонуємо на +380671234567."
        );
    }

    #[test]
    fn unknown_placeholders_and_stray_braces_stay() {
        let olena = contact(Some("Олена"), None);
        assert_eq!(
            render_quick_reply("{client_name}: order {order_id} {", &olena, None, "Acme"),
            "Олена: order {order_id} {"
        );
        assert_eq!(render_quick_reply("{{client_name}}", &olena, None, "Acme"), "{Олена}");
        assert_eq!(
            render_quick_reply("{Client_Name}", &olena, None, "Acme"),
            "{Client_Name}"
        );
    }

    #[test]
    fn values_are_not_expanded_again() {
        let tricky = contact(Some("{staff_name}"), None);
        assert_eq!(
            render_quick_reply("Hi {client_name}, I am {staff_name}", &tricky, None, "Acme"),
            "Hi {staff_name}, I am Acme"
        );
    }

    #[test]
    fn without_a_staff_member_the_bot_signs() {
        let olena = contact(Some("Олена"), None);
        assert_eq!(
            render_quick_reply("— {staff_name}", &olena, None, "Acme Support"),
            "— Acme Support"
        );
        let blank = staff(" ", None);
        assert_eq!(
            render_quick_reply("— {staff_name}", &olena, Some(&blank), "Acme"),
            "— Acme"
        );
    }

    #[test]
    fn a_client_without_a_name_reads_naturally() {
        let nameless = contact(None, None);
        let cases = [
            ("Вітаю, {client_name}!", "Вітаю!"),
            ("Hi {client_name}!", "Hi!"),
            ("Hi {client_name}, thanks for waiting.", "Hi, thanks for waiting."),
            ("Hi, {client_name}, thanks.", "Hi, thanks."),
            (
                "Hello, {client_name}\nYour order shipped.",
                "Hello\nYour order shipped.",
            ),
            ("Dear {client_name} we are sorry", "Dear we are sorry"),
            ("{client_name}, дякуємо за звернення.", "Дякуємо за звернення."),
            (
                "Привіт!\n{client_name}, ваше замовлення готове.",
                "Привіт!\nВаше замовлення готове.",
            ),
            ("{client_name}", ""),
            ("Hi {client_name} {client_phone}!", "Hi!"),
            ("We will call {client_phone}.", "We will call."),
        ];
        for (template, expected) in cases {
            assert_eq!(
                render_quick_reply(template, &nameless, None, "Acme"),
                expected,
                "{template}"
            );
        }
        let blank = contact(Some("   "), None);
        assert_eq!(
            render_quick_reply("Вітаю, {client_name}!", &blank, None, "Acme"),
            "Вітаю!"
        );
    }

    #[test]
    fn names_are_trimmed() {
        let spaced = contact(Some("  Олена \n"), None);
        assert_eq!(
            render_quick_reply("Вітаю, {client_name}!", &spaced, None, "Acme"),
            "Вітаю, Олена!"
        );
    }
}
