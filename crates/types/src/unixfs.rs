//! Bytes of a file on IPFS, proven to a contract that cannot read IPFS: a UnixFS path proof.
//!
//! The prover sends the blocks from a directory's root down to one leaf of one of its files:
//! the directory node, then the file's nodes level by level, then the leaf. [`read_at`] checks
//! each block's SHA-256 against the CID its parent links to (the first against the root CID
//! the chain holds), follows the link the file's name picks in the directory and the one the
//! `blocksizes` of each file node pick for the byte offset asked about, and returns the leaf's
//! bytes with their place in the file. So the bytes are the ones `ipfs cat ROOT/NAME` gives at
//! that offset, whoever sends them.
//!
//! The reader is strict where a looser one could be made to read other bytes than IPFS
//! clients do: a node holding both data and links, `blocksizes` that do not add up to the
//! `filesize` or do not match their links, a leaf of another length than its parent says,
//! duplicate names in a directory, repeated or unknown protobuf fields, HAMT-sharded
//! directories and blocks left over are all refused. What the iollm content layer builds
//! (`iollm_content::dag`, Kubo's balanced layout) always reads; other layouts may not, and a
//! prover that published one cannot prove it.
//!
//! What it is not: an IPFS client or a general protobuf decoder. It knows dag-pb nodes
//! (`Data` = 1, `Links` = 2; a link's `Hash` = 1, `Name` = 2, `Tsize` = 3), UnixFS `Data`
//! (`Type` = 1, `Data` = 2, `filesize` = 3, `blocksizes` = 4) and sha2-256 CIDs (v0, or v1
//! dag-pb or raw).

use iollm_repops::merkle::Hasher;

/// The SHA-256 digest a CID names.
pub type Digest = [u8; 32];

/// Multicodec `dag-pb`.
const DAG_PB: u64 = 0x70;
/// Multicodec `raw`.
const RAW: u64 = 0x55;
/// UnixFS `Type` of a directory.
pub(crate) const DIRECTORY: u64 = 1;
/// UnixFS `Type` of a file.
pub(crate) const FILE: u64 = 2;
/// UnixFS `Type` of a raw node (old go-unixfs leaves): read like a file.
const RAW_NODE: u64 = 0;
/// The most blocks a proof may hold: a directory path and a file tree this deep are far past
/// anything one call can carry.
pub const MAX_DEPTH: usize = 16;

/// Why a proof does not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofError {
    /// Block `block` does not hash to the CID its parent (or the root) names.
    WrongBlock {
        /// Its index in the proof.
        block: usize,
    },
    /// Block `block` is not a node this reader knows (protobuf or UnixFS malformed, an unknown
    /// or repeated field, a CID that is not sha2-256 dag-pb or raw).
    Malformed {
        /// Its index in the proof.
        block: usize,
    },
    /// A directory on the path has no entry of the name asked for, or two.
    NoSuchName {
        /// The directory's index in the proof.
        block: usize,
    },
    /// A node is of another kind than its place needs (a file where a directory is named, a
    /// directory or HAMT shard where the file is read, a raw leaf with a path left).
    WrongKind {
        /// Its index in the proof.
        block: usize,
    },
    /// A file node's sizes disagree: `blocksizes` not one per link or not adding up to its
    /// `filesize`, data beside links, a leaf of another length than its parent says.
    Inconsistent {
        /// Its index in the proof.
        block: usize,
    },
    /// The root is not a sha2-256 CID of dag-pb or raw content.
    BadRoot,
    /// The offset is not inside the file.
    OutOfRange,
    /// The proof ends before a leaf, or goes on after it, or is deeper than [`MAX_DEPTH`].
    WrongLength,
}

/// Bytes of a file, proven: a leaf and where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf<'a> {
    /// The leaf's bytes.
    pub data: &'a [u8],
    /// The file offset of the leaf's first byte.
    pub start: u64,
    /// The whole file's size.
    pub file_size: u64,
}

/// Reads the leaf holding byte `offset` of the file at `path` (names, one per directory level)
/// under the directory whose binary CID is `root` (sha2-256; its codec read as IPFS reads it:
/// a raw root is a file, never a directory), from `blocks`: the directory nodes along the
/// path, then the file's nodes down to the leaf, each checked by `H` (which must be SHA-256)
/// against the CID its parent links to. With an empty path, `root` is the file itself.
pub fn read_at<'a, H: Hasher>(
    root: &[u8],
    path: &[&[u8]],
    offset: u64,
    blocks: &[&'a [u8]],
) -> Result<Leaf<'a>, ProofError> {
    if blocks.len() > MAX_DEPTH {
        return Err(ProofError::WrongLength);
    }
    let mut expect = parse_cid(root).ok_or(ProofError::BadRoot)?;
    let mut names = path.iter();
    let mut name = names.next();
    // Within the file: the offset of the current node's first byte, and the file's size.
    let mut start = 0u64;
    let mut file_size = None;
    // A leaf's length as its parent's `blocksizes` gives it.
    let mut size_from_parent = None;
    for (i, block) in blocks.iter().enumerate() {
        if H::hash(&[block]) != expect.1 {
            return Err(ProofError::WrongBlock { block: i });
        }
        let bad = ProofError::Malformed { block: i };
        let kind = ProofError::WrongKind { block: i };
        let inconsistent = ProofError::Inconsistent { block: i };
        let is_last = i.checked_add(1) == Some(blocks.len());
        if expect.0 == RAW {
            // A raw leaf: its bytes are the file's.
            if name.is_some() {
                return Err(kind);
            }
            let len = block.len() as u64;
            let file_size = *file_size.get_or_insert(len);
            if size_from_parent.is_some_and(|s| s != len) {
                return Err(inconsistent);
            }
            return leaf(block, start, file_size, offset, is_last);
        }
        let node = Node::parse(block).ok_or(bad)?;
        let unixfs = UnixFs::parse(node.data.ok_or(bad)?).ok_or(bad)?;
        if let Some(wanted) = name {
            if unixfs.kind != DIRECTORY {
                return Err(kind);
            }
            if !unixfs.is_plain_directory() {
                return Err(inconsistent);
            }
            let mut found = None;
            for link in node.links() {
                let link = link.ok_or(bad)?;
                if link.name == *wanted {
                    if found.is_some() {
                        return Err(ProofError::NoSuchName { block: i });
                    }
                    found = Some(link.cid);
                }
            }
            let cid = found.ok_or(ProofError::NoSuchName { block: i })?;
            expect = parse_cid(cid).ok_or(bad)?;
            name = names.next();
            continue;
        }
        if unixfs.kind != FILE && unixfs.kind != RAW_NODE {
            return Err(kind);
        }
        let size = unixfs.filesize.ok_or(inconsistent)?;
        let file_size = *file_size.get_or_insert(size);
        if size_from_parent.is_some_and(|s| s != size) {
            return Err(inconsistent);
        }
        if node.link_count == 0 {
            let data = unixfs.data.unwrap_or(&[]);
            if data.len() as u64 != size || unixfs.blocksizes().next().is_some() {
                return Err(inconsistent);
            }
            return leaf(data, start, file_size, offset, is_last);
        }
        if unixfs.data.is_some_and(|d| !d.is_empty()) {
            return Err(inconsistent);
        }
        // The child holding the offset, by the sizes of those before it.
        let mut sizes = unixfs.blocksizes();
        let mut child_start = start;
        let mut next = None;
        for link in node.links() {
            let link = link.ok_or(bad)?;
            let size = sizes.next().ok_or(inconsistent)?.ok_or(bad)?;
            // An empty child is never on any path: bytes it holds would be read by clients
            // (which concatenate children) and by no proof. Kubo never makes one.
            if size == 0 {
                return Err(inconsistent);
            }
            let end = child_start.checked_add(size).ok_or(inconsistent)?;
            if next.is_none() && offset >= child_start && offset < end {
                next = Some((parse_cid(link.cid).ok_or(bad)?, child_start, size));
            }
            child_start = end;
        }
        if sizes.next().is_some() || child_start.checked_sub(start) != Some(size) {
            return Err(inconsistent);
        }
        let (cid, from, size) = next.ok_or(ProofError::OutOfRange)?;
        (expect, start, size_from_parent) = (cid, from, Some(size));
    }
    Err(ProofError::WrongLength)
}

/// Whether the directory whose binary CID is `root` (sha2-256 dag-pb), given as `block`,
/// lists exactly `names`, in that order (dag-pb keeps links sorted by name), and nothing else
/// (a directory whose UnixFS data holds more than its type is refused, as by [`read_at`]).
pub fn lists_exactly<H: Hasher>(
    root: &[u8],
    block: &[u8],
    names: &[&[u8]],
) -> Result<bool, ProofError> {
    let (codec, digest) = parse_cid(root).ok_or(ProofError::BadRoot)?;
    if H::hash(&[block]) != digest {
        return Err(ProofError::WrongBlock { block: 0 });
    }
    let bad = ProofError::Malformed { block: 0 };
    if codec != DAG_PB {
        return Err(ProofError::WrongKind { block: 0 });
    }
    let node = Node::parse(block).ok_or(bad)?;
    let unixfs = UnixFs::parse(node.data.ok_or(bad)?).ok_or(bad)?;
    if unixfs.kind != DIRECTORY {
        return Err(ProofError::WrongKind { block: 0 });
    }
    if !unixfs.is_plain_directory() {
        return Err(ProofError::Inconsistent { block: 0 });
    }
    let mut wanted = names.iter();
    for link in node.links() {
        if wanted.next() != Some(&link.ok_or(bad)?.name) {
            return Ok(false);
        }
    }
    Ok(wanted.next().is_none())
}

/// The proven leaf, if it holds `offset` and ends the proof.
fn leaf(
    data: &[u8],
    start: u64,
    file_size: u64,
    offset: u64,
    is_last: bool,
) -> Result<Leaf<'_>, ProofError> {
    if !is_last {
        return Err(ProofError::WrongLength);
    }
    let end = start.checked_add(data.len() as u64).ok_or(ProofError::OutOfRange)?;
    if offset < start || offset >= end {
        return Err(ProofError::OutOfRange);
    }
    Ok(Leaf { data, start, file_size })
}

/// A CID's codec and sha2-256 digest, from its binary form (v0: the multihash alone; v1:
/// version, codec, multihash); `None` for another hash or codec.
fn parse_cid(bytes: &[u8]) -> Option<(u64, Digest)> {
    let (codec, multihash) = match bytes {
        [0x12, 0x20, ..] => (DAG_PB, bytes),
        [0x01, rest @ ..] => {
            let mut r = Reader(rest);
            let codec = r.varint()?;
            (codec, r.0)
        }
        _ => return None,
    };
    match multihash {
        [0x12, 0x20, digest @ ..] if (codec == DAG_PB || codec == RAW) => {
            Some((codec, digest.try_into().ok()?))
        }
        _ => None,
    }
}

/// A protobuf reader over a byte slice: varints and length-delimited fields only.
#[derive(Clone, Copy)]
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The next varint (at most 10 bytes, no overflow).
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for k in 0..10u32 {
            let (&byte, rest) = self.0.split_first()?;
            self.0 = rest;
            let bits = u64::from(byte & 0x7f);
            let shift = k.checked_mul(7)?;
            if shift == 63 && bits > 1 {
                return None;
            }
            value |= bits.checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// The next length-delimited value.
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > self.0.len() {
            return None;
        }
        let (value, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(value)
    }

    /// The next field's number and wire type, `None` at the end.
    fn key(&mut self) -> Option<Option<(u64, u8)>> {
        if self.0.is_empty() {
            return Some(None);
        }
        let key = self.varint()?;
        Some(Some((key >> 3, (key & 7) as u8)))
    }
}

/// A dag-pb node: its `Data`, and its links (read lazily, in order).
struct Node<'a> {
    data: Option<&'a [u8]>,
    links: &'a [u8],
    link_count: usize,
}

/// One dag-pb link.
struct Link<'a> {
    cid: &'a [u8],
    name: &'a [u8],
}

impl<'a> Node<'a> {
    /// Parses a node as go-codec-dagpb does: links (field 2), then at most one `Data` (field
    /// 1), nothing else (Kubo refuses a node with `Data` before a link). Links are checked
    /// here and read again by [`Node::links`].
    fn parse(block: &'a [u8]) -> Option<Node<'a>> {
        let mut r = Reader(block);
        let (mut data, mut link_count) = (None, 0usize);
        while let Some((field, wire)) = r.key()? {
            match (field, wire) {
                (1, 2) if data.is_none() => data = Some(r.bytes()?),
                (2, 2) if data.is_none() => {
                    Link::parse(r.bytes()?)?;
                    link_count = link_count.checked_add(1)?;
                }
                _ => return None,
            }
        }
        Some(Node { data, links: block, link_count })
    }

    /// The node's links in order (each already parsed once by [`Node::parse`]).
    fn links(&self) -> impl Iterator<Item = Option<Link<'a>>> + 'a {
        let mut r = Reader(self.links);
        core::iter::from_fn(move || loop {
            match r.key() {
                None => return Some(None),
                Some(None) => return None,
                Some(Some((2, 2))) => return Some(r.bytes().and_then(Link::parse)),
                Some(Some(_)) => {
                    if r.bytes().is_none() {
                        return Some(None);
                    }
                }
            }
        })
    }
}

impl<'a> Link<'a> {
    /// A link as go-codec-dagpb reads one: its `Hash` (required), `Name` and `Tsize`
    /// (optional), each at most once and in that order.
    fn parse(bytes: &'a [u8]) -> Option<Link<'a>> {
        let mut r = Reader(bytes);
        let (mut cid, mut name, mut last) = (None, None, 0);
        while let Some((field, wire)) = r.key()? {
            if field <= last {
                return None;
            }
            last = field;
            match (field, wire) {
                (1, 2) => cid = Some(r.bytes()?),
                (2, 2) => name = Some(r.bytes()?),
                (3, 0) => {
                    r.varint()?;
                }
                _ => return None,
            }
        }
        Some(Link { cid: cid?, name: name.unwrap_or(&[]) })
    }
}

/// UnixFS `Data` of a node: its type, inline data, file size and the sizes of its children.
struct UnixFs<'a> {
    kind: u64,
    data: Option<&'a [u8]>,
    filesize: Option<u64>,
    /// The message, read again for `blocksizes` (unpacked or packed).
    message: &'a [u8],
}

impl<'a> UnixFs<'a> {
    /// Parses UnixFS `Data`: `Type` (required), `Data` and `filesize` at most once,
    /// `blocksizes` any number of times; nothing else.
    fn parse(message: &'a [u8]) -> Option<UnixFs<'a>> {
        let mut r = Reader(message);
        let (mut kind, mut data, mut filesize) = (None, None, None);
        while let Some((field, wire)) = r.key()? {
            match (field, wire) {
                (1, 0) if kind.is_none() => kind = Some(r.varint()?),
                (2, 2) if data.is_none() => data = Some(r.bytes()?),
                (3, 0) if filesize.is_none() => filesize = Some(r.varint()?),
                (4, 0) => {
                    r.varint()?;
                }
                (4, 2) => {
                    let mut packed = Reader(r.bytes()?);
                    while !packed.0.is_empty() {
                        packed.varint()?;
                    }
                }
                _ => return None,
            }
        }
        Some(UnixFs { kind: kind?, data, filesize, message })
    }

    /// Whether, as a directory, it carries nothing but its type, as Kubo writes one: no
    /// data, size or block sizes that would make its block larger than its links need (a
    /// proof through it must fit one call).
    fn is_plain_directory(&self) -> bool {
        self.data.is_none() && self.filesize.is_none() && self.blocksizes().next().is_none()
    }

    /// The `blocksizes`, in order (`Some(None)` never: the message was checked by `parse`).
    fn blocksizes(&self) -> impl Iterator<Item = Option<u64>> + 'a {
        let mut r = Reader(self.message);
        let mut packed: Option<Reader<'a>> = None;
        core::iter::from_fn(move || loop {
            if let Some(p) = packed.as_mut() {
                if !p.0.is_empty() {
                    return Some(p.varint());
                }
                packed = None;
            }
            match r.key()? {
                None => return None,
                Some((4, 0)) => return Some(r.varint()),
                Some((4, 2)) => packed = Some(Reader(r.bytes()?)),
                Some((_, 0)) => {
                    r.varint()?;
                }
                Some(_) => {
                    r.bytes()?;
                }
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // tests compute their expectations freely
pub(crate) mod tests {
    use super::*;
    use crate::TestSha as Sha;
    use alloc::vec::Vec;

    pub(crate) fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    pub(crate) fn field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
        varint(out, field << 3 | 2);
        varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }

    pub(crate) fn sha(bytes: &[u8]) -> Digest {
        Sha::hash(&[bytes])
    }

    pub(crate) fn cid_v1(codec: u8, bytes: &[u8]) -> Vec<u8> {
        let mut c = alloc::vec![0x01, codec, 0x12, 0x20];
        c.extend_from_slice(&sha(bytes));
        c
    }

    /// A dag-pb node with `links` (cid, name) and UnixFS data (type, inline data, filesize,
    /// blocksizes), written as Kubo does: links first.
    pub(crate) fn node(
        links: &[(Vec<u8>, &[u8])],
        kind: u64,
        data: &[u8],
        size: Option<u64>,
        sizes: &[u64],
    ) -> Vec<u8> {
        let mut unixfs = Vec::new();
        varint(&mut unixfs, 1 << 3);
        varint(&mut unixfs, kind);
        if !data.is_empty() {
            field(&mut unixfs, 2, data);
        }
        if let Some(size) = size {
            varint(&mut unixfs, 3 << 3);
            varint(&mut unixfs, size);
        }
        for s in sizes {
            varint(&mut unixfs, 4 << 3);
            varint(&mut unixfs, *s);
        }
        let mut out = Vec::new();
        for (cid, name) in links {
            let mut link = Vec::new();
            field(&mut link, 1, cid);
            field(&mut link, 2, name);
            varint(&mut link, 3 << 3);
            varint(&mut link, 1);
            field(&mut out, 2, &link);
        }
        field(&mut out, 1, &unixfs);
        out
    }

    /// A directory holding `a.txt` (2 raw leaves of 4 and 3 bytes) and `b.txt` (inline).
    struct Tree {
        dir: Vec<u8>,
        file: Vec<u8>,
        leaves: [Vec<u8>; 2],
        inline: Vec<u8>,
    }

    fn tree() -> Tree {
        let leaves = [b"abcd".to_vec(), b"efg".to_vec()];
        let links: Vec<(Vec<u8>, &[u8])> =
            leaves.iter().map(|l| (cid_v1(0x55, l), &b""[..])).collect();
        let file = node(&links, FILE, b"", Some(7), &[4, 3]);
        let inline = node(&[], FILE, b"hi", Some(2), &[]);
        let dir = node(
            &[(cid_v1(0x70, &file), b"a.txt"), (cid_v1(0x70, &inline), b"b.txt")],
            DIRECTORY,
            b"",
            None,
            &[],
        );
        Tree { dir, file, leaves, inline }
    }

    #[test]
    fn a_listing_is_exactly_the_names_asked_for() {
        let t = tree();
        let root = cid_v1(0x70, &t.dir);
        let both: [&[u8]; 2] = [b"a.txt", b"b.txt"];
        assert_eq!(lists_exactly::<Sha>(&root, &t.dir, &both), Ok(true));
        assert_eq!(lists_exactly::<Sha>(&root, &t.dir, &both[..1]), Ok(false));
        assert_eq!(lists_exactly::<Sha>(&root, &t.dir, &[b"b.txt", b"a.txt"]), Ok(false));
        assert_eq!(
            lists_exactly::<Sha>(&root, &t.dir, &[&both[..], &[b"c.txt"]].concat()),
            Ok(false)
        );
        assert_eq!(
            lists_exactly::<Sha>(&root, &t.file, &both),
            Err(ProofError::WrongBlock { block: 0 })
        );
        let file = cid_v1(0x70, &t.file);
        assert_eq!(
            lists_exactly::<Sha>(&file, &t.file, &both),
            Err(ProofError::WrongKind { block: 0 })
        );
        // A directory padded with data (its block grown past what a proof may carry).
        let padded = node(
            &[(cid_v1(0x70, &t.file), b"a.txt"), (cid_v1(0x70, &t.inline), b"b.txt")],
            DIRECTORY,
            &[0; 64],
            None,
            &[],
        );
        let padded_root = cid_v1(0x70, &padded);
        assert_eq!(
            lists_exactly::<Sha>(&padded_root, &padded, &both),
            Err(ProofError::Inconsistent { block: 0 })
        );
        let proof = [&padded[..], &t.inline[..]];
        assert_eq!(
            read_at::<Sha>(&padded_root, &[b"b.txt"], 0, &proof),
            Err(ProofError::Inconsistent { block: 0 })
        );
        let raw = cid_v1(0x55, &t.dir);
        assert_eq!(
            lists_exactly::<Sha>(&raw, &t.dir, &both),
            Err(ProofError::WrongKind { block: 0 })
        );
    }

    #[test]
    fn a_path_proof_reads_the_bytes_at_an_offset() {
        let t = tree();
        let root = cid_v1(0x70, &t.dir);
        let proof = [&t.dir[..], &t.file, &t.leaves[1]];
        let leaf = read_at::<Sha>(&root, &[b"a.txt"], 5, &proof).unwrap();
        assert_eq!(leaf, Leaf { data: b"efg", start: 4, file_size: 7 });
        let proof = [&t.dir[..], &t.file, &t.leaves[0]];
        assert_eq!(read_at::<Sha>(&root, &[b"a.txt"], 0, &proof).unwrap().data, b"abcd");
        let proof = [&t.dir[..], &t.inline];
        let leaf = read_at::<Sha>(&root, &[b"b.txt"], 1, &proof).unwrap();
        assert_eq!(leaf, Leaf { data: b"hi", start: 0, file_size: 2 });
        // The file alone, by its own CID.
        let proof = [&t.file[..], &t.leaves[0]];
        assert_eq!(read_at::<Sha>(&cid_v1(0x70, &t.file), &[], 3, &proof).unwrap().start, 0);
    }

    #[test]
    fn a_proof_of_other_bytes_or_another_place_does_not_read() {
        let t = tree();
        let root = cid_v1(0x70, &t.dir);
        let path: &[&[u8]] = &[b"a.txt"];
        // The leaf before the offset, or after it.
        let proof = [&t.dir[..], &t.file, &t.leaves[0]];
        assert_eq!(
            read_at::<Sha>(&root, path, 5, &proof),
            Err(ProofError::WrongBlock { block: 2 })
        );
        // Bytes changed, a block left out, a block too many, another root.
        let mut forged = t.leaves[1].clone();
        forged[0] ^= 1;
        let proof = [&t.dir[..], &t.file, &forged];
        assert_eq!(
            read_at::<Sha>(&root, path, 5, &proof),
            Err(ProofError::WrongBlock { block: 2 })
        );
        let proof = [&t.dir[..], &t.file];
        assert_eq!(read_at::<Sha>(&root, path, 5, &proof), Err(ProofError::WrongLength));
        let proof = [&t.dir[..], &t.file, &t.leaves[1], &t.leaves[1]];
        assert_eq!(read_at::<Sha>(&root, path, 5, &proof), Err(ProofError::WrongLength));
        let proof = [&t.dir[..], &t.file, &t.leaves[1]];
        assert_eq!(
            read_at::<Sha>(&cid_v1(0x70, &t.file), path, 5, &proof),
            Err(ProofError::WrongBlock { block: 0 })
        );
        // Past the end, another name, a file read as a directory.
        assert_eq!(read_at::<Sha>(&root, path, 7, &proof), Err(ProofError::OutOfRange));
        assert_eq!(
            read_at::<Sha>(&root, &[b"c.txt"], 5, &proof),
            Err(ProofError::NoSuchName { block: 0 })
        );
        // The root's codec is the CID's: raw bytes are a file, whatever they parse as.
        let raw_root = cid_v1(0x55, &t.dir);
        let read = read_at::<Sha>(&raw_root, path, 5, &proof);
        assert_eq!(read, Err(ProofError::WrongKind { block: 0 }));
        assert_eq!(read_at::<Sha>(&[1, 0x70, 0x12], path, 5, &proof), Err(ProofError::BadRoot));
        let deeper: &[&[u8]] = &[b"a.txt", b"x"];
        assert_eq!(
            read_at::<Sha>(&root, deeper, 5, &proof),
            Err(ProofError::WrongKind { block: 1 })
        );
    }

    #[test]
    fn a_node_that_clients_could_read_otherwise_is_refused() {
        let leaves = [b"abcd".to_vec(), b"efg".to_vec()];
        let links: Vec<(Vec<u8>, &[u8])> =
            leaves.iter().map(|l| (cid_v1(0x55, l), &b""[..])).collect();
        let check = |file: Vec<u8>, offset: u64, leaf: &[u8]| {
            let proof = [&file[..], leaf];
            read_at::<Sha>(&cid_v1(0x70, &file), &[], offset, &proof).map(|_| ())
        };
        let inconsistent = Err(ProofError::Inconsistent { block: 0 });
        // Sizes that do not add up, one size short, data beside links.
        assert_eq!(check(node(&links, FILE, b"", Some(8), &[4, 3]), 5, &leaves[1]), inconsistent);
        assert_eq!(check(node(&links, FILE, b"", Some(4), &[4]), 0, &leaves[0]), inconsistent);
        assert_eq!(check(node(&links, FILE, b"x", Some(7), &[4, 3]), 0, &leaves[0]), inconsistent);
        // A child declared empty, holding bytes clients would read before the others: no
        // offset's path passes through it, so the node that declares it is refused.
        let hidden = [b"zz".to_vec(), b"abcd".to_vec(), b"efg".to_vec()];
        let links: Vec<(Vec<u8>, &[u8])> =
            hidden.iter().map(|l| (cid_v1(0x55, l), &b""[..])).collect();
        let file = node(&links, FILE, b"", Some(7), &[0, 4, 3]);
        assert_eq!(check(file, 0, &hidden[1]), inconsistent);
        // A leaf longer than its parent says.
        let long = [b"abcd".to_vec(), b"efgh".to_vec()];
        let links: Vec<(Vec<u8>, &[u8])> =
            long.iter().map(|l| (cid_v1(0x55, l), &b""[..])).collect();
        assert_eq!(
            check(node(&links, FILE, b"", Some(7), &[4, 3]), 5, &long[1]),
            Err(ProofError::Inconsistent { block: 1 })
        );
        // A directory with two entries of one name.
        let file = node(&[], FILE, b"hi", Some(2), &[]);
        let twice = node(
            &[(cid_v1(0x70, &file), b"a"), (cid_v1(0x70, &file), b"a")],
            DIRECTORY,
            b"",
            None,
            &[],
        );
        let proof = [&twice[..], &file];
        assert_eq!(
            read_at::<Sha>(&cid_v1(0x70, &twice), &[b"a"], 0, &proof),
            Err(ProofError::NoSuchName { block: 0 })
        );
        // A HAMT shard (type 5) is not read as a directory.
        let shard = node(&[(cid_v1(0x70, &file), b"a")], 5, b"", None, &[]);
        let proof = [&shard[..], &file];
        assert_eq!(
            read_at::<Sha>(&cid_v1(0x70, &shard), &[b"a"], 0, &proof),
            Err(ProofError::WrongKind { block: 0 })
        );
        // Data before a link, link fields out of order (go-codec-dagpb refuses both).
        let link = |fields: &[(u64, &[u8])]| {
            let mut l = Vec::new();
            for (f, b) in fields {
                field(&mut l, *f, b);
            }
            l
        };
        let child = cid_v1(0x70, &file);
        let mut data_first = Vec::new();
        field(&mut data_first, 1, &node(&[], DIRECTORY, b"", None, &[])[2..]);
        field(&mut data_first, 2, &link(&[(1, &child), (2, b"a")]));
        let proof = [&data_first[..], &file];
        let read = read_at::<Sha>(&cid_v1(0x70, &data_first), &[b"a"], 0, &proof);
        assert_eq!(read, Err(ProofError::Malformed { block: 0 }));
        let mut name_first = Vec::new();
        field(&mut name_first, 2, &link(&[(2, b"a"), (1, &child)]));
        field(&mut name_first, 1, &node(&[], DIRECTORY, b"", None, &[])[2..]);
        let proof = [&name_first[..], &file];
        let read = read_at::<Sha>(&cid_v1(0x70, &name_first), &[b"a"], 0, &proof);
        assert_eq!(read, Err(ProofError::Malformed { block: 0 }));
        // The same two in Kubo's order read.
        let mut kubo = Vec::new();
        field(&mut kubo, 2, &link(&[(1, &child), (2, b"a")]));
        field(&mut kubo, 1, &node(&[], DIRECTORY, b"", None, &[])[2..]);
        let proof = [&kubo[..], &file];
        assert!(read_at::<Sha>(&cid_v1(0x70, &kubo), &[b"a"], 0, &proof).is_ok());
        // An unknown field, a repeated one.
        let mut extra = file.clone();
        field(&mut extra, 9, b"?");
        let proof = [&extra[..]];
        assert_eq!(
            read_at::<Sha>(&cid_v1(0x70, &extra), &[], 0, &proof),
            Err(ProofError::Malformed { block: 0 })
        );
        let mut again = file.clone();
        let data = again.clone();
        again.extend_from_slice(&data);
        let proof = [&again[..]];
        assert_eq!(
            read_at::<Sha>(&cid_v1(0x70, &again), &[], 0, &proof),
            Err(ProofError::Malformed { block: 0 })
        );
    }

    #[test]
    fn cids_are_read_in_both_versions_and_nothing_else() {
        let digest = [7u8; 32];
        let mut v0 = alloc::vec![0x12, 0x20];
        v0.extend_from_slice(&digest);
        assert_eq!(parse_cid(&v0), Some((DAG_PB, digest)));
        let mut v1 = alloc::vec![0x01, 0x55];
        v1.extend_from_slice(&v0);
        assert_eq!(parse_cid(&v1), Some((RAW, digest)));
        v1[1] = 0x71; // dag-cbor
        assert_eq!(parse_cid(&v1), None);
        let mut blake = alloc::vec![0x01, 0x55, 0x1e, 0x20];
        blake.extend_from_slice(&digest);
        assert_eq!(parse_cid(&blake), None);
        assert_eq!(parse_cid(&v0[..33]), None);
    }

    proptest::proptest! {
        /// No byte string makes the reader panic or read past its input.
        #[test]
        fn any_bytes_are_read_or_refused(block in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), offset in 0u64..300) {
            let proof = [&block[..]];
            let _ = read_at::<Sha>(&cid_v1(0x70, &block), &[], offset, &proof);
            let _ = read_at::<Sha>(&cid_v1(0x70, &block), &[b"a"], offset, &proof);
        }
    }
}
