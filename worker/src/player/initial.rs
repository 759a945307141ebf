//! A side of an initial game (about a job's `h_0`): the state it plays, built once — its
//! header, its `params ‖ m ‖ v` words and their tree — and the moves it answers from it. The
//! seed's state follows from what the job committed alone (`iollm_repops::init`), so a player
//! of this game needs neither the job's spec nor its dataset.

use super::{descend, Move, Respond};
use iollm_compute::merkle::{Hash, Sha};
use iollm_compute::TrainState;
use iollm_repops::commit::{self, HeaderProof, CHUNK_WORDS};
use iollm_repops::{init, step::ParamLayout};
use iollm_types::bisection::Side;
use iollm_types::game::{Game, GameConfig, Stage};

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
}

impl Words {
    /// Chunk `index` (`None` past the last).
    fn chunk(&self, index: u64) -> Option<Vec<u32>> {
        match self {
            Words::Seed { layout, seed } => init::chunk::<f32>(layout, *seed, index),
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
        match &game.stage {
            Stage::Initial { .. } if self.side == Side::Executor => Some(Move::InitialHeader {
                proof: HeaderProof {
                    header: start.header.clone(),
                    tensors_root: start.tensors_root(),
                },
            }),
            Stage::InitialDescend { descent } => descend(self.side, descent, &start.tree, || {
                start.words.chunk(descent.index).unwrap_or_default()
            }),
            _ => None,
        }
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
}
