//! Quick replies, newest first.

use async_trait::async_trait;

use super::{MemoryStore, Order, page_by_recency};
use crate::ids::QuickReplyId;
use crate::model::QuickReply;
use crate::ports::{Page, PageRequest, QuickReplyStore, StoreError};

#[async_trait]
impl QuickReplyStore for MemoryStore {
    async fn list_quick_replies(&self, page: &PageRequest) -> Result<Page<QuickReply>, StoreError> {
        page_by_recency(self.state().quick_replies.values(), Order::NewestFirst, page)
    }

    async fn get_quick_reply(&self, id: &QuickReplyId) -> Result<Option<QuickReply>, StoreError> {
        Ok(self.state().quick_replies.get(id).cloned())
    }

    async fn put_quick_reply(&self, reply: &QuickReply) -> Result<(), StoreError> {
        self.state().quick_replies.insert(reply.id.clone(), reply.clone());
        Ok(())
    }

    async fn delete_quick_reply(&self, id: &QuickReplyId) -> Result<bool, StoreError> {
        Ok(self.state().quick_replies.remove(id).is_some())
    }
}
