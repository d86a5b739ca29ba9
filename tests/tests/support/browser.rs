//! Debian's headless Chromium driven through chromedriver with fantoccini (plain HTTP on
//! loopback, no TLS). Controls are found the way people and screen readers find them: by ARIA
//! role and accessible name, as Chromium itself computes them (the DevTools accessibility tree,
//! through chromedriver's CDP endpoint), not by CSS classes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The flags of issue 12, exactly; a fresh profile directory is added per browser.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
];

/// How long a control may take to appear (polls and the change feed run every 4 s).
pub const WAIT: Duration = Duration::from_secs(15);

/// Browser tests share 2 cores with the stack under test: one such test at a time (each test
/// holds this for its whole run, stack included).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

fn find_program(names: &[&str], variable: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable).map(PathBuf::from) {
        return path.is_file().then_some(path);
    }
    let paths = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a fresh headless Chromium behind it.
    pub async fn start() -> Browser {
        let chromium = find_program(&["chromium", "chromium-browser"], "VIBERDESK_CHROMIUM").unwrap_or_else(|| {
            panic!(
                "Chromium is not installed: the browser tests need Debian's `chromium` and `chromium-driver` \
                 (scripts/test installs them: apt-get install -y --no-install-recommends chromium chromium-driver \
                 fonts-noto-color-emoji), or VIBERDESK_CHROMIUM pointing at a Chromium binary"
            )
        });
        let chromedriver = find_program(&["chromedriver"], "VIBERDESK_CHROMEDRIVER").unwrap_or_else(|| {
            panic!(
                "chromedriver is not installed: the browser tests need Debian's `chromium-driver` \
                 (scripts/test installs it), or VIBERDESK_CHROMEDRIVER pointing at it"
            )
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        static PROFILES: AtomicU32 = AtomicU32::new(0);
        let profile = std::env::temp_dir().join(format!(
            "viberdesk-chromium-{}-{}",
            std::process::id(),
            PROFILES.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium.to_string_lossy(), "args": args}),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "chromedriver at {url} gave no browser session within 20 s: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        client.set_window_size(1440, 900).await.unwrap();
        Browser {
            client,
            driver,
            profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Runs a DevTools protocol command on the page (chromedriver's `goog/cdp/execute`).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.client
            .issue_cmd(Cdp {
                cmd: cmd.to_owned(),
                params,
            })
            .await
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
    }

    /// The visible elements with this ARIA role and accessible name (exact), as Chromium's
    /// accessibility tree has them.
    pub async fn all_by_role(&self, role: &str, name: &str) -> Vec<Element> {
        let mut visible = Vec::new();
        for element in self.in_tree(role, name).await {
            if element.is_displayed().await.unwrap_or(false) {
                visible.push(element);
            }
        }
        visible
    }

    /// Every element with this role and name in the accessibility tree, shown or not (a file
    /// input is usually drawn by its label).
    pub async fn in_tree(&self, role: &str, name: &str) -> Vec<Element> {
        // Chromium names the ARIA role `img` "image" in its tree.
        let role = if role == "img" { "image" } else { role };
        let document = self.cdp("DOM.getDocument", json!({"depth": 0})).await;
        let root = document["root"]["nodeId"].clone();
        let found = self
            .cdp(
                "Accessibility.queryAXTree",
                json!({"nodeId": root, "accessibleName": name, "role": role}),
            )
            .await;
        let backend_ids: Vec<Value> = found["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|node| node["ignored"] != true)
            .filter_map(|node| node.get("backendDOMNodeId").cloned())
            .collect();
        if backend_ids.is_empty() {
            return Vec::new();
        }
        let pushed = self
            .cdp(
                "DOM.pushNodesByBackendIdsToFrontend",
                json!({"backendNodeIds": backend_ids}),
            )
            .await;
        static MARKS: AtomicU32 = AtomicU32::new(0);
        let mark = format!("m{}", MARKS.fetch_add(1, Ordering::Relaxed));
        for node_id in pushed["nodeIds"].as_array().into_iter().flatten() {
            if node_id.as_i64().unwrap_or(0) == 0 {
                continue;
            }
            self.cdp(
                "DOM.setAttributeValue",
                json!({"nodeId": node_id, "name": "data-e2e", "value": mark}),
            )
            .await;
        }
        self.client
            .find_all(Locator::Css(&format!("[data-e2e='{mark}']")))
            .await
            .unwrap_or_default()
    }

    /// The one element with this role and name, waiting for it to appear.
    pub async fn by_role(&self, role: &str, name: &str) -> Element {
        let started = Instant::now();
        loop {
            let mut found = self.all_by_role(role, name).await;
            if !found.is_empty() {
                return found.remove(0);
            }
            if started.elapsed() > WAIT {
                let shot = self.screenshot(&format!("missing-{role}-{}", slug(name))).await;
                let names = self.names(role).await;
                panic!(
                    "no visible {role} named {name:?} within {WAIT:?}; the page has {role}s {names:?} (screenshot {})",
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The accessible names of every element with this role (for failure messages).
    pub async fn names(&self, role: &str) -> Vec<String> {
        let role = if role == "img" { "image" } else { role };
        let document = self.cdp("DOM.getDocument", json!({"depth": 0})).await;
        let found = self
            .cdp(
                "Accessibility.queryAXTree",
                json!({"nodeId": document["root"]["nodeId"], "role": role}),
            )
            .await;
        found["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|node| node["name"]["value"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Whether a visible element with this role and name exists right now.
    pub async fn has_role(&self, role: &str, name: &str) -> bool {
        !self.all_by_role(role, name).await.is_empty()
    }

    /// Waits until `ready` holds for the page's JavaScript value of `script` (an expression).
    pub async fn wait_for_js(&self, what: &str, script: &str) -> Value {
        let started = Instant::now();
        loop {
            let value = self
                .client
                .execute(&format!("return ({script});"), vec![])
                .await
                .unwrap_or(Value::Null);
            if !value.is_null() && value != Value::Bool(false) {
                return value;
            }
            if started.elapsed() > WAIT {
                let shot = self.screenshot(&format!("timeout-{}", slug(what))).await;
                panic!("{what}: not within {WAIT:?} (screenshot {})", shot.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the visible text of the element found by `css` contains `needle`.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let mut text = String::new();
            for element in self.client.find_all(Locator::Css(css)).await.unwrap_or_default() {
                text.push_str(&element.text().await.unwrap_or_default());
                text.push('\n');
            }
            if text.contains(needle) {
                return text;
            }
            if started.elapsed() > WAIT {
                let shot = self.screenshot(&format!("text-{}", slug(needle))).await;
                panic!(
                    "{css} never showed {needle:?} within {WAIT:?}; it shows {text:?} (screenshot {})",
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The `article`s of the Conversation region, as visible text.
    pub async fn messages(&self) -> Vec<String> {
        let mut texts = Vec::new();
        for article in self
            .client
            .find_all(Locator::Css("[aria-label='Conversation'] article"))
            .await
            .unwrap_or_default()
        {
            texts.push(article.text().await.unwrap_or_default());
        }
        texts
    }

    /// Waits until a message of the conversation satisfies `ready`; answers its text.
    pub async fn wait_for_message(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let messages = self.messages().await;
            if let Some(found) = messages.iter().find(|m| ready(m)) {
                return found.clone();
            }
            if started.elapsed() > WAIT {
                let shot = self.screenshot(&format!("message-{}", slug(what))).await;
                panic!(
                    "no message {what} within {WAIT:?}; the conversation shows {messages:#?} (screenshot {})",
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types into a control found by role and name (after clearing it).
    pub async fn fill(&self, role: &str, name: &str, text: &str) {
        let field = self.by_role(role, name).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, role: &str, name: &str) {
        self.by_role(role, name).await.click().await.unwrap();
    }

    /// Chooses an option of a combobox (a `<select>`) by its visible label.
    pub async fn choose(&self, name: &str, label: &str) {
        let select = self.by_role("combobox", name).await;
        select.select_by_label(label).await.unwrap();
    }

    /// Saves a screenshot as `target/screenshots/{name}.png` and answers its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        if let Ok(png) = self.client.screenshot().await {
            std::fs::write(&path, png).unwrap();
        }
        path
    }

    /// Closes the session and stops chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

pub fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("screenshots")
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect()
}

/// chromedriver's `POST /session/{id}/goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: String,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"cmd": self.cmd, "params": self.params}).to_string()),
        )
    }
}
