//! An in-memory queue with SQS FIFO's semantics, for the local stack and tests (the AWS twin is
//! `crate::aws::SqsQueue`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::ports::{MessageQueue, QueueError, QueueMessage};

/// SQS FIFO drops a repeated deduplication id for five minutes.
pub const FIFO_DEDUP_WINDOW: Duration = Duration::from_secs(300);

/// A queue in memory with SQS FIFO's semantics: deduplication window, one message in flight per
/// message group, receive counts, and visibility delays for retries.
#[derive(Default)]
pub struct MemoryQueue {
    state: Mutex<QueueState>,
    changed: tokio::sync::Notify,
}

#[derive(Default)]
struct QueueState {
    entries: VecDeque<Entry>,
    seen_dedup_ids: HashMap<String, Instant>,
    next_id: u64,
    dead_letters: Vec<QueueMessage>,
}

struct Entry {
    id: u64,
    message: QueueMessage,
    receive_count: u32,
    in_flight: bool,
    visible_at: Instant,
}

/// A message handed to a consumer; it stays in the queue until deleted or released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: u64,
    pub message: QueueMessage,
    /// 1 on the first receive (SQS's `ApproximateReceiveCount`).
    pub receive_count: u32,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The messages in the queue (waiting or in flight), oldest first.
    pub fn pending(&self) -> Vec<QueueMessage> {
        self.state().entries.iter().map(|e| e.message.clone()).collect()
    }

    /// Takes every message out of the queue, oldest first.
    pub fn drain(&self) -> Vec<QueueMessage> {
        self.state().entries.drain(..).map(|e| e.message).collect()
    }

    /// Messages moved aside after too many receives (the DLQ).
    pub fn dead_letters(&self) -> Vec<QueueMessage> {
        self.state().dead_letters.clone()
    }

    /// Up to `max` visible messages, oldest first, never two of one group at once and never one
    /// behind an earlier message of its group that is in flight or waiting to be retried.
    pub fn receive(&self, max: usize) -> Vec<Received> {
        let mut state = self.state();
        let now = Instant::now();
        let mut blocked_groups: HashSet<Option<String>> = HashSet::new();
        let mut received = Vec::new();
        for entry in state.entries.iter_mut() {
            if received.len() >= max {
                break;
            }
            let group = entry.message.group_id.clone();
            if blocked_groups.contains(&group) {
                continue;
            }
            if entry.message.group_id.is_some() {
                blocked_groups.insert(group);
            }
            if entry.in_flight || entry.visible_at > now {
                continue;
            }
            entry.in_flight = true;
            entry.receive_count += 1;
            received.push(Received {
                id: entry.id,
                message: entry.message.clone(),
                receive_count: entry.receive_count,
            });
        }
        received
    }

    /// The message was processed: it leaves the queue.
    pub fn delete(&self, id: u64) {
        self.state().entries.retain(|e| e.id != id);
        self.changed.notify_waiters();
    }

    /// The message failed: it becomes visible again after `delay` (its group waits with it).
    pub fn release(&self, id: u64, delay: Duration) {
        if let Some(entry) = self.state().entries.iter_mut().find(|e| e.id == id) {
            entry.in_flight = false;
            entry.visible_at = Instant::now() + delay;
        }
        self.changed.notify_waiters();
    }

    /// The message failed too often: it moves to the dead letters.
    pub fn dead_letter(&self, id: u64) {
        let mut state = self.state();
        if let Some(position) = state.entries.iter().position(|e| e.id == id) {
            let entry = state.entries.remove(position).expect("position is in range");
            state.dead_letters.push(entry.message);
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// When the next message becomes visible: `None` if nothing waits that is not in flight.
    pub fn next_visible_at(&self) -> Option<Instant> {
        self.state()
            .entries
            .iter()
            .filter(|e| !e.in_flight)
            .map(|e| e.visible_at)
            .min()
    }

    /// Waits until the queue changes (a send, delete or release), or `timeout` passes.
    pub async fn wait_for_change(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.changed.notified()).await;
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
            state.next_id += 1;
            let id = state.next_id;
            state.entries.push_back(Entry {
                id,
                message,
                receive_count: 0,
                in_flight: false,
                visible_at: now,
            });
        }
        self.changed.notify_waiters();
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

    fn grouped(group: &str, body: &str) -> QueueMessage {
        QueueMessage {
            group_id: Some(group.into()),
            dedup_id: Some(body.into()),
            body: body.into(),
        }
    }

    #[tokio::test]
    async fn one_message_per_group_is_in_flight_and_a_retry_keeps_the_group_waiting() {
        let queue = MemoryQueue::new();
        for (group, body) in [("a", "a1"), ("a", "a2"), ("b", "b1")] {
            queue.send(grouped(group, body)).await.unwrap();
        }
        let first = queue.receive(10);
        let bodies: Vec<_> = first.iter().map(|r| r.message.body.as_str()).collect();
        assert_eq!(bodies, ["a1", "b1"]);
        assert!(queue.receive(10).is_empty(), "a2 waits behind a1");
        queue.release(first[0].id, Duration::from_millis(30));
        queue.delete(first[1].id);
        assert!(
            queue.receive(10).is_empty(),
            "a1 is not visible yet and a2 waits behind it"
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
        let again = queue.receive(10);
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].message.body.as_str(), again[0].receive_count), ("a1", 2));
        queue.dead_letter(again[0].id);
        assert_eq!(queue.dead_letters().len(), 1);
        assert_eq!(queue.receive(10)[0].message.body, "a2");
    }
}
