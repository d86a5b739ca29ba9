//! The `send_message` bodies of a reply: its text parts, then one message per attachment, each
//! within Viber's limits.

use super::ReplyError;
use super::text::{TEXT_MAX_CHARS, split_text, viber_len};
use crate::model::Attachment;
use crate::viber::attachments::{MediaKind, check_file, link_fits, media_kind, viber_file_name};
use crate::viber::message::{Content, OutboundMessage, SenderIdentity};

/// Viber's limit on `tracking_data` (docs/viber-api.md §6).
pub const TRACKING_DATA_MAX_CHARS: usize = 4000;
/// Viber's limit on any request body: 30 KB of JSON (docs/viber-api.md §1), read as 30,000 bytes.
pub const REQUEST_MAX_BYTES: usize = 30_000;

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
    sender: SenderIdentity,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AttachmentId;
    use crate::time::Timestamp;
    use crate::viber::attachments::{FILE_NAME_MAX_CHARS, MB};
    use crate::viber::reply::text::tests::ink;

    const RECEIVER: &str = "9Kf2mQ1xT7bVnC3pLs8aZw==";

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/../fixtures/viber/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn fixture_sender() -> SenderIdentity {
        SenderIdentity::new(
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
        let huge_avatar = SenderIdentity::new("Acme", Some(format!("https://x.example/{}.jpg", "a".repeat(31_000))));
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
}
