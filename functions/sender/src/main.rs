use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use sender::Sender;
use shared::aws::{DynamoStore, S3BlobStore, SqsQueue, load_sdk_config, s3_client};
use shared::cache::{DEFAULT_TTL, IntegrationCache};
use shared::config::{required, viber_api_url};
use shared::retry::random_unit;
use shared::viber::client::ViberClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_json();
    let sdk = load_sdk_config().await;
    let store = Arc::new(DynamoStore::from_config(&sdk, required("TABLE_NAME")?));
    let blobs = Arc::new(S3BlobStore::new(s3_client(&sdk), required("ATTACHMENTS_BUCKET")?));
    let outbound = SqsQueue::from_config(&sdk, required("OUTBOUND_QUEUE_URL")?);
    store.warm_up().await;
    let sender = Sender {
        integrations: Arc::new(IntegrationCache::new(store.clone(), DEFAULT_TTL)),
        replies: store,
        blobs,
        viber: ViberClient::new(&viber_api_url()),
        max_receives: sender::max_receives_from_env()?,
    };
    let (sender, outbound) = (&sender, &outbound);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let (response, retries) = sender.handle_batch_with_retries(event.payload).await;
        // The back-off: a failed record comes back after a growing, jittered delay instead of the
        // queue's fixed visibility timeout. If this fails, the visibility timeout still applies.
        for retry in retries {
            let delay = sender::BACKOFF.delay(retry.receive_count, random_unit());
            if let Err(error) = outbound.postpone(&retry.receipt_handle, delay).await {
                tracing::warn!(%error, "back-off not set; the record returns after the visibility timeout");
            }
        }
        Ok::<_, Error>(response)
    }))
    .await
}
