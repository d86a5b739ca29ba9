//! Contacts, written under an optimistic lock on `version`.

use async_trait::async_trait;

use super::{MemoryStore, StoreState};
use crate::ids::ContactId;
use crate::model::{Contact, StoredAvatar, Task, TaskState};
use crate::ports::{
    Conflict, ContactAdmin, ContactChange, ContactFilter, ContactStore, Page, PageRequest, StoreError, decode_cursor,
    encode_cursor, recency_key,
};
use crate::time::Timestamp;

/// The optimistic lock: the stored version is the one read (`None`: no contact yet).
pub(super) fn version_matches(stored: Option<&Contact>, expected: Option<u64>) -> bool {
    stored.map(|c| c.version) == expected
}

impl StoreState {
    /// Stores a new or changed contact, listed by its creation.
    pub(super) fn store_contact(&mut self, contact: &Contact) {
        self.contacts_by_creation
            .insert(recency_key(contact.created_at, contact.id.as_str()), contact.id.clone());
        self.contacts.insert(contact.id.clone(), contact.clone());
    }

    /// One page of the contacts that pass `filter`, newest created first: read in the ordered
    /// index from the cursor on, so a page costs O(log n) plus the contacts read past (none
    /// without a filter), as the DynamoDB adapter's Query does.
    fn page_of_contacts(&self, filter: &ContactFilter, page: &PageRequest) -> Result<Page<Contact>, StoreError> {
        let before = page.cursor.as_deref().map(decode_cursor).transpose()?;
        let range = match &before {
            Some(before) => self.contacts_by_creation.range::<String, _>(..before),
            None => self.contacts_by_creation.range::<String, _>(..),
        };
        let mut matching = range
            .rev()
            .filter_map(|(key, id)| Some((key, self.contacts.get(id)?)))
            .filter(|(_, contact)| filter.matches(contact));
        let listed: Vec<(&String, &Contact)> = matching.by_ref().take(page.limit.max(1)).collect();
        let next_cursor = match (listed.last(), matching.next()) {
            (Some((key, _)), Some(_)) => Some(encode_cursor(key)),
            _ => None,
        };
        Ok(Page {
            items: listed.into_iter().map(|(_, contact)| contact.clone()).collect(),
            next_cursor,
        })
    }

    /// Sets a copied avatar on the contact while its picture is still that one, and on its
    /// current task; the version moves on, as the DynamoDB adapter's does.
    pub(super) fn record_avatar_copy(&mut self, id: &ContactId, avatar: &StoredAvatar) -> bool {
        let Some(contact) = self.contacts.get_mut(id) else {
            return false;
        };
        if contact.avatar_url.as_deref() != Some(avatar.source_url.as_str()) {
            return false;
        }
        contact.avatar = Some(avatar.clone());
        contact.version += 1;
        let current = contact.current_task.as_ref().map(|current| current.id.clone());
        if let (Some(task_id), Some(blob_key)) = (current, &avatar.blob_key)
            && self.tasks.contains_key(&task_id)
        {
            self.tasks
                .update(&task_id, |task| task.requester_avatar = Some(blob_key.clone()));
        }
        true
    }

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
        state.store_contact(contact);
        Ok(())
    }

    async fn list_contacts(&self, page: &PageRequest) -> Result<Page<Contact>, StoreError> {
        self.state().page_of_contacts(&ContactFilter::default(), page)
    }
}

#[async_trait]
impl ContactAdmin for MemoryStore {
    /// Newest first by creation, as the DynamoDB adapter's indexes sort them.
    async fn list_contacts_by(&self, filter: &ContactFilter, page: &PageRequest) -> Result<Page<Contact>, StoreError> {
        self.state().page_of_contacts(filter, page)
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
