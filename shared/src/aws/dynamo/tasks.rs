//! Tasks: the task item with its list keys, the task lists, a client message's append, and
//! staff's changes (status, assignee, participants, deletion), each with the requester's routing
//! state in the same transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::keys::{Key, List, Listing, TaskSubset, recency_key, task_id_of};
use super::writes::{ATTEMPTS, Expression, item_exists};
use super::{DynamoStore, Item, Order, from_item, next_cursor, to_item, to_value};
use crate::aws::schema::{INDEXES, RECENCY_KEY};
use crate::ids::{AttachmentId, CommentId, ContactId, TaskId};
use crate::model::{Attachment, Comment, Contact, LastMessage, Task, TaskStatus};
use crate::ports::{
    ChangedTasks, Conflict, Page, PageRequest, Record, StoreError, TaskChange, TaskFilter, TaskStore, TaskWorkflow,
    search_text,
};
use crate::time::Timestamp;

/// What a client's message changes in how task lists show its task (`None`: left as stored).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct AppendShown<'a> {
    pub last_message: Option<&'a LastMessage>,
    pub requester_name: Option<&'a str>,
    pub requester_avatar: Option<&'a str>,
}

/// The id of the newest client comment applied to a task (comment ids sort by Viber's time):
/// a client message's append without a transaction is conditional on it being older, so a
/// re-delivered message does not move its task twice (docs/data-model.md, "A client message").
pub(super) const LAST_INBOUND: &str = "last_inbound";

/// The lowercase copies of a task's title and client's name that a search compares with
/// `contains` (which is case-sensitive).
const SEARCH_TITLE: &str = "search_title";
const SEARCH_NAME: &str = "search_name";

/// A task item. A deleted task keeps its record (GET and the contact's routing still read it)
/// but carries no index keys, so it drops out of every list without a filter.
pub(super) fn task_item(task: &Task) -> Result<Item, StoreError> {
    let mut item = to_item(Key::task(&task.id), task)?;
    if let Some(listing) = Listing::task(task) {
        item.extend(listing.into_attributes());
        for subset in TaskSubset::of_task(task) {
            item.insert(subset.attribute.to_owned(), AttributeValue::S(subset.value));
        }
    }
    if let Some(requester) = Listing::task_of_requester(task) {
        item.extend(requester);
    }
    item.insert(SEARCH_TITLE.to_owned(), AttributeValue::S(search_text(&task.title)));
    if let Some(name) = &task.requester_name {
        item.insert(SEARCH_NAME.to_owned(), AttributeValue::S(search_text(name)));
    }
    Ok(item)
}

/// The task exists and is not deleted.
pub(super) fn task_is_live() -> Expression {
    item_exists()
        .and("#deleted = :false")
        .name("#deleted", "deleted")
        .value(":false", AttributeValue::Bool(false))
}

/// The subsets of the list of every task a filter narrows it to: each becomes a condition of
/// the query's filter (only the list of every task moves on a client's message).
fn subsets_for(filter: &TaskFilter) -> Vec<TaskSubset> {
    let mut subsets = Vec::new();
    if let Some(assignee) = &filter.assignee_id {
        subsets.push(TaskSubset::assigned_to(assignee));
    }
    if filter.unassigned {
        subsets.push(TaskSubset::unassigned());
    }
    if let Some(status) = filter.status {
        subsets.push(TaskSubset::with_status(status));
    }
    if let Some(integration) = &filter.integration_id {
        subsets.push(TaskSubset::of_integration(integration));
    }
    subsets
}

impl DynamoStore {
    /// Moves an existing task's activity time (and with it its place in the list of every task)
    /// and keeps what lists show of the client's message and name, provided the task is still
    /// in a state that may take the message. With `newest`, also provided no client message as
    /// new as that comment was applied to it yet ([`LAST_INBOUND`]), which it records.
    pub(super) fn append_update(
        task_id: &TaskId,
        at: Timestamp,
        require_active: bool,
        shown: AppendShown<'_>,
        newest: Option<&CommentId>,
    ) -> (String, Expression) {
        let mut expression = task_is_live();
        if require_active {
            expression = expression
                .and("#status IN (:new, :in_progress, :waiting)")
                .name("#status", "status")
                .value(":new", to_value(&TaskStatus::New))
                .value(":in_progress", to_value(&TaskStatus::InProgress))
                .value(":waiting", to_value(&TaskStatus::Waiting));
        }
        let mut update = "SET #last_message_at = :at, #updated_at = :at, #recency = :recency".to_owned();
        expression = expression
            .name("#last_message_at", "last_message_at")
            .name("#updated_at", "updated_at")
            .name("#recency", RECENCY_KEY)
            .value(":at", to_value(&at))
            .value(":recency", AttributeValue::S(recency_key(at, task_id.as_str())));
        if let Some(comment) = newest {
            update.push_str(", #last_inbound = :comment");
            expression = expression
                .and("(attribute_not_exists(#last_inbound) OR #last_inbound < :comment)")
                .name("#last_inbound", LAST_INBOUND)
                .value(":comment", AttributeValue::S(comment.to_string()));
        }
        if let Some(last_message) = shown.last_message {
            update.push_str(", #last_message = :last_message");
            expression = expression
                .name("#last_message", "last_message")
                .value(":last_message", to_value(last_message));
        }
        if let Some(avatar) = shown.requester_avatar {
            update.push_str(", #requester_avatar = :requester_avatar");
            expression = expression
                .name("#requester_avatar", "requester_avatar")
                .value(":requester_avatar", AttributeValue::S(avatar.to_owned()));
        }
        if let Some(name) = shown.requester_name {
            update.push_str(", #requester_name = :requester_name, #search_name = :search_name");
            expression = expression
                .name("#requester_name", "requester_name")
                .name("#search_name", SEARCH_NAME)
                .value(":requester_name", AttributeValue::S(name.to_owned()))
                .value(":search_name", AttributeValue::S(search_text(name)));
        }
        (update, expression)
    }

    /// A client's tasks, newest first by creation: the keys from the requester index, then the
    /// tasks themselves (a client has few), with the filter's other conditions applied to them.
    async fn tasks_of_requester(
        &self,
        requester: &ContactId,
        filter: &TaskFilter,
        page: &PageRequest,
    ) -> Result<Page<Task>, StoreError> {
        let list = List::tasks_of_requester(requester);
        let query = self.list_query(&list, Order::NewestFirst, page.cursor.as_deref())?;
        let (keys, more) = self.collect(query, None, page.limit.max(1), false).await?;
        let next_cursor = next_cursor(&keys, more, list.index.sort_key)?;
        let ids = keys.iter().map(task_id_of).collect::<Result<Vec<_>, _>>()?;
        let mut tasks: Vec<Task> = self.get_many(ids.iter().map(Key::task).collect()).await?;
        // The batch read answers in any order: back to the index's.
        tasks.sort_by_key(|task| std::cmp::Reverse(recency_key(task.created_at, task.id.as_str())));
        tasks.retain(|task| filter.matches(task));
        Ok(Page {
            items: tasks,
            next_cursor,
        })
    }

    /// Reads the live task and its requester, and commits `write(task)` with the requester's
    /// routing state; decided again when either changed in between.
    async fn change_task(
        &self,
        id: &TaskId,
        apply: impl Fn(&mut Task),
        write: impl Fn(&Task) -> TransactWriteItem,
    ) -> Result<bool, StoreError> {
        for _ in 0..ATTEMPTS {
            let Some(mut task) = self.get_task(id).await?.filter(|t| !t.deleted) else {
                return Ok(false);
            };
            let contact: Option<Contact> = self.get(Key::contact(&task.requester_id)).await?;
            apply(&mut task);
            let mut items = vec![write(&task)];
            items.extend(self.contact_follows_task(contact.as_ref(), &task));
            if self.transact(items).await?.is_ok() {
                return Ok(true);
            }
        }
        Err(Conflict::KeptChanging(Record::Task(id.clone())).into())
    }
}

#[async_trait]
impl TaskStore for DynamoStore {
    async fn get_task(&self, id: &TaskId) -> Result<Option<Task>, StoreError> {
        self.get(Key::task(id)).await
    }

    async fn list_tasks(&self, filter: &TaskFilter, page: &PageRequest) -> Result<Page<Task>, StoreError> {
        if let Some(requester) = &filter.requester_id {
            return self.tasks_of_requester(requester, filter, page).await;
        }
        let mut query = self.list_query(&List::tasks(), Order::NewestFirst, page.cursor.as_deref())?;
        let mut conditions = Vec::new();
        for (n, subset) in subsets_for(filter).into_iter().enumerate() {
            conditions.push(format!("#f{n} = :f{n}"));
            query = query
                .expression_attribute_names(format!("#f{n}"), subset.attribute)
                .expression_attribute_values(format!(":f{n}"), AttributeValue::S(subset.value));
        }
        if let Some(search) = &filter.search {
            conditions.push("(contains(#search_title, :search) OR contains(#search_name, :search))".to_owned());
            query = query
                .expression_attribute_names("#search_title", SEARCH_TITLE)
                .expression_attribute_names("#search_name", SEARCH_NAME)
                .expression_attribute_values(":search", AttributeValue::S(search.clone()));
        }
        let filtered = !conditions.is_empty();
        if filtered {
            query = query.filter_expression(conditions.join(" AND "));
        }
        self.page(query, None, page, RECENCY_KEY, filtered).await
    }

    async fn list_comments(&self, task_id: &TaskId, page: &PageRequest) -> Result<Page<Comment>, StoreError> {
        self.comments_of(task_id, page).await
    }

    async fn get_attachment(&self, id: &AttachmentId) -> Result<Option<Attachment>, StoreError> {
        self.attachment(id).await
    }

    async fn list_changed_tasks(&self, after: &str, limit: usize) -> Result<ChangedTasks, StoreError> {
        let list = List::tasks();
        let query = self
            .list_query(&list, Order::NewestFirst, None)?
            .key_condition_expression("#pk = :pk AND #sk > :after")
            .expression_attribute_names("#sk", list.index.sort_key)
            .expression_attribute_values(":after", AttributeValue::S(after.to_owned()));
        let (items, truncated) = self.collect(query, None, limit.max(1), false).await?;
        let tasks = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
        Ok(ChangedTasks { tasks, truncated })
    }
}

#[async_trait]
impl TaskWorkflow for DynamoStore {
    async fn update_task(&self, id: &TaskId, change: &TaskChange, at: Timestamp) -> Result<Option<Task>, StoreError> {
        let apply = |task: &mut Task| {
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
        };
        let write = |task: &Task| {
            // Only the fields staff change (and the list keys that follow them): a client's
            // message may move `last_message_at` at the same time without either losing.
            let mut update =
                "SET #status = :status, #assignee = :assignee, #participants = :participants, #updated = :updated, #status_list = :status_list".to_owned();
            let mut expression = task_is_live()
                .name("#status", "status")
                .name("#assignee", "assignee_id")
                .name("#participants", "participant_ids")
                .name("#updated", "updated_at")
                .name("#status_list", TaskSubset::STATUS)
                .name("#assignee_list", TaskSubset::ASSIGNEE)
                .value(":status", to_value(&task.status))
                .value(":assignee", to_value(&task.assignee_id))
                .value(":participants", to_value(&task.participant_ids))
                .value(":updated", to_value(&task.updated_at))
                .value(
                    ":status_list",
                    AttributeValue::S(TaskSubset::with_status(task.status).value),
                );
            update.push_str(", #assignee_list = :assignee_list");
            expression = expression.value(
                ":assignee_list",
                AttributeValue::S(TaskSubset::of_assignee(task.assignee_id.as_ref()).value),
            );
            self.update_op(Key::task(&task.id), &update, &expression)
        };
        if !self.change_task(id, apply, write).await? {
            return Ok(None);
        }
        self.get_task(id).await
    }

    async fn delete_task(&self, id: &TaskId, at: Timestamp) -> Result<bool, StoreError> {
        let apply = |task: &mut Task| {
            task.deleted = true;
            task.updated_at = at;
        };
        let write = |task: &Task| {
            let mut expression = task_is_live()
                .name("#updated", "updated_at")
                .name("#recency", RECENCY_KEY)
                .value(":true", AttributeValue::Bool(true))
                .value(":updated", to_value(&task.updated_at));
            let mut removed = vec!["#recency".to_owned()];
            for (n, index) in INDEXES.iter().enumerate() {
                let placeholder = format!("#list{n}");
                expression = expression.name(&placeholder, index.partition_key);
                removed.push(placeholder);
                if index.sort_key != RECENCY_KEY {
                    let placeholder = format!("#order{n}");
                    expression = expression.name(&placeholder, index.sort_key);
                    removed.push(placeholder);
                }
            }
            let update = format!(
                "SET #deleted = :true, #updated = :updated REMOVE {}",
                removed.join(", ")
            );
            self.update_op(Key::task(&task.id), &update, &expression)
        };
        self.change_task(id, apply, write).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{IntegrationId, StaffId};

    #[test]
    fn every_filter_narrows_the_list_of_every_task() {
        let assignee = StaffId::parse("s1").unwrap();
        let integration = IntegrationId::parse("i1").unwrap();
        assert_eq!(subsets_for(&TaskFilter::default()), []);
        let filter = TaskFilter {
            status: Some(TaskStatus::New),
            assignee_id: Some(assignee.clone()),
            integration_id: Some(integration.clone()),
            requester_id: None,
            search: None,
            unassigned: false,
        };
        assert_eq!(
            subsets_for(&filter),
            [
                TaskSubset::assigned_to(&assignee),
                TaskSubset::with_status(TaskStatus::New),
                TaskSubset::of_integration(&integration),
            ]
        );
        let unassigned = TaskFilter {
            unassigned: true,
            ..TaskFilter::default()
        };
        assert_eq!(subsets_for(&unassigned), [TaskSubset::unassigned()]);
    }

    #[test]
    fn a_live_task_item_carries_its_list_keys_and_a_deleted_one_none() {
        let at = Timestamp::from_millis(1_732_528_955_210);
        let mut task = Task {
            id: TaskId::parse("t1").unwrap(),
            integration_id: IntegrationId::parse("i1").unwrap(),
            title: "Viber: Client".into(),
            description: String::new(),
            status: TaskStatus::New,
            requester_id: crate::ids::ContactId::parse("c1").unwrap(),
            assignee_id: None,
            participant_ids: Vec::new(),
            previous_task_id: None,
            created_at: at,
            updated_at: at,
            last_message_at: at,
            deleted: false,
            last_message: None,
            requester_name: None,
            requester_avatar: None,
        };
        let item = task_item(&task).unwrap();
        assert_eq!(item["pk"], AttributeValue::S("TASK#t1".into()));
        assert_eq!(item["status_list"], AttributeValue::S("TASKSTATUS#new".into()));
        assert_eq!(item[RECENCY_KEY], AttributeValue::S("1732528955210#t1".into()));
        task.deleted = true;
        let item = task_item(&task).unwrap();
        assert!(item.keys().all(|name| !name.starts_with("gsi")), "{item:?}");
        assert_eq!(item["deleted"], AttributeValue::Bool(true));
    }
}
