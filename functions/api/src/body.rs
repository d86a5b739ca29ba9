//! JSON request bodies parsed into typed values at the boundary (400 with the reason otherwise).

use lambda_http::{Body, Request};
use serde::de::DeserializeOwned;

use crate::query::QueryError;

/// The largest JSON body a route accepts: a reply's text is the largest field (well under this).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The request's JSON body as `T`; an empty, oversized or ill-typed body is a 400 whose message
/// names what is wrong (serde's message: field names and types, never values).
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, QueryError> {
    let value = json_value(request)?;
    serde_json::from_value(value).map_err(|error| invalid(format!("the JSON body does not fit: {error}")))
}

/// The request's body as a JSON object (for routes that take a field out before parsing the
/// rest, such as a bot token that must never appear in an error message).
pub fn json_value(request: &Request) -> Result<serde_json::Value, QueryError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => b"",
        body => body.as_ref(),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid("this route needs a JSON body"));
    }
    if bytes.len() > MAX_BODY_BYTES {
        return Err(QueryError {
            code: "body_too_large",
            message: format!("the JSON body is over {MAX_BODY_BYTES} bytes"),
        });
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value @ serde_json::Value::Object(_)) => Ok(value),
        Ok(_) => Err(invalid("the JSON body must be an object")),
        Err(error) => Err(invalid(format!("the body is not JSON: {error}"))),
    }
}

fn invalid(message: impl Into<String>) -> QueryError {
    QueryError {
        code: "invalid_body",
        message: message.into(),
    }
}
