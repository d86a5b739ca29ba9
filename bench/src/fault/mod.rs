//! `fault-bench`'s run: the local stack on moto under crashes, outages and storms, counted.

pub mod ingest;
pub mod replies;
pub mod scenarios;
pub mod stack;
pub mod template;
