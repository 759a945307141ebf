//! Test helpers: an in-process daemon on 127.0.0.1:0 and a raw HTTP client.

use std::net::SocketAddr;
use std::path::Path;

use iollm_content::daemon::{Daemon, DaemonConfig, Repo};
use iollm_content::{KuboClient, RetryPolicy};
use tokio_util::sync::CancellationToken;

pub struct Node {
    pub addr: SocketAddr,
    pub repo: std::sync::Arc<Repo>,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<iollm_content::Result<()>>,
}

impl Node {
    pub async fn start(repo_dir: &Path, addr: SocketAddr) -> Node {
        let d = Daemon::bind(DaemonConfig::new(repo_dir, addr)).await.unwrap();
        let addr = d.local_addr();
        let repo = d.repo();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(d.run(shutdown.clone()));
        Node { addr, repo, shutdown, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn client(&self) -> KuboClient {
        KuboClient::new(&self.url()).unwrap().with_policy(fast_policy())
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        initial_backoff: std::time::Duration::from_millis(20),
        request_timeout: std::time::Duration::from_secs(20),
        min_rate: 1024 * 1024,
    }
}

/// POSTs (or GETs) and returns (status, body).
pub async fn http(method: &str, url: &str) -> (u16, Vec<u8>) {
    let client = hyper::Client::new();
    let req = hyper::Request::builder().method(method).uri(url).body(hyper::Body::empty()).unwrap();
    let res = client.request(req).await.unwrap();
    let status = res.status().as_u16();
    let body = hyper::body::to_bytes(res.into_body()).await.unwrap();
    (status, body.to_vec())
}

pub async fn json(method: &str, url: &str) -> (u16, serde_json::Value) {
    let (s, b) = http(method, url).await;
    (
        s,
        serde_json::from_slice(&b)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&b))),
    )
}

pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| ((i % 251) as u8).wrapping_add(seed)).collect()
}
