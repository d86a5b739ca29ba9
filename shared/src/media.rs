//! Copying media a Viber user sent (picture, video, file) before Viber's link expires (links
//! live one hour, API.md §3.5): a bounded, streaming download, and the names and keys of the
//! copies.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};

use crate::ids::{AttachmentId, IntegrationId};
use crate::time::Timestamp;

/// The largest media file copied: Viber's largest documented media limit (files and, in older
/// docs, videos: 50 MB, API.md §6), read generously as 50 MiB.
pub const MAX_MEDIA_BYTES: u64 = 50 * 1024 * 1024;

/// A Viber link whose `Expires` passed more than this long ago is not even tried (clock skew).
const EXPIRY_GRACE_SECONDS: i64 = 30;

/// Why media could not be copied. The message is written for staff reading the attachment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("the media link cannot be downloaded: {0}")]
    UnsupportedUrl(String),
    #[error("Viber's link to the file expired before it could be copied")]
    Expired,
    #[error("{}", too_large(*limit, *size))]
    TooLarge { limit: u64, size: Option<u64> },
    #[error("Viber's media server answered HTTP {}", status_text(*.0))]
    Status(u16),
    #[error("the download from Viber's media server timed out")]
    Timeout,
    #[error("the download from Viber's media server failed: {0}")]
    Transport(String),
}

impl MediaError {
    /// Whether trying again later may succeed (server errors, timeouts, broken connections);
    /// a link that is not http(s), has expired, or a file over the limit never will.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            MediaError::Status(_) | MediaError::Timeout | MediaError::Transport(_)
        )
    }
}

fn too_large(limit: u64, size: Option<u64>) -> String {
    let limit = if limit.is_multiple_of(1024 * 1024) {
        format!("{} MB", limit / (1024 * 1024))
    } else {
        format!("{limit} bytes")
    };
    match size {
        Some(size) => format!("the file ({size} bytes) is larger than the {limit} limit"),
        None => format!("the file is larger than the {limit} limit"),
    }
}

fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// A downloaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: Bytes,
    /// The response's `Content-Type`, if it sent one.
    pub content_type: Option<String>,
}

/// Downloads media with bounded time and memory. Build one per Lambda instance and reuse it.
#[derive(Clone)]
pub struct MediaFetcher {
    http: reqwest::Client,
}

impl Default for MediaFetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl MediaFetcher {
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The longest pause between two pieces of the body.
    pub const READ_TIMEOUT: Duration = Duration::from_secs(15);
    /// The longest whole download (50 MB at ~1 MB/s).
    pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(60);

    pub fn new() -> Self {
        Self::with_timeouts(Self::CONNECT_TIMEOUT, Self::READ_TIMEOUT, Self::TOTAL_TIMEOUT)
    }

    pub fn with_timeouts(connect: Duration, read: Duration, total: Duration) -> Self {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(connect)
            .read_timeout(read)
            .timeout(total)
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .expect("the HTTP client's TLS backend initialises");
        Self { http }
    }

    /// Downloads `url` (http or https only), refusing a body over `max_bytes`: at once when
    /// `Content-Length` says so, otherwise as soon as more than that has arrived, so memory
    /// stays bounded whatever the server does.
    pub async fn fetch(&self, url: &str, max_bytes: u64) -> Result<Fetched, MediaError> {
        let url = reqwest::Url::parse(url).map_err(|_| MediaError::UnsupportedUrl("not a valid URL".into()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(MediaError::UnsupportedUrl(format!(
                "{} links are not supported",
                url.scheme()
            )));
        }
        if link_expired(&url, Timestamp::now()) {
            return Err(MediaError::Expired);
        }
        let mut response = self.http.get(url).send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(MediaError::Status(status.as_u16()));
        }
        let declared = response.content_length();
        if let Some(length) = declared.filter(|length| *length > max_bytes) {
            return Err(MediaError::TooLarge {
                limit: max_bytes,
                size: Some(length),
            });
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty());
        let mut body = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if (body.len() + chunk.len()) as u64 > max_bytes {
                return Err(MediaError::TooLarge {
                    limit: max_bytes,
                    size: None,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            bytes: body.freeze(),
            content_type,
        })
    }
}

/// Never the URL in the message: Viber's links carry a CloudFront signature.
fn transport(error: reqwest::Error) -> MediaError {
    if error.is_timeout() {
        return MediaError::Timeout;
    }
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    MediaError::Transport(text)
}

/// Whether a CloudFront-signed link (`?Expires={unix seconds}&Signature=…`) is past its expiry.
pub fn link_expired(url: &reqwest::Url, now: Timestamp) -> bool {
    url.query_pairs()
        .find(|(name, _)| name == "Expires")
        .and_then(|(_, value)| value.parse::<i64>().ok())
        .is_some_and(|expires| expires + EXPIRY_GRACE_SECONDS < now.millis().div_euclid(1000))
}

// ---- Names, types and keys of copied media ----

/// The attachment id of the media in one client message: the same for every delivery of that
/// message, so a retry overwrites the same object and record.
pub fn inbound_attachment_id(integration_id: &IntegrationId, message_token: u64) -> AttachmentId {
    let mut hash = Sha256::new();
    hash.update(integration_id.as_str().as_bytes());
    hash.update(b"\nattachment\n");
    hash.update(message_token.to_string().as_bytes());
    AttachmentId::parse(&hex::encode(&hash.finalize()[..16])).expect("hex is a valid id")
}

/// The object key of an attachment: `attachments/{id}/{file name made safe}`. The name keeps
/// its extension (lowercased), since Viber checks the extension of a media link's last path
/// segment; `fallback_extension` is used when the name has none.
pub fn attachment_key(id: &AttachmentId, file_name: &str, fallback_extension: Option<&str>) -> String {
    let mut name = safe_key_name(file_name);
    if extension(&name).is_none()
        && let Some(ext) = fallback_extension
            .map(str::to_ascii_lowercase)
            .filter(|e| valid_extension(e))
    {
        name = format!("{name}.{ext}");
    }
    format!("attachments/{id}/{name}")
}

/// Letters and digits of any script, `.`, `-`, `_`; anything else (spaces, slashes, `%`, `?`,
/// control characters) becomes `_`. At most 100 characters before the extension; never empty,
/// never starting with a dot.
fn safe_key_name(file_name: &str) -> String {
    let (stem, ext) = match extension(file_name) {
        Some(ext) => (
            &file_name[..file_name.len() - ext.len() - 1],
            Some(ext.to_ascii_lowercase()),
        ),
        None => (file_name, None),
    };
    let mut safe = String::new();
    for c in stem.chars() {
        let c = if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
            c
        } else {
            '_'
        };
        if !(c == '_' && safe.ends_with('_')) {
            safe.push(c);
        }
    }
    let mut safe: String = safe.trim_matches(|c| c == '.' || c == '_').chars().take(100).collect();
    if safe.is_empty() {
        safe.push_str("file");
    }
    match ext {
        Some(ext) => format!("{safe}.{ext}"),
        None => safe,
    }
}

/// The extension of a file name (without the dot): 1 to 16 ASCII letters or digits after the
/// last dot, with something before it.
pub fn extension(file_name: &str) -> Option<&str> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    (!stem.is_empty() && valid_extension(ext)).then_some(ext)
}

fn valid_extension(ext: &str) -> bool {
    (1..=16).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The name a file is shown and offered under: Viber's `file_name` if it sent a real one (it
/// once sent the string `"null"`), else the last path segment of the media link, else
/// `{fallback_stem}` with an extension for `content_type`. Path parts and control characters are
/// dropped; at most 255 characters, keeping the extension.
pub fn display_file_name(
    declared: Option<&str>,
    media_url: &str,
    fallback_stem: &str,
    content_type: Option<&str>,
) -> String {
    let clean = |name: &str| -> Option<String> {
        let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let name: String = name.chars().filter(|c| !c.is_control()).collect();
        let name = name.trim();
        (!name.is_empty() && !name.eq_ignore_ascii_case("null") && name != "." && name != "..")
            .then(|| shorten(name, 255))
    };
    declared
        .and_then(clean)
        .or_else(|| url_file_name(media_url).and_then(|name| clean(&name)))
        .unwrap_or_else(|| match content_type.and_then(extension_for_content_type) {
            Some(ext) => format!("{fallback_stem}.{ext}"),
            None => fallback_stem.to_owned(),
        })
}

fn shorten(name: &str, max_chars: usize) -> String {
    if name.chars().count() <= max_chars {
        return name.to_owned();
    }
    match extension(name) {
        Some(ext) => {
            let stem: String = name.chars().take(max_chars - ext.len() - 1).collect();
            format!("{stem}.{ext}")
        }
        None => name.chars().take(max_chars).collect(),
    }
}

/// The decoded last path segment of a URL, if it has one.
pub fn url_file_name(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    let segment = url.path_segments()?.next_back()?.to_owned();
    let decoded = urlencoding::decode(&segment).map(|s| s.into_owned()).unwrap_or(segment);
    (!decoded.is_empty()).then_some(decoded)
}

/// Whether a `Content-Type` says nothing about the content (so the extension should decide).
pub fn is_generic_content_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.is_empty()
        || essence.eq_ignore_ascii_case("application/octet-stream")
        || essence.eq_ignore_ascii_case("binary/octet-stream")
        || essence.eq_ignore_ascii_case("application/unknown")
}

const TYPES: &[(&str, &str)] = &[
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("heic", "image/heic"),
    ("heif", "image/heif"),
    ("bmp", "image/bmp"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("svg", "image/svg+xml"),
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("mov", "video/quicktime"),
    ("3gp", "video/3gpp"),
    ("webm", "video/webm"),
    ("avi", "video/x-msvideo"),
    ("mkv", "video/x-matroska"),
    ("mp3", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("aac", "audio/aac"),
    ("ogg", "audio/ogg"),
    ("opus", "audio/opus"),
    ("wav", "audio/wav"),
    ("pdf", "application/pdf"),
    ("txt", "text/plain"),
    ("csv", "text/csv"),
    ("json", "application/json"),
    ("xml", "application/xml"),
    ("rtf", "application/rtf"),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("xls", "application/vnd.ms-excel"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("ppt", "application/vnd.ms-powerpoint"),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    ("zip", "application/zip"),
    ("rar", "application/vnd.rar"),
    ("7z", "application/x-7z-compressed"),
    ("gz", "application/gzip"),
];

/// The content type for a file name's extension; `application/octet-stream` when unknown.
pub fn guess_content_type(file_name: &str) -> &'static str {
    extension(file_name)
        .and_then(|ext| TYPES.iter().find(|(e, _)| e.eq_ignore_ascii_case(ext)))
        .map_or("application/octet-stream", |(_, t)| t)
}

/// The usual extension for a content type, if it is a common one.
pub fn extension_for_content_type(content_type: &str) -> Option<&'static str> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    TYPES
        .iter()
        .find(|(_, t)| t.eq_ignore_ascii_case(essence))
        .map(|(e, _)| *e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_ids_are_stable_per_integration_and_message() {
        let acme = IntegrationId::parse("acme").unwrap();
        let id = inbound_attachment_id(&acme, 6_031_875_017_251_897_349);
        assert_eq!(id, inbound_attachment_id(&acme, 6_031_875_017_251_897_349));
        assert_ne!(id, inbound_attachment_id(&acme, 6_031_875_017_251_897_350));
        assert_ne!(
            id,
            inbound_attachment_id(&IntegrationId::parse("other").unwrap(), 6_031_875_017_251_897_349)
        );
        assert_eq!(id.as_str().len(), 32);
    }

    #[test]
    fn keys_keep_the_extension_and_drop_what_is_unsafe() {
        let id = AttachmentId::parse("a1").unwrap();
        assert_eq!(attachment_key(&id, "photo.JPG", None), "attachments/a1/photo.jpg");
        assert_eq!(
            attachment_key(&id, "Рахунок_48213.pdf", None),
            "attachments/a1/Рахунок_48213.pdf"
        );
        assert_eq!(
            attachment_key(&id, "my scan (1)?#%.pdf", None),
            "attachments/a1/my_scan_1.pdf"
        );
        assert_eq!(
            attachment_key(&id, "../../etc/passwd", None),
            "attachments/a1/etc_passwd"
        );
        assert_eq!(attachment_key(&id, ".pdf", None), "attachments/a1/pdf");
        assert_eq!(attachment_key(&id, "...", None), "attachments/a1/file");
        assert_eq!(attachment_key(&id, "notes", Some("TXT")), "attachments/a1/notes.txt");
        assert_eq!(attachment_key(&id, "notes", Some("t/x")), "attachments/a1/notes");
        let long = format!("{}.mp4", "я".repeat(300));
        let key = attachment_key(&id, &long, None);
        assert!(key.ends_with(".mp4") && key.chars().count() < 130, "{key}");
    }

    #[test]
    fn display_names_come_from_viber_then_the_link_then_the_type() {
        let url = "https://dl-media.viber.com/5/media/2/short/any/sig/image/0x0/7c1e/3f9a.jpg?Expires=1&Signature=x";
        assert_eq!(display_file_name(Some("Рахунок.pdf"), url, "file", None), "Рахунок.pdf");
        assert_eq!(display_file_name(Some("null"), url, "picture", None), "3f9a.jpg");
        assert_eq!(display_file_name(Some("  "), url, "picture", None), "3f9a.jpg");
        assert_eq!(
            display_file_name(Some("C:\\Users\\o\\scan.pdf"), url, "file", None),
            "scan.pdf"
        );
        assert_eq!(
            display_file_name(None, "https://x.test/media%20file.png", "picture", None),
            "media file.png"
        );
        assert_eq!(
            display_file_name(None, "https://x.test/", "picture", Some("image/jpeg")),
            "picture.jpg"
        );
        assert_eq!(display_file_name(None, "https://x.test/", "video", None), "video");
    }

    #[test]
    fn content_types_from_extensions_and_back() {
        assert_eq!(guess_content_type("a.JPG"), "image/jpeg");
        assert_eq!(guess_content_type("Рахунок.pdf"), "application/pdf");
        assert_eq!(guess_content_type("clip.mp4"), "video/mp4");
        assert_eq!(guess_content_type("noext"), "application/octet-stream");
        assert_eq!(extension_for_content_type("image/png; q=1"), Some("png"));
        assert_eq!(extension_for_content_type("application/x-unknown"), None);
        assert!(is_generic_content_type("binary/octet-stream"));
        assert!(is_generic_content_type("application/octet-stream; charset=binary"));
        assert!(!is_generic_content_type("image/jpeg"));
    }

    #[test]
    fn cloudfront_expiry_is_read_from_the_link() {
        let now = Timestamp::from_millis(1_732_529_012_480);
        let at =
            |expires: i64| reqwest::Url::parse(&format!("https://x.test/a.jpg?Expires={expires}&Signature=s")).unwrap();
        assert!(link_expired(&at(1_732_529_012 - 3600), now));
        assert!(!link_expired(&at(1_732_529_012 + 3600), now));
        assert!(!link_expired(&at(1_732_529_012 - 5), now), "a little skew is tolerated");
        assert!(!link_expired(
            &reqwest::Url::parse("https://x.test/a.jpg").unwrap(),
            now
        ));
    }

    #[test]
    fn errors_read_well_and_say_whether_to_retry() {
        let too_large = MediaError::TooLarge {
            limit: MAX_MEDIA_BYTES,
            size: Some(73_400_320),
        };
        assert_eq!(
            too_large.to_string(),
            "the file (73400320 bytes) is larger than the 50 MB limit"
        );
        assert!(!too_large.is_retryable());
        assert!(!MediaError::Expired.is_retryable());
        let status = MediaError::Status(503);
        assert_eq!(
            status.to_string(),
            "Viber's media server answered HTTP 503 Service Unavailable"
        );
        assert!(status.is_retryable());
        assert!(MediaError::Timeout.is_retryable());
    }

    #[tokio::test]
    async fn only_http_links_are_fetched() {
        let fetcher = MediaFetcher::new();
        for url in ["file:///etc/passwd", "ftp://x.test/a.jpg", "not a url"] {
            let error = fetcher.fetch(url, 10).await.unwrap_err();
            assert!(matches!(error, MediaError::UnsupportedUrl(_)), "{url}: {error}");
        }
    }

    #[tokio::test]
    async fn an_expired_viber_link_is_not_requested() {
        let error = MediaFetcher::new()
            .fetch(
                "https://dl-media.viber.invalid/a.jpg?Expires=1732532612&Signature=s",
                10,
            )
            .await
            .unwrap_err();
        assert_eq!(error, MediaError::Expired);
    }
}
