//! JSON request bodies parsed into typed values at the boundary (400 with the reason otherwise).

use lambda_http::{Body, Request};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::ApiError;

/// The largest JSON body a route accepts: a reply's text is the largest field (well under this).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The request's JSON body as `T`; an empty, oversized or ill-typed body is a 400 whose message
/// names what is wrong (serde's message: field names and types, never values).
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    fields(json_value(request)?)
}

/// The request's body as a JSON object (for routes that take a field out before parsing the
/// rest, such as a bot token that must never appear in an error message).
pub fn json_value(request: &Request) -> Result<serde_json::Value, ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => b"",
        body => body.as_ref(),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_body("this route needs a JSON body"));
    }
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::bad_request(
            "body_too_large",
            format!("the JSON body is over {MAX_BODY_BYTES} bytes"),
        ));
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value @ serde_json::Value::Object(_)) => Ok(value),
        Ok(_) => Err(ApiError::invalid_body("the JSON body must be an object")),
        Err(error) => Err(ApiError::invalid_body(format!("the body is not JSON: {error}"))),
    }
}

/// A JSON object (from [`json_value`]) as `T`.
pub fn fields<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value)
        .map_err(|error| ApiError::invalid_body(format!("the JSON body does not fit: {error}")))
}

/// For `Option<Option<T>>` fields: absent → `None`, `null` → `Some(None)`, a value → `Some(Some)`.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
