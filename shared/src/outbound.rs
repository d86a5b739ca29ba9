//! The outbound queue's message: which staff reply the sender should deliver to Viber.

use serde::{Deserialize, Serialize};

use crate::ids::{CommentId, TaskId};

/// One staff reply to send (`{"task_id": …, "comment_id": …}`). The comment itself (still
/// `queued`) says what to send, so a job can be delivered any number of times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundJob {
    pub task_id: TaskId,
    pub comment_id: CommentId,
}

impl OutboundJob {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an outbound job always serialises")
    }

    pub fn from_json(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_plain_json() {
        let job = OutboundJob {
            task_id: TaskId::parse("t1").unwrap(),
            comment_id: CommentId::parse("c1").unwrap(),
        };
        assert_eq!(job.to_json(), r#"{"task_id":"t1","comment_id":"c1"}"#);
        assert_eq!(OutboundJob::from_json(&job.to_json()).unwrap(), job);
    }
}
