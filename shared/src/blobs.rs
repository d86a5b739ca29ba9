//! The embedded blob store of the local stack and of tests: objects in memory, reached through
//! signed, expiring URLs that the local stack serves (`GET`/`PUT {base_url}/blobs/{key}?…`).
//!
//! URL format (every value percent-encoded):
//!
//! - download: `{base_url}/blobs/{key}?name={file name}&expires={unix seconds}&sig={hex}`
//! - upload: `{base_url}/blobs/{key}?type={content type}&size={bytes}&expires={unix seconds}&sig={hex}`
//!
//! `sig` is the HMAC-SHA256, under a random key made when the store is created (so URLs die
//! with the process), of the method, the key, the expiry and, for a download, the file name
//! offered in `Content-Disposition`, for an upload, the content type and the exact size. The
//! local stack routes `GET /blobs/{*key}` to [`MemoryBlobStore::serve_get`] and
//! `PUT /blobs/{*key}` to [`MemoryBlobStore::accept_put`].

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ports::{BlobError, BlobStore};
use crate::time::Timestamp;

type HmacSha256 = Hmac<Sha256>;

/// The path prefix the local stack serves blob URLs under.
pub const BLOB_PATH_PREFIX: &str = "/blobs/";

/// `Content-Disposition` offering a download as `file_name`: `attachment`, an ASCII fallback
/// `filename`, and the exact name as RFC 5987 `filename*=UTF-8''…`.
pub fn content_disposition(file_name: &str) -> String {
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        urlencoding::encode(file_name)
    )
}

/// An object as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub bytes: Bytes,
    pub content_type: String,
}

/// What a valid download URL serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub bytes: Bytes,
    pub content_type: String,
    /// The name signed into the URL; offer it with [`Served::content_disposition`].
    pub file_name: String,
}

impl Served {
    pub fn content_disposition(&self) -> String {
        content_disposition(&self.file_name)
    }
}

/// Why a blob URL was refused. Answer with [`UrlRefused::status`]; the message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    #[error("the URL lacks a valid {0} parameter")]
    Malformed(&'static str),
    #[error("the URL's signature does not match")]
    BadSignature,
    #[error("the URL has expired")]
    Expired,
    #[error("the upload's Content-Type must be {expected}")]
    WrongContentType { expected: String },
    #[error("the upload must be exactly {expected} bytes, not {actual}")]
    WrongSize { expected: u64, actual: u64 },
    #[error("no such file")]
    NotFound,
}

impl UrlRefused {
    /// The HTTP status to answer with (as S3 would: 403 for anything about the signature).
    pub fn status(&self) -> u16 {
        match self {
            UrlRefused::NotFound => 404,
            UrlRefused::WrongSize { .. } => 400,
            _ => 403,
        }
    }
}

/// In-memory [`BlobStore`] with signed URLs.
pub struct MemoryBlobStore {
    objects: Mutex<HashMap<String, StoredObject>>,
    signing_key: Vec<u8>,
    base_url: RwLock<String>,
}

impl MemoryBlobStore {
    /// A store whose URLs start with `base_url` (e.g. `http://127.0.0.1:3000`); change it with
    /// [`MemoryBlobStore::set_base_url`] once the server knows its address.
    pub fn new(base_url: &str) -> Self {
        Self {
            objects: Mutex::new(HashMap::new()),
            signing_key: crate::ids::new_secret().into_bytes(),
            base_url: RwLock::new(base_url.trim_end_matches('/').to_owned()),
        }
    }

    pub fn set_base_url(&self, base_url: &str) {
        *self.base_url.write().unwrap_or_else(|p| p.into_inner()) = base_url.trim_end_matches('/').to_owned();
    }

    pub fn base_url(&self) -> String {
        self.base_url.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The object under `key`, if any (for tests and diagnostics).
    pub fn object(&self, key: &str) -> Option<StoredObject> {
        self.objects().get(key).cloned()
    }

    /// Every stored key, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.objects().keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Answers `GET /blobs/{key}?{query}`: `key` is the decoded path after `/blobs/` (as axum's
    /// `Path` gives it), `query` the raw query string.
    pub fn serve_get(&self, key: &str, query: &str) -> Result<Served, UrlRefused> {
        let query = Query::parse(query);
        let file_name = query.get("name").ok_or(UrlRefused::Malformed("name"))?;
        let expires = query.expires()?;
        self.verify(&get_claim(key, expires, &file_name), &query)?;
        check_expiry(expires)?;
        let object = self.object(key).ok_or(UrlRefused::NotFound)?;
        Ok(Served {
            bytes: object.bytes,
            content_type: object.content_type,
            file_name,
        })
    }

    /// Answers `PUT /blobs/{key}?{query}` with the request's `Content-Type` and body. Cap the
    /// body before buffering it (the signed `size` is in the query; anything longer is refused).
    pub fn accept_put(
        &self,
        key: &str,
        query: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<(), UrlRefused> {
        let query = Query::parse(query);
        let signed_type = query.get("type").ok_or(UrlRefused::Malformed("type"))?;
        let size: u64 = query
            .get("size")
            .and_then(|s| s.parse().ok())
            .ok_or(UrlRefused::Malformed("size"))?;
        let expires = query.expires()?;
        self.verify(&put_claim(key, expires, &signed_type, size), &query)?;
        check_expiry(expires)?;
        if !content_type.is_some_and(|sent| sent.trim().eq_ignore_ascii_case(signed_type.trim())) {
            return Err(UrlRefused::WrongContentType { expected: signed_type });
        }
        if body.len() as u64 != size {
            return Err(UrlRefused::WrongSize {
                expected: size,
                actual: body.len() as u64,
            });
        }
        self.objects().insert(
            key.to_owned(),
            StoredObject {
                bytes: body,
                content_type: signed_type,
            },
        );
        Ok(())
    }

    fn objects(&self) -> std::sync::MutexGuard<'_, HashMap<String, StoredObject>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn mac(&self, claim: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.signing_key).expect("HMAC accepts any key length");
        mac.update(claim);
        mac
    }

    fn sign(&self, claim: &[u8]) -> String {
        hex::encode(self.mac(claim).finalize().into_bytes())
    }

    fn verify(&self, claim: &[u8], query: &Query) -> Result<(), UrlRefused> {
        let sig = query.get("sig").ok_or(UrlRefused::Malformed("sig"))?;
        let mut expected = [0u8; 32];
        hex::decode_to_slice(sig.trim(), &mut expected).map_err(|_| UrlRefused::Malformed("sig"))?;
        self.mac(claim)
            .verify_slice(&expected)
            .map_err(|_| UrlRefused::BadSignature)
    }

    fn url(&self, key: &str, params: &[(&str, &str)]) -> String {
        let path: Vec<String> = key.split('/').map(|s| urlencoding::encode(s).into_owned()).collect();
        let query: Vec<String> = params
            .iter()
            .map(|(name, value)| format!("{name}={}", urlencoding::encode(value)))
            .collect();
        format!(
            "{}{BLOB_PATH_PREFIX}{}?{}",
            self.base_url(),
            path.join("/"),
            query.join("&")
        )
    }
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError> {
        self.objects().insert(
            key.to_owned(),
            StoredObject {
                bytes,
                content_type: content_type.to_owned(),
            },
        );
        Ok(())
    }

    async fn presign_get(&self, key: &str, file_name: &str, expires_at: Timestamp) -> Result<String, BlobError> {
        let expires = unix_seconds(expires_at);
        let sig = self.sign(&get_claim(key, expires, file_name));
        Ok(self.url(
            key,
            &[("name", file_name), ("expires", &expires.to_string()), ("sig", &sig)],
        ))
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires_at: Timestamp,
    ) -> Result<String, BlobError> {
        let expires = unix_seconds(expires_at);
        let sig = self.sign(&put_claim(key, expires, content_type, size));
        Ok(self.url(
            key,
            &[
                ("type", content_type),
                ("size", &size.to_string()),
                ("expires", &expires.to_string()),
                ("sig", &sig),
            ],
        ))
    }

    async fn stat(&self, key: &str) -> Result<Option<u64>, BlobError> {
        Ok(self.objects().get(key).map(|object| object.bytes.len() as u64))
    }
}

fn unix_seconds(at: Timestamp) -> i64 {
    at.millis().div_euclid(1000)
}

fn check_expiry(expires: i64) -> Result<(), UrlRefused> {
    if unix_seconds(Timestamp::now()) > expires {
        Err(UrlRefused::Expired)
    } else {
        Ok(())
    }
}

/// The signed statement: length-prefixed fields, so no value can pose as another.
fn claim(fields: &[&str]) -> Vec<u8> {
    let mut claim = Vec::new();
    for field in fields {
        claim.extend_from_slice(field.len().to_string().as_bytes());
        claim.push(b':');
        claim.extend_from_slice(field.as_bytes());
        claim.push(b'\n');
    }
    claim
}

fn get_claim(key: &str, expires: i64, file_name: &str) -> Vec<u8> {
    claim(&["GET", key, &expires.to_string(), file_name])
}

fn put_claim(key: &str, expires: i64, content_type: &str, size: u64) -> Vec<u8> {
    claim(&["PUT", key, &expires.to_string(), content_type, &size.to_string()])
}

/// A parsed query string; a repeated parameter is refused by taking none of its values.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: &str) -> Self {
        let raw = raw.strip_prefix('?').unwrap_or(raw);
        Query(
            raw.split('&')
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    let name = urlencoding::decode(name).ok()?.into_owned();
                    let value = urlencoding::decode(value).ok()?.into_owned();
                    Some((name, value))
                })
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<String> {
        let mut values = self.0.iter().filter(|(n, _)| n == name);
        let first = values.next()?;
        values.next().is_none().then(|| first.1.clone())
    }

    fn expires(&self) -> Result<i64, UrlRefused> {
        self.get("expires")
            .and_then(|e| e.parse().ok())
            .ok_or(UrlRefused::Malformed("expires"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "attachments/a1/Рахунок 1.pdf";

    fn in_an_hour() -> Timestamp {
        Timestamp::now().plus_seconds(3600)
    }

    /// Splits a URL from the store into the decoded key and the raw query, as the router would.
    fn route(url: &str) -> (String, String) {
        let rest = url.strip_prefix("http://local.test/blobs/").expect("url under /blobs/");
        let (path, query) = rest.split_once('?').expect("query");
        (urlencoding::decode(path).unwrap().into_owned(), query.to_owned())
    }

    fn store() -> MemoryBlobStore {
        MemoryBlobStore::new("http://local.test/")
    }

    fn replace_param(query: &str, name: &str, value: &str) -> String {
        query
            .split('&')
            .map(|pair| {
                if pair.starts_with(&format!("{name}=")) {
                    format!("{name}={value}")
                } else {
                    pair.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    #[tokio::test]
    async fn a_signed_get_serves_the_object_with_its_type_and_name() {
        let store = store();
        store
            .put(KEY, Bytes::from_static(b"%PDF"), "application/pdf")
            .await
            .unwrap();
        let url = store.presign_get(KEY, "Рахунок 1.pdf", in_an_hour()).await.unwrap();
        assert!(url.starts_with("http://local.test/blobs/attachments/a1/"), "{url}");
        assert!(url.contains(".pdf?"), "the extension ends the path: {url}");
        let (key, query) = route(&url);
        assert_eq!(key, KEY);
        let served = store.serve_get(&key, &query).unwrap();
        assert_eq!(served.bytes, Bytes::from_static(b"%PDF"));
        assert_eq!(served.content_type, "application/pdf");
        assert_eq!(served.file_name, "Рахунок 1.pdf");
        assert_eq!(
            served.content_disposition(),
            "attachment; filename=\"_______ 1.pdf\"; filename*=UTF-8''%D0%A0%D0%B0%D1%85%D1%83%D0%BD%D0%BE%D0%BA%201.pdf"
        );
    }

    #[tokio::test]
    async fn the_base_url_can_be_set_after_construction() {
        let store = MemoryBlobStore::new("http://unbound");
        store.set_base_url("http://127.0.0.1:4321/");
        let url = store.presign_get("k", "k.txt", in_an_hour()).await.unwrap();
        assert!(url.starts_with("http://127.0.0.1:4321/blobs/k?"), "{url}");
    }

    #[tokio::test]
    async fn a_get_url_with_any_part_changed_is_refused() {
        let store = store();
        store.put(KEY, Bytes::from_static(b"x"), "text/plain").await.unwrap();
        store
            .put("attachments/a2/other.pdf", Bytes::from_static(b"y"), "text/plain")
            .await
            .unwrap();
        let (key, query) = route(&store.presign_get(KEY, "a.pdf", in_an_hour()).await.unwrap());
        assert_eq!(
            store.serve_get("attachments/a2/other.pdf", &query),
            Err(UrlRefused::BadSignature),
            "another key"
        );
        let renamed = replace_param(&query, "name", "evil.html");
        assert_eq!(store.serve_get(&key, &renamed), Err(UrlRefused::BadSignature));
        let later = replace_param(&query, "expires", "99999999999");
        assert_eq!(store.serve_get(&key, &later), Err(UrlRefused::BadSignature));
        let forged = replace_param(&query, "sig", &"0".repeat(64));
        assert_eq!(store.serve_get(&key, &forged), Err(UrlRefused::BadSignature));
        let short = replace_param(&query, "sig", "abc");
        assert_eq!(store.serve_get(&key, &short), Err(UrlRefused::Malformed("sig")));
        let unsigned = replace_param(&query, "sig", "");
        assert_eq!(store.serve_get(&key, &unsigned), Err(UrlRefused::Malformed("sig")));
        assert_eq!(store.serve_get(&key, ""), Err(UrlRefused::Malformed("name")));
        let doubled = format!("{query}&name=b.pdf");
        assert_eq!(store.serve_get(&key, &doubled), Err(UrlRefused::Malformed("name")));
        assert!(store.serve_get(&key, &query).is_ok(), "the untouched URL still works");
    }

    #[tokio::test]
    async fn another_store_does_not_accept_this_stores_urls() {
        let (first, second) = (store(), store());
        second.put(KEY, Bytes::from_static(b"x"), "text/plain").await.unwrap();
        let (key, query) = route(&first.presign_get(KEY, "a.pdf", in_an_hour()).await.unwrap());
        assert_eq!(second.serve_get(&key, &query), Err(UrlRefused::BadSignature));
    }

    #[tokio::test]
    async fn an_expired_url_is_refused() {
        let store = store();
        store.put(KEY, Bytes::from_static(b"x"), "text/plain").await.unwrap();
        let past = Timestamp::now().plus_seconds(-5);
        let (key, query) = route(&store.presign_get(KEY, "a.pdf", past).await.unwrap());
        assert_eq!(store.serve_get(&key, &query), Err(UrlRefused::Expired));
        assert_eq!(UrlRefused::Expired.status(), 403);
        let (key, query) = route(&store.presign_put(KEY, "text/plain", 1, past).await.unwrap());
        assert_eq!(
            store.accept_put(&key, &query, Some("text/plain"), Bytes::from_static(b"y")),
            Err(UrlRefused::Expired)
        );
    }

    #[tokio::test]
    async fn a_missing_object_is_not_found() {
        let store = store();
        let (key, query) = route(&store.presign_get(KEY, "a.pdf", in_an_hour()).await.unwrap());
        assert_eq!(store.serve_get(&key, &query), Err(UrlRefused::NotFound));
        assert_eq!(UrlRefused::NotFound.status(), 404);
    }

    #[tokio::test]
    async fn a_signed_put_stores_exactly_the_declared_upload() {
        let store = store();
        let url = store
            .presign_put(KEY, "application/pdf", 4, in_an_hour())
            .await
            .unwrap();
        let (key, query) = route(&url);
        store
            .accept_put(&key, &query, Some("application/pdf"), Bytes::from_static(b"%PDF"))
            .unwrap();
        assert_eq!(
            store.object(KEY),
            Some(StoredObject {
                bytes: Bytes::from_static(b"%PDF"),
                content_type: "application/pdf".into()
            })
        );
        assert_eq!(store.keys(), [KEY]);
    }

    #[tokio::test]
    async fn a_put_of_another_type_or_size_or_to_a_changed_url_is_refused() {
        let store = store();
        let (key, query) = route(&store.presign_put(KEY, "image/png", 3, in_an_hour()).await.unwrap());
        let body = Bytes::from_static(b"png");
        assert_eq!(
            store.accept_put(&key, &query, Some("text/html"), body.clone()),
            Err(UrlRefused::WrongContentType {
                expected: "image/png".into()
            })
        );
        assert_eq!(
            store.accept_put(&key, &query, None, body.clone()),
            Err(UrlRefused::WrongContentType {
                expected: "image/png".into()
            })
        );
        assert_eq!(
            store.accept_put(&key, &query, Some("image/png"), Bytes::from_static(b"pngpng")),
            Err(UrlRefused::WrongSize { expected: 3, actual: 6 })
        );
        let retyped = replace_param(&query, "type", "text%2Fhtml");
        assert_eq!(
            store.accept_put(&key, &retyped, Some("text/html"), body.clone()),
            Err(UrlRefused::BadSignature)
        );
        let resized = replace_param(&query, "size", "6");
        assert_eq!(
            store.accept_put(&key, &resized, Some("image/png"), Bytes::from_static(b"pngpng")),
            Err(UrlRefused::BadSignature)
        );
        assert_eq!(
            store.accept_put("attachments/other/x.png", &query, Some("image/png"), body.clone()),
            Err(UrlRefused::BadSignature)
        );
        assert!(store.keys().is_empty(), "nothing refused was stored");
        store.accept_put(&key, &query, Some("image/png"), body).unwrap();
    }

    #[tokio::test]
    async fn a_url_signed_for_one_method_does_not_work_for_the_other() {
        let store = store();
        store.put(KEY, Bytes::from_static(b"x"), "text/plain").await.unwrap();
        let (key, get_query) = route(&store.presign_get(KEY, "text/plain", in_an_hour()).await.unwrap());
        // A download URL used for an upload, with the parameters an upload needs bolted on.
        let as_put = format!("{get_query}&type=text%2Fplain&size=1");
        assert_eq!(
            store.accept_put(&key, &as_put, Some("text/plain"), Bytes::from_static(b"y")),
            Err(UrlRefused::BadSignature)
        );
        let (key, put_query) = route(&store.presign_put(KEY, "text/plain", 1, in_an_hour()).await.unwrap());
        let as_get = format!("{put_query}&name=text%2Fplain");
        assert_eq!(store.serve_get(&key, &as_get), Err(UrlRefused::BadSignature));
        assert_eq!(store.object(KEY).unwrap().bytes, Bytes::from_static(b"x"));
    }
}
