//! An in-memory queue with SQS FIFO's semantics, for the local stack and tests (the AWS twin is
//! `crate::aws::SqsQueue`).
//!
//! Every operation is O(log n) in the messages held (amortised O(1) for the deduplication
//! window), so the local stack keeps its pace however long the backlog grows
//! (`docs/local-load.md`): messages are indexed by id, each message group keeps its own queue
//! (only its oldest message can be received), the receivable messages are kept oldest first and
//! the delayed ones by the time they become visible, and deduplication ids expire in the order
//! they were seen, so the window's memory stays bounded.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::ports::{MessageQueue, Postpone, QueueError, QueueMessage};

/// SQS FIFO drops a repeated deduplication id for five minutes.
pub const FIFO_DEDUP_WINDOW: Duration = Duration::from_secs(300);

/// How many dead letters the queue keeps, the newest: enough to look at what failed, while a
/// stream of failing messages (a store that keeps refusing) cannot grow the process without end.
/// The AWS twin keeps them in the DLQ for 14 days (docs/deploy.md).
pub const MAX_DEAD_LETTERS: usize = 1_000;

/// A queue in memory with SQS FIFO's semantics: deduplication window, one message in flight per
/// message group, receive counts, and visibility delays for retries.
#[derive(Default)]
pub struct MemoryQueue {
    state: Mutex<QueueState>,
    changed: tokio::sync::Notify,
}

#[derive(Default)]
struct QueueState {
    /// Every message held (waiting or in flight), by id; ids grow with each send, so this is
    /// also the order they were sent in.
    entries: BTreeMap<u64, Entry>,
    /// Each message group's messages, oldest first: only the first can be received.
    groups: HashMap<String, BTreeSet<u64>>,
    /// Messages that can be received now (not in flight, visible, first of their group), oldest
    /// first.
    ready: BTreeSet<u64>,
    /// Messages that will be receivable at a later time (released after a failure), by that time.
    delayed: BTreeSet<(Instant, u64)>,
    dedup: DedupWindow,
    next_id: u64,
    /// The newest [`MAX_DEAD_LETTERS`] messages moved aside, oldest first.
    dead_letters: VecDeque<QueueMessage>,
}

struct Entry {
    message: QueueMessage,
    receive_count: u32,
    in_flight: bool,
    visible_at: Instant,
}

/// The deduplication ids seen in the last [`FIFO_DEDUP_WINDOW`], with the order they were seen
/// in, so expired ids leave from the front without a scan.
#[derive(Default)]
struct DedupWindow {
    seen_at: HashMap<Arc<str>, Instant>,
    by_time: VecDeque<(Instant, Arc<str>)>,
}

impl DedupWindow {
    /// Forgets the ids seen a whole window before `now`. Amortised O(1): each id leaves once.
    fn expire(&mut self, now: Instant) {
        while let Some((seen, _)) = self.by_time.front()
            && now.saturating_duration_since(*seen) >= FIFO_DEDUP_WINDOW
        {
            let (seen, id) = self.by_time.pop_front().expect("the front exists");
            if self.seen_at.get(&id) == Some(&seen) {
                self.seen_at.remove(&id);
            }
        }
    }

    /// Records `id` as seen at `now`: `false` if it was already seen within the window. Times
    /// passed in never decrease (they are read under the queue's lock from a monotonic clock).
    fn first_sighting(&mut self, id: &str, now: Instant) -> bool {
        self.expire(now);
        if self.seen_at.contains_key(id) {
            return false;
        }
        let id: Arc<str> = Arc::from(id);
        self.seen_at.insert(id.clone(), now);
        self.by_time.push_back((now, id));
        true
    }

    fn len(&self) -> usize {
        self.seen_at.len()
    }
}

/// A message handed to a consumer; it stays in the queue until deleted or released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: u64,
    pub message: QueueMessage,
    /// 1 on the first receive (SQS's `ApproximateReceiveCount`).
    pub receive_count: u32,
}

impl Received {
    /// The message's receipt handle, as [`Postpone`] takes it: its id.
    pub fn receipt_handle(&self) -> String {
        self.id.to_string()
    }
}

impl QueueState {
    /// Whether `id` is the first of its group (a message without a group is always first).
    fn heads_its_group(&self, id: u64, entry: &Entry) -> bool {
        match &entry.message.group_id {
            None => true,
            Some(group) => self.groups.get(group).and_then(|ids| ids.first()) == Some(&id),
        }
    }

    /// Files `id` as receivable now or later, if it can be received at all (not in flight,
    /// first of its group).
    fn schedule(&mut self, id: u64, now: Instant) {
        let Some(entry) = self.entries.get(&id) else {
            return;
        };
        if entry.in_flight || !self.heads_its_group(id, entry) {
            return;
        }
        if entry.visible_at <= now {
            self.ready.insert(id);
        } else {
            self.delayed.insert((entry.visible_at, id));
        }
    }

    /// Takes `id` off the receivable lists, wherever it is.
    fn unschedule(&mut self, id: u64, visible_at: Instant) {
        self.ready.remove(&id);
        self.delayed.remove(&(visible_at, id));
    }

    /// Adds `message` unless its deduplication id was seen within the window.
    fn send(&mut self, message: QueueMessage, now: Instant) {
        if let Some(dedup_id) = &message.dedup_id
            && !self.dedup.first_sighting(dedup_id, now)
        {
            return;
        }
        self.push(message, now);
    }

    fn push(&mut self, message: QueueMessage, now: Instant) {
        self.next_id += 1;
        let id = self.next_id;
        if let Some(group) = &message.group_id {
            self.groups.entry(group.clone()).or_default().insert(id);
        }
        self.entries.insert(
            id,
            Entry {
                message,
                receive_count: 0,
                in_flight: false,
                visible_at: now,
            },
        );
        self.schedule(id, now);
    }

    /// Takes `id` out of the queue; the next message of its group becomes receivable.
    fn remove(&mut self, id: u64, now: Instant) -> Option<QueueMessage> {
        let entry = self.entries.remove(&id)?;
        self.unschedule(id, entry.visible_at);
        if let Some(group) = &entry.message.group_id
            && let Some(ids) = self.groups.get_mut(group)
        {
            let was_first = ids.first() == Some(&id);
            ids.remove(&id);
            match ids.first().copied() {
                None => {
                    self.groups.remove(group);
                }
                Some(next) if was_first => self.schedule(next, now),
                Some(_) => {}
            }
        }
        Some(entry.message)
    }

    /// Moves the messages whose delay has passed to the receivable ones.
    fn promote_due(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.delayed.first()
            && at <= now
        {
            self.delayed.pop_first();
            self.ready.insert(id);
        }
    }

    fn receive(&mut self, max: usize, now: Instant) -> Vec<Received> {
        self.promote_due(now);
        let mut received = Vec::new();
        while received.len() < max
            && let Some(id) = self.ready.pop_first()
        {
            let entry = self.entries.get_mut(&id).expect("ready messages are held");
            entry.in_flight = true;
            entry.receive_count += 1;
            received.push(Received {
                id,
                message: entry.message.clone(),
                receive_count: entry.receive_count,
            });
        }
        received
    }

    fn release(&mut self, id: u64, visible_at: Instant, now: Instant) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let previous = std::mem::replace(&mut entry.visible_at, visible_at);
        entry.in_flight = false;
        self.unschedule(id, previous);
        self.schedule(id, now);
    }

    fn next_visible_at(&self) -> Option<Instant> {
        let ready = self.ready.first().map(|id| self.entries[id].visible_at);
        ready.or_else(|| self.delayed.first().map(|(at, _)| *at))
    }

    fn clear(&mut self) -> Vec<QueueMessage> {
        self.groups.clear();
        self.ready.clear();
        self.delayed.clear();
        std::mem::take(&mut self.entries)
            .into_values()
            .map(|entry| entry.message)
            .collect()
    }
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes every waiter, and the next one to wait if none is waiting yet (a consumer between
    /// an empty receive and its wait would otherwise sleep through a send).
    fn notify(&self) {
        self.changed.notify_waiters();
        self.changed.notify_one();
    }

    /// The messages in the queue (waiting or in flight), oldest first.
    pub fn pending(&self) -> Vec<QueueMessage> {
        self.state().entries.values().map(|e| e.message.clone()).collect()
    }

    /// Takes every message out of the queue, oldest first.
    pub fn drain(&self) -> Vec<QueueMessage> {
        self.state().clear()
    }

    /// Messages moved aside after too many receives (the DLQ), oldest first: the newest
    /// [`MAX_DEAD_LETTERS`].
    pub fn dead_letters(&self) -> Vec<QueueMessage> {
        self.state().dead_letters.iter().cloned().collect()
    }

    /// How many deduplication ids the window holds (those seen in the last
    /// [`FIFO_DEDUP_WINDOW`] of sends).
    pub fn dedup_ids_held(&self) -> usize {
        self.state().dedup.len()
    }

    /// Up to `max` visible messages, oldest first, never two of one group at once and never one
    /// behind an earlier message of its group that is in flight or waiting to be retried.
    pub fn receive(&self, max: usize) -> Vec<Received> {
        self.state().receive(max, Instant::now())
    }

    /// The message was processed: it leaves the queue.
    pub fn delete(&self, id: u64) {
        self.state().remove(id, Instant::now());
        self.notify();
    }

    /// The message failed: it becomes visible again after `delay` (its group waits with it).
    pub fn release(&self, id: u64, delay: Duration) {
        let now = Instant::now();
        self.state().release(id, now + delay, now);
        self.notify();
    }

    /// The message failed too often: it moves to the dead letters.
    pub fn dead_letter(&self, id: u64) {
        let mut state = self.state();
        if let Some(message) = state.remove(id, Instant::now()) {
            if state.dead_letters.len() == MAX_DEAD_LETTERS {
                state.dead_letters.pop_front();
            }
            state.dead_letters.push_back(message);
        }
        drop(state);
        self.notify();
    }

    /// When the next message can be received (in the past if one can be now): `None` if none
    /// can be until the queue changes (it is empty, or every group waits on a message in flight).
    pub fn next_visible_at(&self) -> Option<Instant> {
        self.state().next_visible_at()
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
            // Read under the lock, so the deduplication window sees times in order.
            let now = Instant::now();
            state.send(message, now);
        }
        self.notify();
        Ok(())
    }
}

#[async_trait]
impl Postpone for MemoryQueue {
    /// Releases the message whose id is `receipt_handle` ([`Received::receipt_handle`]).
    async fn postpone(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        let id = receipt_handle
            .parse()
            .map_err(|_| QueueError::Rejected(format!("not a receipt handle of this queue: {receipt_handle}")))?;
        self.release(id, delay);
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

    #[tokio::test]
    async fn keeps_only_the_newest_dead_letters() {
        let queue = MemoryQueue::new();
        for n in 0..MAX_DEAD_LETTERS + 5 {
            queue.send(grouped(&format!("g{n}"), &format!("m{n}"))).await.unwrap();
            let received = queue.receive(1);
            queue.dead_letter(received[0].id);
        }
        let kept = queue.dead_letters();
        assert_eq!(kept.len(), MAX_DEAD_LETTERS);
        assert_eq!(kept[0].body, "m5");
        assert_eq!(kept[MAX_DEAD_LETTERS - 1].body, format!("m{}", MAX_DEAD_LETTERS + 4));
        assert!(queue.pending().is_empty());
    }

    #[tokio::test]
    async fn postponing_by_receipt_handle_releases_the_message_after_the_delay() {
        let queue = MemoryQueue::new();
        queue.send(grouped("a", "a1")).await.unwrap();
        let received = queue.receive(10);
        let before = Instant::now();
        queue
            .postpone(&received[0].receipt_handle(), Duration::from_secs(3))
            .await
            .unwrap();
        let visible_at = queue.next_visible_at().expect("released");
        assert!(visible_at >= before + Duration::from_secs(3));
        assert!(queue.receive(10).is_empty());
        assert!(matches!(
            queue.postpone("not-an-id", Duration::ZERO).await,
            Err(QueueError::Rejected(_))
        ));
    }

    fn bodies(received: &[Received]) -> Vec<&str> {
        received.iter().map(|r| r.message.body.as_str()).collect()
    }

    #[test]
    fn groups_keep_their_order_and_are_received_oldest_first_across_groups() {
        let mut state = QueueState::default();
        let now = Instant::now();
        for (group, body) in [("a", "a1"), ("b", "b1"), ("a", "a2"), ("c", "c1"), ("b", "b2")] {
            state.send(grouped(group, body), now);
        }
        let first = state.receive(2, now);
        assert_eq!(bodies(&first), ["a1", "b1"], "oldest first, up to the maximum");
        assert_eq!(
            bodies(&state.receive(10, now)),
            ["c1"],
            "a2 and b2 wait behind a1 and b1"
        );
        state.remove(first[1].id, now);
        state.remove(first[0].id, now);
        assert_eq!(bodies(&state.receive(10, now)), ["a2", "b2"], "a2 was sent before b2");
        assert!(state.receive(10, now).is_empty());
    }

    #[test]
    fn messages_without_a_group_never_wait_for_each_other() {
        let mut state = QueueState::default();
        let now = Instant::now();
        for body in ["x", "y"] {
            state.send(
                QueueMessage {
                    group_id: None,
                    dedup_id: None,
                    body: body.into(),
                },
                now,
            );
        }
        let received = state.receive(10, now);
        assert_eq!(bodies(&received), ["x", "y"]);
        state.release(received[0].id, now + Duration::from_secs(1), now);
        assert_eq!(state.next_visible_at(), Some(now + Duration::from_secs(1)));
        assert!(state.receive(10, now).is_empty());
        let again = state.receive(10, now + Duration::from_secs(1));
        assert_eq!((bodies(&again), again[0].receive_count), (vec!["x"], 2));
    }

    #[test]
    fn a_released_message_comes_back_when_its_delay_has_passed_and_keeps_its_group_waiting() {
        let mut state = QueueState::default();
        let now = Instant::now();
        state.send(grouped("a", "a1"), now);
        state.send(grouped("a", "a2"), now);
        let first = state.receive(10, now);
        assert_eq!(state.next_visible_at(), None, "a1 is in flight and a2 waits behind it");
        let later = now + Duration::from_millis(500);
        state.release(first[0].id, later, now);
        assert_eq!(state.next_visible_at(), Some(later));
        assert!(state.receive(10, later - Duration::from_millis(1)).is_empty());
        let again = state.receive(10, later);
        assert_eq!((bodies(&again), again[0].receive_count), (vec!["a1"], 2));
        state.remove(again[0].id, later);
        assert_eq!(
            state.next_visible_at(),
            Some(now),
            "a2 has been visible since it was sent"
        );
        assert_eq!(bodies(&state.receive(10, later)), ["a2"]);
    }

    #[test]
    fn a_deduplication_id_is_dropped_within_the_window_and_accepted_after_it() {
        let mut state = QueueState::default();
        let start = Instant::now();
        state.send(message("a"), start);
        state.send(message("a"), start + FIFO_DEDUP_WINDOW - Duration::from_millis(1));
        assert_eq!(state.entries.len(), 1, "a repeat within five minutes is dropped");
        state.send(message("a"), start + FIFO_DEDUP_WINDOW);
        assert_eq!(state.entries.len(), 2, "five minutes later the id is new again");
    }

    #[test]
    fn the_deduplication_window_forgets_expired_ids_so_its_size_stays_bounded() {
        let mut state = QueueState::default();
        let start = Instant::now();
        for index in 0..1_000 {
            state.send(message(&format!("m{index}")), start + Duration::from_millis(index));
        }
        assert_eq!(state.dedup.len(), 1_000);
        let later = start + FIFO_DEDUP_WINDOW + Duration::from_millis(500);
        state.send(message("late"), later);
        assert_eq!(
            state.dedup.len(),
            500,
            "ids seen more than five minutes before are gone"
        );
        assert_eq!(state.dedup.by_time.len(), 500);
        state.send(message("later"), later + FIFO_DEDUP_WINDOW);
        assert_eq!(state.dedup.len(), 1);
        assert_eq!(state.dedup.by_time.len(), 1);
    }

    #[test]
    fn removing_every_message_leaves_no_index_behind() {
        let mut state = QueueState::default();
        let now = Instant::now();
        for index in 0..100 {
            state.send(grouped(&format!("g{}", index % 7), &format!("m{index}")), now);
        }
        let mut handled = 0;
        while handled < 100 {
            let batch = state.receive(10, now);
            assert!(!batch.is_empty());
            for received in batch {
                state.remove(received.id, now);
                handled += 1;
            }
        }
        assert!(state.entries.is_empty() && state.groups.is_empty());
        assert!(state.ready.is_empty() && state.delayed.is_empty());
        assert_eq!(state.next_visible_at(), None);
    }

    #[tokio::test]
    async fn a_send_before_the_consumer_waits_still_wakes_it() {
        let queue = MemoryQueue::new();
        queue.send(message("a")).await.unwrap();
        let started = Instant::now();
        queue.wait_for_change(Duration::from_secs(5)).await;
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
