//! `ipfs add` options and CID helpers (parse, compare, print the way Kubo does).
//!
//! CIDs are values ([`cid::Cid`]): compare them with `==`, never as strings, because the same
//! content has several spellings (CIDv0 `Qm…` vs its CIDv1 `bafy…` form, other multibases).

use std::str::FromStr;

use cid::Cid;

use crate::error::{Error, Result};

/// Multicodec `dag-pb`.
pub const DAG_PB: u64 = 0x70;
/// Multicodec `raw`.
pub const RAW: u64 = 0x55;
/// Multihash `sha2-256`.
pub const SHA2_256: u64 = 0x12;
/// Multihash code of the identity "hash" (the data is inlined in the CID, e.g. `bafkqaaa`).
pub const IDENTITY: u64 = 0x00;

/// The inlined data of an identity CID, `None` for any other.
pub fn identity_data(cid: &Cid) -> Option<&[u8]> {
    (cid.hash().code() == IDENTITY).then(|| cid.hash().digest())
}
/// Kubo's default chunk size (`size-262144`).
pub const DEFAULT_CHUNK_SIZE: usize = 262_144;
/// Kubo's largest allowed chunk size (1 MiB).
pub const MAX_CHUNK_SIZE: usize = 1_048_576;
/// Links per node in Kubo's balanced layout.
pub const MAX_LINKS: usize = 174;

/// CID version, as `ipfs add --cid-version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CidVersion {
    /// `Qm…`, dag-pb everywhere, base58btc (Kubo's default).
    #[default]
    V0,
    /// `bafy…`/`bafk…`, base32.
    V1,
}

/// What `ipfs add` needs to know to produce a CID. `Default` is Kubo's default
/// (CIDv0, no raw leaves, `size-262144`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddOptions {
    /// `--cid-version`.
    pub cid_version: CidVersion,
    /// `--raw-leaves`: leaves stored as `raw` blocks instead of UnixFS dag-pb nodes.
    pub raw_leaves: bool,
    /// `--chunker size-N`: bytes per leaf.
    pub chunk_size: usize,
}

impl Default for AddOptions {
    fn default() -> Self {
        Self { cid_version: CidVersion::V0, raw_leaves: false, chunk_size: DEFAULT_CHUNK_SIZE }
    }
}

impl AddOptions {
    /// Options the way Kubo resolves its flags: `--cid-version=1` implies `--raw-leaves` unless
    /// `raw_leaves` is given explicitly. CIDv0 with `--raw-leaves` is allowed, as in Kubo: the
    /// leaves are CIDv1 `raw` blocks, the parents CIDv0 dag-pb (so a one-chunk file is `bafkrei…`).
    pub fn from_flags(
        cid_version: Option<u8>,
        raw_leaves: Option<bool>,
        chunker: Option<&str>,
    ) -> Result<Self> {
        let cid_version = match cid_version.unwrap_or(0) {
            0 => CidVersion::V0,
            1 => CidVersion::V1,
            v => return Err(Error::InvalidOptions(format!("unknown CID version {v}"))),
        };
        let raw_leaves = raw_leaves.unwrap_or(cid_version == CidVersion::V1);
        let chunk_size = match chunker {
            Some(c) => parse_chunker(c)?,
            None => DEFAULT_CHUNK_SIZE,
        };
        let opts = Self { cid_version, raw_leaves, chunk_size };
        opts.check()?;
        Ok(opts)
    }

    /// CIDv1 with raw leaves (`ipfs add --cid-version=1`).
    pub fn v1() -> Self {
        Self { cid_version: CidVersion::V1, raw_leaves: true, ..Self::default() }
    }

    /// Checks the combination is one Kubo produces.
    pub fn check(&self) -> Result<()> {
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return Err(Error::InvalidChunker(format!("size-{}", self.chunk_size)));
        }
        Ok(())
    }

    /// The `--chunker` string for these options.
    pub fn chunker(&self) -> String {
        format!("size-{}", self.chunk_size)
    }
}

/// Parses Kubo's `--chunker` value; only the fixed-size chunker `size-N` is supported.
pub fn parse_chunker(s: &str) -> Result<usize> {
    let n = s
        .strip_prefix("size-")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| (1..=MAX_CHUNK_SIZE).contains(n));
    n.ok_or_else(|| Error::InvalidChunker(s.to_owned()))
}

/// Parses a CID string (any multibase; CIDv0 `Qm…`), naming the problem when it does not parse.
pub fn parse_cid(s: &str) -> Result<Cid> {
    let t = s.trim();
    let t = t.strip_prefix("/ipfs/").unwrap_or(t);
    if t.is_empty() {
        return Err(Error::InvalidCid { input: s.to_owned(), reason: "empty string".into() });
    }
    Cid::from_str(t).map_err(|e| Error::InvalidCid { input: s.to_owned(), reason: e.to_string() })
}

/// Prints a CID the way Kubo does: CIDv0 in base58btc, CIDv1 in base32 (lower case).
pub fn format_cid(cid: &Cid) -> String {
    // `Cid::to_string` already uses base58btc for v0 and base32 for v1, Kubo's defaults.
    cid.to_string()
}

/// The CID a block with this codec and content gets under `version`.
pub fn cid_for(version: CidVersion, codec: u64, digest: [u8; 32]) -> Cid {
    let mh = multihash::Multihash::<64>::wrap(SHA2_256, &digest)
        .unwrap_or_else(|_| unreachable!("32-byte digest fits a 64-byte multihash"));
    match version {
        // CIDv0 exists only for dag-pb; `new_v0` can fail only for non-sha2-256 hashes.
        CidVersion::V0 if codec == DAG_PB => {
            Cid::new_v0(mh).unwrap_or_else(|_| unreachable!("sha2-256 is valid for CIDv0"))
        }
        _ => Cid::new_v1(codec, mh),
    }
}
