//! What the staff API answers (DESIGN.md "Resource shapes"): snake_case JSON, ids as strings,
//! times RFC 3339 UTC, `null` for an absent optional field. Internal fields (a contact's
//! `current_task` and `version`, an attachment's `blob_key`, a comment's Viber parts) never leave.

use serde::Serialize;
use shared::ids::{AttachmentId, CommentId, ContactId, IntegrationId, StaffId, TaskId};
use shared::model::{Attachment, AuthorKind, Comment, CommentStatus, Contact, Role, StaffMember, Task, TaskStatus};
use shared::ports::Page;
use shared::rules::effective_status;
use shared::time::Timestamp;

/// `{"items": [...], "next_cursor": null or "..."}`.
#[derive(Debug, Serialize)]
pub struct PageView<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> PageView<T> {
    /// A page of stored items, each shown through `view`.
    pub fn of<'a, U>(page: &'a Page<U>, view: impl FnMut(&'a U) -> T) -> Self {
        Self {
            items: page.items.iter().map(view).collect(),
            next_cursor: page.next_cursor.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct StaffView<'a> {
    pub id: &'a StaffId,
    pub name: &'a str,
    pub avatar_url: Option<&'a str>,
    pub role: Role,
}

impl<'a> From<&'a StaffMember> for StaffView<'a> {
    fn from(member: &'a StaffMember) -> Self {
        Self {
            id: &member.id,
            name: &member.name,
            avatar_url: member.avatar_url.as_deref(),
            role: member.role,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ContactView<'a> {
    pub id: &'a ContactId,
    pub integration_id: &'a IntegrationId,
    pub viber_user_id: &'a str,
    pub name: Option<&'a str>,
    pub avatar_url: Option<&'a str>,
    pub language: Option<&'a str>,
    pub country: Option<&'a str>,
    pub api_version: Option<u32>,
    pub phone: Option<&'a str>,
    pub subscribed: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl<'a> From<&'a Contact> for ContactView<'a> {
    fn from(contact: &'a Contact) -> Self {
        Self {
            id: &contact.id,
            integration_id: &contact.integration_id,
            viber_user_id: &contact.viber_user_id,
            name: contact.name.as_deref(),
            avatar_url: contact.avatar_url.as_deref(),
            language: contact.language.as_deref(),
            country: contact.country.as_deref(),
            api_version: contact.api_version,
            phone: contact.phone.as_deref(),
            subscribed: contact.subscribed,
            created_at: contact.created_at,
            updated_at: contact.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TaskView<'a> {
    pub id: &'a TaskId,
    pub integration_id: &'a IntegrationId,
    pub title: &'a str,
    pub description: &'a str,
    pub status: TaskStatus,
    pub requester_id: &'a ContactId,
    pub assignee_id: Option<&'a StaffId>,
    pub participant_ids: &'a [StaffId],
    pub previous_task_id: Option<&'a TaskId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_message_at: Timestamp,
}

impl<'a> From<&'a Task> for TaskView<'a> {
    fn from(task: &'a Task) -> Self {
        Self {
            id: &task.id,
            integration_id: &task.integration_id,
            title: &task.title,
            description: &task.description,
            status: task.status,
            requester_id: &task.requester_id,
            assignee_id: task.assignee_id.as_ref(),
            participant_ids: &task.participant_ids,
            previous_task_id: task.previous_task_id.as_ref(),
            created_at: task.created_at,
            updated_at: task.updated_at,
            last_message_at: task.last_message_at,
        }
    }
}

/// `GET /api/tasks/{id}`: the task and, as `requester`, its contact (`null` if that is gone).
#[derive(Debug, Serialize)]
pub struct TaskDetailView<'a> {
    #[serde(flatten)]
    pub task: TaskView<'a>,
    pub requester: Option<ContactView<'a>>,
}

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
        }
    }
}

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;
    use shared::model::Author;

    use super::*;

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_millis(millis)
    }

    #[test]
    fn a_contact_shows_its_profile_but_not_its_bookkeeping() {
        let contact = Contact {
            id: ContactId::parse("c1").unwrap(),
            integration_id: IntegrationId::parse("acme").unwrap(),
            viber_user_id: "u==".into(),
            name: Some("Олена".into()),
            avatar_url: None,
            language: Some("uk".into()),
            country: Some("UA".into()),
            api_version: Some(10),
            phone: None,
            subscribed: true,
            subscription_changed_at: Some(at(5)),
            created_at: at(0),
            updated_at: at(1000),
            current_task: None,
            version: 3,
            avatar: None,
        };
        assert_eq!(
            serde_json::to_value(ContactView::from(&contact)).unwrap(),
            json!({
                "id": "c1", "integration_id": "acme", "viber_user_id": "u==", "name": "Олена",
                "avatar_url": null, "language": "uk", "country": "UA", "api_version": 10, "phone": null,
                "subscribed": true, "created_at": "1970-01-01T00:00:00.000Z",
                "updated_at": "1970-01-01T00:00:01.000Z"
            })
        );
    }

    #[test]
    fn a_comment_shows_its_effective_status_and_attachments_in_order() {
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
                "created_at": "1970-01-01T00:00:00.000Z"
            })
        );
    }
}
