//! A TCP proxy on loopback that can be cut: the AWS endpoint (moto) made unreachable for a while
//! without stopping it, since a stopped moto loses every table, queue and bucket it holds.
//! While cut, new connections are accepted and closed at once and the open ones are closed, so
//! a client sees what it sees when a network path fails: connection resets, not a slow answer.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct CuttableProxy {
    address: SocketAddr,
    cut: watch::Sender<bool>,
    accepting: JoinHandle<()>,
}

impl CuttableProxy {
    /// A proxy on a free loopback port, forwarding to `target`.
    pub async fn start(target: SocketAddr) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let (cut, watching) = watch::channel(false);
        let accepting = tokio::spawn(async move {
            loop {
                let client = match listener.accept().await {
                    Ok((client, _)) => client,
                    // Out of file descriptors, a connection reset before it was taken: the
                    // proxy goes on (stopping would look like an endless outage).
                    Err(error) => {
                        eprintln!("the proxy could not accept a connection: {error}");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                if *watching.borrow() {
                    drop(client);
                    continue;
                }
                tokio::spawn(forward(client, target, watching.clone()));
            }
        });
        CuttableProxy {
            address,
            cut,
            accepting,
        }
    }

    /// A proxy in front of the URL `http://host:port` (such as `testkit::moto::endpoint()`).
    pub async fn in_front_of(url: &str) -> CuttableProxy {
        let authority = url.trim_start_matches("http://").trim_end_matches('/');
        let target = authority.parse().expect("an http://127.0.0.1:port URL");
        CuttableProxy::start(target).await
    }

    /// `http://127.0.0.1:{port}`: where clients connect.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Closes every open connection and refuses new ones until [`CuttableProxy::restore`].
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }

    pub fn is_cut(&self) -> bool {
        *self.cut.borrow()
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.accepting.abort();
        // Ends the open connections' tasks too.
        self.cut.send_replace(true);
    }
}

async fn forward(mut client: TcpStream, target: SocketAddr, mut cut: watch::Receiver<bool>) {
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        _ = cut.wait_for(|cut| *cut) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 64];
                    while let Ok(read) = stream.read(&mut buffer).await {
                        if read == 0 || stream.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        address
    }

    async fn round_trip(stream: &mut TcpStream) -> Option<Vec<u8>> {
        stream.write_all(b"ping").await.ok()?;
        let mut buffer = [0u8; 4];
        match stream.read_exact(&mut buffer).await {
            Ok(_) => Some(buffer.to_vec()),
            Err(_) => None,
        }
    }

    #[tokio::test]
    async fn forwards_until_cut_and_again_once_restored() {
        let proxy = CuttableProxy::start(echo_server().await).await;
        let mut open = TcpStream::connect(proxy.address()).await.unwrap();
        assert_eq!(round_trip(&mut open).await.as_deref(), Some(&b"ping"[..]));

        proxy.cut();
        assert!(proxy.is_cut());
        assert_eq!(round_trip(&mut open).await, None, "an open connection is closed");
        let mut refused = TcpStream::connect(proxy.address()).await.unwrap();
        assert_eq!(round_trip(&mut refused).await, None, "a new one is closed at once");

        proxy.restore();
        let mut again = TcpStream::connect(proxy.address()).await.unwrap();
        assert_eq!(round_trip(&mut again).await.as_deref(), Some(&b"ping"[..]));
    }
}
