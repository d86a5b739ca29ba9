use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use processor::Processor;
use shared::aws::{DynamoStore, S3BlobStore, load_sdk_config, s3_client};
use shared::cache::{DEFAULT_TTL, IntegrationCache};
use shared::config::required;
use shared::media::{MAX_MEDIA_BYTES, MediaFetcher};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_json();
    let sdk = load_sdk_config().await;
    let store = Arc::new(DynamoStore::from_config(&sdk, required("TABLE_NAME")?));
    let blobs = Arc::new(S3BlobStore::new(s3_client(&sdk), required("ATTACHMENTS_BUCKET")?));
    let processor = Processor {
        integrations: Arc::new(IntegrationCache::new(store.clone(), DEFAULT_TTL)),
        contacts: store.clone(),
        messages: store.clone(),
        deliveries: store.clone(),
        staff: store,
        blobs,
        media: MediaFetcher::new(),
        max_receives: processor::max_receives_from_env()?,
        max_media_bytes: MAX_MEDIA_BYTES,
    };
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(processor.handle_batch(event.payload).await)
    }))
    .await
}
