//! A side of an initial game (about a job's `h_0`): the state it plays, built once — its
//! header, its `params ‖ m ‖ v` words and their tree — and the moves it answers from it. The
//! seed's state follows from what the job committed alone (`iollm_repops::init`), a base
//! model's from the committed base package (its weights read by the proofs the referee reads
//! them by, [`BaseWeights`]), so a player of this game needs neither the job's spec nor its
//! dataset.

use super::{descend, Move, Respond};
use iollm_compute::merkle::{Hash, Sha};
use iollm_compute::TrainState;
use iollm_content::{Cid, ContentStore};
use iollm_repops::commit::{self, HeaderProof, CHUNK_WORDS};
use iollm_repops::{init, step::ParamLayout};
use iollm_types::bisection::Side;
use iollm_types::game::{Game, GameConfig, Stage};
use iollm_types::package::{self, OutputCommit};

/// A state `h_0` as an initial game plays it: its header and the tree over its chunks; the
/// words themselves only for a state given whole (the seed's are drawn again for the one
/// chunk a game reveals, so a large model's `12` bytes a parameter are not held).
pub struct Start {
    header: Vec<u8>,
    words: Words,
    /// Every level of the tree over the chunks' hashes, leaf hashes first.
    tree: Vec<Vec<Hash>>,
}

/// Where a [`Start`]'s chunks come from.
enum Words {
    /// The seed's initial state of this layout (`iollm_repops::init::chunk`).
    Seed { layout: ParamLayout, seed: u64 },
    /// A state given whole.
    Held(Vec<u32>),
    /// A base model's weights, then `+0` moments.
    Base(BaseWeights),
    /// A base model whose chunk `chunk` nobody can prove ([`Start::unprovable`]).
    Unprovable {
        /// The chunk.
        chunk: u64,
    },
}

impl Words {
    /// Chunk `index` (`None` past the last, or a base's chunk its proof does not read).
    fn chunk(&self, index: u64) -> Option<Vec<u32>> {
        match self {
            Words::Seed { layout, seed } => init::chunk::<f32>(layout, *seed, index),
            Words::Base(base) => base.chunk(index).ok(),
            Words::Unprovable { .. } => None,
            Words::Held(words) => {
                let at = usize::try_from(index).ok()?.checked_mul(CHUNK_WORDS)?;
                (at < words.len()).then(|| words[at..(at + CHUNK_WORDS).min(words.len())].to_vec())
            }
        }
    }
}

impl Start {
    /// The initial state of `config` for its seed, under the config hash `config_hash`: what an
    /// honest job commits as `h_0`, and what the referee recomputes chunk by chunk. Built a
    /// chunk at a time (the moments' whole chunks, all `+0`, hashed once).
    pub fn of_seed(config: &GameConfig, config_hash: &Hash) -> Start {
        let layout = ParamLayout::new(&config.step());
        let header = init::header(*config_hash, config.seed, layout.total as u64);
        let (n, chunks) = (layout.total, (3 * layout.total).div_ceil(CHUNK_WORDS));
        // Chunks from the first past the parameters to the last whole one: moments, all `+0`.
        let moments = n.div_ceil(CHUNK_WORDS)..3 * n / CHUNK_WORDS;
        let zero = commit::chunk_hash::<Sha>(&[0; CHUNK_WORDS]);
        let words = Words::Seed { layout, seed: config.seed };
        let leaves: Vec<Hash> = (0..chunks)
            .map(|c| match moments.contains(&c) {
                true => zero,
                false => commit::chunk_hash::<Sha>(&words.chunk(c as u64).unwrap_or_default()),
            })
            .collect();
        Start::new(header.encode(iollm_repops::PROFILE), words, &leaves)
    }

    /// The initial state of `config` starting from the base model `base` (its parameters,
    /// `+0` moments), under the config hash `config_hash`: what an honest job from that base
    /// commits as `h_0`, and what the referee reads chunk by chunk. Refused, naming the chunk,
    /// if a chunk of the weights cannot be read as the referee reads it.
    pub fn of_base(
        config: &GameConfig,
        config_hash: &Hash,
        base: BaseWeights,
    ) -> Result<Start, BaseError> {
        let params = base.commit.params;
        let header = init::header(*config_hash, config.seed, params);
        let chunks = commit::chunk_count(params * 3);
        // The parameters' chunks were read as they were fetched; whole chunks of the moments
        // are all `+0`, hashed once.
        let read = base.hashes.len() as u64;
        let moments = read..params * 3 / CHUNK_WORDS as u64;
        let zero = commit::chunk_hash::<Sha>(&[0; CHUNK_WORDS]);
        let leaves = (0..chunks)
            .map(|c| match c {
                c if c < read => Ok(base.hashes[c as usize]),
                c if moments.contains(&c) => Ok(zero),
                c => base.chunk(c).map(|words| commit::chunk_hash::<Sha>(&words)),
            })
            .collect::<Result<Vec<Hash>, BaseError>>()?;
        Ok(Start::new(header.encode(iollm_repops::PROFILE), Words::Base(base), &leaves))
    }

    /// What a challenger plays against a job whose base model's chunk `chunk` nobody can
    /// prove ([`BaseError::Unprovable`]): no state, but a descent steered to that chunk, whose
    /// proof the executor cannot send, so that it loses on time whatever `h_0` it committed.
    /// (A job from such a base has no honest `h_0`: no honest executor claims it.)
    pub fn unprovable(chunk: u64) -> Start {
        Start { header: Vec::new(), words: Words::Unprovable { chunk }, tree: Vec::new() }
    }

    /// The state `state` of a run whose config hash is `config_hash` (a checkpoint 0 of its
    /// own, which a forger plays).
    pub fn of_state(state: &TrainState, config_hash: &Hash) -> Start {
        let HeaderProof { header, .. } = state.prove_header(config_hash);
        let words = state.step_inputs().0;
        let leaves: Vec<Hash> = words.chunks(CHUNK_WORDS).map(commit::chunk_hash::<Sha>).collect();
        Start::new(header, Words::Held(words), &leaves)
    }

    fn new(header: Vec<u8>, words: Words, leaves: &[Hash]) -> Start {
        Start { header, words, tree: iollm_repops::merkle::levels::<Sha>(leaves) }
    }

    /// Its state root (what a job commits as `h_0`).
    pub fn root(&self) -> Hash {
        commit::state_root::<Sha>(&self.header, &self.tensors_root())
    }

    fn tensors_root(&self) -> Hash {
        self.tree.last().and_then(|top| top.first()).copied().unwrap_or([0; 32])
    }

    /// `side`'s player of an initial game with this state.
    pub fn player(&self, side: Side) -> InitialPlayer<'_> {
        InitialPlayer { side, start: self }
    }
}

/// One side of an initial game, answering from a [`Start`].
pub struct InitialPlayer<'s> {
    side: Side,
    start: &'s Start,
}

impl Respond for InitialPlayer<'_> {
    fn respond(&self, game: &Game) -> Option<Move> {
        let start = self.start;
        if let Words::Unprovable { chunk } = start.words {
            // Towards the chunk: the ancestor of leaf `c` at level `l` is `c >> l`.
            return match &game.stage {
                Stage::InitialDescend { descent }
                    if self.side == Side::Challenger
                        && descent.turn() == Some(Side::Challenger) =>
                {
                    let right = (chunk >> descent.level.saturating_sub(1)) & 1 == 1;
                    Some(Move::Pick { right })
                }
                _ => None,
            };
        }
        match &game.stage {
            Stage::Initial { .. } if self.side == Side::Executor => Some(Move::InitialHeader {
                proof: HeaderProof {
                    header: start.header.clone(),
                    tensors_root: start.tensors_root(),
                },
            }),
            Stage::InitialDescend { descent } => {
                let base_proof = match &start.words {
                    Words::Base(base) => base.proof(descent.index).to_vec(),
                    _ => Vec::new(),
                };
                descend(self.side, descent, &start.tree, || {
                    (start.words.chunk(descent.index).unwrap_or_default(), base_proof)
                })
            }
            _ => None,
        }
    }
}

/// A base model's weights as the referee of an initial game reads them: the UnixFS proofs,
/// from the base package's CID, of the leaves of its weights file that hold parameters (`D`
/// and `P` the job's), every chunk of the parameters read from them by the referee's own
/// function ([`package::base_chunk`]) as they were fetched, so a worker holds exactly the
/// proofs the contract will accept, and no proof it would refuse (each at most
/// [`package::MAX_PROOF_BYTES`]).
pub struct BaseWeights {
    /// The package's binary CID.
    cid: Vec<u8>,
    commit: OutputCommit,
    /// Root to leaf: the proofs the parameters' chunks are read by, in order.
    proofs: Vec<Vec<Vec<u8>>>,
    /// For each chunk of the parameters, its proof in `proofs`.
    proof_of: Vec<usize>,
    /// For each chunk of the parameters, its hash (a leaf of the state's tree).
    hashes: Vec<Hash>,
}

/// Why a base model's weights cannot be read as the referee reads them.
#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    /// A block could not be fetched (not served, or this machine's IPFS daemon away): try
    /// again.
    #[error("{0}")]
    Fetch(iollm_content::Error),
    /// Chunk `chunk` of the weights has no proof the referee reads, whoever sends it: a job
    /// from this base has no honest `h_0` (its executor cannot answer an initial game that
    /// descends to that chunk).
    #[error(
        "chunk {chunk} of its weights cannot be proven to the referee ({why}): a base must be \
         a package of this shape added as packages are (32 KiB raw leaves)"
    )]
    Unprovable {
        /// The chunk.
        chunk: u64,
        /// What the proof failed.
        why: String,
    },
}

impl BaseWeights {
    /// Fetches, from `store`, the proofs of the weights of the base package `base` of a job
    /// that commits `commit` (its `D` and `P`: every block checked against its CID), a proof
    /// for each chunk its predecessor's leaf does not hold.
    pub async fn fetch<S: ContentStore>(
        store: &S,
        base: &Cid,
        commit: &OutputCommit,
    ) -> Result<BaseWeights, BaseError> {
        use iollm_content::Error as E;
        let cid = base.to_bytes();
        let (mut proofs, mut proof_of, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
        for c in 0..commit.chunks() {
            let read = |proof: &[Vec<u8>]| package::base_chunk::<Sha>(&cid, commit, c, proof);
            let words = match proofs.last().map(|p: &Vec<Vec<u8>>| read(p)) {
                Some(Ok(words)) => words,
                _ => {
                    let offset = commit.header_len + 4 * c * CHUNK_WORDS as u64;
                    let weights = iollm_compute::io::WEIGHTS_FILE;
                    let blocks = match iollm_content::prove_at(store, base, weights, offset).await {
                        Ok(blocks) => blocks,
                        // What the content itself makes unreadable, whoever serves it.
                        Err(
                            e @ (E::MalformedBlock { .. }
                            | E::UnsupportedCid { .. }
                            | E::BlockTooLarge { .. }
                            | E::NotAFile(_)
                            | E::OutOfRange { .. }
                            | E::TooDeep { .. }
                            | E::NotInDirectory { .. }),
                        ) => return Err(BaseError::Unprovable { chunk: c, why: e.to_string() }),
                        Err(e) => return Err(BaseError::Fetch(e)),
                    };
                    let proof: Vec<Vec<u8>> = blocks.into_iter().map(|b| b.to_vec()).collect();
                    let words = read(&proof).map_err(|why| BaseError::Unprovable {
                        chunk: c,
                        why: format!("{why:?}"),
                    })?;
                    proofs.push(proof);
                    words
                }
            };
            proof_of.push(proofs.len() - 1);
            hashes.push(commit::chunk_hash::<Sha>(&words));
        }
        Ok(BaseWeights { cid, commit: commit.clone(), proofs, proof_of, hashes })
    }

    /// The proof the referee reads chunk `c` by (none for a chunk past the parameters).
    fn proof(&self, c: u64) -> &[Vec<u8>] {
        let at = usize::try_from(c).ok().and_then(|c| self.proof_of.get(c));
        at.and_then(|&p| self.proofs.get(p)).map_or(&[], Vec::as_slice)
    }

    /// Chunk `c` of `params ‖ m ‖ v`, read as the referee reads it.
    fn chunk(&self, c: u64) -> Result<Vec<u32>, BaseError> {
        package::base_chunk::<Sha>(&self.cid, &self.commit, c, self.proof(c))
            .map_err(|why| BaseError::Unprovable { chunk: c, why: format!("{why:?}") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's state built a chunk at a time (moment chunks hashed once, the revealed chunk
    /// drawn again) is the whole initial state held: every chunk, and the root.
    #[test]
    fn the_seeds_start_is_the_initial_state_chunk_by_chunk() {
        for (n_layer, n_embd) in [(1, 8), (2, 32), (3, 48)] {
            let config = GameConfig { n_layer, n_embd, seed: 7, ..GameConfig::SMALLEST };
            let layout = ParamLayout::new(&config.step());
            let mut words = init::params::<f32>(&layout, config.seed);
            words.resize(3 * layout.total, 0);
            let header = init::header([3; 32], config.seed, layout.total as u64);
            let leaves: Vec<Hash> =
                words.chunks(CHUNK_WORDS).map(commit::chunk_hash::<Sha>).collect();
            let held =
                Start::new(header.encode(iollm_repops::PROFILE), Words::Held(words), &leaves);
            let seeds = Start::of_seed(&config, &[3; 32]);
            assert_eq!(seeds.tree, held.tree, "{n_layer} layers, width {n_embd}");
            assert_eq!(seeds.root(), held.root());
            for c in 0..leaves.len() as u64 + 1 {
                assert_eq!(seeds.words.chunk(c), held.words.chunk(c), "chunk {c}");
            }
            assert_ne!(seeds.root(), Start::of_seed(&config, &[4; 32]).root(), "the header counts");
        }
    }

    /// Against a base with a chunk nobody can prove, the challenger steers the descent to that
    /// chunk whatever tree the executor reveals (leaf counts that are no power of two, whose
    /// last nodes are carried up, included).
    #[test]
    fn an_unprovable_bases_challenger_descends_to_its_chunk() {
        use iollm_types::descent::Phase;
        use iollm_types::game::Terms;
        use iollm_types::package::OutputCommit;
        for (n_layer, n_embd) in [(1, 8), (2, 32)] {
            let config = GameConfig { n_layer, n_embd, seed: 7, ..GameConfig::SMALLEST };
            let executor = Start::of_seed(&config, &[3; 32]);
            let chunks = executor.tree[0].len() as u64;
            let terms = Terms {
                sides: [[1; 32], [2; 32]],
                config: config.clone(),
                config_hash: [3; 32],
                corpus_root: [0; 32],
                every: 1,
                checkpoints: 1,
                trace_roots: [[0; 32]; 2],
                h0: executor.root(),
                move_blocks: 5,
                output: OutputCommit {
                    header_root: [0; 32],
                    header_len: iollm_types::package::PIECE_BYTES,
                    params: config.params(),
                    config_json: [0; 32],
                },
                output_cid: Vec::new(),
                base: None,
            };
            for chunk in [0, 1, chunks / 2, chunks - 1] {
                let mut game = Game::open_initial(terms.clone(), 1).unwrap();
                let challenger = Start::unprovable(chunk);
                let sides = [executor.player(Side::Executor), challenger.player(Side::Challenger)];
                for now in 2.. {
                    if let Stage::InitialDescend { descent } = &game.stage {
                        if descent.phase == Phase::Leaf {
                            assert_eq!(descent.index, chunk, "{chunks} chunks");
                            break;
                        }
                    }
                    let (side, m) = sides
                        .iter()
                        .find_map(|p| Some((p.side, p.respond(&game)?)))
                        .expect("a side moves");
                    m.apply(&mut game, side, now).unwrap();
                }
            }
        }
    }
}
