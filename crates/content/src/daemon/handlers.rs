//! The read and pin commands: `cat`, `ls`, `pin/*`, `block/*`, `id`, `version`, `repo/stat`;
//! and the JSON answers for unknown commands (404) and methods other than POST (405).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::json;

use super::error::{blocking, flag, parse_path, ApiError, ApiResult, Args};
use super::repo::{PinKind, Repo};
use super::server::AppState;
use super::{KUBO_RPC_VERSION, TARGET};
use crate::blockstore::BlockSource;
use crate::error::{Error, Result};
use crate::unixfs;

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

/// `cat`: one or more files, concatenated; `offset` and `length` apply to the concatenation.
pub(super) async fn cat(State(state): State<AppState>, q: Args) -> ApiResult<Response> {
    let args = q.args("ipfs-path")?;
    let paths = args.iter().map(|a| parse_path(a)).collect::<ApiResult<Vec<_>>>()?;
    let offset = num(&q.opt("offset"), "offset")?.unwrap_or(0);
    let length = num(&q.opt("length"), "length")?.unwrap_or(u64::MAX);
    let repo = state.repo.clone();
    let shutdown = state.shutdown.clone();
    // Resolve and check every file before answering 200, so errors get Kubo's error body.
    let r = repo.clone();
    let files = blocking(move || {
        paths
            .iter()
            .map(|(root, path)| {
                let cid = unixfs::resolve_path(&r.blocks, root, path)?;
                let block = r.blocks.get_block(&cid)?;
                match unixfs::inspect(&cid, &block)?.0 {
                    unixfs::Node::File { size } => Ok((cid, size)),
                    unixfs::Node::Directory { .. } => {
                        Err(Error::Api("this dag node is a directory".into()))
                    }
                    unixfs::Node::Symlink { .. } => Err(Error::Api("cannot cat a symlink".into())),
                }
            })
            .collect::<Result<Vec<_>>>()
    })
    .await?;
    let total: u64 = files.iter().map(|(_, s)| s).fold(0u64, |a, b| a.saturating_add(*b));
    let len = total.saturating_sub(offset).min(length);
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    tokio::task::spawn_blocking(move || {
        let (mut skip, mut left) = (offset, length);
        for (cid, size) in files {
            if left == 0 {
                break;
            }
            if skip >= size {
                skip -= size;
                continue;
            }
            let n = (size - skip).min(left);
            let res = unixfs::read_file(&repo.blocks, &cid, skip, n, &mut |b| {
                if shutdown.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                tx.blocking_send(Ok(Bytes::copy_from_slice(b)))
                    .map_err(|_| Error::Api("client went away".into()))
            });
            if let Err(e) = res {
                tracing::warn!(target: TARGET, %cid, error = %e, "Cat failed mid-stream");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                return;
            }
            skip = 0;
            left -= n;
        }
    });
    let stream =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
        );
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

/// UnixFS type numbers as `ls` reports them (Kubo's `unixfs_pb.Data_DataType`).
fn ls_type(node: &unixfs::Node) -> u8 {
    match node {
        unixfs::Node::Directory { .. } => 1,
        unixfs::Node::File { .. } => 2,
        unixfs::Node::Symlink { .. } => 4,
    }
}

/// `ls`: the links of each directory (name, CID, size, type; symlink target), or of a file
/// its chunks, as Kubo 0.22 answers with `resolve-type` and `size` on.
pub(super) async fn ls(
    State(state): State<AppState>,
    q: Args,
) -> ApiResult<Json<serde_json::Value>> {
    let args = q.args("ipfs-path")?;
    let paths = args
        .iter()
        .map(|a| parse_path(a).map(|p| (a.clone(), p)))
        .collect::<ApiResult<Vec<_>>>()?;
    let cancel = state.shutdown.child_token();
    let _on_drop = cancel.clone().drop_guard();
    let repo = state.repo.clone();
    let objects = blocking(move || {
        let mut objects = Vec::new();
        for (arg, (root, path)) in paths {
            let cid = unixfs::resolve_path(&repo.blocks, &root, &path)?;
            let block = repo.blocks.get_block(&cid)?;
            let (node, pbn, u) = unixfs::inspect(&cid, &block)?;
            let links = pbn.map(|n| n.links).unwrap_or_default();
            let sizes = u.map(|u| u.blocksizes).unwrap_or_default();
            let mut out = Vec::with_capacity(links.len());
            for (i, l) in links.iter().enumerate() {
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                let (kind, size, target) = match &node {
                    unixfs::Node::Directory { .. } => {
                        let child = repo.blocks.get_block(&l.cid)?;
                        let c = unixfs::inspect(&l.cid, &child)?.0;
                        let size = if let unixfs::Node::File { size } = c { size } else { 0 };
                        let target = if let unixfs::Node::Symlink { target } = &c {
                            target.clone()
                        } else {
                            String::new()
                        };
                        (ls_type(&c), size, target)
                    }
                    _ => (2, sizes.get(i).copied().unwrap_or(l.tsize), String::new()),
                };
                out.push(json!({"Name": l.name, "Hash": l.cid.to_string(), "Size": size,
                    "Type": kind, "Target": target}));
            }
            objects.push(json!({"Hash": arg, "Links": out}));
        }
        Ok(objects)
    })
    .await?;
    Ok(Json(json!({"Objects": objects})))
}

pub(super) async fn pin_add(
    State(state): State<AppState>,
    q: Args,
) -> ApiResult<Json<serde_json::Value>> {
    let paths =
        q.args("ipfs-path")?.iter().map(|a| parse_path(a)).collect::<ApiResult<Vec<_>>>()?;
    let kind = if flag(&q.opt("recursive"), "recursive")?.unwrap_or(true) {
        PinKind::Recursive
    } else {
        PinKind::Direct
    };
    // The walk stops when the daemon shuts down, or when this request is dropped because its
    // client went away (the guard cancels on drop).
    let cancel = state.shutdown.child_token();
    let _on_drop = cancel.clone().drop_guard();
    let repo = state.repo.clone();
    let pinned = blocking(move || {
        paths
            .iter()
            .map(|(root, path)| {
                let cid = unixfs::resolve_path(&repo.blocks, root, path)?;
                repo.pin_cancellable(&cid, kind, &cancel)?;
                Ok(cid.to_string())
            })
            .collect::<Result<Vec<_>>>()
    })
    .await?;
    Ok(Json(json!({"Pins": pinned})))
}

pub(super) async fn pin_ls(
    State(repo): State<Arc<Repo>>,
    q: Args,
) -> ApiResult<Json<serde_json::Value>> {
    let want = q.opt("type").unwrap_or_else(|| "all".into());
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
    if let Ok(args) = q.args("ipfs-path") {
        for arg in args {
            let (cid, _) = parse_path(&arg)?;
            match pins.get(&cid) {
                Some(k) if matches(*k) => {
                    keys.insert(cid.to_string(), json!({"Type": kind_name(*k)}));
                }
                _ => return Err(ApiError::failed(format!("path '{arg}' is not pinned"))),
            }
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

pub(super) async fn pin_rm(
    State(repo): State<Arc<Repo>>,
    q: Args,
) -> ApiResult<Json<serde_json::Value>> {
    let cids = q
        .args("ipfs-path")?
        .iter()
        .map(|a| parse_path(a).map(|(c, _)| c))
        .collect::<ApiResult<Vec<_>>>()?;
    let pins = repo.pins();
    if !cids.iter().all(|c| pins.contains_key(c)) {
        return Err(ApiError::failed("not pinned or pinned indirectly"));
    }
    let removed: Vec<String> = cids.iter().map(|c| c.to_string()).collect();
    blocking(move || cids.iter().try_for_each(|c| repo.unpin(c).map(drop))).await?;
    Ok(Json(json!({"Pins": removed})))
}

pub(super) async fn block_get(State(repo): State<Arc<Repo>>, q: Args) -> ApiResult<Response> {
    let arg = q.one_arg("cid")?;
    let (cid, _) = parse_path(&arg)?;
    let block = blocking(move || repo.blocks.get_block(&cid)).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], block).into_response())
}

pub(super) async fn block_stat(
    State(repo): State<Arc<Repo>>,
    q: Args,
) -> ApiResult<Json<serde_json::Value>> {
    let arg = q.one_arg("cid")?;
    let (cid, _) = parse_path(&arg)?;
    let size = blocking(move || repo.blocks.size(&cid)).await?;
    Ok(Json(json!({"Key": cid.to_string(), "Size": size})))
}

pub(super) async fn id(State(repo): State<Arc<Repo>>) -> Json<serde_json::Value> {
    Json(json!({
        "ID": repo.peer_id,
        "PublicKey": repo.public_key,
        "Addresses": [],
        "AgentVersion": format!("kubo/{KUBO_RPC_VERSION}/iollm-content"),
        "ProtocolVersion": "ipfs/0.1.0",
        "Protocols": [],
    }))
}

pub(super) async fn version() -> Json<serde_json::Value> {
    Json(json!({
        "Version": KUBO_RPC_VERSION,
        "Commit": "iollm-content",
        "Repo": "14",
        "System": format!("{}/{}", std::env::consts::ARCH, std::env::consts::OS),
        "Golang": "none (iollm-content)",
    }))
}

pub(super) async fn repo_stat(State(repo): State<Arc<Repo>>) -> ApiResult<Json<serde_json::Value>> {
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

/// An unknown command: 404 with Kubo's error body.
pub(super) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: axum::http::StatusCode::NOT_FOUND,
        code: 0,
        message: format!("command not found: {}", uri.path()),
    }
}

/// A method other than POST: 405 with Kubo's error body.
pub(super) async fn method_not_allowed() -> ApiError {
    ApiError {
        status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
        code: 0,
        message: "405 - Method Not Allowed: the RPC API takes POST".into(),
    }
}
