//! Starts `viberdesk-local` as a process on a free loopback port and stops it at the end.

#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::fixtures::{self, DOC_TOKEN};
use testkit::http_client;

pub struct LocalStack {
    pub base_url: String,
    child: Child,
}

pub const OWNER_TOKEN: &str = "owner-token-for-tests-0123456789abcdef";

impl LocalStack {
    /// Starts the stack with these extra flags and environment, waiting until it answers.
    pub async fn start(extra_args: &[&str], env: &[(&str, &str)]) -> LocalStack {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let listen = format!("127.0.0.1:{port}");
        let mut command = Command::new(env!("CARGO_BIN_EXE_viberdesk-local-e2e"));
        command
            .args(["--listen", &listen, "--owner-token", OWNER_TOKEN])
            // The fixtures' avatars are on Viber's CDN: tests fetch nothing from outside.
            .arg("--no-avatar-copy")
            .args(extra_args)
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("TABLE_NAME")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("start viberdesk-local");
        let stack = LocalStack {
            base_url: format!("http://{listen}"),
            child,
        };
        stack.wait_until_ready().await;
        stack
    }

    async fn wait_until_ready(&self) {
        let client = testkit::http_client();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(response) = client.get(format!("{}/health", self.base_url)).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("viberdesk-local did not start within 20 s");
    }

    /// Sends SIGINT (Ctrl-C) and waits for a clean exit.
    pub async fn interrupt(&mut self) -> std::process::ExitStatus {
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
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- Talking to the stack ----

/// Posts `body` to `/viber/default` signed with the fixtures' bot token; expects 200.
pub async fn post_signed(stack: &LocalStack, body: &[u8]) {
    let response = http_client()
        .post(format!("{}/viber/default", stack.base_url))
        .header("X-Viber-Content-Signature", fixtures::sign(DOC_TOKEN, body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

pub async fn api(stack: &LocalStack, path: &str) -> Value {
    let response = http_client()
        .get(format!("{}{path}", stack.base_url))
        .bearer_auth(OWNER_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// Polls `path` until `ready` holds (the processor runs behind the queue), for at most 5 s.
pub async fn eventually(stack: &LocalStack, path: &str, ready: impl Fn(&Value) -> bool) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let answer = api(stack, path).await;
        if ready(&answer) {
            return (answer, started.elapsed());
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path} never got ready: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- The AWS backend on moto ----

/// Fresh moto resources for one stack (table, both FIFO queues, bucket) and the environment that
/// points `viberdesk-local` at them.
pub async fn moto_environment() -> Vec<(&'static str, String)> {
    let config = testkit::moto::sdk_config().await;
    vec![
        ("AWS_ENDPOINT_URL", testkit::moto::endpoint()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("TABLE_NAME", testkit::moto::table(&config).await),
        ("INBOUND_QUEUE_URL", testkit::moto::fifo_queue(&config).await),
        ("OUTBOUND_QUEUE_URL", testkit::moto::fifo_queue(&config).await),
        ("ATTACHMENTS_BUCKET", testkit::moto::bucket(&config).await),
    ]
}

/// `moto_environment()` as `LocalStack::start` takes it.
pub fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(key, value)| (*key, value.as_str())).collect()
}
