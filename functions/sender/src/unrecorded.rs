//! Parts Viber accepted whose `message_token` could not be recorded (the store was unreachable
//! for longer than the sender's record attempts). Sending such a part again on the retry would
//! give the client the same message twice, so the instance keeps the token and the retry records
//! it instead of sending: only a part whose answer was lost with the process (a crash, a timeout)
//! can still be sent twice (docs/outbox.md).
//!
//! Held per process: a Lambda instance usually receives its own retries (the same function,
//! warm), and `viberdesk-local` always does. Bounded: the oldest entries go first, and an entry
//! leaves as soon as its token is recorded.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use shared::ids::CommentId;

/// Far more than the parts one instance can have in flight during an outage (one job at a time,
/// a few parts each).
const CAPACITY: usize = 1_024;

type Key = (CommentId, usize);

#[derive(Default)]
pub struct UnrecordedTokens {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    tokens: HashMap<Key, u64>,
    /// Insertion order, for the bound; may hold keys already removed (skipped on eviction).
    order: VecDeque<Key>,
}

impl UnrecordedTokens {
    /// Part `index` of `comment` was accepted by Viber as `token`, and the record failed.
    pub fn remember(&self, comment: &CommentId, index: usize, token: u64) {
        let mut inner = self.inner.lock().expect("unrecorded tokens lock");
        let key = (comment.clone(), index);
        if inner.tokens.insert(key.clone(), token).is_none() {
            inner.order.push_back(key);
        }
        while inner.tokens.len() > CAPACITY || inner.order.len() > 2 * CAPACITY {
            let Some(oldest) = inner.order.pop_front() else { break };
            inner.tokens.remove(&oldest);
        }
    }

    /// The token of part `index` of `comment` Viber accepted earlier, if its record failed.
    pub fn token(&self, comment: &CommentId, index: usize) -> Option<u64> {
        let inner = self.inner.lock().expect("unrecorded tokens lock");
        inner.tokens.get(&(comment.clone(), index)).copied()
    }

    /// The part's token is recorded now.
    pub fn forget(&self, comment: &CommentId, index: usize) {
        let mut inner = self.inner.lock().expect("unrecorded tokens lock");
        inner.tokens.remove(&(comment.clone(), index));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(id: &str) -> CommentId {
        CommentId::parse(id).unwrap()
    }

    #[test]
    fn keeps_a_token_until_it_is_recorded() {
        let tokens = UnrecordedTokens::default();
        tokens.remember(&comment("r1"), 1, 42);
        assert_eq!(tokens.token(&comment("r1"), 1), Some(42));
        assert_eq!(tokens.token(&comment("r1"), 0), None);
        assert_eq!(tokens.token(&comment("r2"), 1), None);
        tokens.forget(&comment("r1"), 1);
        assert_eq!(tokens.token(&comment("r1"), 1), None);
        assert!(tokens.inner.lock().unwrap().tokens.is_empty());
    }

    #[test]
    fn holds_at_most_its_capacity_dropping_the_oldest() {
        let tokens = UnrecordedTokens::default();
        for index in 0..CAPACITY + 10 {
            tokens.remember(&comment("r1"), index, index as u64);
        }
        assert_eq!(tokens.inner.lock().unwrap().tokens.len(), CAPACITY);
        assert_eq!(tokens.token(&comment("r1"), 0), None);
        assert_eq!(tokens.token(&comment("r1"), CAPACITY + 9), Some((CAPACITY + 9) as u64));
    }

    #[test]
    fn forgotten_keys_do_not_grow_the_order_without_bound() {
        let tokens = UnrecordedTokens::default();
        for index in 0..10 * CAPACITY {
            tokens.remember(&comment("r1"), index, 1);
            tokens.forget(&comment("r1"), index);
        }
        assert!(tokens.inner.lock().unwrap().tokens.is_empty());
        assert!(tokens.inner.lock().unwrap().order.len() <= 2 * CAPACITY);
    }
}
