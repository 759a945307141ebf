//! The embedded IPFS daemon: the Kubo RPC subset iollm uses, on a flat-file blockstore.
//!
//! What it serves (all `POST /api/v0/...`, like Kubo): `add` (multipart; `cid-version`,
//! `raw-leaves`, `chunker`, `pin`, `only-hash`, `wrap-with-directory`, `quiet`), `cat` (`arg`,
//! `offset`, `length`; paths `/ipfs/CID/a/b`), `pin/add`, `pin/ls`, `pin/rm`, `block/get`,
//! `block/stat`, `id`, `version`, `repo/stat`. Errors are Kubo's JSON body
//! `{"Message": …, "Code": 0, "Type": "error"}`: HTTP 400 with `Code: 1` for a request that is
//! malformed before the command runs (missing argument, bad option value), HTTP 500 with
//! `Code: 0` for a command that fails (unparseable path, block not found, not pinned); a `GET`
//! is answered 405.
//!
//! What it is not: a network node. It has no peers, no bootstrap list and no DHT; it only binds
//! loopback addresses and refuses others. `pin ls` lists recursive and direct pins, not
//! indirect ones; there is no garbage collection.
//!
//! Repo layout: `<repo>/blocks/` (see [`crate::blockstore`]), `<repo>/pins.json`,
//! `<repo>/identity.json`.
//!
//! ```no_run
//! # async fn f() -> iollm_content::Result<()> {
//! use iollm_content::daemon::{Daemon, DaemonConfig};
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let d = Daemon::bind(DaemonConfig::new("/tmp/repo", "127.0.0.1:0".parse().unwrap())).await?;
//! let _api_url = d.api_url(); // e.g. http://127.0.0.1:45123, what IOLLM_IPFS_API takes
//! d.run(shutdown).await
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use cid::Cid;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::blockstore::{BlockSource, FlatBlockstore};
use crate::dag::{directory_node, Added, BlockSink, FileBuilder, NullSink};
use crate::error::{Error, Result};
use crate::options::{parse_cid, AddOptions};
use crate::pb::PbLink;
use crate::unixfs;

const TARGET: &str = "iollm_content::daemon";
/// Bytes handed to the hashing thread at a time during `add`.
const ADD_BATCH: usize = 1 << 20;
/// The Kubo version whose RPC shapes we follow.
pub const KUBO_RPC_VERSION: &str = "0.22.0";

/// How to run the daemon.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Repo directory (created if missing).
    pub repo: PathBuf,
    /// API listen address; must be a loopback address (port 0 picks a free port).
    pub api: SocketAddr,
}

impl DaemonConfig {
    /// A config.
    pub fn new(repo: impl Into<PathBuf>, api: SocketAddr) -> Self {
        Self { repo: repo.into(), api }
    }
}

/// The node's state: blockstore, pins, identity.
#[derive(Debug)]
pub struct Repo {
    path: PathBuf,
    blocks: FlatBlockstore,
    pins: Mutex<BTreeMap<Cid, PinKind>>,
    peer_id: String,
    public_key: String,
}

/// Pin kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinKind {
    /// The DAG below too.
    Recursive,
    /// The root block only.
    Direct,
}

#[derive(Serialize, Deserialize)]
struct Identity {
    peer_id: String,
    public_key: String,
}

impl Repo {
    /// Opens or initialises a repo directory.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let blocks = FlatBlockstore::open(path.join("blocks"))?;
        let pins_path = path.join("pins.json");
        let pins: BTreeMap<Cid, PinKind> = match std::fs::read(&pins_path) {
            Ok(b) => serde_json::from_slice::<BTreeMap<String, PinKind>>(&b)?
                .into_iter()
                .map(|(k, v)| parse_cid(&k).map(|c| (c, v)))
                .collect::<Result<_>>()?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(Error::io(pins_path, e)),
        };
        let id_path = path.join("identity.json");
        let ident: Identity = match std::fs::read(&id_path) {
            Ok(b) => serde_json::from_slice(&b)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let ident = new_identity(&path);
                write_atomic(&id_path, &serde_json::to_vec_pretty(&ident)?)?;
                ident
            }
            Err(e) => return Err(Error::io(id_path, e)),
        };
        Ok(Self {
            path,
            blocks,
            pins: Mutex::new(pins),
            peer_id: ident.peer_id,
            public_key: ident.public_key,
        })
    }

    /// The blockstore.
    pub fn blocks(&self) -> &FlatBlockstore {
        &self.blocks
    }

    /// Pins `cid` (recursively: every block must be present, the node is offline).
    pub fn pin(&self, cid: &Cid, kind: PinKind) -> Result<()> {
        if kind == PinKind::Recursive {
            unixfs::walk(&self.blocks, cid, &mut |_, _| Ok(()))?;
        } else {
            self.blocks.size(cid)?;
        }
        let mut pins = self.pins.lock().unwrap_or_else(|p| p.into_inner());
        pins.insert(*cid, kind);
        self.save_pins(&pins)
    }

    /// Pins a DAG this node has just written in full (`add`): no walk needed.
    fn pin_added(&self, cid: &Cid) -> Result<()> {
        let mut pins = self.pins.lock().unwrap_or_else(|p| p.into_inner());
        pins.insert(*cid, PinKind::Recursive);
        self.save_pins(&pins)
    }

    /// Removes a pin.
    pub fn unpin(&self, cid: &Cid) -> Result<bool> {
        let mut pins = self.pins.lock().unwrap_or_else(|p| p.into_inner());
        let had = pins.remove(cid).is_some();
        self.save_pins(&pins)?;
        Ok(had)
    }

    /// Current pins.
    pub fn pins(&self) -> BTreeMap<Cid, PinKind> {
        self.pins.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn save_pins(&self, pins: &BTreeMap<Cid, PinKind>) -> Result<()> {
        let m: BTreeMap<String, PinKind> = pins.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        write_atomic(&self.path.join("pins.json"), &serde_json::to_vec_pretty(&m)?)
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// A peer identity in Kubo's format (an identity-multihash of an Ed25519 public key protobuf).
/// The daemon never talks to peers, so no private key is kept: the ID only names the node.
fn new_identity(path: &Path) -> Identity {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = Sha256::digest(format!("{}:{}:{nanos}", path.display(), std::process::id()));
    let mut key = vec![0x08, 0x01, 0x12, 0x20];
    key.extend_from_slice(&seed);
    let mut mh = vec![0x00, key.len() as u8];
    mh.extend_from_slice(&key);
    let peer_id = cid::multibase::encode(cid::multibase::Base::Base58Btc, &mh)[1..].to_owned();
    let public_key = cid::multibase::encode(cid::multibase::Base::Base64Pad, &key)[1..].to_owned();
    Identity { peer_id, public_key }
}

/// A bound, not yet serving daemon: learn its address, then [`Daemon::run`] it.
#[derive(Debug)]
pub struct Daemon {
    listener: tokio::net::TcpListener,
    repo: Arc<Repo>,
}

impl Daemon {
    /// Opens the repo and binds the API address (loopback only).
    pub async fn bind(config: DaemonConfig) -> Result<Self> {
        if !config.api.ip().is_loopback() {
            return Err(Error::InvalidOptions(format!(
                "the IPFS daemon only listens on loopback addresses, not {}",
                config.api
            )));
        }
        let repo = tokio::task::spawn_blocking(move || Repo::open(config.repo))
            .await
            .map_err(|e| Error::Api(e.to_string()))??;
        let listener = tokio::net::TcpListener::bind(config.api)
            .await
            .map_err(|e| Error::io(format!("bind {}", config.api), e))?;
        Ok(Self { listener, repo: Arc::new(repo) })
    }

    /// The bound API address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| unreachable!("bound listener"))
    }

    /// The API URL (`http://127.0.0.1:PORT`), what `IOLLM_IPFS_API` takes.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.local_addr())
    }

    /// The repo this daemon serves.
    pub fn repo(&self) -> Arc<Repo> {
        self.repo.clone()
    }

    /// Serves until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let addr = self.local_addr();
        tracing::info!(target: TARGET, %addr, repo = %self.repo.path.display(), "IPFS daemon listening");
        axum::serve(self.listener, app(self.repo))
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
            .map_err(|e| Error::io(format!("serve {addr}"), e))?;
        tracing::info!(target: TARGET, "IPFS daemon stopped");
        Ok(())
    }
}

/// Binds and serves until `shutdown` is cancelled (`iollm ipfs daemon`).
pub async fn serve(config: DaemonConfig, shutdown: CancellationToken) -> Result<()> {
    Daemon::bind(config).await?.run(shutdown).await
}

/// The router (tests may call it without a socket).
pub fn app(repo: Arc<Repo>) -> Router {
    Router::new()
        .route("/api/v0/add", post(add))
        .route("/api/v0/cat", post(cat))
        .route("/api/v0/pin/add", post(pin_add))
        .route("/api/v0/pin/ls", post(pin_ls))
        .route("/api/v0/pin/rm", post(pin_rm))
        .route("/api/v0/block/get", post(block_get))
        .route("/api/v0/block/stat", post(block_stat))
        .route("/api/v0/id", post(id))
        .route("/api/v0/version", post(version))
        .route("/api/v0/repo/stat", post(repo_stat))
        .layer(DefaultBodyLimit::disable())
        .with_state(repo)
}

/// Kubo's error response.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: u8,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code: 1, message: message.into() }
    }
    fn failed(message: impl Into<String>) -> Self {
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, code: 0, message: message.into() }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let message = match &e {
            Error::BlockNotFound(c) => {
                format!("block was not found locally (offline): ipld: could not find {c}")
            }
            Error::Api(m) => m.clone(),
            Error::Io { .. } => {
                tracing::error!(target: TARGET, error = %e, "Repo IO error");
                "repo IO error".into()
            }
            other => other.to_string(),
        };
        Self::failed(message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"Message": self.message, "Code": self.code, "Type": "error"});
        (self.status, Json(body)).into_response()
    }
}

type ApiResult<T> = std::result::Result<T, ApiError>;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::failed(e.to_string()))?
        .map_err(Into::into)
}

fn flag(v: &Option<String>, name: &str) -> ApiResult<Option<bool>> {
    match v.as_deref() {
        None => Ok(None),
        Some("" | "true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(o) => Err(ApiError::bad_request(format!(
            "could not convert value '{o}' to type 'bool' (for option '-{name}')"
        ))),
    }
}

/// Parses `arg` as `/ipfs/CID[/path]` or `CID[/path]`; failures are Kubo's "invalid path".
fn parse_path(arg: &str) -> ApiResult<(Cid, String)> {
    let s = arg.strip_prefix("/ipfs/").unwrap_or(arg);
    let (c, rest) = s.split_once('/').unwrap_or((s, ""));
    let cid = parse_cid(c).map_err(|e| ApiError::failed(format!("invalid path {arg:?}: {e}")))?;
    Ok((cid, rest.to_owned()))
}

fn required(arg: &Option<String>, name: &str) -> ApiResult<String> {
    arg.clone().ok_or_else(|| ApiError::bad_request(format!("argument \"{name}\" is required")))
}

#[derive(Deserialize)]
struct AddQuery {
    #[serde(rename = "cid-version")]
    cid_version: Option<String>,
    #[serde(rename = "raw-leaves")]
    raw_leaves: Option<String>,
    chunker: Option<String>,
    pin: Option<String>,
    #[serde(rename = "only-hash")]
    only_hash: Option<String>,
    #[serde(rename = "wrap-with-directory")]
    wrap: Option<String>,
    trickle: Option<String>,
    hash: Option<String>,
}

enum Entry {
    File(Added),
    Dir,
}

struct StoreSink(Option<Arc<Repo>>);

impl BlockSink for StoreSink {
    fn put(&mut self, cid: &Cid, parts: &[&[u8]]) -> Result<()> {
        match &self.0 {
            Some(r) => r.blocks.put_parts(cid, parts),
            None => NullSink.put(cid, parts),
        }
    }
}

/// Writes blocks on their own thread, so hashing (the builder's thread) and file writes overlap.
struct ThreadedSink {
    tx: Option<std::sync::mpsc::SyncSender<(Cid, Vec<u8>)>>,
    writer: Option<std::thread::JoinHandle<Result<()>>>,
}

impl ThreadedSink {
    fn new(repo: Option<Arc<Repo>>) -> Self {
        let Some(repo) = repo else { return Self { tx: None, writer: None } };
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Cid, Vec<u8>)>(8);
        let writer = std::thread::spawn(move || {
            for (cid, block) in rx {
                repo.blocks.put_parts(&cid, &[&block])?;
            }
            Ok(())
        });
        Self { tx: Some(tx), writer: Some(writer) }
    }

    /// Waits for every block to be written.
    fn close(mut self) -> Result<()> {
        drop(self.tx.take());
        match self.writer.take() {
            Some(w) => w.join().map_err(|_| Error::Api("block writer panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl BlockSink for ThreadedSink {
    fn put(&mut self, cid: &Cid, parts: &[&[u8]]) -> Result<()> {
        let Some(tx) = &self.tx else { return Ok(()) };
        let block = parts.concat();
        if tx.send((*cid, block)).is_err() {
            // The writer stopped: its error is reported by `close`.
            return Err(Error::Api("block writer stopped".into()));
        }
        Ok(())
    }
}

async fn add(
    State(repo): State<Arc<Repo>>,
    Query(q): Query<AddQuery>,
    mut form: Multipart,
) -> ApiResult<Response> {
    let cid_version = match q.cid_version.as_deref() {
        None => None,
        Some(v) => Some(v.parse::<u8>().map_err(|_| {
            ApiError::bad_request(format!(
                "could not convert value '{v}' to type 'int' (for option '-cid-version')"
            ))
        })?),
    };
    let opts = AddOptions::from_flags(
        cid_version,
        flag(&q.raw_leaves, "raw-leaves")?,
        q.chunker.as_deref(),
    )
    .map_err(|e| ApiError::failed(e.to_string()))?;
    if flag(&q.trickle, "trickle")? == Some(true) {
        return Err(ApiError::failed("trickle layout is not supported by this node"));
    }
    if let Some(h) = q.hash.as_deref().filter(|h| *h != "sha2-256") {
        return Err(ApiError::failed(format!("unsupported hash function {h:?}")));
    }
    let pin = flag(&q.pin, "pin")?.unwrap_or(true);
    let only_hash = flag(&q.only_hash, "only-hash")?.unwrap_or(false);
    let wrap = flag(&q.wrap, "wrap-with-directory")?.unwrap_or(false);
    let store = if only_hash { None } else { Some(repo.clone()) };

    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut lines = Vec::new();
    let mut unnamed = 0usize;
    while let Some(mut field) =
        form.next_field().await.map_err(|e| ApiError::bad_request(e.to_string()))?
    {
        let name = field
            .file_name()
            .map(|f| percent_decode(f).trim_matches('/').to_owned())
            .filter(|f| !f.is_empty());
        let is_dir = field.content_type() == Some("application/x-directory");
        if is_dir {
            if let Some(n) = name {
                entries.insert(n, Entry::Dir);
            }
            continue;
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let store_ = store.clone();
        let builder = tokio::task::spawn_blocking(move || -> Result<Added> {
            let mut sink = ThreadedSink::new(store_);
            let built = (|| {
                let mut b = FileBuilder::new(opts, &mut sink)?;
                while let Some(chunk) = rx.blocking_recv() {
                    b.write(&chunk)?;
                }
                b.finish()
            })();
            let closed = sink.close();
            let added = built?;
            closed?;
            Ok(added)
        });
        // Batch the (often small) multipart chunks into ~1 MiB messages for the hashing thread.
        let mut read_err = None;
        let mut batch = bytes::BytesMut::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    batch.extend_from_slice(&chunk);
                    if batch.len() >= ADD_BATCH && tx.send(batch.split().freeze()).await.is_err() {
                        break;
                    }
                }
                Ok(None) => {
                    if !batch.is_empty() {
                        let _ = tx.send(batch.split().freeze()).await;
                    }
                    break;
                }
                Err(e) => {
                    read_err = Some(e.to_string());
                    break;
                }
            }
        }
        drop(tx);
        let added =
            builder.await.map_err(|e| ApiError::failed(e.to_string()))?.map_err(ApiError::from)?;
        if let Some(e) = read_err {
            return Err(ApiError::bad_request(e));
        }
        let name = name.unwrap_or_else(|| {
            unnamed += 1;
            if unnamed == 1 {
                String::new()
            } else {
                format!("{unnamed}")
            }
        });
        let shown = if name.is_empty() { added.cid.to_string() } else { name.clone() };
        lines.push(json!({"Name": shown, "Hash": added.cid.to_string(), "Size": added.dag_size.to_string()}));
        entries.insert(name, Entry::File(added));
    }

    // Directories: explicit ones, plus every parent of a named entry.
    let mut dirs: BTreeSet<String> =
        entries.iter().filter(|(_, e)| matches!(e, Entry::Dir)).map(|(k, _)| k.clone()).collect();
    for k in entries.keys() {
        let mut p = k.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            dirs.insert(parent.to_owned());
            p = parent;
        }
    }
    let mut done: BTreeMap<String, Added> = entries
        .iter()
        .filter_map(|(k, e)| match e {
            Entry::File(a) => Some((k.clone(), *a)),
            Entry::Dir => None,
        })
        .collect();
    let mut by_depth: Vec<String> = dirs.into_iter().collect();
    by_depth.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
    if wrap {
        by_depth.push(String::new());
    }
    for d in by_depth {
        let prefix = if d.is_empty() { String::new() } else { format!("{d}/") };
        let children: Vec<(String, Added)> = done
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
                    && !k.is_empty()
            })
            .map(|(k, a)| (k[prefix.len()..].to_owned(), *a))
            .collect();
        let links: Vec<PbLink> = children
            .iter()
            .map(|(n, a)| PbLink { cid: a.cid, name: n.clone(), tsize: a.dag_size })
            .collect();
        let file_size = children.iter().map(|(_, a)| a.file_size).sum();
        let mut sink = StoreSink(store.clone());
        let added = blocking(move || directory_node(&links, &opts, &mut sink, file_size)).await?;
        lines.push(
            json!({"Name": d, "Hash": added.cid.to_string(), "Size": added.dag_size.to_string()}),
        );
        done.insert(d, added);
    }
    // Roots: top-level names (or the wrapper).
    let roots: Vec<Cid> = if wrap {
        done.get("").map(|a| a.cid).into_iter().collect()
    } else {
        done.iter().filter(|(k, _)| !k.contains('/')).map(|(_, a)| a.cid).collect()
    };
    if pin && !only_hash {
        for r in roots {
            let repo = repo.clone();
            blocking(move || repo.pin_added(&r)).await?;
        }
    }
    let mut body = Vec::new();
    for l in lines {
        serde_json::to_writer(&mut body, &l).map_err(|e| ApiError::failed(e.to_string()))?;
        body.push(b'\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::HeaderName::from_static("x-chunked-output"), "1"),
        ],
        body,
    )
        .into_response())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Deserialize)]
struct ArgQuery {
    arg: Option<String>,
    offset: Option<String>,
    length: Option<String>,
    recursive: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

fn num(v: &Option<String>, name: &str) -> ApiResult<Option<u64>> {
    v.as_deref()
        .map(|s| {
            s.parse::<i64>().ok().filter(|n| *n >= 0).map(|n| n as u64).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "could not convert value '{s}' to type 'int64' (for option '-{name}')"
                ))
            })
        })
        .transpose()
}

async fn cat(State(repo): State<Arc<Repo>>, Query(q): Query<ArgQuery>) -> ApiResult<Response> {
    let arg = required(&q.arg, "ipfs-path")?;
    let (root, path) = parse_path(&arg)?;
    let offset = num(&q.offset, "offset")?.unwrap_or(0);
    let length = num(&q.length, "length")?.unwrap_or(u64::MAX);
    // Resolve and check the root before answering 200, so errors get Kubo's error body.
    let r = repo.clone();
    let (cid, size) = blocking(move || {
        let cid = unixfs::resolve_path(&r.blocks, &root, &path)?;
        let block = r.blocks.get_block(&cid)?;
        match unixfs::inspect(&cid, &block)?.0 {
            unixfs::Node::File { size } => Ok((cid, size)),
            unixfs::Node::Directory { .. } => {
                Err(Error::Api("this dag node is a directory".into()))
            }
            unixfs::Node::Symlink { .. } => Err(Error::Api("cannot cat a symlink".into())),
        }
    })
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    tokio::task::spawn_blocking(move || {
        let res = unixfs::read_file(&repo.blocks, &cid, offset, length, &mut |b| {
            tx.blocking_send(Ok(Bytes::copy_from_slice(b)))
                .map_err(|_| Error::Api("client went away".into()))
        });
        if let Err(e) = res {
            tracing::warn!(target: TARGET, %cid, error = %e, "Cat failed mid-stream");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
        );
    let len = size.saturating_sub(offset).min(length);
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain".to_owned()),
            (header::HeaderName::from_static("x-stream-output"), "1".to_owned()),
            (header::HeaderName::from_static("x-content-length"), len.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn pin_add(
    State(repo): State<Arc<Repo>>,
    Query(q): Query<ArgQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let arg = required(&q.arg, "ipfs-path")?;
    let (root, path) = parse_path(&arg)?;
    let kind = if flag(&q.recursive, "recursive")?.unwrap_or(true) {
        PinKind::Recursive
    } else {
        PinKind::Direct
    };
    let cid = blocking(move || {
        let cid = unixfs::resolve_path(&repo.blocks, &root, &path)?;
        repo.pin(&cid, kind)?;
        Ok(cid)
    })
    .await?;
    Ok(Json(json!({"Pins": [cid.to_string()]})))
}

async fn pin_ls(
    State(repo): State<Arc<Repo>>,
    Query(q): Query<ArgQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let want = q.kind.clone().unwrap_or_else(|| "all".into());
    if !["all", "recursive", "direct", "indirect"].contains(&want.as_str()) {
        return Err(ApiError::failed(format!(
            "invalid type '{want}', must be one of {{direct, indirect, recursive, all}}"
        )));
    }
    let pins = repo.pins();
    let mut keys = serde_json::Map::new();
    let matches = |k: PinKind| match want.as_str() {
        "all" => true,
        "recursive" => k == PinKind::Recursive,
        "direct" => k == PinKind::Direct,
        _ => false,
    };
    if let Some(arg) = &q.arg {
        let (cid, _) = parse_path(arg)?;
        match pins.get(&cid) {
            Some(k) if matches(*k) => {
                keys.insert(cid.to_string(), json!({"Type": kind_name(*k)}));
            }
            _ => return Err(ApiError::failed(format!("path '{arg}' is not pinned"))),
        }
    } else {
        for (c, k) in pins.iter().filter(|(_, k)| matches(**k)) {
            keys.insert(c.to_string(), json!({"Type": kind_name(*k)}));
        }
    }
    Ok(Json(json!({"Keys": keys})))
}

fn kind_name(k: PinKind) -> &'static str {
    match k {
        PinKind::Recursive => "recursive",
        PinKind::Direct => "direct",
    }
}

async fn pin_rm(
    State(repo): State<Arc<Repo>>,
    Query(q): Query<ArgQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let arg = required(&q.arg, "ipfs-path")?;
    let (cid, _) = parse_path(&arg)?;
    let removed = blocking(move || repo.unpin(&cid)).await?;
    if !removed {
        return Err(ApiError::failed("not pinned or pinned indirectly"));
    }
    Ok(Json(json!({"Pins": [cid.to_string()]})))
}

async fn block_get(
    State(repo): State<Arc<Repo>>,
    Query(q): Query<ArgQuery>,
) -> ApiResult<Response> {
    let arg = required(&q.arg, "cid")?;
    let (cid, _) = parse_path(&arg)?;
    let block = blocking(move || repo.blocks.get_block(&cid)).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], block).into_response())
}

async fn block_stat(
    State(repo): State<Arc<Repo>>,
    Query(q): Query<ArgQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let arg = required(&q.arg, "cid")?;
    let (cid, _) = parse_path(&arg)?;
    let size = blocking(move || repo.blocks.size(&cid)).await?;
    Ok(Json(json!({"Key": cid.to_string(), "Size": size})))
}

async fn id(State(repo): State<Arc<Repo>>) -> Json<serde_json::Value> {
    Json(json!({
        "ID": repo.peer_id,
        "PublicKey": repo.public_key,
        "Addresses": [],
        "AgentVersion": format!("kubo/{KUBO_RPC_VERSION}/iollm-content"),
        "ProtocolVersion": "ipfs/0.1.0",
        "Protocols": [],
    }))
}

async fn version() -> Json<serde_json::Value> {
    Json(json!({
        "Version": KUBO_RPC_VERSION,
        "Commit": "iollm-content",
        "Repo": "14",
        "System": format!("{}/{}", std::env::consts::ARCH, std::env::consts::OS),
        "Golang": "none (iollm-content)",
    }))
}

async fn repo_stat(State(repo): State<Arc<Repo>>) -> ApiResult<Json<serde_json::Value>> {
    let r = repo.clone();
    let (n, bytes) = blocking(move || r.blocks.stat()).await?;
    Ok(Json(json!({
        "RepoSize": bytes,
        "StorageMax": 10_000_000_000u64,
        "NumObjects": n,
        "RepoPath": repo.path.display().to_string(),
        "Version": "fs-repo@14",
    })))
}
