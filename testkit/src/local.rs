//! `viberdesk-local` as a process under test: started on a free loopback port (in memory, or on
//! fresh moto resources), talked to over HTTP as the staff and as Viber would, and stopped when
//! the handle drops. The binary is the calling test crate's (`env!("CARGO_BIN_EXE_…")` is only
//! set for a package's own binaries), handed in once as a [`LocalBinary`].

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::fixtures::{self, DOC_TOKEN};
use crate::{FakeViber, http_client};

/// The owner's bearer token every stack is started with (`--owner-token`).
pub const OWNER_TOKEN: &str = "owner-token-for-tests-0123456789abcdef";

/// How long [`LocalStack::eventually`] waits for the processor and the sender behind the queues.
pub const EVENTUALLY: Duration = Duration::from_secs(5);

/// Flags for a test that waits for retries: a failed record comes back after 0.25, 0.5, 1, 2 s
/// (with jitter) instead of the functions' own back-off (the sender's 5 s, 10 s … would make such
/// a test take a minute). Tests without it see the timing of the Lambdas.
pub const SHORT_RETRIES: [&str; 2] = ["--retry-backoff-ms", "250:8000"];

/// The `viberdesk-local` binary a test crate built.
#[derive(Debug, Clone, Copy)]
pub struct LocalBinary(pub &'static str);

impl LocalBinary {
    pub fn path(self) -> &'static Path {
        Path::new(self.0)
    }

    /// The stack with these extra flags, on its embedded in-memory adapters.
    pub async fn start(self, args: &[&str]) -> LocalStack {
        LocalStack::start(self.path(), args, &[]).await
    }

    /// The stack with these extra flags, on fresh moto resources ([`moto_environment`];
    /// `VIBERDESK_MOTO_ENDPOINT`).
    pub async fn start_on_moto(self, args: &[&str]) -> LocalStack {
        let env = moto_environment().await;
        let env: Vec<(&str, &str)> = env.iter().map(|(key, value)| (*key, value.as_str())).collect();
        LocalStack::start(self.path(), args, &env).await
    }

    /// A fake Viber with the fixtures' bot, and the stack with that bot connected as integration
    /// `default` (`--viber-token`).
    pub async fn connected(self) -> (FakeViber, LocalStack) {
        self.connected_with(&[]).await
    }

    /// As [`LocalBinary::connected`], with these extra flags (such as [`SHORT_RETRIES`]).
    pub async fn connected_with(self, args: &[&str]) -> (FakeViber, LocalStack) {
        let viber = FakeViber::start(DOC_TOKEN).await;
        let api_url = viber.api_url();
        let mut all = vec!["--viber-api-url", &api_url, "--viber-token", DOC_TOKEN];
        all.extend_from_slice(args);
        let stack = self.start(&all).await;
        (viber, stack)
    }

    /// As [`LocalBinary::connected`], on fresh moto resources.
    pub async fn connected_on_moto(self) -> (FakeViber, LocalStack) {
        self.connected_on_moto_with(&[]).await
    }

    /// As [`LocalBinary::connected_on_moto`], with these extra flags.
    pub async fn connected_on_moto_with(self, args: &[&str]) -> (FakeViber, LocalStack) {
        let viber = FakeViber::start(DOC_TOKEN).await;
        let api_url = viber.api_url();
        let mut all = vec!["--viber-api-url", &api_url, "--viber-token", DOC_TOKEN];
        all.extend_from_slice(args);
        let stack = self.start_on_moto(&all).await;
        (viber, stack)
    }
}

pub struct LocalStack {
    /// `http://127.0.0.1:{port}`, where it listens.
    pub base_url: String,
    child: Child,
}

impl LocalStack {
    /// Starts `binary` with these extra flags and environment, waiting until it answers.
    pub async fn start(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> LocalStack {
        let command = || {
            let mut command = Command::new(binary);
            command.stderr(Stdio::inherit());
            command
        };
        Self::start_command(command, args, env).await
    }

    /// As [`LocalStack::start`], with `command` making the command that runs the binary: a
    /// wrapper such as `taskset -c 0 viberdesk-local`, or its log sent elsewhere (the stack's
    /// flags follow the command's own arguments). It is called again for each attempt.
    ///
    /// The port is found by binding port 0 and releasing it, so another test can take it before
    /// the stack binds it; a stack that exits before it answers is started again on a new port.
    pub async fn start_command(
        mut command: impl FnMut() -> Command,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> LocalStack {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let listen = format!("127.0.0.1:{port}");
            let mut command = command();
            command
                .args(["--listen", &listen, "--owner-token", OWNER_TOKEN])
                // The fixtures' avatars are on Viber's CDN: tests fetch nothing from outside.
                .arg("--no-avatar-copy")
                .args(args)
                .env_remove("AWS_ENDPOINT_URL")
                .env_remove("TABLE_NAME")
                .env("RUST_LOG", "info")
                .stdout(Stdio::null());
            for (key, value) in env {
                command.env(key, value);
            }
            let child = command.spawn().expect("start viberdesk-local");
            let mut stack = LocalStack {
                base_url: format!("http://{listen}"),
                child,
            };
            match stack.wait_until_ready().await {
                Ok(()) => return stack,
                Err(status) if attempt < ATTEMPTS => {
                    eprintln!("viberdesk-local exited before it answered on {listen} ({status}); starting it again");
                }
                Err(status) => panic!("viberdesk-local exited before it answered, {ATTEMPTS} times: {status}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Waits until the stack answers `/health`; the child's status if it exits first.
    async fn wait_until_ready(&mut self) -> Result<(), ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(status);
            }
            if let Ok(response) = http_client().get(self.url("/health")).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("viberdesk-local did not start within 20 s");
    }

    /// Sends SIGINT (Ctrl-C) and waits for a clean exit.
    pub async fn interrupt(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "viberdesk-local did not stop within 10 s of Ctrl-C"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id (to read its memory and CPU time from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    // ---- The staff API ----

    /// A request to `path`, without credentials (to build one the helpers below do not).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        http_client().request(method, self.url(path))
    }

    /// `method path` as the staff member whose bearer token is `token`, with a JSON body: the
    /// status and the JSON answer (`null` when there is none).
    pub async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.request(method, path).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.unwrap()).await
    }

    /// `GET path` as the owner.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, OWNER_TOKEN, None).await
    }

    /// `GET path` as the owner, which must answer 200.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, answer) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        answer
    }

    /// `POST path` as the owner.
    pub async fn post_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, OWNER_TOKEN, Some(body)).await
    }

    /// `PATCH path` as the owner.
    pub async fn patch_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, OWNER_TOKEN, Some(body)).await
    }

    /// `DELETE path` as the owner.
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, OWNER_TOKEN, None).await
    }

    /// PUTs `bytes` to a signed upload URL, as a browser would.
    pub async fn put_bytes(&self, url: &str, content_type: &str, bytes: &[u8]) -> StatusCode {
        http_client()
            .put(url)
            .header("content-type", content_type)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Polls `GET path` until `ready` holds (the processor and the sender run behind queues), for
    /// at most [`EVENTUALLY`]: the answer, and how long it took.
    pub async fn eventually(&self, path: &str, ready: impl Fn(&Value) -> bool) -> (Value, Duration) {
        self.eventually_within(EVENTUALLY, Duration::from_millis(20), path, ready)
            .await
    }

    /// As [`LocalStack::eventually`], for at most `limit`, polling every `every`.
    pub async fn eventually_within(
        &self,
        limit: Duration,
        every: Duration,
        path: &str,
        ready: impl Fn(&Value) -> bool,
    ) -> (Value, Duration) {
        let started = Instant::now();
        loop {
            let answer = self.get_ok(path).await;
            if ready(&answer) {
                return (answer, started.elapsed());
            }
            assert!(started.elapsed() < limit, "{path} never got ready: {answer}");
            tokio::time::sleep(every).await;
        }
    }

    // ---- Viber's side ----

    /// POSTs a callback to integration `id`'s webhook with this signature header (none: no
    /// header).
    pub async fn callback(&self, id: &str, body: &[u8], signature: Option<String>) -> Response {
        let mut request = http_client()
            .post(self.url(&format!("/viber/{id}")))
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("X-Viber-Content-Signature", signature);
        }
        request.send().await.unwrap()
    }

    /// POSTs `body` to integration `id`'s webhook signed with the bot's `token`: the status.
    pub async fn post_signed_to(&self, id: &str, token: &str, body: &[u8]) -> StatusCode {
        self.callback(id, body, Some(fixtures::sign(token, body)))
            .await
            .status()
    }

    /// POSTs `body` to `/viber/default` signed with the fixtures' bot token; expects 200.
    pub async fn post_signed(&self, body: &[u8]) {
        assert_eq!(self.post_signed_to("default", DOC_TOKEN, body).await, StatusCode::OK);
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn answer(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The media queue's `maxReceiveCount` in the template (`MEDIA_MAX_RECEIVES`), which
/// [`moto_environment`]'s media queue mirrors.
pub const MEDIA_MAX_RECEIVES: u32 = 5;

/// Fresh moto resources for one stack (table, both FIFO queues, the standard media queue, bucket)
/// and the environment that points `viberdesk-local` at them.
pub async fn moto_environment() -> Vec<(&'static str, String)> {
    let config = crate::moto::sdk_config().await;
    vec![
        ("AWS_ENDPOINT_URL", crate::moto::endpoint()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("TABLE_NAME", crate::moto::table(&config).await),
        ("INBOUND_QUEUE_URL", crate::moto::fifo_queue(&config).await),
        ("OUTBOUND_QUEUE_URL", crate::moto::fifo_queue(&config).await),
        (
            "MEDIA_QUEUE_URL",
            crate::moto::standard_queue(&config, MEDIA_MAX_RECEIVES).await,
        ),
        ("ATTACHMENTS_BUCKET", crate::moto::bucket(&config).await),
    ]
}
