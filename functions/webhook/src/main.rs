use std::sync::Arc;

use lambda_http::{Error, service_fn};
use shared::aws::{DynamoStore, SqsQueue, load_sdk_config};
use shared::config::required;
use webhook::Webhook;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_json();
    let sdk = load_sdk_config().await;
    let store = DynamoStore::from_config(&sdk, required("TABLE_NAME")?);
    let queue = SqsQueue::from_config(&sdk, required("INBOUND_QUEUE_URL")?);
    tokio::join!(store.warm_up(), queue.warm_up());
    let webhook = Webhook::new(Arc::new(store), Arc::new(queue));
    lambda_http::run(service_fn(|request| async {
        Ok::<_, Error>(webhook.handle(request).await)
    }))
    .await
}
