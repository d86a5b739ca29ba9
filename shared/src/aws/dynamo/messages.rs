//! A client message (docs/data-model.md, "A client message"). The comment's id is derived from
//! the message, so the comment is its own idempotency check: a write that finds it is a
//! duplicate.
//!
//! The common case, a text joining the contact's current task with the contact unchanged, is
//! two single-item writes, no transaction: the task's append, conditional on the task still
//! taking messages and on no client message as new being applied to it yet ([`LAST_INBOUND`]),
//! then the comment, conditional on its absence. A re-delivery finds the task's mark and goes the
//! transactional way, which tells a duplicate (the comment exists) from a write cut short between
//! the two (it does not). A message joining a task otherwise (a changed contact, an attachment,
//! earlier tasks to check) is one `TransactWriteItems`.
//!
//! A message opening a task is single-item writes too, in an order that makes every prefix of
//! them safe to resume: the task's id is derived from the message, and the contact's write,
//! pointing at it, is the commit point (see [`DynamoStore::open_task`]).
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::DynamoStore;
use super::comments::comment_item;
use super::contacts::{contact_item, contact_version_is};
use super::keys::Key;
use super::tasks::{AppendShown, LAST_INBOUND, task_item};
use super::writes::item_absent;
use crate::ids::CommentId;
use crate::model::Task;
use crate::ports::{
    AttachmentStore, Conflict, ContactStore, MessageStore, MessageWrite, StoreError, TaskWrite, WriteOutcome,
};

/// What a refusal of a transaction item's condition means.
enum Refusal {
    /// The message was applied before: its comment exists.
    Duplicate,
    /// The task append's condition: the task changed, or (when it also required the message
    /// to be the task's newest) an as new client message was applied to it.
    Append,
    Conflict(Conflict),
}

impl DynamoStore {
    /// The transaction of a message joining a task: its items, each with what a refusal of its
    /// condition means (attachments have none), in the order refusals are read. With `newest`,
    /// the task append also requires and records the comment as the task's newest client
    /// message.
    fn message_items(
        &self,
        write: &MessageWrite,
        newest: bool,
    ) -> Result<Vec<(Option<Refusal>, TransactWriteItem)>, StoreError> {
        let absent = item_absent();
        let mut items = Vec::new();
        for task_id in &write.earlier_tasks {
            items.push((
                Some(Refusal::Duplicate),
                self.check_op(Key::comment(task_id, &write.comment.id), &absent),
            ));
        }
        // The duplicate checks first: a refusal reports the first refused item, and a duplicate
        // is the answer whatever else changed since.
        items.push((
            Some(Refusal::Duplicate),
            self.put_op(comment_item(&write.comment)?, Some(&absent)),
        ));
        if let Some(contact) = &write.contact {
            items.push((
                Some(Refusal::Conflict(Conflict::ContactChanged(contact.id.clone()))),
                self.put_op(
                    contact_item(contact)?,
                    Some(&contact_version_is(write.expected_contact_version)),
                ),
            ));
            // A known contact (a new one opens a task): its label entries are left as they are
            // (docs/data-model.md, "A client message").
        }
        let (update, expression) =
            append_update(write, newest.then_some(&write.comment.id)).expect("the task write is an append");
        let TaskWrite::Append { task_id, .. } = &write.task else {
            unreachable!("a message opening a task is no transaction");
        };
        items.push((
            Some(Refusal::Append),
            self.update_op(Key::task(task_id), &update, &expression),
        ));
        // A Viber message carries at most one media file, far from the 100-item limit; the
        // comment text (≤ 7000 characters) keeps the request far below 4 MB.
        for attachment in &write.attachments {
            items.push((None, self.attachment_op(attachment)?));
        }
        Ok(items)
    }

    /// The message in one transaction: first requiring it to be its task's newest client
    /// message (so the mark moves on); when an as new one was applied (an older message, or
    /// this one cut short between its two writes), again without that condition.
    async fn apply_in_transaction(&self, write: &MessageWrite) -> Result<WriteOutcome, StoreError> {
        for newest in [true, false] {
            let (refusals, items): (Vec<Option<Refusal>>, Vec<TransactWriteItem>) =
                self.message_items(write, newest)?.into_iter().unzip();
            let refused = match self.transact(items).await? {
                Ok(()) => return Ok(WriteOutcome::Applied),
                Err(refused) => refused,
            };
            let first = refusals
                .into_iter()
                .enumerate()
                .find_map(|(n, refusal)| refusal.filter(|_| refused.failed(n)))
                .expect("only conditional items are refused");
            match first {
                Refusal::Duplicate => return Ok(WriteOutcome::Duplicate),
                Refusal::Conflict(conflict) => return Err(conflict.into()),
                Refusal::Append if newest => {}
                Refusal::Append => break,
            }
        }
        let TaskWrite::Append { task_id, .. } = &write.task else {
            unreachable!("only an append is refused as one");
        };
        Err(Conflict::TaskChanged(task_id.clone()).into())
    }

    /// A message opening `task`, whose id is derived from the message, in single-item writes
    /// (docs/data-model.md, "A client message", has the table):
    /// 0. the duplicate checks, a strongly consistent read of the comment's key in each earlier
    ///    task: found, the message was applied there;
    /// 1. the attachments (their ids derived from the message too: writing one again changes
    ///    nothing);
    /// 2. the commit point: the contact, pointing at the new task, under its optimistic lock
    ///    (with a new contact's label entries, as `put_contact` does); refused, it changed
    ///    since it was read and the message is decided again (unless its comment exists: a
    ///    duplicate). A delivery resuming a message cut short after this write usually has no
    ///    contact change to make;
    /// 3. the task, if absent: present, an earlier delivery of this message wrote it;
    /// 4. the comment, if absent: present, the message was applied before.
    ///
    /// A crash between any two leaves the contact either as it was (nothing seen: the next
    /// delivery decides afresh) or pointing at a task derived from this message, which its next
    /// delivery finishes (`rules::route_inbound`); no other message writes the client's task
    /// meanwhile, its queue group waiting for this one.
    async fn open_task(&self, write: &MessageWrite, task: &Task) -> Result<WriteOutcome, StoreError> {
        for task_id in &write.earlier_tasks {
            if self.get_item(Key::comment(task_id, &write.comment.id)).await?.is_some() {
                return Ok(WriteOutcome::Duplicate);
            }
        }
        for attachment in &write.attachments {
            self.put_attachment(attachment).await?;
        }
        if let Some(contact) = &write.contact
            && let Err(refused) = self.put_contact(contact, write.expected_contact_version).await
        {
            // The same message applied before (the same write again) is a duplicate whatever
            // else changed since; refused otherwise, the contact changed.
            let applied = matches!(refused, StoreError::Conflict(_))
                && self
                    .get_item(Key::comment(&task.id, &write.comment.id))
                    .await?
                    .is_some();
            return if applied {
                Ok(WriteOutcome::Duplicate)
            } else {
                Err(refused)
            };
        }
        let mut item = task_item(task)?;
        item.insert(LAST_INBOUND.to_owned(), AttributeValue::S(write.comment.id.to_string()));
        self.put_if(item, &item_absent()).await?;
        if self.put_if(comment_item(&write.comment)?, &item_absent()).await? {
            Ok(WriteOutcome::Applied)
        } else {
            Ok(WriteOutcome::Duplicate)
        }
    }

    /// The common case without a transaction: the task's append as the newest client message,
    /// then the comment. Anything else the append's refusal may mean is sorted out by the
    /// transaction.
    async fn append_alone(&self, write: &MessageWrite, task_key: Key) -> Result<WriteOutcome, StoreError> {
        let (update, expression) = append_update(write, Some(&write.comment.id)).expect("the task write is an append");
        if !self.update_if(task_key, &update, &expression).await? {
            return self.apply_in_transaction(write).await;
        }
        if self.put_if(comment_item(&write.comment)?, &item_absent()).await? {
            Ok(WriteOutcome::Applied)
        } else {
            // Only a comment written before tasks carried their newest client message's mark.
            Ok(WriteOutcome::Duplicate)
        }
    }
}

/// The task append of `write` (`None` when it creates its task).
fn append_update(write: &MessageWrite, newest: Option<&CommentId>) -> Option<(String, super::writes::Expression)> {
    let TaskWrite::Append {
        task_id,
        last_message_at,
        require_active,
        last_message,
        requester_name,
        requester_avatar,
    } = &write.task
    else {
        return None;
    };
    Some(DynamoStore::append_update(
        task_id,
        *last_message_at,
        *require_active,
        AppendShown {
            last_message: last_message.as_ref(),
            requester_name: requester_name.as_deref(),
            requester_avatar: requester_avatar.as_deref(),
        },
        newest,
    ))
}

#[async_trait]
impl MessageStore for DynamoStore {
    /// A duplicate when the message's comment exists; `Conflict` when the contact or the task
    /// changed since they were read; anything else: retry later.
    async fn apply_message(&self, write: &MessageWrite) -> Result<WriteOutcome, StoreError> {
        match &write.task {
            TaskWrite::Create(task) => self.open_task(write, task).await,
            TaskWrite::Append { task_id, .. }
                if write.contact.is_none() && write.earlier_tasks.is_empty() && write.attachments.is_empty() =>
            {
                self.append_alone(write, Key::task(task_id)).await
            }
            _ => self.apply_in_transaction(write).await,
        }
    }
}
