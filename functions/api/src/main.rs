use std::sync::Arc;

use api::Api;
use api::admin::Admin;
use lambda_http::{Error, service_fn};
use shared::aws::{DynamoStore, S3BlobStore, load_sdk_config};
use shared::config::required;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_json();
    let sdk = load_sdk_config().await;
    let store = Arc::new(DynamoStore::from_config(&sdk, required("TABLE_NAME")?));
    let blobs = Arc::new(S3BlobStore::from_config(&sdk, required("ATTACHMENTS_BUCKET")?));
    store.warm_up().await;
    // Without PUBLIC_BASE_URL, webhook URLs are built from the Host the API was called at.
    let public_base_url = shared::config::public_base_url();
    let api = Api {
        staff: store.clone(),
        tasks: store.clone(),
        contacts: store.clone(),
        blobs,
        admin: Admin::new(store, &shared::config::viber_api_url(), public_base_url),
    };
    lambda_http::run(service_fn(|request| async {
        Ok::<_, Error>(api.handle(request).await)
    }))
    .await
}
