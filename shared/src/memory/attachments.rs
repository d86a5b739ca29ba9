//! Attachments: a file's record (its bytes are in the bucket), and how the media worker's
//! copies end (a client's file, a contact's avatar).

use async_trait::async_trait;

use super::MemoryStore;
use crate::ids::{AttachmentId, ContactId};
use crate::model::{Attachment, StoredAvatar};
use crate::ports::{AttachmentStore, Conflict, MediaStore, StoreError};

impl MemoryStore {
    pub(super) fn attachment(&self, id: &AttachmentId) -> Option<Attachment> {
        self.state().attachments.get(id).cloned()
    }
}

#[async_trait]
impl AttachmentStore for MemoryStore {
    async fn put_attachment(&self, attachment: &Attachment) -> Result<(), StoreError> {
        self.state()
            .attachments
            .insert(attachment.id.clone(), attachment.clone());
        Ok(())
    }
}

#[async_trait]
impl MediaStore for MemoryStore {
    async fn record_media_copy(&self, attachment: &Attachment) -> Result<bool, StoreError> {
        let mut state = self.state();
        let Some(stored) = state.attachments.get_mut(&attachment.id) else {
            return Err(Conflict::UnknownAttachment(attachment.id.clone()).into());
        };
        if stored.available && !attachment.available {
            return Ok(false);
        }
        *stored = attachment.clone();
        Ok(true)
    }

    async fn record_avatar_copy(&self, contact: &ContactId, avatar: &StoredAvatar) -> Result<bool, StoreError> {
        Ok(self.state().record_avatar_copy(contact, avatar))
    }
}
