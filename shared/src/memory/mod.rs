//! In-memory adapters: the local stack's default backend and the unit tests' backend. They keep
//! the semantics of their AWS twins (conditional writes, FIFO deduplication);
//! `shared/tests/store_suite.rs` runs one behaviour suite on both stores.
//!
//! This module holds the store's state and pagination; each record kind has its own module, a
//! client message (which spans several kinds) is in [`messages`], and the SQS FIFO emulation in
//! [`queue`].

mod attachments;
mod comments;
mod contacts;
mod integrations;
mod messages;
mod queue;
mod quick_replies;
mod read_markers;
mod staff;
mod tasks;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::ids::{AttachmentId, CommentId, ContactId, IntegrationId, QuickReplyId, StaffId, TaskId};
use crate::model::{Attachment, Comment, Contact, Integration, QuickReply, StaffMember, Task};
use crate::ports::{Page, PageRequest, PartRef, StoreError, decode_cursor, encode_cursor, recency_key};
use crate::time::Timestamp;

pub use queue::{FIFO_DEDUP_WINDOW, MemoryQueue, Received};

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<StoreState>,
}

#[derive(Default)]
struct StoreState {
    integrations: HashMap<IntegrationId, Integration>,
    staff: HashMap<StaffId, StaffMember>,
    staff_by_token_hash: HashMap<String, StaffId>,
    account_owner: Option<StaffId>,
    contacts: HashMap<ContactId, Contact>,
    /// Every contact by the recency key of its creation (which never changes): the list of all
    /// contacts, newest created first, as the DynamoDB adapter's `gsi5` list.
    contacts_by_creation: BTreeMap<String, ContactId>,
    tasks: tasks::Tasks,
    comments: BTreeMap<(TaskId, CommentId), Comment>,
    attachments: HashMap<AttachmentId, Attachment>,
    parts: HashMap<(IntegrationId, u64), PartRef>,
    /// Per staff reply: the Viber token of each part sent, by part index (`ReplyStore`).
    sent_parts: HashMap<(TaskId, CommentId), BTreeMap<usize, u64>>,
    quick_replies: HashMap<QuickReplyId, QuickReply>,
    /// How far each staff member read each task (`ReadMarkerStore`).
    read_markers: HashMap<(StaffId, TaskId), Timestamp>,
    /// The staff replies' idempotency keys (`CommentStore`).
    reply_keys: comments::ReplyKeys,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, StoreState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The order a list is read in, by its records' sort keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    NewestFirst,
    OldestFirst,
}

/// A record that lists sort by time, then id (the DynamoDB adapter's index sort key).
trait Listed: Clone {
    fn recency_key(&self) -> String;
}

/// Tasks list by their last message, the rest by creation (contacts in their own index, see
/// `contacts`).
impl Listed for Task {
    fn recency_key(&self) -> String {
        recency_key(self.last_message_at, self.id.as_str())
    }
}

impl Listed for Integration {
    fn recency_key(&self) -> String {
        recency_key(self.created_at, self.id.as_str())
    }
}

impl Listed for StaffMember {
    fn recency_key(&self) -> String {
        recency_key(self.created_at, self.id.as_str())
    }
}

impl Listed for QuickReply {
    fn recency_key(&self) -> String {
        recency_key(self.created_at, self.id.as_str())
    }
}

/// One page of a list of records sorted by their recency keys.
fn page_by_recency<'a, T: Listed + 'a>(
    records: impl IntoIterator<Item = &'a T>,
    order: Order,
    page: &PageRequest,
) -> Result<Page<T>, StoreError> {
    let records = records
        .into_iter()
        .map(|record| (record.recency_key(), record.clone()))
        .collect();
    page_of(records, order, page)
}

/// One page of `records` (each with its sort key) in `order`, starting after the cursor's key.
/// Sort keys are unique, so a page resumes exactly where the last one ended.
fn page_of<T>(mut records: Vec<(String, T)>, order: Order, page: &PageRequest) -> Result<Page<T>, StoreError> {
    records.sort_by(|a, b| match order {
        Order::NewestFirst => b.0.cmp(&a.0),
        Order::OldestFirst => a.0.cmp(&b.0),
    });
    let start = page.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut remaining = records.into_iter().filter(|(key, _)| match (&start, order) {
        (None, _) => true,
        (Some(start), Order::NewestFirst) => key < start,
        (Some(start), Order::OldestFirst) => key > start,
    });
    let items: Vec<(String, T)> = remaining.by_ref().take(page.limit.max(1)).collect();
    let next_cursor = match (items.last(), remaining.next()) {
        (Some((key, _)), Some(_)) => Some(encode_cursor(key)),
        _ => None,
    };
    Ok(Page {
        items: items.into_iter().map(|(_, item)| item).collect(),
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> Vec<(String, u32)> {
        vec![("b".into(), 2), ("a".into(), 1), ("c".into(), 3)]
    }

    fn all_pages(order: Order, limit: usize) -> Vec<Vec<u32>> {
        let mut pages = Vec::new();
        let mut request = PageRequest::first(limit);
        loop {
            let page = page_of(records(), order, &request).unwrap();
            pages.push(page.items);
            match page.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => return pages,
            }
        }
    }

    #[test]
    fn pages_follow_the_order_and_the_last_page_has_no_cursor() {
        assert_eq!(all_pages(Order::NewestFirst, 2), [vec![3, 2], vec![1]]);
        assert_eq!(all_pages(Order::OldestFirst, 2), [vec![1, 2], vec![3]]);
        assert_eq!(all_pages(Order::OldestFirst, 3), [vec![1, 2, 3]]);
    }

    #[test]
    fn a_limit_below_one_counts_as_one() {
        assert_eq!(all_pages(Order::OldestFirst, 0), [vec![1], vec![2], vec![3]]);
    }

    #[test]
    fn a_cursor_no_list_returned_is_invalid() {
        let request = PageRequest {
            cursor: Some("not hex".into()),
            limit: 2,
        };
        assert!(matches!(
            page_of(records(), Order::NewestFirst, &request),
            Err(StoreError::InvalidCursor)
        ));
    }
}
