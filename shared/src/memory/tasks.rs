//! Tasks: lists by filter, and staff's changes with the requester's routing state in step.

use async_trait::async_trait;

use super::{MemoryStore, Order, page_by_recency};
use crate::ids::{AttachmentId, TaskId};
use crate::model::{Attachment, Comment, Task};
use crate::ports::{Page, PageRequest, StoreError, TaskChange, TaskFilter, TaskStore, TaskWorkflow};
use crate::time::Timestamp;

fn matches(task: &Task, filter: &TaskFilter) -> bool {
    !task.deleted
        && filter.status.is_none_or(|s| task.status == s)
        && filter
            .assignee_id
            .as_ref()
            .is_none_or(|a| task.assignee_id.as_ref() == Some(a))
        && filter.integration_id.as_ref().is_none_or(|i| &task.integration_id == i)
}

impl MemoryStore {
    /// Applies `change` to the live task `id` and lets its requester's routing follow; `None`
    /// if there is no such live task.
    fn change_task(&self, id: &TaskId, change: impl FnOnce(&mut Task)) -> Option<Task> {
        let mut state = self.state();
        let task = state.tasks.get_mut(id).filter(|t| !t.deleted)?;
        change(task);
        let task = task.clone();
        state.contact_follows_task(&task);
        Some(task)
    }
}

#[async_trait]
impl TaskStore for MemoryStore {
    async fn get_task(&self, id: &TaskId) -> Result<Option<Task>, StoreError> {
        Ok(self.state().tasks.get(id).cloned())
    }

    async fn list_tasks(&self, filter: &TaskFilter, page: &PageRequest) -> Result<Page<Task>, StoreError> {
        let state = self.state();
        page_by_recency(
            state.tasks.values().filter(|t| matches(t, filter)),
            Order::NewestFirst,
            page,
        )
    }

    async fn list_comments(&self, task_id: &TaskId, page: &PageRequest) -> Result<Page<Comment>, StoreError> {
        self.comments_of(task_id, page)
    }

    async fn get_attachment(&self, id: &AttachmentId) -> Result<Option<Attachment>, StoreError> {
        Ok(self.attachment(id))
    }
}

#[async_trait]
impl TaskWorkflow for MemoryStore {
    async fn update_task(&self, id: &TaskId, change: &TaskChange, at: Timestamp) -> Result<Option<Task>, StoreError> {
        Ok(self.change_task(id, |task| {
            if let Some(status) = change.status {
                task.status = status;
            }
            if let Some(assignee_id) = &change.assignee_id {
                task.assignee_id = assignee_id.clone();
            }
            if let Some(participant_ids) = &change.participant_ids {
                task.participant_ids = participant_ids.clone();
            }
            task.updated_at = at;
        }))
    }

    async fn delete_task(&self, id: &TaskId, at: Timestamp) -> Result<bool, StoreError> {
        let deleted = self.change_task(id, |task| {
            task.deleted = true;
            task.updated_at = at;
        });
        Ok(deleted.is_some())
    }
}
