//! Test support shared by every crate's tests: Viber's fixtures and signatures, a fake Viber API
//! on loopback, and the moto harness for the AWS adapters.

pub mod fake_viber;
pub mod fixtures;
pub mod moto;

pub use fake_viber::FakeViber;
