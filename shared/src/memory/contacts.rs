//! Contacts, written under an optimistic lock on `version`.

use async_trait::async_trait;

use super::{MemoryStore, Order, StoreState, page_by_recency};
use crate::ids::ContactId;
use crate::model::{Contact, Task, TaskState};
use crate::ports::{Conflict, ContactStore, Page, PageRequest, StoreError};

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
