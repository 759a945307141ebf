//! The output game's rules (VERIFICATION.md, "Binding `h_n` to the output CID"): what a
//! training job commits about its output package when it is posted ([`OutputCommit`], a
//! function of its config alone), what a challenger may ask about a result's package
//! ([`Question`]) and the proof that answers it ([`Answer`]), which [`check`] reads against the
//! output CID, the trace root and the commitment only, as a contract must.
//!
//! Everything a loader reads is fixed by the answers: the directory holds exactly
//! [`NAMES`]; `config.json` is the committed bytes; `model.safetensors` is `D` header bytes
//! (committed piece by piece) then `params` of the state `h_n` as f32 little-endian, so that
//! the 4 KiB chunk `c` of the state's tensors sits at file offset `D + 4096·c`
//! (`iollm_compute::io::weights_to_safetensors`). An executor that published anything else
//! cannot answer some question, and an unanswered question loses its game.
//!
//! A job that starts from a base model reads `h_0`'s parameters from the base's package the
//! same way ([`base_chunk`]): a base is a package laid out as outputs are.
//!
//! What it is not: a check of `smip.json` (lineage and the like are checked off chain by the
//! verifiers that attest) or of how an output is added to IPFS (an executor that chunked its
//! package so that a piece spans two leaves cannot prove that piece and loses).

use crate::unixfs::{self, ProofError};
use alloc::vec::Vec;
use iollm_repops::commit::{chunk_count, StateProof, CHUNK_WORDS};
use iollm_repops::merkle::{self, Hash, Hasher};
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Bytes of a header piece, and of the leaves outputs are added with
/// (`iollm_compute::io::WEIGHTS_ALIGN`).
pub const PIECE_BYTES: u64 = 32 * 1024;
/// The model config's file.
pub const CONFIG: &[u8] = b"config.json";
/// The weights' file.
pub const WEIGHTS: &[u8] = b"model.safetensors";
/// The SMIP manifest.
pub const MANIFEST: &[u8] = b"smip.json";
/// Exactly what an output package's directory lists, in dag-pb (byte) order.
pub const NAMES: [&[u8]; 3] = [CONFIG, WEIGHTS, MANIFEST];
/// The most bytes a UnixFS proof in an answer may hold: with the state chunk (4 KiB) and its
/// paths, an answer must fit the dispute contract's call buffer
/// ([`crate::dispute::MAX_CALL_BYTES`], 64 KiB). An honest proof of a weights file of
/// [`MAX_LEVELS`] is under 52 KiB (its directory, two full file nodes of about 9.2 KiB, a
/// 32 KiB leaf); a larger one cannot be sent, so it proves nothing.
pub const MAX_PROOF_BYTES: usize = 56 * 1024;
/// Links of a file node in the balanced layout outputs are added with (Kubo's).
const FAN_OUT: u64 = 174;
/// File-node levels above the leaves an answer may cross: a chunk's answer (its leaf, one file
/// node per level, at most about 9.5 KiB each, the 4 KiB state chunk and its paths) must fit
/// the dispute contract's call buffer ([`crate::dispute::MAX_CALL_BYTES`], 64 KiB); two levels
/// (weights files up to 174² leaves, about 990 MB) leave room, three may not.
pub const MAX_LEVELS: u32 = 2;

/// What a training job commits about its output package: functions of its config alone, so
/// an executor checks them before it claims, as it checks `h_0`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct OutputCommit {
    /// The Merkle root over the SHA-256 of each [`PIECE_BYTES`] piece of the weights file's
    /// first `header_len` bytes (its length prefix, JSON header and padding).
    pub header_root: Hash,
    /// `D`: bytes before the weights, a positive multiple of [`PIECE_BYTES`].
    pub header_len: u64,
    /// `P`: the parameters (the weights file is `D + 4·P` bytes).
    pub params: u64,
    /// SHA-256 of `config.json`.
    pub config_json: Hash,
}

impl OutputCommit {
    /// Pieces of the header.
    pub fn pieces(&self) -> u64 {
        self.header_len / PIECE_BYTES
    }

    /// Chunks of the parameters (the last may be partial).
    pub fn chunks(&self) -> u64 {
        chunk_count(self.params)
    }

    /// The weights file's size, `D + 4·P`.
    pub fn weights_size(&self) -> Option<u64> {
        self.params.checked_mul(4)?.checked_add(self.header_len)
    }

    /// File-node levels above the leaves of the weights file laid out as outputs are (`None`
    /// on overflow).
    pub fn levels(&self) -> Option<u32> {
        let mut nodes = iollm_repops::ceil_div(self.weights_size()?, PIECE_BYTES);
        let mut levels = 0u32;
        while nodes > 1 {
            nodes = iollm_repops::ceil_div(nodes, FAN_OUT);
            levels = levels.checked_add(1)?;
        }
        Some(levels)
    }

    /// Whether a game can be played on it: a whole number of header pieces, some parameters,
    /// sizes that do not overflow, and a weights file whose every answer fits one call
    /// ([`MAX_LEVELS`]).
    pub fn is_valid(&self) -> bool {
        self.header_len > 0
            && self.header_len.checked_rem(PIECE_BYTES) == Some(0)
            && self.params > 0
            && self.params.checked_mul(3).is_some()
            && self.levels().is_some_and(|l| l <= MAX_LEVELS)
    }

    /// Whether `question` asks about something this package has.
    pub fn asks(&self, question: &Question) -> bool {
        match *question {
            Question::Listing | Question::Config => true,
            Question::Header(p) => u64::from(p) < self.pieces(),
            Question::Chunk(c) => u64::from(c) < self.chunks(),
        }
    }
}

/// What a challenger asks the executor to prove of its output package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum Question {
    /// The directory lists exactly [`NAMES`].
    Listing,
    /// `config.json` is the committed bytes.
    Config,
    /// Piece `p` of the weights file's header is the committed one.
    Header(u32),
    /// The weights at `D + 4096·c` are chunk `c` of `h_n`'s parameters.
    Chunk(u32),
}

impl core::fmt::Display for Question {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Question::Listing => f.write_str("the directory's listing"),
            Question::Config => f.write_str("config.json"),
            Question::Header(p) => write!(f, "piece {p} of the weights file's header"),
            Question::Chunk(c) => write!(f, "chunk {c} of the weights"),
        }
    }
}

impl core::str::FromStr for Question {
    type Err = &'static str;

    /// `listing`, `config`, `header:P` or `chunk:C`.
    fn from_str(s: &str) -> Result<Question, &'static str> {
        const WHAT: &str = "ask for listing, config, header:P or chunk:C";
        let number = |n: &str| n.parse::<u32>().map_err(|_| WHAT);
        match s.split_once(':') {
            None if s == "listing" => Ok(Question::Listing),
            None if s == "config" => Ok(Question::Config),
            Some(("header", p)) => number(p).map(Question::Header),
            Some(("chunk", c)) => number(c).map(Question::Chunk),
            _ => Err(WHAT),
        }
    }
}

/// The executor's proof for a [`Question`]. `blocks` are a UnixFS path proof
/// ([`unixfs::read_at`]) from the output's root to the leaf the question reads.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Answer {
    /// The root directory's block.
    Listing {
        /// The block.
        root: Vec<u8>,
    },
    /// `config.json`, whole, in one leaf.
    Config {
        /// Root to leaf.
        blocks: Vec<Vec<u8>>,
    },
    /// The leaf holding the header piece, and the piece's path in the header root.
    Header {
        /// Root to leaf.
        blocks: Vec<Vec<u8>>,
        /// Siblings of the piece's hash, bottom up.
        path: Vec<Hash>,
    },
    /// The leaf holding the weights chunk, `h_n` with its path as leaf `n` of the trace root,
    /// and the state's chunk proven against `h_n`.
    Chunk {
        /// Root to leaf.
        blocks: Vec<Vec<u8>>,
        /// The last state root.
        last: Hash,
        /// Siblings of `last` in the trace root, bottom up.
        last_path: Vec<Hash>,
        /// Chunk `c` of `params ‖ m ‖ v` with its path to `last`.
        state: StateProof,
    },
}

/// Why an answer does not prove what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum AnswerError {
    /// The answer is for another question.
    WrongKind,
    /// The UnixFS proof does not read.
    Unreadable,
    /// The proof reads, but not as committed: other names, bytes, sizes, or a leaf that does
    /// not hold the whole range asked about.
    Mismatch,
    /// The state or trace proof does not verify.
    BadProof,
}

impl From<ProofError> for AnswerError {
    fn from(_: ProofError) -> AnswerError {
        AnswerError::Unreadable
    }
}

/// The result whose package is asked about: its output CID (binary), trace root and the
/// trace's leaves (`n + 1`).
#[derive(Debug, Clone, Copy)]
pub struct Submitted<'a> {
    /// The output's binary CID ([`crate::cid::cid_bytes`]).
    pub output: &'a [u8],
    /// The submitted trace root.
    pub trace_root: &'a Hash,
    /// Leaves of the trace (`h_0..h_n`).
    pub trace_leaves: u64,
}

impl Question {
    /// The question whose range holds byte `offset` of the weights file: header piece
    /// `offset / PIECE_BYTES` before the parameters, else the chunk of the parameter there;
    /// `None` past the parameters (every question about the weights file checks its size).
    pub fn about_weights_byte(commit: &OutputCommit, offset: u64) -> Option<Question> {
        match offset.checked_sub(commit.header_len) {
            None => u32::try_from(offset / PIECE_BYTES).ok().map(Question::Header),
            Some(data) if data / 4 < commit.params => {
                let chunk = (data / 4).checked_div(CHUNK_WORDS as u64)?;
                u32::try_from(chunk).ok().map(Question::Chunk)
            }
            Some(_) => None,
        }
    }

    /// The file it reads and the byte range of it (`None` for [`Question::Listing`], or on
    /// overflow): `config.json` whole (its length is the file's), header piece `p`, or the
    /// parameter bytes of chunk `c` (the last chunk may run into `m`, which is not in the
    /// file).
    pub fn range(&self, commit: &OutputCommit) -> Option<(&'static [u8], u64, Option<u64>)> {
        match *self {
            Question::Listing => None,
            Question::Config => Some((CONFIG, 0, None)),
            Question::Header(p) => {
                Some((WEIGHTS, u64::from(p).checked_mul(PIECE_BYTES)?, Some(PIECE_BYTES)))
            }
            Question::Chunk(c) => {
                let first_word = u64::from(c).checked_mul(CHUNK_WORDS as u64)?;
                let words = commit.params.checked_sub(first_word)?.min(CHUNK_WORDS as u64);
                let from = first_word.checked_mul(4)?.checked_add(commit.header_len)?;
                Some((WEIGHTS, from, Some(words.checked_mul(4)?)))
            }
        }
    }
}

/// The bytes that the UnixFS proof `blocks` of `output`'s package reads for `question` (not
/// [`Question::Listing`]): the proof must be at most [`MAX_PROOF_BYTES`], one leaf must hold
/// them all, the weights file must have its committed size, and `config.json` must be one
/// leaf, whole. The same proof reads the same
/// bytes wherever it is checked: the contract ([`check`]) and a verifier choosing what to
/// ask (`iollm_worker::output`) agree.
pub fn read_asked<'a, H: Hasher>(
    commit: &OutputCommit,
    output: &[u8],
    question: &Question,
    blocks: &'a [Vec<u8>],
) -> Result<&'a [u8], AnswerError> {
    let (name, from, len) = question.range(commit).ok_or(AnswerError::WrongKind)?;
    let bytes = blocks.iter().try_fold(0usize, |sum, b| sum.checked_add(b.len()));
    match bytes {
        Some(bytes) if bytes <= MAX_PROOF_BYTES => {}
        _ => return Err(AnswerError::Mismatch),
    }
    let refs: Vec<&[u8]> = blocks.iter().map(Vec::as_slice).collect();
    let leaf = unixfs::read_at::<H>(output, &[name], from, &refs)?;
    let size = match len {
        Some(_) => commit.weights_size().ok_or(AnswerError::Mismatch)?,
        None if leaf.start == 0 => leaf.data.len() as u64,
        None => return Err(AnswerError::Mismatch),
    };
    if leaf.file_size != size {
        return Err(AnswerError::Mismatch);
    }
    let at = from.checked_sub(leaf.start).and_then(|a| usize::try_from(a).ok());
    let len = len.map_or(Some(leaf.data.len()), |l| usize::try_from(l).ok());
    at.zip(len).and_then(|(at, len)| leaf.data.get(at..)?.get(..len)).ok_or(AnswerError::Mismatch)
}

/// Whether `answer` proves what `question` asks of `result`'s package, given the job's
/// `commit` (`H` must be SHA-256). `question` must be one `commit` [`OutputCommit::asks`].
pub fn check<H: Hasher>(
    commit: &OutputCommit,
    result: &Submitted<'_>,
    question: &Question,
    answer: &Answer,
) -> Result<(), AnswerError> {
    let mismatch = |same: bool| if same { Ok(()) } else { Err(AnswerError::Mismatch) };
    let read = |blocks| read_asked::<H>(commit, result.output, question, blocks);
    match (question, answer) {
        (Question::Listing, Answer::Listing { root }) => {
            mismatch(unixfs::lists_exactly::<H>(result.output, root, &NAMES)?)
        }
        (Question::Config, Answer::Config { blocks }) => {
            mismatch(H::hash(&[read(blocks)?]) == commit.config_json)
        }
        (Question::Header(p), Answer::Header { blocks, path }) => {
            let hash = H::hash(&[read(blocks)?]);
            let (index, pieces) = (u64::from(*p), commit.pieces());
            mismatch(merkle::verify::<H>(&commit.header_root, &hash, index, pieces, path))
        }
        (Question::Chunk(c), Answer::Chunk { blocks, last, last_path, state }) => {
            let n = result.trace_leaves.checked_sub(1).ok_or(AnswerError::BadProof)?;
            let first_word = u64::from(*c).checked_mul(CHUNK_WORDS as u64);
            if !merkle::verify::<H>(result.trace_root, last, n, result.trace_leaves, last_path)
                || Some(state.element.index) != first_word
                || !state.verify::<H>(last, commit.params)
            {
                return Err(AnswerError::BadProof);
            }
            let bytes = read(blocks)?;
            mismatch(
                bytes.chunks_exact(4).len() <= state.element.chunk.len()
                    && bytes
                        .chunks_exact(4)
                        .zip(&state.element.chunk)
                        .all(|(b, w)| b == w.to_le_bytes().as_slice()),
            )
        }
        _ => Err(AnswerError::WrongKind),
    }
}

/// Chunk `c` of `params ‖ m ‖ v` of the initial state of a job that starts from the base
/// model whose package is `base` (binary CID), for the referee of its initial game: the
/// parameters are read from the base's weights file by the UnixFS proof `blocks` (what
/// [`Question::Chunk`] reads of an output: the bytes at `D + 4096·c`, with the job's `D` and
/// `P`, in a file of `D + 4·P` bytes), the moments are `+0`; a chunk past the parameters needs
/// no proof. A base laid out otherwise (another header length, leaves not aligned) cannot be
/// read, so no honest worker claims its job.
pub fn base_chunk<H: Hasher>(
    base: &[u8],
    commit: &OutputCommit,
    c: u64,
    blocks: &[Vec<u8>],
) -> Result<Vec<u32>, AnswerError> {
    let words = commit.params.checked_mul(3).ok_or(AnswerError::WrongKind)?;
    let first = c.checked_mul(CHUNK_WORDS as u64).filter(|&f| f < words);
    let first = first.ok_or(AnswerError::WrongKind)?;
    let len = words.saturating_sub(first).min(CHUNK_WORDS as u64) as usize;
    let mut chunk = Vec::with_capacity(len);
    if first < commit.params {
        let question = Question::Chunk(u32::try_from(c).map_err(|_| AnswerError::WrongKind)?);
        let bytes = read_asked::<H>(commit, base, &question, blocks)?;
        chunk.extend(bytes.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
    }
    chunk.resize(len, 0);
    Ok(chunk)
}

/// The hashes of `header`'s pieces (`None` unless it is a positive multiple of
/// [`PIECE_BYTES`] long).
fn piece_hashes<H: Hasher>(header: &[u8]) -> Option<Vec<Hash>> {
    if header.is_empty() || (header.len() as u64).checked_rem(PIECE_BYTES) != Some(0) {
        return None;
    }
    Some(header.chunks(PIECE_BYTES as usize).map(|p| H::hash(&[p])).collect())
}

/// The header commitment of a weights file's first `header.len()` bytes: the root over its
/// pieces' hashes (`None` unless it is a positive multiple of [`PIECE_BYTES`] long).
pub fn header_root<H: Hasher>(header: &[u8]) -> Option<Hash> {
    piece_hashes::<H>(header).map(|h| merkle::root::<H>(&h))
}

/// The path of piece `p` of `header` in [`header_root`].
pub fn header_path<H: Hasher>(header: &[u8], p: u32) -> Option<Vec<Hash>> {
    merkle::proof::<H>(&piece_hashes::<H>(header)?, u64::from(p))
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // tests compute their expectations freely
mod tests {
    use super::*;
    use crate::unixfs::tests::{cid_v1, node};
    use crate::unixfs::{DIRECTORY, FILE};
    use crate::TestSha as Sha;
    use alloc::vec;
    use iollm_repops::commit::{state_root, Committed};

    const RAW: u8 = 0x55;
    const DAG_PB: u8 = 0x70;
    /// Parameters: one whole chunk and a partial one that runs into `m`.
    const P: usize = CHUNK_WORDS + 476;

    /// Word `i` of the last state's tensors.
    fn word(i: usize) -> u32 {
        (i as u32).wrapping_mul(2_654_435_761)
    }

    /// An honest package of a 3-checkpoint run, and what proves it.
    struct Package {
        commit: OutputCommit,
        dir: Vec<u8>,
        config: Vec<u8>,
        /// The weights file's node, then its raw leaves.
        file: Vec<u8>,
        leaves: Vec<Vec<u8>>,
        header: Vec<u8>,
        tensors: Vec<u32>,
        state_header: Vec<u8>,
        trace: Vec<Hash>,
    }

    impl Package {
        fn new(weights: impl Fn(usize) -> u32) -> Package {
            let tensors: Vec<u32> = (0..3 * P).map(word).collect();
            let mut header = vec![b' '; 2 * PIECE_BYTES as usize];
            header[..8].copy_from_slice(&(2 * PIECE_BYTES - 8).to_le_bytes());
            header[8] = b'{';
            let mut file_bytes = header.clone();
            file_bytes.extend((0..P).flat_map(|i| weights(i).to_le_bytes()));
            let leaves: Vec<Vec<u8>> =
                file_bytes.chunks(PIECE_BYTES as usize).map(<[u8]>::to_vec).collect();
            let config = b"{\"n_layer\": 2}".to_vec();
            let state_header = b"state header".to_vec();
            let h_n =
                state_root::<Sha>(&state_header, &Committed::new::<Sha>(&tensors).root::<Sha>());
            let commit = OutputCommit {
                header_root: header_root::<Sha>(&header).unwrap(),
                header_len: header.len() as u64,
                params: P as u64,
                config_json: Sha::hash(&[&config]),
            };
            let trace = vec![[1; 32], [2; 32], [3; 32], h_n];
            let (dir, file) = (Vec::new(), Vec::new());
            let mut package =
                Package { commit, dir, config, file, leaves, header, tensors, state_header, trace };
            package.seal(&[]);
            package
        }

        /// Builds the weights file's node from its leaves, and the directory of the three
        /// files and `extra` entries (which must sort before `model.safetensors`).
        fn seal(&mut self, extra: &[(Vec<u8>, &[u8])]) {
            let links: Vec<(Vec<u8>, &[u8])> =
                self.leaves.iter().map(|l| (cid_v1(RAW, l), &b""[..])).collect();
            let sizes: Vec<u64> = self.leaves.iter().map(|l| l.len() as u64).collect();
            self.file = node(&links, FILE, b"", Some(sizes.iter().sum()), &sizes);
            let mut entries = vec![(cid_v1(RAW, &self.config), CONFIG)];
            entries.extend_from_slice(extra);
            entries.push((cid_v1(DAG_PB, &self.file), WEIGHTS));
            entries.push((cid_v1(RAW, b"{}"), MANIFEST));
            self.dir = node(&entries, DIRECTORY, b"", None, &[]);
        }

        fn cid(&self) -> Vec<u8> {
            cid_v1(DAG_PB, &self.dir)
        }

        fn check(&self, question: Question, answer: &Answer) -> Result<(), AnswerError> {
            let (cid, root) = (self.cid(), merkle::root::<Sha>(&self.trace));
            let submitted = Submitted { output: &cid, trace_root: &root, trace_leaves: 4 };
            check::<Sha>(&self.commit, &submitted, &question, answer)
        }

        /// The honest answer to `question`.
        fn answer(&self, question: Question) -> Answer {
            let weights_leaf = |offset: u64| {
                let leaf = (offset / PIECE_BYTES) as usize;
                vec![self.dir.clone(), self.file.clone(), self.leaves[leaf].clone()]
            };
            match question {
                Question::Listing => Answer::Listing { root: self.dir.clone() },
                Question::Config => {
                    Answer::Config { blocks: vec![self.dir.clone(), self.config.clone()] }
                }
                Question::Header(p) => Answer::Header {
                    blocks: weights_leaf(u64::from(p) * PIECE_BYTES),
                    path: header_path::<Sha>(&self.header, p).unwrap(),
                },
                Question::Chunk(c) => {
                    let state = StateProof {
                        element: Committed::new::<Sha>(&self.tensors)
                            .prove::<Sha>(u64::from(c) * CHUNK_WORDS as u64)
                            .unwrap(),
                        header_hash: Sha::hash(&[&self.state_header]),
                    };
                    Answer::Chunk {
                        blocks: weights_leaf(self.commit.header_len + u64::from(c) * 4096),
                        last: self.trace[3],
                        last_path: merkle::proof::<Sha>(&self.trace, 3).unwrap(),
                        state,
                    }
                }
            }
        }
    }

    #[test]
    fn a_proof_too_large_for_one_call_proves_nothing() {
        // The honest bytes in 64 KiB leaves: both header pieces lie in the first leaf, but no
        // proof through it can be sent.
        let mut big = Package::new(word);
        let file: Vec<u8> = big.leaves.concat();
        big.leaves = file.chunks(2 * PIECE_BYTES as usize).map(<[u8]>::to_vec).collect();
        big.seal(&[]);
        for p in [0, 1] {
            let answer = Answer::Header {
                blocks: vec![big.dir.clone(), big.file.clone(), big.leaves[0].clone()],
                path: header_path::<Sha>(&big.header, p).unwrap(),
            };
            let q = Question::Header(p);
            assert_eq!(big.check(q, &answer), Err(AnswerError::Mismatch), "{q}");
        }
    }

    #[test]
    fn a_weights_file_too_deep_for_one_call_cannot_be_committed() {
        let commit = |params: u64| OutputCommit {
            header_root: [0; 32],
            header_len: PIECE_BYTES,
            params,
            config_json: [0; 32],
        };
        // One leaf of header and 8 192 parameters per leaf of weights.
        let per_leaf = PIECE_BYTES / 4;
        assert_eq!(commit(1).levels(), Some(1));
        assert_eq!(commit(173 * per_leaf).levels(), Some(1), "174 leaves: one node");
        assert_eq!(commit(174 * per_leaf).levels(), Some(2));
        assert_eq!(commit(174 * 174 * per_leaf - per_leaf).levels(), Some(2));
        assert!(commit(174 * 174 * per_leaf - per_leaf).is_valid());
        assert_eq!(commit(174 * 174 * per_leaf).levels(), Some(3));
        assert!(!commit(174 * 174 * per_leaf).is_valid(), "past two levels");
        assert_eq!(commit(u64::MAX / 4).levels(), None);
        assert!(!commit(u64::MAX / 4).is_valid());
    }

    #[test]
    fn a_weights_byte_is_asked_about_by_the_question_whose_range_holds_it() {
        let commit = Package::new(word).commit;
        let d = commit.header_len;
        let end = d + 4 * commit.params;
        for offset in [0, 1, PIECE_BYTES - 1, PIECE_BYTES, d - 1, d, d + 5, d + 4096, end - 1] {
            let question = Question::about_weights_byte(&commit, offset).expect("in the file");
            let (name, from, len) = question.range(&commit).expect("a range");
            assert_eq!(name, WEIGHTS);
            assert!(from <= offset && offset < from + len.unwrap(), "{offset}: {question}");
        }
        assert_eq!(Question::about_weights_byte(&commit, d + 4095), Some(Question::Chunk(0)));
        assert_eq!(Question::about_weights_byte(&commit, d + 4096), Some(Question::Chunk(1)));
        assert_eq!(Question::about_weights_byte(&commit, PIECE_BYTES), Some(Question::Header(1)));
        assert_eq!(Question::about_weights_byte(&commit, end), None);
        assert_eq!(Question::about_weights_byte(&commit, u64::MAX), None);
    }

    #[test]
    fn questions_read_as_they_are_written() {
        for q in [Question::Listing, Question::Config, Question::Header(2), Question::Chunk(17)] {
            let text = match q {
                Question::Listing => "listing".into(),
                Question::Config => "config".into(),
                Question::Header(p) => alloc::format!("header:{p}"),
                Question::Chunk(c) => alloc::format!("chunk:{c}"),
            };
            assert_eq!(text.parse::<Question>(), Ok(q));
        }
        for bad in ["", "chunk", "chunk:", "chunk:-1", "header:x", "weights:3", "listing:1"] {
            assert!(bad.parse::<Question>().is_err(), "{bad}");
        }
    }

    fn questions(commit: &OutputCommit) -> Vec<Question> {
        let q = vec![
            Question::Listing,
            Question::Config,
            Question::Header(0),
            Question::Header(1),
            Question::Chunk(0),
            Question::Chunk(1),
        ];
        assert!(q.iter().all(|q| commit.asks(q)));
        assert!(!commit.asks(&Question::Header(2)) && !commit.asks(&Question::Chunk(2)));
        q
    }

    #[test]
    fn an_honest_package_answers_every_question() {
        let honest = Package::new(word);
        assert!(honest.commit.is_valid());
        for q in questions(&honest.commit) {
            assert_eq!(honest.check(q, &honest.answer(q)), Ok(()), "{q:?}");
        }
        // An answer to another question proves nothing.
        let listing = honest.answer(Question::Listing);
        assert_eq!(honest.check(Question::Config, &listing), Err(AnswerError::WrongKind));
        // Another chunk's proof does not answer chunk 0.
        assert_eq!(
            honest.check(Question::Chunk(0), &honest.answer(Question::Chunk(1))),
            Err(AnswerError::BadProof)
        );
    }

    #[test]
    fn substituted_weights_cannot_answer_their_chunk() {
        // One weight changed in each chunk in turn: that chunk's question has no answer.
        for changed in [7, CHUNK_WORDS + 475] {
            let forged = Package::new(|i| word(i) ^ u32::from(i == changed));
            let c = (changed / CHUNK_WORDS) as u32;
            assert_eq!(
                forged.check(Question::Chunk(c), &forged.answer(Question::Chunk(c))),
                Err(AnswerError::Mismatch)
            );
            // The other chunk still reads: a challenger must ask the right one.
            assert_eq!(
                forged.check(Question::Chunk(1 - c), &forged.answer(Question::Chunk(1 - c))),
                Ok(())
            );
            // Proving another state than `h_n` is refused.
            let Answer::Chunk { blocks, last_path, state, .. } = forged.answer(Question::Chunk(c))
            else {
                unreachable!()
            };
            let other = Answer::Chunk { blocks, last: forged.trace[2], last_path, state };
            assert_eq!(forged.check(Question::Chunk(c), &other), Err(AnswerError::BadProof));
        }
    }

    #[test]
    fn a_base_models_chunks_are_its_weights_then_zeros() {
        let base = Package::new(word);
        let blocks = |c: u32| match base.answer(Question::Chunk(c)) {
            Answer::Chunk { blocks, .. } => blocks,
            _ => unreachable!(),
        };
        let read =
            |c: u64, proof: &[Vec<u8>]| base_chunk::<Sha>(&base.cid(), &base.commit, c, proof);
        // `3·P` words: chunk 0 all weights, chunk 1 the last 476 then the moments' zeros,
        // chunks 2 to 4 zeros (the last one partial), which need no proof.
        let weights: Vec<u32> = (0..P).map(word).collect();
        assert_eq!(read(0, &blocks(0)), Ok(weights[..CHUNK_WORDS].to_vec()));
        let mut second = weights[CHUNK_WORDS..].to_vec();
        second.resize(CHUNK_WORDS, 0);
        assert_eq!(read(1, &blocks(1)), Ok(second));
        assert_eq!(read(2, &[]), Ok(vec![0; CHUNK_WORDS]));
        assert_eq!(read(4, &[]), Ok(vec![0; 3 * P - 4 * CHUNK_WORDS]));
        assert_eq!(read(5, &[]), Err(AnswerError::WrongKind));
        // A chunk of weights needs its own proof: none, another chunk's, or one from another
        // package do not read.
        assert_eq!(read(0, &[]), Err(AnswerError::Unreadable));
        let other = Package::new(|i| word(i) ^ 1);
        let Answer::Chunk { blocks: others, .. } = other.answer(Question::Chunk(0)) else {
            unreachable!()
        };
        assert_eq!(read(0, &others), Err(AnswerError::Unreadable));
        // (Chunks 0 and 1 share a leaf, so chunk 0's proof reads chunk 1's words: the proof
        // carries no index, the referee reads the range of the chunk it decides.)
        assert_eq!(read(1, &blocks(0)), read(1, &blocks(1)));
        // A base whose weights file is longer than `D + 4·P` (another shape) is refused.
        let longer = OutputCommit { params: P as u64 - 1, ..base.commit.clone() };
        assert_eq!(
            base_chunk::<Sha>(&base.cid(), &longer, 0, &blocks(0)),
            Err(AnswerError::Mismatch)
        );
    }

    #[test]
    fn another_header_config_or_listing_cannot_answer() {
        let honest = Package::new(word);
        // A header piece changed: that piece's proof no longer verifies against the commit.
        let mut forged = Package::new(word);
        forged.leaves[1][5] ^= 1;
        forged.seal(&[]);
        forged.commit = honest.commit.clone();
        let mut answer = forged.answer(Question::Header(1));
        if let Answer::Header { path, .. } = &mut answer {
            *path = header_path::<Sha>(&honest.header, 1).unwrap();
        }
        assert_eq!(forged.check(Question::Header(1), &answer), Err(AnswerError::Mismatch));
        assert_eq!(forged.check(Question::Header(0), &forged.answer(Question::Header(0))), Ok(()));
        // Another config.
        let mut other = Package::new(word);
        other.commit.config_json = [9; 32];
        assert_eq!(
            other.check(Question::Config, &other.answer(Question::Config)),
            Err(AnswerError::Mismatch)
        );
        // A fourth file beside the three (a GGUF a loader would prefer).
        let mut extra = Package::new(word);
        extra.seal(&[(cid_v1(RAW, b"gguf"), b"model.gguf")]);
        assert_eq!(
            extra.check(Question::Listing, &extra.answer(Question::Listing)),
            Err(AnswerError::Mismatch)
        );
        // A block that is not the one the CID names.
        let mut tampered = honest.answer(Question::Chunk(0));
        if let Answer::Chunk { blocks, .. } = &mut tampered {
            blocks[2][0] ^= 1;
        }
        assert_eq!(honest.check(Question::Chunk(0), &tampered), Err(AnswerError::Unreadable));
    }

    #[test]
    fn a_weights_file_of_another_size_cannot_answer() {
        // One parameter too many: the file is 4 bytes longer than `D + 4·P`.
        let mut longer = Package::new(word);
        let mut last = longer.leaves.pop().unwrap();
        last.extend_from_slice(&[0; 4]);
        longer.leaves.push(last);
        longer.seal(&[]);
        for q in [Question::Header(0), Question::Chunk(0)] {
            assert_eq!(longer.check(q, &longer.answer(q)), Err(AnswerError::Mismatch), "{q:?}");
        }
    }

    #[test]
    fn an_output_game_is_won_by_a_proof_in_time_and_lost_without_one() {
        use crate::bisection::Verdict;
        use crate::game::{Game, GameConfig, GameError, How, Stage, Terms};
        let forged = Package::new(|i| word(i) ^ u32::from(i == 3));
        let terms = Terms {
            sides: [[1; 32], [2; 32]],
            config: GameConfig::SMALLEST,
            config_hash: [0; 32],
            corpus_root: [0; 32],
            every: 1,
            checkpoints: 3,
            trace_roots: [merkle::root::<Sha>(&forged.trace), [0; 32]],
            h0: forged.trace[0],
            move_blocks: 5,
            output: forged.commit.clone(),
            output_cid: forged.cid(),
            base: None,
        };
        let out_of_range = Game::open_package(terms.clone(), Question::Chunk(2), 10);
        assert_eq!(out_of_range.err(), Some(GameError::OutOfRange));
        // An honest chunk is proven, and the game is the executor's.
        let mut game = Game::open_package(terms.clone(), Question::Chunk(1), 10).unwrap();
        assert_eq!(game.awaits(), Some(crate::bisection::Side::Executor));
        game.prove_package::<Sha>(&forged.answer(Question::Chunk(1)), 15).unwrap();
        assert_eq!(game.stage, Stage::Decided { verdict: Verdict::Executor, how: How::Proven });
        // The forged chunk cannot be: the move is refused, the clock runs out, the executor loses.
        let mut game = Game::open_package(terms.clone(), Question::Chunk(0), 10).unwrap();
        let answer = forged.answer(Question::Chunk(0));
        assert_eq!(game.prove_package::<Sha>(&answer, 12), Err(GameError::BadProof));
        assert_eq!(game.timeout(15), None, "still in time");
        assert_eq!(game.timeout(16), Some(crate::bisection::Side::Executor));
        assert_eq!(game.verdict(), Some(Verdict::Challenger));
        // An attester defends the same question in its own game, and loses it the same way.
        let mut defence = game.defence([3; 32], 20);
        assert_eq!(defence.terms.sides, [[3; 32], [2; 32]]);
        assert_eq!(defence.prove_package::<Sha>(&answer, 21), Err(GameError::BadProof));
        // A proof after the deadline is refused even if it reads.
        let mut late = Game::open_package(terms, Question::Chunk(1), 10).unwrap();
        let honest = forged.answer(Question::Chunk(1));
        assert_eq!(late.prove_package::<Sha>(&honest, 16), Err(GameError::TooLate));
        let mut thrown = late.defence([3; 32], 20);
        thrown.prove_package::<Sha>(&honest, 25).unwrap();
        assert_eq!(thrown.verdict(), Some(Verdict::Executor), "a thrown output game is defended");
    }
}
