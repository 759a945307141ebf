//! Minimal dag-pb and UnixFS protobuf encoding/decoding, byte-for-byte as Kubo writes them.
//!
//! Kubo (go-merkledag) writes a node's Links (field 2) before its Data (field 1); a link always
//! carries its Name, even empty (`12 00`); UnixFS fields are written in field order, `blocksizes`
//! unpacked. This module is not a general protobuf library: it knows these two messages only.

use cid::Cid;

use crate::error::{Error, Result};

/// UnixFS node type `Directory`.
pub const UNIXFS_DIRECTORY: u64 = 1;
/// UnixFS node type `File`.
pub const UNIXFS_FILE: u64 = 2;
/// UnixFS node type `Symlink`.
pub const UNIXFS_SYMLINK: u64 = 4;

/// Appends a protobuf varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Length of a varint.
pub fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Appends a length-delimited field.
pub fn put_bytes(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
    out.push(field << 3 | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a varint field.
pub fn put_uint(out: &mut Vec<u8>, field: u8, v: u64) {
    out.push(field << 3);
    put_varint(out, v);
}

/// One dag-pb link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbLink {
    /// Child CID.
    pub cid: Cid,
    /// Link name (empty inside files).
    pub name: String,
    /// Cumulative size of the child DAG.
    pub tsize: u64,
}

/// Encodes a dag-pb node: links first, then data (absent when `None`).
pub fn encode_node(links: &[PbLink], data: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(links.len() * 48 + data.map_or(0, |d| d.len() + 4));
    let mut l = Vec::with_capacity(64);
    for link in links {
        l.clear();
        put_bytes(&mut l, 1, &link.cid.to_bytes());
        put_bytes(&mut l, 2, link.name.as_bytes());
        put_uint(&mut l, 3, link.tsize);
        put_bytes(&mut out, 2, &l);
    }
    if let Some(d) = data {
        put_bytes(&mut out, 1, d);
    }
    out
}

/// UnixFS `Data` message (the fields Kubo's importer writes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnixFs {
    /// Node type.
    pub kind: u64,
    /// Inline file bytes (leaves) or symlink target.
    pub data: Option<Vec<u8>>,
    /// Total file size below this node.
    pub filesize: Option<u64>,
    /// File size of each child, in link order.
    pub blocksizes: Vec<u64>,
}

impl UnixFs {
    /// Encodes it.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.data.as_ref().map_or(0, Vec::len));
        put_uint(&mut out, 1, self.kind);
        if let Some(d) = &self.data {
            put_bytes(&mut out, 2, d);
        }
        if let Some(s) = self.filesize {
            put_uint(&mut out, 3, s);
        }
        for b in &self.blocksizes {
            put_uint(&mut out, 4, *b);
        }
        out
    }

    /// Decodes it (unknown fields are skipped, as protobuf requires).
    pub fn decode(cid: &Cid, mut buf: &[u8]) -> Result<Self> {
        let mut u = UnixFs::default();
        while !buf.is_empty() {
            let (field, wt) = read_key(cid, &mut buf)?;
            match (field, wt) {
                (1, 0) => u.kind = read_varint(cid, &mut buf)?,
                (2, 2) => u.data = Some(read_len(cid, &mut buf)?.to_vec()),
                (3, 0) => u.filesize = Some(read_varint(cid, &mut buf)?),
                (4, 0) => u.blocksizes.push(read_varint(cid, &mut buf)?),
                (4, 2) => {
                    let mut packed = read_len(cid, &mut buf)?;
                    while !packed.is_empty() {
                        u.blocksizes.push(read_varint(cid, &mut packed)?);
                    }
                }
                (_, wt) => skip(cid, &mut buf, wt)?,
            }
        }
        Ok(u)
    }
}

/// A decoded dag-pb node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PbNode {
    /// Links in stored order.
    pub links: Vec<PbLink>,
    /// The Data field.
    pub data: Option<Vec<u8>>,
}

/// Decodes a dag-pb node.
pub fn decode_node(cid: &Cid, mut buf: &[u8]) -> Result<PbNode> {
    let mut node = PbNode::default();
    while !buf.is_empty() {
        let (field, wt) = read_key(cid, &mut buf)?;
        match (field, wt) {
            (1, 2) => node.data = Some(read_len(cid, &mut buf)?.to_vec()),
            (2, 2) => {
                let mut l = read_len(cid, &mut buf)?;
                let mut hash = None;
                let mut name = String::new();
                let mut tsize = 0;
                while !l.is_empty() {
                    let (f, w) = read_key(cid, &mut l)?;
                    match (f, w) {
                        (1, 2) => {
                            let h = read_len(cid, &mut l)?;
                            hash = Some(Cid::try_from(h).map_err(|e| malformed(cid, e))?);
                        }
                        (2, 2) => {
                            name = String::from_utf8(read_len(cid, &mut l)?.to_vec())
                                .map_err(|e| malformed(cid, e))?
                        }
                        (3, 0) => tsize = read_varint(cid, &mut l)?,
                        (_, w) => skip(cid, &mut l, w)?,
                    }
                }
                let cid_ = hash.ok_or_else(|| malformed(cid, "link without hash"))?;
                node.links.push(PbLink { cid: cid_, name, tsize });
            }
            (_, wt) => skip(cid, &mut buf, wt)?,
        }
    }
    Ok(node)
}

fn malformed(cid: &Cid, e: impl std::fmt::Display) -> Error {
    Error::MalformedBlock { cid: Box::new(*cid), reason: e.to_string() }
}

fn read_varint(cid: &Cid, buf: &mut &[u8]) -> Result<u64> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let (&b, rest) = buf.split_first().ok_or_else(|| malformed(cid, "truncated varint"))?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(malformed(cid, "varint too long"))
}

fn read_key(cid: &Cid, buf: &mut &[u8]) -> Result<(u64, u8)> {
    let k = read_varint(cid, buf)?;
    Ok((k >> 3, (k & 7) as u8))
}

fn read_len<'a>(cid: &Cid, buf: &mut &'a [u8]) -> Result<&'a [u8]> {
    let n = read_varint(cid, buf)? as usize;
    if n > buf.len() {
        return Err(malformed(cid, "length past end of block"));
    }
    let (a, b) = buf.split_at(n);
    *buf = b;
    Ok(a)
}

fn skip(cid: &Cid, buf: &mut &[u8], wt: u8) -> Result<()> {
    match wt {
        0 => read_varint(cid, buf).map(drop),
        1 | 5 => {
            let n = if wt == 1 { 8 } else { 4 };
            if buf.len() < n {
                return Err(malformed(cid, "truncated fixed field"));
            }
            *buf = &buf[n..];
            Ok(())
        }
        2 => read_len(cid, buf).map(drop),
        _ => Err(malformed(cid, format!("unsupported wire type {wt}"))),
    }
}
