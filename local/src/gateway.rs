//! Serves Lambda handlers exactly as API Gateway (HTTP API, payload 2.0) would call them: the
//! HTTP request becomes a `lambda_http::Request` with path and query parameters, and the
//! handler's `lambda_http::Response` goes back as it is.

use std::collections::HashMap;

use axum::body::Body as AxumBody;
use axum::response::{IntoResponse, Response};
use lambda_http::{Body, Request, RequestExt};

/// API Gateway HTTP APIs refuse payloads over 10 MB before a function runs.
pub const GATEWAY_MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

pub async fn to_lambda_request(
    request: axum::extract::Request,
    path_parameters: HashMap<String, String>,
) -> Result<Request, Response> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, GATEWAY_MAX_PAYLOAD_BYTES)
        .await
        .map_err(|_| (http::StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large").into_response())?;
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        // `Bytes` into `Vec` takes the buffer over without a copy when nothing else holds it.
        match String::from_utf8(Vec::from(bytes)) {
            Ok(text) => Body::Text(text),
            Err(not_text) => Body::Binary(not_text.into_bytes()),
        }
    };
    let query: HashMap<String, Vec<String>> = parts
        .uri
        .query()
        .map(|query| {
            let mut map: HashMap<String, Vec<String>> = HashMap::new();
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                map.entry(decode(key)).or_default().push(decode(value));
            }
            map
        })
        .unwrap_or_default();
    let path_parameters: HashMap<String, Vec<String>> = path_parameters
        .into_iter()
        .map(|(key, value)| (key, vec![value]))
        .collect();
    Ok(http::Request::from_parts(parts, body)
        .with_path_parameters(path_parameters)
        .with_query_string_parameters(query))
}

pub fn from_lambda_response(response: lambda_http::Response<Body>) -> Response {
    let (parts, body) = response.into_parts();
    let body = match body {
        Body::Empty => AxumBody::empty(),
        Body::Text(text) => AxumBody::from(text),
        Body::Binary(bytes) => AxumBody::from(bytes),
        _ => AxumBody::empty(),
    };
    Response::from_parts(parts, body)
}

fn decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    urlencoding::decode(&spaced).map(|s| s.into_owned()).unwrap_or(spaced)
}
