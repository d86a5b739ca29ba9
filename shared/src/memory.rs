//! In-memory adapters: the local stack's default backend and the unit tests' backend. They keep
//! the semantics of their AWS twins (FIFO deduplication, conditional writes).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::ids::IntegrationId;
use crate::model::{Integration, StaffMember};
use crate::ports::{
    IntegrationStore, MessageQueue, QueueError, QueueMessage, StaffStore, StoreError,
};

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<StoreState>,
}

#[derive(Default)]
struct StoreState {
    integrations: HashMap<IntegrationId, Integration>,
    staff_by_token_hash: HashMap<String, StaffMember>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, StoreState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl IntegrationStore for MemoryStore {
    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<Integration>, StoreError> {
        Ok(self.state().integrations.get(id).cloned())
    }

    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        self.state()
            .integrations
            .insert(integration.id.clone(), integration.clone());
        Ok(())
    }
}

#[async_trait]
impl StaffStore for MemoryStore {
    async fn put_staff(&self, member: &StaffMember, token_hash: &str) -> Result<(), StoreError> {
        self.state()
            .staff_by_token_hash
            .insert(token_hash.to_owned(), member.clone());
        Ok(())
    }

    async fn staff_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<StaffMember>, StoreError> {
        Ok(self.state().staff_by_token_hash.get(token_hash).cloned())
    }
}

/// SQS FIFO drops a repeated deduplication id for five minutes.
pub const FIFO_DEDUP_WINDOW: Duration = Duration::from_secs(300);

/// A queue in memory with SQS FIFO's deduplication window.
#[derive(Default)]
pub struct MemoryQueue {
    state: Mutex<QueueState>,
    arrived: tokio::sync::Notify,
}

#[derive(Default)]
struct QueueState {
    messages: VecDeque<QueueMessage>,
    seen_dedup_ids: HashMap<String, Instant>,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The messages waiting, oldest first.
    pub fn pending(&self) -> Vec<QueueMessage> {
        self.state().messages.iter().cloned().collect()
    }

    /// Takes every waiting message, oldest first.
    pub fn drain(&self) -> Vec<QueueMessage> {
        self.state().messages.drain(..).collect()
    }

    /// Waits until a message is sent (or returns at once if one is waiting).
    pub async fn wait_for_message(&self) {
        let notified = self.arrived.notified();
        if !self.state().messages.is_empty() {
            return;
        }
        notified.await;
    }
}

#[async_trait]
impl MessageQueue for MemoryQueue {
    async fn send(&self, message: QueueMessage) -> Result<(), QueueError> {
        {
            let mut state = self.state();
            let now = Instant::now();
            state
                .seen_dedup_ids
                .retain(|_, at| now.duration_since(*at) < FIFO_DEDUP_WINDOW);
            if let Some(dedup_id) = &message.dedup_id {
                if state.seen_dedup_ids.contains_key(dedup_id) {
                    return Ok(());
                }
                state.seen_dedup_ids.insert(dedup_id.clone(), now);
            }
            state.messages.push_back(message);
        }
        self.arrived.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(dedup: &str) -> QueueMessage {
        QueueMessage {
            group_id: Some("g".into()),
            dedup_id: Some(dedup.into()),
            body: dedup.into(),
        }
    }

    #[tokio::test]
    async fn drops_a_repeated_deduplication_id_like_sqs_fifo() {
        let queue = MemoryQueue::new();
        queue.send(message("a")).await.unwrap();
        queue.send(message("a")).await.unwrap();
        queue.send(message("b")).await.unwrap();
        let bodies: Vec<_> = queue.pending().into_iter().map(|m| m.body).collect();
        assert_eq!(bodies, ["a", "b"]);
    }
}
