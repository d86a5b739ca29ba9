//! One fault run's world: fresh moto resources (the queues as the template declares them), a
//! cuttable proxy in front of moto given to the stack as its AWS endpoint, the fake Viber behind
//! a cuttable proxy of its own (dropped connections), a media server for the clients' pictures
//! and files, and `viberdesk-local` as a child process that can be SIGKILLed and started again
//! on the same state.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;
use testkit::fixtures::DOC_TOKEN;
use testkit::local::{LocalStack, OWNER_TOKEN, SHORT_RETRIES};
use testkit::{CuttableProxy, FakeViber, MediaServer, http_client};

use super::ingest::Traffic;
use super::template::{self, QueueSpec};
use crate::Error;

/// What every world of a run shares.
#[derive(Clone)]
pub struct Setup {
    pub binary: PathBuf,
    pub template: PathBuf,
    pub log: PathBuf,
    /// The stack retries failed records after 250 ms … 8 s instead of the Lambdas' back-off.
    pub short_retries: bool,
    /// The inbound and outbound queues' visibility timeout at most this many seconds (a crash's
    /// recovery waits it out): the short run's scaled-down timing, said in the run's header.
    pub visibility_cap: Option<u64>,
}

impl Setup {
    /// The queues the functions consume, as the template declares them (with the inbound and
    /// outbound visibility capped at `visibility_cap`).
    pub fn queues(&self) -> Result<Vec<QueueSpec>, Error> {
        let mut queues = template::queues(&self.template)?;
        if let Some(cap) = self.visibility_cap {
            for queue in queues
                .iter_mut()
                .filter(|queue| [template::INBOUND, template::OUTBOUND].contains(&queue.resource.as_str()))
            {
                queue.cap_visibility(cap);
            }
        }
        Ok(queues)
    }
}

pub struct World {
    setup: Setup,
    env: Vec<(String, String)>,
    pub aws: CuttableProxy,
    pub viber: FakeViber,
    pub viber_link: CuttableProxy,
    pub media: MediaServer,
    stack: Option<LocalStack>,
    /// The running stack's base URL, read by every client task (it changes on a restart).
    base_url: Arc<RwLock<String>>,
    pub http: reqwest::Client,
}

impl World {
    pub async fn start(setup: &Setup) -> Result<World, Error> {
        let moto = testkit::moto::endpoint();
        let config = testkit::moto::sdk_config().await;
        let aws = CuttableProxy::in_front_of(&moto).await;
        let mut env = vec![
            ("AWS_ENDPOINT_URL".to_owned(), aws.url()),
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
            ("TABLE_NAME".to_owned(), testkit::moto::table(&config).await),
            ("ATTACHMENTS_BUCKET".to_owned(), testkit::moto::bucket(&config).await),
        ];
        // Every queue the template declares (a version with a media queue gets it too), each
        // under the variable the functions read.
        for queue in setup.queues()? {
            env.push((
                template::url_variable(&queue.resource),
                template::create(&config, &queue).await?,
            ));
        }
        let viber = FakeViber::start(DOC_TOKEN).await;
        let viber_link = CuttableProxy::start(viber.address).await;
        let mut world = World {
            setup: setup.clone(),
            env,
            aws,
            viber,
            viber_link,
            media: MediaServer::start().await,
            stack: None,
            base_url: Arc::new(RwLock::new(String::new())),
            http: http_client(),
        };
        world.start_stack().await;
        Ok(world)
    }

    async fn start_stack(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.setup.log)
            .expect("open the stack's log");
        let binary = self.setup.binary.clone();
        // The stack logs to stdout, which `LocalStack` discards: a shell sends it to stderr, the
        // log file, and `exec`s the stack, so the pid it reports is the stack's own.
        let command = move || {
            let mut command = Command::new("sh");
            command
                .args(["-c", r#"exec "$0" "$@" 1>&2"#])
                .arg(&binary)
                .stderr(log.try_clone().expect("clone the log's handle"));
            command
        };
        let api_url = format!("{}/pa", self.viber_link.url());
        let mut args = vec!["--viber-api-url", api_url.as_str(), "--viber-token", DOC_TOKEN];
        if self.setup.short_retries {
            args.extend_from_slice(&SHORT_RETRIES);
        }
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let stack = LocalStack::start_command(command, &args, &env).await;
        *self.base_url.write().unwrap_or_else(|p| p.into_inner()) = stack.base_url.clone();
        self.stack = Some(stack);
    }

    /// SIGKILLs the stack (no clean shutdown: batches in flight stay in flight) and starts it
    /// again at once on the same table, queues and bucket: how long the restart took.
    pub async fn crash_and_restart(&mut self) -> Duration {
        if let Some(stack) = self.stack.take() {
            let pid = stack.pid() as libc::pid_t;
            // SAFETY: kill(2) on the child this process started and has not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            drop(stack);
        }
        let started = Instant::now();
        self.start_stack().await;
        started.elapsed()
    }

    /// Where the queues stand, read from moto directly (not through the cuttable proxy):
    /// "inbound 305 waiting + 10 in flight, outbound 0 + 0". Messages waiting are a backlog the
    /// stack is still working through; messages in flight were received and not deleted (a
    /// batch that died with the process stays so until its visibility timeout ends).
    pub async fn queue_depths(&self) -> String {
        let config = testkit::moto::sdk_config().await;
        let client = aws_sdk_sqs::Client::new(&config);
        let mut depths = Vec::new();
        for (variable, url) in self.env.iter().filter(|(name, _)| name.ends_with("_QUEUE_URL")) {
            let attributes = client
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .ok()
                .and_then(|output| output.attributes)
                .unwrap_or_default();
            let count = |name: &QueueAttributeName| attributes.get(name).map_or("?", String::as_str).to_owned();
            let queue = variable.trim_end_matches("_QUEUE_URL").to_ascii_lowercase();
            depths.push(format!(
                "{queue} {} waiting + {} in flight",
                count(&QueueAttributeName::ApproximateNumberOfMessages),
                count(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            ));
        }
        depths.join(", ")
    }

    /// What client tasks need to post callbacks to whichever stack is running.
    pub fn traffic(&self) -> Traffic {
        Traffic {
            base: self.base_url.clone(),
            http: self.http.clone(),
            media: self.media.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// `method path` as the owner: the status and the JSON answer, or `None` when the stack did
    /// not answer (restarting, or the request timed out).
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Option<(u16, Value)> {
        let (status, answer, _) = self.call_keyed(method, path, body, None).await?;
        Some((status, answer))
    }

    /// [`Self::call`] with an `Idempotency-Key` (a staff reply, posted again under the same key
    /// when its answer is lost); also answers whether the API marked it `Idempotent-Replayed`
    /// (an earlier post under the key had made the reply).
    pub async fn call_keyed(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        idempotency_key: Option<&str>,
    ) -> Option<(u16, Value, bool)> {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(OWNER_TOKEN)
            .timeout(Duration::from_secs(10));
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|value| value == "true");
        let text = response.text().await.ok()?;
        Some((status, serde_json::from_str(&text).unwrap_or(Value::Null), replayed))
    }

    /// Every item of a paged list (`?limit=100&cursor=…`), or `None` if a page failed.
    pub async fn list_all(&self, path: &str) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let separator = if path.contains('?') { '&' } else { '?' };
        // Bounded: 1,000 pages of 100 is far more than a run writes.
        for _ in 0..1_000 {
            let page = match &cursor {
                Some(cursor) => format!("{path}{separator}limit=100&cursor={cursor}"),
                None => format!("{path}{separator}limit=100"),
            };
            let (status, answer) = self.call(reqwest::Method::GET, &page, None).await?;
            if status != 200 {
                return None;
            }
            items.extend(answer["items"].as_array().cloned().unwrap_or_default());
            match answer["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Some(items),
            }
        }
        Some(items)
    }
}

/// Where the stack's log goes: `target/fault-bench-local.log`.
pub fn log_path(target_dir: &Path) -> PathBuf {
    target_dir.join("fault-bench-local.log")
}
