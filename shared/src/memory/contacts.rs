//! Contacts, written under an optimistic lock on `version`.

use async_trait::async_trait;

use super::{MemoryStore, Order, StoreState, page_by_recency, page_of};
use crate::ids::ContactId;
use crate::model::{Contact, Task, TaskState};
use crate::ports::{
    Conflict, ContactAdmin, ContactChange, ContactFilter, ContactStore, Page, PageRequest, StoreError, recency_key,
};
use crate::time::Timestamp;

/// The optimistic lock: the stored version is the one read (`None`: no contact yet).
pub(super) fn version_matches(stored: Option<&Contact>, expected: Option<u64>) -> bool {
    stored.map(|c| c.version) == expected
}

impl StoreState {
    /// The requester's routing state follows a task staff changed, when the task is their
    /// current one; the version moves on, as the DynamoDB adapter's does.
    pub(super) fn contact_follows_task(&mut self, task: &Task) {
        if let Some(contact) = self.contacts.get_mut(&task.requester_id)
            && let Some(current) = contact.current_task.as_mut()
            && current.id == task.id
        {
            current.state = TaskState::of(task.status, task.deleted);
            contact.version += 1;
        }
    }
}

#[async_trait]
impl ContactStore for MemoryStore {
    async fn get_contact(&self, id: &ContactId) -> Result<Option<Contact>, StoreError> {
        Ok(self.state().contacts.get(id).cloned())
    }

    async fn put_contact(&self, contact: &Contact, expected_version: Option<u64>) -> Result<(), StoreError> {
        let mut state = self.state();
        if !version_matches(state.contacts.get(&contact.id), expected_version) {
            return Err(Conflict::ContactChanged(contact.id.clone()).into());
        }
        state.contacts.insert(contact.id.clone(), contact.clone());
        Ok(())
    }

    async fn list_contacts(&self, page: &PageRequest) -> Result<Page<Contact>, StoreError> {
        page_by_recency(self.state().contacts.values(), Order::NewestFirst, page)
    }
}

#[async_trait]
impl ContactAdmin for MemoryStore {
    /// Newest first by creation, as the DynamoDB adapter's group and label index sorts them.
    async fn list_contacts_by(&self, filter: &ContactFilter, page: &PageRequest) -> Result<Page<Contact>, StoreError> {
        if filter == &ContactFilter::default() {
            return self.list_contacts(page).await;
        }
        let matching = self
            .state()
            .contacts
            .values()
            .filter(|contact| filter.matches(contact))
            .map(|contact| (recency_key(contact.created_at, contact.id.as_str()), contact.clone()))
            .collect();
        page_of(matching, Order::NewestFirst, page)
    }

    async fn update_contact(
        &self,
        id: &ContactId,
        change: &ContactChange,
        at: Timestamp,
    ) -> Result<Option<Contact>, StoreError> {
        let mut state = self.state();
        let Some(contact) = state.contacts.get_mut(id) else {
            return Ok(None);
        };
        change.apply(contact);
        contact.updated_at = at;
        contact.version += 1;
        Ok(Some(contact.clone()))
    }
}
