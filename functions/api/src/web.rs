//! The staff web inbox's files, embedded in the binary and served same-origin by the API handler
//! (docs/web-inbox.md): `GET /` answers `index.html` (revalidated on every load) and
//! `GET /app/{version}/{path}` the ES modules, CSS and icons under a version that is a hash of
//! every file, so they can be cached for a year and a new deployment is a new URL. Relative
//! imports between modules stay under the same version.
//!
//! Every answer of these paths, errors included, carries the same security headers: a CSP that
//! allows only this origin (no inline script or style, no framing), `nosniff`, and no referrer.
//! Text files are gzipped once per process for clients that accept it.

use std::collections::HashMap;
use std::io::Write;
use std::sync::LazyLock;

use flate2::Compression;
use flate2::write::GzEncoder;
use lambda_http::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};

/// The Content-Security-Policy of every web answer when files are served from the page's own
/// origin (the local stack's blob store): exactly this.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; frame-ancestors 'none'";

/// The policy when the attachments bucket's presigned URLs live on another origin (S3 in AWS):
/// the page may also show pictures (`img-src`) and upload (`connect-src`) there, and nowhere
/// else. `None` keeps [`CONTENT_SECURITY_POLICY`].
pub fn content_security_policy(blob_origin: Option<&str>) -> String {
    match blob_origin {
        None => CONTENT_SECURITY_POLICY.to_owned(),
        Some(origin) => format!(
            "default-src 'self'; img-src 'self' {origin}; media-src 'self' {origin}; connect-src 'self' {origin}; frame-ancestors 'none'"
        ),
    }
}
/// Where the versioned files live: `/app/{version}/{path}`.
pub const ASSET_PREFIX: &str = "/app/";
/// `Cache-Control` of a versioned file: its URL changes whenever any file does.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of `index.html`: cached, but revalidated (ETag) on every load.
pub const REVALIDATE: &str = "no-cache";
/// What `index.html` says where the version goes.
const VERSION_PLACEHOLDER: &str = "{{VERSION}}";

/// An embedded file: its path under `functions/api/web/` and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub path: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! embedded {
    ($($path:literal),* $(,)?) => {
        &[$(Asset { path: $path, bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)) }),*]
    };
}

/// Every file the page may load, beside `index.html`.
pub static ASSETS: &[Asset] = embedded![
    "app.css",
    "icon.svg",
    "main.js",
    "api.js",
    "i18n.js",
    "model.js",
    "live.js",
    "ui.js",
    "inbox.js",
    "conversation.js",
    "composer.js",
    "panel.js",
    "contacts.js",
    "admin.js",
    "qr.js",
    "vendor/preact-htm.mjs",
    "vendor/lean-qr-nano.mjs",
];

/// `index.html` as written, with `{{VERSION}}` where the version goes.
pub static INDEX_TEMPLATE: &str = include_str!("../web/index.html");

/// Files the page loads only on demand (the QR encoder, on the Bots page).
pub const LAZY_ASSETS: &[&str] = &["qr.js", "vendor/lean-qr-nano.mjs"];

/// The `Content-Type` of a file, from its extension.
pub fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    match extension.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn is_text(content_type: &str) -> bool {
    content_type.starts_with("text/") || content_type == "image/svg+xml" || content_type == "application/json"
}

/// One servable file: its bytes, the gzipped bytes when that is smaller, and its ETag.
#[derive(Debug)]
struct Prepared {
    content_type: &'static str,
    cache_control: &'static str,
    bytes: Vec<u8>,
    gzip: Option<Vec<u8>>,
    /// The hash of the bytes (quoted, as an entity tag); the gzipped variant adds `-gz`.
    etag: String,
}

impl Prepared {
    fn new(path: &str, bytes: Vec<u8>, cache_control: &'static str) -> Self {
        let content_type = content_type(path);
        let gzip = is_text(content_type)
            .then(|| gzip(&bytes))
            .filter(|g| g.len() < bytes.len());
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&bytes))[..20]);
        Self {
            content_type,
            cache_control,
            bytes,
            gzip,
            etag,
        }
    }
}

/// Gzip at the best level: done once per process, so the size matters more than the time.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), Compression::best());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

struct Site {
    version: String,
    index: Prepared,
    assets: HashMap<&'static str, Prepared>,
}

static SITE: LazyLock<Site> = LazyLock::new(|| {
    let version = version();
    let index = INDEX_TEMPLATE.replace(VERSION_PLACEHOLDER, &version).into_bytes();
    Site {
        index: Prepared::new("index.html", index, REVALIDATE),
        assets: ASSETS
            .iter()
            .map(|asset| (asset.path, Prepared::new(asset.path, asset.bytes.to_vec(), IMMUTABLE)))
            .collect(),
        version,
    }
});

/// The version under `/app/`: a hash of every file's path and bytes, `index.html` included, so
/// any change to any file moves every URL.
pub fn version() -> String {
    let mut hasher = Sha256::new();
    for (path, bytes) in ASSETS
        .iter()
        .map(|a| (a.path, a.bytes))
        .chain([("index.html", INDEX_TEMPLATE.as_bytes())])
    {
        hasher.update((path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hex::encode(hasher.finalize())[..16].to_owned()
}

/// Whether the web inbox answers this path (`/` and everything under `/app/`); every other path
/// is the API's.
pub fn is_web_path(path: &str) -> bool {
    path == "/" || path.starts_with(ASSET_PREFIX)
}

/// The web inbox's answer to a request for one of its paths, `None` for any other path. Needs no
/// authentication: the page holds no data, it signs in through the API.
pub fn serve(request: &Request) -> Option<Response<Body>> {
    let path = request.uri().path();
    is_web_path(path).then(|| answer(request.method(), path, request.headers()))
}

/// The answer for a web path, from the method, path and request headers.
pub fn answer(method: &Method, path: &str, headers: &HeaderMap) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "this path answers GET and HEAD");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let site = &*SITE;
    let file = if path == "/" {
        Some(&site.index)
    } else {
        path.strip_prefix(ASSET_PREFIX)
            .and_then(|rest| rest.split_once('/'))
            .filter(|(version, _)| *version == site.version)
            .and_then(|(_, file)| site.assets.get(file))
    };
    match file {
        Some(file) => send(file, method == Method::HEAD, headers),
        None => plain(StatusCode::NOT_FOUND, "not found"),
    }
}

fn send(file: &Prepared, head_only: bool, headers: &HeaderMap) -> Response<Body> {
    let gzipped = file.gzip.as_ref().filter(|_| accepts_gzip(headers));
    let etag = match gzipped {
        Some(_) => format!("{}-gz\"", file.etag.trim_end_matches('"')),
        None => file.etag.clone(),
    };
    let mut builder = secured(Response::builder())
        .header(header::CACHE_CONTROL, file.cache_control)
        .header(header::ETAG, &etag);
    if file.gzip.is_some() {
        builder = builder.header(header::VARY, "Accept-Encoding");
    }
    if none_match(headers, &etag) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::Empty)
            .expect("a valid response");
    }
    builder = builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, file.content_type);
    if gzipped.is_some() {
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
    }
    let body = if head_only {
        Body::Empty
    } else {
        match gzipped {
            Some(bytes) => Body::Binary(bytes.clone()),
            None if is_text(file.content_type) => {
                Body::Text(String::from_utf8(file.bytes.clone()).expect("text assets are UTF-8"))
            }
            None => Body::Binary(file.bytes.clone()),
        }
    };
    builder.body(body).expect("a valid response")
}

/// Whether `Accept-Encoding` allows gzip (`gzip` or `*` with a non-zero quality).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for this header).
pub fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

fn secured(builder: lambda_http::http::response::Builder) -> lambda_http::http::response::Builder {
    builder
        .header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer")
}

fn plain(status: StatusCode, message: &'static str) -> Response<Body> {
    secured(Response::builder())
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(message.to_owned()))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn get(path: &str, headers: &[(&str, &str)]) -> Response<Body> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        answer(&Method::GET, path, &map)
    }

    fn header_of(response: &Response<Body>, name: header::HeaderName) -> Option<&str> {
        response.headers().get(name).map(|v| v.to_str().unwrap())
    }

    fn bytes(response: &Response<Body>) -> Vec<u8> {
        match response.body() {
            Body::Empty => Vec::new(),
            Body::Text(text) => text.as_bytes().to_vec(),
            Body::Binary(bytes) => bytes.clone(),
            _ => unreachable!(),
        }
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
        out
    }

    fn asset_url(path: &str) -> String {
        format!("{ASSET_PREFIX}{}/{path}", version())
    }

    fn assert_secured(response: &Response<Body>) {
        let values = |name| {
            response
                .headers()
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(values(header::CONTENT_SECURITY_POLICY), [CONTENT_SECURITY_POLICY]);
        assert_eq!(values(header::X_CONTENT_TYPE_OPTIONS), ["nosniff"]);
        assert_eq!(values(header::REFERRER_POLICY), ["no-referrer"]);
    }

    #[test]
    fn the_policy_names_the_buckets_origin_only_when_it_is_another() {
        assert_eq!(content_security_policy(None), CONTENT_SECURITY_POLICY);
        let aws = content_security_policy(Some("https://files.s3.us-east-1.amazonaws.com"));
        assert!(aws.starts_with("default-src 'self'; "), "{aws}");
        assert!(aws.ends_with("; frame-ancestors 'none'"), "{aws}");
        assert!(
            aws.contains("img-src 'self' https://files.s3.us-east-1.amazonaws.com;"),
            "{aws}"
        );
        assert!(
            aws.contains("connect-src 'self' https://files.s3.us-east-1.amazonaws.com;"),
            "{aws}"
        );
        assert!(!aws.contains("unsafe"), "{aws}");
    }

    #[test]
    fn the_root_serves_the_page_with_its_version_and_is_revalidated() {
        let response = get("/", &[]);
        assert_eq!(response.status(), 200);
        assert_secured(&response);
        assert_eq!(
            header_of(&response, header::CONTENT_TYPE),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(header_of(&response, header::CACHE_CONTROL), Some(REVALIDATE));
        let page = String::from_utf8(bytes(&response)).unwrap();
        assert!(!page.contains(VERSION_PLACEHOLDER));
        assert!(page.contains(&asset_url("main.js")), "{page}");
        assert!(page.contains(&asset_url("app.css")), "{page}");
        // CSP: no inline script or style anywhere in the page.
        assert!(!page.contains("<style"), "inline style element");
        assert!(!page.contains("style="), "inline style attribute");
        for script in page.split("<script").skip(1) {
            let tag = &script[..script.find('>').unwrap()];
            assert!(tag.contains("src="), "inline script: <script{tag}>");
        }
    }

    #[test]
    fn assets_have_their_content_type_and_are_cached_for_good() {
        for (path, expected) in [
            ("main.js", "text/javascript; charset=utf-8"),
            ("vendor/preact-htm.mjs", "text/javascript; charset=utf-8"),
            ("app.css", "text/css; charset=utf-8"),
            ("icon.svg", "image/svg+xml"),
        ] {
            let response = get(&asset_url(path), &[]);
            assert_eq!(response.status(), 200, "{path}");
            assert_secured(&response);
            assert_eq!(header_of(&response, header::CONTENT_TYPE), Some(expected), "{path}");
            assert_eq!(header_of(&response, header::CACHE_CONTROL), Some(IMMUTABLE), "{path}");
            assert!(header_of(&response, header::ETAG).is_some(), "{path}");
            let embedded = ASSETS.iter().find(|a| a.path == path).unwrap();
            assert_eq!(bytes(&response), embedded.bytes, "{path}");
        }
        assert_eq!(content_type("a.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("a.PNG"), "image/png");
        assert_eq!(content_type("a.json"), "application/json");
        assert_eq!(content_type("noextension"), "application/octet-stream");
    }

    #[test]
    fn unknown_paths_versions_and_methods_are_refused_with_the_same_headers() {
        for path in [
            "/app/",
            "/app/main.js",
            &format!("/app/{}/", version()),
            &format!("/app/{}/nothing.js", version()),
            &format!("/app/{}/../main.js", version()),
            &format!("/app/{}/vendor", version()),
            "/app/0000000000000000/main.js",
        ] {
            let response = get(path, &[]);
            assert_eq!(response.status(), 404, "{path}");
            assert_secured(&response);
            assert_eq!(header_of(&response, header::CACHE_CONTROL), Some("no-store"), "{path}");
        }
        let posted = answer(&Method::POST, "/", &HeaderMap::new());
        assert_eq!(posted.status(), 405);
        assert_eq!(header_of(&posted, header::ALLOW), Some("GET, HEAD"));
        assert_secured(&posted);
        let head = answer(&Method::HEAD, &asset_url("main.js"), &HeaderMap::new());
        assert_eq!(head.status(), 200);
        assert!(bytes(&head).is_empty());
    }

    #[test]
    fn only_web_paths_are_taken_from_the_api() {
        for path in ["/", "/app/", "/app/x/main.js"] {
            assert!(is_web_path(path), "{path}");
        }
        for path in ["/api/me", "/apps", "/index.html", "/viber/default", "/application"] {
            assert!(!is_web_path(path), "{path}");
        }
    }

    #[test]
    fn a_matching_etag_answers_304_without_a_body() {
        for path in ["/".to_owned(), asset_url("main.js")] {
            let first = get(&path, &[]);
            let etag = header_of(&first, header::ETAG).unwrap().to_owned();
            let again = get(&path, &[("if-none-match", &etag)]);
            assert_eq!(again.status(), 304, "{path}");
            assert!(bytes(&again).is_empty());
            assert_secured(&again);
            assert_eq!(header_of(&again, header::ETAG), Some(etag.as_str()));
            assert_eq!(
                header_of(&again, header::CACHE_CONTROL),
                header_of(&first, header::CACHE_CONTROL)
            );
            let listed = get(&path, &[("if-none-match", &format!("\"other\", W/{etag}"))]);
            assert_eq!(listed.status(), 304, "weak and listed tags match too");
            assert_eq!(get(&path, &[("if-none-match", "\"other\"")]).status(), 200);
        }
    }

    #[test]
    fn text_is_gzipped_for_clients_that_accept_it() {
        let url = asset_url("main.js");
        let plain = get(&url, &[]);
        let zipped = get(&url, &[("accept-encoding", "gzip, deflate, br")]);
        assert_eq!(header_of(&zipped, header::CONTENT_ENCODING), Some("gzip"));
        assert_eq!(header_of(&zipped, header::VARY), Some("Accept-Encoding"));
        assert_eq!(header_of(&plain, header::CONTENT_ENCODING), None);
        assert_eq!(gunzip(&bytes(&zipped)), bytes(&plain));
        assert!(bytes(&zipped).len() < bytes(&plain).len());
        // Each representation has its own tag; a cached gzip copy revalidates as itself.
        let plain_tag = header_of(&plain, header::ETAG).unwrap();
        let zipped_tag = header_of(&zipped, header::ETAG).unwrap().to_owned();
        assert_ne!(plain_tag, zipped_tag);
        let revalidated = get(&url, &[("accept-encoding", "gzip"), ("if-none-match", &zipped_tag)]);
        assert_eq!(revalidated.status(), 304);
        assert_eq!(get(&url, &[("if-none-match", &zipped_tag)]).status(), 200);

        let mut headers = HeaderMap::new();
        for (value, accepted) in [
            ("gzip", true),
            ("GZIP;q=0.5", true),
            ("*", true),
            ("gzip;q=0", false),
            ("br, deflate", false),
            ("identity", false),
        ] {
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            assert_eq!(accepts_gzip(&headers), accepted, "{value}");
        }
    }

    #[test]
    fn the_version_is_a_hash_of_every_file() {
        let version = version();
        assert_eq!(version.len(), 16);
        assert!(version.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(version, self::version(), "computed the same way every time");
    }

    /// Every file under web/ is embedded (or is a licence / checksum file), so a module added to
    /// the folder cannot be forgotten in `ASSETS` and 404 in production.
    #[test]
    fn every_web_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut found = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                    continue;
                }
                let relative = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
                let name = relative.rsplit('/').next().unwrap().to_owned();
                if !(name.starts_with("LICENSE") || name == "SHA256SUMS" || name == "README.md" || name == "index.html")
                {
                    found.push(relative);
                }
            }
        }
        found.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
        embedded.sort();
        assert_eq!(found, embedded);
    }

    /// The page preloads every module it needs at start (one round trip instead of a chain of
    /// imports), and none of those it loads only on demand.
    #[test]
    fn index_preloads_the_modules_of_the_first_view() {
        for asset in ASSETS
            .iter()
            .filter(|a| content_type(a.path).starts_with("text/javascript"))
        {
            let preload = format!(
                "<link rel=\"modulepreload\" href=\"/app/{VERSION_PLACEHOLDER}/{}\">",
                asset.path
            );
            let entry = format!(
                "<script type=\"module\" src=\"/app/{VERSION_PLACEHOLDER}/{}\">",
                asset.path
            );
            let lazy = LAZY_ASSETS.contains(&asset.path);
            let listed = INDEX_TEMPLATE.contains(&preload) || INDEX_TEMPLATE.contains(&entry);
            assert_eq!(listed, !lazy, "{}: preloaded {listed}, lazy {lazy}", asset.path);
        }
    }

    /// The vendored modules are the bytes `scripts/vendor-web` recorded.
    #[test]
    fn vendored_modules_match_their_checksums() {
        let sums = include_str!("../web/vendor/SHA256SUMS");
        let mut checked = 0;
        for line in sums.lines().filter(|l| !l.trim().is_empty()) {
            let (sum, name) = line.split_once("  ").unwrap();
            let path = format!("vendor/{name}");
            let asset = ASSETS
                .iter()
                .find(|a| a.path == path)
                .unwrap_or_else(|| panic!("{path} not embedded"));
            assert_eq!(hex::encode(Sha256::digest(asset.bytes)), sum, "{path}");
            checked += 1;
        }
        assert_eq!(checked, ASSETS.iter().filter(|a| a.path.starts_with("vendor/")).count());
    }

    /// No module writes HTML from strings: client text must always end up as text nodes.
    #[test]
    fn no_module_writes_html_from_strings() {
        for asset in ASSETS.iter().filter(|a| !a.path.starts_with("vendor/")) {
            let text = std::str::from_utf8(asset.bytes).unwrap();
            for forbidden in [
                "innerHTML",
                "outerHTML",
                "dangerouslySetInnerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                "style=\"",
            ] {
                assert!(!text.contains(forbidden), "{} uses {forbidden}", asset.path);
            }
        }
    }

    /// Issue 12: HTML + JS + CSS, gzipped, at most 60 KB. Counted as transferred: each file
    /// gzipped on its own, the lazily loaded QR encoder included.
    #[test]
    fn page_weight_is_within_budget() {
        const BUDGET: usize = 60 * 1024;
        let index = INDEX_TEMPLATE.replace(VERSION_PLACEHOLDER, &version());
        let mut total = gzip(index.as_bytes()).len();
        let mut raw = index.len();
        let mut lazy = 0;
        for asset in ASSETS {
            let kind = content_type(asset.path);
            if kind.starts_with("text/javascript") || kind.starts_with("text/css") {
                let zipped = gzip(asset.bytes).len();
                total += zipped;
                raw += asset.bytes.len();
                if LAZY_ASSETS.contains(&asset.path) {
                    lazy += zipped;
                }
            }
        }
        println!(
            "page weight: {:.1} KB gzipped ({:.1} KB raw); {:.1} KB of it loaded only on the Bots page; budget {} KB",
            total as f64 / 1024.0,
            raw as f64 / 1024.0,
            lazy as f64 / 1024.0,
            BUDGET / 1024
        );
        assert!(
            total <= BUDGET,
            "page weight {total} bytes is over the {BUDGET} byte budget"
        );
    }
}
