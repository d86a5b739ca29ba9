//! The staff API by resource: each module holds its routes' handlers (methods of [`crate::Api`])
//! and the views they answer (docs/staff-api.md). `crate::Api::route` is the table that sends
//! each request to its handler.

pub mod attachments;
pub mod changes;
pub mod comments;
pub mod common;
pub mod contacts;
pub mod integrations;
pub mod me;
pub mod quick_replies;
pub mod staff;
pub mod tasks;
