//! Test support shared by every crate's tests: Viber's fixtures and signatures, a fake Viber API
//! on loopback, and the moto harness for the AWS adapters.

pub mod fake_viber;
pub mod fixtures;
pub mod media_server;
pub mod moto;

pub use fake_viber::FakeViber;
pub use media_server::MediaServer;

/// A plain HTTP client for tests (installs the process's TLS crypto provider first).
pub fn http_client() -> reqwest::Client {
    shared::tls::install_crypto_provider();
    reqwest::Client::new()
}
