//! A flat-file blockstore: one file per block, named by the block's multihash, like Kubo's flatfs.
//!
//! Layout under the repo directory: `blocks/<XY>/<KEY>.data`, where `KEY` is the multihash in
//! upper-case base32 without padding (Kubo's datastore key) and `XY` its next-to-last two
//! characters (flatfs `next-to-last/2` sharding). Keying by multihash means a `raw` and a
//! `dag-pb` CID, or a CIDv0 and its CIDv1, with the same hash share one file, as in Kubo.
//! Writes go to a temporary file that is fsynced and renamed into place, and the directory is
//! fsynced, so a crash never leaves a partial block under its final name. Reads do not re-hash
//! (Kubo's `HashOnRead` is off by default; integrity is the reader's job,
//! [`crate::fetch_verified`]), but a write of a block already present re-hashes what is stored
//! and rewrites it if it does not match, so re-adding content repairs a damaged block.

use std::fs;
use std::path::{Path, PathBuf};

use cid::multibase::{self, Base};
use cid::Cid;

use crate::dag::BlockSink;
use crate::error::{Error, Result};
use crate::options::identity_data;

const TARGET: &str = "iollm_content::blockstore";

/// Largest block anything in iollm reads or stores (bitswap's 2 MiB limit; `ipfs add` makes
/// blocks of at most 1 MiB of data plus a few bytes of framing).
pub const MAX_BLOCK_SIZE: usize = 2 * 1024 * 1024;

/// Something blocks can be read from.
pub trait BlockSource {
    /// The block's bytes, or [`Error::BlockNotFound`].
    fn get_block(&self, cid: &Cid) -> Result<Vec<u8>>;
}

/// The flat-file blockstore.
#[derive(Debug)]
pub struct FlatBlockstore {
    dir: PathBuf,
    /// Shard directories known to exist (saves a `create_dir_all` per block).
    shards: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl FlatBlockstore {
    /// Opens (creating if needed) the blockstore in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Self { dir, shards: Default::default() })
    }

    /// Where the block for `cid` lives (whether or not it exists).
    pub fn block_path(&self, cid: &Cid) -> PathBuf {
        let enc = multibase::encode(Base::Base32Upper, cid.hash().to_bytes());
        let key = &enc[1..];
        let shard = &key[key.len() - 3..key.len() - 1];
        self.dir.join(shard).join(format!("{key}.data"))
    }

    /// Whether the block is present (an identity CID always is: its data is the CID).
    pub fn has(&self, cid: &Cid) -> bool {
        identity_data(cid).is_some() || self.block_path(cid).is_file()
    }

    /// Size of the block in bytes.
    pub fn size(&self, cid: &Cid) -> Result<u64> {
        if let Some(d) = identity_data(cid) {
            return Ok(d.len() as u64);
        }
        let p = self.block_path(cid);
        match fs::metadata(&p) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::BlockNotFound(Box::new(*cid)))
            }
            Err(e) => Err(Error::io(p, e)),
        }
    }

    /// Stores a block given as parts. A block already stored is kept only if it still hashes
    /// to its CID; one that does not (truncated, flipped) is rewritten, so re-adding content
    /// repairs it. Written atomically and durably ([`crate::fsutil::write_parts_atomic`]).
    pub fn put_parts(&self, cid: &Cid, parts: &[&[u8]]) -> Result<()> {
        if identity_data(cid).is_some() {
            return Ok(());
        }
        let path = self.block_path(cid);
        match fs::read(&path) {
            Ok(stored) if crate::fetch::verify_block(cid, &stored).is_ok() => return Ok(()),
            Ok(stored) => {
                tracing::warn!(target: TARGET, %cid, bytes = stored.len(), "Rewriting a stored block that does not match its CID");
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
        let parent = path.parent().unwrap_or(&self.dir);
        let shard =
            parent.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut known = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        if !known.contains(&shard) {
            if !parent.is_dir() {
                fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                crate::fsutil::sync_dir(&self.dir)?;
            }
            known.insert(shard);
        }
        drop(known);
        crate::fsutil::write_parts_atomic(&path, parts)
    }

    /// (number of blocks, total bytes).
    pub fn stat(&self) -> Result<(u64, u64)> {
        let mut n = 0;
        let mut bytes = 0;
        for e in walkdir::WalkDir::new(&self.dir).min_depth(2).max_depth(2) {
            let e = e.map_err(|e| Error::io(&self.dir, e.into()))?;
            if e.file_type().is_file() && e.file_name().to_string_lossy().ends_with(".data") {
                n += 1;
                bytes += e.metadata().map_err(|err| Error::io(e.path(), err.into()))?.len();
            }
        }
        Ok((n, bytes))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl BlockSource for FlatBlockstore {
    fn get_block(&self, cid: &Cid) -> Result<Vec<u8>> {
        if let Some(d) = identity_data(cid) {
            return Ok(d.to_vec());
        }
        let p = self.block_path(cid);
        match fs::read(&p) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::BlockNotFound(Box::new(*cid)))
            }
            Err(e) => Err(Error::io(p, e)),
        }
    }
}

impl BlockSink for &FlatBlockstore {
    fn put(&mut self, cid: &Cid, parts: &[&[u8]]) -> Result<()> {
        self.put_parts(cid, parts)
    }
}
