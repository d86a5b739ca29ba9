//! The sender Lambda's handler: turns a queued staff reply into Viber messages (docs/outbox.md).
//! Each part's `message_token` is recorded as soon as Viber returns it, and a part that has one
//! is never sent again, however often the job is delivered.
//!
//! Each job has a deadline (its Lambda invocation's, or [`JOB_BUDGET`] in the local stack): a
//! part is started only when it can finish before it, and the parts left are handed back as a
//! retry, so the function's timeout, and with it the queue's visibility timeout, stays short
//! (docs/deploy.md, "Memory and timeouts").
//!
//! The reply's comment carries its [`OutboundPlan`] (receiver, sender, attachments), fixed by the
//! staff API, so a reply costs one read and one write per part; the bot comes from the
//! integration cache.

pub mod config;
mod unrecorded;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::FutureExt;
use shared::cache::{DEFAULT_TTL, IntegrationCache};
use shared::model::{Attachment, CommentStatus, OutboundPlan};
use shared::outbound::OutboundJob;
use shared::ports::{BlobError, BlobStore, OutgoingReply, PartRef, SenderStore, SentPart, StoreError};
use shared::retry::{Backoff, Retry, RetryPolicy};
use shared::time::Timestamp;
use shared::viber::client::ViberClient;
use shared::viber::message::OutboundMessage;
use shared::viber::policy::Problem;
use shared::viber::reply;
use tracing::Instrument;
use unrecorded::UnrecordedTokens;

/// The outbound queue's `maxReceiveCount` when `OUTBOUND_MAX_RECEIVES` does not say.
pub const DEFAULT_MAX_RECEIVES: u32 = 5;
/// How long a media link handed to Viber stays valid: Viber may fetch it late (a client who is
/// offline downloads it when they come back), so hours rather than minutes.
pub const MEDIA_URL_LIFETIME_SECONDS: i64 = 24 * 3600;
/// How often a sent part's token is written before the record is given up to a retry.
const RECORD_ATTEMPTS: u32 = 3;
/// A job's time: the sender Lambda's timeout (infra/template.yaml), and each job's budget in the
/// local stack. The outbound queue's visibility timeout is 6 × this (48 s, as AWS recommends for
/// an SQS event source), so a reply whose sender died mid-send is received again within a minute.
pub const JOB_BUDGET: Duration = Duration::from_secs(8);
/// The sender's Viber client timeout: long enough for a media message (Viber fetches nothing
/// while we wait, it answers in well under a second), short enough that a part fits in
/// [`JOB_BUDGET`] with time to spare.
pub const VIBER_TIMEOUT: Duration = Duration::from_secs(5);
/// The time kept after a part's Viber call to record its token ([`RECORD_ATTEMPTS`] writes
/// with their pauses): a part is started only when its call and this fit before the deadline.
const RECORD_ALLOWANCE: Duration = Duration::from_secs(1);
/// Pauses before re-reading a comment that is not stored yet: the API writes it right after
/// queueing the job, so it is usually there a moment later (no retry through the queue).
const NOT_STORED_PAUSES: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(400)];
/// The back-off of a retried reply in AWS (the record's visibility timeout is changed to it):
/// 5 s, 10 s, 20 s, 40 s … up to 5 minutes, with jitter. With 5 receives a reply that Viber keeps
/// refusing with a retryable status ends `failed` after about a minute.
pub const BACKOFF: Backoff = Backoff {
    first: Duration::from_secs(5),
    max: Duration::from_secs(300),
};

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
    /// The job arrived before its comment was written (the API queues first).
    #[error("the comment is not stored yet")]
    NotStoredYet,
    /// The job's deadline leaves no time for the next part: the parts sent are recorded, the
    /// rest go on the next receive.
    #[error("{sent} of {total} parts sent; the job's time is up, the rest go on the next attempt")]
    OutOfTime { sent: usize, total: usize },
}

/// What became of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every part was accepted by Viber; `newly_sent` of them on this attempt.
    Sent { parts: usize, newly_sent: usize },
    /// The comment was marked `failed` with this reason; not retried.
    Failed(String),
    /// A retryable failure on the queue's last allowed receive: the comment was marked `failed`
    /// with this reason, and the record is reported failed so the queue moves it to the DLQ
    /// (where the alarm sees it).
    GaveUp(String),
    /// Acknowledged without effect (comment never stored, already sent or failed, …).
    Ignored(&'static str),
}

pub struct Sender {
    store: Arc<dyn SenderStore>,
    /// The integrations, read through the store.
    integrations: Arc<IntegrationCache>,
    /// The attachments bucket: media links are presigned GET URLs into it.
    blobs: Arc<dyn BlobStore>,
    pub viber: ViberClient,
    /// The outbound queue's `maxReceiveCount`: on that receive a retryable failure marks the
    /// comment `failed` instead of failing the record.
    pub max_receives: u32,
    /// Each job's time ([`JOB_BUDGET`]), within the invocation's deadline when there is one.
    pub budget: Duration,
    /// Tokens of parts Viber accepted whose record failed: the retry records them, not re-sends.
    unrecorded: UnrecordedTokens,
}

impl Sender {
    /// The sender of a queue with `max_receives` (its `maxReceiveCount`). `viber`'s timeout must
    /// leave room for a part in [`JOB_BUDGET`] (such as [`VIBER_TIMEOUT`]): else no part would
    /// ever be started.
    pub fn new(store: Arc<dyn SenderStore>, blobs: Arc<dyn BlobStore>, viber: ViberClient, max_receives: u32) -> Self {
        assert!(
            viber.timeout() + RECORD_ALLOWANCE < JOB_BUDGET,
            "a Viber client timeout of {:?} leaves no part time to finish within the job's {JOB_BUDGET:?}",
            viber.timeout()
        );
        Self {
            integrations: Arc::new(IntegrationCache::new(store.clone(), DEFAULT_TTL)),
            store,
            blobs,
            viber,
            max_receives,
            budget: JOB_BUDGET,
            unrecorded: UnrecordedTokens::default(),
        }
    }

    /// Reads integrations through `cache`, shared with code that changes them (the local stack).
    pub fn with_cache(mut self, cache: Arc<IntegrationCache>) -> Self {
        self.integrations = cache;
        self
    }

    /// An SQS FIFO batch (message group = the client): a record whose job should be retried is
    /// reported as a batch item failure, and so is every later record of its group (unsent), so
    /// replies to one client keep their order. Panics are caught per record.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        self.handle_batch_with_retries(event).await.0
    }

    /// As [`Sender::handle_batch`], also returning each failed record (with the records of its
    /// group held back behind it) for `shared::retry::postpone_retries` and [`BACKOFF`].
    pub async fn handle_batch_with_retries(&self, event: SqsEvent) -> (SqsBatchResponse, Vec<Retry>) {
        self.handle_batch_until(event, None).await
    }

    /// As [`Sender::handle_batch_with_retries`], in an invocation that ends at
    /// `invocation_deadline` (the Lambda's): each job ends at its [`Sender::budget`] or then,
    /// whichever comes first.
    pub async fn handle_batch_until(
        &self,
        event: SqsEvent,
        invocation_deadline: Option<Instant>,
    ) -> (SqsBatchResponse, Vec<Retry>) {
        let mut response = SqsBatchResponse::default();
        let mut retries: Vec<Retry> = Vec::new();
        // Each failed group, with its retry's index when the record had a receipt handle.
        let mut failed_groups: HashMap<String, Option<usize>> = HashMap::new();
        for record in event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let group = record.attributes.get("MessageGroupId").cloned().unwrap_or_default();
            let receive_count = record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|count| count.parse().ok())
                .unwrap_or(1);
            if let Some(retry) = failed_groups.get(&group) {
                response.batch_item_failures.push(failure(id));
                if let (Some(index), Some(receipt_handle)) = (retry, record.receipt_handle) {
                    retries[*index].held_back.push(receipt_handle);
                }
                continue;
            }
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
            let budget_end = Instant::now() + self.budget;
            let deadline = invocation_deadline.map_or(budget_end, |invocation| invocation.min(budget_end));
            let outcome = AssertUnwindSafe(self.send_until(&job, receive_count, deadline).instrument(span.clone()))
                .catch_unwind()
                .await;
            let _entered = span.enter();
            let last_receive = receive_count >= self.max_receives;
            match outcome {
                Ok(Ok(Outcome::GaveUp(reason))) => {
                    tracing::error!(%reason, "reply failed on the last receive; the record goes to the DLQ");
                }
                Ok(Ok(outcome)) => {
                    tracing::info!(?outcome, "reply processed");
                    continue;
                }
                Ok(Err(error)) if last_receive => {
                    tracing::error!(%error, "reply not sent on the last receive; the record goes to the DLQ");
                }
                Ok(Err(error)) => tracing::warn!(%error, "reply not sent yet; it will be retried"),
                Err(_) if last_receive => {
                    tracing::error!("reply panicked on the last receive; the record goes to the DLQ");
                }
                Err(_) => tracing::error!("reply panicked; it will be retried"),
            }
            // Reported failed, and postponed (by nothing on the last receive: the record moves on
            // to the DLQ at once and the client's later replies go on, now: held back, they would
            // count receives untried and follow it to the DLQ).
            response.batch_item_failures.push(failure(id));
            let retry = record.receipt_handle.map(|receipt_handle| {
                retries.push(Retry::new(receipt_handle, receive_count));
                retries.len() - 1
            });
            if !last_receive {
                failed_groups.insert(group, retry);
            }
        }
        (response, retries)
    }

    /// How this sender's failed records come back: [`BACKOFF`], up to its queue's
    /// `maxReceiveCount`.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            backoff: BACKOFF,
            max_receives: self.max_receives,
        }
    }

    /// Sends one reply, delivered for the `receive_count`-th time (SQS's
    /// `ApproximateReceiveCount`, from 1), within [`Sender::budget`]. `Err` means "retry later".
    pub async fn send(&self, job: &OutboundJob, receive_count: u32) -> Result<Outcome, SendError> {
        self.send_until(job, receive_count, Instant::now() + self.budget).await
    }

    /// As [`Sender::send`], starting no part that could not finish before `deadline`.
    pub async fn send_until(
        &self,
        job: &OutboundJob,
        receive_count: u32,
        deadline: Instant,
    ) -> Result<Outcome, SendError> {
        let target = PartRef {
            task_id: job.task_id.clone(),
            comment_id: job.comment_id.clone(),
        };
        let Some(OutgoingReply { comment, sent_parts }) = self.stored_reply(job, &target).await? else {
            if job.may_still_be_stored(Timestamp::now()) {
                return Err(SendError::NotStoredYet);
            }
            tracing::warn!("the reply was never stored (the API's write failed); job dropped");
            return Ok(Outcome::Ignored("comment never stored"));
        };
        if comment.status != CommentStatus::Queued {
            return Ok(Outcome::Ignored("not queued"));
        }
        let Some(plan) = comment.outbound.as_ref() else {
            return self.fail(&target, "the reply names no receiver".to_owned()).await;
        };
        let Some(lookup) = self.integrations.get(&plan.integration_id).await? else {
            return self
                .fail(&target, "the task's Viber bot is no longer connected".to_owned())
                .await;
        };
        let integration = lookup.integration;
        let messages = match self.messages(plan, &integration.bot, comment.text.as_deref()).await? {
            Ok(messages) => messages,
            Err(reason) => return self.fail(&target, reason).await,
        };
        let total = messages.len();
        if plan.part_count != 0 && plan.part_count != total {
            // The reply's status counts `part_count` parts; sending another number would leave it
            // `queued` forever or call it `sent` early. Only a change of the splitting rules
            // between posting and sending can cause this.
            let reason = format!(
                "the reply was posted as {} Viber messages but would now be sent as {total}; post it again",
                plan.part_count
            );
            return self.fail(&target, reason).await;
        }
        let mut newly_sent = 0;
        let mut completed = false;
        for (index, message) in messages.iter().enumerate() {
            if sent_parts.contains_key(&index) {
                continue;
            }
            if let Some(message_token) = self.unrecorded.token(&target.comment_id, index) {
                // Viber accepted this part on an earlier attempt whose record of it failed.
                let part = SentPart {
                    comment: &target,
                    integration_id: &integration.id,
                    part_index: index,
                    message_token,
                    completes: index + 1 == total,
                };
                self.record_sent(&part).await?;
                self.unrecorded.forget(&target.comment_id, index);
                completed |= part.completes;
                continue;
            }
            if !self.has_time_for_a_part(deadline) {
                let sent = sent_parts.len() + newly_sent;
                if receive_count >= self.max_receives {
                    let reason = format!(
                        "{sent} of {total} parts sent: Viber answered too slowly to send the rest in {receive_count} attempts"
                    );
                    self.fail(&target, reason.clone()).await?;
                    return Ok(Outcome::GaveUp(reason));
                }
                return Err(SendError::OutOfTime { sent, total });
            }
            match self.viber.send_message(&integration.auth_token, message).await {
                Ok(sent) => {
                    let part = SentPart {
                        comment: &target,
                        integration_id: &integration.id,
                        part_index: index,
                        message_token: sent.message_token,
                        completes: index + 1 == total,
                    };
                    if let Err(error) = self.record_sent(&part).await {
                        self.unrecorded.remember(&target.comment_id, index, part.message_token);
                        return Err(error.into());
                    }
                    completed |= part.completes;
                    newly_sent += 1;
                }
                Err(error) => {
                    let problem = Problem::of(&error);
                    if !problem.retryable {
                        return self.fail(&target, problem.reason).await;
                    }
                    if receive_count >= self.max_receives {
                        let reason = format!("{}; gave up after {receive_count} attempts", problem.reason);
                        self.fail(&target, reason.clone()).await?;
                        return Ok(Outcome::GaveUp(reason));
                    }
                    let waiting = format!("{}; retrying", problem.reason);
                    self.store.note_waiting(&target, &waiting).await?;
                    return Err(SendError::Viber(waiting));
                }
            }
        }
        if !completed {
            self.store.finish_comment(&target, CommentStatus::Sent, None).await?;
        }
        Ok(Outcome::Sent {
            parts: total,
            newly_sent,
        })
    }

    /// Whether a part started now finishes before `deadline`, even if Viber takes its whole
    /// timeout to answer.
    fn has_time_for_a_part(&self, deadline: Instant) -> bool {
        Instant::now() + self.viber.timeout() + RECORD_ALLOWANCE <= deadline
    }

    /// The reply, re-read after short pauses while it is not stored yet.
    async fn stored_reply(&self, job: &OutboundJob, target: &PartRef) -> Result<Option<OutgoingReply>, StoreError> {
        let mut pauses = NOT_STORED_PAUSES.iter();
        loop {
            if let Some(reply) = self.store.get_reply(target).await? {
                return Ok(Some(reply));
            }
            match pauses.next() {
                Some(pause) if job.may_still_be_stored(Timestamp::now()) => tokio::time::sleep(*pause).await,
                _ => return Ok(None),
            }
        }
    }

    /// Records a part's token. Viber accepted the part, so losing its token would send it again
    /// on the retry: a storage hiccup is retried here a few times before giving up.
    async fn record_sent(&self, part: &SentPart<'_>) -> Result<(), StoreError> {
        let mut attempt = 1;
        loop {
            match self.store.record_sent_part(part).await {
                Err(StoreError::Unavailable(error)) if attempt < RECORD_ATTEMPTS => {
                    tracing::warn!(index = part.part_index, message_token = part.message_token, %error, "recording a sent part failed; trying again");
                    tokio::time::sleep(Duration::from_millis(100 * attempt as u64)).await;
                    attempt += 1;
                }
                Err(error) => {
                    tracing::error!(index = part.part_index, message_token = part.message_token, %error, "a sent part's token could not be recorded");
                    return Err(error);
                }
                Ok(()) => return Ok(()),
            }
        }
    }

    async fn fail(&self, target: &PartRef, reason: String) -> Result<Outcome, SendError> {
        self.store
            .finish_comment(target, CommentStatus::Failed, Some(&reason))
            .await?;
        tracing::warn!(%reason, "reply failed");
        Ok(Outcome::Failed(reason))
    }

    /// The Viber messages of the reply. `Ok(Err(reason))` when it can never be sent (a permanent
    /// failure); `Err` when signing a media link failed (retry).
    async fn messages(
        &self,
        plan: &OutboundPlan,
        bot: &shared::model::BotProfile,
        text: Option<&str>,
    ) -> Result<Result<Vec<OutboundMessage>, String>, SendError> {
        let sender = reply::sender_for(bot, plan.as_staff.is_some(), plan.as_staff.as_ref());
        let mut attachments = Vec::with_capacity(plan.attachments.len());
        for attachment in &plan.attachments {
            match self.media_url(attachment).await {
                Ok(url) => attachments.push((attachment.clone(), url)),
                Err(BlobError::NotFound(_)) => {
                    return Ok(Err(format!("\"{}\" is no longer stored", attachment.file_name)));
                }
                Err(BlobError::Unavailable(error)) => return Err(SendError::Blob(error)),
            }
        }
        Ok(reply::build_messages(&plan.viber_user_id, sender, text, &attachments, None).map_err(|e| e.to_string()))
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

fn failure(id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = id;
    failure
}
