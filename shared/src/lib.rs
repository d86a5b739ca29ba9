//! viberdesk's library: the domain model and its rules, Viber's API (callbacks, signatures,
//! client), and the storage / queue ports with their in-memory and AWS adapters.

pub mod aws;
pub mod blobs;
pub mod cache;
pub mod config;
pub mod http;
pub mod ids;
pub mod inbound;
pub mod media;
pub mod memory;
pub mod model;
pub mod outbound;
pub mod ports;
pub mod retry;
pub mod rules;
pub mod secret;
pub mod telemetry;
pub mod time;
pub mod tls;
pub mod viber;
