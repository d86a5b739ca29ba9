//! A client message: one `TransactWriteItems` over the dedup marker, the contact, the task, the
//! comment and its attachments (docs/data-model.md, "A client message").

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::Serialize;

use super::comments::comment_item;
use super::contacts::{contact_item, contact_version_is};
use super::keys::Key;
use super::tasks::{AppendShown, task_item};
use super::writes::item_absent;
use super::{DynamoStore, Item, to_item};
use crate::aws::schema::EXPIRES_AT;
use crate::ids::{CommentId, TaskId};
use crate::ports::{Conflict, MessageStore, MessageWrite, Record, StoreError, TaskWrite, WriteOutcome};
use crate::time::Timestamp;

/// How long an inbound dedup marker is kept: longer than any path a callback can come back by
/// (Viber re-sends for an hour; SQS keeps a message up to 14 days, and a DLQ redrive up to 14
/// more). DynamoDB's TTL deletes it afterwards, so markers do not pile up forever.
const DEDUP_MARKER_LIFETIME_SECONDS: i64 = 30 * 24 * 3600;

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
    let mut item = to_item(Key::inbound(&write.dedup_key), &marker)?;
    let expires_at = Timestamp::now().millis() / 1000 + DEDUP_MARKER_LIFETIME_SECONDS;
    item.insert(EXPIRES_AT.into(), AttributeValue::N(expires_at.to_string()));
    Ok(item)
}

/// The position of the dedup marker in the transaction: first, so its cancellation reason tells
/// a re-delivery from a real conflict.
const MARKER: usize = 0;

impl DynamoStore {
    /// The transaction's items, each with the conflict a refusal of its condition means (none
    /// for the marker, whose refusal means "applied before", and the attachments, which have no
    /// condition). Cancellation reasons follow this order.
    fn message_items(&self, write: &MessageWrite) -> Result<Vec<(Option<Conflict>, TransactWriteItem)>, StoreError> {
        let absent = item_absent();
        let task = match &write.task {
            TaskWrite::Create(task) => (
                Conflict::AlreadyExists(Record::Task(task.id.clone())),
                self.put_op(task_item(task)?, Some(&absent)),
            ),
            TaskWrite::Append {
                task_id,
                last_message_at,
                require_active,
                last_message,
                requester_name,
                requester_avatar,
            } => (
                Conflict::TaskChanged(task_id.clone()),
                self.append_op(
                    task_id,
                    *last_message_at,
                    *require_active,
                    AppendShown {
                        last_message: last_message.as_ref(),
                        requester_name: requester_name.as_deref(),
                        requester_avatar: requester_avatar.as_deref(),
                    },
                ),
            ),
        };
        let mut items = vec![
            (None, self.put_op(inbound_marker(write)?, Some(&absent))),
            (
                Some(Conflict::ContactChanged(write.contact.id.clone())),
                self.put_op(
                    contact_item(&write.contact)?,
                    Some(&contact_version_is(write.expected_contact_version)),
                ),
            ),
            (Some(task.0), task.1),
            (
                Some(Conflict::AlreadyExists(Record::Comment(write.comment.id.clone()))),
                self.put_op(comment_item(&write.comment)?, Some(&absent)),
            ),
        ];
        // A new contact's labels (from its bot's contact template) are indexed with it; a known
        // contact's entries are left as they are (docs/data-model.md, "A client message").
        if write.expected_contact_version.is_none() {
            for op in self.label_entry_ops(&write.contact, &write.contact.labels) {
                items.push((None, op));
            }
        }
        // A Viber message carries at most one media file, far from the 100-item limit; the
        // comment text (≤ 7000 characters) keeps the request far below 4 MB.
        for attachment in &write.attachments {
            items.push((None, self.attachment_op(attachment)?));
        }
        Ok(items)
    }
}

#[async_trait]
impl MessageStore for DynamoStore {
    /// Cancelled: the marker's condition failed → the message was applied before; another
    /// condition failed → the state read changed; anything else → retry later.
    async fn apply_message(&self, write: &MessageWrite) -> Result<WriteOutcome, StoreError> {
        let (conflicts, items): (Vec<Option<Conflict>>, Vec<TransactWriteItem>) =
            self.message_items(write)?.into_iter().unzip();
        match self.transact(items).await? {
            Ok(()) => Ok(WriteOutcome::Applied),
            Err(refused) if refused.failed(MARKER) => Ok(WriteOutcome::Duplicate),
            Err(refused) => Err(refused
                .conflict(&conflicts)
                .expect("only the marker and conditional items are refused")
                .into()),
        }
    }
}
