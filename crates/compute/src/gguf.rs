//! GGUF, llama.cpp's model file: metadata, tensor directory, and exact dequantization of the
//! block formats a Llama-family file uses (F32, F16, Q4_1, Q8_0).
//!
//! Read from bytes we hold, with every length and offset checked against what is left before
//! anything is allocated: a file is untrusted input (a model pulled from the network), so a
//! corrupt or hostile one is an [`Error::Gguf`] naming what is wrong, never an abort. The Rust
//! GGUF readers of the field (candle-core's `gguf_file`, gguf-rs) allocate whatever length a
//! file claims, and each brings a dependency tree far larger than this file (candle's tensor
//! library; gguf-rs a CLI stack and serde_json's `arbitrary_precision`, which would change
//! number parsing for the whole workspace), so the format, small and fixed, is read here
//! (<https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>).
//!
//! Dequantization is exact: a block's `f16` scale widens to `f32` without rounding, and
//! `q·d` is exact in `f32` (a 4- or 8-bit integer times an 11-bit significand), so
//! `Q4_1 = q·d + m` rounds once and `Q8_0 = q·d` not at all. Any implementation gets the same
//! bits.

use crate::error::{Error, Result};
use std::collections::BTreeMap;

const MAGIC: &[u8; 4] = b"GGUF";
/// Alignment of the tensor data when `general.alignment` is absent.
const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's limit on a tensor's rank.
const MAX_DIMS: u32 = 4;
/// Deepest nesting of arrays read (the format allows arrays of arrays; no model file nests).
const MAX_DEPTH: u32 = 4;
/// Most metadata values in a file, array elements counted: the largest tokenizers in use
/// (256 Ki tokens with scores and types, or 150 Ki with their merges) need under a million.
/// Each is a [`Value`] of 32 bytes or more, so one-byte elements could otherwise take 32
/// times the file's size in memory.
const MAX_VALUES: u64 = 1 << 22;

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Any integer type (u8 … u64, i8 … i64), widened.
    Int(i128),
    /// `float32` or `float64`, widened.
    Float(f64),
    /// `bool`.
    Bool(bool),
    /// A UTF-8 string.
    String(String),
    /// An array.
    Array(Vec<Value>),
}

/// A tensor's element format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorType {
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// Blocks of 32: `f16` scale `d`, `f16` minimum `m`, 32 unsigned 4-bit `q`; `x = q·d + m`.
    Q4_1,
    /// Blocks of 32: `f16` scale `d`, 32 signed 8-bit `q`; `x = q·d`.
    Q8_0,
    /// Any other ggml type (its id): listed, refused when read.
    Other(u32),
}

impl TensorType {
    fn from_id(id: u32) -> TensorType {
        match id {
            0 => TensorType::F32,
            1 => TensorType::F16,
            3 => TensorType::Q4_1,
            8 => TensorType::Q8_0,
            other => TensorType::Other(other),
        }
    }

    /// Elements per block and bytes per block, for the types this module reads.
    fn block(self) -> Option<(u64, u64)> {
        match self {
            TensorType::F32 => Some((1, 4)),
            TensorType::F16 => Some((1, 2)),
            TensorType::Q4_1 => Some((32, 20)),
            TensorType::Q8_0 => Some((32, 34)),
            TensorType::Other(_) => None,
        }
    }

    /// ggml's name of the type.
    pub fn name(self) -> String {
        match self {
            TensorType::F32 => "F32".into(),
            TensorType::F16 => "F16".into(),
            TensorType::Q4_1 => "Q4_1".into(),
            TensorType::Q8_0 => "Q8_0".into(),
            TensorType::Other(id) => ggml_type_name(id),
        }
    }
}

fn ggml_type_name(id: u32) -> String {
    let known = [
        (2, "Q4_0"),
        (6, "Q5_0"),
        (7, "Q5_1"),
        (9, "Q8_1"),
        (10, "Q2_K"),
        (11, "Q3_K"),
        (12, "Q4_K"),
        (13, "Q5_K"),
        (14, "Q6_K"),
        (15, "Q8_K"),
        (30, "BF16"),
    ];
    known.iter().find(|(k, _)| *k == id).map_or(format!("type {id}"), |(_, n)| (*n).to_string())
}

/// One entry of the tensor directory.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    /// Its name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Dimensions, fastest-varying first (ggml's `ne`): a weight `[in, out]` holds `out` rows
    /// of `in` values.
    pub dims: Vec<u64>,
    /// Element format.
    pub kind: TensorType,
    /// Start of its data, from the start of the data section.
    offset: u64,
}

impl TensorInfo {
    /// Number of elements.
    pub fn len(&self) -> u64 {
        self.dims.iter().product()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A parsed GGUF file over its bytes.
pub struct Gguf {
    /// Format version (2 or 3).
    pub version: u32,
    /// Metadata, by key.
    pub metadata: BTreeMap<String, Value>,
    /// Tensor directory, in file order.
    pub tensors: Vec<TensorInfo>,
    bytes: Vec<u8>,
    data_start: u64,
}

impl std::fmt::Debug for Gguf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gguf")
            .field("version", &self.version)
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

fn bad(what: impl Into<String>) -> Error {
    Error::Gguf(what.into())
}

/// A cursor over the header that refuses to read past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Metadata values read so far, array elements counted.
    values: u64,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8]> {
        let left = (self.bytes.len() - self.at) as u64;
        if n > left {
            return Err(bad(format!(
                "truncated: {what} needs {n} bytes at offset {}, {left} left",
                self.at
            )));
        }
        let s = &self.bytes[self.at..self.at + n as usize];
        self.at += n as usize;
        Ok(s)
    }

    fn left(&self) -> u64 {
        (self.bytes.len() - self.at) as u64
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().expect("8 bytes")))
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let len = self.u64(what)?;
        let raw = self.take(len, what)?;
        String::from_utf8(raw.to_vec()).map_err(|_| bad(format!("{what} is not UTF-8")))
    }

    fn value(&mut self, kind: u32, key: &str, depth: u32) -> Result<Value> {
        let v = match kind {
            0 => Value::Int(self.u8(key)?.into()),
            1 => Value::Int((self.u8(key)? as i8).into()),
            2 => Value::Int(u16::from_le_bytes(self.take(2, key)?.try_into().expect("2")).into()),
            3 => Value::Int(i16::from_le_bytes(self.take(2, key)?.try_into().expect("2")).into()),
            4 => Value::Int(self.u32(key)?.into()),
            5 => Value::Int((self.u32(key)? as i32).into()),
            6 => Value::Float(f32::from_bits(self.u32(key)?).into()),
            7 => match self.u8(key)? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(bad(format!("{key}: bool byte {b}"))),
            },
            8 => Value::String(self.string(key)?),
            9 => {
                if depth >= MAX_DEPTH {
                    return Err(bad(format!("{key}: arrays nested deeper than {MAX_DEPTH}")));
                }
                let inner = self.u32(key)?;
                let count = self.u64(key)?;
                // Every element takes at least one byte: a count beyond what is left is a lie,
                // refused before anything is reserved for it.
                if count > self.left() {
                    return Err(bad(format!(
                        "truncated: {key} announces {count} elements, {} bytes left",
                        self.left()
                    )));
                }
                self.values += count;
                if self.values > MAX_VALUES {
                    return Err(bad(format!(
                        "{key} has {count} elements: the metadata would hold more than {MAX_VALUES} values"
                    )));
                }
                let mut items = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    items.push(self.value(inner, key, depth + 1)?);
                }
                Value::Array(items)
            }
            10 => Value::Int(self.u64(key)?.into()),
            11 => Value::Int((self.u64(key)? as i64).into()),
            12 => Value::Float(f64::from_bits(self.u64(key)?)),
            other => return Err(bad(format!("{key}: unknown value type {other}"))),
        };
        Ok(v)
    }
}

impl Gguf {
    /// Reads a GGUF file (held in memory).
    pub fn read(path: &std::path::Path) -> Result<Gguf> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        Gguf::parse(bytes)
    }

    /// Parses a whole GGUF file. Checks the header, every metadata value, and that every
    /// tensor's data lies inside the file, aligned, without overlapping another.
    pub fn parse(bytes: Vec<u8>) -> Result<Gguf> {
        let mut r = Reader { bytes: &bytes, at: 0, values: 0 };
        if r.take(4, "magic").ok() != Some(MAGIC.as_slice()) {
            return Err(bad("not a GGUF file (the first bytes are not \"GGUF\")"));
        }
        let version = r.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(bad(format!("version {version} (this reader knows 2 and 3)")));
        }
        let n_tensors = r.u64("tensor count")?;
        let n_kv = r.u64("metadata count")?;
        let mut metadata = BTreeMap::new();
        for _ in 0..n_kv.min(r.left()) {
            let key = r.string("metadata key")?;
            let kind = r.u32(&key)?;
            let value = r.value(kind, &key, 0)?;
            if metadata.insert(key.clone(), value).is_some() {
                return Err(bad(format!("metadata key {key} appears twice")));
            }
        }
        if (metadata.len() as u64) < n_kv {
            return Err(bad(format!("truncated: {n_kv} metadata entries announced")));
        }
        // A directory entry takes at least 8 + 4 + 4 + 8 bytes.
        if n_tensors > r.left() / 24 {
            return Err(bad(format!(
                "truncated: {n_tensors} tensors announced, {} bytes left",
                r.left()
            )));
        }
        let mut tensors = Vec::with_capacity(n_tensors as usize);
        for _ in 0..n_tensors {
            let name = r.string("tensor name")?;
            let rank = r.u32(&name)?;
            if rank == 0 || rank > MAX_DIMS {
                return Err(bad(format!("tensor {name} has rank {rank} (1 to {MAX_DIMS})")));
            }
            let mut dims = Vec::with_capacity(rank as usize);
            for _ in 0..rank {
                dims.push(r.u64(&name)?);
            }
            let kind = TensorType::from_id(r.u32(&name)?);
            let offset = r.u64(&name)?;
            tensors.push(TensorInfo { name, dims, kind, offset });
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(Value::Int(a)) if *a > 0 && (*a as u64).is_power_of_two() => *a as u64,
            Some(other) => return Err(bad(format!("general.alignment is {other:?}"))),
        };
        let data_start = (r.at as u64).div_ceil(alignment) * alignment;
        let data_len = (bytes.len() as u64)
            .checked_sub(data_start)
            .ok_or_else(|| bad("truncated: no tensor data section"))?;
        let mut spans = Vec::with_capacity(tensors.len());
        for t in &tensors {
            if t.offset % alignment != 0 {
                return Err(bad(format!("tensor {} is not aligned to {alignment}", t.name)));
            }
            let len = t
                .dims
                .iter()
                .try_fold(1u64, |a, d| a.checked_mul(*d))
                .ok_or_else(|| bad(format!("tensor {} has too many elements", t.name)))?;
            // Unknown types are listed with no extent: they are refused when read.
            if let Some((per_block, block_bytes)) = t.kind.block() {
                if len % per_block != 0 || t.dims[0] % per_block != 0 {
                    return Err(bad(format!(
                        "tensor {}: rows of {} values do not fill {} blocks",
                        t.name,
                        t.dims[0],
                        t.kind.name()
                    )));
                }
                let size = (len / per_block)
                    .checked_mul(block_bytes)
                    .filter(|s| t.offset.checked_add(*s).is_some_and(|end| end <= data_len))
                    .ok_or_else(|| {
                        bad(format!("truncated: tensor {}'s data ends past the file", t.name))
                    })?;
                spans.push((t.offset, t.offset + size, &t.name));
            }
        }
        spans.sort();
        for pair in spans.windows(2) {
            if pair[1].0 < pair[0].1 {
                return Err(bad(format!("tensors {} and {} overlap", pair[0].2, pair[1].2)));
            }
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(t) = tensors.iter().find(|t| !seen.insert(t.name.as_str())) {
            return Err(bad(format!("tensor {} appears twice", t.name)));
        }
        Ok(Gguf { version, metadata, tensors, bytes, data_start })
    }

    /// The metadata value under `key`.
    pub fn get(&self, key: &str) -> Result<&Value> {
        self.metadata.get(key).ok_or_else(|| bad(format!("metadata {key} missing")))
    }

    /// A non-negative integer metadata value that fits `usize`.
    pub fn usize(&self, key: &str) -> Result<usize> {
        match self.get(key)? {
            Value::Int(v) => usize::try_from(*v).map_err(|_| bad(format!("{key} is {v}"))),
            other => Err(bad(format!("{key} is {other:?}, not an integer"))),
        }
    }

    /// A number as `f32` (metadata stores RoPE bases and epsilons as `float32`).
    pub fn f32(&self, key: &str) -> Result<f32> {
        match self.get(key)? {
            Value::Float(v) => Ok(*v as f32),
            Value::Int(v) => Ok(*v as f32),
            other => Err(bad(format!("{key} is {other:?}, not a number"))),
        }
    }

    /// A string metadata value.
    pub fn str(&self, key: &str) -> Result<&str> {
        match self.get(key)? {
            Value::String(s) => Ok(s),
            other => Err(bad(format!("{key} is {other:?}, not a string"))),
        }
    }

    /// An array of strings (a tokenizer's vocabulary or merges).
    pub fn strings(&self, key: &str) -> Result<Vec<&str>> {
        match self.get(key)? {
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.as_str()),
                    other => Err(bad(format!("{key} holds {other:?}, not a string"))),
                })
                .collect(),
            other => Err(bad(format!("{key} is {other:?}, not an array"))),
        }
    }

    /// The tensor named `name`.
    pub fn tensor(&self, name: &str) -> Result<&TensorInfo> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::MissingTensor(name.into()))
    }

    /// Tensor `name`'s type and data, checked to have dimensions `dims` (ggml order) and a
    /// type this module reads.
    pub fn raw(&self, name: &str, dims: &[u64]) -> Result<(TensorType, &[u8])> {
        let t = self.tensor(name)?;
        if t.dims != dims {
            return Err(bad(format!(
                "tensor {name} has dimensions {:?}, expected {dims:?}",
                t.dims
            )));
        }
        let (per_block, block_bytes) = t.kind.block().ok_or_else(|| {
            Error::Unsupported(format!(
                "tensor {name} is {}: this runtime reads F32, F16, Q4_1 and Q8_0",
                t.kind.name()
            ))
        })?;
        let start = (self.data_start + t.offset) as usize;
        let size = (t.len() / per_block * block_bytes) as usize;
        Ok((t.kind, &self.bytes[start..start + size]))
    }

    /// Tensor `name` as `f32` values, checked to have dimensions `dims` (ggml order).
    pub fn dequantize(&self, name: &str, dims: &[u64]) -> Result<Vec<f32>> {
        let (kind, data) = self.raw(name, dims)?;
        Ok(dequantize(kind, data))
    }
}

/// Expands whole blocks of `kind` (a type [`TensorType::block`] knows) to `f32`.
fn dequantize(kind: TensorType, data: &[u8]) -> Vec<f32> {
    let f16 = |b: &[u8]| half::f16::from_le_bytes([b[0], b[1]]).to_f32();
    match kind {
        TensorType::F32 => {
            data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4"))).collect()
        }
        TensorType::F16 => data.chunks_exact(2).map(f16).collect(),
        TensorType::Q4_1 => {
            let mut out = Vec::with_capacity(data.len() / 20 * 32);
            for block in data.chunks_exact(20) {
                let (d, m, qs) = (f16(&block[0..2]), f16(&block[2..4]), &block[4..20]);
                out.extend(qs.iter().map(|q| f32::from(q & 0x0f) * d + m));
                out.extend(qs.iter().map(|q| f32::from(q >> 4) * d + m));
            }
            out
        }
        TensorType::Q8_0 => {
            let mut out = Vec::with_capacity(data.len() / 34 * 32);
            for block in data.chunks_exact(34) {
                let d = f16(&block[0..2]);
                out.extend(block[2..34].iter().map(|q| f32::from(*q as i8) * d));
            }
            out
        }
        TensorType::Other(_) => unreachable!("refused before reading"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file with the given metadata entries (already encoded) and tensors.
    fn file(kv: &[(&str, u32, Vec<u8>)], tensors: &[(&str, &[u64], u32, Vec<u8>)]) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend((tensors.len() as u64).to_le_bytes());
        b.extend((kv.len() as u64).to_le_bytes());
        let s = |b: &mut Vec<u8>, s: &str| {
            b.extend((s.len() as u64).to_le_bytes());
            b.extend(s.as_bytes());
        };
        for (k, t, v) in kv {
            s(&mut b, k);
            b.extend(t.to_le_bytes());
            b.extend(v);
        }
        let mut offset = 0u64;
        for (name, dims, kind, data) in tensors {
            s(&mut b, name);
            b.extend((dims.len() as u32).to_le_bytes());
            for d in *dims {
                b.extend(d.to_le_bytes());
            }
            b.extend(kind.to_le_bytes());
            b.extend(offset.to_le_bytes());
            offset += (data.len() as u64).div_ceil(32) * 32;
        }
        b.resize(b.len().div_ceil(32) * 32, 0);
        for (_, _, _, data) in tensors {
            let mut d = data.clone();
            d.resize(d.len().div_ceil(32) * 32, 0);
            b.extend(d);
        }
        b
    }

    fn f16(x: f32) -> [u8; 2] {
        half::f16::from_f32(x).to_le_bytes()
    }

    #[test]
    fn blocks_dequantize_to_their_definition() {
        let mut q41 = [f16(0.5), f16(-1.25)].concat();
        q41.extend((0u8..16).map(|i| i | ((15 - i) << 4)));
        let mut q80 = f16(0.25).to_vec();
        q80.extend((0..32).map(|i: i32| (i * 8 - 128) as i8 as u8));
        let g = Gguf::parse(file(
            &[(
                "general.architecture",
                8,
                [5u64.to_le_bytes().to_vec(), b"llama".to_vec()].concat(),
            )],
            &[("a", &[32], 3, q41), ("b", &[32], 8, q80)],
        ))
        .unwrap();
        assert_eq!(g.str("general.architecture").unwrap(), "llama");
        let a = g.dequantize("a", &[32]).unwrap();
        for i in 0..16 {
            assert_eq!(a[i], i as f32 * 0.5 - 1.25);
            assert_eq!(a[i + 16], (15 - i) as f32 * 0.5 - 1.25);
        }
        let b = g.dequantize("b", &[32]).unwrap();
        assert_eq!(b, (0..32).map(|i| (i * 8 - 128) as f32 * 0.25).collect::<Vec<_>>());
        assert!(g.dequantize("a", &[16, 2]).is_err());
    }

    #[test]
    fn hostile_files_are_refused_with_a_reason() {
        let good = file(&[], &[("w", &[32], 0, vec![0; 128])]);
        assert!(Gguf::parse(good.clone()).is_ok());
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"GGML".to_vec(), "not a GGUF"),
            (good[..good.len() - 1].to_vec(), "ends past the file"),
            (good[..30].to_vec(), "truncated"),
            // A string that claims 2^60 bytes.
            (
                file(&[("k", 8, (1u64 << 60).to_le_bytes().to_vec())], &[]),
                "truncated: k needs 1152921504606846976 bytes",
            ),
            // An array that claims 2^40 elements.
            (
                file(
                    &[(
                        "k",
                        9,
                        [4u32.to_le_bytes().to_vec(), (1u64 << 40).to_le_bytes().to_vec()].concat(),
                    )],
                    &[],
                ),
                "k announces 1099511627776 elements",
            ),
            // Arrays of one-byte elements, 32 bytes each in memory: bounded in total.
            (
                file(
                    &(0..3)
                        .map(|i| {
                            let array =
                                [0u32.to_le_bytes().to_vec(), (1u64 << 21).to_le_bytes().to_vec()];
                            (["a", "b", "c"][i], 9, [array.concat(), vec![0; 1 << 21]].concat())
                        })
                        .collect::<Vec<_>>(),
                    &[],
                ),
                "c has 2097152 elements: the metadata would hold more than 4194304 values",
            ),
            (file(&[], &[("w", &[u64::MAX, 2], 0, vec![])]), "too many elements"),
            (file(&[], &[("w", &[1, 1, 1, 1, 1], 0, vec![0; 4])]), "rank 5"),
            (file(&[], &[("w", &[30], 3, vec![0; 20])]), "do not fill"),
            (
                file(&[], &[("w", &[8], 0, vec![0; 32]), ("w", &[8], 0, vec![0; 32])]),
                "appears twice",
            ),
            (file(&[("k", 7, vec![2])], &[]), "bool byte 2"),
            (file(&[("k", 99, vec![])], &[]), "unknown value type 99"),
        ];
        for (bytes, want) in cases {
            let err = Gguf::parse(bytes).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should say {want:?}");
        }
        let q4k = Gguf::parse(file(&[], &[("w", &[256], 12, vec![0; 144])])).unwrap();
        let err = q4k.dequantize("w", &[256]).unwrap_err().to_string();
        assert!(err.contains("Q4_K"), "{err}");
    }
}
