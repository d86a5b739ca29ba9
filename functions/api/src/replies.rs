//! The staff API's write side for replies: announcing an upload (`POST /api/attachments`) and
//! posting a comment (`POST /api/tasks/{id}/comments`), internal or sent to the client.
//!
//! A reply to the client is queued before it is stored (docs/outbox.md): the outbound job goes
//! to the queue first, then the comment is written as `queued`. If the write fails the staff
//! member gets an error and the sender drops the job once its grace period is over; a stored
//! reply therefore always has its job, with no sweeper and no stream.

use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::ids::{AttachmentId, CommentId, QuickReplyId};
use shared::model::{
    Attachment, Author, AuthorKind, Comment, CommentStatus, Contact, Integration, OutboundPlan, StaffMember, Task,
};
use shared::outbound::OutboundJob;
use shared::ports::{BlobError, Conflict, StoreError};
use shared::rules::render_quick_reply;
use shared::time::Timestamp;
use shared::viber::reply::{self, ReplyError};

use crate::query::QueryError;
use crate::{Api, ApiError, store_failure};

/// How long an upload URL from `POST /api/attachments` works.
pub const UPLOAD_URL_TTL_SECONDS: i64 = 15 * 60;
/// The most attachments one reply carries (each is a Viber message of its own).
pub const MAX_ATTACHMENTS_PER_REPLY: usize = 10;
/// The longest reply text: split into Viber messages of 7000 characters, at most 4 of them.
pub const MAX_REPLY_CHARS: usize = 4 * reply::TEXT_MAX_CHARS;
/// Why a staff upload is not available yet.
pub const NOT_UPLOADED: &str = "the file has not been uploaded yet";

/// What the bucket holds for an announced upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadCheck {
    /// The bytes are there, with the announced size.
    Landed,
    /// Not (or not rightly) uploaded: why, for the staff member.
    Missing(String),
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

/// `POST /api/tasks/{id}/comments`. Without `notify_client` (or with `false`) the comment is
/// internal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub quick_reply_id: Option<String>,
    #[serde(default)]
    pub attachment_ids: Vec<String>,
    #[serde(default)]
    pub notify_client: bool,
}

/// Where a reply's text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyText {
    None,
    Written(String),
    QuickReply(QuickReplyId),
}

/// A `NewComment` that passed the checks needing no storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedComment {
    pub text: ReplyText,
    pub attachment_ids: Vec<AttachmentId>,
    pub notify_client: bool,
}

fn bad(code: &'static str, message: impl Into<String>) -> QueryError {
    QueryError {
        code,
        message: message.into(),
    }
}

/// The checks of a new comment that need no storage: a text or a quick reply (not both), at most
/// [`MAX_REPLY_CHARS`], at most [`MAX_ATTACHMENTS_PER_REPLY`] distinct attachments, and
/// something to say. Whitespace-only text counts as none.
pub fn check_comment(new: NewComment) -> Result<CheckedComment, QueryError> {
    let written = new.text.filter(|t| !t.trim().is_empty());
    let text = match (written, new.quick_reply_id) {
        (Some(_), Some(_)) => {
            return Err(bad("invalid_body", "give either text or quick_reply_id, not both"));
        }
        (Some(text), None) => {
            let length = reply::viber_len(&text);
            if length > MAX_REPLY_CHARS {
                return Err(bad(
                    "text_too_long",
                    format!("the text is {length} characters long; a reply takes up to {MAX_REPLY_CHARS}"),
                ));
            }
            ReplyText::Written(text)
        }
        (None, Some(id)) => ReplyText::QuickReply(
            QuickReplyId::parse(&id).map_err(|_| bad("unknown_quick_reply", "quick_reply_id: no such quick reply"))?,
        ),
        (None, None) => ReplyText::None,
    };
    if new.attachment_ids.len() > MAX_ATTACHMENTS_PER_REPLY {
        return Err(bad(
            "too_many_attachments",
            format!("a reply takes up to {MAX_ATTACHMENTS_PER_REPLY} attachments"),
        ));
    }
    let mut attachment_ids = Vec::with_capacity(new.attachment_ids.len());
    for raw in &new.attachment_ids {
        let id = AttachmentId::parse(raw).map_err(|_| never_uploaded(raw))?;
        if attachment_ids.contains(&id) {
            return Err(bad("invalid_body", format!("attachment {raw} is named twice")));
        }
        attachment_ids.push(id);
    }
    if text == ReplyText::None && attachment_ids.is_empty() {
        return Err(bad("empty_reply", ReplyError::EmptyReply.to_string()));
    }
    Ok(CheckedComment {
        text,
        attachment_ids,
        notify_client: new.notify_client,
    })
}

fn never_uploaded(id: &str) -> QueryError {
    bad(
        "unknown_attachment",
        format!("attachment {id} was never announced with POST /api/attachments"),
    )
}

/// The 400 of an upload Viber could not take.
fn refused_upload(error: ReplyError) -> QueryError {
    let code = match error {
        ReplyError::TooLarge { .. } => "file_too_large",
        ReplyError::ForbiddenExtension { .. } | ReplyError::MissingExtension { .. } => "file_type_not_allowed",
        ReplyError::EmptyFile { .. } => "empty_file",
        _ => "invalid_attachment",
    };
    bad(code, error.to_string())
}

/// The checks of an announced upload: a usable name and type, and a file Viber can take.
pub fn check_upload(new: &NewAttachment) -> Result<(), QueryError> {
    let name = new.file_name.trim();
    if name.is_empty() || name.chars().count() > reply::FILE_NAME_MAX_CHARS {
        return Err(bad(
            "invalid_body",
            format!("file_name must have 1 to {} characters", reply::FILE_NAME_MAX_CHARS),
        ));
    }
    let content_type = new.content_type.trim();
    let well_formed = content_type.split_once('/').is_some_and(|(kind, sub)| {
        !kind.is_empty()
            && !sub.is_empty()
            && content_type.len() <= 255
            && content_type.bytes().all(|b| b.is_ascii_graphic())
    });
    if !well_formed {
        return Err(bad(
            "invalid_body",
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
    pub(crate) async fn announce_upload(&self, new: NewAttachment) -> Result<(Attachment, String), ApiError> {
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
        self.attachments
            .put_attachment(&attachment)
            .await
            .map_err(|e| store_failure("put attachment", e))?;
        Ok((attachment, upload_url))
    }

    /// Stores a staff comment; with `notify_client` also hands it to the sender. Returns the
    /// comment as stored.
    pub(crate) async fn post_comment(
        &self,
        task: &Task,
        caller: &StaffMember,
        new: CheckedComment,
    ) -> Result<Comment, ApiError> {
        let attachments = self.uploaded_attachments(&new.attachment_ids).await?;
        let needs_contact = new.notify_client || matches!(new.text, ReplyText::QuickReply(_));
        let contact = if needs_contact {
            Some(self.requester(task).await?)
        } else {
            None
        };
        let integration = if new.notify_client {
            Some(self.connected_bot(task).await?)
        } else {
            None
        };
        let text = match &new.text {
            ReplyText::None => None,
            ReplyText::Written(text) => Some(text.clone()),
            ReplyText::QuickReply(id) => {
                let contact = contact.as_ref().expect("read for a quick reply");
                let bot_name = integration.as_ref().map(|i| i.bot.name.as_str()).unwrap_or_default();
                Some(self.quick_reply_text(id, contact, caller, bot_name).await?)
            }
        };
        let mut comment = Comment {
            id: CommentId::generate(),
            task_id: task.id.clone(),
            author: Author {
                kind: AuthorKind::Staff,
                id: caller.id.as_str().to_owned(),
            },
            text,
            attachment_ids: new.attachment_ids.clone(),
            notify_client: new.notify_client,
            status: CommentStatus::Internal,
            status_reason: None,
            created_at: Timestamp::now(),
            viber_message_type: None,
            viber_message_token: None,
            parts: Default::default(),
            outbound: None,
        };
        if let (Some(contact), Some(integration)) = (&contact, &integration)
            && new.notify_client
        {
            if !contact.subscribed {
                return Err(ApiError::Refused(
                    StatusCode::CONFLICT,
                    "client_unsubscribed",
                    "the client unsubscribed from the bot; Viber delivers nothing until they write again".into(),
                ));
            }
            let mut plan = OutboundPlan {
                integration_id: integration.id.clone(),
                contact_id: contact.id.clone(),
                viber_user_id: contact.viber_user_id.clone(),
                as_staff: integration.options.send_as_staff.then(|| caller.clone()),
                attachments,
                part_count: 0,
            };
            plan.part_count = count_sendable_parts(&plan, integration, comment.text.as_deref())?;
            comment.status = CommentStatus::Queued;
            comment.outbound = Some(plan);
            let job = OutboundJob {
                task_id: task.id.clone(),
                comment_id: comment.id.clone(),
                contact_id: contact.id.clone(),
                queued_at: comment.created_at,
            };
            // Queued first, stored second: see the module's documentation.
            self.outbound.send(job.queue_message()).await.map_err(|error| {
                tracing::error!(%error, "reply not queued");
                ApiError::Unavailable
            })?;
        }
        match self.comments.add_staff_comment(&comment, &new.attachment_ids).await {
            Ok(()) => Ok(comment),
            Err(StoreError::Conflict(Conflict::TaskGone(_))) => Err(ApiError::NotFound("no such task")),
            Err(error) => Err(store_failure("add comment", error)),
        }
    }

    /// The attachments a reply names, each announced and uploaded with the size announced. An
    /// upload already confirmed (by `GET /api/attachments/{id}`) is not checked again.
    async fn uploaded_attachments(&self, ids: &[AttachmentId]) -> Result<Vec<Attachment>, ApiError> {
        let mut attachments = Vec::with_capacity(ids.len());
        for id in ids {
            let mut attachment = match self.tasks.get_attachment(id).await {
                Ok(Some(attachment)) => attachment,
                Ok(None) => return Err(ApiError::BadRequest(never_uploaded(id.as_str()))),
                Err(error) => return Err(store_failure("get attachment", error)),
            };
            if !attachment.available {
                match self.check_upload_landed(&attachment).await? {
                    UploadCheck::Landed => {}
                    UploadCheck::Missing(reason) => {
                        return Err(ApiError::BadRequest(bad("attachment_not_uploaded", reason)));
                    }
                }
            }
            attachment.available = true;
            attachment.unavailable_reason = None;
            attachment.awaiting_upload = false;
            attachments.push(attachment);
        }
        Ok(attachments)
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

    async fn requester(&self, task: &Task) -> Result<Contact, ApiError> {
        match self.contacts.get_contact(&task.requester_id).await {
            Ok(Some(contact)) => Ok(contact),
            Ok(None) => Err(ApiError::Refused(
                StatusCode::CONFLICT,
                "client_unknown",
                "the task's client is not stored; a reply cannot reach them".into(),
            )),
            Err(error) => Err(store_failure("get requester", error)),
        }
    }

    async fn connected_bot(&self, task: &Task) -> Result<Integration, ApiError> {
        match self.integrations.get_integration(&task.integration_id).await {
            Ok(Some(integration)) => Ok(integration),
            Ok(None) => Err(ApiError::Refused(
                StatusCode::CONFLICT,
                "bot_disconnected",
                "the task's Viber bot is no longer connected; a reply cannot reach the client".into(),
            )),
            Err(error) => Err(store_failure("get integration", error)),
        }
    }

    async fn quick_reply_text(
        &self,
        id: &QuickReplyId,
        contact: &Contact,
        caller: &StaffMember,
        bot_name: &str,
    ) -> Result<String, ApiError> {
        match self.quick_replies.get_quick_reply(id).await {
            Ok(Some(quick)) => Ok(render_quick_reply(&quick.text, contact, Some(caller), bot_name)),
            Ok(None) => Err(ApiError::BadRequest(bad(
                "unknown_quick_reply",
                "quick_reply_id: no such quick reply",
            ))),
            Err(error) => Err(store_failure("get quick reply", error)),
        }
    }
}

/// Builds the Viber messages with stand-in links (the sender signs the real ones), so a reply
/// Viber would refuse is a 400 now rather than a `failed` comment later; answers how many
/// messages the reply is sent as (its status counts every one of them).
fn count_sendable_parts(plan: &OutboundPlan, integration: &Integration, text: Option<&str>) -> Result<usize, ApiError> {
    let attachments: Vec<(Attachment, String)> = plan
        .attachments
        .iter()
        .map(|a| (a.clone(), format!("https://bucket.invalid/{}", a.blob_key)))
        .collect();
    let sender = reply::sender_for(&integration.bot, plan.as_staff.is_some(), plan.as_staff.as_ref());
    reply::build_messages(&plan.viber_user_id, sender, text, &attachments, None)
        .map(|messages| messages.len())
        .map_err(|error| ApiError::BadRequest(bad("not_sendable", error.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(text: Option<&str>, quick: Option<&str>, ids: &[&str]) -> NewComment {
        NewComment {
            text: text.map(str::to_owned),
            quick_reply_id: quick.map(str::to_owned),
            attachment_ids: ids.iter().map(|s| s.to_string()).collect(),
            notify_client: true,
        }
    }

    #[test]
    fn a_comment_needs_text_a_quick_reply_or_attachments() {
        assert_eq!(check_comment(new(None, None, &[])).unwrap_err().code, "empty_reply");
        assert_eq!(
            check_comment(new(Some(" \n "), None, &[])).unwrap_err().code,
            "empty_reply"
        );
        assert_eq!(
            check_comment(new(Some("hi"), None, &[])).unwrap().text,
            ReplyText::Written("hi".into())
        );
        assert!(matches!(
            check_comment(new(None, Some("q1"), &[])).unwrap().text,
            ReplyText::QuickReply(_)
        ));
        let files = check_comment(new(None, None, &["a1", "a2"])).unwrap();
        assert_eq!(files.text, ReplyText::None);
        assert_eq!(files.attachment_ids.len(), 2);
    }

    #[test]
    fn ambiguous_or_oversized_comments_are_refused() {
        assert_eq!(
            check_comment(new(Some("hi"), Some("q1"), &[])).unwrap_err().code,
            "invalid_body"
        );
        let long = "a".repeat(MAX_REPLY_CHARS + 1);
        assert_eq!(
            check_comment(new(Some(&long), None, &[])).unwrap_err().code,
            "text_too_long"
        );
        let eleven: Vec<String> = (0..=MAX_ATTACHMENTS_PER_REPLY).map(|n| format!("a{n}")).collect();
        let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
        assert_eq!(
            check_comment(new(None, None, &eleven)).unwrap_err().code,
            "too_many_attachments"
        );
        assert_eq!(
            check_comment(new(None, None, &["a1", "a1"])).unwrap_err().code,
            "invalid_body"
        );
        assert_eq!(
            check_comment(new(None, None, &["../x"])).unwrap_err().code,
            "unknown_attachment"
        );
    }

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
        let code = |u: NewAttachment| check_upload(&u).unwrap_err().code;
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
