//! The attachments bucket on S3: private objects, reached from outside only through presigned
//! URLs (SigV4 in the query string).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::describe;
use crate::blobs::content_disposition;
use crate::ports::{BlobError, BlobStore};
use crate::time::Timestamp;

/// S3's longest presigned-URL validity (SigV4).
pub const MAX_PRESIGN_SECONDS: u64 = 7 * 24 * 3600;

#[derive(Clone)]
pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3BlobStore {
    /// `client` from [`super::s3_client`] (path-style when an endpoint is overridden).
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        Self::new(super::s3_client(config), bucket)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The origin (`scheme://host[:port]`) of this bucket's presigned URLs: a browser page that
    /// shows or uploads files through them must allow it (the web inbox's CSP). Signing is local.
    pub async fn url_origin(&self) -> Result<String, BlobError> {
        let probe = self
            .presign_get("origin-probe", "probe", Timestamp::now().plus_seconds(60))
            .await?;
        origin_of(&probe).ok_or_else(|| BlobError::Unavailable(format!("a presigned URL without an origin: {probe}")))
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let origin = parsed.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// Validity from now until `expires_at`, between 1 second and S3's 7-day maximum. (A URL signed
/// with a Lambda role's temporary credentials also dies with them, whichever comes first.)
fn presigning(expires_at: Timestamp) -> Result<PresigningConfig, BlobError> {
    let millis = expires_at.millis().saturating_sub(Timestamp::now().millis());
    let seconds = (millis.max(0) as u64).div_ceil(1000).clamp(1, MAX_PRESIGN_SECONDS);
    PresigningConfig::expires_in(Duration::from_secs(seconds)).map_err(|e| BlobError::Unavailable(describe(&e)))
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(bytes.len() as i64)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| BlobError::Unavailable(describe(&e)))?;
        Ok(())
    }

    async fn presign_get(&self, key: &str, file_name: &str, expires_at: Timestamp) -> Result<String, BlobError> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(content_disposition(file_name))
            .presigned(presigning(expires_at)?)
            .await
            .map_err(|e| BlobError::Unavailable(describe(&e)))?;
        Ok(request.uri().to_owned())
    }

    /// Content-Type and Content-Length are signed headers: the upload must send exactly them.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires_at: Timestamp,
    ) -> Result<String, BlobError> {
        let size = i64::try_from(size).map_err(|_| BlobError::Unavailable(format!("size {size} is too large")))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size)
            .presigned(presigning(expires_at)?)
            .await
            .map_err(|e| BlobError::Unavailable(describe(&e)))?;
        Ok(request.uri().to_owned())
    }

    async fn stat(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(head) => Ok(Some(head.content_length.unwrap_or(0).max(0) as u64)),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(error) => Err(BlobError::Unavailable(describe(&error))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_scheme_host_and_port() {
        assert_eq!(
            origin_of("https://files.s3.us-east-1.amazonaws.com/a/b.jpg?X-Amz-Signature=1").as_deref(),
            Some("https://files.s3.us-east-1.amazonaws.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:5055/bucket/a.jpg?x=1").as_deref(),
            Some("http://127.0.0.1:5055")
        );
        assert_eq!(origin_of("not a url"), None);
    }
}
