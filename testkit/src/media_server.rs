//! A stand-in for Viber's media server: a tiny HTTP/1.1 server on loopback that answers GETs of
//! configured paths (query strings ignored, as for Viber's signed links) with bytes and a content
//! type, a status code, a delay, a chunked body without `Content-Length`, or a body cut short,
//! and counts the requests per path. Written on bare TCP so that it can misbehave on purpose.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream};

/// How the server answers a path.
#[derive(Debug, Clone)]
pub enum MediaReply {
    /// 200 with `Content-Length` and, if given, `Content-Type`.
    Bytes { body: Bytes, content_type: Option<String> },
    /// 200 with `Transfer-Encoding: chunked` (no `Content-Length`), in chunks of `chunk` bytes.
    Chunked {
        body: Bytes,
        content_type: Option<String>,
        chunk: usize,
    },
    /// 200 announcing `Content-Length` of the whole body, then closing after `sent` bytes.
    Truncated { body: Bytes, sent: usize },
    /// This status with an empty body.
    Status(u16),
    /// Waits, then answers as the inner reply.
    Delayed(Duration, Box<MediaReply>),
}

#[derive(Default)]
struct Inner {
    routes: HashMap<String, MediaReply>,
    hits: HashMap<String, usize>,
}

#[derive(Clone)]
pub struct MediaServer {
    pub address: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl MediaServer {
    pub async fn start() -> MediaServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let server = MediaServer {
            address,
            inner: Arc::default(),
        };
        let accepting = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = accepting.clone();
                tokio::spawn(async move {
                    let _ = server.answer(stream).await;
                });
            }
        });
        server
    }

    /// The URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Answers `path` with `reply` from now on.
    pub fn route(&self, path: &str, reply: MediaReply) {
        self.lock().routes.insert(path.to_owned(), reply);
    }

    /// Serves `body` as `content_type` at `path`; returns the path's URL.
    pub fn serve(&self, path: &str, body: impl Into<Bytes>, content_type: &str) -> String {
        self.route(
            path,
            MediaReply::Bytes {
                body: body.into(),
                content_type: Some(content_type.to_owned()),
            },
        );
        self.url(path)
    }

    /// Answers `path` with an HTTP status and no body; returns the path's URL.
    pub fn fail(&self, path: &str, status: u16) -> String {
        self.route(path, MediaReply::Status(status));
        self.url(path)
    }

    /// How many requests `path` received (any query string).
    pub fn hits(&self, path: &str) -> usize {
        self.lock().hits.get(path).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn answer(&self, stream: TcpStream) -> std::io::Result<()> {
        let head = read_head(&stream).await?;
        let target = head.split_whitespace().nth(1).unwrap_or("/");
        let path = target.split('?').next().unwrap_or(target).to_owned();
        let reply = {
            let mut inner = self.lock();
            *inner.hits.entry(path.clone()).or_default() += 1;
            inner.routes.get(&path).cloned()
        };
        let mut reply = reply.unwrap_or(MediaReply::Status(404));
        while let MediaReply::Delayed(delay, inner) = reply {
            tokio::time::sleep(delay).await;
            reply = *inner;
        }
        match reply {
            MediaReply::Bytes { body, content_type } => {
                let head = response_head(200, content_type.as_deref(), &format!("Content-Length: {}", body.len()));
                write_all(&stream, head.as_bytes()).await?;
                write_all(&stream, &body).await
            }
            MediaReply::Chunked {
                body,
                content_type,
                chunk,
            } => {
                let head = response_head(200, content_type.as_deref(), "Transfer-Encoding: chunked");
                write_all(&stream, head.as_bytes()).await?;
                for part in body.chunks(chunk.max(1)) {
                    write_all(&stream, format!("{:x}\r\n", part.len()).as_bytes()).await?;
                    write_all(&stream, part).await?;
                    write_all(&stream, b"\r\n").await?;
                }
                write_all(&stream, b"0\r\n\r\n").await
            }
            MediaReply::Truncated { body, sent } => {
                let head = response_head(200, None, &format!("Content-Length: {}", body.len()));
                write_all(&stream, head.as_bytes()).await?;
                write_all(&stream, &body[..sent.min(body.len())]).await
            }
            MediaReply::Status(status) => {
                let head = response_head(status, None, "Content-Length: 0");
                write_all(&stream, head.as_bytes()).await
            }
            MediaReply::Delayed(..) => unreachable!("delays were waited out above"),
        }
    }
}

fn response_head(status: u16, content_type: Option<&str>, length: &str) -> String {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Status");
    let content_type = content_type
        .map(|t| format!("Content-Type: {t}\r\n"))
        .unwrap_or_default();
    format!("HTTP/1.1 {status} {reason}\r\n{content_type}{length}\r\nConnection: close\r\n\r\n")
}

/// Reads the request line and headers (GETs have no body).
async fn read_head(stream: &TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        stream.readable().await?;
        match stream.try_read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
