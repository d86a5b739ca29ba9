use std::sync::Arc;

use api::config::Config;
use api::{Api, Settings};
use lambda_http::{Error, service_fn};
use shared::aws::{DynamoStore, S3BlobStore, SqsQueue, load_sdk_config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    shared::telemetry::init_json(config.log_filter.as_deref());
    let mut settings = Settings::from(&config);
    let sdk = load_sdk_config().await;
    let store = Arc::new(DynamoStore::from_config(&sdk, config.table_name));
    let blobs = Arc::new(S3BlobStore::from_config(&sdk, config.attachments_bucket));
    // The web inbox shows and uploads files through the bucket's presigned URLs: its CSP names
    // their origin (signing is local: no request).
    settings.blob_origin = Some(blobs.url_origin().await?);
    let outbound = Arc::new(SqsQueue::from_config(&sdk, config.outbound_queue_url));
    store.warm_up().await;
    let api = Api::new(store, blobs, outbound, settings);
    lambda_http::run(service_fn(|request| async {
        Ok::<_, Error>(api.handle(request).await)
    }))
    .await
}
