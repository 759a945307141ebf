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

/// Sends `request` as is on a new connection and reads the answer to its end (the request
/// should say `Connection: close`): (status, body). A dropped connection is status 0.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    parse_response(&out)
}

/// (status, body) of a raw HTTP/1.1 response (chunked or not); status 0 when there is none.
pub fn parse_response(out: &[u8]) -> (u16, Vec<u8>) {
    let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") else { return (0, Vec::new()) };
    let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut body = out[end + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut plain = Vec::new();
        let mut rest = &body[..];
        while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..i]).unwrap().trim(), 16)
                .unwrap_or(0);
            if n == 0 || rest.len() < i + 2 + n {
                break;
            }
            plain.extend_from_slice(&rest[i + 2..i + 2 + n]);
            rest = &rest[i + 2 + n + 2..];
        }
        body = plain;
    }
    (status, body)
}

/// One multipart part: raw (already escaped) file name, content type, content.
pub struct Part<'a>(pub Option<&'a str>, pub &'a str, pub &'a [u8]);

pub const BOUNDARY: &str = "iollm-test-boundary";

/// A multipart/form-data body of `parts` (field name `file`, as Kubo's clients send).
pub fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut b = Vec::new();
    for Part(name, ctype, data) in parts {
        b.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"").as_bytes(),
        );
        if let Some(n) = name {
            b.extend_from_slice(format!("; filename=\"{n}\"").as_bytes());
        }
        b.extend_from_slice(format!("\r\nContent-Type: {ctype}\r\n\r\n").as_bytes());
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    b
}

/// A complete `POST path` request with a multipart body.
pub fn multipart_request(addr: SocketAddr, path: &str, parts: &[Part<'_>]) -> Vec<u8> {
    let body = multipart(parts);
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(&body);
    r
}

/// Kubo's error body: (status, Code, Message).
pub fn api_error(status: u16, body: &[u8]) -> (u16, i64, String) {
    let v: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {status} {}", String::from_utf8_lossy(body)));
    assert_eq!(v["Type"], "error", "{v}");
    (status, v["Code"].as_i64().unwrap(), v["Message"].as_str().unwrap().to_owned())
}

/// A fake IPFS API on 127.0.0.1: for every request, reads its head and hands the request
/// target (`/api/v0/block/get?arg=…`) and the connection to `answer`.
pub async fn fake_api<F, Fut>(answer: F) -> (SocketAddr, tokio::task::JoinHandle<()>)
where
    F: Fn(String, tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = std::sync::Arc::new(answer);
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if s.read(&mut b).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let target = text.split(' ').nth(1).unwrap_or_default().to_owned();
                answer(target, s).await;
            });
        }
    });
    (addr, task)
}
