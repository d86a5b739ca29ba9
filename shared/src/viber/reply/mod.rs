//! What a staff reply becomes in Viber (docs/outbox.md, docs/viber-api.md §6), by concern:
//! - `text`: the text cut into parts Viber accepts ([`split_text`], [`viber_len`]);
//! - `identity`: the sender the client sees ([`sender_for`]);
//! - `messages`: the `send_message` bodies, text parts first, then one message per attachment
//!   ([`build_messages`]);
//! - which type each attachment goes as (`picture`, `video` or `file`) and under which name is
//!   decided in [`super::attachments`], the home of media kinds and file names.
//!
//! Pure functions, no I/O.
//!
//! Where the documents disagree or are vague, the stricter reading is taken, because a message
//! Viber refuses (or a client cannot open) is worse than one that is split or sent as a file
//! (docs/viber-api.md §6.1):
//! - sizes are decimal: 1 MB = 1,000,000 bytes, 30 KB = 30,000 bytes;
//! - lengths are counted in UTF-16 code units ([`viber_len`]): never fewer than characters, so a
//!   text fits whether Viber counts characters or UTF-16 units;
//! - pictures up to 1 MB (the iOS limit; the receiver's device is unknown), videos up to 26 MB.
//!
//! Every [`ReplyError`] is permanent: sending the same reply again fails the same way.

mod identity;
mod messages;
mod text;

pub use identity::sender_for;
pub use messages::{REQUEST_MAX_BYTES, TRACKING_DATA_MAX_CHARS, build_messages};
pub(crate) use text::fitting_prefix;
pub use text::{TEXT_MAX_CHARS, split_text, viber_len};

use super::attachments::MB;

// What the staff API checks of a reply's attachments, re-exported from their home.
pub use super::attachments::{FILE_NAME_MAX_CHARS, check_upload, media_key_name, media_kind};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
