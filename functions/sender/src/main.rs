use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use sender::Sender;
use shared::aws::{DynamoStore, S3BlobStore, load_sdk_config, s3_client};
use shared::cache::{DEFAULT_TTL, IntegrationCache};
use shared::config::{required, viber_api_url};
use shared::viber::client::ViberClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_json();
    let sdk = load_sdk_config().await;
    let store = Arc::new(DynamoStore::from_config(&sdk, required("TABLE_NAME")?));
    let blobs = Arc::new(S3BlobStore::new(s3_client(&sdk), required("ATTACHMENTS_BUCKET")?));
    let sender = Sender {
        integrations: Arc::new(IntegrationCache::new(store.clone(), DEFAULT_TTL)),
        replies: store.clone(),
        deliveries: store.clone(),
        tasks: store.clone(),
        contacts: store.clone(),
        staff: store,
        blobs,
        viber: ViberClient::new(&viber_api_url()),
        max_receives: sender::max_receives_from_env()?,
    };
    let sender = &sender;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(sender.handle_batch(event.payload).await)
    }))
    .await
}
