use std::sync::Arc;

use api::Api;
use api::admin::Admin;
use lambda_http::{Error, service_fn};
use shared::aws::{DynamoStore, S3BlobStore, SqsQueue, load_sdk_config};
use shared::config::required;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_json();
    let sdk = load_sdk_config().await;
    let store = Arc::new(DynamoStore::from_config(&sdk, required("TABLE_NAME")?));
    let blobs = Arc::new(S3BlobStore::from_config(&sdk, required("ATTACHMENTS_BUCKET")?));
    let outbound = Arc::new(SqsQueue::from_config(&sdk, required("OUTBOUND_QUEUE_URL")?));
    store.warm_up().await;
    // Without PUBLIC_BASE_URL, webhook URLs are built from the Host the API was called at.
    let admin = Admin::new(
        store.clone(),
        &shared::config::viber_api_url(),
        shared::config::public_base_url(),
    );
    let api = Api::new(store, blobs, outbound, admin);
    lambda_http::run(service_fn(|request| async {
        Ok::<_, Error>(api.handle(request).await)
    }))
    .await
}
