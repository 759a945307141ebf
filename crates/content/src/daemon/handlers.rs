//! The read and pin commands: `cat`, `pin/*`, `block/*`, `id`, `version`, `repo/stat`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::error::{blocking, flag, parse_path, required, ApiError, ApiResult};
use super::repo::{PinKind, Repo};
use super::server::AppState;
use super::{KUBO_RPC_VERSION, TARGET};
use crate::blockstore::BlockSource;
use crate::error::Error;
use crate::unixfs;

#[derive(Deserialize)]
pub(super) struct ArgQuery {
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

pub(super) async fn cat(
    State(state): State<AppState>,
    Query(q): Query<ArgQuery>,
) -> ApiResult<Response> {
    let arg = required(&q.arg, "ipfs-path")?;
    let (root, path) = parse_path(&arg)?;
    let offset = num(&q.offset, "offset")?.unwrap_or(0);
    let length = num(&q.length, "length")?.unwrap_or(u64::MAX);
    let repo = state.repo.clone();
    let shutdown = state.shutdown.clone();
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
            if shutdown.is_cancelled() {
                return Err(Error::Cancelled);
            }
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

pub(super) async fn pin_add(
    State(state): State<AppState>,
    Query(q): Query<ArgQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let arg = required(&q.arg, "ipfs-path")?;
    let (root, path) = parse_path(&arg)?;
    let kind = if flag(&q.recursive, "recursive")?.unwrap_or(true) {
        PinKind::Recursive
    } else {
        PinKind::Direct
    };
    // The walk stops when the daemon shuts down, or when this request is dropped because its
    // client went away (the guard cancels on drop).
    let cancel = state.shutdown.child_token();
    let _on_drop = cancel.clone().drop_guard();
    let repo = state.repo.clone();
    let cid = blocking(move || {
        let cid = unixfs::resolve_path(&repo.blocks, &root, &path)?;
        repo.pin_cancellable(&cid, kind, &cancel)?;
        Ok(cid)
    })
    .await?;
    Ok(Json(json!({"Pins": [cid.to_string()]})))
}

pub(super) async fn pin_ls(
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

pub(super) async fn pin_rm(
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

pub(super) async fn block_get(
    State(repo): State<Arc<Repo>>,
    Query(q): Query<ArgQuery>,
) -> ApiResult<Response> {
    let arg = required(&q.arg, "cid")?;
    let (cid, _) = parse_path(&arg)?;
    let block = blocking(move || repo.blocks.get_block(&cid)).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], block).into_response())
}

pub(super) async fn block_stat(
    State(repo): State<Arc<Repo>>,
    Query(q): Query<ArgQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let arg = required(&q.arg, "cid")?;
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
