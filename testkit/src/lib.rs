//! Test support shared by every crate's tests: Viber's fixtures and signatures, a fake Viber API
//! on loopback, the moto harness for the AWS adapters, `viberdesk-local` as a process with its
//! HTTP helpers, a store with faults on purpose, the check of a typed `Config`, and the property
//! tests' generators and checks.

pub mod build;
pub mod config;
pub mod fake_viber;
pub mod faulty;
pub mod fixtures;
pub mod local;
pub mod media_server;
pub mod moto;
pub mod properties;
pub mod proxy;

pub use fake_viber::FakeViber;
pub use media_server::MediaServer;
pub use proxy::CuttableProxy;

/// A plain HTTP client for tests (installs the process's TLS crypto provider first).
pub fn http_client() -> reqwest::Client {
    shared::tls::install_crypto_provider();
    reqwest::Client::new()
}

/// A fresh DynamoDB store on its own moto table (each suite test gets one).
pub async fn moto_store() -> shared::aws::DynamoStore {
    let config = moto::sdk_config().await;
    shared::aws::DynamoStore::from_config(&config, moto::table(&config).await)
}

/// Runs a store behaviour suite on both adapters: for each listed `async fn name(store: &S)` of
/// the calling module, one `#[tokio::test]` in module `memory` (a fresh `MemoryStore`) and one in
/// module `dynamodb` (a fresh table on moto, `VIBERDESK_MOTO_ENDPOINT`).
#[macro_export]
macro_rules! store_suites {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(&::shared::memory::MemoryStore::new()).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(&$crate::moto_store().await).await;
                }
            )*
        }
    };
}
