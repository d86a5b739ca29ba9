//! The S3 blob store against moto: objects put by the processor download through presigned GET
//! URLs, and presigned PUT URLs accept uploads. (moto checks neither the signature nor the
//! expiry of a presigned URL: refusals are tested on the in-memory store, `shared::blobs`.)

use aws_config::SdkConfig;
use bytes::Bytes;
use shared::aws::{S3BlobStore, s3_client};
use shared::ports::BlobStore;
use shared::time::Timestamp;
use testkit::moto;

async fn bucket(config: &SdkConfig) -> String {
    moto::bucket(config).await
}

fn in_an_hour() -> Timestamp {
    Timestamp::now().plus_seconds(3600)
}

#[tokio::test]
async fn a_put_object_downloads_through_a_presigned_get() {
    let config = moto::sdk_config().await;
    let store = S3BlobStore::new(s3_client(&config), bucket(&config).await);
    let key = "attachments/a1/Рахунок_48213.pdf";
    let bytes = Bytes::from((0..=255u8).cycle().take(70_000).collect::<Vec<u8>>());
    store.put(key, bytes.clone(), "application/pdf").await.unwrap();

    let url = store.presign_get(key, "Рахунок 48213.pdf", in_an_hour()).await.unwrap();
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(url.contains("response-content-disposition="), "{url}");
    assert!(
        url.contains("X-Amz-Expires=3600") || url.contains("X-Amz-Expires=3599"),
        "{url}"
    );
    let path = url.split('?').next().unwrap();
    assert!(path.ends_with(".pdf"), "Viber checks the extension of the path: {path}");

    let response = testkit::http_client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let disposition = response.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''%D0%A0"), "{disposition}");
    assert_eq!(response.bytes().await.unwrap(), bytes);
}

#[tokio::test]
async fn a_presigned_put_uploads_what_get_object_returns() {
    let config = moto::sdk_config().await;
    let bucket = bucket(&config).await;
    let store = S3BlobStore::new(s3_client(&config), bucket.clone());
    let key = "attachments/a2/label.png";
    let bytes = Bytes::from_static(b"\x89PNG\r\n\x1a\nnot really a picture");

    let url = store
        .presign_put(key, "image/png", bytes.len() as u64, in_an_hour())
        .await
        .unwrap();
    let signed = url
        .split(['?', '&'])
        .find_map(|param| param.strip_prefix("X-Amz-SignedHeaders="))
        .unwrap_or_default();
    assert!(
        signed.contains("content-length") && signed.contains("content-type"),
        "type and size are part of the signature: {signed}"
    );

    let response = testkit::http_client()
        .put(&url)
        .header("content-type", "image/png")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());

    let object = s3_client(&config)
        .get_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(object.content_type(), Some("image/png"));
    assert_eq!(object.body.collect().await.unwrap().into_bytes(), bytes);
}

#[tokio::test]
async fn a_put_overwrites_the_same_key() {
    let config = moto::sdk_config().await;
    let bucket = bucket(&config).await;
    let store = S3BlobStore::new(s3_client(&config), bucket.clone());
    store
        .put("k/a.txt", Bytes::from_static(b"first"), "text/plain")
        .await
        .unwrap();
    store
        .put("k/a.txt", Bytes::from_static(b"second"), "text/plain")
        .await
        .unwrap();
    let listed = s3_client(&config)
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 1);
    let url = store.presign_get("k/a.txt", "a.txt", in_an_hour()).await.unwrap();
    let body = testkit::http_client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body, Bytes::from_static(b"second"));
}

#[tokio::test]
async fn expiry_is_bounded_to_s3s_seven_days() {
    let config = moto::sdk_config().await;
    let store = S3BlobStore::new(s3_client(&config), bucket(&config).await);
    let far = Timestamp::now().plus_seconds(30 * 24 * 3600);
    let url = store.presign_get("k/a.txt", "a.txt", far).await.unwrap();
    assert!(url.contains("X-Amz-Expires=604800"), "{url}");
    let past = Timestamp::now().plus_seconds(-60);
    let url = store.presign_get("k/a.txt", "a.txt", past).await.unwrap();
    assert!(
        url.contains("X-Amz-Expires=1&") || url.ends_with("X-Amz-Expires=1"),
        "{url}"
    );
}

#[tokio::test]
async fn stat_tells_an_uploaded_object_from_a_missing_one() {
    let config = moto::sdk_config().await;
    let store = S3BlobStore::new(s3_client(&config), bucket(&config).await);
    let key = "attachments/a5/scan.pdf";
    assert_eq!(store.stat(key).await.unwrap(), None);
    let url = store
        .presign_put(key, "application/pdf", 1234, in_an_hour())
        .await
        .unwrap();
    let uploaded = testkit::http_client()
        .put(&url)
        .header("content-type", "application/pdf")
        .body(vec![7u8; 1234])
        .send()
        .await
        .unwrap();
    assert!(uploaded.status().is_success(), "{}", uploaded.status());
    assert_eq!(store.stat(key).await.unwrap(), Some(1234));
}
