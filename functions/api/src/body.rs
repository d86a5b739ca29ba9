//! JSON request bodies parsed into typed values at the boundary (400 with the reason otherwise).

use lambda_http::{Body, Request};
use serde::de::DeserializeOwned;

use crate::query::QueryError;

/// The largest JSON body a route accepts: a reply's text is the largest field (well under this).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The request's JSON body as `T`; an empty, oversized, non-UTF-8 or ill-typed body is a 400
/// whose message names what is wrong (serde's message: field names and types, never values).
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, QueryError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    if bytes.is_empty() {
        return Err(invalid("the request needs a JSON body"));
    }
    if bytes.len() > MAX_BODY_BYTES {
        return Err(QueryError {
            code: "body_too_large",
            message: format!("the JSON body is over {MAX_BODY_BYTES} bytes"),
        });
    }
    serde_json::from_slice(bytes).map_err(|error| invalid(format!("the JSON body is not valid: {error}")))
}

fn invalid(message: impl Into<String>) -> QueryError {
    QueryError {
        code: "invalid_body",
        message: message.into(),
    }
}
