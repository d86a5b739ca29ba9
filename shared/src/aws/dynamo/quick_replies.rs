//! Quick replies: canned texts for staff, listed in `gsi1` `QUICKREPLIES`, newest first.

use async_trait::async_trait;

use super::keys::{Key, List, Listing};
use super::{DynamoStore, Order, listed_item};
use crate::ids::QuickReplyId;
use crate::model::QuickReply;
use crate::ports::{Page, PageRequest, QuickReplyStore, StoreError};

#[async_trait]
impl QuickReplyStore for DynamoStore {
    async fn list_quick_replies(&self, page: &PageRequest) -> Result<Page<QuickReply>, StoreError> {
        self.list(&List::quick_replies(), Order::NewestFirst, page).await
    }

    async fn get_quick_reply(&self, id: &QuickReplyId) -> Result<Option<QuickReply>, StoreError> {
        self.get(Key::quick_reply(id)).await
    }

    async fn put_quick_reply(&self, reply: &QuickReply) -> Result<(), StoreError> {
        let item = listed_item(Key::quick_reply(&reply.id), reply, Listing::quick_reply(reply))?;
        self.put_item(item).await
    }

    async fn delete_quick_reply(&self, id: &QuickReplyId) -> Result<bool, StoreError> {
        self.delete_item(Key::quick_reply(id)).await
    }
}
