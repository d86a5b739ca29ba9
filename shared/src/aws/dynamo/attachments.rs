//! Attachments: a file's record (its bytes are in the attachments bucket). A client's file is
//! written with its message; a staff upload is announced unavailable and marked available by the
//! staff comment that uses it.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::DynamoStore;
use super::keys::Key;
use super::writes::item_exists;
use crate::ids::AttachmentId;
use crate::model::Attachment;
use crate::ports::{AttachmentStore, StoreError};

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
