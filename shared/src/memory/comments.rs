//! Comments: a task's conversation, staff comments, and the parts of a staff reply (their
//! tokens as Viber accepts them, and their delivery statuses).

use std::ops::Bound;

use async_trait::async_trait;

use super::{MemoryStore, StoreState};
use crate::ids::{AttachmentId, CommentId, IntegrationId, TaskId};
use crate::model::{Comment, CommentStatus};
use crate::ports::{
    CommentStore, Conflict, DeliveryStore, OutgoingReply, Page, PageRequest, PartRef, Record, ReplyStore, SentPart,
    StoreError, decode_cursor, encode_cursor,
};

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
