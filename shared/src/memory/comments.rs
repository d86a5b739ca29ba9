//! Comments: a task's conversation, staff comments, and the parts of a staff reply (their
//! tokens as Viber accepts them, and their delivery statuses).

use std::collections::{HashMap, VecDeque};
use std::ops::Bound;

use async_trait::async_trait;

use super::{MemoryStore, StoreState};
use crate::ids::{AttachmentId, CommentId, IdempotencyKey, IntegrationId, StaffId, TaskId};
use crate::model::{Comment, CommentStatus};
use crate::ports::{
    CommentStore, Conflict, DeliveryStore, KeyedReply, OutgoingReply, Page, PageRequest, PartRef, Record, ReplyStore,
    SentPart, StoreError, decode_cursor, encode_cursor,
};
use crate::time::Timestamp;

type ReplyKey = (StaffId, IdempotencyKey);

/// The remembered reply keys (`KeyedReply`). Every key lives the same time, so they expire about
/// in the order they were written: a queue of expiry times forgets the expired ones as new ones
/// come, O(1) amortised per write, and the map answers a lookup in O(1). Bounded by a day of
/// replies, like DynamoDB's TTL.
#[derive(Default)]
pub(super) struct ReplyKeys {
    by_key: HashMap<ReplyKey, KeyedReply>,
    by_expiry: VecDeque<(Timestamp, ReplyKey)>,
}

impl ReplyKeys {
    fn get(&self, key: &ReplyKey, now: Timestamp) -> Option<&KeyedReply> {
        self.by_key.get(key).filter(|keyed| keyed.expires_at > now)
    }

    fn forget_expired(&mut self, now: Timestamp) {
        while let Some((expires_at, _)) = self.by_expiry.front() {
            if *expires_at > now {
                break;
            }
            let (expires_at, key) = self.by_expiry.pop_front().expect("a front entry");
            // A key written again after it expired has a later time: that one stays.
            if self
                .by_key
                .get(&key)
                .is_some_and(|keyed| keyed.expires_at == expires_at)
            {
                self.by_key.remove(&key);
            }
        }
    }

    fn insert(&mut self, keyed: &KeyedReply) {
        let key = (keyed.staff_id.clone(), keyed.key.clone());
        self.by_expiry.push_back((keyed.expires_at, key.clone()));
        self.by_key.insert(key, keyed.clone());
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_key.len().max(self.by_expiry.len())
    }
}

fn key(comment: &PartRef) -> (TaskId, CommentId) {
    (comment.task_id.clone(), comment.comment_id.clone())
}

impl StoreState {
    /// The comment a part belongs to; `UnknownComment` if there is none.
    fn comment_mut(&mut self, comment: &PartRef) -> Result<&mut Comment, Conflict> {
        self.comments
            .get_mut(&key(comment))
            .ok_or_else(|| Conflict::UnknownComment(comment.comment_id.clone()))
    }
}

impl MemoryStore {
    /// A task's comments, oldest first (comment ids sort by time): a range read from the
    /// cursor, so a page costs O(log n + limit) however long the conversation is.
    pub(super) fn comments_of(&self, task_id: &TaskId, page: &PageRequest) -> Result<Page<Comment>, StoreError> {
        let after = page.cursor.as_deref().map(decode_cursor).transpose()?;
        let start = match after.as_deref().map(CommentId::parse) {
            Some(Ok(after)) => Bound::Excluded((task_id.clone(), after)),
            // No cursor, or one that is no comment id: from the task's first comment ("-" sorts
            // before every id).
            _ => Bound::Included((task_id.clone(), CommentId::parse("-").expect("a valid id"))),
        };
        let state = self.state();
        let mut remaining = state
            .comments
            .range((start, Bound::Unbounded))
            .take_while(|((task, _), _)| task == task_id)
            .filter(|((_, id), _)| after.as_deref().is_none_or(|after| id.as_str() > after))
            .map(|(_, comment)| comment);
        let items: Vec<Comment> = remaining.by_ref().take(page.limit.max(1)).cloned().collect();
        let next_cursor = match (items.last(), remaining.next()) {
            (Some(last), Some(_)) => Some(encode_cursor(last.id.as_str())),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl CommentStore for MemoryStore {
    async fn add_staff_comment(
        &self,
        comment: &Comment,
        uploaded: &[AttachmentId],
        keyed: Option<&KeyedReply>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        if state.tasks.get(&comment.task_id).is_none_or(|task| task.deleted) {
            return Err(Conflict::TaskGone(comment.task_id.clone()).into());
        }
        let key = (comment.task_id.clone(), comment.id.clone());
        if state.comments.contains_key(&key) {
            return Err(Conflict::AlreadyExists(Record::Comment(comment.id.clone())).into());
        }
        if let Some(keyed) = keyed {
            let now = Timestamp::now();
            state.reply_keys.forget_expired(now);
            if state
                .reply_keys
                .get(&(keyed.staff_id.clone(), keyed.key.clone()), now)
                .is_some()
            {
                return Err(Conflict::AlreadyExists(Record::ReplyKey(keyed.key.clone())).into());
            }
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
        if let Some(keyed) = keyed {
            state.reply_keys.insert(keyed);
        }
        state.comments.insert(key, comment.clone());
        Ok(())
    }

    async fn keyed_reply(&self, staff: &StaffId, key: &IdempotencyKey) -> Result<Option<KeyedReply>, StoreError> {
        Ok(self
            .state()
            .reply_keys
            .get(&(staff.clone(), key.clone()), Timestamp::now())
            .cloned())
    }

    async fn get_comment(&self, task_id: &TaskId, id: &CommentId) -> Result<Option<Comment>, StoreError> {
        Ok(self.state().comments.get(&(task_id.clone(), id.clone())).cloned())
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
        let comment = state.comment_mut(part)?;
        let token = message_token.to_string();
        let current = comment.parts.get(&token).copied();
        if current.is_none_or(|c| c != CommentStatus::Failed && c < status) {
            comment.parts.insert(token, status);
            if status == CommentStatus::Failed {
                comment.status_reason = reason.map(str::to_owned);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ReplyStore for MemoryStore {
    async fn get_reply(&self, comment: &PartRef) -> Result<Option<OutgoingReply>, StoreError> {
        let state = self.state();
        let key = key(comment);
        Ok(state.comments.get(&key).map(|found| OutgoingReply {
            comment: found.clone(),
            sent_parts: state.sent_parts.get(&key).cloned().unwrap_or_default(),
        }))
    }

    async fn record_sent_part(&self, sent: &SentPart<'_>) -> Result<(), StoreError> {
        let SentPart {
            comment,
            integration_id,
            part_index,
            message_token,
            completes,
        } = *sent;
        let mut state = self.state();
        state.comment_mut(comment)?;
        let recorded = state.sent_parts.entry(key(comment)).or_default();
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
        let stored = state.comment_mut(comment)?;
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
        let stored = state.comment_mut(comment)?;
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
        let stored = state.comment_mut(comment)?;
        if stored.status < status {
            stored.status = status;
            stored.status_reason = reason.map(str::to_owned);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(key: &str, expires_at: i64) -> KeyedReply {
        KeyedReply {
            staff_id: StaffId::parse("s1").unwrap(),
            key: IdempotencyKey::parse(key).unwrap(),
            task_id: TaskId::parse("t1").unwrap(),
            comment_id: CommentId::parse(key).unwrap(),
            request_hash: "h".to_owned(),
            expires_at: Timestamp::from_millis(expires_at),
        }
    }

    fn lookup(key: &str) -> ReplyKey {
        (StaffId::parse("s1").unwrap(), IdempotencyKey::parse(key).unwrap())
    }

    #[test]
    fn reply_keys_are_forgotten_once_expired_and_stay_bounded() {
        let mut keys = ReplyKeys::default();
        for n in 0..1_000 {
            keys.forget_expired(Timestamp::from_millis(n));
            keys.insert(&keyed(&format!("k{n}"), n + 100));
        }
        // Only the last 100 are still remembered, and only they are held.
        assert_eq!(keys.len(), 100);
        assert!(keys.get(&lookup("k950"), Timestamp::from_millis(999)).is_some());
        assert!(keys.get(&lookup("k899"), Timestamp::from_millis(999)).is_none());
        // Past its expiry a key is not answered even before it is dropped.
        assert!(keys.get(&lookup("k999"), Timestamp::from_millis(1_099)).is_none());
    }

    #[test]
    fn a_key_written_again_after_expiry_outlives_its_first_entry() {
        let mut keys = ReplyKeys::default();
        keys.insert(&keyed("k", 10));
        // Expired but not yet dropped when it is written again:
        keys.insert(&keyed("k", 30));
        keys.forget_expired(Timestamp::from_millis(20));
        assert_eq!(
            keys.get(&lookup("k"), Timestamp::from_millis(20))
                .unwrap()
                .expires_at
                .millis(),
            30
        );
    }
}
