use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use processor::Processor;
use processor::config::Config;
use shared::aws::{DynamoStore, S3BlobStore, load_sdk_config, s3_client};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    shared::telemetry::init_json(config.log_filter.as_deref());
    let sdk = load_sdk_config().await;
    let store = Arc::new(DynamoStore::from_config(&sdk, config.table_name));
    let blobs = Arc::new(S3BlobStore::new(s3_client(&sdk), config.attachments_bucket));
    let processor = Processor::new(store, blobs, config.max_receives);
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(processor.handle_batch(event.payload).await)
    }))
    .await
}
