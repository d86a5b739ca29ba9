//! The media worker's handler (its own Lambda function, `src/bin/media-worker.rs`, on the media
//! queue): copies a client's media file, or a contact's avatar, from Viber's links into the
//! attachments bucket and records the copy. The processor stores the message at once with the
//! file pending and queues the copy here, so a download of up to 50 MB (a minute at worst) sets
//! neither the processor's timeout nor the inbound queue's visibility timeout, and never holds
//! back the client's next message (docs/deploy.md, "Queues, retries and dead letters").
//!
//! A job may arrive more than once (a standard queue; the processor queues it again with each
//! delivery of the message): a file already copied is not fetched again, and the object's key is
//! derived from the message, so a second copy overwrites the same object.

pub mod config;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::FutureExt;
use shared::ids::{AttachmentId, ContactId};
use shared::media::{self, MediaError, MediaFetcher, MediaJob};
use shared::model::{Attachment, StoredAvatar};
use shared::ports::{BlobError, BlobStore, MediaWorkerStore, StoreError};
use shared::retry::{Backoff, Retry, RetryPolicy};
use shared::viber::attachments;

/// The media queue's `maxReceiveCount` when `MEDIA_MAX_RECEIVES` does not say.
pub const DEFAULT_MAX_RECEIVES: u32 = 5;

/// The back-off of a failed copy: 10 s, 20 s, 40 s, 80 s (with jitter), so the fifth and last
/// attempt comes 75–150 s after the first: time for a hiccup of Viber's media servers to pass,
/// well within the hour Viber's link lives. Nothing waits behind a job (the media queue keeps
/// no order), so the delays can be longer than the processor's.
pub const BACKOFF: Backoff = Backoff {
    first: Duration::from_secs(10),
    max: Duration::from_secs(300),
};

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the queue message is not a media job: {0}")]
    Job(serde_json::Error),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Media(#[from] MediaError),
    #[error("{0}")]
    Blob(#[from] BlobError),
}

impl CopyError {
    /// Whether a later attempt may succeed: everything but a download that never will (expired
    /// link, file over the limit) or a job that does not parse.
    pub fn is_retryable(&self) -> bool {
        match self {
            CopyError::Media(error) => error.is_retryable(),
            CopyError::Job(_) => false,
            CopyError::Store(_) | CopyError::Blob(_) => true,
        }
    }
}

/// What became of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyOutcome {
    Copied,
    /// An earlier delivery of the job copied it: nothing done.
    AlreadyCopied,
    /// It cannot be copied (an expired link, a file over the limit): recorded so, with the
    /// reason staff see.
    GivenUp,
    /// Nothing to copy any more (the contact has another picture by now, or no such record).
    Ignored(&'static str),
}

pub struct MediaWorker {
    store: Arc<dyn MediaWorkerStore>,
    /// The attachments bucket.
    blobs: Arc<dyn BlobStore>,
    /// Downloads from Viber's links.
    pub fetcher: MediaFetcher,
    /// The media queue's `maxReceiveCount`: on that receive a copy that keeps failing is given
    /// up on (the file is recorded unavailable with the reason, the job goes to the media DLQ).
    pub max_receives: u32,
    /// The largest media file copied (`shared::media::MAX_MEDIA_BYTES`).
    pub max_media_bytes: u64,
}

impl MediaWorker {
    /// The worker of a media queue with `max_receives` (its `maxReceiveCount`).
    pub fn new(store: Arc<dyn MediaWorkerStore>, blobs: Arc<dyn BlobStore>, max_receives: u32) -> Self {
        Self {
            store,
            blobs,
            fetcher: MediaFetcher::new(),
            max_receives,
            max_media_bytes: media::MAX_MEDIA_BYTES,
        }
    }

    /// How its failed jobs come back: [`BACKOFF`], up to its queue's `maxReceiveCount`.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            backoff: BACKOFF,
            max_receives: self.max_receives,
        }
    }

    /// A batch of jobs, side by side (their order does not matter). A job that fails is
    /// reported (the queue retries it, after [`BACKOFF`]); panics are caught per job.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        self.handle_batch_with_retries(event).await.0
    }

    /// As [`MediaWorker::handle_batch`], also returning each failed job for
    /// `shared::retry::postpone_retries`.
    pub async fn handle_batch_with_retries(&self, event: SqsEvent) -> (SqsBatchResponse, Vec<Retry>) {
        let results =
            futures::future::join_all(event.records.into_iter().map(|record| self.handle_record(record))).await;
        let mut response = SqsBatchResponse::default();
        let mut retries = Vec::new();
        for (failure, retry) in results.into_iter().flatten() {
            response.batch_item_failures.push(failure);
            retries.extend(retry);
        }
        (response, retries)
    }

    async fn handle_record(&self, record: SqsMessage) -> Option<(BatchItemFailure, Option<Retry>)> {
        let id = record.message_id.clone().unwrap_or_default();
        let receive_count = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse().ok())
            .unwrap_or(1);
        let body = record.body.unwrap_or_default();
        let error = match AssertUnwindSafe(self.copy(&body, receive_count)).catch_unwind().await {
            Ok(Ok(outcome)) => {
                tracing::debug!(message_id = %id, ?outcome, "media job done");
                return None;
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => "the job panicked".to_owned(),
        };
        if receive_count >= self.max_receives {
            // The redrive policy moves it to the media DLQ on its next receive, and the DLQ
            // alarm fires (docs/deploy.md "Queues, retries and dead letters").
            tracing::error!(message_id = %id, receive_count, %error, "media job failed on its last receive; it goes to the DLQ");
        } else {
            tracing::warn!(message_id = %id, receive_count, %error, "media job failed; it will be retried");
        }
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        let retry = record
            .receipt_handle
            .map(|receipt_handle| Retry::new(receipt_handle, receive_count));
        Some((failure, retry))
    }

    /// Runs one queued job, delivered for the `receive_count`-th time (SQS's
    /// `ApproximateReceiveCount`, from 1).
    pub async fn copy(&self, body: &str, receive_count: u32) -> Result<CopyOutcome, CopyError> {
        let job: MediaJob = serde_json::from_str(body).map_err(CopyError::Job)?;
        match job {
            MediaJob::Attachment {
                attachment_id,
                url,
                message_type,
                file_name,
                size,
            } => {
                let source = Source {
                    url: &url,
                    message_type: &message_type,
                    file_name: file_name.as_deref(),
                    size,
                };
                self.copy_attachment(&attachment_id, &source, receive_count).await
            }
            MediaJob::Avatar { contact_id, source_url } => {
                self.copy_avatar(&contact_id, &source_url, receive_count).await
            }
        }
    }

    /// Copies a client's file into the bucket and records it available. A failure that may pass
    /// fails the job (retried) until its last receive; then, and at once for one that cannot
    /// pass, the attachment is recorded unavailable with the reason (and a job that failed on its
    /// last receive still fails, so it lands in the DLQ, alarmed).
    async fn copy_attachment(
        &self,
        id: &AttachmentId,
        source: &Source<'_>,
        receive_count: u32,
    ) -> Result<CopyOutcome, CopyError> {
        let Some(stored) = self.store.get_attachment(id).await? else {
            tracing::warn!(attachment_id = %id, "media job for an unknown attachment dropped");
            return Ok(CopyOutcome::Ignored("unknown attachment"));
        };
        if stored.available {
            return Ok(CopyOutcome::AlreadyCopied);
        }
        let error = match self.copy_file(id, source, &stored).await {
            Ok(copied) => {
                self.store.record_media_copy(&copied).await?;
                return Ok(CopyOutcome::Copied);
            }
            Err(error) => error,
        };
        let retryable = error.is_retryable();
        if retryable && receive_count < self.max_receives {
            return Err(error);
        }
        let reason = match &error {
            CopyError::Media(error) if !retryable => format!("The file could not be copied from Viber: {error}."),
            CopyError::Media(error) => {
                format!("The file could not be copied from Viber after {receive_count} attempts: {error}.")
            }
            CopyError::Blob(error) => format!("The file could not be stored after {receive_count} attempts: {error}."),
            other => format!("The file could not be copied: {other}."),
        };
        let given_up = Attachment {
            available: false,
            unavailable_reason: Some(reason),
            ..stored
        };
        self.store.record_media_copy(&given_up).await?;
        if retryable {
            return Err(error);
        }
        tracing::info!(attachment_id = %id, %error, "media cannot be copied; recorded unavailable");
        Ok(CopyOutcome::GivenUp)
    }

    /// Downloads the file and puts it in the bucket: the attachment as copied (named and typed
    /// by what the download said, where Viber said nothing).
    async fn copy_file(
        &self,
        id: &AttachmentId,
        source: &Source<'_>,
        stored: &Attachment,
    ) -> Result<Attachment, CopyError> {
        let fetched = self.download(source).await?;
        let file_name = attachments::display_file_name(
            source.file_name,
            source.url,
            source.message_type,
            fetched.content_type.as_deref(),
        );
        let content_type = fetched
            .content_type
            .filter(|t| !attachments::is_generic_content_type(t))
            .unwrap_or_else(|| attachments::guess_content_type(&file_name).to_owned());
        let url_extension =
            attachments::url_file_name(source.url).and_then(|name| attachments::extension(&name).map(str::to_owned));
        let blob_key = attachments::attachment_key(id, &file_name, url_extension.as_deref());
        let size = fetched.bytes.len() as u64;
        self.blobs.put(&blob_key, fetched.bytes, &content_type).await?;
        Ok(Attachment {
            id: id.clone(),
            file_name,
            content_type,
            size,
            available: true,
            unavailable_reason: None,
            awaiting_upload: false,
            blob_key,
            created_at: stored.created_at,
        })
    }

    /// Refuses without a request a file Viber says is over the limit.
    async fn download(&self, source: &Source<'_>) -> Result<media::Fetched, MediaError> {
        if let Some(size) = source.size.filter(|size| *size > self.max_media_bytes) {
            return Err(MediaError::TooLarge {
                limit: self.max_media_bytes,
                size: Some(size),
            });
        }
        self.fetcher.fetch(source.url, self.max_media_bytes).await
    }

    /// Copies the contact's Viber avatar into the bucket and records it on the contact (and its
    /// current task), while the contact's picture is still that one. One that can never be
    /// copied (an expired link, over the limit) is recorded without a copy: the inbox shows
    /// initials. One that keeps failing is given up on at the last receive (the job goes to the
    /// DLQ); the contact's next profile queues it again.
    async fn copy_avatar(
        &self,
        contact_id: &ContactId,
        source_url: &str,
        receive_count: u32,
    ) -> Result<CopyOutcome, CopyError> {
        let Some(contact) = self.store.get_contact(contact_id).await? else {
            return Ok(CopyOutcome::Ignored("unknown contact"));
        };
        if contact.avatar_url.as_deref() != Some(source_url) {
            return Ok(CopyOutcome::Ignored("the contact has another picture"));
        }
        if contact.avatar.as_ref().is_some_and(|a| a.source_url == source_url) {
            return Ok(CopyOutcome::AlreadyCopied);
        }
        let blob_key = media::avatar_key(contact_id, source_url);
        let (blob_key, outcome) = match self.fetcher.fetch(source_url, media::AVATAR_MAX_BYTES).await {
            Ok(fetched) => {
                let content_type = fetched.content_type.unwrap_or_else(|| "image/jpeg".to_owned());
                self.blobs.put(&blob_key, fetched.bytes, &content_type).await?;
                (Some(blob_key), CopyOutcome::Copied)
            }
            Err(error) if error.is_retryable() => {
                tracing::warn!(%contact_id, receive_count, %error, "avatar not copied");
                return Err(error.into());
            }
            Err(error) => {
                tracing::info!(%contact_id, %error, "avatar cannot be copied; the inbox shows initials");
                (None, CopyOutcome::GivenUp)
            }
        };
        let avatar = StoredAvatar {
            source_url: source_url.to_owned(),
            blob_key,
        };
        if self.store.record_avatar_copy(contact_id, &avatar).await? {
            Ok(outcome)
        } else {
            Ok(CopyOutcome::Ignored("the contact has another picture"))
        }
    }
}

/// What Viber said of a client's file.
struct Source<'a> {
    url: &'a str,
    message_type: &'a str,
    file_name: Option<&'a str>,
    size: Option<u64>,
}
