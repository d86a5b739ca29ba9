//! `reply::build_messages`: any valid staff reply (text and files, as the staff API accepts them)
//! builds; every message it builds is within Viber's limits (text length, file name rules, sizes,
//! request size), in order (text parts, then one message per attachment), and as many as the
//! staff API counted when the reply was posted (it builds with stand-in links); anything invalid
//! is refused with a [`ReplyError`] its input justifies, never a panic.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;
use shared::ids::AttachmentId;
use shared::model::{Attachment, BotProfile};
use shared::time::Timestamp;
use shared::viber::SENDER_NAME_MAX_CHARS;
use shared::viber::attachments::{
    FILE_MAX_BYTES, FORBIDDEN_EXTENSIONS, MediaKind, PICTURE_MAX_BYTES, VIDEO_MAX_BYTES, attachment_key, extension,
    url_file_name,
};
use shared::viber::message::{Content, OutboundMessage, SenderIdentity};
use shared::viber::reply::{
    FILE_NAME_MAX_CHARS, REQUEST_MAX_BYTES, ReplyError, TEXT_MAX_CHARS, TRACKING_DATA_MAX_CHARS, build_messages,
    media_key_name, media_kind, sender_for, split_text, viber_len,
};

use super::split::check_parts;
use super::text::{any_text, reply_text};
use crate::build;

/// The arguments of one `build_messages` call.
#[derive(Debug, Clone)]
pub struct Reply {
    pub receiver: String,
    pub sender: SenderIdentity,
    pub text: Option<String>,
    pub attachments: Vec<(Attachment, String)>,
    pub tracking_data: Option<String>,
}

impl Reply {
    fn build(&self) -> Result<Vec<OutboundMessage>, ReplyError> {
        build_messages(
            &self.receiver,
            self.sender.clone(),
            self.text.as_deref(),
            &self.attachments,
            self.tracking_data.clone(),
        )
    }

    /// What the staff API builds to count the reply's parts when it is posted: the same reply
    /// with stand-in links (functions/api, `count_sendable_parts`).
    fn build_with_stand_in_links(&self) -> Result<Vec<OutboundMessage>, ReplyError> {
        let attachments: Vec<_> = self
            .attachments
            .iter()
            .map(|(a, _)| (a.clone(), format!("https://bucket.invalid/{}", a.blob_key)))
            .collect();
        Reply {
            attachments,
            ..self.clone()
        }
        .build()
    }
}

/// Extensions with the content types a browser sends for them (or a generic one).
const FILE_TYPES: &[(&str, &str)] = &[
    ("jpg", "image/jpeg"),
    ("JPG", "application/octet-stream"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("png", ""),
    ("gif", "image/gif"),
    ("mp4", "video/mp4"),
    ("MP4", "application/octet-stream"),
    ("mov", "video/quicktime"),
    ("heic", "image/heic"),
    ("webp", "image/webp"),
    ("pdf", "application/pdf"),
    ("pdf", "application/pdf; charset=binary"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("txt", "text/plain"),
    ("csv", "application/octet-stream"),
    ("xyz", "application/octet-stream"),
];

/// Sizes at and around every limit.
fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        1u64..=FILE_MAX_BYTES,
        select(
            &[
                1,
                100_000,
                100_001,
                PICTURE_MAX_BYTES,
                PICTURE_MAX_BYTES + 1,
                VIDEO_MAX_BYTES,
                VIDEO_MAX_BYTES + 1,
                FILE_MAX_BYTES
            ][..]
        ),
    ]
}

/// A file name: any text with a letter in it (so something is left once trimmed), and an
/// extension or not.
fn file_name_and_type() -> impl Strategy<Value = (String, String)> {
    (
        prop::char::range('a', 'z'),
        any_text(300),
        select(FILE_TYPES),
        any::<bool>(),
    )
        .prop_map(|(letter, stem, (ext, content_type), with_extension)| {
            let name = if with_extension || content_type.is_empty() || content_type.contains("octet") {
                format!("{letter}{stem}.{ext}")
            } else {
                // Without a dot, so that the stem does not bring an extension of its own (such as
                // a forbidden `.ipa`, which property-bench once generated).
                format!("{letter}{}", stem.replace('.', ""))
            };
            (name, content_type.to_owned())
        })
}

fn attachment(file_name: String, content_type: String, size: u64) -> Attachment {
    let id = AttachmentId::parse("a1").expect("a valid id");
    // Where the staff API stores an upload (functions/api, `upload_key`).
    let key_name = match media_kind(&content_type, &file_name, size) {
        Ok(kind) => media_key_name(kind, &content_type, &file_name),
        Err(_) => file_name.clone(),
    };
    Attachment {
        blob_key: attachment_key(&id, &key_name, None),
        id,
        file_name,
        content_type,
        size,
        available: true,
        unavailable_reason: None,
        awaiting_upload: false,
        created_at: Timestamp::from_millis(1_764_000_000_000),
    }
}

/// An attachment the staff API accepts, with its presigned link.
fn valid_attachment() -> impl Strategy<Value = (Attachment, String)> {
    (file_name_and_type(), size()).prop_map(|((file_name, content_type), size)| {
        let attachment = attachment(file_name, content_type, size);
        let url = format!(
            "https://viberdesk-attachments.s3.eu-central-1.amazonaws.com/{}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=86400&X-Amz-Signature=0f1e2d",
            attachment.blob_key
        );
        (attachment, url)
    })
}

fn avatar_url() -> impl Strategy<Value = Option<String>> {
    option::of(any_text(100).prop_map(|path| format!("https://cdn.example.com/{path}.jpg")))
}

/// Who the reply is from: the bot or the staff member, with any names.
fn sender() -> BoxedStrategy<SenderIdentity> {
    (
        prop::char::range('A', 'Z'),
        any_text(40),
        any_text(60),
        avatar_url(),
        avatar_url(),
        any::<bool>(),
    )
        .prop_map(|(letter, bot_name, staff_name, icon, avatar, as_staff)| {
            let bot = BotProfile {
                name: format!("{letter}{bot_name}"),
                uri: "acmesupport".into(),
                icon,
            };
            let mut staff = build::staff("s1").name(&staff_name);
            if let Some(avatar) = &avatar {
                staff = staff.avatar(avatar);
            }
            sender_for(&bot, as_staff, Some(&staff.build()))
        })
        .boxed()
}

/// A reply the staff API accepts: text (any, up to several parts) and/or valid attachments.
pub fn valid_reply() -> BoxedStrategy<Reply> {
    (
        "[A-Za-z0-9+/]{22}==",
        sender(),
        option::of(prop_oneof![
            8 => reply_text(40, 200),
            1 => reply_text(6, TEXT_MAX_CHARS),
        ]),
        vec(valid_attachment(), 0..4),
        option::of(any_text(200)),
    )
        .prop_map(|(receiver, sender, mut text, attachments, tracking_data)| {
            if attachments.is_empty() {
                // Something to send: a text with at least one visible character.
                text = Some(format!("{}!", text.unwrap_or_default()));
            }
            Reply {
                receiver,
                sender,
                text,
                attachments,
                tracking_data,
            }
        })
        .boxed()
}

/// What can be wrong with a reply.
#[derive(Debug, Clone)]
pub enum Fault {
    NoAttachments,
    Text(String),
    Tracking(String),
    Avatar(String),
    Unavailable(Index, Option<String>),
    Size(Index, u64),
    Name(Index, String),
    ContentType(Index, String),
    Url(Index, String),
}

fn fault() -> impl Strategy<Value = Fault> {
    let index = any::<Index>;
    let bad_name = prop_oneof![
        select(
            &[
                "run.exe",
                "Setup.EXE",
                "x.exe.",
                "x.exe ",
                "a.pdf.apk",
                "README",
                ".pdf",
                "",
                " ",
                "...",
                "a.vbscript"
            ][..]
        )
        .prop_map(str::to_owned),
        any_text(30),
        any_text(400),
    ];
    let bad_url = prop_oneof![
        select(
            &[
                "s3://bucket/a/f.pdf",
                "file:///tmp/f.pdf",
                "/a/f.pdf",
                "",
                "https://",
                "http:x",
                "https://x.example/a/noext"
            ][..]
        )
        .prop_map(str::to_owned),
        any_text(40),
        (1usize..40_000).prop_map(|n| format!("https://x.example/{}/f.pdf", "a".repeat(n))),
    ];
    prop_oneof![
        1 => Just(Fault::NoAttachments),
        2 => prop_oneof![any_text(20), reply_text(6, TEXT_MAX_CHARS), Just("\u{1}".repeat(TEXT_MAX_CHARS + 1))]
            .prop_map(Fault::Text),
        2 => prop_oneof![
            any_text(5000),
            (TRACKING_DATA_MAX_CHARS - 1..=TRACKING_DATA_MAX_CHARS + 1).prop_map(|n| "t".repeat(n)),
            (1999usize..=2001).prop_map(|n| "😀".repeat(n)),
            (1usize..6000).prop_map(|n| "\u{1}".repeat(n)),
        ]
        .prop_map(Fault::Tracking),
        1 => (1usize..40_000).prop_map(|n| Fault::Avatar(format!("https://x.example/{}.jpg", "a".repeat(n)))),
        2 => (index(), option::of(any_text(30))).prop_map(|(i, reason)| Fault::Unavailable(i, reason)),
        2 => (index(), prop_oneof![Just(0u64), Just(FILE_MAX_BYTES + 1), Just(u64::MAX), any::<u64>()])
            .prop_map(|(i, size)| Fault::Size(i, size)),
        3 => (index(), bad_name).prop_map(|(i, name)| Fault::Name(i, name)),
        1 => (index(), prop_oneof![any_text(30), select(&["", "application/octet-stream", "image/png", "video/mp4"][..]).prop_map(str::to_owned)])
            .prop_map(|(i, t)| Fault::ContentType(i, t)),
        3 => (index(), bad_url).prop_map(|(i, url)| Fault::Url(i, url)),
    ]
}

/// Any reply: a valid one with a few faults.
pub fn any_reply() -> BoxedStrategy<Reply> {
    (valid_reply(), vec(fault(), 0..4))
        .prop_map(|(mut reply, faults)| {
            for fault in faults {
                let n = reply.attachments.len();
                let at = |i: &Index| (n > 0).then(|| i.index(n));
                match fault {
                    Fault::NoAttachments => reply.attachments.clear(),
                    Fault::Text(text) => reply.text = Some(text),
                    Fault::Tracking(data) => reply.tracking_data = Some(data),
                    Fault::Avatar(url) => reply.sender.avatar = Some(url),
                    Fault::Unavailable(i, reason) => {
                        if let Some(i) = at(&i) {
                            reply.attachments[i].0.available = false;
                            reply.attachments[i].0.unavailable_reason = reason;
                        }
                    }
                    Fault::Size(i, size) => {
                        if let Some(i) = at(&i) {
                            reply.attachments[i].0.size = size;
                        }
                    }
                    Fault::Name(i, name) => {
                        if let Some(i) = at(&i) {
                            let a = &reply.attachments[i].0;
                            reply.attachments[i].0 = attachment(name, a.content_type.clone(), a.size);
                        }
                    }
                    Fault::ContentType(i, content_type) => {
                        if let Some(i) = at(&i) {
                            reply.attachments[i].0.content_type = content_type;
                        }
                    }
                    Fault::Url(i, url) => {
                        if let Some(i) = at(&i) {
                            reply.attachments[i].1 = url;
                        }
                    }
                }
            }
            reply
        })
        .boxed()
}

/// A valid reply builds, and with stand-in links too, into as many messages.
pub fn builds(reply: Reply) -> Result<(), TestCaseError> {
    let messages = reply
        .build()
        .map_err(|e| TestCaseError::fail(format!("a valid reply refused: {e:?}")))?;
    check_messages(&reply, &messages)?;
    let counted = reply
        .build_with_stand_in_links()
        .map_err(|e| TestCaseError::fail(format!("refused with stand-in links: {e:?}")))?;
    prop_assert_eq!(counted.len(), messages.len(), "the API counted another number of parts");
    Ok(())
}

/// Any reply builds valid messages or is refused for a reason it has.
pub fn builds_or_refuses(reply: Reply) -> Result<(), TestCaseError> {
    match reply.build() {
        Ok(messages) => {
            check_messages(&reply, &messages)?;
            if let Ok(counted) = reply.build_with_stand_in_links() {
                prop_assert_eq!(counted.len(), messages.len(), "the API counted another number of parts");
            }
            Ok(())
        }
        Err(error) => justified(&reply, &error),
    }
}

fn json_len(message: &OutboundMessage) -> usize {
    serde_json::to_vec(message).expect("serialises").len()
}

/// Every message within Viber's limits, text parts first, then the attachments in order.
fn check_messages(reply: &Reply, messages: &[OutboundMessage]) -> Result<(), TestCaseError> {
    for message in messages {
        prop_assert_eq!(message.receiver.as_deref(), Some(reply.receiver.as_str()));
        prop_assert_eq!(message.min_api_version, Some(1));
        prop_assert_eq!(&message.sender, &reply.sender);
        prop_assert_eq!(&message.tracking_data, &reply.tracking_data);
        prop_assert!(
            viber_len(&message.sender.name) <= SENDER_NAME_MAX_CHARS,
            "sender name over {} units: {:?}",
            SENDER_NAME_MAX_CHARS,
            message.sender.name
        );
        prop_assert!(message.tracking_data.as_deref().map_or(0, viber_len) <= TRACKING_DATA_MAX_CHARS);
        let bytes = json_len(message);
        prop_assert!(bytes <= REQUEST_MAX_BYTES, "a message of {} bytes", bytes);
    }
    let texts: Vec<&str> = messages
        .iter()
        .map_while(|m| match &m.content {
            Content::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let text = reply.text.as_deref().unwrap_or("");
    check_parts(text, TEXT_MAX_CHARS, &texts)?;
    // As many text messages as `split_text` parts, unless a part's JSON is over the request
    // limit (characters JSON escapes at length), which is split further.
    let split = split_text(text, TEXT_MAX_CHARS);
    let template = |text: &str| OutboundMessage {
        receiver: Some(reply.receiver.clone()),
        min_api_version: Some(1),
        sender: reply.sender.clone(),
        tracking_data: reply.tracking_data.clone(),
        content: Content::Text { text: text.to_owned() },
    };
    if split.iter().all(|part| json_len(&template(part)) <= REQUEST_MAX_BYTES) {
        prop_assert_eq!(texts.len(), split.len());
    } else {
        prop_assert!(texts.len() > split.len());
    }
    let media = &messages[texts.len()..];
    prop_assert_eq!(media.len(), reply.attachments.len());
    for (message, (attachment, url)) in media.iter().zip(&reply.attachments) {
        check_media(&message.content, attachment, url)?;
    }
    Ok(())
}

fn link_extension(url: &str) -> Option<String> {
    url_file_name(url).and_then(|name| extension(&name).map(str::to_ascii_lowercase))
}

fn check_media(content: &Content, attachment: &Attachment, url: &str) -> Result<(), TestCaseError> {
    match content {
        Content::Text { .. } => prop_assert!(false, "a text after the text parts"),
        Content::Picture { text, media, thumbnail } => {
            prop_assert_eq!(media, url);
            prop_assert!(text.is_empty() && thumbnail.is_none());
            prop_assert_eq!(
                media_kind(&attachment.content_type, &attachment.file_name, attachment.size),
                Ok(MediaKind::Picture)
            );
            prop_assert!(attachment.size <= PICTURE_MAX_BYTES);
            let ext = link_extension(url);
            prop_assert!(
                matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png" | "gif")),
                "a picture's link ends in {:?}",
                ext
            );
        }
        Content::Video { media, size, .. } => {
            prop_assert_eq!(media, url);
            prop_assert_eq!(*size, attachment.size);
            prop_assert!(*size <= VIDEO_MAX_BYTES);
            let ext = link_extension(url);
            prop_assert_eq!(ext.as_deref(), Some("mp4"));
        }
        Content::File { media, size, file_name } => {
            prop_assert_eq!(media, url);
            prop_assert_eq!(*size, attachment.size);
            prop_assert!(*size > 0 && *size <= FILE_MAX_BYTES);
            prop_assert!(
                viber_len(file_name) <= FILE_NAME_MAX_CHARS,
                "a file name of {} units",
                viber_len(file_name)
            );
            let ext = extension(file_name).map(str::to_ascii_lowercase);
            prop_assert!(ext.is_some(), "no extension: {:?}", file_name);
            prop_assert!(
                !FORBIDDEN_EXTENSIONS.contains(&ext.as_deref().unwrap_or("")),
                "forbidden: {:?}",
                file_name
            );
        }
    }
    Ok(())
}

fn cleaned(file_name: &str) -> &str {
    file_name.trim().trim_end_matches(['.', ' ']).trim()
}

fn named<'a>(reply: &'a Reply, file_name: &'a str) -> impl Iterator<Item = &'a (Attachment, String)> {
    reply.attachments.iter().filter(move |(a, _)| a.file_name == file_name)
}

/// The error names an attachment (or a field) that has the problem it reports.
fn justified(reply: &Reply, error: &ReplyError) -> Result<(), TestCaseError> {
    let named = |name| named(reply, name);
    let ok = match error {
        ReplyError::EmptyReply => {
            reply.attachments.is_empty() && reply.text.as_deref().is_none_or(|t| t.trim().is_empty())
        }
        ReplyError::TrackingDataTooLong { length } => {
            reply.tracking_data.as_deref().map(viber_len) == Some(*length) && *length > TRACKING_DATA_MAX_CHARS
        }
        ReplyError::EmptyFile { file_name } => named(file_name).any(|(a, _)| a.size == 0),
        ReplyError::TooLarge { file_name, size, limit } => {
            *limit == FILE_MAX_BYTES && *size > *limit && named(file_name).any(|(a, _)| a.size == *size)
        }
        ReplyError::ForbiddenExtension { file_name, extension } => {
            FORBIDDEN_EXTENSIONS.contains(&extension.as_str())
                && named(file_name).next().is_some()
                && cleaned(file_name)
                    .to_ascii_lowercase()
                    .ends_with(&format!(".{extension}"))
        }
        ReplyError::MissingExtension { file_name } => {
            named(file_name).next().is_some() && extension(cleaned(file_name)).is_none()
        }
        ReplyError::Unavailable { file_name, reason } => {
            named(file_name).any(|(a, _)| !a.available && a.unavailable_reason.as_deref().is_none_or(|r| r == reason))
        }
        ReplyError::InvalidMediaUrl { file_name } => named(file_name).any(|(_, url)| {
            !reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        }),
        ReplyError::MessageTooLarge { bytes } => {
            // Only what is not text can make a message too large: the text is split further,
            // down to one character per message, which may still not fit.
            let empty = json_len(&OutboundMessage {
                receiver: Some(reply.receiver.clone()),
                min_api_version: Some(1),
                sender: reply.sender.clone(),
                tracking_data: reply.tracking_data.clone(),
                content: Content::Text { text: String::new() },
            });
            let largest_link = reply
                .attachments
                .iter()
                .map(|(a, url)| serde_json::to_string(url).map_or(0, |u| u.len()) + 4 * a.file_name.len() + 100)
                .max()
                .unwrap_or(0);
            let widest_character = reply
                .text
                .as_deref()
                .unwrap_or("")
                .chars()
                .map(|c| serde_json::to_string(&c).map_or(0, |json| json.len() - 2))
                .max()
                .unwrap_or(0);
            *bytes > REQUEST_MAX_BYTES
                && (empty + widest_character > REQUEST_MAX_BYTES || empty + largest_link > REQUEST_MAX_BYTES)
        }
    };
    prop_assert!(ok, "refused without reason: {:?}", error);
    Ok(())
}
