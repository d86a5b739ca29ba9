//! The DynamoDB adapter of the store ports (single-table design, see docs/data-model.md).

mod admin;

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, ConditionCheck, Put, TransactWriteItem, Update};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use super::describe;
use super::schema::{
    ASSIGNEE_INDEX, EXPIRES_AT, INTEGRATION_INDEX, Index, KIND_INDEX, PARTITION_KEY, RECENCY_KEY, SORT_KEY,
    STATUS_INDEX,
};
use crate::ids::{AttachmentId, CommentId, ContactId, IntegrationId, QuickReplyId, StaffId, TaskId};
use crate::model::{
    Attachment, Comment, CommentStatus, Contact, Integration, QuickReply, StaffMember, Task, TaskStatus,
};
use crate::ports::{Conflict, Record};
use crate::ports::{
    ContactStore, DeliveryStore, IntegrationStore, MessageStore, MessageWrite, Page, PageRequest, PartRef, StaffStore,
    StoreError, TaskFilter, TaskStore, TaskWrite, WriteOutcome, decode_cursor, encode_cursor, recency_key,
};
use crate::time::Timestamp;

type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens the connection (TLS, credentials) during INIT so the first real request does not
    /// pay for it. A failure is only logged: the request path reports real errors.
    pub async fn warm_up(&self) {
        let result = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S("WARMUP".into()))
            .key(SORT_KEY, AttributeValue::S("WARMUP".into()))
            .send()
            .await;
        if let Err(error) = result {
            tracing::warn!(error = %describe(&error), "DynamoDB warm-up failed");
        }
    }

    /// Reads one item. Strongly consistent: a read that precedes a conditional write (contact
    /// version, task state) would otherwise cause needless conflicts.
    async fn get<T: DeserializeOwned>(&self, pk: String, sk: &str) -> Result<Option<T>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(pk))
            .key(SORT_KEY, AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(describe(&e)))?;
        output.item.map(from_item).transpose()
    }

    async fn put<T: Serialize>(&self, pk: String, sk: &str, value: &T) -> Result<(), StoreError> {
        self.put_item(to_item(pk, sk, value)?).await
    }

    async fn put_item(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(describe(&e)))?;
        Ok(())
    }
}

fn to_item<T: Serialize>(pk: String, sk: &str, value: &T) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    item.insert(PARTITION_KEY.into(), AttributeValue::S(pk));
    item.insert(SORT_KEY.into(), AttributeValue::S(sk.to_owned()));
    Ok(item)
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn to_value<T: Serialize>(value: &T) -> AttributeValue {
    serde_dynamo::to_attribute_value(value).expect("statuses and timestamps always serialise")
}

// ---- Keys ----

const CONTACT_SK: &str = "CONTACT";
const TASK_SK: &str = "TASK";
const COMMENT_PREFIX: &str = "COMMENT#";
const ATTACHMENT_SK: &str = "ATTACHMENT";
const INBOUND_SK: &str = "INBOUND";
const PART_SK: &str = "PART";

/// Index partitions that hold every item of a kind.
const ALL_CONTACTS: &str = "CONTACTS";
const ALL_TASKS: &str = "TASKS";
const ALL_QUICK_REPLIES: &str = "QUICKREPLIES";
const QUICK_REPLY_SK: &str = "QUICKREPLY";

/// How long an inbound dedup marker is kept: longer than any path a callback can come back by
/// (Viber re-sends for an hour; SQS keeps a message up to 14 days, and a DLQ redrive up to 14
/// more). DynamoDB's TTL deletes it afterwards, so markers do not pile up forever.
const DEDUP_MARKER_LIFETIME_SECONDS: i64 = 30 * 24 * 3600;

fn integration_pk(id: &IntegrationId) -> String {
    format!("INTEGRATION#{id}")
}

fn staff_token_pk(token_hash: &str) -> String {
    format!("STAFFTOKEN#{token_hash}")
}

fn contact_pk(id: &ContactId) -> String {
    format!("CONTACT#{id}")
}

fn task_pk(id: &TaskId) -> String {
    format!("TASK#{id}")
}

/// Comments live in their task's partition; comment ids sort by time, so the sort key orders
/// the conversation.
fn comment_sk(id: &CommentId) -> String {
    format!("{COMMENT_PREFIX}{id}")
}

fn quick_reply_pk(id: &QuickReplyId) -> String {
    format!("QUICKREPLY#{id}")
}

fn attachment_pk(id: &AttachmentId) -> String {
    format!("ATTACHMENT#{id}")
}

fn inbound_pk(dedup_key: &str) -> String {
    format!("INBOUND#{dedup_key}")
}

fn part_pk(integration_id: &IntegrationId, message_token: u64) -> String {
    format!("VIBERTOKEN#{integration_id}#{message_token}")
}

fn status_partition(status: TaskStatus) -> String {
    format!("TASKSTATUS#{}", status.as_str())
}

fn assignee_partition(staff: &StaffId) -> String {
    format!("TASKASSIGNEE#{staff}")
}

fn integration_partition(integration: &IntegrationId) -> String {
    format!("TASKINTEGRATION#{integration}")
}

// ---- Items ----

fn contact_item(contact: &Contact) -> Result<Item, StoreError> {
    let mut item = to_item(contact_pk(&contact.id), CONTACT_SK, contact)?;
    item.insert(KIND_INDEX.partition_key.into(), AttributeValue::S(ALL_CONTACTS.into()));
    item.insert(
        RECENCY_KEY.into(),
        AttributeValue::S(recency_key(contact.updated_at, contact.id.as_str())),
    );
    Ok(item)
}

/// The lists a task appears in (index and partition).
fn task_lists(task: &Task) -> Vec<(Index, String)> {
    let mut lists = vec![
        (KIND_INDEX, ALL_TASKS.to_owned()),
        (STATUS_INDEX, status_partition(task.status)),
        (INTEGRATION_INDEX, integration_partition(&task.integration_id)),
    ];
    if let Some(assignee) = &task.assignee_id {
        lists.push((ASSIGNEE_INDEX, assignee_partition(assignee)));
    }
    lists
}

/// A deleted task keeps its record (GET and the contact's routing still read it) but carries no
/// index keys, so it drops out of every list without a filter.
fn task_item(task: &Task) -> Result<Item, StoreError> {
    let mut item = to_item(task_pk(&task.id), TASK_SK, task)?;
    if !task.deleted {
        for (index, partition) in task_lists(task) {
            item.insert(index.partition_key.into(), AttributeValue::S(partition));
        }
        item.insert(
            RECENCY_KEY.into(),
            AttributeValue::S(recency_key(task.last_message_at, task.id.as_str())),
        );
    }
    Ok(item)
}

fn comment_item(comment: &Comment) -> Result<Item, StoreError> {
    to_item(task_pk(&comment.task_id), &comment_sk(&comment.id), comment)
}

/// What the inbound dedup marker keeps besides its key: enough to trace what the message wrote.
#[derive(Serialize)]
struct InboundMarker<'a> {
    task_id: &'a TaskId,
    comment_id: &'a CommentId,
}

fn inbound_marker(write: &MessageWrite) -> Result<Item, StoreError> {
    let marker = InboundMarker {
        task_id: &write.comment.task_id,
        comment_id: &write.comment.id,
    };
    let mut item = to_item(inbound_pk(&write.dedup_key), INBOUND_SK, &marker)?;
    let expires_at = Timestamp::now().millis() / 1000 + DEDUP_MARKER_LIFETIME_SECONDS;
    item.insert(EXPIRES_AT.into(), AttributeValue::N(expires_at.to_string()));
    Ok(item)
}

/// The token map item: which comment a sent Viber message belongs to.
#[derive(Serialize, Deserialize)]
struct StoredPart {
    task_id: TaskId,
    comment_id: CommentId,
}

// ---- Expressions ----

/// A condition / filter / update expression with its placeholders. DynamoDB refuses empty
/// placeholder maps, hence the `Option`s when handing them over.
#[derive(Default)]
struct Expression {
    text: String,
    names: HashMap<String, String>,
    values: Item,
}

impl Expression {
    fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    fn name(mut self, placeholder: &str, name: &str) -> Self {
        self.names.insert(placeholder.into(), name.into());
        self
    }

    fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.into(), value);
        self
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn item_absent() -> Expression {
    Expression::new(format!("attribute_not_exists({PARTITION_KEY})"))
}

/// The contact's optimistic lock: absent when `None` was read, else still at the version read.
fn contact_version_is(expected: Option<u64>) -> Expression {
    match expected {
        None => item_absent(),
        Some(version) => Expression::new("#version = :expected_version")
            .name("#version", "version")
            .value(":expected_version", AttributeValue::N(version.to_string())),
    }
}

fn is_conditional_check_failure(reason: &CancellationReason) -> bool {
    reason.code() == Some("ConditionalCheckFailed")
}

// ---- Client messages (one transaction) ----

impl DynamoStore {
    fn transact_put(&self, item: Item, condition: Option<Expression>) -> TransactWriteItem {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some(condition) = condition {
            put = put
                .condition_expression(&condition.text)
                .set_expression_attribute_names(condition.names())
                .set_expression_attribute_values(condition.values());
        }
        let put = put.build().expect("table and item are set");
        TransactWriteItem::builder().put(put).build()
    }

    /// Moves an existing task's activity time (and with it its place in every list), provided
    /// it is still in a state that may take the message.
    fn transact_append(&self, task_id: &TaskId, at: Timestamp, require_active: bool) -> TransactWriteItem {
        let mut condition = format!("attribute_exists({PARTITION_KEY}) AND #deleted = :false");
        let mut expression = Expression::default()
            .name("#deleted", "deleted")
            .value(":false", AttributeValue::Bool(false));
        if require_active {
            condition.push_str(" AND #status IN (:new, :in_progress, :waiting)");
            expression = expression
                .name("#status", "status")
                .value(":new", to_value(&TaskStatus::New))
                .value(":in_progress", to_value(&TaskStatus::InProgress))
                .value(":waiting", to_value(&TaskStatus::Waiting));
        }
        let expression = expression
            .name("#last_message_at", "last_message_at")
            .name("#updated_at", "updated_at")
            .name("#recency", RECENCY_KEY)
            .value(":at", to_value(&at))
            .value(":recency", AttributeValue::S(recency_key(at, task_id.as_str())));
        let update = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(task_pk(task_id)))
            .key(SORT_KEY, AttributeValue::S(TASK_SK.into()))
            .update_expression("SET #last_message_at = :at, #updated_at = :at, #recency = :recency")
            .condition_expression(condition)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .build()
            .expect("table, key and expression are set");
        TransactWriteItem::builder().update(update).build()
    }

    /// The transaction's items, each with the conflict its refusal means (none for the dedup
    /// marker and the attachments). The dedup marker comes first: cancellation reasons follow
    /// this order, and the marker's tells a re-delivery from a real conflict.
    fn message_items(&self, write: &MessageWrite) -> Result<Vec<(Option<Conflict>, TransactWriteItem)>, StoreError> {
        let task = match &write.task {
            TaskWrite::Create(task) => (
                Conflict::AlreadyExists(Record::Task(task.id.clone())),
                self.transact_put(task_item(task)?, Some(item_absent())),
            ),
            TaskWrite::Append {
                task_id,
                last_message_at,
                require_active,
            } => (
                Conflict::TaskChanged(task_id.clone()),
                self.transact_append(task_id, *last_message_at, *require_active),
            ),
        };
        let mut items = vec![
            (None, self.transact_put(inbound_marker(write)?, Some(item_absent()))),
            (
                Some(Conflict::ContactChanged(write.contact.id.clone())),
                self.transact_put(
                    contact_item(&write.contact)?,
                    Some(contact_version_is(write.expected_contact_version)),
                ),
            ),
            (Some(task.0), task.1),
            (
                Some(Conflict::AlreadyExists(Record::Comment(write.comment.id.clone()))),
                self.transact_put(comment_item(&write.comment)?, Some(item_absent())),
            ),
        ];
        // A Viber message carries at most one media file, far from the 100-item limit; the
        // comment text (≤ 7000 characters) keeps the request far below 4 MB.
        for attachment in &write.attachments {
            let item = to_item(attachment_pk(&attachment.id), ATTACHMENT_SK, attachment)?;
            items.push((None, self.transact_put(item, None)));
        }
        Ok(items)
    }
}

/// Reads a cancelled transaction: the marker's condition failed → the message was applied
/// before; another condition failed → the state read changed; anything else → retry later.
fn message_outcome<R: std::fmt::Debug>(
    error: SdkError<TransactWriteItemsError, R>,
    conflicts: &[Option<Conflict>],
) -> Result<WriteOutcome, StoreError> {
    let reasons = match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled.cancellation_reasons(),
        _ => return Err(StoreError::Unavailable(describe(&error))),
    };
    if reasons.first().is_some_and(is_conditional_check_failure) {
        return Ok(WriteOutcome::Duplicate);
    }
    let first_refused = reasons
        .iter()
        .zip(conflicts)
        .find(|(reason, _)| is_conditional_check_failure(reason))
        .and_then(|(_, conflict)| conflict.clone());
    match first_refused {
        Some(conflict) => Err(conflict.into()),
        // e.g. TransactionConflict: another request held an item; retrying may succeed.
        None => Err(StoreError::Unavailable(describe(&error))),
    }
}

// ---- Lists ----

/// A page is fetched as `limit + 1` items: the extra one only says whether a next page exists.
/// With a filter DynamoDB's `Limit` counts items before filtering, so each request then reads
/// a larger batch to need fewer round trips.
const FILTERED_BATCH: usize = 100;

fn string_attribute(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(StoreError::Corrupt(format!("item without a string {name}"))),
    }
}

/// The indexes to read for a task filter, most selective first: the first is queried, the
/// rest become a filter on their partition attributes. A staff member's tasks are few; an
/// active status is a small slice, while completed tasks and an integration's tasks grow
/// without end.
fn task_lists_for(filter: &TaskFilter) -> Vec<(Index, String)> {
    let mut lists = Vec::new();
    if let Some(assignee) = &filter.assignee_id {
        lists.push((ASSIGNEE_INDEX, assignee_partition(assignee)));
    }
    if let Some(status) = filter.status.filter(|s| s.is_active()) {
        lists.push((STATUS_INDEX, status_partition(status)));
    }
    if let Some(integration) = &filter.integration_id {
        lists.push((INTEGRATION_INDEX, integration_partition(integration)));
    }
    if let Some(status) = filter.status.filter(|s| !s.is_active()) {
        lists.push((STATUS_INDEX, status_partition(status)));
    }
    if lists.is_empty() {
        lists.push((KIND_INDEX, ALL_TASKS.to_owned()));
    }
    lists
}

impl DynamoStore {
    /// Newest first from one index partition, after the cursor's key when one is given.
    fn recent_query(
        &self,
        index: &Index,
        partition: String,
        cursor: Option<&str>,
    ) -> Result<QueryFluentBuilder, StoreError> {
        let mut condition = "#pk = :pk".to_owned();
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .scan_index_forward(false)
            .expression_attribute_names("#pk", index.partition_key)
            .expression_attribute_values(":pk", AttributeValue::S(partition));
        if let Some(cursor) = cursor {
            // Recency keys are unique (they end in the id), so "older than the last one shown"
            // resumes exactly, even if that item changed since.
            condition.push_str(" AND #sk < :after");
            query = query
                .expression_attribute_names("#sk", index.sort_key)
                .expression_attribute_values(":after", AttributeValue::S(decode_cursor(cursor)?));
        }
        Ok(query.key_condition_expression(condition))
    }

    /// Runs `query` until `limit` items (plus one to learn whether more exist) are collected or
    /// the results end. Returns the items and whether more match.
    async fn collect(
        &self,
        query: QueryFluentBuilder,
        mut start: Option<Item>,
        limit: usize,
        filtered: bool,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let mut items = Vec::new();
        loop {
            let wanted = limit + 1 - items.len();
            let batch = if filtered { wanted.max(FILTERED_BATCH) } else { wanted };
            let output = query
                .clone()
                .set_exclusive_start_key(start)
                .limit(i32::try_from(batch).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| StoreError::Unavailable(describe(&e)))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if items.len() > limit || start.is_none() {
                break;
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        Ok((items, more))
    }

    /// One page of `query`'s results; the cursor is the last item's `cursor_attribute`.
    async fn page<T: DeserializeOwned>(
        &self,
        query: QueryFluentBuilder,
        start: Option<Item>,
        page: &PageRequest,
        cursor_attribute: &str,
        filtered: bool,
    ) -> Result<Page<T>, StoreError> {
        let (items, more) = self.collect(query, start, page.limit.max(1), filtered).await?;
        let next_cursor = match items.last() {
            Some(last) if more => Some(encode_cursor(&string_attribute(last, cursor_attribute)?)),
            _ => None,
        };
        let items = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }
}

// ---- Ports ----

#[async_trait]
impl IntegrationStore for DynamoStore {
    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<Integration>, StoreError> {
        self.get(integration_pk(id), "INTEGRATION").await
    }

    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        self.put_item(admin::integration_item(integration)?).await
    }
}

#[async_trait]
impl StaffStore for DynamoStore {
    /// The member item, then the token item (which names only the member, so a renamed member
    /// has one source of truth), then the account's owner marker if this is its first owner.
    async fn put_staff(&self, member: &StaffMember, token_hash: &str) -> Result<(), StoreError> {
        self.put_item(admin::staff_item(member, token_hash)?).await?;
        self.put(
            staff_token_pk(token_hash),
            "STAFFTOKEN",
            &StaffToken {
                staff_id: member.id.clone(),
            },
        )
        .await?;
        if member.role == crate::model::Role::Owner {
            let marker = to_item(
                "ACCOUNT".to_owned(),
                "OWNER",
                &StaffToken {
                    staff_id: member.id.clone(),
                },
            )?;
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(marker))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            if let Err(error) = result
                && !error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception())
            {
                return Err(StoreError::Unavailable(describe(&error)));
            }
        }
        Ok(())
    }

    async fn staff_by_token_hash(&self, token_hash: &str) -> Result<Option<StaffMember>, StoreError> {
        match self.get::<StaffToken>(staff_token_pk(token_hash), "STAFFTOKEN").await? {
            Some(token) => self.get_staff(&token.staff_id).await,
            None => Ok(None),
        }
    }

    async fn get_staff(&self, id: &StaffId) -> Result<Option<StaffMember>, StoreError> {
        self.get(staff_pk(id), "STAFF").await
    }

    async fn account_owner(&self) -> Result<Option<StaffMember>, StoreError> {
        match self.get::<StaffToken>("ACCOUNT".to_owned(), "OWNER").await? {
            Some(marker) => self.get_staff(&marker.staff_id).await,
            None => Ok(None),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct StaffToken {
    staff_id: StaffId,
}

fn staff_pk(id: &StaffId) -> String {
    format!("STAFF#{id}")
}

#[async_trait]
impl ContactStore for DynamoStore {
    async fn get_contact(&self, id: &ContactId) -> Result<Option<Contact>, StoreError> {
        self.get(contact_pk(id), CONTACT_SK).await
    }

    async fn put_contact(&self, contact: &Contact, expected_version: Option<u64>) -> Result<(), StoreError> {
        let condition = contact_version_is(expected_version);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(contact_item(contact)?))
            .condition_expression(&condition.text)
            .set_expression_attribute_names(condition.names())
            .set_expression_attribute_values(condition.values())
            .send()
            .await
            .map_err(|error| {
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception())
                {
                    Conflict::ContactChanged(contact.id.clone()).into()
                } else {
                    StoreError::Unavailable(describe(&error))
                }
            })?;
        Ok(())
    }

    async fn list_contacts(&self, page: &PageRequest) -> Result<Page<Contact>, StoreError> {
        let query = self.recent_query(&KIND_INDEX, ALL_CONTACTS.to_owned(), page.cursor.as_deref())?;
        self.page(query, None, page, RECENCY_KEY, false).await
    }
}

#[async_trait]
impl MessageStore for DynamoStore {
    async fn apply_message(&self, write: &MessageWrite) -> Result<WriteOutcome, StoreError> {
        let (conflicts, items): (Vec<Option<Conflict>>, Vec<TransactWriteItem>) =
            self.message_items(write)?.into_iter().unzip();
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(WriteOutcome::Applied),
            Err(error) => message_outcome(error, &conflicts),
        }
    }
}

#[async_trait]
impl TaskStore for DynamoStore {
    async fn get_task(&self, id: &TaskId) -> Result<Option<Task>, StoreError> {
        self.get(task_pk(id), TASK_SK).await
    }

    async fn list_tasks(&self, filter: &TaskFilter, page: &PageRequest) -> Result<Page<Task>, StoreError> {
        let mut lists = task_lists_for(filter).into_iter();
        let (index, partition) = lists.next().expect("at least the list of all tasks");
        let mut query = self.recent_query(&index, partition, page.cursor.as_deref())?;
        let mut conditions = Vec::new();
        for (n, (other, partition)) in lists.enumerate() {
            conditions.push(format!("#f{n} = :f{n}"));
            query = query
                .expression_attribute_names(format!("#f{n}"), other.partition_key)
                .expression_attribute_values(format!(":f{n}"), AttributeValue::S(partition));
        }
        let filtered = !conditions.is_empty();
        if filtered {
            query = query.filter_expression(conditions.join(" AND "));
        }
        self.page(query, None, page, RECENCY_KEY, filtered).await
    }

    async fn list_comments(&self, task_id: &TaskId, page: &PageRequest) -> Result<Page<Comment>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", AttributeValue::S(task_pk(task_id)))
            .expression_attribute_values(":prefix", AttributeValue::S(COMMENT_PREFIX.into()))
            .scan_index_forward(true);
        let start = match page.cursor.as_deref().map(decode_cursor).transpose()? {
            Some(sk) if sk.starts_with(COMMENT_PREFIX) => Some(HashMap::from([
                (PARTITION_KEY.to_owned(), AttributeValue::S(task_pk(task_id))),
                (SORT_KEY.to_owned(), AttributeValue::S(sk)),
            ])),
            Some(_) => return Err(StoreError::InvalidCursor),
            None => None,
        };
        self.page(query, start, page, SORT_KEY, false).await
    }

    async fn get_attachment(&self, id: &AttachmentId) -> Result<Option<Attachment>, StoreError> {
        self.get(attachment_pk(id), ATTACHMENT_SK).await
    }
}

/// `CommentStatus`'s variants in their `Ord` order (the order of progress).
const COMMENT_STATUSES: [CommentStatus; 7] = [
    CommentStatus::Received,
    CommentStatus::Internal,
    CommentStatus::Queued,
    CommentStatus::Sent,
    CommentStatus::Delivered,
    CommentStatus::Seen,
    CommentStatus::Failed,
];

/// The condition under which a part may take `status`: the comment exists and the part is
/// unknown or at a lower status. `failed` is the greatest status, so nothing replaces it.
fn part_may_advance(status: CommentStatus) -> Expression {
    let lower: Vec<CommentStatus> = COMMENT_STATUSES.into_iter().filter(|s| *s < status).collect();
    let mut text = format!("attribute_exists({PARTITION_KEY}) AND (attribute_not_exists(#parts.#token)");
    let mut expression = Expression::default();
    if !lower.is_empty() {
        let placeholders: Vec<String> = (0..lower.len()).map(|n| format!(":lower{n}")).collect();
        text.push_str(&format!(" OR #parts.#token IN ({})", placeholders.join(", ")));
        for (placeholder, status) in placeholders.iter().zip(&lower) {
            expression = expression.value(placeholder, to_value(status));
        }
    }
    text.push(')');
    expression.text = text;
    expression
}

#[async_trait]
impl DeliveryStore for DynamoStore {
    async fn record_part(
        &self,
        integration_id: &IntegrationId,
        message_token: u64,
        part: &PartRef,
    ) -> Result<(), StoreError> {
        let stored = StoredPart {
            task_id: part.task_id.clone(),
            comment_id: part.comment_id.clone(),
        };
        self.put(part_pk(integration_id, message_token), PART_SK, &stored).await
    }

    async fn find_part(
        &self,
        integration_id: &IntegrationId,
        message_token: u64,
    ) -> Result<Option<PartRef>, StoreError> {
        let stored: Option<StoredPart> = self.get(part_pk(integration_id, message_token), PART_SK).await?;
        Ok(stored.map(|s| PartRef {
            task_id: s.task_id,
            comment_id: s.comment_id,
        }))
    }

    /// One conditional update: the condition itself keeps statuses from moving backwards, so
    /// concurrent receipts (e.g. `seen` racing a late `delivered`) need no read or retry.
    async fn advance_part(
        &self,
        part: &PartRef,
        message_token: u64,
        status: CommentStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut update = "SET #parts.#token = :status".to_owned();
        let mut expression = part_may_advance(status)
            .name("#parts", "parts")
            .name("#token", &message_token.to_string())
            .value(":status", to_value(&status));
        if status == CommentStatus::Failed {
            update.push_str(", #reason = :reason");
            expression = expression
                .name("#reason", "status_reason")
                .value(":reason", to_value(&reason));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(task_pk(&part.task_id)))
            .key(SORT_KEY, AttributeValue::S(comment_sk(&part.comment_id)))
            .update_expression(update)
            .condition_expression(&expression.text)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                self.part_not_advanced(part).await
            }
            Err(error) => Err(StoreError::Unavailable(describe(&error))),
        }
    }
}

impl DynamoStore {
    /// After a refused advance: a part already at or past the status is a normal no-op (a
    /// repeated or late receipt); a missing comment is a conflict.
    async fn part_not_advanced(&self, part: &PartRef) -> Result<(), StoreError> {
        let comment: Option<IgnoredAny> = self.get(task_pk(&part.task_id), &comment_sk(&part.comment_id)).await?;
        match comment {
            Some(_) => Ok(()),
            None => Err(Conflict::UnknownComment(part.comment_id.clone()).into()),
        }
    }
}

// ---- Sending staff replies ----

/// The comment item's attribute holding part `index`'s Viber token (`sent_part_0`, …). Flat
/// attributes rather than a map, so the first part needs no map created beforehand and each
/// part's write is one conditional update. `Comment` does not decode them (unknown attributes
/// are ignored); [`crate::ports::ReplyStore::get_reply`] reads them.
const SENT_PART_PREFIX: &str = "sent_part_";

fn sent_part_attribute(index: usize) -> String {
    format!("{SENT_PART_PREFIX}{index}")
}

/// The part tokens among a comment item's attributes.
fn sent_parts_of(item: &Item) -> Result<std::collections::BTreeMap<usize, u64>, StoreError> {
    let mut sent = std::collections::BTreeMap::new();
    for (name, value) in item {
        let Some(index) = name.strip_prefix(SENT_PART_PREFIX) else {
            continue;
        };
        let index: usize = index
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("unexpected attribute {name}")))?;
        let token = value
            .as_n()
            .ok()
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("{name} is not a message token")))?;
        sent.insert(index, token);
    }
    Ok(sent)
}

fn is_conditional_failure<E>(error: &SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError, E>) -> bool {
    error
        .as_service_error()
        .is_some_and(|e| e.is_conditional_check_failed_exception())
}

impl DynamoStore {
    /// `Ok(false)` when a condition refused: the comment is missing, the part has another token,
    /// or (with `complete`) the comment is no longer `queued`.
    async fn transact_sent_part(&self, sent: &crate::ports::SentPart<'_>, complete: bool) -> Result<bool, StoreError> {
        let comment = sent.comment;
        let mut condition =
            format!("attribute_exists({PARTITION_KEY}) AND (attribute_not_exists(#sent) OR #sent = :token)");
        let mut update = "SET #sent = :token, #parts.#token = if_not_exists(#parts.#token, :sent)".to_owned();
        let mut expression = Expression::default()
            .name("#sent", &sent_part_attribute(sent.part_index))
            .name("#parts", "parts")
            .name("#token", &sent.message_token.to_string())
            .value(":token", AttributeValue::N(sent.message_token.to_string()))
            .value(":sent", to_value(&CommentStatus::Sent));
        if complete {
            condition.push_str(" AND #status = :queued");
            update.push_str(", #status = :sent, #reason = :no_reason");
            expression = expression
                .name("#status", "status")
                .name("#reason", "status_reason")
                .value(":queued", to_value(&CommentStatus::Queued))
                .value(":no_reason", AttributeValue::Null(true));
        }
        let comment_update = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(task_pk(&comment.task_id)))
            .key(SORT_KEY, AttributeValue::S(comment_sk(&comment.comment_id)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .build()
            .expect("table, key and expression are set");
        let stored = StoredPart {
            task_id: comment.task_id.clone(),
            comment_id: comment.comment_id.clone(),
        };
        let token_map = to_item(part_pk(sent.integration_id, sent.message_token), PART_SK, &stored)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(comment_update).build())
            .transact_items(self.transact_put(token_map, None))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
                    if cancelled
                        .cancellation_reasons()
                        .iter()
                        .any(is_conditional_check_failure) =>
                {
                    Ok(false)
                }
                _ => Err(StoreError::Unavailable(describe(&error))),
            },
        }
    }

    async fn get_comment_item(&self, comment: &PartRef) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(task_pk(&comment.task_id)))
            .key(SORT_KEY, AttributeValue::S(comment_sk(&comment.comment_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(describe(&e)))?;
        Ok(output.item)
    }

    async fn update_comment(
        &self,
        comment: &PartRef,
        update: &str,
        expression: &Expression,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(task_pk(&comment.task_id)))
            .key(SORT_KEY, AttributeValue::S(comment_sk(&comment.comment_id)))
            .update_expression(update)
            .condition_expression(&expression.text)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if is_conditional_failure(&error) => Ok(false),
            Err(error) => Err(StoreError::Unavailable(describe(&error))),
        }
    }
}

#[async_trait]
impl crate::ports::ReplyStore for DynamoStore {
    async fn get_reply(&self, comment: &PartRef) -> Result<Option<crate::ports::OutgoingReply>, StoreError> {
        let Some(item) = self.get_comment_item(comment).await? else {
            return Ok(None);
        };
        let sent_parts = sent_parts_of(&item)?;
        Ok(Some(crate::ports::OutgoingReply {
            comment: from_item(item)?,
            sent_parts,
        }))
    }

    /// One `TransactWriteItems`: the comment's update and the token map item together, so a part
    /// costs one request and a receipt can never find a token whose comment does not know it.
    async fn record_sent_part(&self, sent: &crate::ports::SentPart<'_>) -> Result<(), StoreError> {
        if sent.completes && self.transact_sent_part(sent, true).await? {
            return Ok(());
        }
        // Not `queued` any more (a concurrent attempt finished it), or the part is contested:
        // record the token alone, and tell which.
        if self.transact_sent_part(sent, false).await? {
            return Ok(());
        }
        let comment = sent.comment;
        match self.get_comment_item(comment).await? {
            None => Err(Conflict::UnknownComment(comment.comment_id.clone()).into()),
            Some(_) => Err(Conflict::PartTokenTaken {
                comment_id: comment.comment_id.clone(),
                part_index: sent.part_index,
            }
            .into()),
        }
    }

    async fn note_waiting(&self, comment: &PartRef, reason: &str) -> Result<(), StoreError> {
        let expression = Expression::new(format!("attribute_exists({PARTITION_KEY}) AND #status = :queued"))
            .name("#status", "status")
            .name("#reason", "status_reason")
            .value(":queued", to_value(&CommentStatus::Queued))
            .value(":reason", AttributeValue::S(reason.to_owned()));
        if self
            .update_comment(comment, "SET #reason = :reason", &expression)
            .await?
        {
            return Ok(());
        }
        self.part_not_advanced(comment).await
    }

    async fn finish_comment(
        &self,
        comment: &PartRef,
        status: CommentStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let lower: Vec<CommentStatus> = COMMENT_STATUSES.into_iter().filter(|s| *s < status).collect();
        if lower.is_empty() {
            return self.part_not_advanced(comment).await;
        }
        let placeholders: Vec<String> = (0..lower.len()).map(|n| format!(":lower{n}")).collect();
        let mut expression = Expression::new(format!(
            "attribute_exists({PARTITION_KEY}) AND #status IN ({})",
            placeholders.join(", ")
        ))
        .name("#status", "status")
        .name("#reason", "status_reason")
        .value(":status", to_value(&status))
        .value(":reason", to_value(&reason));
        for (placeholder, lower) in placeholders.iter().zip(&lower) {
            expression = expression.value(placeholder, to_value(lower));
        }
        if self
            .update_comment(comment, "SET #status = :status, #reason = :reason", &expression)
            .await?
        {
            return Ok(());
        }
        self.part_not_advanced(comment).await
    }
}

// ---- Staff replies, uploads and quick replies ----

#[async_trait]
impl crate::ports::AttachmentStore for DynamoStore {
    async fn put_attachment(&self, attachment: &Attachment) -> Result<(), StoreError> {
        self.put(attachment_pk(&attachment.id), ATTACHMENT_SK, attachment).await
    }
}

#[async_trait]
impl crate::ports::CommentStore for DynamoStore {
    /// One `TransactWriteItems`: a check that the task is live, the comment, and each uploaded
    /// attachment marked available.
    async fn add_staff_comment(&self, comment: &Comment, uploaded: &[AttachmentId]) -> Result<(), StoreError> {
        let task_live = Expression::new(format!("attribute_exists({PARTITION_KEY}) AND #deleted = :false"))
            .name("#deleted", "deleted")
            .value(":false", AttributeValue::Bool(false));
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(task_pk(&comment.task_id)))
            .key(SORT_KEY, AttributeValue::S(TASK_SK.into()))
            .condition_expression(&task_live.text)
            .set_expression_attribute_names(task_live.names())
            .set_expression_attribute_values(task_live.values())
            .build()
            .expect("table, key and condition are set");
        let mut conflicts = vec![
            Conflict::TaskGone(comment.task_id.clone()),
            Conflict::AlreadyExists(Record::Comment(comment.id.clone())),
        ];
        let mut items = vec![
            TransactWriteItem::builder().condition_check(check).build(),
            self.transact_put(comment_item(comment)?, Some(item_absent())),
        ];
        for id in uploaded {
            let exists = Expression::new(format!("attribute_exists({PARTITION_KEY})"))
                .name("#available", "available")
                .name("#reason", "unavailable_reason")
                .value(":true", AttributeValue::Bool(true))
                .value(":none", AttributeValue::Null(true));
            let update = Update::builder()
                .table_name(&self.table)
                .key(PARTITION_KEY, AttributeValue::S(attachment_pk(id)))
                .key(SORT_KEY, AttributeValue::S(ATTACHMENT_SK.into()))
                .update_expression("SET #available = :true, #reason = :none")
                .condition_expression(&exists.text)
                .set_expression_attribute_names(exists.names())
                .set_expression_attribute_values(exists.values())
                .build()
                .expect("table, key and expression are set");
            conflicts.push(Conflict::UnknownAttachment(id.clone()));
            items.push(TransactWriteItem::builder().update(update).build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let Err(error) = result else {
            return Ok(());
        };
        let reasons = match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled.cancellation_reasons(),
            _ => return Err(StoreError::Unavailable(describe(&error))),
        };
        match reasons
            .iter()
            .zip(conflicts)
            .find(|(reason, _)| is_conditional_check_failure(reason))
        {
            Some((_, conflict)) => Err(conflict.into()),
            None => Err(StoreError::Unavailable(describe(&error))),
        }
    }
}

fn quick_reply_item(reply: &QuickReply) -> Result<Item, StoreError> {
    let mut item = to_item(quick_reply_pk(&reply.id), QUICK_REPLY_SK, reply)?;
    item.insert(
        KIND_INDEX.partition_key.into(),
        AttributeValue::S(ALL_QUICK_REPLIES.into()),
    );
    item.insert(
        RECENCY_KEY.into(),
        AttributeValue::S(recency_key(reply.created_at, reply.id.as_str())),
    );
    Ok(item)
}

#[async_trait]
impl crate::ports::QuickReplyStore for DynamoStore {
    async fn list_quick_replies(&self, page: &PageRequest) -> Result<Page<QuickReply>, StoreError> {
        let query = self.recent_query(&KIND_INDEX, ALL_QUICK_REPLIES.to_owned(), page.cursor.as_deref())?;
        self.page(query, None, page, RECENCY_KEY, false).await
    }

    async fn get_quick_reply(&self, id: &QuickReplyId) -> Result<Option<QuickReply>, StoreError> {
        self.get(quick_reply_pk(id), QUICK_REPLY_SK).await
    }

    async fn put_quick_reply(&self, reply: &QuickReply) -> Result<(), StoreError> {
        self.put_item(quick_reply_item(reply)?).await
    }

    async fn delete_quick_reply(&self, id: &QuickReplyId) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(quick_reply_pk(id)))
            .key(SORT_KEY, AttributeValue::S(QUICK_REPLY_SK.into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(describe(&e)))?;
        Ok(output.attributes.is_some_and(|old| !old.is_empty()))
    }
}
