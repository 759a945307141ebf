//! Test helpers: an in-process daemon on 127.0.0.1:0 and a raw HTTP client.

use std::net::SocketAddr;
use std::path::Path;

use iollm_content::daemon::{Daemon, DaemonConfig, Repo};
use iollm_content::{KuboClient, RetryPolicy};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub struct Node {
    pub addr: SocketAddr,
    pub repo: std::sync::Arc<Repo>,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<iollm_content::Result<()>>,
}

impl Node {
    pub async fn start(repo_dir: &Path, addr: SocketAddr) -> Node {
        Self::start_with(repo_dir, addr, iollm_content::daemon::Limits::default()).await
    }

    pub async fn start_with(
        repo_dir: &Path,
        addr: SocketAddr,
        limits: iollm_content::daemon::Limits,
    ) -> Node {
        let mut config = DaemonConfig::new(repo_dir, addr);
        config.limits = limits;
        let d = Daemon::bind(config).await.unwrap();
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
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut r, mut w) = s.into_split();
    // Write while reading: the daemon may answer (and stop reading) before the request ends.
    let request = request.to_vec();
    let writer = tokio::spawn(async move {
        let _ = w.write_all(&request).await;
        w
    });
    let mut out = Vec::new();
    let _ = r.read_to_end(&mut out).await;
    drop(writer.await);
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

/// Writes `block` under `cid` straight into a blockstore's directory (no fsync: test setup).
pub fn put_raw_block(
    store: &iollm_content::blockstore::FlatBlockstore,
    cid: &cid::Cid,
    block: &[u8],
) {
    let p = store.block_path(cid);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, block).unwrap();
}

/// A UnixFS file node linking `children` (cid, file size of each), stored; returns its CID.
pub fn file_node(
    store: &iollm_content::blockstore::FlatBlockstore,
    children: &[(cid::Cid, u64)],
    tag: Option<u64>,
) -> cid::Cid {
    use iollm_content::pb::{encode_node, PbLink, UnixFs, UNIXFS_FILE};
    use sha2::Digest;
    let links: Vec<PbLink> =
        children.iter().map(|(c, s)| PbLink { cid: *c, name: String::new(), tsize: *s }).collect();
    let unixfs = UnixFs {
        kind: UNIXFS_FILE,
        // A distinct (ignored) inline byte count makes otherwise equal nodes distinct blocks.
        data: tag.map(|t| t.to_le_bytes().to_vec()),
        filesize: Some(children.iter().map(|(_, s)| s).sum::<u64>() + tag.map_or(0, |_| 8)),
        blocksizes: children.iter().map(|(_, s)| *s).collect(),
    };
    let block = encode_node(&links, Some(&unixfs.encode()));
    let cid = iollm_content::options::cid_for(
        iollm_content::CidVersion::V1,
        iollm_content::options::DAG_PB,
        sha2::Sha256::digest(&block).into(),
    );
    put_raw_block(store, &cid, &block);
    cid
}

/// The 4-block DAG that claims 5.5 TB: three levels of 174 links to one 1 MiB leaf.
pub fn claims_terabytes(store: &iollm_content::blockstore::FlatBlockstore) -> cid::Cid {
    use sha2::Digest;
    let leaf = pattern(1 << 20, 9);
    let leaf_cid = iollm_content::options::cid_for(
        iollm_content::CidVersion::V1,
        iollm_content::options::RAW,
        sha2::Sha256::digest(&leaf).into(),
    );
    put_raw_block(store, &leaf_cid, &leaf);
    let mut node = (leaf_cid, leaf.len() as u64);
    for _ in 0..3 {
        let c = file_node(store, &vec![node; 174], None);
        node = (c, node.1 * 174);
    }
    node.0
}

/// A DAG of `n·174 + 1 + ...` distinct small blocks: a root over `n` nodes, each over 174
/// distinct one-link nodes sharing one leaf. Slow to walk, cheap to build.
pub fn wide_dag(store: &iollm_content::blockstore::FlatBlockstore, n: u64) -> (cid::Cid, u64) {
    let leaf = b"leaf".to_vec();
    let leaf_cid = iollm_content::cid_of_bytes(&leaf, &iollm_content::AddOptions::v1()).unwrap();
    put_raw_block(store, &leaf_cid, &leaf);
    let mut mids = Vec::new();
    for i in 0..n {
        let smalls: Vec<(cid::Cid, u64)> = (0..174)
            .map(|j| (file_node(store, &[(leaf_cid, 4)], Some(i * 1000 + j)), 12))
            .collect();
        mids.push((file_node(store, &smalls, None), 174 * 12));
    }
    (file_node(store, &mids, None), 1 + n + n * 174 + 1)
}

/// A committed JSON Schema (`committed`, the file `schema/NAME` of this crate) is exactly the
/// one the types generate (`IOLLM_BLESS=1` writes it instead), and it agrees with `example`:
/// every property the example uses is declared, every required one present, no other allowed.
pub fn check_committed_schema(committed: &str, generated: &str, name: &str, example: &Value) {
    if std::env::var_os("IOLLM_BLESS").is_some() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema").join(name);
        std::fs::write(p, generated).unwrap();
        return;
    }
    assert_eq!(committed, generated, "schema/{name} is stale; IOLLM_BLESS=1");
    let schema: Value = serde_json::from_str(committed).unwrap();
    let props = schema["properties"].as_object().unwrap();
    for k in example.as_object().unwrap().keys() {
        assert!(props.contains_key(k), "{k} not in schema");
    }
    for r in schema["required"].as_array().unwrap() {
        assert!(example.get(r.as_str().unwrap()).is_some(), "example lacks required {r}");
    }
    assert_eq!(schema["additionalProperties"], false);
}
