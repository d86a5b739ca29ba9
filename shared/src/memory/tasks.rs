//! Tasks: lists by filter, and staff's changes with the requester's routing state in step.

use async_trait::async_trait;

use super::{Listed, MemoryStore, Order, page_by_recency, page_of};
use crate::ids::{AttachmentId, TaskId};
use crate::model::{Attachment, Comment, Task};
use crate::ports::{
    ChangedTasks, Page, PageRequest, StoreError, TaskChange, TaskFilter, TaskStore, TaskWorkflow, recency_key,
};
use crate::time::Timestamp;

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
        let tasks = state.tasks.values().filter(|t| filter.matches(t));
        if filter.requester_id.is_some() {
            // A client's tasks list by creation, as the DynamoDB adapter's requester index.
            let by_creation = tasks.map(|task| (recency_key(task.created_at, task.id.as_str()), task.clone()));
            return page_of(by_creation.collect(), Order::NewestFirst, page);
        }
        page_by_recency(tasks, Order::NewestFirst, page)
    }

    async fn list_comments(&self, task_id: &TaskId, page: &PageRequest) -> Result<Page<Comment>, StoreError> {
        self.comments_of(task_id, page)
    }

    async fn get_attachment(&self, id: &AttachmentId) -> Result<Option<Attachment>, StoreError> {
        Ok(self.attachment(id))
    }

    async fn list_changed_tasks(&self, after: &str, limit: usize) -> Result<ChangedTasks, StoreError> {
        let state = self.state();
        let mut changed: Vec<(String, &Task)> = state
            .tasks
            .values()
            .filter(|task| !task.deleted)
            .map(|task| (task.recency_key(), task))
            .filter(|(key, _)| key.as_str() > after)
            .collect();
        changed.sort_by(|a, b| b.0.cmp(&a.0));
        let limit = limit.max(1);
        Ok(ChangedTasks {
            truncated: changed.len() > limit,
            tasks: changed.into_iter().take(limit).map(|(_, task)| task.clone()).collect(),
        })
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
