//! The DynamoDB adapter of the issue-5 ports: integrations, staff and the task workflow (see
//! docs/data-model.md, "Integrations, staff and the task workflow").

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, ReturnValue, TransactWriteItem, Update};

use super::{DynamoStore, PARTITION_KEY};
use super::{
    Expression, Item, RECENCY_KEY, SORT_KEY, TASK_SK, assignee_partition, contact_pk, describe, from_item,
    integration_pk, is_conditional_check_failure, item_absent, staff_pk, staff_token_pk, status_partition, task_pk,
    to_item, to_value,
};
use crate::aws::schema::{ASSIGNEE_INDEX, INDEXES, KIND_INDEX, STATUS_INDEX};
use crate::ids::{IntegrationId, StaffId, TaskId};
use crate::model::{Contact, Integration, Role, StaffMember, Task, TaskState};
use crate::ports::{Conflict, Record};
use crate::ports::{
    IntegrationAdmin, Page, PageRequest, StaffAdmin, StaffChange, StaffOutcome, StoreError, TaskChange, TaskStore,
    TaskWorkflow, decode_cursor, recency_key,
};
use crate::time::Timestamp;

pub(super) const INTEGRATION_SK: &str = "INTEGRATION";
pub(super) const STAFF_SK: &str = "STAFF";
const ACCOUNT_PK: &str = "ACCOUNT";
const OWNER_SK: &str = "OWNER";
/// `gsi1` partitions listing every integration / every staff member, by creation.
const ALL_INTEGRATIONS: &str = "INTEGRATIONS";
const ALL_STAFF: &str = "STAFF";
/// The staff item's copy of its token's hash, so removing the member removes the token item.
const TOKEN_HASH: &str = "token_hash";

/// How often a workflow change is re-decided when the task or its requester changed under it.
const ATTEMPTS: usize = 5;

/// An integration item, listed in `gsi1` `INTEGRATIONS` by creation time.
pub(super) fn integration_item(integration: &Integration) -> Result<Item, StoreError> {
    let mut item = to_item(integration_pk(&integration.id), INTEGRATION_SK, integration)?;
    item.insert(
        KIND_INDEX.partition_key.into(),
        AttributeValue::S(ALL_INTEGRATIONS.into()),
    );
    item.insert(
        RECENCY_KEY.into(),
        AttributeValue::S(recency_key(integration.created_at, integration.id.as_str())),
    );
    Ok(item)
}

/// A staff item, listed in `gsi1` `STAFF` by creation time, with its token's hash.
pub(super) fn staff_item(member: &StaffMember, token_hash: &str) -> Result<Item, StoreError> {
    let mut item = to_item(staff_pk(&member.id), STAFF_SK, member)?;
    item.insert(KIND_INDEX.partition_key.into(), AttributeValue::S(ALL_STAFF.into()));
    item.insert(
        RECENCY_KEY.into(),
        AttributeValue::S(recency_key(member.created_at, member.id.as_str())),
    );
    item.insert(TOKEN_HASH.into(), AttributeValue::S(token_hash.to_owned()));
    Ok(item)
}

fn key(pk: String, sk: &str) -> Item {
    Item::from([
        (PARTITION_KEY.to_owned(), AttributeValue::S(pk)),
        (SORT_KEY.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

fn conditional_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(error: &E) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

/// What a cancelled transaction says: which items' conditions failed, or `None` when it was
/// cancelled for another reason (a concurrent transaction, throttling: retry later).
fn failed_conditions<R: std::fmt::Debug>(
    error: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
) -> Option<Vec<bool>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            let failed: Vec<bool> = cancelled
                .cancellation_reasons()
                .iter()
                .map(is_conditional_check_failure)
                .collect();
            failed.iter().any(|f| *f).then_some(failed)
        }
        _ => None,
    }
}

impl DynamoStore {
    async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(describe(&e)))?;
        Ok(output.item)
    }

    /// Oldest first from one `gsi1` partition, after the cursor's key when one is given.
    fn oldest_first(&self, partition: &str, cursor: Option<&str>) -> Result<QueryFluentBuilder, StoreError> {
        let mut condition = "#pk = :pk".to_owned();
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(KIND_INDEX.name)
            .scan_index_forward(true)
            .expression_attribute_names("#pk", KIND_INDEX.partition_key)
            .expression_attribute_values(":pk", AttributeValue::S(partition.to_owned()));
        if let Some(cursor) = cursor {
            condition.push_str(" AND #sk > :after");
            query = query
                .expression_attribute_names("#sk", KIND_INDEX.sort_key)
                .expression_attribute_values(":after", AttributeValue::S(decode_cursor(cursor)?));
        }
        Ok(query.key_condition_expression(condition))
    }

    async fn put_conditionally(&self, item: Item, condition: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(conditional_failure) => Ok(false),
            Err(error) => Err(StoreError::Unavailable(describe(&error))),
        }
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Option<Vec<bool>>, StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(None),
            Err(error) => match failed_conditions(&error) {
                Some(failed) => Ok(Some(failed)),
                None => Err(StoreError::Unavailable(describe(&error))),
            },
        }
    }

    fn update(&self, pk: String, sk: &str, update: &str, expression: &Expression) -> TransactWriteItem {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression(update)
            .condition_expression(&expression.text)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .build()
            .expect("table, key and expression are set");
        TransactWriteItem::builder().update(update).build()
    }

    fn delete(&self, pk: String, sk: &str, condition: Option<&Expression>) -> TransactWriteItem {
        let mut delete = Delete::builder().table_name(&self.table).set_key(Some(key(pk, sk)));
        if let Some(condition) = condition {
            delete = delete
                .condition_expression(&condition.text)
                .set_expression_attribute_names(condition.names())
                .set_expression_attribute_values(condition.values());
        }
        TransactWriteItem::builder()
            .delete(delete.build().expect("table and key are set"))
            .build()
    }

    fn still_owner(&self, id: &StaffId) -> TransactWriteItem {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(staff_pk(id), STAFF_SK)))
            .condition_expression("#role = :owner")
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":owner", to_value(&Role::Owner))
            .build()
            .expect("table, key and condition are set");
        TransactWriteItem::builder().condition_check(check).build()
    }

    /// The owner marker names `successor` instead of `id` (only if it still names `id`).
    fn move_owner_marker(&self, id: &StaffId, successor: &StaffId) -> TransactWriteItem {
        let expression = Expression::new("#staff = :from")
            .name("#staff", "staff_id")
            .value(":from", AttributeValue::S(id.to_string()))
            .value(":to", AttributeValue::S(successor.to_string()));
        self.update(ACCOUNT_PK.to_owned(), OWNER_SK, "SET #staff = :to", &expression)
    }

    async fn owner_marker(&self) -> Result<Option<StaffId>, StoreError> {
        let marker = self.get_item(ACCOUNT_PK.to_owned(), OWNER_SK).await?;
        Ok(marker
            .as_ref()
            .and_then(|item| item.get("staff_id"))
            .and_then(|value| value.as_s().ok())
            .and_then(|raw| StaffId::parse(raw).ok()))
    }

    /// Every owner but `id`, oldest first (from the index: each is re-checked in the write).
    async fn other_owners(&self, id: &StaffId) -> Result<Vec<StaffId>, StoreError> {
        let mut owners = Vec::new();
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        loop {
            let members = self.list_staff(&page).await?;
            owners.extend(
                members
                    .items
                    .into_iter()
                    .filter(|m| m.role == Role::Owner && &m.id != id)
                    .map(|m| m.id),
            );
            match members.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => return Ok(owners),
            }
        }
    }

    /// Writes `change` (the member's own item write, first in the transaction) while making sure
    /// another owner remains when `member` stops being one. `None`: the member's item changed
    /// since it was read (read again); `Some(outcome)` otherwise.
    async fn without_losing_the_last_owner(
        &self,
        member: &StaffMember,
        change: TransactWriteItem,
        mut also: Vec<TransactWriteItem>,
        stays_owner: bool,
    ) -> Result<Option<StaffOutcome>, StoreError> {
        if member.role != Role::Owner || stays_owner {
            let mut items = vec![change];
            items.append(&mut also);
            return Ok(match self.transact(items).await? {
                None => Some(StaffOutcome::Done(None)),
                Some(_) => None,
            });
        }
        let marker = self.owner_marker().await?;
        for successor in self.other_owners(&member.id).await? {
            let mut items = vec![change.clone(), self.still_owner(&successor)];
            if marker.as_ref() == Some(&member.id) {
                items.push(self.move_owner_marker(&member.id, &successor));
            }
            items.extend(also.iter().cloned());
            match self.transact(items).await? {
                None => return Ok(Some(StaffOutcome::Done(None))),
                // That owner is not one any more: try the next.
                Some(failed) if !failed[0] && failed[1] && !failed.get(2).copied().unwrap_or(false) => continue,
                Some(_) => return Ok(None),
            }
        }
        Ok(Some(StaffOutcome::LastOwner))
    }
}

#[async_trait]
impl IntegrationAdmin for DynamoStore {
    async fn list_integrations(&self, page: &PageRequest) -> Result<Page<Integration>, StoreError> {
        let query = self.oldest_first(ALL_INTEGRATIONS, page.cursor.as_deref())?;
        self.page(query, None, page, RECENCY_KEY, false).await
    }

    async fn create_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        if self
            .put_conditionally(integration_item(integration)?, &item_absent().text)
            .await?
        {
            Ok(())
        } else {
            Err(Conflict::AlreadyExists(Record::Integration(integration.id.clone())).into())
        }
    }

    async fn replace_integration(&self, integration: &Integration) -> Result<bool, StoreError> {
        self.put_conditionally(
            integration_item(integration)?,
            &format!("attribute_exists({PARTITION_KEY})"),
        )
        .await
    }

    async fn delete_integration(&self, id: &IntegrationId) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(integration_pk(id), INTEGRATION_SK)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(describe(&e)))?;
        Ok(output.attributes.is_some_and(|old| !old.is_empty()))
    }
}

#[async_trait]
impl StaffAdmin for DynamoStore {
    async fn list_staff(&self, page: &PageRequest) -> Result<Page<StaffMember>, StoreError> {
        let query = self.oldest_first(ALL_STAFF, page.cursor.as_deref())?;
        self.page(query, None, page, RECENCY_KEY, false).await
    }

    async fn update_staff(&self, id: &StaffId, change: &StaffChange) -> Result<StaffOutcome, StoreError> {
        for _ in 0..ATTEMPTS {
            let Some(member) = self.get_item(staff_pk(id), STAFF_SK).await? else {
                return Ok(StaffOutcome::NotFound);
            };
            let member: StaffMember = from_item(member)?;
            let mut changed = member.clone();
            if let Some(name) = &change.name {
                changed.name = name.clone();
            }
            if let Some(avatar_url) = &change.avatar_url {
                changed.avatar_url = avatar_url.clone();
            }
            if let Some(role) = change.role {
                changed.role = role;
            }
            let expression = Expression::new(format!("attribute_exists({PARTITION_KEY}) AND #role = :read_role"))
                .name("#role", "role")
                .name("#name", "name")
                .name("#avatar", "avatar_url")
                .value(":read_role", to_value(&member.role))
                .value(":role", to_value(&changed.role))
                .value(":name", AttributeValue::S(changed.name.clone()))
                .value(":avatar", to_value(&changed.avatar_url));
            let write = self.update(
                staff_pk(id),
                STAFF_SK,
                "SET #role = :role, #name = :name, #avatar = :avatar",
                &expression,
            );
            let stays_owner = changed.role == Role::Owner;
            match self
                .without_losing_the_last_owner(&member, write, Vec::new(), stays_owner)
                .await?
            {
                Some(StaffOutcome::Done(_)) => {
                    if changed.role == Role::Owner && member.role != Role::Owner {
                        // The account's first owner, if it had none (as `put_staff` does).
                        let marker = to_item(
                            ACCOUNT_PK.to_owned(),
                            OWNER_SK,
                            &super::StaffToken { staff_id: id.clone() },
                        )?;
                        self.put_conditionally(marker, &item_absent().text).await?;
                    }
                    return Ok(StaffOutcome::Done(Some(changed)));
                }
                Some(other) => return Ok(other),
                None => continue,
            }
        }
        Err(Conflict::KeptChanging(Record::StaffMember(id.clone())).into())
    }

    async fn delete_staff(&self, id: &StaffId) -> Result<StaffOutcome, StoreError> {
        for _ in 0..ATTEMPTS {
            let Some(item) = self.get_item(staff_pk(id), STAFF_SK).await? else {
                return Ok(StaffOutcome::NotFound);
            };
            let token_hash = item.get(TOKEN_HASH).and_then(|v| v.as_s().ok()).cloned();
            let member: StaffMember = from_item(item)?;
            let condition = Expression::new(format!("attribute_exists({PARTITION_KEY}) AND #role = :read_role"))
                .name("#role", "role")
                .value(":read_role", to_value(&member.role));
            let write = self.delete(staff_pk(id), STAFF_SK, Some(&condition));
            let also: Vec<TransactWriteItem> = token_hash
                .iter()
                .map(|hash| self.delete(staff_token_pk(hash), "STAFFTOKEN", None))
                .collect();
            match self.without_losing_the_last_owner(&member, write, also, false).await? {
                Some(outcome) => return Ok(outcome),
                None => continue,
            }
        }
        Err(Conflict::KeptChanging(Record::StaffMember(id.clone())).into())
    }
}

impl DynamoStore {
    /// The requester's routing state follows the task, in the same transaction, when the task is
    /// their current one; conditional on the contact's version (the processor's optimistic lock).
    fn follow_task(&self, contact: Option<&Contact>, task: &Task) -> Option<TransactWriteItem> {
        let contact = contact?;
        if contact
            .current_task
            .as_ref()
            .is_none_or(|current| current.id != task.id)
        {
            return None;
        }
        let expression = Expression::new("#version = :read AND #current.#id = :task")
            .name("#version", "version")
            .name("#current", "current_task")
            .name("#id", "id")
            .name("#state", "state")
            .value(":read", AttributeValue::N(contact.version.to_string()))
            .value(":next", AttributeValue::N((contact.version + 1).to_string()))
            .value(":task", AttributeValue::S(task.id.to_string()))
            .value(":state", to_value(&TaskState::of(task.status, task.deleted)));
        Some(self.update(
            contact_pk(&contact.id),
            super::CONTACT_SK,
            "SET #current.#state = :state, #version = :next",
            &expression,
        ))
    }

    /// Reads the live task and its requester, and commits `write(task)` with the requester's
    /// routing state; re-decided when either changed in between.
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
            let contact: Option<Contact> = self.get(contact_pk(&task.requester_id), super::CONTACT_SK).await?;
            apply(&mut task);
            let mut items = vec![write(&task)];
            items.extend(self.follow_task(contact.as_ref(), &task));
            match self.transact(items).await? {
                None => return Ok(true),
                Some(_) => continue,
            }
        }
        Err(Conflict::KeptChanging(Record::Task(id.clone())).into())
    }
}

fn live_task() -> Expression {
    Expression::new(format!("attribute_exists({PARTITION_KEY}) AND #deleted = :false"))
        .name("#deleted", "deleted")
        .value(":false", AttributeValue::Bool(false))
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
            let mut expression = live_task()
                .name("#status", "status")
                .name("#assignee", "assignee_id")
                .name("#participants", "participant_ids")
                .name("#updated", "updated_at")
                .name("#status_list", STATUS_INDEX.partition_key)
                .name("#assignee_list", ASSIGNEE_INDEX.partition_key)
                .value(":status", to_value(&task.status))
                .value(":assignee", to_value(&task.assignee_id))
                .value(":participants", to_value(&task.participant_ids))
                .value(":updated", to_value(&task.updated_at))
                .value(":status_list", AttributeValue::S(status_partition(task.status)));
            match &task.assignee_id {
                Some(assignee) => {
                    update.push_str(", #assignee_list = :assignee_list");
                    expression = expression.value(":assignee_list", AttributeValue::S(assignee_partition(assignee)));
                }
                None => update.push_str(" REMOVE #assignee_list"),
            }
            self.update(task_pk(&task.id), TASK_SK, &update, &expression)
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
            let mut expression = live_task()
                .name("#updated", "updated_at")
                .name("#recency", RECENCY_KEY)
                .value(":true", AttributeValue::Bool(true))
                .value(":updated", to_value(&task.updated_at));
            let mut removed = vec!["#recency".to_owned()];
            for (n, index) in INDEXES.iter().enumerate() {
                let placeholder = format!("#list{n}");
                expression = expression.name(&placeholder, index.partition_key);
                removed.push(placeholder);
            }
            let update = format!(
                "SET #deleted = :true, #updated = :updated REMOVE {}",
                removed.join(", ")
            );
            self.update(task_pk(&task.id), TASK_SK, &update, &expression)
        };
        self.change_task(id, apply, write).await
    }
}
