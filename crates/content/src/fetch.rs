//! Verified fetch: every block is hashed and compared with its CID before its bytes are used,
//! and nothing reaches its final path until the whole DAG has been verified.
//!
//! Works block by block (`block/get`), so it verifies any DAG a Kubo node may hold — any
//! chunker, layout or CID version — not only ones built with our defaults. Files are written to
//! a hidden temporary sibling of the destination (`.NAME.iollm-partial`) and renamed into place
//! at the end; on any error the temporary is removed, so a failed fetch leaves nothing behind.
//! Directory entry names from the DAG are checked (no `/`, `.`, `..` or empty names) so a
//! hostile DAG cannot write outside the destination.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use cid::Cid;
use sha2::{Digest, Sha256};

use crate::client::ContentStore;
use crate::error::{Error, Result};
use crate::options::{cid_for, CidVersion, SHA2_256};
use crate::unixfs::{self, Node};

const TARGET: &str = "iollm_content::fetch";
/// Blocks fetched concurrently.
const PARALLEL_BLOCKS: usize = 8;

/// Checks `block` hashes to `cid`.
pub fn verify_block(cid: &Cid, block: &[u8]) -> Result<()> {
    if cid.hash().code() != SHA2_256 {
        return Err(Error::UnsupportedCid {
            cid: Box::new(*cid),
            reason: format!("hash function 0x{:x} (only sha2-256 is verified)", cid.hash().code()),
        });
    }
    let digest: [u8; 32] = Sha256::digest(block).into();
    if cid.hash().digest() != digest {
        let version =
            if cid.version() == cid::Version::V0 { CidVersion::V0 } else { CidVersion::V1 };
        let actual = cid_for(version, cid.codec(), digest);
        tracing::error!(target: TARGET, expected = %cid, actual = %actual, "Block does not match its CID");
        return Err(Error::CidMismatch { expected: Box::new(*cid), actual: Box::new(actual) });
    }
    Ok(())
}

async fn get_verified<S: ContentStore>(store: &S, cid: &Cid) -> Result<Bytes> {
    let b = store.get_block(cid).await?;
    verify_block(cid, &b)?;
    Ok(b)
}

async fn get_pair<S: ContentStore>(store: &S, cid: Cid) -> Result<(Cid, Bytes)> {
    get_verified(store, &cid).await.map(|b| (cid, b))
}

/// Fetches the file or directory `cid` into `dest` (which must not exist), verifying every
/// block. Returns the number of file bytes written.
pub async fn fetch_verified<S: ContentStore>(store: &S, cid: &Cid, dest: &Path) -> Result<u64> {
    if tokio::fs::symlink_metadata(dest).await.is_ok() {
        return Err(Error::InvalidOptions(format!(
            "{} already exists; choose a new destination",
            dest.display()
        )));
    }
    let name = dest
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::InvalidOptions(format!("bad destination {}", dest.display())))?;
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(parent).await.map_err(|e| Error::io(parent, e))?;
    let tmp = parent.join(format!(".{name}.iollm-partial-{}", std::process::id()));
    let _ = remove_any(&tmp).await;
    let res = fetch_node(store, cid, &tmp).await;
    match res {
        Ok(n) => {
            tokio::fs::rename(&tmp, dest).await.map_err(|e| Error::io(dest, e))?;
            tracing::info!(target: TARGET, %cid, dest = %dest.display(), bytes = n, "Fetched and verified");
            Ok(n)
        }
        Err(e) => {
            let _ = remove_any(&tmp).await;
            Err(e)
        }
    }
}

async fn remove_any(p: &Path) -> std::io::Result<()> {
    match tokio::fs::symlink_metadata(p).await {
        Ok(m) if m.is_dir() => tokio::fs::remove_dir_all(p).await,
        Ok(_) => tokio::fs::remove_file(p).await,
        Err(e) => Err(e),
    }
}

fn fetch_node<'a, S: ContentStore>(
    store: &'a S,
    cid: &'a Cid,
    path: &'a Path,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64>> + Send + 'a>> {
    Box::pin(async move {
        let block = get_verified(store, cid).await?;
        let (node, _, _) = unixfs::inspect(cid, &block)?;
        match node {
            Node::File { size } => {
                let f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
                let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
                let bar = crate::client::progress_bar(size, "fetch");
                let n = write_file(store, cid, block, &mut w, path, &bar).await;
                bar.finish_and_clear();
                let n = n?;
                let f = w.into_inner().map_err(|e| Error::io(path, e.into_error()))?;
                f.sync_all().map_err(|e| Error::io(path, e))?;
                Ok(n)
            }
            Node::Directory { links } => {
                tokio::fs::create_dir(path).await.map_err(|e| Error::io(path, e))?;
                let mut total = 0;
                for l in links {
                    if l.name.is_empty()
                        || l.name == "."
                        || l.name == ".."
                        || l.name.contains(['/', '\\', '\0'])
                    {
                        return Err(Error::MalformedBlock {
                            cid: Box::new(*cid),
                            reason: format!("unsafe directory entry name {:?}", l.name),
                        });
                    }
                    let child: PathBuf = path.join(&l.name);
                    total += fetch_node(store, &l.cid, &child).await?;
                }
                Ok(total)
            }
            Node::Symlink { target } => Err(Error::UnsupportedFileType(PathBuf::from(format!(
                "{} (symlink to {target})",
                path.display()
            )))),
        }
    })
}

/// Writes the file DAG rooted at `cid` (whose verified block is `block`) in order.
async fn write_file<S: ContentStore, W: Write + Send>(
    store: &S,
    cid: &Cid,
    block: Bytes,
    w: &mut W,
    path: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<u64> {
    // Depth-first, in order. Each open node keeps its remaining links; leaves are fetched
    // PARALLEL_BLOCKS at a time, so memory stays at a few blocks per tree level whatever the
    // file size.
    struct Frame {
        links: Vec<Cid>,
        next: usize,
    }
    let mut written = 0u64;
    let mut emit = |b: &[u8], w: &mut W| -> Result<()> {
        w.write_all(b).map_err(|e| Error::io(path, e))?;
        written += b.len() as u64;
        bar.inc(b.len() as u64);
        Ok(())
    };
    let mut stack: Vec<Frame> = Vec::new();
    let open = |c: &Cid, b: &Bytes| -> Result<(Option<Bytes>, Vec<Cid>)> {
        let (_, pbn, u) = unixfs::inspect(c, b)?;
        Ok(match (pbn, u) {
            (Some(n), Some(u)) => {
                (u.data.map(Bytes::from), n.links.iter().map(|l| l.cid).collect())
            }
            _ => (Some(b.clone()), Vec::new()),
        })
    };
    let (data, links) = open(cid, &block)?;
    if let Some(d) = data {
        emit(&d, w)?;
    }
    if !links.is_empty() {
        stack.push(Frame { links, next: 0 });
    }
    while let Some(top) = stack.last_mut() {
        if top.next == top.links.len() {
            stack.pop();
            continue;
        }
        let end = (top.next + PARALLEL_BLOCKS).min(top.links.len());
        let futs: Vec<_> = top.links[top.next..end].iter().map(|c| get_pair(store, *c)).collect();
        let group = futures_util::future::try_join_all(futs).await?;
        let mut descend = None;
        for (c, b) in group {
            top.next += 1;
            let (data, links) = open(&c, &b)?;
            if let Some(d) = data {
                emit(&d, w)?;
            }
            if !links.is_empty() {
                // Finish this subtree before the siblings after it (they are fetched again).
                descend = Some(Frame { links, next: 0 });
                break;
            }
        }
        if let Some(f) = descend {
            stack.push(f);
        }
    }
    Ok(written)
}
