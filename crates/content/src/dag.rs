//! Kubo-identical UnixFS DAG builder: what `ipfs add` does, in constant memory.
//!
//! Files are cut into fixed-size chunks (`size-N`), each chunk becomes a leaf (a `raw` block with
//! raw leaves, otherwise a UnixFS `File` dag-pb node), and leaves are joined by go-unixfs's
//! *balanced* layout: parents of at most 174 links, filled left to right, a new root level added
//! whenever the current root is full. A one-chunk file is its own leaf. The builder keeps one
//! partial parent per tree level (≤ 174 links each), so memory does not grow with file size.
//!
//! Directories become UnixFS `Directory` nodes whose links are sorted by name (go-merkledag sorts
//! links when encoding). Hidden entries (names starting with `.`) are skipped like `ipfs add -r`
//! without `--hidden`. Symbolic links become UnixFS `Symlink` nodes; one that points outside the
//! tree being added is refused. HAMT-sharded directories (Kubo shards a directory whose node
//! would exceed 256 KiB, thousands of entries) are not produced: such directories are refused.
//!
//! ```
//! use iollm_content::{cid_of_bytes, AddOptions};
//! let cid = cid_of_bytes(b"hello world\n", &AddOptions::default()).unwrap();
//! assert_eq!(cid.to_string(), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
//! ```

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use cid::Cid;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::options::{cid_for, AddOptions, CidVersion, DAG_PB, MAX_LINKS, RAW};
use crate::pb::{self, PbLink, UnixFs};

/// Largest directory node we build unsharded (Kubo's HAMT threshold is 256 KiB).
pub const MAX_DIRECTORY_NODE: usize = 256 * 1024;

/// Where built blocks go. `parts` concatenated are the block's bytes.
pub trait BlockSink {
    /// Stores one block.
    fn put(&mut self, cid: &Cid, parts: &[&[u8]]) -> Result<()>;
}

/// A sink that drops every block: computing a CID only (`ipfs add --only-hash`).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl BlockSink for NullSink {
    fn put(&mut self, _cid: &Cid, _parts: &[&[u8]]) -> Result<()> {
        Ok(())
    }
}

impl<S: BlockSink + ?Sized> BlockSink for &mut S {
    fn put(&mut self, cid: &Cid, parts: &[&[u8]]) -> Result<()> {
        (**self).put(cid, parts)
    }
}

/// The root of something added: its CID and sizes as `ipfs add` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// Root CID.
    pub cid: Cid,
    /// Cumulative DAG size (what `ipfs add` prints as `Size`, a link's Tsize).
    pub dag_size: u64,
    /// Bytes of file content below it.
    pub file_size: u64,
}

/// Streaming builder for one file's DAG. Feed bytes with [`FileBuilder::write`] (any split) or
/// whole chunks with [`FileBuilder::push_chunk`], then call [`FileBuilder::finish`].
#[derive(Debug)]
pub struct FileBuilder<S: BlockSink> {
    opts: AddOptions,
    sink: S,
    levels: Vec<Vec<Added>>,
    buf: Vec<u8>,
    leaves: u64,
}

impl<S: BlockSink> FileBuilder<S> {
    /// A builder that sends its blocks to `sink`.
    pub fn new(opts: AddOptions, sink: S) -> Result<Self> {
        opts.check()?;
        Ok(Self { opts, sink, levels: Vec::new(), buf: Vec::new(), leaves: 0 })
    }

    /// Appends bytes.
    pub fn write(&mut self, mut data: &[u8]) -> Result<()> {
        let cs = self.opts.chunk_size;
        if !self.buf.is_empty() {
            let take = (cs - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == cs {
                let chunk = std::mem::take(&mut self.buf);
                self.push_chunk(&chunk)?;
                self.buf = chunk;
                self.buf.clear();
            }
        }
        while data.len() >= cs {
            self.push_chunk(&data[..cs])?;
            data = &data[cs..];
        }
        if !data.is_empty() {
            if self.buf.capacity() < cs {
                self.buf.reserve_exact(cs - self.buf.len());
            }
            self.buf.extend_from_slice(data);
        }
        Ok(())
    }

    /// Adds one whole chunk (exactly `chunk_size` bytes, except the file's last chunk). Do not
    /// mix with a partial [`FileBuilder::write`].
    pub fn push_chunk(&mut self, chunk: &[u8]) -> Result<()> {
        let leaf = self.leaf(chunk)?;
        self.leaves += 1;
        self.push(0, leaf)
    }

    /// Ends the file and returns its root.
    pub fn finish(mut self) -> Result<Added> {
        if !self.buf.is_empty() {
            let chunk = std::mem::take(&mut self.buf);
            self.push_chunk(&chunk)?;
        }
        if self.leaves == 0 {
            self.push_chunk(&[])?;
        }
        let mut level = 0;
        let mut carry: Option<Added> = None;
        loop {
            if let Some(c) = carry.take() {
                self.push(level, c)?;
            }
            let top = level + 1 == self.levels.len();
            if top && self.levels[level].len() == 1 {
                return Ok(self.levels[level][0]);
            }
            let links = std::mem::take(&mut self.levels[level]);
            let parent = self.parent(&links)?;
            if top {
                return Ok(parent);
            }
            carry = Some(parent);
            level += 1;
        }
    }

    /// The sink, for callers that need it back.
    pub fn into_sink(self) -> S {
        self.sink
    }

    fn push(&mut self, level: usize, link: Added) -> Result<()> {
        if self.levels.len() == level {
            self.levels.push(Vec::with_capacity(MAX_LINKS));
        }
        if self.levels[level].len() == MAX_LINKS {
            let links = std::mem::take(&mut self.levels[level]);
            let parent = self.parent(&links)?;
            self.levels[level] = links;
            self.levels[level].clear();
            self.push(level + 1, parent)?;
        }
        self.levels[level].push(link);
        Ok(())
    }

    fn leaf(&mut self, data: &[u8]) -> Result<Added> {
        let n = data.len() as u64;
        if self.opts.raw_leaves {
            let cid = cid_for(CidVersion::V1, RAW, Sha256::digest(data).into());
            self.sink.put(&cid, &[data])?;
            return Ok(Added { cid, dag_size: n, file_size: n });
        }
        // PBNode{Data: UnixFs{Type: File, Data: chunk (absent when empty), filesize}}, written as
        // prefix ++ chunk ++ suffix so the chunk is hashed in place, never copied.
        let mut unixfs_head = Vec::with_capacity(16);
        pb::put_uint(&mut unixfs_head, 1, pb::UNIXFS_FILE);
        if n > 0 {
            unixfs_head.push(2 << 3 | 2);
            pb::put_varint(&mut unixfs_head, n);
        }
        let mut suffix = Vec::with_capacity(11);
        pb::put_uint(&mut suffix, 3, n);
        let unixfs_len = unixfs_head.len() + data.len() + suffix.len();
        let mut prefix = Vec::with_capacity(unixfs_head.len() + 11);
        prefix.push(1 << 3 | 2);
        pb::put_varint(&mut prefix, unixfs_len as u64);
        prefix.extend_from_slice(&unixfs_head);
        let mut h = Sha256::new();
        h.update(&prefix);
        h.update(data);
        h.update(&suffix);
        let cid = cid_for(self.opts.cid_version, DAG_PB, h.finalize().into());
        self.sink.put(&cid, &[&prefix, data, &suffix])?;
        let size = (prefix.len() + data.len() + suffix.len()) as u64;
        Ok(Added { cid, dag_size: size, file_size: n })
    }

    fn parent(&mut self, children: &[Added]) -> Result<Added> {
        let links: Vec<PbLink> = children
            .iter()
            .map(|c| PbLink { cid: c.cid, name: String::new(), tsize: c.dag_size })
            .collect();
        let file_size = children.iter().map(|c| c.file_size).sum();
        let unixfs = UnixFs {
            kind: pb::UNIXFS_FILE,
            data: None,
            filesize: Some(file_size),
            blocksizes: children.iter().map(|c| c.file_size).collect(),
        };
        let block = pb::encode_node(&links, Some(&unixfs.encode()));
        let cid = cid_for(self.opts.cid_version, DAG_PB, Sha256::digest(&block).into());
        self.sink.put(&cid, &[&block])?;
        let dag_size = block.len() as u64 + children.iter().map(|c| c.dag_size).sum::<u64>();
        Ok(Added { cid, dag_size, file_size })
    }
}

/// Reads `reader` to its end and builds its DAG into `sink` (constant memory: one chunk buffer
/// plus one partial node per tree level).
pub fn add_reader<R: Read, S: BlockSink>(
    mut reader: R,
    opts: &AddOptions,
    sink: S,
) -> Result<Added> {
    add_reader_with_progress(&mut reader, opts, sink, &mut |_| {}, Path::new("<reader>"))
}

pub(crate) fn add_reader_with_progress<R: Read, S: BlockSink>(
    reader: &mut R,
    opts: &AddOptions,
    sink: S,
    progress: &mut dyn FnMut(u64),
    path: &Path,
) -> Result<Added> {
    let mut b = FileBuilder::new(*opts, sink)?;
    let mut chunk = vec![0u8; opts.chunk_size];
    loop {
        let n = read_full(reader, &mut chunk).map_err(|e| Error::io(path, e))?;
        if n > 0 {
            b.push_chunk(&chunk[..n])?;
            progress(n as u64);
        }
        if n < chunk.len() {
            break;
        }
    }
    b.finish()
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The CID `ipfs add` gives these bytes.
pub fn cid_of_bytes(data: &[u8], opts: &AddOptions) -> Result<Cid> {
    Ok(add_reader(data, opts, NullSink)?.cid)
}

/// The CID `ipfs add` gives what `reader` yields (streamed, constant memory).
pub fn cid_of_reader<R: Read>(reader: R, opts: &AddOptions) -> Result<Cid> {
    Ok(add_reader(reader, opts, NullSink)?.cid)
}

/// The CID `ipfs add [-r]` prints for `path`: a file, or a directory added recursively.
pub fn cid_of_file(path: &Path, opts: &AddOptions) -> Result<Cid> {
    Ok(add_path(path, opts, &mut NullSink)?.cid)
}

/// Adds a file or directory tree into `sink` as `ipfs add -r` does; returns the root.
pub fn add_path<S: BlockSink>(path: &Path, opts: &AddOptions, sink: &mut S) -> Result<Added> {
    add_path_with(path, opts, sink, &mut |_, _| {})
}

/// As [`add_path`], calling `on_entry(relative path, added)` for every file and directory (the
/// lines `ipfs add -r` prints, root last) and reporting no progress.
pub fn add_path_with<S: BlockSink>(
    path: &Path,
    opts: &AddOptions,
    sink: &mut S,
    on_entry: &mut dyn FnMut(&Path, &Added),
) -> Result<Added> {
    opts.check()?;
    let meta = fs::symlink_metadata(path).map_err(|e| missing_or_io(path, e))?;
    let root = fs::canonicalize(path).map_err(|e| missing_or_io(path, e))?;
    let name = PathBuf::from(path.file_name().unwrap_or(path.as_os_str()));
    if meta.is_dir() {
        add_dir(path, &root, &name, opts, sink, on_entry)
    } else {
        let added = add_entry(path, &root, &name, &meta, opts, sink, on_entry)?;
        Ok(added)
    }
}

fn missing_or_io(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::MissingFile(path.to_owned())
    } else {
        Error::io(path, e)
    }
}

fn add_entry<S: BlockSink>(
    path: &Path,
    root: &Path,
    rel: &Path,
    meta: &fs::Metadata,
    opts: &AddOptions,
    sink: &mut S,
    on_entry: &mut dyn FnMut(&Path, &Added),
) -> Result<Added> {
    let ft = meta.file_type();
    if ft.is_dir() {
        add_dir(path, root, rel, opts, sink, on_entry)
    } else if ft.is_file() {
        let mut f = fs::File::open(path).map_err(|e| missing_or_io(path, e))?;
        let added = add_reader_with_progress(&mut f, opts, &mut *sink, &mut |_| {}, path)?;
        on_entry(rel, &added);
        Ok(added)
    } else if ft.is_symlink() {
        let target = fs::read_link(path).map_err(|e| Error::io(path, e))?;
        if target.is_absolute() || !stays_inside(path, &target, root) {
            return Err(Error::SymlinkEscapes { path: path.to_owned(), target });
        }
        let t = target.to_str().ok_or_else(|| Error::NonUtf8Name(path.to_owned()))?;
        let unixfs = UnixFs {
            kind: pb::UNIXFS_SYMLINK,
            data: Some(t.as_bytes().to_vec()),
            ..UnixFs::default()
        };
        let block = pb::encode_node(&[], Some(&unixfs.encode()));
        let added = put_node(opts, sink, &block, 0, 0)?;
        on_entry(rel, &added);
        Ok(added)
    } else {
        Err(Error::UnsupportedFileType(path.to_owned()))
    }
}

/// Whether `target`, read relative to the link's directory, stays under `root` (lexically, then
/// following any links that exist on the way).
fn stays_inside(link: &Path, target: &Path, root: &Path) -> bool {
    // A bare name (`link`) lives in the current directory: its parent is `.`, not "".
    let parent = link.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Ok(dir) = fs::canonicalize(parent) else { return false };
    let mut p = dir;
    for c in target.components() {
        match c {
            std::path::Component::ParentDir if !p.pop() => return false,
            std::path::Component::Normal(n) => p.push(n),
            _ => {}
        }
    }
    if !p.starts_with(root) {
        return false;
    }
    // Where it exists, check where it really leads (a chain of links).
    fs::canonicalize(&p).map_or(true, |real| real.starts_with(root))
}

fn put_node<S: BlockSink>(
    opts: &AddOptions,
    sink: &mut S,
    block: &[u8],
    children: u64,
    file_size: u64,
) -> Result<Added> {
    let cid = cid_for(opts.cid_version, DAG_PB, Sha256::digest(block).into());
    sink.put(&cid, &[block])?;
    Ok(Added { cid, dag_size: block.len() as u64 + children, file_size })
}

fn add_dir<S: BlockSink>(
    path: &Path,
    root: &Path,
    rel: &Path,
    opts: &AddOptions,
    sink: &mut S,
    on_entry: &mut dyn FnMut(&Path, &Added),
) -> Result<Added> {
    let mut entries = Vec::new();
    for e in fs::read_dir(path).map_err(|e| missing_or_io(path, e))? {
        let e = e.map_err(|e| Error::io(path, e))?;
        let p = e.path();
        let name = e.file_name().into_string().map_err(|_| Error::NonUtf8Name(p.clone()))?;
        if name.starts_with('.') {
            continue;
        }
        entries.push((name, p));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut links = Vec::with_capacity(entries.len());
    let mut file_size = 0;
    for (name, p) in entries {
        let meta = fs::symlink_metadata(&p).map_err(|e| missing_or_io(&p, e))?;
        let child = add_entry(&p, root, &rel.join(&name), &meta, opts, sink, on_entry)?;
        file_size += child.file_size;
        links.push(PbLink { cid: child.cid, name, tsize: child.dag_size });
    }
    let added = directory_node(&links, opts, sink, file_size)?;
    on_entry(rel, &added);
    Ok(added)
}

/// Builds a UnixFS directory node from named links (sorted here by name, as Kubo does) and
/// stores it. Duplicate names are refused.
pub fn directory_node<S: BlockSink>(
    links: &[PbLink],
    opts: &AddOptions,
    sink: &mut S,
    file_size: u64,
) -> Result<Added> {
    let mut links = links.to_vec();
    links.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = links.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(Error::InvalidOptions(format!("duplicate directory entry {:?}", w[0].name)));
    }
    let unixfs = UnixFs { kind: pb::UNIXFS_DIRECTORY, ..UnixFs::default() };
    let block = pb::encode_node(&links, Some(&unixfs.encode()));
    if block.len() > MAX_DIRECTORY_NODE {
        return Err(Error::InvalidOptions(format!(
            "directory with {} entries would need HAMT sharding, which is not supported",
            links.len()
        )));
    }
    let children = links.iter().map(|l| l.tsize).sum();
    put_node(opts, sink, &block, children, file_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17 item 17: a link given by its bare name (`iollm cid link`) lives in the current
    /// directory, as `./link` does; it used to be judged "outside" (its parent was "").
    #[test]
    fn a_bare_link_name_is_inside_the_current_directory() {
        let cwd = fs::canonicalize(".").unwrap();
        assert!(stays_inside(Path::new("link"), Path::new("target.txt"), &cwd));
        assert!(stays_inside(Path::new("./link"), Path::new("target.txt"), &cwd));
        assert!(!stays_inside(Path::new("link"), Path::new("../../x"), &cwd));
    }
}
