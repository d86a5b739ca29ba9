//! A client message: the contact, the task, the comment and its attachments, once per message,
//! with the DynamoDB adapter's outcomes: a message whose comment exists (in its task or an
//! earlier one the write names) is a duplicate. A message joining a task is all or nothing; one
//! opening a task follows the DynamoDB adapter's steps (docs/data-model.md, "A client message"):
//! the contact is the commit point, and a task or comment an earlier delivery wrote is kept.

use async_trait::async_trait;

use super::contacts::version_matches;
use super::{MemoryStore, StoreState};
use crate::model::{Task, TaskState};
use crate::ports::{Conflict, MessageStore, MessageWrite, StoreError, TaskWrite, WriteOutcome};

/// Whether a message may join `task`: not deleted, and active when it has to be.
fn takes_messages(task: &Task, require_active: bool) -> bool {
    match TaskState::of(task.status, task.deleted) {
        TaskState::Active => true,
        TaskState::Inactive => !require_active,
        TaskState::Deleted => false,
    }
}

impl StoreState {
    fn contact_conflict(&self, write: &MessageWrite) -> Option<Conflict> {
        let contact = write.contact.as_ref()?;
        (!version_matches(self.contacts.get(&contact.id), write.expected_contact_version))
            .then(|| Conflict::ContactChanged(contact.id.clone()))
    }

    fn store_comment_and_attachments(&mut self, write: &MessageWrite) -> WriteOutcome {
        for attachment in &write.attachments {
            self.attachments.insert(attachment.id.clone(), attachment.clone());
        }
        let key = (write.comment.task_id.clone(), write.comment.id.clone());
        if self.comments.contains_key(&key) {
            return WriteOutcome::Duplicate;
        }
        self.comments.insert(key, write.comment.clone());
        WriteOutcome::Applied
    }
}

#[async_trait]
impl MessageStore for MemoryStore {
    async fn apply_message(&self, write: &MessageWrite) -> Result<WriteOutcome, StoreError> {
        let mut state = self.state();
        let comment_id = &write.comment.id;
        if write
            .earlier_tasks
            .iter()
            .any(|task| state.comments.contains_key(&(task.clone(), comment_id.clone())))
        {
            return Ok(WriteOutcome::Duplicate);
        }
        match &write.task {
            TaskWrite::Create(task) => {
                if let Some(conflict) = state.contact_conflict(write) {
                    let applied = state.comments.contains_key(&(task.id.clone(), comment_id.clone()));
                    return if applied {
                        Ok(WriteOutcome::Duplicate)
                    } else {
                        Err(conflict.into())
                    };
                }
                if let Some(contact) = &write.contact {
                    state.store_contact(contact);
                }
                // Its id is derived from the message: one that exists was written by an earlier
                // delivery of it.
                if !state.tasks.contains_key(&task.id) {
                    state.tasks.insert(task.id.clone(), task.clone());
                }
                Ok(state.store_comment_and_attachments(write))
            }
            TaskWrite::Append {
                task_id,
                last_message_at,
                require_active,
                last_message,
                requester_name,
                requester_avatar,
            } => {
                // Checked first, in the DynamoDB transaction's order (comment, contact, task), so
                // the first that fails is the answer and nothing is written.
                if state.comments.contains_key(&(task_id.clone(), comment_id.clone())) {
                    return Ok(WriteOutcome::Duplicate);
                }
                if let Some(conflict) = state.contact_conflict(write) {
                    return Err(conflict.into());
                }
                if !state
                    .tasks
                    .get(task_id)
                    .is_some_and(|task| takes_messages(task, *require_active))
                {
                    return Err(Conflict::TaskChanged(task_id.clone()).into());
                }
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
                if let Some(contact) = &write.contact {
                    state.store_contact(contact);
                }
                Ok(state.store_comment_and_attachments(write))
            }
        }
    }
}
