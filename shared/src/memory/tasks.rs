//! Tasks: lists by filter, and staff's changes with the requester's routing state in step.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use async_trait::async_trait;

use super::{Listed, MemoryStore};
use crate::ids::{AttachmentId, ContactId, TaskId};
use crate::model::{Attachment, Comment, Task};
use crate::ports::{
    ChangedTasks, Page, PageRequest, StoreError, TaskChange, TaskFilter, TaskStore, TaskWorkflow, decode_cursor,
    encode_cursor, recency_key,
};
use crate::time::Timestamp;

/// The tasks with the orders their lists read, kept in step on every write as the DynamoDB
/// adapter's indexes are: every live task by its last message (`gsi1`, the lists and the change
/// feed), a client's live tasks by creation (`gsi5`). A page is a range read from the cursor,
/// O(log n + what it reads), not a sort of every task.
#[derive(Default)]
pub(super) struct Tasks {
    by_id: HashMap<TaskId, Task>,
    by_recency: BTreeMap<String, TaskId>,
    by_requester: HashMap<ContactId, BTreeMap<String, TaskId>>,
}

impl Tasks {
    pub(super) fn get(&self, id: &TaskId) -> Option<&Task> {
        self.by_id.get(id)
    }

    pub(super) fn contains_key(&self, id: &TaskId) -> bool {
        self.by_id.contains_key(id)
    }

    /// Stores `task` under `id` (its id), replacing and re-indexing any task stored there.
    pub(super) fn insert(&mut self, id: TaskId, task: Task) {
        debug_assert_eq!(id, task.id);
        self.unindex(&id);
        self.index(&task);
        self.by_id.insert(id, task);
    }

    /// Changes the task `id` and re-indexes it; `None` if there is none.
    pub(super) fn update(&mut self, id: &TaskId, change: impl FnOnce(&mut Task)) -> Option<&Task> {
        self.unindex(id);
        let mut task = self.by_id.remove(id)?;
        change(&mut task);
        self.index(&task);
        Some(self.by_id.entry(id.clone()).insert_entry(task).into_mut())
    }

    /// A deleted task is in no list, as it leaves the DynamoDB adapter's indexes.
    fn index(&mut self, task: &Task) {
        if task.deleted {
            return;
        }
        self.by_recency.insert(task.recency_key(), task.id.clone());
        self.by_requester
            .entry(task.requester_id.clone())
            .or_default()
            .insert(recency_key(task.created_at, task.id.as_str()), task.id.clone());
    }

    fn unindex(&mut self, id: &TaskId) {
        let Some(task) = self.by_id.get(id) else {
            return;
        };
        self.by_recency.remove(&task.recency_key());
        if let Some(tasks) = self.by_requester.get_mut(&task.requester_id) {
            tasks.remove(&recency_key(task.created_at, task.id.as_str()));
            if tasks.is_empty() {
                self.by_requester.remove(&task.requester_id);
            }
        }
    }

    /// The tasks of one order, newest first, after the cursor's key (exclusive).
    fn newest_first<'a>(
        &'a self,
        order: &'a BTreeMap<String, TaskId>,
        before: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a String, &'a Task)> + 'a {
        let upper = before.map_or(Bound::Unbounded, Bound::Excluded);
        order
            .range::<str, _>((Bound::Unbounded, upper))
            .rev()
            .filter_map(|(key, id)| self.by_id.get(id).map(|task| (key, task)))
    }
}

impl MemoryStore {
    /// Applies `change` to the live task `id` and lets its requester's routing follow; `None`
    /// if there is no such live task.
    fn change_task(&self, id: &TaskId, change: impl FnOnce(&mut Task)) -> Option<Task> {
        let mut state = self.state();
        state.tasks.get(id).filter(|t| !t.deleted)?;
        let task = state.tasks.update(id, change)?.clone();
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
        let tasks = &state.tasks;
        let cursor = page.cursor.as_deref().map(decode_cursor).transpose()?;
        // A client's tasks list by creation, as the DynamoDB adapter's requester index.
        let order = match &filter.requester_id {
            Some(requester) => match tasks.by_requester.get(requester) {
                Some(order) => order,
                None => {
                    return Ok(Page {
                        items: Vec::new(),
                        next_cursor: None,
                    });
                }
            },
            None => &tasks.by_recency,
        };
        let limit = page.limit.max(1);
        let mut matching = tasks
            .newest_first(order, cursor.as_deref())
            .filter(|(_, task)| filter.matches(task));
        let items: Vec<(&String, &Task)> = matching.by_ref().take(limit).collect();
        let next_cursor = match (items.last(), matching.next()) {
            (Some((key, _)), Some(_)) => Some(encode_cursor(key)),
            _ => None,
        };
        Ok(Page {
            items: items.into_iter().map(|(_, task)| task.clone()).collect(),
            next_cursor,
        })
    }

    async fn list_comments(&self, task_id: &TaskId, page: &PageRequest) -> Result<Page<Comment>, StoreError> {
        self.comments_of(task_id, page)
    }

    async fn get_attachment(&self, id: &AttachmentId) -> Result<Option<Attachment>, StoreError> {
        Ok(self.attachment(id))
    }

    async fn list_changed_tasks(&self, after: &str, limit: usize) -> Result<ChangedTasks, StoreError> {
        let state = self.state();
        let tasks = &state.tasks;
        let limit = limit.max(1);
        let mut changed = tasks
            .by_recency
            .range::<str, _>((Bound::Excluded(after), Bound::Unbounded))
            .rev()
            .filter_map(|(_, id)| tasks.get(id));
        let newest: Vec<Task> = changed.by_ref().take(limit).cloned().collect();
        Ok(ChangedTasks {
            truncated: changed.next().is_some(),
            tasks: newest,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::IntegrationId;
    use crate::model::TaskStatus;

    fn task(id: &str, requester: &str, created: i64, last_message: i64) -> Task {
        Task {
            id: TaskId::parse(id).unwrap(),
            integration_id: IntegrationId::parse("i1").unwrap(),
            title: "Viber: Client".into(),
            description: String::new(),
            status: TaskStatus::New,
            requester_id: ContactId::parse(requester).unwrap(),
            assignee_id: None,
            participant_ids: Vec::new(),
            previous_task_id: None,
            created_at: Timestamp::from_millis(created),
            updated_at: Timestamp::from_millis(last_message),
            last_message_at: Timestamp::from_millis(last_message),
            deleted: false,
            last_message: None,
            requester_name: None,
            requester_avatar: None,
        }
    }

    fn ids<'a>(tasks: impl Iterator<Item = (&'a String, &'a Task)>) -> Vec<&'a str> {
        tasks.map(|(_, task)| task.id.as_str()).collect()
    }

    #[test]
    fn the_orders_follow_every_write_and_a_deleted_task_leaves_them() {
        let mut tasks = Tasks::default();
        tasks.insert(TaskId::parse("t1").unwrap(), task("t1", "c1", 1, 10));
        tasks.insert(TaskId::parse("t2").unwrap(), task("t2", "c1", 2, 20));
        tasks.insert(TaskId::parse("t3").unwrap(), task("t3", "c2", 3, 30));
        assert_eq!(ids(tasks.newest_first(&tasks.by_recency, None)), ["t3", "t2", "t1"]);

        // A new message moves t1 to the front; its old place is gone.
        tasks.update(&TaskId::parse("t1").unwrap(), |t| {
            t.last_message_at = Timestamp::from_millis(40)
        });
        assert_eq!(ids(tasks.newest_first(&tasks.by_recency, None)), ["t1", "t3", "t2"]);
        assert_eq!(tasks.by_recency.len(), 3);
        // After a cursor: strictly older.
        let cursor = recency_key(Timestamp::from_millis(30), "t3");
        assert_eq!(ids(tasks.newest_first(&tasks.by_recency, Some(&cursor))), ["t2"]);
        // A client's tasks by creation, which a message does not change.
        let client = &tasks.by_requester[&ContactId::parse("c1").unwrap()];
        assert_eq!(ids(tasks.newest_first(client, None)), ["t2", "t1"]);

        tasks.update(&TaskId::parse("t2").unwrap(), |t| t.deleted = true);
        assert_eq!(ids(tasks.newest_first(&tasks.by_recency, None)), ["t1", "t3"]);
        let client = &tasks.by_requester[&ContactId::parse("c1").unwrap()];
        assert_eq!(ids(tasks.newest_first(client, None)), ["t1"]);
        assert!(tasks.get(&TaskId::parse("t2").unwrap()).is_some(), "kept for routing");

        // Replacing a task re-indexes it.
        tasks.insert(TaskId::parse("t3").unwrap(), task("t3", "c2", 3, 5));
        assert_eq!(ids(tasks.newest_first(&tasks.by_recency, None)), ["t1", "t3"]);
        assert_eq!(tasks.by_recency.len(), 2);
    }
}
