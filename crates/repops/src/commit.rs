//! What the dispute game checks values against (`REPOPS.md` §6), defined once for the trainer
//! and the referee contract: a tensor of 32-bit words is committed as the Merkle root over the
//! hashes of its 4 KiB chunks ([`tensor_root`], [`ElementProof`]); a training state as the root
//! over its header's hash and its tensors' root ([`state_root`], [`StateProof`],
//! [`HeaderProof`]); the ops of a step as cumulative roots over the state before the step and
//! the outputs of the ops done so far ([`op_root`]), so agreeing on the root after op `k` fixes
//! every input of op `k + 1`.

use crate::merkle::{self, Hash, Hasher};
use alloc::vec::Vec;

/// Words under one leaf of a tensor root (4 KiB).
pub const CHUNK_WORDS: usize = 1024;
/// First bytes of a state header.
pub const MAGIC: &[u8; 8] = b"IOLLMCK1";

/// The leaf of a run's spot-check tree for one segment (VERIFICATION.md, "Spot checks"): the
/// hash of the segment's steps root (the Merkle root over its per-step state roots). The
/// leaves are published; the steps roots are what only a replay of the segment yields.
pub fn spotcheck_leaf<H: Hasher>(steps_root: &Hash) -> Hash {
    H::hash(&[&b"iollm-spotcheck-leaf"[..], &steps_root[..]])
}

/// How many chunks (leaves) a tensor of `words` words has.
pub fn chunk_count(words: u64) -> u64 {
    crate::ceil_div(words, CHUNK_WORDS as u64)
}

/// The hash of one chunk: of its words, little-endian.
pub fn chunk_hash<H: Hasher>(chunk: &[u32]) -> Hash {
    let mut bytes = [0u8; 4 * CHUNK_WORDS];
    for (b, w) in bytes.chunks_exact_mut(4).zip(chunk) {
        b.copy_from_slice(&w.to_le_bytes());
    }
    H::hash(&[&bytes[..4 * chunk.len().min(CHUNK_WORDS)]])
}

/// The root of a tensor: the Merkle root over its chunks' hashes.
pub fn tensor_root<H: Hasher>(words: &[u32]) -> Hash {
    let chunks: Vec<Hash> = words.chunks(CHUNK_WORDS).map(chunk_hash::<H>).collect();
    merkle::root::<H>(&chunks)
}

/// One element of a tensor with what proves it: its chunk and the chunk's Merkle path.
#[cfg_attr(
    feature = "scale",
    derive(parity_scale_codec::Encode, parity_scale_codec::Decode, scale_info::TypeInfo)
)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementProof {
    /// The element's index in the tensor.
    pub index: u64,
    /// The chunk holding it (chunk `index / CHUNK_WORDS`).
    pub chunk: Vec<u32>,
    /// The chunk's siblings, bottom up.
    pub path: Vec<Hash>,
}

impl ElementProof {
    /// The proven element (`None` if the index is not in the chunk).
    pub fn value(&self) -> Option<u32> {
        self.chunk.get((self.index % CHUNK_WORDS as u64) as usize).copied()
    }

    /// The root of the tensor of `len` words that this proves element `index` of, or `None`
    /// when the index is out of range, the chunk is not exactly that chunk's length, or the path
    /// has another shape than that leaf's.
    pub fn root<H: Hasher>(&self, len: u64) -> Option<Hash> {
        if self.index >= len {
            return None;
        }
        let leaf = self.index / CHUNK_WORDS as u64;
        let chunk_len = (len - leaf * CHUNK_WORDS as u64).min(CHUNK_WORDS as u64);
        if self.chunk.len() as u64 != chunk_len {
            return None;
        }
        merkle::root_from_path::<H>(
            &chunk_hash::<H>(&self.chunk),
            leaf,
            chunk_count(len),
            &self.path,
        )
    }

    /// Whether this proves element `index` of the tensor of `len` words committed as `root`.
    pub fn verify<H: Hasher>(&self, root: &Hash, len: u64) -> bool {
        self.root::<H>(len).as_ref() == Some(root)
    }
}

/// A tensor with its chunk hashes, to prove many of its elements.
pub struct Committed<'a> {
    words: &'a [u32],
    chunks: Vec<Hash>,
}

impl<'a> Committed<'a> {
    /// Hashes the chunks of `words`.
    pub fn new<H: Hasher>(words: &'a [u32]) -> Committed<'a> {
        Committed { words, chunks: words.chunks(CHUNK_WORDS).map(chunk_hash::<H>).collect() }
    }

    /// [`tensor_root`].
    pub fn root<H: Hasher>(&self) -> Hash {
        merkle::root::<H>(&self.chunks)
    }

    /// Element `index` with its proof (`None` past the end).
    pub fn prove<H: Hasher>(&self, index: u64) -> Option<ElementProof> {
        if index >= self.words.len() as u64 {
            return None;
        }
        let leaf = index / CHUNK_WORDS as u64;
        let chunk = self.words.chunks(CHUNK_WORDS).nth(usize::try_from(leaf).ok()?)?;
        Some(ElementProof {
            index,
            chunk: chunk.to_vec(),
            path: merkle::proof::<H>(&self.chunks, leaf)?,
        })
    }
}

/// The fields of a state header, in encoding order after the magic and the profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// SHA-256 of the canonical config (model, train, optimizer, corpus root).
    pub config_hash: Hash,
    /// Steps done.
    pub step: u64,
    /// The sampler's SplitMix64 state.
    pub rng: u64,
    /// Bits of `β1^step`.
    pub b1pow: u32,
    /// Bits of `β2^step`.
    pub b2pow: u32,
    /// Bits of the loss of the step that produced the state (`+0` before the first).
    pub loss: u32,
    /// Parameter count `N` (the tensors are `params ‖ m ‖ v`, `3N` words).
    pub params: u64,
}

impl Header {
    /// The canonical bytes (little-endian): `"IOLLMCK1"`, profile length (u32) and bytes,
    /// config hash, step (u64), RNG state (u64), `β1^t`, `β2^t`, loss (f32 bits), parameter
    /// count (u64).
    pub fn encode(&self, profile: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(Header::len(profile));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(profile.len() as u32).to_le_bytes());
        out.extend_from_slice(profile.as_bytes());
        out.extend_from_slice(&self.config_hash);
        out.extend_from_slice(&self.step.to_le_bytes());
        out.extend_from_slice(&self.rng.to_le_bytes());
        out.extend_from_slice(&self.b1pow.to_le_bytes());
        out.extend_from_slice(&self.b2pow.to_le_bytes());
        out.extend_from_slice(&self.loss.to_le_bytes());
        out.extend_from_slice(&self.params.to_le_bytes());
        out
    }

    /// Bytes of [`Header::encode`] for `profile`.
    pub fn len(profile: &str) -> usize {
        MAGIC.len() + 4 + profile.len() + 32 + 8 + 8 + 4 + 4 + 4 + 8
    }

    /// The profile and fields of [`Header::encode`]'s bytes (`None` unless exactly that: the
    /// magic, a profile length the bytes hold, every field, nothing after).
    pub fn decode(bytes: &[u8]) -> Option<(&[u8], Header)> {
        let mut rest = bytes.strip_prefix(MAGIC.as_slice())?;
        let mut take = |n: usize| {
            let (head, tail) = (rest.get(..n)?, rest.get(n..)?);
            rest = tail;
            Some(head)
        };
        let word = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
        let long = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        let profile_len = usize::try_from(word(take(4)?)).ok()?;
        let profile = take(profile_len)?;
        let header = Header {
            config_hash: take(32)?.try_into().expect("32 bytes"),
            step: long(take(8)?),
            rng: long(take(8)?),
            b1pow: word(take(4)?),
            b2pow: word(take(4)?),
            loss: word(take(4)?),
            params: long(take(8)?),
        };
        rest.is_empty().then_some((profile, header))
    }
}

/// The state root `h`: the Merkle root over two values, the hash of the header bytes and the
/// root of the tensors `params ‖ m ‖ v` ([`tensor_root`]).
pub fn state_root<H: Hasher>(header: &[u8], tensors_root: &Hash) -> Hash {
    merkle::root::<H>(&[H::hash(&[header]), *tensors_root])
}

/// One element of a state's tensors proven against its state root.
#[cfg_attr(
    feature = "scale",
    derive(parity_scale_codec::Encode, parity_scale_codec::Decode, scale_info::TypeInfo)
)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateProof {
    /// The element in the tensors `params ‖ m ‖ v`.
    pub element: ElementProof,
    /// The hash of the state's header (the other half of the root).
    pub header_hash: Hash,
}

impl StateProof {
    /// Whether this proves its element of the state with root `root` and `params` parameters.
    pub fn verify<H: Hasher>(&self, root: &Hash, params: u64) -> bool {
        let Some(len) = params.checked_mul(3) else { return false };
        self.element
            .root::<H>(len)
            .is_some_and(|tensors| merkle::root::<H>(&[self.header_hash, tensors]) == *root)
    }
}

/// A state's header proven against its state root.
#[cfg_attr(
    feature = "scale",
    derive(parity_scale_codec::Encode, parity_scale_codec::Decode, scale_info::TypeInfo)
)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderProof {
    /// The header bytes ([`Header::encode`]).
    pub header: Vec<u8>,
    /// The root of the state's tensors (the other half of the root).
    pub tensors_root: Hash,
}

impl HeaderProof {
    /// Whether the header is that of the state with root `root`.
    pub fn verify<H: Hasher>(&self, root: &Hash) -> bool {
        state_root::<H>(&self.header, &self.tensors_root) == *root
    }
}

/// The cumulative root after the first `done.len()` of a step's `ops` ops: the Merkle root over
/// `ops + 1` values, the state root before the step, then the roots of the outputs of the ops
/// done ([`tensor_root`]), then zeros for the ops not yet done. Two of them that agree fix the
/// state before the step and every output so far, so every input of the next op.
pub fn op_root<H: Hasher>(start: &Hash, done: &[Hash], ops: usize) -> Hash {
    merkle::root::<H>(&op_leaves(start, done, ops))
}

/// The values under [`op_root`].
pub fn op_leaves(start: &Hash, done: &[Hash], ops: usize) -> Vec<Hash> {
    let mut leaves = Vec::with_capacity(ops + 1);
    leaves.push(*start);
    leaves.extend_from_slice(done);
    leaves.resize(ops + 1, [0; 32]);
    leaves
}
