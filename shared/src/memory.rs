//! In-memory adapters: the local stack's default backend and the unit tests' backend. They keep
//! the semantics of their AWS twins (FIFO deduplication, conditional writes).

mod admin;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::ids::{AttachmentId, CommentId, ContactId, IntegrationId, QuickReplyId, StaffId, TaskId};
use crate::model::{
    Attachment, Comment, CommentStatus, Contact, Integration, QuickReply, StaffMember, Task, TaskState,
};
use crate::ports::{Conflict, Record};
use crate::ports::{
    ContactStore, DeliveryStore, IntegrationStore, MessageQueue, MessageStore, MessageWrite, Page, PageRequest,
    PartRef, QueueError, QueueMessage, StaffStore, StoreError, TaskFilter, TaskStore, TaskWrite, WriteOutcome,
    decode_cursor, encode_cursor, recency_key,
};

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<StoreState>,
}

#[derive(Default)]
struct StoreState {
    integrations: HashMap<IntegrationId, Integration>,
    staff: HashMap<StaffId, StaffMember>,
    staff_by_token_hash: HashMap<String, StaffId>,
    account_owner: Option<StaffId>,
    contacts: HashMap<ContactId, Contact>,
    tasks: HashMap<TaskId, Task>,
    comments: BTreeMap<(TaskId, CommentId), Comment>,
    attachments: HashMap<AttachmentId, Attachment>,
    applied_messages: HashSet<String>,
    parts: HashMap<(IntegrationId, u64), PartRef>,
    /// Per staff reply: the Viber token of each part sent, by part index (`ReplyStore`).
    sent_parts: HashMap<(TaskId, CommentId), BTreeMap<usize, u64>>,
    quick_replies: HashMap<QuickReplyId, QuickReply>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, StoreState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl IntegrationStore for MemoryStore {
    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<Integration>, StoreError> {
        Ok(self.state().integrations.get(id).cloned())
    }

    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        self.state()
            .integrations
            .insert(integration.id.clone(), integration.clone());
        Ok(())
    }
}

#[async_trait]
impl StaffStore for MemoryStore {
    async fn put_staff(&self, member: &StaffMember, token_hash: &str) -> Result<(), StoreError> {
        let mut state = self.state();
        state.staff.insert(member.id.clone(), member.clone());
        state
            .staff_by_token_hash
            .insert(token_hash.to_owned(), member.id.clone());
        if member.role == crate::model::Role::Owner && state.account_owner.is_none() {
            state.account_owner = Some(member.id.clone());
        }
        Ok(())
    }

    async fn staff_by_token_hash(&self, token_hash: &str) -> Result<Option<StaffMember>, StoreError> {
        let state = self.state();
        Ok(state
            .staff_by_token_hash
            .get(token_hash)
            .and_then(|id| state.staff.get(id))
            .cloned())
    }

    async fn get_staff(&self, id: &StaffId) -> Result<Option<StaffMember>, StoreError> {
        Ok(self.state().staff.get(id).cloned())
    }

    async fn account_owner(&self) -> Result<Option<StaffMember>, StoreError> {
        let state = self.state();
        Ok(state.account_owner.as_ref().and_then(|id| state.staff.get(id)).cloned())
    }
}

fn version_matches(stored: Option<&Contact>, expected: Option<u64>) -> bool {
    stored.map(|c| c.version) == expected
}

/// Pages a list already in order by `sort_key`, starting after the cursor's key.
fn paginate<T: Clone>(
    sorted: Vec<(String, T)>,
    page: &PageRequest,
    after: impl Fn(&str, &str) -> bool,
) -> Result<Page<T>, StoreError> {
    let start = page.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut remaining = sorted
        .into_iter()
        .filter(|(key, _)| start.as_deref().is_none_or(|s| after(key, s)));
    let items: Vec<(String, T)> = remaining.by_ref().take(page.limit.max(1)).collect();
    let next_cursor = match (items.last(), remaining.next()) {
        (Some((key, _)), Some(_)) => Some(encode_cursor(key)),
        _ => None,
    };
    Ok(Page {
        items: items.into_iter().map(|(_, item)| item).collect(),
        next_cursor,
    })
}

#[async_trait]
impl ContactStore for MemoryStore {
    async fn get_contact(&self, id: &ContactId) -> Result<Option<Contact>, StoreError> {
        Ok(self.state().contacts.get(id).cloned())
    }

    async fn put_contact(&self, contact: &Contact, expected_version: Option<u64>) -> Result<(), StoreError> {
        let mut state = self.state();
        if !version_matches(state.contacts.get(&contact.id), expected_version) {
            return Err(Conflict::ContactChanged(contact.id.clone()).into());
        }
        state.contacts.insert(contact.id.clone(), contact.clone());
        Ok(())
    }

    async fn list_contacts(&self, page: &PageRequest) -> Result<Page<Contact>, StoreError> {
        let mut sorted: Vec<(String, Contact)> = self
            .state()
            .contacts
            .values()
            .map(|c| (recency_key(c.updated_at, c.id.as_str()), c.clone()))
            .collect();
        sorted.sort_by(|a, b| b.0.cmp(&a.0));
        paginate(sorted, page, |key, start| key < start)
    }
}

#[async_trait]
impl MessageStore for MemoryStore {
    async fn apply_message(&self, write: &MessageWrite) -> Result<WriteOutcome, StoreError> {
        let mut state = self.state();
        if state.applied_messages.contains(&write.dedup_key) {
            return Ok(WriteOutcome::Duplicate);
        }
        if !version_matches(state.contacts.get(&write.contact.id), write.expected_contact_version) {
            return Err(Conflict::ContactChanged(write.contact.id.clone()).into());
        }
        let comment_key = (write.comment.task_id.clone(), write.comment.id.clone());
        if state.comments.contains_key(&comment_key) {
            return Err(Conflict::AlreadyExists(Record::Comment(write.comment.id.clone())).into());
        }
        match &write.task {
            TaskWrite::Create(task) => {
                if state.tasks.contains_key(&task.id) {
                    return Err(Conflict::AlreadyExists(Record::Task(task.id.clone())).into());
                }
                state.tasks.insert(task.id.clone(), task.clone());
            }
            TaskWrite::Append {
                task_id,
                last_message_at,
                require_active,
            } => {
                let task = state
                    .tasks
                    .get_mut(task_id)
                    .filter(|t| match TaskState::of(t.status, t.deleted) {
                        TaskState::Active => true,
                        TaskState::Inactive => !require_active,
                        TaskState::Deleted => false,
                    })
                    .ok_or_else(|| Conflict::TaskChanged(task_id.clone()))?;
                task.last_message_at = *last_message_at;
                task.updated_at = *last_message_at;
            }
        }
        state.contacts.insert(write.contact.id.clone(), write.contact.clone());
        state.comments.insert(comment_key, write.comment.clone());
        for attachment in &write.attachments {
            state.attachments.insert(attachment.id.clone(), attachment.clone());
        }
        state.applied_messages.insert(write.dedup_key.clone());
        Ok(WriteOutcome::Applied)
    }
}

#[async_trait]
impl TaskStore for MemoryStore {
    async fn get_task(&self, id: &TaskId) -> Result<Option<Task>, StoreError> {
        Ok(self.state().tasks.get(id).cloned())
    }

    async fn list_tasks(&self, filter: &TaskFilter, page: &PageRequest) -> Result<Page<Task>, StoreError> {
        let mut sorted: Vec<(String, Task)> = self
            .state()
            .tasks
            .values()
            .filter(|t| !t.deleted)
            .filter(|t| filter.status.is_none_or(|s| t.status == s))
            .filter(|t| {
                filter
                    .assignee_id
                    .as_ref()
                    .is_none_or(|a| t.assignee_id.as_ref() == Some(a))
            })
            .filter(|t| filter.integration_id.as_ref().is_none_or(|i| &t.integration_id == i))
            .map(|t| (recency_key(t.last_message_at, t.id.as_str()), t.clone()))
            .collect();
        sorted.sort_by(|a, b| b.0.cmp(&a.0));
        paginate(sorted, page, |key, start| key < start)
    }

    async fn list_comments(&self, task_id: &TaskId, page: &PageRequest) -> Result<Page<Comment>, StoreError> {
        let sorted: Vec<(String, Comment)> = self
            .state()
            .comments
            .range((task_id.clone(), CommentId::parse("0").expect("valid"))..)
            .take_while(|((task, _), _)| task == task_id)
            .map(|((_, id), comment)| (id.as_str().to_owned(), comment.clone()))
            .collect();
        paginate(sorted, page, |key, start| key > start)
    }

    async fn get_attachment(&self, id: &AttachmentId) -> Result<Option<Attachment>, StoreError> {
        Ok(self.state().attachments.get(id).cloned())
    }
}

#[async_trait]
impl DeliveryStore for MemoryStore {
    async fn record_part(
        &self,
        integration_id: &IntegrationId,
        message_token: u64,
        part: &PartRef,
    ) -> Result<(), StoreError> {
        self.state()
            .parts
            .insert((integration_id.clone(), message_token), part.clone());
        Ok(())
    }

    async fn find_part(
        &self,
        integration_id: &IntegrationId,
        message_token: u64,
    ) -> Result<Option<PartRef>, StoreError> {
        Ok(self
            .state()
            .parts
            .get(&(integration_id.clone(), message_token))
            .cloned())
    }

    async fn advance_part(
        &self,
        part: &PartRef,
        message_token: u64,
        status: CommentStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let comment = state
            .comments
            .get_mut(&(part.task_id.clone(), part.comment_id.clone()))
            .ok_or_else(|| Conflict::UnknownComment(part.comment_id.clone()))?;
        let key = message_token.to_string();
        let current = comment.parts.get(&key).copied();
        if current.is_none_or(|c| c != CommentStatus::Failed && c < status) {
            comment.parts.insert(key, status);
            if status == CommentStatus::Failed {
                comment.status_reason = reason.map(str::to_owned);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl crate::ports::ReplyStore for MemoryStore {
    async fn get_reply(&self, comment: &PartRef) -> Result<Option<crate::ports::OutgoingReply>, StoreError> {
        let state = self.state();
        let key = (comment.task_id.clone(), comment.comment_id.clone());
        Ok(state.comments.get(&key).map(|found| crate::ports::OutgoingReply {
            comment: found.clone(),
            sent_parts: state.sent_parts.get(&key).cloned().unwrap_or_default(),
        }))
    }

    async fn record_sent_part(&self, sent: &crate::ports::SentPart<'_>) -> Result<(), StoreError> {
        let crate::ports::SentPart {
            comment,
            integration_id,
            part_index,
            message_token,
            completes,
        } = *sent;
        let mut state = self.state();
        let key = (comment.task_id.clone(), comment.comment_id.clone());
        if !state.comments.contains_key(&key) {
            return Err(Conflict::UnknownComment(comment.comment_id.clone()).into());
        }
        let recorded = state.sent_parts.entry(key.clone()).or_default();
        match recorded.get(&part_index) {
            Some(&known) if known == message_token => return Ok(()),
            Some(_) => {
                return Err(Conflict::PartTokenTaken {
                    comment_id: comment.comment_id.clone(),
                    part_index,
                }
                .into());
            }
            None => {
                recorded.insert(part_index, message_token);
            }
        }
        state
            .parts
            .insert((integration_id.clone(), message_token), comment.clone());
        let stored = state.comments.get_mut(&key).expect("checked above");
        stored
            .parts
            .entry(message_token.to_string())
            .or_insert(CommentStatus::Sent);
        if completes && stored.status == CommentStatus::Queued {
            stored.status = CommentStatus::Sent;
            stored.status_reason = None;
        }
        Ok(())
    }

    async fn note_waiting(&self, comment: &PartRef, reason: &str) -> Result<(), StoreError> {
        let mut state = self.state();
        let key = (comment.task_id.clone(), comment.comment_id.clone());
        let stored = state
            .comments
            .get_mut(&key)
            .ok_or_else(|| Conflict::UnknownComment(comment.comment_id.clone()))?;
        if stored.status == CommentStatus::Queued {
            stored.status_reason = Some(reason.to_owned());
        }
        Ok(())
    }

    async fn finish_comment(
        &self,
        comment: &PartRef,
        status: CommentStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let key = (comment.task_id.clone(), comment.comment_id.clone());
        let stored = state
            .comments
            .get_mut(&key)
            .ok_or_else(|| Conflict::UnknownComment(comment.comment_id.clone()))?;
        if stored.status < status {
            stored.status = status;
            stored.status_reason = reason.map(str::to_owned);
        }
        Ok(())
    }
}

#[async_trait]
impl crate::ports::AttachmentStore for MemoryStore {
    async fn put_attachment(&self, attachment: &Attachment) -> Result<(), StoreError> {
        self.state()
            .attachments
            .insert(attachment.id.clone(), attachment.clone());
        Ok(())
    }
}

#[async_trait]
impl crate::ports::CommentStore for MemoryStore {
    async fn add_staff_comment(&self, comment: &Comment, uploaded: &[AttachmentId]) -> Result<(), StoreError> {
        let mut state = self.state();
        if state.tasks.get(&comment.task_id).is_none_or(|task| task.deleted) {
            return Err(Conflict::TaskGone(comment.task_id.clone()).into());
        }
        let key = (comment.task_id.clone(), comment.id.clone());
        if state.comments.contains_key(&key) {
            return Err(Conflict::AlreadyExists(Record::Comment(comment.id.clone())).into());
        }
        if let Some(missing) = uploaded.iter().find(|id| !state.attachments.contains_key(*id)) {
            return Err(Conflict::UnknownAttachment(missing.clone()).into());
        }
        for id in uploaded {
            if let Some(attachment) = state.attachments.get_mut(id) {
                attachment.available = true;
                attachment.unavailable_reason = None;
            }
        }
        state.comments.insert(key, comment.clone());
        Ok(())
    }
}

#[async_trait]
impl crate::ports::QuickReplyStore for MemoryStore {
    async fn list_quick_replies(&self, page: &PageRequest) -> Result<Page<QuickReply>, StoreError> {
        let mut sorted: Vec<(String, QuickReply)> = self
            .state()
            .quick_replies
            .values()
            .map(|r| (recency_key(r.created_at, r.id.as_str()), r.clone()))
            .collect();
        sorted.sort_by(|a, b| b.0.cmp(&a.0));
        paginate(sorted, page, |key, start| key < start)
    }

    async fn get_quick_reply(&self, id: &QuickReplyId) -> Result<Option<QuickReply>, StoreError> {
        Ok(self.state().quick_replies.get(id).cloned())
    }

    async fn put_quick_reply(&self, reply: &QuickReply) -> Result<(), StoreError> {
        self.state().quick_replies.insert(reply.id.clone(), reply.clone());
        Ok(())
    }

    async fn delete_quick_reply(&self, id: &QuickReplyId) -> Result<bool, StoreError> {
        Ok(self.state().quick_replies.remove(id).is_some())
    }
}

/// SQS FIFO drops a repeated deduplication id for five minutes.
pub const FIFO_DEDUP_WINDOW: Duration = Duration::from_secs(300);

/// A queue in memory with SQS FIFO's semantics: deduplication window, one message in flight per
/// message group, receive counts, and visibility delays for retries.
#[derive(Default)]
pub struct MemoryQueue {
    state: Mutex<QueueState>,
    changed: tokio::sync::Notify,
}

#[derive(Default)]
struct QueueState {
    entries: VecDeque<Entry>,
    seen_dedup_ids: HashMap<String, Instant>,
    next_id: u64,
    dead_letters: Vec<QueueMessage>,
}

struct Entry {
    id: u64,
    message: QueueMessage,
    receive_count: u32,
    in_flight: bool,
    visible_at: Instant,
}

/// A message handed to a consumer; it stays in the queue until deleted or released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: u64,
    pub message: QueueMessage,
    /// 1 on the first receive (SQS's `ApproximateReceiveCount`).
    pub receive_count: u32,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The messages in the queue (waiting or in flight), oldest first.
    pub fn pending(&self) -> Vec<QueueMessage> {
        self.state().entries.iter().map(|e| e.message.clone()).collect()
    }

    /// Takes every message out of the queue, oldest first.
    pub fn drain(&self) -> Vec<QueueMessage> {
        self.state().entries.drain(..).map(|e| e.message).collect()
    }

    /// Messages moved aside after too many receives (the DLQ).
    pub fn dead_letters(&self) -> Vec<QueueMessage> {
        self.state().dead_letters.clone()
    }

    /// Up to `max` visible messages, oldest first, never two of one group at once and never one
    /// behind an earlier message of its group that is in flight or waiting to be retried.
    pub fn receive(&self, max: usize) -> Vec<Received> {
        let mut state = self.state();
        let now = Instant::now();
        let mut blocked_groups: HashSet<Option<String>> = HashSet::new();
        let mut received = Vec::new();
        for entry in state.entries.iter_mut() {
            if received.len() >= max {
                break;
            }
            let group = entry.message.group_id.clone();
            if blocked_groups.contains(&group) {
                continue;
            }
            if entry.message.group_id.is_some() {
                blocked_groups.insert(group);
            }
            if entry.in_flight || entry.visible_at > now {
                continue;
            }
            entry.in_flight = true;
            entry.receive_count += 1;
            received.push(Received {
                id: entry.id,
                message: entry.message.clone(),
                receive_count: entry.receive_count,
            });
        }
        received
    }

    /// The message was processed: it leaves the queue.
    pub fn delete(&self, id: u64) {
        self.state().entries.retain(|e| e.id != id);
        self.changed.notify_waiters();
    }

    /// The message failed: it becomes visible again after `delay` (its group waits with it).
    pub fn release(&self, id: u64, delay: Duration) {
        if let Some(entry) = self.state().entries.iter_mut().find(|e| e.id == id) {
            entry.in_flight = false;
            entry.visible_at = Instant::now() + delay;
        }
        self.changed.notify_waiters();
    }

    /// The message failed too often: it moves to the dead letters.
    pub fn dead_letter(&self, id: u64) {
        let mut state = self.state();
        if let Some(position) = state.entries.iter().position(|e| e.id == id) {
            let entry = state.entries.remove(position).expect("position is in range");
            state.dead_letters.push(entry.message);
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// When the next message becomes visible: `None` if nothing waits that is not in flight.
    pub fn next_visible_at(&self) -> Option<Instant> {
        self.state()
            .entries
            .iter()
            .filter(|e| !e.in_flight)
            .map(|e| e.visible_at)
            .min()
    }

    /// Waits until the queue changes (a send, delete or release), or `timeout` passes.
    pub async fn wait_for_change(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.changed.notified()).await;
    }
}

#[async_trait]
impl MessageQueue for MemoryQueue {
    async fn send(&self, message: QueueMessage) -> Result<(), QueueError> {
        {
            let mut state = self.state();
            let now = Instant::now();
            state
                .seen_dedup_ids
                .retain(|_, at| now.duration_since(*at) < FIFO_DEDUP_WINDOW);
            if let Some(dedup_id) = &message.dedup_id {
                if state.seen_dedup_ids.contains_key(dedup_id) {
                    return Ok(());
                }
                state.seen_dedup_ids.insert(dedup_id.clone(), now);
            }
            state.next_id += 1;
            let id = state.next_id;
            state.entries.push_back(Entry {
                id,
                message,
                receive_count: 0,
                in_flight: false,
                visible_at: now,
            });
        }
        self.changed.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(dedup: &str) -> QueueMessage {
        QueueMessage {
            group_id: Some("g".into()),
            dedup_id: Some(dedup.into()),
            body: dedup.into(),
        }
    }

    #[tokio::test]
    async fn drops_a_repeated_deduplication_id_like_sqs_fifo() {
        let queue = MemoryQueue::new();
        queue.send(message("a")).await.unwrap();
        queue.send(message("a")).await.unwrap();
        queue.send(message("b")).await.unwrap();
        let bodies: Vec<_> = queue.pending().into_iter().map(|m| m.body).collect();
        assert_eq!(bodies, ["a", "b"]);
    }

    fn grouped(group: &str, body: &str) -> QueueMessage {
        QueueMessage {
            group_id: Some(group.into()),
            dedup_id: Some(body.into()),
            body: body.into(),
        }
    }

    #[tokio::test]
    async fn one_message_per_group_is_in_flight_and_a_retry_keeps_the_group_waiting() {
        let queue = MemoryQueue::new();
        for (group, body) in [("a", "a1"), ("a", "a2"), ("b", "b1")] {
            queue.send(grouped(group, body)).await.unwrap();
        }
        let first = queue.receive(10);
        let bodies: Vec<_> = first.iter().map(|r| r.message.body.as_str()).collect();
        assert_eq!(bodies, ["a1", "b1"]);
        assert!(queue.receive(10).is_empty(), "a2 waits behind a1");
        queue.release(first[0].id, Duration::from_millis(30));
        queue.delete(first[1].id);
        assert!(
            queue.receive(10).is_empty(),
            "a1 is not visible yet and a2 waits behind it"
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
        let again = queue.receive(10);
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].message.body.as_str(), again[0].receive_count), ("a1", 2));
        queue.dead_letter(again[0].id);
        assert_eq!(queue.dead_letters().len(), 1);
        assert_eq!(queue.receive(10)[0].message.body, "a2");
    }
}
