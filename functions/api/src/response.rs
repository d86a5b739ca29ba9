//! The API's successful answers: JSON views, or 204. None is cached anywhere: they carry personal
//! data and signed URLs.

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

/// 200 with the view.
pub(crate) fn ok(view: &impl Serialize) -> Response<Body> {
    json(StatusCode::OK, to_json(view))
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
