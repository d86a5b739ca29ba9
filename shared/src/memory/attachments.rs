//! Attachments: a file's record (its bytes are in the bucket).

use async_trait::async_trait;

use super::MemoryStore;
use crate::ids::AttachmentId;
use crate::model::Attachment;
use crate::ports::{AttachmentStore, StoreError};

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
