use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use processor::Processor;
use processor::config::Config;
use shared::aws::{DynamoStore, SqsQueue, load_sdk_config};
use shared::retry::postpone_retries;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    shared::telemetry::init_json(config.log_filter.as_deref());
    let sdk = load_sdk_config().await;
    let store = Arc::new(DynamoStore::from_config(&sdk, config.table_name));
    let media_jobs = Arc::new(SqsQueue::from_config(&sdk, config.media_queue_url));
    let inbound = SqsQueue::from_config(&sdk, config.inbound_queue_url);
    let processor = Processor::new(store, media_jobs, config.max_receives);
    let policy = processor.retry_policy();
    let (processor, inbound, policy) = (&processor, &inbound, &policy);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let (response, retries) = processor.handle_batch_with_retries(event.payload).await;
        // The back-off: a failed record comes back after a growing, jittered delay instead of the
        // queue's visibility timeout, holding the client's later messages back no longer.
        postpone_retries(inbound, policy, &retries).await;
        Ok::<_, Error>(response)
    }))
    .await
}
