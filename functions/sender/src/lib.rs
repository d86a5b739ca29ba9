//! The sender Lambda's handler: turns a queued staff reply into Viber messages (DESIGN.md data
//! flow step 3). Each part's `message_token` is recorded as soon as Viber returns it, and a part
//! that has one is never sent again, however often the job is delivered.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::FutureExt;
use shared::cache::IntegrationCache;
use shared::ids::StaffId;
use shared::model::{Attachment, AuthorKind, CommentStatus, Integration, StaffMember};
use shared::outbound::OutboundJob;
use shared::ports::{
    BlobError, BlobStore, ContactStore, DeliveryStore, OutgoingReply, PartRef, ReplyStore, StaffStore, StoreError,
    TaskStore,
};
use shared::time::Timestamp;
use shared::viber::client::{ViberClient, ViberError};
use shared::viber::reply;
use tracing::Instrument;

/// The outbound queue's `maxReceiveCount` when `OUTBOUND_MAX_RECEIVES` does not say.
pub const DEFAULT_MAX_RECEIVES: u32 = 5;
pub const MAX_RECEIVES_VARIABLE: &str = "OUTBOUND_MAX_RECEIVES";
/// How long a media link handed to Viber stays valid: Viber may fetch it late (a client who is
/// offline downloads it when they come back), so hours rather than minutes.
pub const MEDIA_URL_LIFETIME_SECONDS: i64 = 24 * 3600;
/// How often a sent part's token is written before the record is given up to a retry.
const RECORD_ATTEMPTS: u32 = 3;

/// `OUTBOUND_MAX_RECEIVES` (the outbound queue's `maxReceiveCount`), default 5.
pub fn max_receives_from_env() -> Result<u32, String> {
    shared::config::max_receives(MAX_RECEIVES_VARIABLE, DEFAULT_MAX_RECEIVES)
}

/// Why a job is to be retried (the record is reported as failed; the comment stays `queued`).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("attachment storage: {0}")]
    Blob(String),
    /// A retryable Viber answer (rate limit, 5xx, timeout, unknown code), not the last receive.
    #[error("{0}")]
    Viber(String),
}

/// What became of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every part was accepted by Viber; `newly_sent` of them on this attempt.
    Sent { parts: usize, newly_sent: usize },
    /// The comment was marked `failed` with this reason; not retried.
    Failed(String),
    /// Acknowledged without effect (unknown comment, already sent or failed, …).
    Ignored(&'static str),
}

pub struct Sender {
    pub replies: Arc<dyn ReplyStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub tasks: Arc<dyn TaskStore>,
    pub contacts: Arc<dyn ContactStore>,
    pub staff: Arc<dyn StaffStore>,
    pub integrations: Arc<IntegrationCache>,
    /// The attachments bucket: media links are presigned GET URLs into it.
    pub blobs: Arc<dyn BlobStore>,
    pub viber: ViberClient,
    /// The outbound queue's `maxReceiveCount`: on that receive a retryable failure marks the
    /// comment `failed` instead of failing the record.
    pub max_receives: u32,
}

impl Sender {
    /// A standard-queue batch: every record on its own; a record whose job should be retried is
    /// reported as a batch item failure. Panics are caught per record.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for record in event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let receive_count = record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|count| count.parse().ok())
                .unwrap_or(1);
            let body = record.body.unwrap_or_default();
            let job = match OutboundJob::from_json(&body) {
                Ok(job) => job,
                Err(error) => {
                    tracing::error!(message_id = %id, %error, "the queue message is not an outbound job; dropped");
                    continue;
                }
            };
            let span = tracing::info_span!(
                "outbound_job",
                message_id = %id,
                task_id = %job.task_id,
                comment_id = %job.comment_id,
                receive_count
            );
            let outcome = AssertUnwindSafe(self.send(&job, receive_count).instrument(span.clone()))
                .catch_unwind()
                .await;
            let _entered = span.enter();
            let failed = match outcome {
                Ok(Ok(outcome)) => {
                    tracing::info!(?outcome, "reply processed");
                    false
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "reply not sent yet; it will be retried");
                    true
                }
                Err(_) => {
                    tracing::error!("reply panicked; it will be retried");
                    true
                }
            };
            if failed {
                response.batch_item_failures.push(failure(id));
            }
        }
        response
    }

    /// Sends one reply, delivered for the `receive_count`-th time (SQS's
    /// `ApproximateReceiveCount`, from 1). `Err` means "retry later".
    pub async fn send(&self, job: &OutboundJob, receive_count: u32) -> Result<Outcome, SendError> {
        let target = PartRef {
            task_id: job.task_id.clone(),
            comment_id: job.comment_id.clone(),
        };
        let Some(OutgoingReply { comment, sent_parts }) = self.replies.get_reply(&target).await? else {
            tracing::warn!("job for an unknown comment acknowledged");
            return Ok(Outcome::Ignored("unknown comment"));
        };
        if comment.status != CommentStatus::Queued {
            return Ok(Outcome::Ignored("not queued"));
        }
        let prepared = match self.prepare(&comment).await? {
            Ok(prepared) => prepared,
            Err(reason) => return self.fail(&target, reason).await,
        };
        let Prepared { integration, messages } = prepared;
        let total = messages.len();
        let mut newly_sent = 0;
        for (index, message) in messages.iter().enumerate() {
            if sent_parts.contains_key(&index) {
                continue;
            }
            match self.viber.send_message(&integration.auth_token, message).await {
                Ok(sent) => {
                    self.record_sent(&target, index, sent.message_token).await?;
                    self.deliveries
                        .record_part(&integration.id, sent.message_token, &target)
                        .await?;
                    newly_sent += 1;
                }
                Err(error) => {
                    let problem = Problem::of(&error);
                    if !problem.retryable {
                        return self.fail(&target, problem.reason).await;
                    }
                    if receive_count >= self.max_receives {
                        let reason = format!("{}; gave up after {receive_count} attempts", problem.reason);
                        return self.fail(&target, reason).await;
                    }
                    let waiting = format!("{}: waiting to retry", problem.reason);
                    self.replies.note_waiting(&target, &waiting).await?;
                    return Err(SendError::Viber(waiting));
                }
            }
        }
        self.replies.finish_comment(&target, CommentStatus::Sent, None).await?;
        Ok(Outcome::Sent {
            parts: total,
            newly_sent,
        })
    }

    /// Records a part's token. Viber accepted the part, so losing its token would send it again
    /// on the retry: a storage hiccup is retried here a few times before giving up.
    async fn record_sent(&self, target: &PartRef, index: usize, message_token: u64) -> Result<(), StoreError> {
        let mut attempt = 1;
        loop {
            match self.replies.record_sent_part(target, index, message_token).await {
                Err(StoreError::Unavailable(error)) if attempt < RECORD_ATTEMPTS => {
                    tracing::warn!(index, message_token, %error, "recording a sent part failed; trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempt as u64)).await;
                    attempt += 1;
                }
                Err(error) => {
                    tracing::error!(index, message_token, %error, "a sent part's token could not be recorded");
                    return Err(error);
                }
                Ok(()) => return Ok(()),
            }
        }
    }

    async fn fail(&self, target: &PartRef, reason: String) -> Result<Outcome, SendError> {
        self.replies
            .finish_comment(target, CommentStatus::Failed, Some(&reason))
            .await?;
        tracing::warn!(%reason, "reply failed");
        Ok(Outcome::Failed(reason))
    }

    /// Everything needed to send: the integration and the messages. `Ok(Err(reason))` when the
    /// reply can never be sent (a permanent failure); `Err` when reading failed (retry).
    async fn prepare(&self, comment: &shared::model::Comment) -> Result<Result<Prepared, String>, SendError> {
        let Some(task) = self.tasks.get_task(&comment.task_id).await? else {
            return Ok(Err("the task no longer exists".to_owned()));
        };
        let Some(lookup) = self.integrations.get(&task.integration_id).await? else {
            return Ok(Err("the task's Viber bot is no longer connected".to_owned()));
        };
        let integration = lookup.integration;
        let Some(contact) = self.contacts.get_contact(&task.requester_id).await? else {
            return Ok(Err("the client of this task is unknown".to_owned()));
        };
        let staff = self.author(comment, &integration).await?;
        let sender = reply::sender_for(&integration.bot, integration.options.send_as_staff, staff.as_ref());
        let mut attachments = Vec::with_capacity(comment.attachment_ids.len());
        for id in &comment.attachment_ids {
            let Some(attachment) = self.tasks.get_attachment(id).await? else {
                return Ok(Err(format!("attachment {id} no longer exists")));
            };
            match self.media_url(&attachment).await {
                Ok(url) => attachments.push((attachment, url)),
                Err(BlobError::NotFound(_)) => {
                    return Ok(Err(format!("\"{}\" is no longer stored", attachment.file_name)));
                }
                Err(BlobError::Unavailable(error)) => return Err(SendError::Blob(error)),
            }
        }
        let messages = reply::build_messages(
            &contact.viber_user_id,
            sender,
            comment.text.as_deref(),
            &attachments,
            None,
        );
        Ok(match messages {
            Ok(messages) => Ok(Prepared {
                integration: (*integration).clone(),
                messages,
            }),
            Err(error) => Err(error.to_string()),
        })
    }

    /// The replying staff member, read only when the reply is to show them as its sender.
    async fn author(
        &self,
        comment: &shared::model::Comment,
        integration: &Integration,
    ) -> Result<Option<StaffMember>, StoreError> {
        if !integration.options.send_as_staff || comment.author.kind != AuthorKind::Staff {
            return Ok(None);
        }
        match StaffId::parse(&comment.author.id) {
            Ok(id) => self.staff.get_staff(&id).await,
            Err(_) => Ok(None),
        }
    }

    /// A presigned GET URL valid for hours; unavailable attachments get none (`build_messages`
    /// refuses them with their reason).
    async fn media_url(&self, attachment: &Attachment) -> Result<String, BlobError> {
        if !attachment.available {
            return Ok(String::new());
        }
        let expires_at = Timestamp::now().plus_seconds(MEDIA_URL_LIFETIME_SECONDS);
        self.blobs
            .presign_get(&attachment.blob_key, &attachment.file_name, expires_at)
            .await
    }
}

struct Prepared {
    integration: Integration,
    messages: Vec<shared::viber::outbound::OutboundMessage>,
}

/// A failed `send_message` as the staff member should read it, and whether a later attempt may
/// succeed (API.md §11: the numeric status decides, never the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub reason: String,
    pub retryable: bool,
}

impl Problem {
    pub fn of(error: &ViberError) -> Problem {
        let (status, message) = match error {
            ViberError::Transport(detail) => {
                return Problem {
                    reason: format!("Viber could not be reached ({detail})"),
                    retryable: true,
                };
            }
            ViberError::Api { status, message } => (*status, message.as_str()),
        };
        let permanent = |text: &str| Problem {
            reason: text.to_owned(),
            retryable: false,
        };
        match status {
            2 => permanent("Viber refused the bot's token (invalid auth token); reconnect the integration"),
            3 | 4 | 14 | 16 | 17 | 18 | 20 | 22 => Problem {
                reason: format!("Viber refused the message as invalid (status {status}: {message})"),
                retryable: false,
            },
            5 => permanent("the client is not a Viber user (receiver not registered)"),
            6 => permanent("the client is not subscribed to the bot (they must write to it again)"),
            7 => permanent("the bot is blocked by Viber"),
            8 => permanent("the bot's Viber account was not found"),
            9 => permanent("the bot is suspended by Viber"),
            10 => permanent("the bot has no webhook set in Viber; reconnect the integration"),
            11 => permanent("the client's device or Viber version does not support bots"),
            12 => Problem {
                reason: "Viber rate limit (too many messages without a reply from the client)".to_owned(),
                retryable: true,
            },
            13 => permanent("the client's Viber version is too old for this message"),
            15 => permanent("the bot is not authorized by Viber"),
            19 => Problem {
                reason: format!("Viber could not send the message (status 19: {message})"),
                retryable: true,
            },
            21 => permanent("Viber does not deliver bot messages to the client's country"),
            23 => permanent("the bot has used up its free Viber messages for this month"),
            24 => permanent("the bot's Viber account has no balance left"),
            _ => Problem {
                reason: format!("Viber answered an unknown error (status {status}: {message})"),
                retryable: true,
            },
        }
    }
}

fn failure(id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = id;
    failure
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: i64) -> ViberError {
        ViberError::Api {
            status,
            message: "x".into(),
        }
    }

    #[test]
    fn the_numeric_status_decides_whether_to_retry() {
        for status in [12, 19, 25, 999, -1] {
            assert!(Problem::of(&api(status)).retryable, "{status}");
        }
        for status in [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 21, 23, 24] {
            assert!(!Problem::of(&api(status)).retryable, "{status}");
        }
        assert!(Problem::of(&ViberError::Transport("HTTP 503".into())).retryable);
        assert!(Problem::of(&api(6)).reason.contains("not subscribed"));
    }
}
