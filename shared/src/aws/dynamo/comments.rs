//! Comments, in their task's partition: a task's conversation, staff comments, and the parts of a
//! staff reply (each Viber message it was sent as): their tokens, recorded as Viber accepts them
//! with the token map item that leads receipts back, and their delivery statuses.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::keys::{COMMENT_PREFIX, Key, task_partition};
use super::tasks::task_is_live;
use super::writes::{Expression, item_absent, item_exists};
use super::{DynamoStore, Item, from_item, to_item, to_value};
use crate::aws::schema::{EXPIRES_AT, PARTITION_KEY, SORT_KEY};
use crate::ids::{AttachmentId, CommentId, IdempotencyKey, IntegrationId, StaffId, TaskId};
use crate::model::{Comment, CommentStatus};
use crate::ports::{
    CommentStore, Conflict, DeliveryStore, KeyedReply, OutgoingReply, Page, PageRequest, PartRef, Record, ReplyStore,
    SentPart, StoreError, decode_cursor,
};
use crate::time::Timestamp;

pub(super) fn comment_item(comment: &Comment) -> Result<Item, StoreError> {
    to_item(Key::comment(&comment.task_id, &comment.id), comment)
}

/// The token map item: which comment a sent Viber message belongs to.
#[derive(Serialize, Deserialize)]
struct StoredPart {
    task_id: TaskId,
    comment_id: CommentId,
}

fn token_map_item(integration_id: &IntegrationId, message_token: u64, part: &PartRef) -> Result<Item, StoreError> {
    let stored = StoredPart {
        task_id: part.task_id.clone(),
        comment_id: part.comment_id.clone(),
    };
    to_item(Key::sent_message(integration_id, message_token), &stored)
}

/// A reply key's item: the comment it made. `expires_at` is in epoch seconds, the table's TTL
/// attribute.
#[derive(Serialize, Deserialize)]
struct StoredReplyKey {
    task_id: TaskId,
    comment_id: CommentId,
    request_hash: String,
    expires_at: i64,
}

fn reply_key_item(keyed: &KeyedReply) -> Result<Item, StoreError> {
    let stored = StoredReplyKey {
        task_id: keyed.task_id.clone(),
        comment_id: keyed.comment_id.clone(),
        request_hash: keyed.request_hash.clone(),
        expires_at: keyed.expires_at.millis().div_euclid(1000),
    };
    to_item(Key::reply_key(&keyed.staff_id, &keyed.key), &stored)
}

/// No reply key is remembered: none was written, or it expired (TTL deletes an expired item
/// only some time later).
fn reply_key_free(now: Timestamp) -> Expression {
    item_absent()
        .or("#expires_at <= :now")
        .name("#expires_at", EXPIRES_AT)
        .value(":now", AttributeValue::N(now.millis().div_euclid(1000).to_string()))
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

/// Adds the statuses below `status` to `expression` as `:lower0`, `:lower1`, …; returns their
/// placeholder list for `IN (…)`, `None` when no status is below.
fn with_lower_statuses(mut expression: Expression, status: CommentStatus) -> (Expression, Option<String>) {
    let mut placeholders = Vec::new();
    for (n, lower) in COMMENT_STATUSES.iter().filter(|s| **s < status).enumerate() {
        let placeholder = format!(":lower{n}");
        expression = expression.value(&placeholder, to_value(lower));
        placeholders.push(placeholder);
    }
    let list = (!placeholders.is_empty()).then(|| placeholders.join(", "));
    (expression, list)
}

/// The condition under which a part may take `status`: the comment exists and the part is
/// unknown or at a lower status. `failed` is the greatest status, so nothing replaces it.
fn part_may_advance(status: CommentStatus) -> Expression {
    let (expression, lower) = with_lower_statuses(item_exists(), status);
    expression.and(&match lower {
        Some(lower) => format!("(attribute_not_exists(#parts.#token) OR #parts.#token IN ({lower}))"),
        None => "(attribute_not_exists(#parts.#token))".to_owned(),
    })
}

/// The comment item's attribute holding part `index`'s Viber token (`sent_part_0`, …). Flat
/// attributes rather than a map, so the first part needs no map created beforehand and each
/// part's write is one conditional update. `Comment` does not decode them (unknown attributes
/// are ignored); [`ReplyStore::get_reply`] reads them.
const SENT_PART_PREFIX: &str = "sent_part_";

fn sent_part_attribute(index: usize) -> String {
    format!("{SENT_PART_PREFIX}{index}")
}

/// The part tokens among a comment item's attributes.
fn sent_parts_of(item: &Item) -> Result<BTreeMap<usize, u64>, StoreError> {
    let mut sent = BTreeMap::new();
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

impl DynamoStore {
    /// A task's comments, oldest first (comment ids sort by time); the cursor is the last one's
    /// sort key.
    pub(super) async fn comments_of(&self, task_id: &TaskId, page: &PageRequest) -> Result<Page<Comment>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", AttributeValue::S(task_partition(task_id)))
            .expression_attribute_values(":prefix", AttributeValue::S(COMMENT_PREFIX.into()))
            .scan_index_forward(true);
        let start = match page.cursor.as_deref().map(decode_cursor).transpose()? {
            Some(sort_key) => Some(
                Key::comment_at(task_id, sort_key)
                    .ok_or(StoreError::InvalidCursor)?
                    .into_item(),
            ),
            None => None,
        };
        self.page(query, start, page, SORT_KEY, false).await
    }

    /// After a refused status change: a comment already at or past the status is a normal no-op
    /// (a repeated or late receipt); a missing comment is a conflict.
    async fn status_not_moved(&self, part: &PartRef) -> Result<(), StoreError> {
        let comment: Option<IgnoredAny> = self.get(Key::comment(&part.task_id, &part.comment_id)).await?;
        match comment {
            Some(_) => Ok(()),
            None => Err(Conflict::UnknownComment(part.comment_id.clone()).into()),
        }
    }

    /// Records a sent part in one transaction: the comment's update and the token map item
    /// together. `Ok(false)` when a condition refused: the comment is missing, the part has
    /// another token, or (with `complete`) the comment is no longer `queued`.
    async fn transact_sent_part(&self, sent: &SentPart<'_>, complete: bool) -> Result<bool, StoreError> {
        let comment = sent.comment;
        let mut update = "SET #sent = :token, #parts.#token = if_not_exists(#parts.#token, :sent)".to_owned();
        let mut expression = item_exists()
            .and("(attribute_not_exists(#sent) OR #sent = :token)")
            .name("#sent", &sent_part_attribute(sent.part_index))
            .name("#parts", "parts")
            .name("#token", &sent.message_token.to_string())
            .value(":token", AttributeValue::N(sent.message_token.to_string()))
            .value(":sent", to_value(&CommentStatus::Sent));
        if complete {
            update.push_str(", #status = :sent, #reason = :no_reason");
            expression = expression
                .and("#status = :queued")
                .name("#status", "status")
                .name("#reason", "status_reason")
                .value(":queued", to_value(&CommentStatus::Queued))
                .value(":no_reason", AttributeValue::Null(true));
        }
        let items = vec![
            self.update_op(
                Key::comment(&comment.task_id, &comment.comment_id),
                &update,
                &expression,
            ),
            self.put_op(token_map_item(sent.integration_id, sent.message_token, comment)?, None),
        ];
        Ok(self.transact(items).await?.is_ok())
    }

    /// Sets what `update` says on a comment if `expression`'s condition holds, else tells a
    /// comment that is past it already (fine) from a missing one.
    async fn update_status(&self, comment: &PartRef, update: &str, expression: &Expression) -> Result<(), StoreError> {
        let key = Key::comment(&comment.task_id, &comment.comment_id);
        if self.update_if(key, update, expression).await? {
            return Ok(());
        }
        self.status_not_moved(comment).await
    }
}

#[async_trait]
impl CommentStore for DynamoStore {
    /// One `TransactWriteItems`: a check that the task is live, the comment, the reply key if
    /// there is one, and each uploaded attachment marked available.
    async fn add_staff_comment(
        &self,
        comment: &Comment,
        uploaded: &[AttachmentId],
        keyed: Option<&KeyedReply>,
    ) -> Result<(), StoreError> {
        let mut conflicts = vec![
            Some(Conflict::TaskGone(comment.task_id.clone())),
            Some(Conflict::AlreadyExists(Record::Comment(comment.id.clone()))),
        ];
        let mut items = vec![
            self.check_op(Key::task(&comment.task_id), &task_is_live()),
            self.put_op(comment_item(comment)?, Some(&item_absent())),
        ];
        if let Some(keyed) = keyed {
            conflicts.push(Some(Conflict::AlreadyExists(Record::ReplyKey(keyed.key.clone()))));
            items.push(self.put_op(reply_key_item(keyed)?, Some(&reply_key_free(Timestamp::now()))));
        }
        for id in uploaded {
            conflicts.push(Some(Conflict::UnknownAttachment(id.clone())));
            items.push(self.mark_available_op(id));
        }
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(refused) => Err(refused.conflict(&conflicts).expect("every item has a condition").into()),
        }
    }

    async fn keyed_reply(&self, staff: &StaffId, key: &IdempotencyKey) -> Result<Option<KeyedReply>, StoreError> {
        let Some(stored) = self.get::<StoredReplyKey>(Key::reply_key(staff, key)).await? else {
            return Ok(None);
        };
        let expires_at = Timestamp::from_millis(stored.expires_at.saturating_mul(1000));
        if expires_at <= Timestamp::now() {
            return Ok(None);
        }
        Ok(Some(KeyedReply {
            staff_id: staff.clone(),
            key: key.clone(),
            task_id: stored.task_id,
            comment_id: stored.comment_id,
            request_hash: stored.request_hash,
            expires_at,
        }))
    }

    async fn get_comment(&self, task_id: &TaskId, id: &CommentId) -> Result<Option<Comment>, StoreError> {
        self.get(Key::comment(task_id, id)).await
    }
}

#[async_trait]
impl DeliveryStore for DynamoStore {
    async fn record_part(
        &self,
        integration_id: &IntegrationId,
        message_token: u64,
        part: &PartRef,
    ) -> Result<(), StoreError> {
        self.put_item(token_map_item(integration_id, message_token, part)?)
            .await
    }

    async fn find_part(
        &self,
        integration_id: &IntegrationId,
        message_token: u64,
    ) -> Result<Option<PartRef>, StoreError> {
        let stored: Option<StoredPart> = self.get(Key::sent_message(integration_id, message_token)).await?;
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
        self.update_status(part, &update, &expression).await
    }
}

#[async_trait]
impl ReplyStore for DynamoStore {
    async fn get_reply(&self, comment: &PartRef) -> Result<Option<OutgoingReply>, StoreError> {
        let Some(item) = self
            .get_item(Key::comment(&comment.task_id, &comment.comment_id))
            .await?
        else {
            return Ok(None);
        };
        let sent_parts = sent_parts_of(&item)?;
        Ok(Some(OutgoingReply {
            comment: from_item(item)?,
            sent_parts,
        }))
    }

    /// One `TransactWriteItems`: the comment's update and the token map item together, so a part
    /// costs one request and a receipt can never find a token whose comment does not know it.
    async fn record_sent_part(&self, sent: &SentPart<'_>) -> Result<(), StoreError> {
        if sent.completes && self.transact_sent_part(sent, true).await? {
            return Ok(());
        }
        // Not `queued` any more (a concurrent attempt finished it), or the part is contested:
        // record the token alone, and tell which.
        if self.transact_sent_part(sent, false).await? {
            return Ok(());
        }
        let comment = sent.comment;
        let stored: Option<IgnoredAny> = self.get(Key::comment(&comment.task_id, &comment.comment_id)).await?;
        Err(match stored {
            None => Conflict::UnknownComment(comment.comment_id.clone()),
            Some(_) => Conflict::PartTokenTaken {
                comment_id: comment.comment_id.clone(),
                part_index: sent.part_index,
            },
        }
        .into())
    }

    async fn note_waiting(&self, comment: &PartRef, reason: &str) -> Result<(), StoreError> {
        let expression = item_exists()
            .and("#status = :queued")
            .name("#status", "status")
            .name("#reason", "status_reason")
            .value(":queued", to_value(&CommentStatus::Queued))
            .value(":reason", AttributeValue::S(reason.to_owned()));
        self.update_status(comment, "SET #reason = :reason", &expression).await
    }

    async fn finish_comment(
        &self,
        comment: &PartRef,
        status: CommentStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let expression = item_exists()
            .name("#status", "status")
            .name("#reason", "status_reason")
            .value(":status", to_value(&status))
            .value(":reason", to_value(&reason));
        let (expression, Some(lower)) = with_lower_statuses(expression, status) else {
            return self.status_not_moved(comment).await;
        };
        let expression = expression.and(&format!("#status IN ({lower})"));
        self.update_status(comment, "SET #status = :status, #reason = :reason", &expression)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_may_move_up_from_any_lower_status_and_nothing_replaces_failed() {
        let delivered = part_may_advance(CommentStatus::Delivered);
        assert_eq!(
            delivered.text,
            "attribute_exists(pk) AND (attribute_not_exists(#parts.#token) OR #parts.#token IN (:lower0, :lower1, :lower2, :lower3))"
        );
        let values = delivered.values().unwrap();
        assert_eq!(values.len(), 4);
        assert_eq!(values[":lower3"], to_value(&CommentStatus::Sent));
        let failed = part_may_advance(CommentStatus::Failed);
        assert_eq!(failed.values().unwrap().len(), 6, "every status but failed itself");
        let first = part_may_advance(CommentStatus::Received);
        assert_eq!(
            first.text,
            "attribute_exists(pk) AND (attribute_not_exists(#parts.#token))"
        );
        assert_eq!(first.values(), None);
    }

    #[test]
    fn sent_parts_are_read_from_their_attributes() {
        let item = Item::from([
            ("sent_part_0".to_owned(), AttributeValue::N("111".into())),
            ("sent_part_2".to_owned(), AttributeValue::N("333".into())),
            ("status".to_owned(), AttributeValue::S("sent".into())),
        ]);
        assert_eq!(sent_parts_of(&item).unwrap(), BTreeMap::from([(0, 111), (2, 333)]));
        assert_eq!(sent_part_attribute(2), "sent_part_2");
    }

    #[test]
    fn a_sent_part_that_is_no_token_is_corrupt() {
        for (name, value) in [
            ("sent_part_x", AttributeValue::N("1".into())),
            ("sent_part_0", AttributeValue::S("1".into())),
            ("sent_part_0", AttributeValue::N("-1".into())),
        ] {
            let item = Item::from([(name.to_owned(), value)]);
            assert!(matches!(sent_parts_of(&item), Err(StoreError::Corrupt(_))), "{item:?}");
        }
    }
}
