//! The media worker Lambda: consumes the media queue (`processor::media`).

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use processor::media::MediaWorker;
use processor::media::config::Config;
use shared::aws::{DynamoStore, S3BlobStore, SqsQueue, load_sdk_config, s3_client};
use shared::retry::postpone_retries;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    shared::telemetry::init_json(config.log_filter.as_deref());
    let sdk = load_sdk_config().await;
    let store = Arc::new(DynamoStore::from_config(&sdk, config.table_name));
    let blobs = Arc::new(S3BlobStore::new(s3_client(&sdk), config.attachments_bucket));
    let queue = SqsQueue::from_config(&sdk, config.media_queue_url);
    let worker = MediaWorker::new(store, blobs, config.max_receives);
    let policy = worker.retry_policy();
    let (worker, queue, policy) = (&worker, &queue, &policy);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let (response, retries) = worker.handle_batch_with_retries(event.payload).await;
        postpone_retries(queue, policy, &retries).await;
        Ok::<_, Error>(response)
    }))
    .await
}
