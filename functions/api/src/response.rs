//! The API's successful answers: JSON views, or 204. None is cached anywhere: they carry personal
//! data and signed URLs.

use lambda_http::http::{HeaderMap, HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// 200 with the view.
pub(crate) fn ok(view: &impl Serialize) -> Response<Body> {
    json(StatusCode::OK, to_json(view))
}

/// 200 with the view and its `ETag`, or 304 without a body when the request's `If-None-Match`
/// names that tag (the view has not changed since the caller read it).
pub(crate) fn ok_unless_unchanged(view: &impl Serialize, request_headers: &HeaderMap) -> Response<Body> {
    let body = to_json(view);
    let digest = Sha256::digest(body.as_bytes());
    let etag = format!("\"{}\"", hex::encode(&digest[..12]));
    let matches = request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        });
    let mut response = if matches {
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    } else {
        json(StatusCode::OK, body)
    };
    response.headers_mut().insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a valid header"),
    );
    response
}

/// 201: the view of what was created.
pub(crate) fn created(view: &impl Serialize) -> Response<Body> {
    json(StatusCode::CREATED, to_json(view))
}

/// 202: taken on, carried out later (a reply queued for the sender).
pub(crate) fn accepted(view: &impl Serialize) -> Response<Body> {
    json(StatusCode::ACCEPTED, to_json(view))
}

/// 204: a change or removal that has nothing to show.
pub(crate) fn no_content() -> Response<Body> {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Empty)
        .expect("a static response is valid")
}

pub(crate) fn json(status: StatusCode, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        // Answers carry personal data and signed URLs: no shared or browser caches.
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(body))
        .expect("a static response is valid")
}

fn to_json(view: &impl Serialize) -> String {
    serde_json::to_string(view).expect("views always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_view_is_a_304_with_its_tag() {
        let view = serde_json::json!({"items": [1, 2]});
        let first = ok_unless_unchanged(&view, &HeaderMap::new());
        assert_eq!(first.status(), StatusCode::OK);
        let etag = first.headers()[header::ETAG].clone();
        let mut asked = HeaderMap::new();
        asked.insert(header::IF_NONE_MATCH, etag.clone());
        let again = ok_unless_unchanged(&view, &asked);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], etag);
        assert!(matches!(again.body(), Body::Empty));
        let changed = ok_unless_unchanged(&serde_json::json!({"items": [1]}), &asked);
        assert_eq!(changed.status(), StatusCode::OK);
        assert_ne!(changed.headers()[header::ETAG], etag);
    }
}
