//! Contacts: one item each, written under an optimistic lock on `version` (the processor reads,
//! decides and writes; a concurrent change makes it decide again), plus one small keys-only
//! entry per label, which puts the contact in that label's list (docs/data-model.md).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::keys::{Key, List, Listing, contact_id_of};
use super::writes::{ATTEMPTS, Expression, item_absent};
use super::{DynamoStore, Item, Order, next_cursor, to_item, to_value};
use crate::ids::ContactId;
use crate::model::{Contact, Task, TaskState};
use crate::ports::{
    Conflict, ContactAdmin, ContactChange, ContactFilter, ContactStore, Page, PageRequest, Record, StoreError,
    recency_key,
};
use crate::time::Timestamp;

/// A contact item, listed by its creation (which never changes, so no later write of the contact
/// moves an index entry) in the keys-only `gsi5` `CONTACTS` and, in a group, in `gsi6`
/// `CONTACTGROUP#{group}`.
pub(super) fn contact_item(contact: &Contact) -> Result<Item, StoreError> {
    let mut item = to_item(Key::contact(&contact.id), contact)?;
    item.extend(Listing::contact_sorted_in(List::contacts(), contact));
    if let Some(group) = &contact.group {
        item.extend(Listing::contact_sorted_in(List::contacts_in_group(group), contact));
    }
    Ok(item)
}

/// The entry that puts a contact in the list of one of its labels: keys only.
fn label_entry(contact: &Contact, label: &str) -> Item {
    let mut item = Key::contact_label(&contact.id, label).into_item();
    item.extend(Listing::contact_sorted_in(List::contacts_with_label(label), contact));
    item
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
    /// Puts of the entries of `labels` (a new contact's, or labels staff added); unconditional:
    /// writing one again changes nothing.
    pub(super) fn label_entry_ops<'a>(
        &self,
        contact: &Contact,
        labels: impl IntoIterator<Item = &'a String>,
    ) -> Vec<TransactWriteItem> {
        labels
            .into_iter()
            .map(|label| self.put_op(label_entry(contact, label), None))
            .collect()
    }

    /// Contacts in one keys-only list (every contact, a group's, a label's), newest first by
    /// creation: the keys, then the contacts themselves, with the filter checked on them (an
    /// index entry may lag behind).
    async fn contacts_in(
        &self,
        list: &List,
        filter: &ContactFilter,
        page: &PageRequest,
    ) -> Result<Page<Contact>, StoreError> {
        let query = self.list_query(list, Order::NewestFirst, page.cursor.as_deref())?;
        let (keys, more) = self.collect(query, None, page.limit.max(1), false).await?;
        let next_cursor = next_cursor(&keys, more, list.index.sort_key)?;
        let ids = keys.iter().map(contact_id_of).collect::<Result<Vec<_>, _>>()?;
        let mut contacts: Vec<Contact> = self.get_many(ids.iter().map(Key::contact).collect()).await?;
        // The batch read answers in any order: back to the index's.
        contacts.sort_by_key(|contact| std::cmp::Reverse(recency_key(contact.created_at, contact.id.as_str())));
        contacts.retain(|contact| filter.matches(contact));
        Ok(Page {
            items: contacts,
            next_cursor,
        })
    }

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
        let condition = contact_version_is(expected_version);
        // A new contact's labels (from its bot's template) are indexed with it, all or nothing.
        let written = if expected_version.is_none() && !contact.labels.is_empty() {
            let mut items = vec![self.put_op(contact_item(contact)?, Some(&condition))];
            items.extend(self.label_entry_ops(contact, &contact.labels));
            self.transact(items).await?.is_ok()
        } else {
            self.put_if(contact_item(contact)?, &condition).await?
        };
        if written {
            Ok(())
        } else {
            Err(Conflict::ContactChanged(contact.id.clone()).into())
        }
    }

    async fn list_contacts(&self, page: &PageRequest) -> Result<Page<Contact>, StoreError> {
        self.contacts_in(&List::contacts(), &ContactFilter::default(), page)
            .await
    }
}

#[async_trait]
impl ContactAdmin for DynamoStore {
    /// From the label's list when a label is asked for (filtered by group on the contacts read),
    /// else from the group's; with neither, the list of every contact.
    async fn list_contacts_by(&self, filter: &ContactFilter, page: &PageRequest) -> Result<Page<Contact>, StoreError> {
        let list = match (&filter.label, &filter.group) {
            (Some(label), _) => List::contacts_with_label(label),
            (None, Some(group)) => List::contacts_in_group(group),
            (None, None) => return self.list_contacts(page).await,
        };
        self.contacts_in(&list, filter, page).await
    }

    /// Reads the contact and writes it back changed under its version, with the entries of the
    /// labels added and removed in the same transaction; decided again if it changed meanwhile.
    async fn update_contact(
        &self,
        id: &ContactId,
        change: &ContactChange,
        at: Timestamp,
    ) -> Result<Option<Contact>, StoreError> {
        for _ in 0..ATTEMPTS {
            let Some(stored) = self.get_contact(id).await? else {
                return Ok(None);
            };
            let mut contact = stored.clone();
            change.apply(&mut contact);
            contact.updated_at = at;
            contact.version = stored.version + 1;
            let condition = contact_version_is(Some(stored.version));
            let added = contact.labels.iter().filter(|label| !stored.labels.contains(label));
            let removed: Vec<TransactWriteItem> = stored
                .labels
                .iter()
                .filter(|label| !contact.labels.contains(label))
                .map(|label| self.delete_op(Key::contact_label(id, label), None))
                .collect();
            let mut items = self.label_entry_ops(&contact, added);
            items.extend(removed);
            let written = if items.is_empty() {
                self.put_if(contact_item(&contact)?, &condition).await?
            } else {
                items.push(self.put_op(contact_item(&contact)?, Some(&condition)));
                self.transact(items).await?.is_ok()
            };
            if written {
                return Ok(Some(contact));
            }
        }
        Err(Conflict::KeptChanging(Record::Contact(id.clone())).into())
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

    /// An item's size as DynamoDB bills it (docs/cost.md): names plus values, UTF-8 bytes;
    /// numbers counted as their digits, nested maps and lists with 3 bytes of overhead.
    fn billed_size(item: &Item) -> usize {
        fn value_size(value: &AttributeValue) -> usize {
            match value {
                AttributeValue::S(text) => text.len(),
                AttributeValue::N(number) => number.len().div_ceil(2) + 1,
                AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
                AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| k.len() + 1 + value_size(v)).sum::<usize>(),
                AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
                _ => 0,
            }
        }
        item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
    }

    /// A realistic client (Cyrillic name, Viber's long avatar URL copied into the bucket, in a
    /// task), as the processor writes it: the size docs/cost.md's per-message figures assume.
    fn realistic_contact() -> Contact {
        // As long as the fixtures' (docs/viber-api.md): about 200 characters.
        let avatar_url = format!(
            "https://media-direct.cdn.viber.com/download_photo?dlid={}&fltp=jpg&imsz=0000",
            "Zk3qP0x7".repeat(18)
        );
        serde_json::from_value(serde_json::json!({
            "id": "6d0a8f3e1b2c4d5e6f708192a3b4c5d6", "integration_id": "acme",
            "viber_user_id": "9Kf2mQ1xT7bVnC3pLs8aZw==", "name": "Олена Коваленко",
            "avatar_url": avatar_url, "language": "uk-UA", "country": "UA", "api_version": 10,
            "phone": "+380671234567", "subscribed": true,
            "subscription_changed_at": "2024-11-25T10:02:35.210Z",
            "created_at": "2024-11-25T10:02:35.210Z", "updated_at": "2024-11-25T10:02:35.210Z",
            "current_task": {"id": "0193641a2b3c-7d8e9f0a1b2c3d4e", "state": "active"}, "version": 12,
            "avatar": {"source_url": avatar_url, "blob_key": "avatars/6d0a8f3e1b2c4d5e6f708192a3b4c5d6/0123456789abcdef0123456789abcdef.jpg"}
        }))
        .unwrap()
    }

    #[test]
    fn a_typical_template_adds_no_write_unit_to_a_contact() {
        let mut contact = realistic_contact();
        let bare = billed_size(&contact_item(&contact).unwrap());
        contact.group = Some("Роздрібні клієнти".into());
        contact.labels = vec!["viber".into(), "новий".into()];
        contact.fields = [("source".to_owned(), "Viber bot Acme".to_owned())].into();
        let sorted = billed_size(&contact_item(&contact).unwrap());
        println!("contact item: {bare} bytes bare, {sorted} bytes with a group, 2 labels and a field");
        let units = |bytes: usize| bytes.div_ceil(1024);
        assert_eq!(
            units(sorted),
            units(bare),
            "{bare} → {sorted} bytes: each message's contact write would cost more"
        );
        let entry = billed_size(&label_entry(&contact, "новий"));
        println!("label entry: {entry} bytes");
        assert!(entry <= 1024);
    }

    fn attribute(item: &Item, name: &str) -> Option<String> {
        item.get(name).and_then(|value| value.as_s().ok()).cloned()
    }

    #[test]
    fn a_contact_is_listed_by_creation_in_a_group_too_and_each_label_has_a_keys_only_entry() {
        let mut contact: Contact = serde_json::from_value(serde_json::json!({
            "id": "c1", "integration_id": "i1", "viber_user_id": "u==", "name": null,
            "avatar_url": null, "language": null, "country": null, "api_version": null,
            "phone": null, "subscribed": true, "subscription_changed_at": null,
            "created_at": "1970-01-01T00:00:00.042Z", "updated_at": "1970-01-01T00:00:01.000Z",
            "current_task": null, "version": 1
        }))
        .unwrap();
        let bare = contact_item(&contact).unwrap();
        assert_eq!(attribute(&bare, "gsi6pk"), None);
        assert_eq!(attribute(&bare, "gsi1pk"), None, "a contact write moves no gsi1 entry");
        assert_eq!(attribute(&bare, "gsi_sk"), None);
        assert_eq!(attribute(&bare, "gsi5pk").as_deref(), Some("CONTACTS"));
        assert_eq!(attribute(&bare, "gsi5sk").as_deref(), Some("0000000000042#c1"));
        contact.group = Some("Retail clients".into());
        let grouped = contact_item(&contact).unwrap();
        assert_eq!(
            attribute(&grouped, "gsi6pk").as_deref(),
            Some("CONTACTGROUP#Retail clients")
        );
        assert_eq!(attribute(&grouped, "gsi6sk").as_deref(), Some("0000000000042#c1"));
        let entry = label_entry(&contact, "vip");
        assert_eq!(entry.len(), 4);
        assert_eq!(attribute(&entry, "pk").as_deref(), Some("CONTACT#c1"));
        assert_eq!(attribute(&entry, "sk").as_deref(), Some("LABEL#vip"));
        assert_eq!(attribute(&entry, "gsi6pk").as_deref(), Some("CONTACTLABEL#vip"));
        assert_eq!(attribute(&entry, "gsi6sk").as_deref(), Some("0000000000042#c1"));
    }
}
