//! `/api/tasks/{id}/comments`: a task's conversation, and staff comments, internal or sent to the
//! client.
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /api/tasks/{id}/comments?cursor=&limit=` | the conversation, oldest first, with attachments and delivery status |
//! | `POST /api/tasks/{id}/comments` | `{text?, quick_reply_id?, attachment_ids?, notify_client}`: 202 `{id, status: "queued"}` when it notifies the client, else 201 with the `internal` comment |
//!
//! A reply to the client is queued before it is stored (docs/outbox.md): the outbound job goes
//! to the queue first, then the comment is written as `queued`. If the write fails the staff
//! member gets an error and the sender drops the job once its grace period is over; a stored
//! reply therefore always has its job, with no sweeper and no stream.
//!
//! A post may carry an `Idempotency-Key` (docs/staff-api.md, "Retrying a reply"): a write can
//! land although its answer is lost (a timeout, a 503 after DynamoDB took it), and the post tried
//! again under the same key answers the comment the key made instead of storing and sending a
//! second one. The key is written in the comment's own transaction, so one of two racing posts
//! wins; the loser's queued job names a comment that is never stored and is dropped.

use std::collections::HashMap;

use futures::future::join_all;
use lambda_http::http::HeaderMap;
use lambda_http::http::HeaderValue;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::ids::{AttachmentId, CommentId, IdempotencyKey, QuickReplyId, TaskId};
use shared::model::{
    Attachment, Author, AuthorKind, Comment, CommentStatus, Contact, Integration, MessageDetails, OutboundPlan,
    StaffMember, Task,
};
use shared::outbound::OutboundJob;
use shared::ports::{Conflict, KeyedReply, REPLY_KEY_TTL_SECONDS, Record, StoreError};
use shared::rules::{effective_status, render_quick_reply};
use shared::time::Timestamp;
use shared::viber::reply::{self, ReplyError};

use crate::Api;
use crate::body::json_body;
use crate::error::{ApiError, StoreContext};
use crate::query::{self, Params};
use crate::response::{accepted, created, ok_unless_unchanged};
use crate::routes::attachments::{AttachmentView, UploadCheck, never_announced};
use crate::routes::common::PageView;

/// The header a client names a reply with, to post it again safely (the IETF draft's
/// `Idempotency-Key`).
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set to `true` on the answer to a post whose key had made a reply already: nothing new was
/// stored or sent.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// The most attachments one reply carries (each is a Viber message of its own).
pub const MAX_ATTACHMENTS_PER_REPLY: usize = 10;
/// The longest reply text: split into Viber messages of 7000 characters, at most 4 of them.
pub const MAX_REPLY_CHARS: usize = 4 * reply::TEXT_MAX_CHARS;

#[derive(Debug, Serialize)]
pub struct AuthorView<'a> {
    #[serde(rename = "type")]
    pub kind: AuthorKind,
    pub id: &'a str,
}

#[derive(Debug, Serialize)]
pub struct CommentView<'a> {
    pub id: &'a CommentId,
    pub task_id: &'a TaskId,
    pub author: AuthorView<'a>,
    pub text: Option<&'a str>,
    pub attachments: Vec<AttachmentView<'a>>,
    pub notify_client: bool,
    /// The least advanced of the reply's Viber messages (`rules::effective_status`).
    pub status: CommentStatus,
    pub status_reason: Option<&'a str>,
    pub created_at: Timestamp,
    /// The Viber type of a client's message (`text`, `picture`, `location`…); `null` for staff.
    pub message_type: Option<&'a str>,
    /// A shared location's coordinates.
    pub location: Option<LocationView>,
    /// A shared contact card.
    pub shared_contact: Option<SharedContactView<'a>>,
    pub sticker_id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct LocationView {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Serialize)]
pub struct SharedContactView<'a> {
    pub name: Option<&'a str>,
    pub phone: Option<&'a str>,
}

impl<'a> CommentView<'a> {
    /// The comment with its attachments, in the comment's order; `lookup` gives the stored
    /// attachment for an id (one that is missing is left out).
    pub fn new(comment: &'a Comment, lookup: impl Fn(&AttachmentId) -> Option<&'a Attachment>) -> Self {
        Self {
            id: &comment.id,
            task_id: &comment.task_id,
            author: AuthorView {
                kind: comment.author.kind,
                id: &comment.author.id,
            },
            text: comment.text.as_deref(),
            attachments: comment
                .attachment_ids
                .iter()
                .filter_map(lookup)
                .map(AttachmentView::from)
                .collect(),
            notify_client: comment.notify_client,
            status: effective_status(comment),
            status_reason: comment.status_reason.as_deref(),
            created_at: comment.created_at,
            message_type: comment.viber_message_type.as_deref(),
            location: match comment.details {
                Some(MessageDetails::Location { lat, lon }) => Some(LocationView { lat, lon }),
                _ => None,
            },
            shared_contact: match &comment.details {
                Some(MessageDetails::SharedContact { name, phone }) => Some(SharedContactView {
                    name: name.as_deref(),
                    phone: phone.as_deref(),
                }),
                _ => None,
            },
            sticker_id: match &comment.details {
                Some(MessageDetails::Sticker { sticker_id }) => Some(sticker_id),
                _ => None,
            },
        }
    }
}

/// The 202 of a reply queued for the sender.
#[derive(Serialize)]
struct QueuedView<'a> {
    id: &'a CommentId,
    status: CommentStatus,
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

fn unknown_quick_reply() -> ApiError {
    ApiError::bad_request("unknown_quick_reply", "quick_reply_id: no such quick reply")
}

/// The checks of a new comment that need no storage: a text or a quick reply (not both), at most
/// [`MAX_REPLY_CHARS`], at most [`MAX_ATTACHMENTS_PER_REPLY`] distinct attachments, and
/// something to say. Whitespace-only text counts as none.
pub fn check_comment(new: NewComment) -> Result<CheckedComment, ApiError> {
    let written = new.text.filter(|t| !t.trim().is_empty());
    let text = match (written, new.quick_reply_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_body("give either text or quick_reply_id, not both"));
        }
        (Some(text), None) => {
            let length = reply::viber_len(&text);
            if length > MAX_REPLY_CHARS {
                return Err(ApiError::bad_request(
                    "text_too_long",
                    format!("the text is {length} characters long; a reply takes up to {MAX_REPLY_CHARS}"),
                ));
            }
            ReplyText::Written(text)
        }
        (None, Some(id)) => ReplyText::QuickReply(QuickReplyId::parse(&id).map_err(|_| unknown_quick_reply())?),
        (None, None) => ReplyText::None,
    };
    if new.attachment_ids.len() > MAX_ATTACHMENTS_PER_REPLY {
        return Err(ApiError::bad_request(
            "too_many_attachments",
            format!("a reply takes up to {MAX_ATTACHMENTS_PER_REPLY} attachments"),
        ));
    }
    let mut attachment_ids = Vec::with_capacity(new.attachment_ids.len());
    for raw in &new.attachment_ids {
        let id = AttachmentId::parse(raw).map_err(|_| never_announced(raw))?;
        if attachment_ids.contains(&id) {
            return Err(ApiError::invalid_body(format!("attachment {raw} is named twice")));
        }
        attachment_ids.push(id);
    }
    if text == ReplyText::None && attachment_ids.is_empty() {
        return Err(ApiError::bad_request("empty_reply", ReplyError::EmptyReply.to_string()));
    }
    Ok(CheckedComment {
        text,
        attachment_ids,
        notify_client: new.notify_client,
    })
}

impl Api {
    /// The page answers an `ETag`; asked again `If-None-Match` it, an unchanged page is a 304
    /// (the web inbox polls the open conversation for its ticks).
    pub(crate) async fn list_comments(
        &self,
        raw_task_id: &str,
        params: &Params<'_>,
        headers: &HeaderMap,
    ) -> Result<Response<Body>, ApiError> {
        let page = query::page(params)?;
        let task = self.live_task(raw_task_id).await?;
        let comments = self
            .store
            .list_comments(&task.id, &page)
            .await
            .context("list comments")?;
        let attachments = self.attachments_of(&comments.items).await?;
        let page = PageView::of(&comments, |comment| CommentView::new(comment, |id| attachments.get(id)));
        Ok(ok_unless_unchanged(&page, headers))
    }

    pub(crate) async fn create_comment(
        &self,
        raw_task_id: &str,
        request: &Request,
        caller: &StaffMember,
    ) -> Result<Response<Body>, ApiError> {
        let new: NewComment = json_body(request)?;
        let key = idempotency_key(request.headers())?;
        let task = self.live_task(raw_task_id).await?;
        let checked = check_comment(new)?;
        let keyed = key.map(|key| (key, request_digest(&task.id, &checked)));
        if let Some((key, request_hash)) = &keyed
            && let Some(earlier) = self.store.keyed_reply(&caller.id, key).await.context("get reply key")?
        {
            return self.replay(&task, &earlier, request_hash).await;
        }
        let request_hash = keyed.as_ref().map(|(_, hash)| hash.clone()).unwrap_or_default();
        let comment = match self.post_comment(&task, caller, checked, keyed).await? {
            Posted::New(comment) => comment,
            Posted::Earlier(earlier) => return self.replay(&task, &earlier, &request_hash).await,
        };
        tracing::info!(task_id = %task.id, comment_id = %comment.id, status = ?comment.status, "staff comment posted");
        self.comment_answer(&comment).await
    }

    /// The answer a post gets: 202 `{id, status}` for a reply to the client, 201 with the
    /// comment for an internal one.
    async fn comment_answer(&self, comment: &Comment) -> Result<Response<Body>, ApiError> {
        if comment.notify_client {
            return Ok(accepted(&QueuedView {
                id: &comment.id,
                status: effective_status(comment),
            }));
        }
        let attachments = self.attachments_of(std::slice::from_ref(comment)).await?;
        Ok(created(&CommentView::new(comment, |id| attachments.get(id))))
    }

    /// A post whose key made a reply already: the answer that reply got (its status as it is
    /// now), marked `Idempotent-Replayed`; the same key with another request is refused.
    async fn replay(&self, task: &Task, earlier: &KeyedReply, request_hash: &str) -> Result<Response<Body>, ApiError> {
        if earlier.task_id != task.id || earlier.request_hash != request_hash {
            return Err(ApiError::unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was used for another request in the last 24 hours; a new reply needs a new key",
            ));
        }
        let comment = self
            .store
            .get_comment(&earlier.task_id, &earlier.comment_id)
            .await
            .and_then(|found| {
                found.ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "a reply key names comment {} that is not stored",
                        earlier.comment_id
                    ))
                })
            })
            .context("get keyed comment")?;
        tracing::info!(task_id = %task.id, comment_id = %comment.id, "staff comment posted again under its key: answered, not posted");
        let mut answer = self.comment_answer(&comment).await?;
        answer
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        Ok(answer)
    }

    /// The attachments of a page of comments, read concurrently, each once.
    async fn attachments_of(&self, comments: &[Comment]) -> Result<HashMap<AttachmentId, Attachment>, ApiError> {
        let mut ids: Vec<&AttachmentId> = comments.iter().flat_map(|c| &c.attachment_ids).collect();
        ids.sort();
        ids.dedup();
        let reads = join_all(ids.iter().map(|id| self.store.get_attachment(id))).await;
        let mut found = HashMap::with_capacity(ids.len());
        for (id, read) in ids.into_iter().zip(reads) {
            match read.context("get attachment")? {
                Some(attachment) => {
                    found.insert(id.clone(), attachment);
                }
                None => tracing::warn!(attachment_id = %id, "a comment names an attachment that is not stored"),
            }
        }
        Ok(found)
    }

    /// Stores a staff comment; with `notify_client` also hands it to the sender. Returns the
    /// comment as stored, or, when `keyed`'s key was taken meanwhile (a post racing its retry),
    /// the reply the key made.
    async fn post_comment(
        &self,
        task: &Task,
        caller: &StaffMember,
        new: CheckedComment,
        keyed: Option<(IdempotencyKey, String)>,
    ) -> Result<Posted, ApiError> {
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
            details: None,
        };
        if let (Some(contact), Some(integration)) = (&contact, &integration)
            && new.notify_client
        {
            if !contact.subscribed {
                return Err(ApiError::conflict(
                    "client_unsubscribed",
                    "the client unsubscribed from the bot; Viber delivers nothing until they write again",
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
        let keyed = keyed.map(|(key, request_hash)| KeyedReply {
            staff_id: caller.id.clone(),
            key,
            task_id: task.id.clone(),
            comment_id: comment.id.clone(),
            request_hash,
            expires_at: comment.created_at.plus_seconds(REPLY_KEY_TTL_SECONDS),
        });
        // A task deleted since it was read is `Conflict::TaskGone`: 404, like a task never stored.
        match self
            .store
            .add_staff_comment(&comment, &new.attachment_ids, keyed.as_ref())
            .await
        {
            Ok(()) => Ok(Posted::New(Box::new(comment))),
            Err(StoreError::Conflict(Conflict::AlreadyExists(Record::ReplyKey(key)))) => {
                let earlier = self
                    .store
                    .keyed_reply(&caller.id, &key)
                    .await
                    .context("get reply key")?
                    // Taken a moment ago and expired since: the post can be tried again.
                    .ok_or(ApiError::Unavailable)?;
                Ok(Posted::Earlier(earlier))
            }
            Err(error) => Err(error).context("add comment"),
        }
    }

    /// The attachments a reply names, each announced and uploaded with the size announced. An
    /// upload already confirmed (by `GET /api/attachments/{id}`) is not checked again.
    async fn uploaded_attachments(&self, ids: &[AttachmentId]) -> Result<Vec<Attachment>, ApiError> {
        let mut attachments = Vec::with_capacity(ids.len());
        for id in ids {
            let mut attachment = self
                .store
                .get_attachment(id)
                .await
                .context("get attachment")?
                .ok_or_else(|| never_announced(id.as_str()))?;
            if !attachment.available
                && let UploadCheck::Missing(reason) = self.check_upload_landed(&attachment).await?
            {
                return Err(ApiError::bad_request("attachment_not_uploaded", reason));
            }
            attachment.available = true;
            attachment.unavailable_reason = None;
            attachment.awaiting_upload = false;
            attachments.push(attachment);
        }
        Ok(attachments)
    }

    async fn requester(&self, task: &Task) -> Result<Contact, ApiError> {
        self.store
            .get_contact(&task.requester_id)
            .await
            .context("get requester")?
            .ok_or_else(|| {
                ApiError::conflict(
                    "client_unknown",
                    "the task's client is not stored; a reply cannot reach them",
                )
            })
    }

    async fn connected_bot(&self, task: &Task) -> Result<Integration, ApiError> {
        self.store
            .get_integration(&task.integration_id)
            .await
            .context("get integration")?
            .ok_or_else(|| {
                ApiError::conflict(
                    "bot_disconnected",
                    "the task's Viber bot is no longer connected; a reply cannot reach the client",
                )
            })
    }

    async fn quick_reply_text(
        &self,
        id: &QuickReplyId,
        contact: &Contact,
        caller: &StaffMember,
        bot_name: &str,
    ) -> Result<String, ApiError> {
        let quick = self
            .store
            .get_quick_reply(id)
            .await
            .context("get quick reply")?
            .ok_or_else(unknown_quick_reply)?;
        Ok(render_quick_reply(&quick.text, contact, Some(caller), bot_name))
    }
}

/// What a post stored: its comment, or nothing because its key had made a reply already.
enum Posted {
    New(Box<Comment>),
    Earlier(KeyedReply),
}

/// The request's `Idempotency-Key`: none, or one valid key (1 to 64 letters, digits, `-` or `_`).
fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key: one key of 1 to 64 letters, digits, '-' or '_' (a UUID fits)",
        )
    };
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid());
    }
    let raw = value.to_str().map_err(|_| invalid())?;
    IdempotencyKey::parse(raw.trim()).map(Some).map_err(|_| invalid())
}

/// What a post asks for, as a digest: its task and its checked body (a quick reply by its id, not
/// its rendering, which changes with the contact).
fn request_digest(task_id: &TaskId, comment: &CheckedComment) -> String {
    let (text, quick_reply_id) = match &comment.text {
        ReplyText::None => (None, None),
        ReplyText::Written(text) => (Some(text.as_str()), None),
        ReplyText::QuickReply(id) => (None, Some(id.as_str())),
    };
    let canonical = serde_json::json!({
        "task_id": task_id.as_str(),
        "text": text,
        "quick_reply_id": quick_reply_id,
        "attachment_ids": comment.attachment_ids.iter().map(AttachmentId::as_str).collect::<Vec<_>>(),
        "notify_client": comment.notify_client,
    });
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
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
        .map_err(|error| ApiError::bad_request("not_sendable", error.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

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
        assert_eq!(check_comment(new(None, None, &[])).unwrap_err().code(), "empty_reply");
        assert_eq!(
            check_comment(new(Some(" \n "), None, &[])).unwrap_err().code(),
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
            check_comment(new(Some("hi"), Some("q1"), &[])).unwrap_err().code(),
            "invalid_body"
        );
        let long = "a".repeat(MAX_REPLY_CHARS + 1);
        assert_eq!(
            check_comment(new(Some(&long), None, &[])).unwrap_err().code(),
            "text_too_long"
        );
        let eleven: Vec<String> = (0..=MAX_ATTACHMENTS_PER_REPLY).map(|n| format!("a{n}")).collect();
        let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
        assert_eq!(
            check_comment(new(None, None, &eleven)).unwrap_err().code(),
            "too_many_attachments"
        );
        assert_eq!(
            check_comment(new(None, None, &["a1", "a1"])).unwrap_err().code(),
            "invalid_body"
        );
        assert_eq!(
            check_comment(new(None, None, &["../x"])).unwrap_err().code(),
            "unknown_attachment"
        );
    }

    #[test]
    fn a_comment_shows_its_effective_status_and_attachments_in_order() {
        let at = Timestamp::from_millis;
        let attachment = |id: &str, available: bool| Attachment {
            id: AttachmentId::parse(id).unwrap(),
            file_name: format!("{id}.pdf"),
            content_type: "application/pdf".into(),
            size: 42,
            available,
            unavailable_reason: (!available).then(|| "the link expired at Viber".to_owned()),
            awaiting_upload: false,
            blob_key: format!("blobs/{id}"),
            created_at: at(0),
        };
        let stored = [attachment("a1", true), attachment("a2", false)];
        let comment = Comment {
            id: CommentId::parse("k1").unwrap(),
            task_id: TaskId::parse("t1").unwrap(),
            author: Author {
                kind: AuthorKind::Staff,
                id: "ivan".into(),
            },
            text: Some("hi".into()),
            attachment_ids: vec![
                AttachmentId::parse("a2").unwrap(),
                AttachmentId::parse("gone").unwrap(),
                AttachmentId::parse("a1").unwrap(),
            ],
            notify_client: true,
            status: CommentStatus::Queued,
            status_reason: None,
            created_at: at(0),
            viber_message_type: None,
            viber_message_token: None,
            parts: BTreeMap::from([
                ("1".into(), CommentStatus::Seen),
                ("2".into(), CommentStatus::Delivered),
            ]),
            outbound: None,
            details: None,
        };
        let view = CommentView::new(&comment, |id| stored.iter().find(|a| &a.id == id));
        assert_eq!(
            serde_json::to_value(&view).unwrap(),
            json!({
                "id": "k1", "task_id": "t1", "author": {"type": "staff", "id": "ivan"}, "text": "hi",
                "attachments": [
                    {"id": "a2", "file_name": "a2.pdf", "content_type": "application/pdf", "size": 42, "available": false,
                     "unavailable_reason": "the link expired at Viber"},
                    {"id": "a1", "file_name": "a1.pdf", "content_type": "application/pdf", "size": 42, "available": true,
                     "unavailable_reason": null}
                ],
                "notify_client": true, "status": "delivered", "status_reason": null,
                "created_at": "1970-01-01T00:00:00.000Z", "message_type": null, "location": null,
                "shared_contact": null, "sticker_id": null
            })
        );
    }

    #[test]
    fn a_location_a_contact_card_and_a_sticker_show_their_details() {
        let comment = |details: MessageDetails, kind: &str| Comment {
            id: CommentId::parse("m1").unwrap(),
            task_id: TaskId::parse("t1").unwrap(),
            author: Author {
                kind: AuthorKind::Contact,
                id: "c1".into(),
            },
            text: Some("shared".into()),
            attachment_ids: vec![],
            notify_client: false,
            status: CommentStatus::Received,
            status_reason: None,
            created_at: Timestamp::from_millis(0),
            viber_message_type: Some(kind.into()),
            viber_message_token: Some(1),
            parts: BTreeMap::new(),
            outbound: None,
            details: Some(details),
        };
        let shown = |comment: &Comment| serde_json::to_value(CommentView::new(comment, |_| None)).unwrap();
        let location = shown(&comment(
            MessageDetails::Location { lat: 50.45, lon: 30.52 },
            "location",
        ));
        assert_eq!(location["message_type"], "location");
        assert_eq!(location["location"], json!({"lat": 50.45, "lon": 30.52}));
        let card = shown(&comment(
            MessageDetails::SharedContact {
                name: Some("Олена".into()),
                phone: Some("+380501234567".into()),
            },
            "contact",
        ));
        assert_eq!(
            card["shared_contact"],
            json!({"name": "Олена", "phone": "+380501234567"})
        );
        assert_eq!(card["location"], Value::Null);
        let sticker = shown(&comment(
            MessageDetails::Sticker {
                sticker_id: "40133".into(),
            },
            "sticker",
        ));
        assert_eq!(sticker["sticker_id"], "40133");
    }
}
