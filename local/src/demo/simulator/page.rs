//! The simulator page's files (`local/web/simulator/`), embedded in the binary and served under
//! `/simulator/assets/{version}/…` with the staff inbox's rules (docs/web-inbox.md): no build
//! step, ES modules, long-lived caching under a version that hashes every file, and nothing from
//! another origin. Preact + htm are not vendored a second time: `preact.js` re-exports the
//! inbox's copy from its own versioned route (`api::web`).

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

/// Where the page's versioned files are.
pub const ASSET_PREFIX: &str = "/simulator/assets/";
/// The generated module that re-exports the inbox's vendored Preact + htm.
const PREACT_MODULE: &str = "preact.js";

macro_rules! embedded {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/simulator/", $path)) as &[u8])),*]
    };
}

/// Every file the page loads, beside `index.html` and `preact.js`.
pub static ASSETS: &[(&str, &[u8])] = embedded![
    "simulator.css",
    "icon.svg",
    "main.js",
    "api.js",
    "phone.js",
    "panel.js",
    "format.js",
];

static INDEX_TEMPLATE: &str = include_str!("../../../web/simulator/index.html");

/// The inbox's vendored Preact + htm, at its versioned URL.
pub fn preact_url() -> String {
    format!(
        "{}{}/vendor/preact-htm.mjs",
        api::web::ASSET_PREFIX,
        api::web::version()
    )
}

pub struct Site {
    pub version: String,
    pub index: String,
    preact: String,
}

pub static SITE: LazyLock<Site> = LazyLock::new(|| {
    let preact = preact_url();
    let mut hash = Sha256::new();
    for (path, bytes) in ASSETS.iter().copied().chain([
        ("index.html", INDEX_TEMPLATE.as_bytes()),
        (PREACT_MODULE, preact.as_bytes()),
    ]) {
        hash.update((path.len() as u64).to_le_bytes());
        hash.update(path.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    }
    let version = hex::encode(hash.finalize())[..16].to_owned();
    let index = INDEX_TEMPLATE
        .replace("{{ASSETS}}", &format!("{ASSET_PREFIX}{version}"))
        .replace("{{PREACT}}", &preact);
    Site {
        version,
        index,
        preact: format!("// Preact + htm, vendored once for the staff inbox.\nexport * from \"{preact}\";\n"),
    }
});

/// A versioned file: its content type and bytes, `None` when the version or path is unknown.
pub fn asset(version: &str, path: &str) -> Option<(&'static str, &'static [u8])> {
    let site = &*SITE;
    if version != site.version {
        return None;
    }
    if path == PREACT_MODULE {
        return Some((api::web::content_type(path), site.preact.as_bytes()));
    }
    ASSETS
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(name, bytes)| (api::web::content_type(name), *bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_versioned_same_origin_files() {
        let index = &SITE.index;
        assert!(!index.contains("{{"), "{index}");
        for reference in index.split(['"', '\'']).filter(|s| s.starts_with('/')) {
            let served = match reference.strip_prefix(ASSET_PREFIX) {
                Some(rest) => {
                    let (version, path) = rest.split_once('/').unwrap();
                    asset(version, path).is_some()
                }
                None => reference == preact_url(),
            };
            assert!(served, "{reference} is not served");
        }
        assert!(!index.contains("http://") && !index.contains("https://"));
        assert!(
            !index.contains("<style") && !index.contains("style="),
            "no inline style"
        );
        for tag in index.split("<script").skip(1) {
            let attributes = tag.split('>').next().unwrap();
            assert!(attributes.contains("src="), "no inline script: <script{attributes}>");
        }
    }

    #[test]
    fn modules_import_only_relative_paths_and_preact_through_the_inbox() {
        for (name, bytes) in ASSETS.iter().filter(|(name, _)| name.ends_with(".js")) {
            let text = std::str::from_utf8(bytes).unwrap();
            for line in text.lines().filter(|l| l.trim_start().starts_with("import ")) {
                let from = line.rsplit(['"', '\'']).nth(1).unwrap_or_default();
                assert!(from.starts_with("./"), "{name}: {line}");
                let target = from.trim_start_matches("./");
                assert!(
                    target == PREACT_MODULE || ASSETS.iter().any(|(n, _)| *n == target),
                    "{name} imports {target}, which is not served"
                );
            }
            assert!(!text.contains("innerHTML"), "{name}: text is rendered as text");
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{name}: no other origin"
            );
        }
        let (kind, preact) = asset(&SITE.version, "preact.js").unwrap();
        assert!(kind.starts_with("text/javascript"));
        assert!(std::str::from_utf8(preact).unwrap().contains(&preact_url()));
        assert!(asset("old-version", "main.js").is_none());
        assert!(asset(&SITE.version, "../Cargo.toml").is_none());
    }

    #[test]
    fn the_inbox_serves_the_preact_module_the_page_imports() {
        let path = preact_url();
        let response = api::web::answer(
            &lambda_http::http::Method::GET,
            &path,
            &lambda_http::http::HeaderMap::new(),
        );
        assert_eq!(response.status(), 200, "{path}");
    }
}
