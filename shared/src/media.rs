//! Copying media a Viber user sent (picture, video, file) before Viber's link expires (links
//! live one hour, docs/viber-api.md §3.2): a bounded, streaming download, and the id of each copy. What a
//! copy is named and where it is stored is decided in [`crate::viber::attachments`].

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};

use crate::ids::{AttachmentId, ContactId, IntegrationId};
use crate::time::Timestamp;

/// The largest media file copied: Viber's largest documented media limit (files and, in older
/// docs, videos: 50 MB, docs/viber-api.md §6.1), read generously as 50 MiB.
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

/// The attachment id of the media in one client message: the same for every delivery of that
/// message, so a retry overwrites the same object and record.
pub fn inbound_attachment_id(integration_id: &IntegrationId, message_token: u64) -> AttachmentId {
    let mut hash = Sha256::new();
    hash.update(integration_id.as_str().as_bytes());
    hash.update(b"\nattachment\n");
    hash.update(message_token.to_string().as_bytes());
    AttachmentId::parse(&hex::encode(&hash.finalize()[..16])).expect("hex is a valid id")
}

/// A copy for the media worker, queued by the processor on the media queue (SQS standard: the
/// order of copies does not matter, and each is idempotent, so a job delivered twice changes
/// nothing). The processor stores a message at once and leaves the download to the worker, so
/// a 50 MB file never holds back the client's next message (docs/deploy.md, "Queues, retries
/// and dead letters").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MediaJob {
    /// The file of a client's picture, video or file message, stored with the message as
    /// attachment `attachment_id`, not yet available.
    Attachment {
        attachment_id: AttachmentId,
        /// Viber's link to the file.
        url: String,
        /// The message type (`picture`, `video`, `file`): names a file Viber sent without one.
        message_type: String,
        /// The name and size Viber gave, if any.
        file_name: Option<String>,
        size: Option<u64>,
    },
    /// A contact's avatar (its profile's URL), copied so the staff inbox shows it from its
    /// own origin.
    Avatar { contact_id: ContactId, source_url: String },
}

impl MediaJob {
    /// The job as a media queue message (a standard queue: no group, no deduplication id).
    pub fn queue_message(&self) -> crate::ports::QueueMessage {
        crate::ports::QueueMessage {
            group_id: None,
            dedup_id: None,
            body: serde_json::to_string(self).expect("a media job always serialises"),
        }
    }
}

/// The largest contact avatar copied: Viber's profile pictures are small JPEGs (720 px).
pub const AVATAR_MAX_BYTES: u64 = 2_000_000;

/// Where the copy of a contact's avatar lives: one object per (contact, Viber URL), so a
/// repeated copy overwrites the same object and a new picture gets a new key.
pub fn avatar_key(contact_id: &ContactId, source_url: &str) -> String {
    let digest = Sha256::digest(source_url.as_bytes());
    format!("avatars/{contact_id}/{}", hex::encode(&digest[..8]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_media_job_round_trips_through_its_queue_message() {
        let jobs = [
            MediaJob::Attachment {
                attachment_id: AttachmentId::parse("a1").unwrap(),
                url: "https://dl-media.viber.com/5/media/2/short/any/sig/image/0x0/7c1e/3f9a.jpg".into(),
                message_type: "picture".into(),
                file_name: Some("Рахунок.pdf".into()),
                size: Some(183_912),
            },
            MediaJob::Avatar {
                contact_id: ContactId::parse("c1").unwrap(),
                source_url: "https://media.example/a.jpg".into(),
            },
        ];
        for job in jobs {
            let message = job.queue_message();
            assert_eq!((message.group_id.as_deref(), message.dedup_id.as_deref()), (None, None));
            assert_eq!(serde_json::from_str::<MediaJob>(&message.body).unwrap(), job);
        }
        let avatar = MediaJob::Avatar {
            contact_id: ContactId::parse("c1").unwrap(),
            source_url: "u".into(),
        };
        assert_eq!(
            avatar.queue_message().body,
            r#"{"kind":"avatar","contact_id":"c1","source_url":"u"}"#
        );
    }

    #[test]
    fn an_avatar_copy_is_keyed_by_contact_and_source() {
        let contact = ContactId::parse("c1").unwrap();
        let key = avatar_key(&contact, "https://media.example/a.jpg");
        assert!(key.starts_with("avatars/c1/"), "{key}");
        assert_eq!(key, avatar_key(&contact, "https://media.example/a.jpg"));
        assert_ne!(key, avatar_key(&contact, "https://media.example/b.jpg"));
    }

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
