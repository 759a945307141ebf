//! Verified fetch: every block is hashed and compared with its CID before its bytes are used,
//! and nothing reaches its final path until the whole DAG has been verified.
//!
//! Works block by block (`block/get`), so it verifies any DAG a Kubo node may hold — any
//! chunker, layout or CID version — not only ones built with our defaults. Files are written
//! under a staging directory beside the destination (`.NAME.iollm-pull/`, locked while in use)
//! and renamed into place at the end; on any error it is removed, so a failed fetch leaves
//! nothing behind, and one killed midway is removed by the next fetch into the same place.
//! What is written is bounded: by a limit, and by the sizes the DAG's roots declare.
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
    if let Some(d) = crate::options::identity_data(cid) {
        if d != block {
            return Err(Error::MalformedBlock {
                cid: Box::new(*cid),
                reason: "block differs from the data of its identity CID".into(),
            });
        }
        return Ok(());
    }
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

/// Block `cid`, checked against its CID ([`verify_block`]).
pub async fn get_verified<S: ContentStore>(store: &S, cid: &Cid) -> Result<Bytes> {
    let b = store.get_block(cid).await?;
    verify_block(cid, &b)?;
    Ok(b)
}

async fn get_pair<S: ContentStore>(store: &S, cid: Cid) -> Result<(Cid, Bytes)> {
    get_verified(store, &cid).await.map(|b| (cid, b))
}

/// Largest pull or fetch unless the caller says otherwise (64 GiB).
pub const DEFAULT_MAX_BYTES: u64 = 64 << 30;

/// Fetches the file or directory `cid` into `dest` (which must not exist), verifying every
/// block, writing at most [`DEFAULT_MAX_BYTES`]. Returns the number of file bytes written.
pub async fn fetch_verified<S: ContentStore>(store: &S, cid: &Cid, dest: &Path) -> Result<u64> {
    fetch_verified_with(store, cid, dest, DEFAULT_MAX_BYTES).await
}

/// [`fetch_verified`] with a limit: a DAG whose root declares more than `max_bytes` is refused
/// before anything is written, and the fetch stops as soon as more than `max_bytes` (or more
/// than a file's root declares) arrive.
pub async fn fetch_verified_with<S: ContentStore>(
    store: &S,
    cid: &Cid,
    dest: &Path,
    max_bytes: u64,
) -> Result<u64> {
    let staging = Staging::acquire(dest)?;
    let mut budget = max_bytes;
    let n = fetch_node(store, cid, &staging.content(), &mut budget, max_bytes).await?;
    staging.commit(dest)?;
    tracing::info!(target: TARGET, %cid, dest = %dest.display(), bytes = n, "Fetched and verified");
    Ok(n)
}

/// [`fetch_verified_with`] for a CID that must name one file: a directory or symbolic link
/// root is refused before anything is written (a directory of many empty files would cost
/// inodes, not bytes).
pub async fn fetch_file_verified<S: ContentStore>(
    store: &S,
    cid: &Cid,
    dest: &Path,
    max_bytes: u64,
) -> Result<u64> {
    let root = get_verified(store, cid).await?;
    if !matches!(unixfs::inspect(cid, &root)?.0, Node::File { .. }) {
        return Err(Error::NotAFile(cid.to_string()));
    }
    fetch_verified_with(store, cid, dest, max_bytes).await
}

/// Resolves `path` (`/`-separated names) inside the directory DAG at `root`, every block on the
/// way verified: the CID it names. A name that is missing, or that names a file where a
/// directory is needed, is [`Error::NotInDirectory`].
pub async fn resolve_path<S: ContentStore>(store: &S, root: &Cid, path: &str) -> Result<Cid> {
    let mut cid = *root;
    for name in path.split('/') {
        let block = get_verified(store, &cid).await?;
        let Node::Directory { links } = unixfs::inspect(&cid, &block)?.0 else {
            return Err(Error::NotInDirectory { root: root.to_string(), path: path.into() });
        };
        cid = links
            .into_iter()
            .find(|l| l.name == name)
            .ok_or_else(|| Error::NotInDirectory { root: root.to_string(), path: path.into() })?
            .cid;
    }
    Ok(cid)
}

/// The most blocks a proof holds: what a contract's reader reads at most
/// (`iollm_types::unixfs::MAX_DEPTH`, which a test checks it equals; this crate depends on no
/// other of ours).
pub const MAX_PROOF_BLOCKS: usize = 16;

/// The blocks that prove byte `offset` of the file at `path` (`/`-separated names; empty for
/// `root` itself) under the DAG `root` to a reader that cannot reach IPFS (a contract: its
/// reader is `iollm_types::unixfs::read_at`): each directory on the path, then the file's
/// nodes down to the leaf holding the offset, every block verified against its CID. An offset
/// past the file's end is [`Error::OutOfRange`]; a name missing is [`Error::NotInDirectory`];
/// a path of more than [`MAX_PROOF_BLOCKS`] blocks is [`Error::TooDeep`] (so a proof holds at
/// most that many blocks, whatever the DAG).
pub async fn prove_at<S: ContentStore>(
    store: &S,
    root: &Cid,
    path: &str,
    offset: u64,
) -> Result<Vec<Bytes>> {
    let mut cid = *root;
    let mut blocks = Vec::new();
    for name in path.split('/').filter(|n| !n.is_empty()) {
        let block = get_verified(store, &cid).await?;
        let Node::Directory { links } = unixfs::inspect(&cid, &block)?.0 else {
            return Err(Error::NotInDirectory { root: root.to_string(), path: path.into() });
        };
        blocks.push(block);
        cid = links
            .into_iter()
            .find(|l| l.name == name)
            .ok_or_else(|| Error::NotInDirectory { root: root.to_string(), path: path.into() })?
            .cid;
    }
    // Down the file, by the sizes of each node's children.
    let mut start = 0u64;
    loop {
        if blocks.len() >= MAX_PROOF_BLOCKS {
            return Err(Error::TooDeep { root: root.to_string(), max: MAX_PROOF_BLOCKS });
        }
        let block = get_verified(store, &cid).await?;
        let (node, pb, data) = unixfs::inspect(&cid, &block)?;
        let Node::File { size } = node else {
            return Err(Error::NotAFile(cid.to_string()));
        };
        if offset.checked_sub(start).is_none_or(|o| o >= size) {
            return Err(Error::OutOfRange { offset, cid: cid.to_string() });
        }
        blocks.push(block);
        let (Some(pb), Some(data)) = (pb, data) else { return Ok(blocks) };
        if pb.links.is_empty() {
            return Ok(blocks);
        }
        let mut child_start = start;
        let next = pb.links.iter().zip(&data.blocksizes).find_map(|(link, &len)| {
            let end = child_start.saturating_add(len);
            let holds = offset >= child_start && offset < end;
            let here = holds.then_some((link.cid, child_start));
            child_start = end;
            here
        });
        let Some((child, from)) = next else {
            return Err(Error::OutOfRange { offset, cid: cid.to_string() });
        };
        (cid, start) = (child, from);
    }
}

/// A destination's staging directory, `.NAME.iollm-pull/` beside it: `lock` (held with
/// `flock` while the pull runs) and `content` (what becomes `dest`). A pull that was killed
/// leaves it behind, unlocked; the next pull into the same destination recognises it by its
/// name and removes it. Dropped without [`Staging::commit`], it removes itself.
#[derive(Debug)]
pub(crate) struct Staging {
    dir: PathBuf,
    _lock: std::fs::File,
}

impl Staging {
    /// Takes the staging directory for `dest` (which must not exist).
    pub(crate) fn acquire(dest: &Path) -> Result<Self> {
        if std::fs::symlink_metadata(dest).is_ok() {
            return Err(Error::DestinationExists { path: dest.to_owned() });
        }
        let name = dest
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::InvalidOptions(format!("bad destination {}", dest.display())))?;
        let parent = crate::fsutil::parent_dir(dest);
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let dir = parent.join(format!(".{name}.iollm-pull"));
        for _ in 0..2 {
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    let lock = crate::fsutil::lock_exclusive(&dir.join("lock"))?
                        .ok_or_else(|| Error::PullInProgress { path: dest.to_owned() })?;
                    return Ok(Self { dir, _lock: lock });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // Ours to remove only if nobody holds its lock: a pull that was killed.
                    let Some(_stale) = crate::fsutil::lock_exclusive(&dir.join("lock"))? else {
                        return Err(Error::PullInProgress { path: dest.to_owned() });
                    };
                    tracing::warn!(target: TARGET, dir = %dir.display(), "Removing what an interrupted pull left behind");
                    std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                }
                Err(e) => return Err(Error::io(&dir, e)),
            }
        }
        Err(Error::PullInProgress { path: dest.to_owned() })
    }

    /// Where the content goes.
    pub(crate) fn content(&self) -> PathBuf {
        self.dir.join("content")
    }

    /// Renames the content to `dest` (durably) and removes the staging directory.
    pub(crate) fn commit(self, dest: &Path) -> Result<()> {
        let content = self.content();
        if std::fs::symlink_metadata(dest).is_ok() {
            return Err(Error::DestinationExists { path: dest.to_owned() });
        }
        std::fs::rename(&content, dest).map_err(|e| Error::io(dest, e))?;
        crate::fsutil::sync_dir(crate::fsutil::parent_dir(dest))
        // Drop removes the (now empty but for its lock) staging directory.
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fetch_node<'a, S: ContentStore>(
    store: &'a S,
    cid: &'a Cid,
    path: &'a Path,
    budget: &'a mut u64,
    limit: u64,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64>> + Send + 'a>> {
    Box::pin(async move {
        let block = get_verified(store, cid).await?;
        let (node, _, _) = unixfs::inspect(cid, &block)?;
        match node {
            Node::File { size } => {
                if size > *budget {
                    return Err(Error::PullTooLarge { size: limit - *budget + size, limit });
                }
                let n = write_file_to(store, cid, block, path, size).await?;
                *budget -= n;
                Ok(n)
            }
            Node::Directory { links } => {
                tokio::fs::create_dir(path).await.map_err(|e| Error::io(path, e))?;
                let mut total = 0;
                for l in links {
                    check_entry_name(cid, &l.name)?;
                    let child: PathBuf = path.join(&l.name);
                    total += fetch_node(store, &l.cid, &child, budget, limit).await?;
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

/// Refuses directory entry names that could leave the directory they are in.
pub(crate) fn check_entry_name(dir: &Cid, name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(Error::MalformedBlock {
            cid: Box::new(*dir),
            reason: format!("unsafe directory entry name {name:?}"),
        });
    }
    Ok(())
}

/// Writes the file DAG at `cid` (whose verified root block is `block`) to a new file `path`,
/// failing with [`Error::SizeMismatch`] as soon as more than `size` bytes arrive (or, at the
/// end, fewer); fsyncs it.
pub(crate) async fn write_file_to<S: ContentStore>(
    store: &S,
    cid: &Cid,
    block: Bytes,
    path: &Path,
    size: u64,
) -> Result<u64> {
    let f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let bar = crate::client::progress_bar(size, "fetch");
    let n = write_file(store, cid, block, &mut w, path, &bar, size).await;
    bar.finish_and_clear();
    let n = n?;
    if n != size {
        return Err(Error::SizeMismatch {
            path: path.display().to_string(),
            expected: size,
            actual: n,
        });
    }
    let f = w.into_inner().map_err(|e| Error::io(path, e.into_error()))?;
    f.sync_all().map_err(|e| Error::io(path, e))?;
    Ok(n)
}

/// Writes the file DAG rooted at `cid` (whose verified block is `block`) in order.
pub(crate) async fn write_file<S: ContentStore, W: Write + Send>(
    store: &S,
    cid: &Cid,
    block: Bytes,
    w: &mut W,
    path: &Path,
    bar: &indicatif::ProgressBar,
    limit: u64,
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
        if written + b.len() as u64 > limit {
            return Err(Error::SizeMismatch {
                path: path.display().to_string(),
                expected: limit,
                actual: written + b.len() as u64,
            });
        }
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
