//! Attachments: a file's record (its bytes are in the attachments bucket). A client's file is
//! written with its message, not yet available, and its copy from Viber is recorded by the media
//! worker (`MediaStore`); a staff upload is announced unavailable and marked available by the
//! staff comment that uses it. A contact's avatar copy is recorded here too: the media worker
//! copies both.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::DynamoStore;
use super::contacts::{contact_item, contact_version_is};
use super::keys::Key;
use super::writes::{ATTEMPTS, item_exists};
use crate::ids::{AttachmentId, ContactId};
use crate::model::{Attachment, StoredAvatar};
use crate::ports::{AttachmentStore, Conflict, ContactStore, MediaStore, Record, StoreError};

impl DynamoStore {
    pub(super) async fn attachment(&self, id: &AttachmentId) -> Result<Option<Attachment>, StoreError> {
        self.get(Key::attachment(id)).await
    }

    /// Puts the attachment in a transaction (a client message's file).
    pub(super) fn attachment_op(&self, attachment: &Attachment) -> Result<TransactWriteItem, StoreError> {
        let item = super::to_item(Key::attachment(&attachment.id), attachment)?;
        Ok(self.put_op(item, None))
    }

    /// Marks an announced upload available, in a transaction; refused if it was never announced.
    pub(super) fn mark_available_op(&self, id: &AttachmentId) -> TransactWriteItem {
        let exists = item_exists()
            .name("#available", "available")
            .name("#reason", "unavailable_reason")
            .value(":true", AttributeValue::Bool(true))
            .value(":none", AttributeValue::Null(true));
        self.update_op(Key::attachment(id), "SET #available = :true, #reason = :none", &exists)
    }
}

#[async_trait]
impl AttachmentStore for DynamoStore {
    async fn put_attachment(&self, attachment: &Attachment) -> Result<(), StoreError> {
        self.put(Key::attachment(&attachment.id), attachment).await
    }
}

#[async_trait]
impl MediaStore for DynamoStore {
    /// One conditional PutItem: the attachment exists and, for a copy given up on, is not
    /// available. A refusal is told apart by one read.
    async fn record_media_copy(&self, attachment: &Attachment) -> Result<bool, StoreError> {
        let mut condition = item_exists();
        if !attachment.available {
            condition = condition
                .and("#available = :false")
                .name("#available", "available")
                .value(":false", AttributeValue::Bool(false));
        }
        let item = super::to_item(Key::attachment(&attachment.id), attachment)?;
        if self.put_if(item, &condition).await? {
            return Ok(true);
        }
        match self.attachment(&attachment.id).await? {
            Some(_) => Ok(false),
            None => Err(Conflict::UnknownAttachment(attachment.id.clone()).into()),
        }
    }

    /// The contact written back under its version with the avatar set, and its current task's
    /// `requester_avatar` in the same transaction (left out when that task does not exist: a
    /// message that opened it was given up on). Decided again when the contact changed meanwhile.
    async fn record_avatar_copy(&self, id: &ContactId, avatar: &StoredAvatar) -> Result<bool, StoreError> {
        let mut task_missing = false;
        for _ in 0..ATTEMPTS {
            let Some(stored) = self.get_contact(id).await? else {
                return Ok(false);
            };
            if stored.avatar_url.as_deref() != Some(avatar.source_url.as_str()) {
                return Ok(false);
            }
            let mut contact = stored.clone();
            contact.avatar = Some(avatar.clone());
            contact.version = stored.version + 1;
            let mut items = vec![self.put_op(contact_item(&contact)?, Some(&contact_version_is(Some(stored.version))))];
            let current = stored.current_task.as_ref().filter(|_| !task_missing);
            if let (Some(current), Some(blob_key)) = (current, &avatar.blob_key) {
                let exists = item_exists()
                    .name("#requester_avatar", "requester_avatar")
                    .value(":avatar", AttributeValue::S(blob_key.clone()));
                items.push(self.update_op(Key::task(&current.id), "SET #requester_avatar = :avatar", &exists));
            }
            match self.transact(items).await? {
                Ok(()) => return Ok(true),
                Err(refused) if refused.failed(1) && !refused.failed(0) => task_missing = true,
                Err(_) => {}
            }
        }
        Err(Conflict::KeptChanging(Record::Contact(id.clone())).into())
    }
}
