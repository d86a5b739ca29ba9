//! Contacts: one item each, written under an optimistic lock on `version` (the processor reads,
//! decides and writes; a concurrent change makes it decide again).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::keys::{Key, List, Listing};
use super::writes::{Expression, item_absent};
use super::{DynamoStore, Item, Order, listed_item, to_value};
use crate::ids::ContactId;
use crate::model::{Contact, Task, TaskState};
use crate::ports::{Conflict, ContactStore, Page, PageRequest, StoreError};

/// A contact item, listed in `gsi1` `CONTACTS` by its last update.
pub(super) fn contact_item(contact: &Contact) -> Result<Item, StoreError> {
    listed_item(Key::contact(&contact.id), contact, Listing::contact(contact))
}

/// The contact's optimistic lock: absent when `None` was read, else still at the version read.
pub(super) fn contact_version_is(expected: Option<u64>) -> Expression {
    match expected {
        None => item_absent(),
        Some(version) => Expression::new("#version = :expected_version")
            .name("#version", "version")
            .value(":expected_version", AttributeValue::N(version.to_string())),
    }
}

impl DynamoStore {
    /// The requester's routing state follows a task staff changed, in the same transaction, when
    /// the task is their current one; conditional on the contact's version (the processor's
    /// optimistic lock), which it moves on.
    pub(super) fn contact_follows_task(&self, contact: Option<&Contact>, task: &Task) -> Option<TransactWriteItem> {
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
        Some(self.update_op(
            Key::contact(&contact.id),
            "SET #current.#state = :state, #version = :next",
            &expression,
        ))
    }
}

#[async_trait]
impl ContactStore for DynamoStore {
    async fn get_contact(&self, id: &ContactId) -> Result<Option<Contact>, StoreError> {
        self.get(Key::contact(id)).await
    }

    async fn put_contact(&self, contact: &Contact, expected_version: Option<u64>) -> Result<(), StoreError> {
        if self
            .put_if(contact_item(contact)?, &contact_version_is(expected_version))
            .await?
        {
            Ok(())
        } else {
            Err(Conflict::ContactChanged(contact.id.clone()).into())
        }
    }

    async fn list_contacts(&self, page: &PageRequest) -> Result<Page<Contact>, StoreError> {
        self.list(&List::contacts(), Order::NewestFirst, page).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_contact_must_be_absent_a_known_one_at_the_version_read() {
        assert_eq!(contact_version_is(None).text, "attribute_not_exists(pk)");
        let known = contact_version_is(Some(4));
        assert_eq!(known.text, "#version = :expected_version");
        assert_eq!(
            known.values().unwrap()[":expected_version"],
            AttributeValue::N("4".into())
        );
    }
}
