//! `/api/attachments`: files in the private bucket, reached only through short-lived signed URLs.
//!
//! | route | answers |
//! | --- | --- |
//! | `POST /api/attachments` | announce an upload `{file_name, content_type, size}`: 201 `{id, upload_url, expires_at}` (a 15-minute presigned PUT) |
//! | `GET /api/attachments/{id}` | the attachment and, while the file is available, a 15-minute download URL |
//!
//! An upload is checked before any byte moves: a file Viber could not take is refused here
//! (docs/viber-api.md, "6. `send_message`").

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::ids::AttachmentId;
use shared::model::Attachment;
use shared::ports::BlobError;
use shared::time::Timestamp;
use shared::viber::reply::{self, ReplyError};

use crate::Api;
use crate::body::json_body;
use crate::error::{ApiError, StoreContext};
use crate::response::{created, ok};

/// How long a download URL from `GET /api/attachments/{id}` works.
pub const DOWNLOAD_URL_TTL_SECONDS: i64 = 15 * 60;
/// How long an upload URL from `POST /api/attachments` works.
pub const UPLOAD_URL_TTL_SECONDS: i64 = 15 * 60;
/// Why a staff upload is not available yet.
pub const NOT_UPLOADED: &str = "the file has not been uploaded yet";

#[derive(Debug, Serialize)]
pub struct AttachmentView<'a> {
    pub id: &'a AttachmentId,
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub size: u64,
    pub available: bool,
    /// Why the file is not available (not uploaded yet, expired at Viber, too large…).
    pub unavailable_reason: Option<&'a str>,
}

impl<'a> From<&'a Attachment> for AttachmentView<'a> {
    fn from(attachment: &'a Attachment) -> Self {
        Self {
            id: &attachment.id,
            file_name: &attachment.file_name,
            content_type: &attachment.content_type,
            size: attachment.size,
            available: attachment.available,
            unavailable_reason: attachment
                .unavailable_reason
                .as_deref()
                .filter(|_| !attachment.available),
        }
    }
}

/// `GET /api/attachments/{id}`: the attachment and a short-lived download URL; both
/// `download_url` and `expires_at` are `null` when the file is not available.
#[derive(Debug, Serialize)]
pub struct AttachmentDownloadView<'a> {
    #[serde(flatten)]
    pub attachment: AttachmentView<'a>,
    pub download_url: Option<String>,
    pub expires_at: Option<Timestamp>,
}

/// `POST /api/attachments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAttachment {
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct UploadView<'a> {
    pub id: &'a AttachmentId,
    pub upload_url: String,
    pub expires_at: Timestamp,
}

/// What the bucket holds for an announced upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadCheck {
    /// The bytes are there, with the announced size.
    Landed,
    /// Not (or not rightly) uploaded: why, for the staff member.
    Missing(String),
}

/// The 400 of an upload Viber could not take.
fn refused_upload(error: ReplyError) -> ApiError {
    let code = match error {
        ReplyError::TooLarge { .. } => "file_too_large",
        ReplyError::ForbiddenExtension { .. } | ReplyError::MissingExtension { .. } => "file_type_not_allowed",
        ReplyError::EmptyFile { .. } => "empty_file",
        _ => "invalid_attachment",
    };
    ApiError::bad_request(code, error.to_string())
}

/// The 400 of an attachment id no `POST /api/attachments` announced.
pub(crate) fn never_announced(id: &str) -> ApiError {
    ApiError::bad_request(
        "unknown_attachment",
        format!("attachment {id} was never announced with POST /api/attachments"),
    )
}

/// The checks of an announced upload: a usable name and type, and a file Viber can take.
pub fn check_upload(new: &NewAttachment) -> Result<(), ApiError> {
    let name = new.file_name.trim();
    if name.is_empty() || name.chars().count() > reply::FILE_NAME_MAX_CHARS {
        return Err(ApiError::invalid_body(format!(
            "file_name must have 1 to {} characters",
            reply::FILE_NAME_MAX_CHARS
        )));
    }
    let content_type = new.content_type.trim();
    let well_formed = content_type.split_once('/').is_some_and(|(kind, sub)| {
        !kind.is_empty()
            && !sub.is_empty()
            && content_type.len() <= 255
            && content_type.bytes().all(|b| b.is_ascii_graphic())
    });
    if !well_formed {
        return Err(ApiError::invalid_body(
            "content_type must be a MIME type such as image/jpeg",
        ));
    }
    reply::check_upload(name, content_type, new.size).map_err(refused_upload)
}

/// Where an upload is stored: under its id, named so that its link satisfies Viber's extension
/// rule for the message type it will be sent as.
pub fn upload_key(id: &AttachmentId, file_name: &str, content_type: &str, size: u64) -> String {
    let name = match reply::media_kind(content_type, file_name, size) {
        Ok(kind) => reply::media_key_name(kind, content_type, file_name),
        Err(_) => file_name.to_owned(),
    };
    shared::viber::attachments::attachment_key(id, &name, None)
}

impl Api {
    /// Announces an upload: the attachment is stored as not yet uploaded, and the answer carries
    /// the URL its bytes are PUT to.
    pub(crate) async fn create_attachment(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let new: NewAttachment = json_body(request)?;
        check_upload(&new)?;
        let id = AttachmentId::generate();
        let file_name = new.file_name.trim().to_owned();
        let content_type = new.content_type.trim().to_owned();
        let attachment = Attachment {
            blob_key: upload_key(&id, &file_name, &content_type, new.size),
            id,
            file_name,
            content_type,
            size: new.size,
            available: false,
            unavailable_reason: Some(NOT_UPLOADED.to_owned()),
            awaiting_upload: true,
            created_at: Timestamp::now(),
        };
        let expires_at = Timestamp::now().plus_seconds(UPLOAD_URL_TTL_SECONDS);
        let upload_url = self
            .blobs
            .presign_put(
                &attachment.blob_key,
                &attachment.content_type,
                attachment.size,
                expires_at,
            )
            .await
            .map_err(|error| {
                tracing::error!(%error, "upload URL not signed");
                ApiError::Unavailable
            })?;
        self.store.put_attachment(&attachment).await.context("put attachment")?;
        Ok(created(&UploadView {
            id: &attachment.id,
            upload_url,
            expires_at,
        }))
    }

    /// The attachment and, while the file is available, a URL that downloads it for
    /// `DOWNLOAD_URL_TTL_SECONDS`. An unavailable file still answers 200, with `available: false`
    /// and `download_url` / `expires_at` null.
    pub(crate) async fn get_attachment(&self, raw_id: &str) -> Result<Response<Body>, ApiError> {
        const UNKNOWN: ApiError = ApiError::NotFound("attachment");
        let id = AttachmentId::parse(raw_id).map_err(|_| UNKNOWN)?;
        let mut attachment = self
            .store
            .get_attachment(&id)
            .await
            .context("get attachment")?
            .ok_or(UNKNOWN)?;
        if !attachment.available && attachment.awaiting_upload {
            self.confirm_upload(&mut attachment).await?;
        }
        let mut view = AttachmentDownloadView {
            attachment: AttachmentView::from(&attachment),
            download_url: None,
            expires_at: None,
        };
        if attachment.available {
            let expires_at = Timestamp::now().plus_seconds(DOWNLOAD_URL_TTL_SECONDS);
            match self
                .blobs
                .presign_get(&attachment.blob_key, &attachment.file_name, expires_at)
                .await
            {
                Ok(url) => {
                    view.download_url = Some(url);
                    view.expires_at = Some(expires_at);
                }
                Err(BlobError::NotFound(_)) => {
                    tracing::warn!(attachment_id = %id, "the attachment's file is missing from the bucket");
                    view.attachment.available = false;
                    view.attachment.unavailable_reason = Some("the file is no longer stored");
                }
                Err(blob_error @ BlobError::Unavailable(_)) => {
                    tracing::error!(attachment_id = %id, error = %blob_error, "download URL not signed");
                    return Err(ApiError::Unavailable);
                }
            }
        }
        Ok(ok(&view))
    }

    /// A staff upload not seen in the bucket yet: once its bytes are there with the announced
    /// size it is recorded as available (so later reads need no `HeadObject`); until then it
    /// stays unavailable and its reason says why (not uploaded yet, or another size).
    async fn confirm_upload(&self, attachment: &mut Attachment) -> Result<(), ApiError> {
        match self.check_upload_landed(attachment).await? {
            UploadCheck::Landed => {
                attachment.available = true;
                attachment.unavailable_reason = None;
                attachment.awaiting_upload = false;
                self.store.put_attachment(attachment).await.context("put attachment")?;
                tracing::info!(attachment_id = %attachment.id, "upload landed");
            }
            UploadCheck::Missing(reason) => attachment.unavailable_reason = Some(reason),
        }
        Ok(())
    }

    /// Whether an announced upload's bytes are in the bucket with the announced size (one
    /// `HeadObject`). `Missing` says why not, for the staff member.
    pub(crate) async fn check_upload_landed(&self, attachment: &Attachment) -> Result<UploadCheck, ApiError> {
        match self.blobs.stat(&attachment.blob_key).await {
            Ok(Some(size)) if size == attachment.size => Ok(UploadCheck::Landed),
            Ok(Some(size)) => Ok(UploadCheck::Missing(format!(
                "\"{}\" was announced as {} bytes but {size} were uploaded",
                attachment.file_name, attachment.size
            ))),
            Ok(None) | Err(BlobError::NotFound(_)) => Ok(UploadCheck::Missing(format!(
                "\"{}\" ({}) was never uploaded",
                attachment.file_name, attachment.id
            ))),
            Err(error @ BlobError::Unavailable(_)) => {
                tracing::error!(attachment_id = %attachment.id, %error, "upload not checked");
                Err(ApiError::Unavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(file_name: &str, content_type: &str, size: u64) -> NewAttachment {
        NewAttachment {
            file_name: file_name.into(),
            content_type: content_type.into(),
            size,
        }
    }

    #[test]
    fn uploads_viber_cannot_take_are_refused_before_any_byte_moves() {
        assert!(check_upload(&upload("photo.jpg", "image/jpeg", 200_000)).is_ok());
        assert!(check_upload(&upload("contract.pdf", "application/pdf", 49_000_000)).is_ok());
        let code = |u: NewAttachment| check_upload(&u).unwrap_err().code();
        assert_eq!(
            code(upload("huge.zip", "application/zip", 51_000_000)),
            "file_too_large"
        );
        assert_eq!(
            code(upload("run.exe", "application/octet-stream", 1000)),
            "file_type_not_allowed"
        );
        assert_eq!(code(upload("empty.pdf", "application/pdf", 0)), "empty_file");
        assert_eq!(code(upload(" ", "application/pdf", 10)), "invalid_body");
        assert_eq!(code(upload("a.pdf", "pdf", 10)), "invalid_body");
    }

    #[test]
    fn upload_keys_carry_the_extension_viber_needs() {
        let id = AttachmentId::parse("a1").unwrap();
        assert_eq!(
            upload_key(&id, "Photo.JPG", "image/jpeg", 1000),
            "attachments/a1/Photo.jpg"
        );
        assert_eq!(
            upload_key(&id, "report", "application/pdf", 1000),
            "attachments/a1/report.pdf"
        );
    }
}
