//! A client message: the contact, the task, the comment and its attachments, all or nothing and
//! once per message: a message whose comment exists (in its task or an earlier one the write
//! names) is a duplicate, as in the DynamoDB adapter.

use async_trait::async_trait;

use super::MemoryStore;
use super::contacts::version_matches;
use crate::model::{Task, TaskState};
use crate::ports::{Conflict, MessageStore, MessageWrite, Record, StoreError, TaskWrite, WriteOutcome};

/// Whether a message may join `task`: not deleted, and active when it has to be.
fn takes_messages(task: &Task, require_active: bool) -> bool {
    match TaskState::of(task.status, task.deleted) {
        TaskState::Active => true,
        TaskState::Inactive => !require_active,
        TaskState::Deleted => false,
    }
}

#[async_trait]
impl MessageStore for MemoryStore {
    /// Checks every condition first, in the DynamoDB transaction's order (contact, task,
    /// comment), so the first that fails is the conflict reported and nothing is written.
    async fn apply_message(&self, write: &MessageWrite) -> Result<WriteOutcome, StoreError> {
        let mut state = self.state();
        let comment_id = &write.comment.id;
        if write
            .earlier_tasks
            .iter()
            .chain([&write.comment.task_id])
            .any(|task| state.comments.contains_key(&(task.clone(), comment_id.clone())))
        {
            return Ok(WriteOutcome::Duplicate);
        }
        if let Some(contact) = &write.contact
            && !version_matches(state.contacts.get(&contact.id), write.expected_contact_version)
        {
            return Err(Conflict::ContactChanged(contact.id.clone()).into());
        }
        match &write.task {
            TaskWrite::Create(task) if state.tasks.contains_key(&task.id) => {
                return Err(Conflict::AlreadyExists(Record::Task(task.id.clone())).into());
            }
            TaskWrite::Append {
                task_id,
                require_active,
                ..
            } if !state
                .tasks
                .get(task_id)
                .is_some_and(|task| takes_messages(task, *require_active)) =>
            {
                return Err(Conflict::TaskChanged(task_id.clone()).into());
            }
            _ => {}
        }
        let comment_key = (write.comment.task_id.clone(), write.comment.id.clone());
        match &write.task {
            TaskWrite::Create(task) => {
                state.tasks.insert(task.id.clone(), task.clone());
            }
            TaskWrite::Append {
                task_id,
                last_message_at,
                last_message,
                requester_name,
                requester_avatar,
                ..
            } => {
                state.tasks.update(task_id, |task| {
                    task.last_message_at = *last_message_at;
                    task.updated_at = *last_message_at;
                    if last_message.is_some() {
                        task.last_message.clone_from(last_message);
                    }
                    if requester_name.is_some() {
                        task.requester_name.clone_from(requester_name);
                    }
                    if requester_avatar.is_some() {
                        task.requester_avatar.clone_from(requester_avatar);
                    }
                });
            }
        }
        if let Some(contact) = &write.contact {
            state.contacts.insert(contact.id.clone(), contact.clone());
        }
        state.comments.insert(comment_key, write.comment.clone());
        for attachment in &write.attachments {
            state.attachments.insert(attachment.id.clone(), attachment.clone());
        }
        Ok(WriteOutcome::Applied)
    }
}
