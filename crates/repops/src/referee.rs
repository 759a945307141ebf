//! The referee's checks at the bottom of a dispute inside one training step (VERIFICATION.md,
//! levels 3–5): what the contract runs, on soft floats, with its host's SHA-256.
//!
//! - [`op_output`]: both sides agreed on the cumulative root before op `k` and disagree after
//!   it; each side's root after it must be the agreed one with only leaf `k + 1` filled (the
//!   same siblings prove the zero leaf in one and the side's output root in the other).
//! - [`replay`]: one step of one element's chain, recomputed from the value both agreed on and
//!   the inputs it reads, every input proven against the agreed cumulative root (its leaf 0 is
//!   the state before the step; leaf `1 + i` the output of op `i`) or the corpus root. An input
//!   the step reads that is not supplied, or a proof that fails, refuses the replay.
//! - [`next_state`]: the step's last transition, from the cumulative root after AdamW to the
//!   next state root, from two proven tensor roots and the scalars op's words.

use crate::commit::{ElementProof, HeaderProof, StateProof, CHUNK_WORDS};
use crate::merkle::{self, Hash, Hasher};
use crate::step::{Program, Tensor, HEADER_WORDS};
use crate::Binary32;
use alloc::vec::Vec;
use core::cell::Cell;

/// Bytes of corpus under one leaf of the corpus root.
pub const CORPUS_CHUNK_BYTES: usize = 4096;

/// A chain value as a 32-byte value of the game (little-endian, zero-padded).
pub fn chain_value(v: u64) -> Hash {
    let mut out = [0; 32];
    out[..8].copy_from_slice(&v.to_le_bytes());
    out
}

/// What the referee knows when it replays one chain step: from the job and the levels above.
#[derive(Clone, Debug)]
pub struct Leaf<'a> {
    /// The step's op list.
    pub program: &'a Program,
    /// The cumulative root both sides agreed on, after `op` ops.
    pub agreed_root: Hash,
    /// The disputed op.
    pub op: usize,
    /// The disputed element of its output.
    pub element: usize,
    /// The disputed step of that element's chain.
    pub pos: usize,
    /// The chain value both agreed on before that step (`0` before step 0).
    pub acc: u64,
    /// The job's corpus root and length.
    pub corpus: (Hash, u64),
}

/// One input of a chain step with its proof. Each variant's doc names its fields.
#[allow(missing_docs)] // The variant docs name every field.
#[cfg_attr(
    feature = "scale",
    derive(parity_scale_codec::Encode, parity_scale_codec::Decode, scale_info::TypeInfo)
)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// An element of `params ‖ m ‖ v` before the step: the state root `start` (leaf 0 of the
    /// agreed root, by `start_path`) and the element under it.
    State { start: Hash, start_path: Vec<Hash>, proof: StateProof },
    /// The header before the step (all [`HEADER_WORDS`] words).
    Header { start: Hash, start_path: Vec<Hash>, proof: HeaderProof },
    /// Byte `index` of the corpus: its chunk, the chunk's path, and the path of the length
    /// leaf (leaf 0 of the corpus root).
    Corpus { index: u64, chunk: Vec<u8>, path: Vec<Hash>, length_path: Vec<Hash> },
    /// An element of the output of op `op` (before the disputed one): the op's output root,
    /// its path in the agreed root (leaf `1 + op`), and the element under it.
    Op { op: u32, root: Hash, path: Vec<Hash>, element: ElementProof },
}

/// Why the referee refused a replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafError {
    /// Input `n` does not prove what it says.
    BadProof(usize),
    /// The step read an input nobody supplied.
    Missing(Tensor, usize),
    /// The op, element or chain position is not in the program.
    OutOfRange,
}

/// Whether `after`, a side's cumulative root after op `op` of `ops`, is `before` (agreed) with
/// only leaf `1 + op` set to `output_root`: `siblings` prove leaf `1 + op` is zero in `before`
/// and `output_root` in `after`, so every other leaf is the same.
pub fn op_output<H: Hasher>(
    before: &Hash,
    after: &Hash,
    op: usize,
    ops: usize,
    output_root: &Hash,
    siblings: &[Hash],
) -> bool {
    let (leaf, leaves) = (op as u64 + 1, ops as u64 + 1);
    merkle::verify::<H>(before, &[0; 32], leaf, leaves, siblings)
        && merkle::verify::<H>(after, output_root, leaf, leaves, siblings)
}

/// The words of a state header (step, RNG state, `β1^t`, `β2^t`), from its bytes.
fn header_words(header: &[u8]) -> Option<[u32; HEADER_WORDS]> {
    let plen = u32::from_le_bytes(header.get(8..12)?.try_into().ok()?) as usize;
    let at = 12usize.checked_add(plen)?.checked_add(32)?;
    let fields = header.get(at..at + 24)?;
    let word = |i: usize| {
        u32::from_le_bytes([fields[4 * i], fields[4 * i + 1], fields[4 * i + 2], fields[4 * i + 3]])
    };
    Some([word(0), word(1), word(2), word(3), word(4), word(5)])
}

/// The `(tensor, index, value)` entries an input proves, or `None` if its proof fails.
fn proven<H: Hasher>(leaf: &Leaf, input: &Input) -> Option<Vec<(Tensor, usize, u32)>> {
    let ops = leaf.program.ops.len() as u64 + 1;
    let start_ok =
        |start: &Hash, path: &[Hash]| merkle::verify::<H>(&leaf.agreed_root, start, 0, ops, path);
    match input {
        Input::State { start, start_path, proof } => {
            let params = leaf.program.params as u64;
            (start_ok(start, start_path) && proof.verify::<H>(start, params)).then_some(())?;
            let index = usize::try_from(proof.element.index).ok()?;
            Some(alloc::vec![(Tensor::State, index, proof.element.value()?)])
        }
        Input::Header { start, start_path, proof } => {
            (start_ok(start, start_path) && proof.verify::<H>(start)).then_some(())?;
            let words = header_words(&proof.header)?;
            Some(words.iter().enumerate().map(|(i, w)| (Tensor::Header, i, *w)).collect())
        }
        Input::Corpus { index, chunk, path, length_path } => {
            let (root, len) = leaf.corpus;
            let size = CORPUS_CHUNK_BYTES as u64;
            let leaves = 1 + crate::ceil_div(len, size);
            let c = index / size;
            let chunk_len = len.checked_sub(c * size)?.min(size);
            let length = H::hash(&[&len.to_le_bytes()]);
            let ok = *index < len
                && chunk.len() as u64 == chunk_len
                && merkle::verify::<H>(&root, &length, 0, leaves, length_path)
                && merkle::verify::<H>(&root, &H::hash(&[chunk]), 1 + c, leaves, path);
            ok.then_some(())?;
            let byte = chunk[(index % size) as usize];
            Some(alloc::vec![(Tensor::Corpus, usize::try_from(*index).ok()?, u32::from(byte))])
        }
        Input::Op { op, root, path, element } => {
            let op = *op as usize;
            let len = leaf.program.ops.get(op)?.len as u64;
            let ok = op < leaf.op
                && merkle::verify::<H>(&leaf.agreed_root, root, 1 + op as u64, ops, path)
                && element.verify::<H>(root, len);
            ok.then_some(())?;
            Some(alloc::vec![(
                Tensor::Op(op),
                usize::try_from(element.index).ok()?,
                element.value()?
            )])
        }
    }
}

/// Recomputes step `leaf.pos` of element `leaf.element`'s chain of op `leaf.op` from
/// `leaf.acc`, reading only the proven `inputs` (soft floats: `F` is [`crate::F32`] in the
/// contract). The side whose value after that step equals the result was right.
pub fn replay<F: Binary32, H: Hasher>(leaf: &Leaf, inputs: &[Input]) -> Result<u64, LeafError> {
    let op = leaf.program.ops.get(leaf.op).ok_or(LeafError::OutOfRange)?;
    if leaf.element >= op.len || leaf.pos >= op.chain_len(leaf.element) {
        return Err(LeafError::OutOfRange);
    }
    let mut known: Vec<(Tensor, usize, u32)> = Vec::new();
    for (n, input) in inputs.iter().enumerate() {
        known.extend(proven::<H>(leaf, input).ok_or(LeafError::BadProof(n))?);
    }
    let missing = Cell::new(None);
    let read = |t: Tensor, i: usize| match known.iter().find(|k| k.0 == t && k.1 == i) {
        Some(k) => k.2,
        None => {
            missing.set(missing.get().or(Some((t, i))));
            0
        }
    };
    let value = op.chain_step::<F>(leaf.element, leaf.pos, leaf.acc, &read);
    match missing.get() {
        Some((t, i)) => Err(LeafError::Missing(t, i)),
        None => Ok(value),
    }
}

/// An op's output root, its path in a cumulative root, and (for a one-chunk output) its words
/// with their proof.
#[cfg_attr(
    feature = "scale",
    derive(parity_scale_codec::Encode, parity_scale_codec::Decode, scale_info::TypeInfo)
)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proven {
    /// The op's output root.
    pub root: Hash,
    /// Its path in the cumulative root (leaf `1 + op`).
    pub path: Vec<Hash>,
    /// The output's first chunk (every word of a small output), proven against `root`.
    pub words: ElementProof,
}

/// The state root after the step, from the cumulative root after every op (`agreed_root`): the
/// scalars op's words (step, RNG, optimizer counters), the loss op's word and AdamW's output
/// root, each proven at its leaf. `None` if a proof fails.
pub fn next_state<H: Hasher>(
    program: &Program,
    profile: &str,
    config_hash: &Hash,
    agreed_root: &Hash,
    scalars: &Proven,
    loss: &Proven,
    adam: (&Hash, &[Hash]),
) -> Option<Hash> {
    let leaves = program.ops.len() as u64 + 1;
    let at = |op: usize, p: &Proven| {
        merkle::verify::<H>(agreed_root, &p.root, 1 + op as u64, leaves, &p.path)
            && p.words.index < CHUNK_WORDS as u64
            && p.words.verify::<H>(&p.root, program.ops[op].len as u64)
    };
    let ok = at(program.scalars, scalars)
        && at(program.loss, loss)
        && merkle::verify::<H>(agreed_root, adam.0, 1 + program.adam as u64, leaves, adam.1);
    ok.then_some(())?;
    let loss = *loss.words.chunk.first()?;
    program.next_state_root::<H>(profile, config_hash, &scalars.words.chunk, loss, adam.0)
}
