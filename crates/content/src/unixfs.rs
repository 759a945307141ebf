//! Reading UnixFS DAGs: file bytes (with offset/length), directory listings, DAG walks.
//!
//! Works over any [`BlockSource`]; the daemon uses it for `cat` and `pin add`. It trusts its
//! source; verification against CIDs happens in [`crate::fetch`].

use cid::Cid;

use crate::blockstore::BlockSource;
use crate::error::{Error, Result};
use crate::options::{DAG_PB, RAW};
use crate::pb::{self, PbLink, UnixFs};

/// What a UnixFS node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// File content: raw bytes or a UnixFS file node.
    File {
        /// Total size.
        size: u64,
    },
    /// A directory with named links.
    Directory {
        /// Entries.
        links: Vec<PbLink>,
    },
    /// A symbolic link.
    Symlink {
        /// Target.
        target: String,
    },
}

fn unsupported(cid: &Cid, reason: &str) -> Error {
    Error::UnsupportedCid { cid: Box::new(*cid), reason: reason.into() }
}

/// Decodes a block into its UnixFS meaning.
pub fn inspect(cid: &Cid, block: &[u8]) -> Result<(Node, Option<pb::PbNode>, Option<UnixFs>)> {
    match cid.codec() {
        RAW => Ok((Node::File { size: block.len() as u64 }, None, None)),
        DAG_PB => {
            let node = pb::decode_node(cid, block)?;
            let data = node.data.as_deref().ok_or_else(|| Error::MalformedBlock {
                cid: Box::new(*cid),
                reason: "dag-pb node without UnixFS data".into(),
            })?;
            let u = UnixFs::decode(cid, data)?;
            let n = match u.kind {
                pb::UNIXFS_DIRECTORY => Node::Directory { links: node.links.clone() },
                pb::UNIXFS_SYMLINK => Node::Symlink {
                    target: String::from_utf8_lossy(u.data.as_deref().unwrap_or_default())
                        .into_owned(),
                },
                0 | pb::UNIXFS_FILE => Node::File {
                    size: u
                        .filesize
                        .unwrap_or_else(|| u.data.as_ref().map_or(0, |d| d.len() as u64)),
                },
                k => return Err(unsupported(cid, &format!("UnixFS type {k} (HAMT/metadata)"))),
            };
            Ok((n, Some(node), Some(u)))
        }
        _ => Err(unsupported(cid, "codec is neither dag-pb nor raw")),
    }
}

/// Resolves `root/a/b` through directories to a CID.
pub fn resolve_path<S: BlockSource + ?Sized>(store: &S, root: &Cid, path: &str) -> Result<Cid> {
    let mut cur = *root;
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        let block = store.get_block(&cur)?;
        match inspect(&cur, &block)?.0 {
            Node::Directory { links } => {
                cur = links
                    .iter()
                    .find(|l| l.name == seg)
                    .map(|l| l.cid)
                    .ok_or_else(|| Error::Api(format!("no link named {seg:?} under {cur}")))?;
            }
            _ => return Err(Error::Api(format!("{cur} is not a directory"))),
        }
    }
    Ok(cur)
}

/// Writes file bytes `[offset, offset+len)` of the file DAG at `cid` to `out`, skipping
/// subtrees outside the range via `blocksizes`.
pub fn read_file<S: BlockSource + ?Sized>(
    store: &S,
    cid: &Cid,
    offset: u64,
    len: u64,
    out: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let block = store.get_block(cid)?;
    read_node(store, cid, &block, offset, len, out)
}

fn read_node<S: BlockSource + ?Sized>(
    store: &S,
    cid: &Cid,
    block: &[u8],
    offset: u64,
    len: u64,
    out: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    let (node, pbn, u) = inspect(cid, block)?;
    match node {
        Node::File { .. } => {}
        Node::Directory { .. } => return Err(Error::Api("this dag node is a directory".into())),
        Node::Symlink { .. } => return Err(Error::Api("cannot cat a symlink".into())),
    }
    let (data, links, sizes): (&[u8], Vec<PbLink>, Vec<u64>) = match (&pbn, &u) {
        (Some(n), Some(u)) => {
            (u.data.as_deref().unwrap_or_default(), n.links.clone(), u.blocksizes.clone())
        }
        _ => (block, Vec::new(), Vec::new()),
    };
    let mut pos = 0u64;
    let end = offset.saturating_add(len);
    // Inline data comes first.
    let dlen = data.len() as u64;
    if offset < dlen {
        let s = offset as usize;
        let e = end.min(dlen) as usize;
        out(&data[s..e])?;
    }
    pos += dlen;
    if links.len() != sizes.len() && !links.is_empty() {
        return Err(Error::MalformedBlock {
            cid: Box::new(*cid),
            reason: "blocksizes do not match links".into(),
        });
    }
    for (link, size) in links.iter().zip(sizes) {
        if pos >= end {
            break;
        }
        let child_end = pos + size;
        if child_end > offset {
            let child = store.get_block(&link.cid)?;
            let o = offset.saturating_sub(pos);
            let l = end.min(child_end) - pos.max(offset);
            read_node(store, &link.cid, &child, o, l, out)?;
        }
        pos = child_end;
    }
    Ok(())
}

/// Every CID reachable from `root` (root first, each distinct block once), checking each block
/// is present. Stops with [`Error::Cancelled`] as soon as `cancel` is cancelled, so a walk
/// whose client has gone, or whose daemon is shutting down, ends; remembering visited blocks
/// means a small DAG that links one block many times is walked in a few steps.
pub fn walk<S: BlockSource + ?Sized>(
    store: &S,
    root: &Cid,
    cancel: &tokio_util::sync::CancellationToken,
    visit: &mut dyn FnMut(&Cid, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![*root];
    while let Some(c) = stack.pop() {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        if !seen.insert(c) {
            continue;
        }
        let block = store.get_block(&c)?;
        visit(&c, &block)?;
        if c.codec() == DAG_PB {
            let n = pb::decode_node(&c, &block)?;
            stack.extend(n.links.iter().rev().map(|l| l.cid).filter(|l| !seen.contains(l)));
        }
    }
    Ok(())
}
