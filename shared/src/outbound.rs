//! The outbound queue's message: which staff reply the sender should deliver to Viber.
//!
//! The staff API sends the job *before* it writes the comment (docs/outbox.md): a job whose
//! comment never appears is dropped by the sender after [`COMMENT_GRACE_SECONDS`], and a comment
//! that was written always has its job queued, so no reply is lost and none is sent unstored.

use serde::{Deserialize, Serialize};

use crate::ids::{CommentId, ContactId, TaskId};
use crate::ports::QueueMessage;
use crate::time::Timestamp;

/// How long after `queued_at` the sender keeps waiting for a job's comment to be stored. The
/// API writes it right after the send, within its own timeout (20 s, infra/template.yaml); past
/// this the write failed and the job is dropped. It must also end before the job's last receive
/// (the sender's back-off reaches it after 37.5 s at the earliest), or a job whose write failed
/// would reach the dead-letter queue and raise its alarm for nothing; tests/tests/template.rs
/// checks both.
pub const COMMENT_GRACE_SECONDS: i64 = 30;

/// One staff reply to send. The comment itself (still `queued`) says what to send, so a job
/// can be delivered any number of times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundJob {
    pub task_id: TaskId,
    pub comment_id: CommentId,
    /// The client it goes to: the FIFO message group, so replies to one client keep their order.
    pub contact_id: ContactId,
    pub queued_at: Timestamp,
}

impl OutboundJob {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an outbound job always serialises")
    }

    pub fn from_json(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// The SQS FIFO message: group = the client, deduplication id = the comment.
    pub fn queue_message(&self) -> QueueMessage {
        QueueMessage {
            group_id: Some(self.contact_id.as_str().to_owned()),
            dedup_id: Some(self.comment_id.as_str().to_owned()),
            body: self.to_json(),
        }
    }

    /// Whether a job whose comment is not stored may still see it appear.
    pub fn may_still_be_stored(&self, now: Timestamp) -> bool {
        now.millis() - self.queued_at.millis() < COMMENT_GRACE_SECONDS * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> OutboundJob {
        OutboundJob {
            task_id: TaskId::parse("t1").unwrap(),
            comment_id: CommentId::parse("c1").unwrap(),
            contact_id: ContactId::parse("k1").unwrap(),
            queued_at: Timestamp::from_millis(1_764_000_000_000),
        }
    }

    #[test]
    fn round_trips_as_plain_json() {
        let job = job();
        assert_eq!(
            job.to_json(),
            r#"{"task_id":"t1","comment_id":"c1","contact_id":"k1","queued_at":"2025-11-24T16:00:00.000Z"}"#
        );
        assert_eq!(OutboundJob::from_json(&job.to_json()).unwrap(), job);
    }

    #[test]
    fn replies_to_one_client_share_a_group_and_each_reply_is_sent_once() {
        let message = job().queue_message();
        assert_eq!(message.group_id.as_deref(), Some("k1"));
        assert_eq!(message.dedup_id.as_deref(), Some("c1"));
    }

    #[test]
    fn a_missing_comment_is_awaited_only_for_the_grace_period() {
        let job = job();
        assert!(job.may_still_be_stored(job.queued_at));
        assert!(job.may_still_be_stored(job.queued_at.plus_seconds(COMMENT_GRACE_SECONDS - 1)));
        assert!(!job.may_still_be_stored(job.queued_at.plus_seconds(COMMENT_GRACE_SECONDS)));
    }
}
