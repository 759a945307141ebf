//! The IPFS client: a [`ContentStore`] trait and [`KuboClient`], its implementation on the Kubo
//! RPC API (`ipfs-api-backend-hyper`). It talks to a real Kubo node or to our [`crate::daemon`].
//!
//! Every call has a timeout and is retried a bounded number of times on transport failures
//! (connection refused or reset, timeouts) with exponential backoff — one policy,
//! [`RetryPolicy`]; errors the node answers with are not retried. Adds are checked: the CID the
//! node returns must equal the one computed locally, or the add fails with
//! [`Error::CidMismatch`].
//!
//! ```no_run
//! # async fn f() -> iollm_content::Result<()> {
//! use iollm_content::{AddOptions, ContentStore, KuboClient};
//! let ipfs = KuboClient::new(iollm_content::DEFAULT_IPFS_API)?; // http://127.0.0.1:5001
//! let added = ipfs.put_file("model.safetensors".as_ref(), &AddOptions::default()).await?;
//! # Ok(()) }
//! ```

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use ipfs_api_backend_hyper::{IpfsApi, IpfsClient, TryFromUri};

use crate::blockstore::MAX_BLOCK_SIZE;
use crate::dag::{add_path_with, Added, NullSink};
use crate::error::{Error, Result};
use crate::options::{parse_cid, AddOptions, CidVersion};

const TARGET: &str = "iollm_content::client";
/// Kubo's default API address.
pub const DEFAULT_IPFS_API: &str = "http://127.0.0.1:5001";

/// What a content store can do. Implemented by [`KuboClient`]; tests may implement it in memory.
pub trait ContentStore: Send + Sync {
    /// Adds one file (streamed); returns its root as the node computed it.
    fn put_file(
        &self,
        path: &Path,
        opts: &AddOptions,
    ) -> impl Future<Output = Result<Added>> + Send;
    /// Adds a directory tree (as `ipfs add -r`); returns the directory's root.
    fn put_dir(&self, path: &Path, opts: &AddOptions)
        -> impl Future<Output = Result<Added>> + Send;
    /// One raw block (unverified; see [`crate::fetch_verified`]).
    fn get_block(&self, cid: &Cid) -> impl Future<Output = Result<Bytes>> + Send;
    /// Size of one block, or [`Error::Api`] when the node does not have it.
    fn stat(&self, cid: &Cid) -> impl Future<Output = Result<u64>> + Send;
    /// Pins a DAG recursively.
    fn pin(&self, cid: &Cid) -> impl Future<Output = Result<()>> + Send;
    /// Removes a recursive pin.
    fn unpin(&self, cid: &Cid) -> impl Future<Output = Result<()>> + Send;
    /// Recursive pins.
    fn pins(&self) -> impl Future<Output = Result<Vec<Cid>>> + Send;
}

/// Timeouts and retries, the one policy every client call follows.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries per call (≥ 1).
    pub attempts: u32,
    /// Wait before the second try; doubled after each failure.
    pub initial_backoff: Duration,
    /// Limit for one small request (stat, pin, one block).
    pub request_timeout: Duration,
    /// Slowest acceptable transfer rate for adds (bytes/s); sets their timeout from their size.
    pub min_rate: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            initial_backoff: Duration::from_millis(200),
            request_timeout: Duration::from_secs(30),
            min_rate: 2 * 1024 * 1024,
        }
    }
}

/// A client for the Kubo RPC API.
#[derive(Clone)]
pub struct KuboClient {
    url: String,
    api: IpfsClient,
    http: hyper::Client<hyper::client::HttpConnector>,
    policy: RetryPolicy,
}

impl std::fmt::Debug for KuboClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KuboClient").field("url", &self.url).field("policy", &self.policy).finish()
    }
}

enum Attempt<T> {
    Done(T),
    Transient(String),
}

impl KuboClient {
    /// A client for the API at `url` (`http://127.0.0.1:5001`; a trailing `/api/v0` is fine).
    pub fn new(url: &str) -> Result<Self> {
        let base = url.trim_end_matches('/').trim_end_matches("/api/v0");
        let api = IpfsClient::from_str(base).map_err(|e| Error::Unreachable {
            url: url.to_owned(),
            attempts: 0,
            reason: format!("invalid API URL: {e}"),
        })?;
        Ok(Self {
            url: base.to_owned(),
            api,
            http: hyper::Client::new(),
            policy: RetryPolicy::default(),
        })
    }

    /// Replaces the retry policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The API URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kubo's `version` (also a liveness check).
    pub async fn version(&self) -> Result<String> {
        self.retry("version", self.policy.request_timeout, || async {
            classify(self.api.version().await).map(|a| match a {
                Attempt::Done(v) => Attempt::Done(v.version),
                Attempt::Transient(e) => Attempt::Transient(e),
            })
        })
        .await
    }

    /// Streams `[offset, offset+length)` of a file (unverified bytes).
    pub async fn cat_range(&self, cid: &Cid, offset: usize, length: usize) -> Result<Bytes> {
        let path = cid.to_string();
        self.retry("cat", self.policy.request_timeout, || async {
            // At most `length` bytes are read, whatever the node sends.
            let mut body = self.api.cat_range(&path, offset, length);
            let mut buf = bytes::BytesMut::new();
            while let Some(chunk) = body.next().await {
                match chunk {
                    Ok(c) if buf.len() + c.len() > length => {
                        return Err(Error::ResponseTooLarge { op: "cat", limit: length as u64 });
                    }
                    Ok(c) => buf.extend_from_slice(&c),
                    Err(e) => {
                        return classify::<()>(Err(e)).map(|a| match a {
                            Attempt::Done(()) => Attempt::Done(Bytes::new()),
                            Attempt::Transient(e) => Attempt::Transient(e),
                        })
                    }
                }
            }
            Ok(Attempt::Done(buf.freeze()))
        })
        .await
    }

    async fn retry<T, F, Fut>(&self, op: &'static str, limit: Duration, mut f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Attempt<T>>>,
    {
        let mut backoff = self.policy.initial_backoff;
        let mut last = String::new();
        let attempts = self.policy.attempts.max(1);
        for attempt in 1..=attempts {
            match tokio::time::timeout(limit, f()).await {
                Ok(Ok(Attempt::Done(v))) => return Ok(v),
                Ok(Err(e)) => return Err(e),
                Ok(Ok(Attempt::Transient(e))) => last = e,
                Err(_) => last = format!("{op} timed out after {} s", limit.as_secs()),
            }
            tracing::warn!(target: TARGET, op, attempt, error = %last, "IPFS call failed, retrying");
            if attempt < attempts {
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
            }
        }
        Err(Error::Unreachable { url: self.url.clone(), attempts, reason: last })
    }

    fn add_timeout(&self, bytes: u64) -> Duration {
        self.policy.request_timeout + Duration::from_secs(bytes / self.policy.min_rate.max(1))
    }

    /// Streams a multipart `add` (1 MiB body chunks) and checks the node's root CID.
    ///
    /// Why not `IpfsApi::add_with_form`: its multipart body (common-multipart-rfc7578) yields
    /// ~2 KiB chunks, which caps uploads far below what the node can take (measured: 52-67 MB/s
    /// on 1 GiB). This request goes to the same Kubo endpoint with the same form fields, through
    /// the same hyper 0.14 stack.
    async fn add_parts(&self, parts: &[Part], opts: &AddOptions, bytes: u64) -> Result<Cid> {
        let v = match opts.cid_version {
            CidVersion::V0 => 0,
            CidVersion::V1 => 1,
        };
        let uri = format!(
            "{}/api/v0/add?cid-version={v}&raw-leaves={}&chunker={}&pin=true&progress=false",
            self.url,
            opts.raw_leaves,
            opts.chunker()
        );
        let bar = progress_bar(bytes, "add");
        let lines = self
            .retry("add", self.add_timeout(bytes), || {
                let uri = uri.clone();
                let bar = bar.clone();
                async move {
                    bar.set_position(0);
                    let boundary = format!("iollm-{:016x}", rand_u64());
                    let body = hyper::Body::wrap_stream(multipart_body(parts, &boundary, bar));
                    let req = hyper::Request::post(&uri)
                        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
                        .body(body)
                        .map_err(|e| Error::Api(e.to_string()))?;
                    let res = match self.http.request(req).await {
                        Ok(r) => r,
                        Err(e) => return Ok(Attempt::Transient(e.to_string())),
                    };
                    let status = res.status();
                    let body = match hyper::body::to_bytes(res.into_body()).await {
                        Ok(b) => b,
                        Err(e) => return Ok(Attempt::Transient(e.to_string())),
                    };
                    if !status.is_success() {
                        return Err(Error::Api(api_message(status.as_u16(), &body)));
                    }
                    let mut out = Vec::new();
                    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                        let r: AddLine = serde_json::from_slice(line)?;
                        if let Some(h) = r.hash {
                            out.push(h);
                        }
                    }
                    Ok(Attempt::Done(out))
                }
            })
            .await;
        bar.finish_and_clear();
        let lines = lines?;
        let last = lines.last().ok_or_else(|| Error::Api("add returned nothing".into()))?;
        let got = parse_cid(last)?;
        tracing::info!(target: TARGET, cid = %got, bytes, "Added to IPFS");
        Ok(got)
    }

    async fn add_checked(
        &self,
        parts: &[Part],
        opts: &AddOptions,
        expected: &Added,
    ) -> Result<Added> {
        let got = self.add_parts(parts, opts, expected.file_size).await?;
        if got != expected.cid {
            return Err(Error::CidMismatch {
                expected: Box::new(expected.cid),
                actual: Box::new(got),
            });
        }
        Ok(*expected)
    }

    /// Adds one file without computing its CID locally first; returns the CID the node reports.
    /// (`put_file` is this plus a local CID and a comparison.)
    pub async fn add_file_unchecked(&self, path: &Path, opts: &AddOptions) -> Result<Cid> {
        let meta = tokio::fs::metadata(path).await.map_err(|e| Error::io(path, e))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::NonUtf8Name(path.to_owned()))?
            .to_owned();
        let parts = vec![Part { name, file: Some(path.to_owned()) }];
        self.add_parts(&parts, opts, meta.len()).await
    }
}

#[derive(serde::Deserialize)]
struct AddLine {
    #[serde(rename = "Hash")]
    hash: Option<String>,
}

/// Kubo's error body `{"Message": …}`, or the raw text.
fn api_message(status: u16, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct E {
        #[serde(rename = "Message")]
        message: String,
    }
    match serde_json::from_slice::<E>(body) {
        Ok(e) => e.message,
        Err(_) => format!("HTTP {status}: {}", String::from_utf8_lossy(body).trim()),
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish()
}

/// The multipart body: one part per directory (`application/x-directory`) and file, file
/// contents streamed from disk in 1 MiB chunks.
fn multipart_body(
    parts: &[Part],
    boundary: &str,
    bar: ProgressBar,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    use futures_util::{stream, StreamExt, TryStreamExt};
    let boundary = boundary.to_owned();
    let close = Bytes::from(format!("--{boundary}--\r\n"));
    let parts: Vec<(String, Option<PathBuf>)> =
        parts.iter().map(|p| (p.name.clone(), p.file.clone())).collect();
    stream::iter(parts)
        .map(move |(name, file)| {
            let ctype = if file.is_some() { "application/octet-stream" } else { "application/x-directory" };
            let head = Bytes::from(format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {ctype}\r\n\r\n",
                url_escape(&name)
            ));
            let bar = bar.clone();
            let content = match file {
                None => stream::empty().boxed(),
                Some(path) => stream::once(async move { tokio::fs::File::open(&path).await })
                    .map_ok(|f| tokio_util::io::ReaderStream::with_capacity(f, 1 << 20))
                    .try_flatten()
                    .inspect_ok(move |b| bar.inc(b.len() as u64))
                    .boxed(),
            };
            stream::once(async move { Ok(head) })
                .chain(content)
                .chain(stream::once(async { Ok(Bytes::from_static(b"\r\n")) }))
        })
        .flatten()
        .chain(stream::once(async move { Ok(close) }))
}

fn classify<T>(r: std::result::Result<T, ipfs_api_backend_hyper::Error>) -> Result<Attempt<T>> {
    use ipfs_api_backend_hyper::Error as E;
    match r {
        Ok(v) => Ok(Attempt::Done(v)),
        Err(E::Api(e)) => Err(Error::Api(e.message)),
        Err(E::IpfsClientError(ipfs_api_prelude::Error::Io(e))) => {
            Ok(Attempt::Transient(e.to_string()))
        }
        Err(E::Client(e)) => Ok(Attempt::Transient(e.to_string())),
        Err(E::IpfsClientError(e)) => Ok(Attempt::Transient(e.to_string())),
        Err(e) => Err(Error::Api(e.to_string())),
    }
}

/// A byte progress bar; indicatif draws it only when stderr is a terminal.
pub(crate) fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

/// One part of an upload: a directory (`None`) or a file.
struct Part {
    name: String,
    file: Option<PathBuf>,
}

/// Kubo unescapes multipart file names (`url.QueryUnescape`).
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl ContentStore for KuboClient {
    async fn put_file(&self, path: &Path, opts: &AddOptions) -> Result<Added> {
        let (expected, _) = local_add(path, opts).await?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::NonUtf8Name(path.to_owned()))?
            .to_owned();
        let parts = vec![Part { name, file: Some(path.to_owned()) }];
        self.add_checked(&parts, opts, &expected).await
    }

    async fn put_dir(&self, path: &Path, opts: &AddOptions) -> Result<Added> {
        let (expected, parts) = local_add(path, opts).await?;
        self.add_checked(&parts, opts, &expected).await
    }

    async fn get_block(&self, cid: &Cid) -> Result<Bytes> {
        if let Some(d) = crate::options::identity_data(cid) {
            return Ok(Bytes::copy_from_slice(d));
        }
        let s = cid.to_string();
        self.retry("block/get", self.policy.request_timeout, || async {
            // Read at most MAX_BLOCK_SIZE: an untrusted node cannot make us buffer more.
            let mut body = self.api.block_get(&s);
            let mut buf = bytes::BytesMut::new();
            while let Some(chunk) = body.next().await {
                match chunk {
                    Ok(c) if buf.len() + c.len() > MAX_BLOCK_SIZE => {
                        return Err(Error::BlockTooLarge {
                            cid: Box::new(*cid),
                            limit: MAX_BLOCK_SIZE,
                        });
                    }
                    Ok(c) => buf.extend_from_slice(&c),
                    Err(e) => {
                        return classify::<()>(Err(e)).map(|a| match a {
                            Attempt::Done(()) => Attempt::Done(Bytes::new()),
                            Attempt::Transient(e) => Attempt::Transient(e),
                        })
                    }
                }
            }
            Ok(Attempt::Done(buf.freeze()))
        })
        .await
    }

    async fn stat(&self, cid: &Cid) -> Result<u64> {
        let s = cid.to_string();
        self.retry("block/stat", self.policy.request_timeout, || async {
            classify(self.api.block_stat(&s).await).map(|a| match a {
                Attempt::Done(v) => Attempt::Done(v.size),
                Attempt::Transient(e) => Attempt::Transient(e),
            })
        })
        .await
    }

    async fn pin(&self, cid: &Cid) -> Result<()> {
        let s = cid.to_string();
        self.retry("pin/add", self.policy.request_timeout, || async {
            classify(self.api.pin_add(&s, true).await).map(|a| match a {
                Attempt::Done(_) => Attempt::Done(()),
                Attempt::Transient(e) => Attempt::Transient(e),
            })
        })
        .await
    }

    async fn unpin(&self, cid: &Cid) -> Result<()> {
        let s = cid.to_string();
        self.retry("pin/rm", self.policy.request_timeout, || async {
            classify(self.api.pin_rm(&s, true).await).map(|a| match a {
                Attempt::Done(_) => Attempt::Done(()),
                Attempt::Transient(e) => Attempt::Transient(e),
            })
        })
        .await
    }

    async fn pins(&self) -> Result<Vec<Cid>> {
        let keys = self
            .retry("pin/ls", self.policy.request_timeout, || async {
                classify(self.api.pin_ls(None, Some("recursive")).await)
            })
            .await?;
        keys.keys.keys().map(|k| parse_cid(k)).collect()
    }
}

/// Computes the root locally (off the async executor) and lists the upload parts: for a
/// directory, every sub-directory and file, named relative to the directory's parent like
/// `ipfs add -r`.
async fn local_add(path: &Path, opts: &AddOptions) -> Result<(Added, Vec<Part>)> {
    let path = path.to_owned();
    let opts = *opts;
    tokio::task::spawn_blocking(move || {
        let mut parts = Vec::new();
        let added =
            add_path_with(&path, &opts, &mut NullSink, &mut |rel, _| parts.push(rel.to_owned()))?;
        let base = path.parent().unwrap_or(Path::new(""));
        let mut out = Vec::with_capacity(parts.len());
        for rel in parts {
            let abs = base.join(&rel);
            let meta = fs::symlink_metadata(&abs).map_err(|e| Error::io(&abs, e))?;
            let name = rel.to_str().ok_or_else(|| Error::NonUtf8Name(abs.clone()))?.to_owned();
            if meta.file_type().is_symlink() {
                return Err(Error::UnsupportedFileType(abs));
            }
            out.push(Part { name, file: meta.is_file().then_some(abs) });
        }
        // Parents before their children.
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((added, out))
    })
    .await
    .map_err(|e| Error::Api(e.to_string()))?
}
