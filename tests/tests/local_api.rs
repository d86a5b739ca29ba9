//! Through the `viberdesk-local` process: the staff API is served under `/api/…` by the same
//! handler as the API Lambda, behind the owner's bearer token from `--owner-token`.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::LOCAL;
use testkit::local::{LocalStack, OWNER_TOKEN};

async fn get(stack: &LocalStack, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = stack.request(Method::GET, path);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn me_is_the_seeded_owner() {
    let stack = LOCAL.start(&[]).await;
    let response = get(&stack, "/api/me", Some(OWNER_TOKEN)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["name"], "Owner");
    assert_eq!(me["role"], "owner");
    assert_eq!(me["avatar_url"], Value::Null);
    assert!(me["id"].as_str().is_some_and(|id| !id.is_empty()), "{me}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_needs_a_valid_bearer_token() {
    let stack = LOCAL.start(&[]).await;
    for token in [None, Some("not-the-owner-token")] {
        let response = get(&stack, "/api/me", token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_lists_routes_and_errors_over_http() {
    let stack = LOCAL.start(&[]).await;
    let empty = json!({"items": [], "next_cursor": null});
    for path in ["/api/tasks", "/api/tasks?status=new&limit=10", "/api/contacts"] {
        let (status, body) = stack.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, empty, "{path}");
    }
    for (path, status) in [
        ("/api/tasks?status=done", StatusCode::BAD_REQUEST),
        ("/api/tasks?limit=0", StatusCode::BAD_REQUEST),
        ("/api/tasks?cursor=not-a-cursor", StatusCode::BAD_REQUEST),
        ("/api/tasks/nope", StatusCode::NOT_FOUND),
        ("/api/contacts/nope", StatusCode::NOT_FOUND),
        ("/api/attachments/nope", StatusCode::NOT_FOUND),
        ("/api/nothing-here", StatusCode::NOT_FOUND),
    ] {
        let (answered, body) = stack.get(path).await;
        assert_eq!(answered, status, "{path}");
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    let post = stack
        .request(Method::POST, "/api/me")
        .bearer_auth(OWNER_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers()["allow"], "GET");
}
