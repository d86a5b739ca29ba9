use std::sync::Arc;
use std::time::{Instant, SystemTime};

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use sender::Sender;
use sender::config::Config;
use shared::aws::{DynamoStore, S3BlobStore, SqsQueue, load_sdk_config, s3_client};
use shared::retry::postpone_retries;
use shared::viber::client::ViberClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    shared::telemetry::init_json(config.log_filter.as_deref());
    let sdk = load_sdk_config().await;
    let store = Arc::new(DynamoStore::from_config(&sdk, config.table_name));
    let blobs = Arc::new(S3BlobStore::new(s3_client(&sdk), config.attachments_bucket));
    let outbound = SqsQueue::from_config(&sdk, config.outbound_queue_url);
    store.warm_up().await;
    let sender = Sender::new(
        store,
        blobs,
        ViberClient::with_timeout(&config.viber_api_url, sender::VIBER_TIMEOUT),
        config.max_receives,
    );
    let policy = sender.retry_policy();
    let (sender, outbound, policy) = (&sender, &outbound, &policy);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        // The invocation's deadline, on the monotonic clock: no part is started that could not
        // finish before Lambda ends the invocation.
        let left = event
            .context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let deadline = Instant::now() + left;
        let (response, retries) = sender.handle_batch_until(event.payload, Some(deadline)).await;
        // The back-off: a failed record comes back after a growing, jittered delay instead of the
        // queue's fixed visibility timeout.
        postpone_retries(outbound, policy, &retries).await;
        Ok::<_, Error>(response)
    }))
    .await
}
