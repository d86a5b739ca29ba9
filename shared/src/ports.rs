//! Narrow, per-operation ports. Each has an in-memory adapter (`memory`) and an AWS adapter
//! (`aws`); handlers hold them as `Arc<dyn …>` built once in `main`.

use async_trait::async_trait;

use crate::ids::IntegrationId;
use crate::model::{Integration, StaffMember};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or refused the request; retrying may help.
    #[error("storage request failed: {0}")]
    Unavailable(String),
    /// A stored item does not decode: a bug or a hand-edited item, never retried into success.
    #[error("stored item is unreadable: {0}")]
    Corrupt(String),
    /// A conditional write found the item in another state.
    #[error("conditional write refused: {0}")]
    Conflict(String),
}

#[async_trait]
pub trait IntegrationStore: Send + Sync {
    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<Integration>, StoreError>;
    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError>;
}

#[async_trait]
pub trait StaffStore: Send + Sync {
    /// Stores a member with the SHA-256 hash of their bearer token (never the token).
    async fn put_staff(&self, member: &StaffMember, token_hash: &str) -> Result<(), StoreError>;
    async fn staff_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<StaffMember>, StoreError>;
}

/// One message for a queue. `group_id` and `dedup_id` are used by FIFO queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue request failed: {0}")]
    Unavailable(String),
    #[error("queue refused the message: {0}")]
    Rejected(String),
}

#[async_trait]
pub trait MessageQueue: Send + Sync {
    async fn send(&self, message: QueueMessage) -> Result<(), QueueError>;
}

/// SHA-256 of a bearer token, hex: what is stored and looked up instead of the token.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}
