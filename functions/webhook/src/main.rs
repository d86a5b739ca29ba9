use std::sync::Arc;

use lambda_http::{Error, service_fn};
use shared::aws::{DynamoStore, SqsQueue, load_sdk_config};
use webhook::Webhook;
use webhook::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    shared::telemetry::init_json(config.log_filter.as_deref());
    let sdk = load_sdk_config().await;
    let store = DynamoStore::from_config(&sdk, config.table_name);
    let queue = SqsQueue::from_config(&sdk, config.inbound_queue_url);
    tokio::join!(store.warm_up(), queue.warm_up());
    let webhook = Webhook::new(Arc::new(store), Arc::new(queue));
    lambda_http::run(service_fn(|request| async {
        Ok::<_, Error>(webhook.handle(request).await)
    }))
    .await
}
