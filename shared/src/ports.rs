//! Narrow, per-operation ports. Each has an in-memory adapter (`memory`) and an AWS adapter
//! (`aws`); each handler holds the ones it needs bundled as its consumer's store trait
//! ([`consumers`]: `WebhookStore`, `ProcessorStore`, `SenderStore`, `ApiStore`), built once in
//! `main`.

use async_trait::async_trait;

use crate::ids::{IntegrationId, StaffId};
use crate::model::{Integration, StaffMember};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or refused the request; retrying may help.
    #[error("storage request failed: {0}")]
    Unavailable(String),
    /// A stored item does not decode: a bug or a hand-edited item, never retried into success.
    #[error("stored item is unreadable: {0}")]
    Corrupt(String),
    /// A conditional write found the item in another state; the [`Conflict`] says which.
    #[error("conditional write refused: {0}")]
    Conflict(Conflict),
    /// A list was given a cursor it never handed out.
    #[error("invalid cursor")]
    InvalidCursor,
}

/// What a refused conditional write found (docs/data-model.md lists each write's conditions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// The record to create exists already.
    #[error("{0} exists already")]
    AlreadyExists(Record),
    /// The contact is not at the version read (or exists although none was read).
    #[error("contact {0} changed since it was read")]
    ContactChanged(ContactId),
    /// A client message's task is no longer as read: gone, deleted, or no longer active when
    /// the message had to join an active task.
    #[error("task {0} changed since it was read")]
    TaskChanged(TaskId),
    /// The task does not exist or was deleted.
    #[error("task {0} not found")]
    TaskGone(TaskId),
    #[error("comment {0} not found")]
    UnknownComment(CommentId),
    #[error("attachment {0} not found")]
    UnknownAttachment(AttachmentId),
    /// A reply's part already carries another Viber message token.
    #[error("part {part_index} of comment {comment_id} was already sent as another message")]
    PartTokenTaken { comment_id: CommentId, part_index: usize },
    /// The record changed between read and write on every attempt of a read-decide-write cycle.
    #[error("{0} kept changing")]
    KeptChanging(Record),
}

impl From<Conflict> for StoreError {
    fn from(conflict: Conflict) -> Self {
        StoreError::Conflict(conflict)
    }
}

/// The stored record a [`Conflict`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Integration(IntegrationId),
    StaffMember(StaffId),
    Task(TaskId),
    Comment(CommentId),
    Contact(ContactId),
    /// A staff member's `Idempotency-Key` ([`KeyedReply`]).
    ReplyKey(IdempotencyKey),
}

impl std::fmt::Display for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Record::Integration(id) => write!(f, "integration {id}"),
            Record::StaffMember(id) => write!(f, "staff member {id}"),
            Record::Task(id) => write!(f, "task {id}"),
            Record::Comment(id) => write!(f, "comment {id}"),
            Record::Contact(id) => write!(f, "contact {id}"),
            Record::ReplyKey(key) => write!(f, "reply key {key}"),
        }
    }
}

#[async_trait]
pub trait IntegrationStore: Send + Sync {
    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<Integration>, StoreError>;
    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError>;
}

#[async_trait]
pub trait StaffStore: Send + Sync {
    /// Stores a member with the SHA-256 hash of their bearer token (never the token).
    async fn put_staff(&self, member: &StaffMember, token_hash: &str) -> Result<(), StoreError>;
    async fn staff_by_token_hash(&self, token_hash: &str) -> Result<Option<StaffMember>, StoreError>;
    async fn get_staff(&self, id: &crate::ids::StaffId) -> Result<Option<StaffMember>, StoreError>;
    /// The account's owner (the first owner created): the assignee of last resort but one.
    async fn account_owner(&self) -> Result<Option<StaffMember>, StoreError>;
}

/// One message for a queue. `group_id` and `dedup_id` are used by FIFO queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue request failed: {0}")]
    Unavailable(String),
    #[error("queue refused the message: {0}")]
    Rejected(String),
}

#[async_trait]
pub trait MessageQueue: Send + Sync {
    async fn send(&self, message: QueueMessage) -> Result<(), QueueError>;
}

/// What retrying a failed record needs of its queue: SQS's `ChangeMessageVisibility`
/// (`crate::aws::SqsQueue`), the in-memory queue's release (`crate::memory::MemoryQueue`).
#[async_trait]
pub trait Postpone: Send + Sync {
    /// Makes the received record behind `receipt_handle` visible again after `delay` (at once
    /// for zero); its message group waits with it.
    async fn postpone(&self, receipt_handle: &str, delay: std::time::Duration) -> Result<(), QueueError>;
}

/// SHA-256 of a bearer token, hex: what is stored and looked up instead of the token.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub mod consumers;
pub use consumers::{ApiStore, MediaWorkerStore, ProcessorStore, SenderStore, Store, WebhookStore};

// ---- Contacts, tasks, comments (the processor's writes and the staff API's reads) ----

use crate::ids::{AttachmentId, CommentId, ContactId, IdempotencyKey, QuickReplyId, TaskId};
use crate::model::{Attachment, Comment, CommentStatus, Contact, QuickReply, StoredAvatar, Task, TaskStatus};
use crate::time::Timestamp;

/// Pagination: `limit` items after the opaque `cursor` a previous page returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub cursor: Option<String>,
    pub limit: usize,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: usize = 50;
    pub const MAX_LIMIT: usize = 100;

    pub fn first(limit: usize) -> Self {
        Self { cursor: None, limit }
    }
}

/// A list's opaque cursor: the last item's sort key, hex-encoded (both adapters page this way).
pub fn encode_cursor(sort_key: &str) -> String {
    hex::encode(sort_key)
}

/// The sort key inside a cursor; `InvalidCursor` for anything a list never returned.
pub fn decode_cursor(cursor: &str) -> Result<String, StoreError> {
    hex::decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|key| !key.is_empty())
        .ok_or(StoreError::InvalidCursor)
}

/// `{millis, 13 digits}#{id}`: the sort key of "newest activity first" lists (by time, then id).
pub fn recency_key(at: Timestamp, id: &str) -> String {
    format!("{:013}#{id}", at.millis().max(0))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Filters of `GET /api/tasks`; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    pub assignee_id: Option<crate::ids::StaffId>,
    pub integration_id: Option<IntegrationId>,
    /// Only tasks nobody is assigned to (the inbox's Unassigned tab).
    pub unassigned: bool,
    /// Only tasks whose title or client's name contains this, compared in lowercase (see
    /// [`search_text`]); the caller passes it lowercased and trimmed.
    pub search: Option<String>,
    /// Only this client's tasks (listed newest first by creation rather than by activity).
    pub requester_id: Option<ContactId>,
}

impl TaskFilter {
    /// Whether a task passes the filter: what the adapters check on records they hold in
    /// memory (the DynamoDB adapter reads its lists through indexes and expressions instead).
    pub fn matches(&self, task: &Task) -> bool {
        let contains = |text: &str, search: &str| search_text(text).contains(search);
        !task.deleted
            && self.status.is_none_or(|s| task.status == s)
            && self
                .assignee_id
                .as_ref()
                .is_none_or(|a| task.assignee_id.as_ref() == Some(a))
            && (!self.unassigned || task.assignee_id.is_none())
            && self.integration_id.as_ref().is_none_or(|i| &task.integration_id == i)
            && self.requester_id.as_ref().is_none_or(|r| &task.requester_id == r)
            && self.search.as_deref().is_none_or(|search| {
                contains(&task.title, search) || task.requester_name.as_deref().is_some_and(|n| contains(n, search))
            })
    }
}

/// What a task search compares: lowercase, so a search ignores case (DynamoDB's `contains`
/// does not).
pub fn search_text(text: &str) -> String {
    text.to_lowercase()
}

/// Tasks with activity after a point of the change feed, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangedTasks {
    pub tasks: Vec<Task>,
    /// More tasks changed than were asked for: the reader should reload its lists instead.
    pub truncated: bool,
}

/// The task side of a client message.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskWrite {
    /// A new task (the contact's first, or one after the last became inactive / deleted).
    Create(Task),
    /// The message joins the contact's current task, which must still exist and not be deleted;
    /// with `require_active` its status must also still be active (new / in_progress / waiting).
    /// (`require_active` is false only when the integration's "new task if no active task" option
    /// is off and the message goes on into a completed or cancelled task.)
    Append {
        task_id: TaskId,
        last_message_at: Timestamp,
        require_active: bool,
        /// The message as the task's lists show it, and the client's current name and avatar
        /// copy (each left as stored when `None`).
        last_message: Option<crate::model::LastMessage>,
        requester_name: Option<String>,
        requester_avatar: Option<String>,
    },
}

/// Everything one client message writes, applied all or nothing, exactly once per message: the
/// comment's id is derived from the message (Viber's time and `message_token`), so a second
/// write of the same message finds its comment and changes nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageWrite {
    /// The contact's new state when the message changes it (profile, subscription, avatar copy,
    /// current task; `version` one more than the version read); `None` leaves the contact as
    /// stored, unwritten (the task's own condition guards the routing then).
    pub contact: Option<Contact>,
    /// The version read (`None`: the contact must not exist yet); checked only when `contact`
    /// is written.
    pub expected_contact_version: Option<u64>,
    pub task: TaskWrite,
    pub comment: Comment,
    pub attachments: Vec<Attachment>,
    /// Tasks other than the comment's own that an earlier delivery of this message may have put
    /// its comment in (the contact's task changed since it was sent, see
    /// `rules::may_predate`): the message is a duplicate if its comment is in any of them.
    pub earlier_tasks: Vec<TaskId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Applied,
    /// The same message was applied before (its comment exists): nothing changed.
    Duplicate,
}

#[async_trait]
pub trait ContactStore: Send + Sync {
    async fn get_contact(&self, id: &ContactId) -> Result<Option<Contact>, StoreError>;
    /// Writes the contact if its stored version is still `expected_version` (`None`: absent);
    /// otherwise `StoreError::Conflict`.
    async fn put_contact(&self, contact: &Contact, expected_version: Option<u64>) -> Result<(), StoreError>;
    /// Every contact, newest created first (a contact never moves in this list).
    async fn list_contacts(&self, page: &PageRequest) -> Result<Page<Contact>, StoreError>;
}

/// Filters of `GET /api/contacts` by the team's sorting; at least one is given (the list of
/// every contact is [`ContactStore::list_contacts`]). Combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactFilter {
    pub group: Option<String>,
    pub label: Option<String>,
}

impl ContactFilter {
    /// Whether a contact passes the filter: what the adapters check on the records they read
    /// (an index entry may lag behind its contact).
    pub fn matches(&self, contact: &Contact) -> bool {
        self.group.as_ref().is_none_or(|g| contact.group.as_ref() == Some(g))
            && self.label.as_ref().is_none_or(|l| contact.labels.contains(l))
    }
}

/// A change of a contact's sorting by staff: absent fields stay as they are; given labels and
/// fields replace the stored ones. Values are checked already (`rules::check_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactChange {
    /// `Some(None)` takes the contact out of its group.
    pub group: Option<Option<String>>,
    pub labels: Option<Vec<String>>,
    pub fields: Option<std::collections::BTreeMap<String, String>>,
}

impl ContactChange {
    /// Applies the change to a contact read from the store.
    pub fn apply(&self, contact: &mut Contact) {
        if let Some(group) = &self.group {
            contact.group = group.clone();
        }
        if let Some(labels) = &self.labels {
            contact.labels = labels.clone();
        }
        if let Some(fields) = &self.fields {
            contact.fields = fields.clone();
        }
    }
}

/// Staff sorting clients (the staff API's `/api/contacts`): lists by group and label, answered
/// from an index (docs/data-model.md), and changes of a contact's group, labels and fields.
///
/// A contact's labels are indexed with it when it is created ([`ContactStore::put_contact`] or
/// [`MessageStore::apply_message`] with no version read) and by [`ContactAdmin::update_contact`];
/// a later write by the processor carries them over unchanged.
#[async_trait]
pub trait ContactAdmin: ContactStore {
    /// Contacts in the group and/or with the label, newest first by creation.
    async fn list_contacts_by(&self, filter: &ContactFilter, page: &PageRequest) -> Result<Page<Contact>, StoreError>;
    /// Applies `change` at `at` under the contact's optimistic lock (moving its version on, so a
    /// processor write racing it decides again); `None` if there is no such contact.
    async fn update_contact(
        &self,
        id: &ContactId,
        change: &ContactChange,
        at: Timestamp,
    ) -> Result<Option<Contact>, StoreError>;
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Applies a client message atomically. `Conflict` when the contact or its task changed
    /// since they were read (the caller re-reads and decides again).
    async fn apply_message(&self, write: &MessageWrite) -> Result<WriteOutcome, StoreError>;
}

#[async_trait]
pub trait TaskStore: Send + Sync {
    async fn get_task(&self, id: &TaskId) -> Result<Option<Task>, StoreError>;
    /// Tasks (deleted ones excluded), newest activity first.
    async fn list_tasks(&self, filter: &TaskFilter, page: &PageRequest) -> Result<Page<Task>, StoreError>;
    /// A task's comments, oldest first.
    async fn list_comments(&self, task_id: &TaskId, page: &PageRequest) -> Result<Page<Comment>, StoreError>;
    async fn get_attachment(&self, id: &AttachmentId) -> Result<Option<Attachment>, StoreError>;
    /// Live tasks whose activity key ([`recency_key`] of `last_message_at`: a new client message,
    /// or a new task) is after `after`, newest first, at most `limit` of them. Read from the
    /// list of every task, which is eventually consistent: callers read a little before the
    /// point they last saw.
    async fn list_changed_tasks(&self, after: &str, limit: usize) -> Result<ChangedTasks, StoreError>;
}

/// How far each staff member has read each task: tasks with client messages after it are
/// unread for them.
#[async_trait]
pub trait ReadMarkerStore: Send + Sync {
    /// Records that `staff` has read `task` up to `up_to` (the time of its last client message).
    /// A marker never moves back: an older `up_to` than the one stored changes nothing.
    async fn mark_read(&self, staff: &StaffId, task: &TaskId, up_to: Timestamp) -> Result<(), StoreError>;
    /// The markers of `staff` for these tasks (a page of a list); a task never read by them is
    /// absent.
    async fn read_markers(
        &self,
        staff: &StaffId,
        tasks: &[TaskId],
    ) -> Result<std::collections::HashMap<TaskId, Timestamp>, StoreError>;
}

/// Which comment a Viber `message_token` the bot sent belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRef {
    pub task_id: TaskId,
    pub comment_id: CommentId,
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Remembers that `message_token` (sent by `integration_id`'s bot) is a part of a comment.
    async fn record_part(
        &self,
        integration_id: &IntegrationId,
        message_token: u64,
        part: &PartRef,
    ) -> Result<(), StoreError>;
    async fn find_part(
        &self,
        integration_id: &IntegrationId,
        message_token: u64,
    ) -> Result<Option<PartRef>, StoreError>;
    /// Moves one part's status forward (never back; `failed` is final) and keeps `reason` for a
    /// failure.
    async fn advance_part(
        &self,
        part: &PartRef,
        message_token: u64,
        status: CommentStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError>;
}

// ---- Files (the attachments bucket) ----

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob storage request failed: {0}")]
    Unavailable(String),
    #[error("no such blob: {0}")]
    NotFound(String),
}

/// The private attachments bucket. Objects are reached from outside only through short-lived
/// signed URLs.
#[async_trait]
pub trait BlobStore: Send + Sync {
    async fn put(&self, key: &str, bytes: bytes::Bytes, content_type: &str) -> Result<(), BlobError>;
    /// A URL that GETs the object until `expires_at`, offering it as `file_name`.
    async fn presign_get(&self, key: &str, file_name: &str, expires_at: Timestamp) -> Result<String, BlobError>;
    /// A URL that accepts one HTTP PUT of exactly `size` bytes of `content_type` until `expires_at`.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires_at: Timestamp,
    ) -> Result<String, BlobError>;
    /// The stored object's size in bytes; `None` when nothing is stored under `key`.
    async fn stat(&self, key: &str) -> Result<Option<u64>, BlobError>;
}

/// The media worker's writes (`processor::media`): how a client's file copy ended, and a
/// contact's avatar copied. Both are idempotent, since a media job may be delivered more than once.
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Records how copying a client's file from Viber ended: `attachment` as the copy left it,
    /// available (copied) or not (given up on, with its `unavailable_reason`). The attachment must
    /// have been stored with its message (else `Conflict::UnknownAttachment`). A copy given up on
    /// never replaces an available one (another delivery of the job copied the file): `Ok(false)`
    /// then, and nothing changes.
    async fn record_media_copy(&self, attachment: &Attachment) -> Result<bool, StoreError>;
    /// Records the copy of a contact's avatar: sets `avatar` on the contact (moving its version
    /// on, so a processor write racing it decides again) and, when it was copied, on the
    /// contact's current task as its `requester_avatar`, in one write. `Ok(false)` (nothing
    /// written) when there is no such contact or its picture is no longer `avatar.source_url`.
    async fn record_avatar_copy(&self, contact: &ContactId, avatar: &StoredAvatar) -> Result<bool, StoreError>;
}

// ---- Sending staff replies (the sender's reads and writes) ----

/// One part of a reply that Viber accepted (see [`ReplyStore::record_sent_part`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentPart<'a> {
    pub comment: &'a PartRef,
    pub integration_id: &'a IntegrationId,
    pub part_index: usize,
    pub message_token: u64,
    /// The reply's last part: the comment becomes `sent` with it.
    pub completes: bool,
}

/// A staff reply as the sender sees it: the comment, and the Viber `message_token` of each part
/// already accepted by Viber, by part index (0 = the first message `build_messages` returns).
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingReply {
    pub comment: Comment,
    pub sent_parts: std::collections::BTreeMap<usize, u64>,
}

#[async_trait]
pub trait ReplyStore: Send + Sync {
    /// The comment with the tokens of its parts sent so far; `None` if there is no such comment.
    async fn get_reply(&self, comment: &PartRef) -> Result<Option<OutgoingReply>, StoreError>;
    /// Records that part `part_index` was accepted by Viber as `message_token`, in one write:
    /// sets `parts[message_token]` to `sent` (unless a receipt already moved it further), maps the
    /// token to the comment for later receipts (as [`DeliveryStore::record_part`]), and with
    /// `completes` (the reply's last part) moves a `queued` comment to `sent`. A part index keeps
    /// its first token: recording the same token again is a no-op, another token is a
    /// `Conflict`, and so is an unknown comment.
    async fn record_sent_part(&self, sent: &SentPart<'_>) -> Result<(), StoreError>;
    /// While the comment is still `queued`, shows why it waits (e.g. Viber's rate limit);
    /// otherwise a no-op.
    async fn note_waiting(&self, comment: &PartRef, reason: &str) -> Result<(), StoreError>;
    /// Moves the comment's `status` forward to `sent` or `failed` (with `reason`, cleared for
    /// `sent`). Never backwards, and `failed` is final: a comment already at or past `status`
    /// is left as it is (`Ok`). `Conflict` for an unknown comment.
    async fn finish_comment(
        &self,
        comment: &PartRef,
        status: CommentStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError>;
}

// ---- Staff replies, uploads and quick replies (the staff API's writes) ----

#[async_trait]
pub trait AttachmentStore: Send + Sync {
    /// Stores an attachment record (a staff upload is announced before its bytes arrive).
    async fn put_attachment(&self, attachment: &Attachment) -> Result<(), StoreError>;
}

/// How long a reply's `Idempotency-Key` is remembered: a day, as clients that retry expect
/// (docs/staff-api.md, "Retrying a reply").
pub const REPLY_KEY_TTL_SECONDS: i64 = 24 * 60 * 60;

/// A staff comment posted with an `Idempotency-Key`: which comment the key made, so that the same
/// post tried again (after a timeout or a 503 whose write did land) answers that comment instead
/// of storing and sending another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedReply {
    /// Keys are the caller's: two members' keys never collide.
    pub staff_id: StaffId,
    pub key: IdempotencyKey,
    pub task_id: TaskId,
    pub comment_id: CommentId,
    /// The staff API's digest of what was asked: the same key with another request is refused.
    pub request_hash: String,
    /// Forgotten from then on (DynamoDB's TTL removes the item some time later).
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait CommentStore: Send + Sync {
    /// Adds a staff comment to its task, all or nothing: the task must exist and not be deleted
    /// (else `Conflict`), the comment id must be new (else `Conflict`), and the attachments in
    /// `uploaded` are marked available (their bytes are in the bucket). With `keyed`, the key is
    /// remembered in the same write, and a key still remembered is
    /// `Conflict::AlreadyExists(Record::ReplyKey)` (nothing is written).
    async fn add_staff_comment(
        &self,
        comment: &Comment,
        uploaded: &[AttachmentId],
        keyed: Option<&KeyedReply>,
    ) -> Result<(), StoreError>;
    /// The reply `staff` posted under `key`, while it is remembered (read strongly consistent).
    async fn keyed_reply(&self, staff: &StaffId, key: &IdempotencyKey) -> Result<Option<KeyedReply>, StoreError>;
    /// One comment of a task.
    async fn get_comment(&self, task_id: &TaskId, id: &CommentId) -> Result<Option<Comment>, StoreError>;
}

#[async_trait]
pub trait QuickReplyStore: Send + Sync {
    /// Quick replies, newest first.
    async fn list_quick_replies(&self, page: &PageRequest) -> Result<Page<QuickReply>, StoreError>;
    async fn get_quick_reply(&self, id: &QuickReplyId) -> Result<Option<QuickReply>, StoreError>;
    async fn put_quick_reply(&self, reply: &QuickReply) -> Result<(), StoreError>;
    /// `false` when there was no such quick reply.
    async fn delete_quick_reply(&self, id: &QuickReplyId) -> Result<bool, StoreError>;
}

// ---- Integrations, staff and task workflow (issue 5) ----

use crate::model::Role;

/// Managing connected bots (the staff API's `/api/integrations`). Reads go through
/// [`IntegrationStore`], which the webhook and the processor also use.
#[async_trait]
pub trait IntegrationAdmin: IntegrationStore {
    /// Every integration, oldest first.
    async fn list_integrations(&self, page: &PageRequest) -> Result<Page<Integration>, StoreError>;
    /// Stores a new integration; `Conflict` if one with its id exists.
    async fn create_integration(&self, integration: &Integration) -> Result<(), StoreError>;
    /// Replaces a stored integration; `false` (nothing written) if it no longer exists, so a
    /// change racing a disconnection never brings the integration back.
    async fn replace_integration(&self, integration: &Integration) -> Result<bool, StoreError>;
    /// Removes the integration (its contacts and tasks stay); `false` if there was none.
    async fn delete_integration(&self, id: &IntegrationId) -> Result<bool, StoreError>;
}

/// A change of a staff member: absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffChange {
    pub name: Option<String>,
    /// `Some(None)` clears the avatar.
    pub avatar_url: Option<Option<String>>,
    pub role: Option<Role>,
}

/// What became of a change or removal of a staff member.
#[derive(Debug, Clone, PartialEq)]
pub enum StaffOutcome {
    /// Done; the member as changed (`None` after a removal).
    Done(Option<StaffMember>),
    NotFound,
    /// Refused: the member is the account's only owner, who can be neither demoted nor removed.
    LastOwner,
}

/// Managing the team (the staff API's `/api/staff`). Members are created with
/// [`StaffStore::put_staff`].
#[async_trait]
pub trait StaffAdmin: StaffStore {
    /// Every member, in the order they were added.
    async fn list_staff(&self, page: &PageRequest) -> Result<Page<StaffMember>, StoreError>;
    /// Applies `change`. Demoting the last owner is refused (`LastOwner`); when the account's
    /// owner marker named the member, it moves to another owner.
    async fn update_staff(&self, id: &crate::ids::StaffId, change: &StaffChange) -> Result<StaffOutcome, StoreError>;
    /// Removes the member and their token (which stops working at once). Removing the last
    /// owner is refused.
    async fn delete_staff(&self, id: &crate::ids::StaffId) -> Result<StaffOutcome, StoreError>;
}

/// A change of a task by staff: absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskChange {
    pub status: Option<TaskStatus>,
    /// `Some(None)` unassigns the task.
    pub assignee_id: Option<Option<crate::ids::StaffId>>,
    pub participant_ids: Option<Vec<crate::ids::StaffId>>,
}

/// Staff moving tasks through their statuses. Both operations keep the task's list entries and
/// its requester's routing state (`Contact::current_task`) in step, atomically, so the client's
/// next message goes where the rules say even when it races the change.
#[async_trait]
pub trait TaskWorkflow: Send + Sync {
    /// Applies `change` at `at`; `None` if there is no such task or it was deleted.
    async fn update_task(&self, id: &TaskId, change: &TaskChange, at: Timestamp) -> Result<Option<Task>, StoreError>;
    /// Marks the task deleted (kept for its requester's routing, gone from every list and from
    /// GET); `false` if there is no such task or it was deleted already.
    async fn delete_task(&self, id: &TaskId, at: Timestamp) -> Result<bool, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_decodes_to_the_sort_key_it_was_made_from() {
        let key = "1732528955000#t1";
        assert_eq!(decode_cursor(&encode_cursor(key)).unwrap(), key);
    }

    #[test]
    fn a_cursor_no_list_returned_is_invalid() {
        for cursor in ["", "zz", "0", "ff"] {
            assert!(
                matches!(decode_cursor(cursor), Err(StoreError::InvalidCursor)),
                "{cursor:?}"
            );
        }
    }

    #[test]
    fn a_conflict_says_what_conflicted() {
        let conflict = StoreError::from(Conflict::AlreadyExists(Record::Task(TaskId::parse("t1").unwrap())));
        assert_eq!(
            conflict.to_string(),
            "conditional write refused: task t1 exists already"
        );
        let taken = Conflict::PartTokenTaken {
            comment_id: CommentId::parse("c1").unwrap(),
            part_index: 2,
        };
        assert_eq!(
            taken.to_string(),
            "part 2 of comment c1 was already sent as another message"
        );
    }
}
