//! `POST /api/v0/add`: multipart uploads hashed and stored as they stream in.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use cid::Cid;
use serde_json::json;

use super::error::{blocking, flag, ApiError, ApiResult, Args};
use super::multipart::Multipart;
use super::repo::Repo;
use super::server::AppState;
use super::tree::{self, Tree};
use crate::dag::{Added, BlockSink, FileBuilder, NullSink};
use crate::error::{Error, Result};
use crate::options::AddOptions;

/// Bytes handed to the hashing thread at a time during `add`.
const ADD_BATCH: usize = 1 << 20;

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

pub(super) async fn add(
    State(state): State<AppState>,
    q: Args,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let repo = state.repo.clone();
    let limits = state.limits;
    // A bounded number of uploads at once: each holds a hashing thread while it streams.
    let _permit = state.uploads.clone().try_acquire_owned().map_err(|_| ApiError {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        code: 0,
        message: format!("{} uploads are running; try again later", limits.max_uploads),
    })?;
    let mut form =
        Multipart::new(&headers, body, limits.part_header_bytes, limits.body_idle_timeout)?;
    let cid_version = match q.opt("cid-version").as_deref() {
        None => None,
        Some(v) => Some(v.parse::<u8>().map_err(|_| {
            ApiError::bad_request(format!(
                "could not convert value '{v}' to type 'int' (for option '-cid-version')"
            ))
        })?),
    };
    let opts = AddOptions::from_flags(
        cid_version,
        flag(&q.opt("raw-leaves"), "raw-leaves")?,
        q.opt("chunker").as_deref(),
    )
    .map_err(|e| ApiError::failed(e.to_string()))?;
    if flag(&q.opt("trickle"), "trickle")? == Some(true) {
        return Err(ApiError::failed("trickle layout is not supported by this node"));
    }
    if let Some(h) = q.opt("hash").filter(|h| h != "sha2-256") {
        return Err(ApiError::failed(format!("unsupported hash function {h:?}")));
    }
    let pin = flag(&q.opt("pin"), "pin")?.unwrap_or(true);
    let only_hash = flag(&q.opt("only-hash"), "only-hash")?.unwrap_or(false);
    let wrap = flag(&q.opt("wrap-with-directory"), "wrap-with-directory")?.unwrap_or(false);
    let store = if only_hash { None } else { Some(repo.clone()) };

    let mut tree = Tree::default();
    let mut lines = Vec::new();
    let mut unnamed: Vec<Added> = Vec::new();
    while let Some(part) = form.next_part().await? {
        let path = match part.filename.as_deref() {
            Some(f) => tree::clean(&percent_decode(f)?)?,
            None => Vec::new(),
        };
        let is_dir = part.content_type.as_deref() == Some("application/x-directory");
        if is_dir {
            if !path.is_empty() {
                tree.add_dir(&path)?;
            }
            continue;
        }
        if path.is_empty() && wrap {
            return Err(ApiError::bad_request(
                "a part without a file name cannot be wrapped in a directory",
            ));
        }
        tree.check_file(&path)?;
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
            match form.chunk().await {
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
                    read_err = Some(e);
                    break;
                }
            }
        }
        drop(tx);
        let added =
            builder.await.map_err(|e| ApiError::failed(e.to_string()))?.map_err(ApiError::from)?;
        if let Some(e) = read_err {
            return Err(e);
        }
        let name = path.join("/");
        let shown = if name.is_empty() { added.cid.to_string() } else { name };
        lines.push(json!({"Name": shown, "Hash": added.cid.to_string(), "Size": added.dag_size.to_string()}));
        if path.is_empty() {
            // An unnamed part is a root of its own (Kubo names it by its CID).
            unnamed.push(added);
        } else {
            tree.add_file(&path, added)?;
        }
    }
    if tree.is_empty() && unnamed.is_empty() {
        return Err(ApiError::bad_request("file argument 'path' is required"));
    }

    // Directories, children before parents, in one pass over the tree.
    let mut sink = StoreSink(store.clone());
    let (tops, dir_lines) = blocking(move || {
        let mut dir_lines = Vec::new();
        let mut stats = tree::BuildStats::default();
        let tops = tree.build(
            &opts,
            &mut sink,
            wrap,
            &mut |p, a| {
                dir_lines.push(
                    json!({"Name": p, "Hash": a.cid.to_string(), "Size": a.dag_size.to_string()}),
                );
            },
            &mut stats,
        )?;
        Ok((tops, dir_lines))
    })
    .await?;
    lines.extend(dir_lines);
    let roots: Vec<Cid> = if wrap {
        tops.last().map(|(_, a)| a.cid).into_iter().collect()
    } else {
        tops.iter().map(|(_, a)| a.cid).chain(unnamed.iter().map(|a| a.cid)).collect()
    };
    if pin && !only_hash {
        let repo = repo.clone();
        blocking(move || roots.iter().try_for_each(|r| repo.pin_added(r))).await?;
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

/// Kubo's `url.QueryUnescape` of a multipart file name: `%XX` escapes and `+` for space, on
/// bytes (never slicing the `str`); a broken escape or a name that is not UTF-8 is refused.
fn percent_decode(s: &str) -> ApiResult<String> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let v = b
                    .get(i + 1)
                    .and_then(|&h| hex(h))
                    .zip(b.get(i + 2).and_then(|&l| hex(l)))
                    .map(|(h, l)| h << 4 | l)
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("invalid URL escape in file name {s:?}"))
                    })?;
                out.push(v);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::bad_request(format!("file name {s:?} is not UTF-8 once unescaped")))
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn percent_decoding_never_panics() {
        assert_eq!(percent_decode("a%20b+c").unwrap(), "a b c");
        assert_eq!(percent_decode("%C3%A9").unwrap(), "é");
        for bad in ["%aé", "%€", "%", "%a", "%zz", "%ff", "é%"] {
            assert_eq!(percent_decode(bad).unwrap_err().status, 400, "{bad}");
        }
    }
}
