//! The helpdesk's records, as stored and as the staff API shows them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{AttachmentId, CommentId, ContactId, IntegrationId, QuickReplyId, StaffId, TaskId};
use crate::secret::AuthToken;
use crate::time::Timestamp;

/// Task statuses; the first three are "active".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    New,
    InProgress,
    Waiting,
    Completed,
    Cancelled,
}

impl TaskStatus {
    pub fn is_active(self) -> bool {
        matches!(self, TaskStatus::New | TaskStatus::InProgress | TaskStatus::Waiting)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::New => "new",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Waiting => "waiting",
            TaskStatus::Completed => "completed",
            TaskStatus::Cancelled => "cancelled",
        }
    }
}

/// What a new task looks like (docs/rules.md §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskTemplate {
    /// Pattern with `{name}` (and the other placeholders of `rules::render_title`).
    pub task_title: String,
    pub initial_status: TaskStatus,
    pub assignee_id: Option<StaffId>,
    pub participant_ids: Vec<StaffId>,
}

impl Default for TaskTemplate {
    fn default() -> Self {
        Self {
            task_title: "Viber: {name}".to_owned(),
            initial_status: TaskStatus::New,
            assignee_id: None,
            participant_ids: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IntegrationOptions {
    pub new_task_if_no_active: bool,
    pub send_as_staff: bool,
    pub welcome_message: Option<String>,
}

impl Default for IntegrationOptions {
    fn default() -> Self {
        Self {
            new_task_if_no_active: true,
            send_as_staff: false,
            welcome_message: None,
        }
    }
}

/// What a new contact of a bot gets when it is created from a callback (docs/rules.md §1): the
/// group it joins, its labels and default values of custom fields. Applied once, at creation: a
/// template change never rewrites existing contacts. The default (nothing) is a bare contact.
/// Bounds: `rules::contact_tags`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContactTemplate {
    pub group: Option<String>,
    pub labels: Vec<String>,
    pub fields: BTreeMap<String, String>,
}

/// The bot as Viber describes it (`get_account_info`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotProfile {
    pub name: String,
    pub uri: String,
    #[serde(default)]
    pub icon: Option<String>,
}

impl BotProfile {
    /// `viber://pa?chatURI={uri}` (docs/viber-api.md §9).
    pub fn deep_link(&self) -> String {
        format!("viber://pa?chatURI={}", urlencoding::encode(&self.uri))
    }
}

/// A connected Viber bot. Holds the bot's auth token: never serialise it into an API answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    pub id: IntegrationId,
    pub name: String,
    pub auth_token: AuthToken,
    pub bot: BotProfile,
    pub webhook_url: String,
    #[serde(default)]
    pub template: TaskTemplate,
    #[serde(default)]
    pub options: IntegrationOptions,
    /// What its new contacts get.
    #[serde(default)]
    pub contact_template: ContactTemplate,
    #[serde(default)]
    pub connected_by: Option<StaffId>,
    pub created_at: Timestamp,
}

impl Integration {
    pub fn deep_link(&self) -> String {
        self.bot.deep_link()
    }
}

/// `{PUBLIC_BASE_URL}/viber/{id}`.
pub fn webhook_url(public_base_url: &str, id: &IntegrationId) -> String {
    format!("{}/viber/{}", public_base_url.trim_end_matches('/'), id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Staff,
}

/// A staff member. The bearer token is stored only as its SHA-256 hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffMember {
    pub id: StaffId,
    pub name: String,
    #[serde(default)]
    pub avatar_url: Option<String>,
    pub role: Role,
    pub created_at: Timestamp,
}

/// Where a contact's current task stands, kept on the contact so routing a message needs one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Active,
    Inactive,
    Deleted,
}

impl TaskState {
    pub fn of(status: TaskStatus, deleted: bool) -> Self {
        if deleted {
            TaskState::Deleted
        } else if status.is_active() {
            TaskState::Active
        } else {
            TaskState::Inactive
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentTask {
    pub id: TaskId,
    pub state: TaskState,
    /// When the task was created (unknown for contacts stored before it was kept): a message
    /// sent before it may have gone to an earlier task (`rules::may_predate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// The contact's task before this one, set when this one is opened: a message that opened
    /// it and was cut short before writing it finishes it with the same predecessor
    /// (docs/data-model.md, "A client message").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<TaskId>,
}

/// A Viber user of one integration. The id is derived from (integration, Viber user id), so the
/// contact is found and upserted without an index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: ContactId,
    pub integration_id: IntegrationId,
    pub viber_user_id: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub language: Option<String>,
    pub country: Option<String>,
    pub api_version: Option<u32>,
    /// Known only from a shared contact card.
    pub phone: Option<String>,
    pub subscribed: bool,
    /// Viber's time of the last (un)subscription signal; older signals are ignored.
    pub subscription_changed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub current_task: Option<CurrentTask>,
    /// Optimistic-lock counter: every write expects the version it read.
    pub version: u64,
    /// The client's avatar as copied into the attachments bucket: the staff inbox loads nothing
    /// from Viber's servers (its CSP allows only its own origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<StoredAvatar>,
    /// The team's sorting of the client: the group they are in (one at most), their labels and
    /// custom text fields. Set from the bot's `ContactTemplate` when the contact is created,
    /// then only by staff. Lists by group and by label are indexed (docs/data-model.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

/// A contact's avatar copied from Viber (`avatar_url`) into the attachments bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAvatar {
    /// The Viber URL it was copied from: a profile with another URL is copied again.
    pub source_url: String,
    /// Where the copy is; `None` when copying failed for good (the inbox shows initials).
    pub blob_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub integration_id: IntegrationId,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub requester_id: ContactId,
    pub assignee_id: Option<StaffId>,
    pub participant_ids: Vec<StaffId>,
    pub previous_task_id: Option<TaskId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_message_at: Timestamp,
    #[serde(default)]
    pub deleted: bool,
    /// The client's name as their Viber profile last gave it: task lists show it and search it.
    #[serde(default)]
    pub requester_name: Option<String>,
    /// Where the copy of the client's avatar is in the attachments bucket (`Contact::avatar`),
    /// so lists show it without reading the contact.
    #[serde(default)]
    pub requester_avatar: Option<String>,
    /// The client's last message as task lists show it.
    #[serde(default)]
    pub last_message: Option<LastMessage>,
}

/// A client's message as a task list shows it (`rules::last_message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastMessage {
    /// Viber's message type (`text`, `picture`, `sticker`, …).
    pub kind: String,
    /// Its text, shortened (`rules::PREVIEW_MAX_CHARS`); `None` for media without a caption.
    pub preview: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    Contact,
    Staff,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    #[serde(rename = "type")]
    pub kind: AuthorKind,
    pub id: String,
}

/// A comment's delivery state. The order is the order of progress: statuses never move back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentStatus {
    Received,
    Internal,
    Queued,
    Sent,
    Delivered,
    Seen,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub id: CommentId,
    pub task_id: TaskId,
    pub author: Author,
    pub text: Option<String>,
    pub attachment_ids: Vec<AttachmentId>,
    pub notify_client: bool,
    pub status: CommentStatus,
    pub status_reason: Option<String>,
    pub created_at: Timestamp,
    /// For a client's message: Viber's message type and token.
    #[serde(default)]
    pub viber_message_type: Option<String>,
    #[serde(default)]
    pub viber_message_token: Option<u64>,
    /// For a reply: the status of each Viber message it was sent as, by `message_token`.
    #[serde(default)]
    pub parts: BTreeMap<String, CommentStatus>,
    /// For a reply to the client (`notify_client`): what it is sent as, fixed when it is posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<OutboundPlan>,
    /// What a client's location, contact card or sticker carried, beyond its text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<MessageDetails>,
}

/// The structured part of a client message that text alone would lose (`rules::message_details`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MessageDetails {
    Location {
        lat: f64,
        lon: f64,
    },
    SharedContact {
        name: Option<String>,
        phone: Option<String>,
    },
    Sticker {
        sticker_id: String,
    },
}

/// Everything the sender needs besides the comment and its bot, captured when staff post the
/// reply: sending it then takes one read, and it goes out as it was written even if the contact,
/// the staff member or the files' records change before it leaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundPlan {
    pub integration_id: IntegrationId,
    pub contact_id: ContactId,
    pub viber_user_id: String,
    /// The replying staff member, set only when the integration sends as staff member.
    #[serde(default)]
    pub as_staff: Option<StaffMember>,
    /// The attachments in order, as uploaded.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// How many Viber messages the reply is sent as (its text parts, then one per attachment),
    /// counted when it is posted: its status is the least advanced of ALL of them, a part Viber
    /// has not accepted yet counting as `queued` (`rules::effective_status`). 0 only on replies
    /// stored before the count was kept.
    #[serde(default)]
    pub part_count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: AttachmentId,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    pub available: bool,
    pub unavailable_reason: Option<String>,
    /// A staff upload announced but not yet seen in the bucket: the first read that finds its bytes
    /// there with the announced size records it as available. Only consulted while the file is not
    /// `available`.
    #[serde(default)]
    pub awaiting_upload: bool,
    /// The object's key in the attachments bucket.
    pub blob_key: String,
    pub created_at: Timestamp,
}

/// A canned answer staff can send as a reply's text (with placeholders, see
/// `rules::render_quick_reply`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuickReply {
    pub id: QuickReplyId,
    pub title: String,
    pub text: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_design() {
        let template = TaskTemplate::default();
        assert_eq!(template.task_title, "Viber: {name}");
        assert_eq!(template.initial_status, TaskStatus::New);
        assert!(template.assignee_id.is_none() && template.participant_ids.is_empty());
        let options = IntegrationOptions::default();
        assert!(options.new_task_if_no_active && !options.send_as_staff && options.welcome_message.is_none());
    }

    #[test]
    fn partial_template_and_options_fill_in_defaults() {
        let options: IntegrationOptions = serde_json::from_str(r#"{"send_as_staff":true}"#).unwrap();
        assert!(options.new_task_if_no_active && options.send_as_staff);
        let template: TaskTemplate = serde_json::from_str(r#"{"initial_status":"in_progress"}"#).unwrap();
        assert_eq!(template.task_title, "Viber: {name}");
        assert_eq!(template.initial_status, TaskStatus::InProgress);
    }

    #[test]
    fn deep_link_uses_the_bot_uri() {
        let bot = BotProfile {
            name: "Acme".into(),
            uri: "acmesupport".into(),
            icon: None,
        };
        assert_eq!(bot.deep_link(), "viber://pa?chatURI=acmesupport");
    }

    #[test]
    fn webhook_url_joins_without_double_slash() {
        let id = IntegrationId::parse("default").unwrap();
        assert_eq!(
            webhook_url("https://x.example/", &id),
            "https://x.example/viber/default"
        );
    }
}
