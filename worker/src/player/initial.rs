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

/// A state `h_0` as an initial game plays it.
pub struct Start {
    header: Vec<u8>,
    words: Vec<u32>,
    /// Every level of the tree over `words`' chunks, leaf hashes first.
    tree: Vec<Vec<Hash>>,
}

impl Start {
    /// The initial state of `config` for its seed, under the config hash `config_hash`: what an
    /// honest job commits as `h_0`, and what the referee recomputes chunk by chunk.
    pub fn of_seed(config: &GameConfig, config_hash: &Hash) -> Start {
        let layout = ParamLayout::new(&config.step());
        let mut words = init::params::<f32>(&layout, config.seed);
        words.resize(3 * layout.total, 0);
        let header = init::header(*config_hash, config.seed, layout.total as u64);
        Start::new(header.encode(iollm_repops::PROFILE), words)
    }

    /// The state `state` of a run whose config hash is `config_hash` (a checkpoint 0 of its
    /// own, which a forger plays).
    pub fn of_state(state: &TrainState, config_hash: &Hash) -> Start {
        let HeaderProof { header, .. } = state.prove_header(config_hash);
        Start::new(header, state.step_inputs().0)
    }

    fn new(header: Vec<u8>, words: Vec<u32>) -> Start {
        let chunks: Vec<Hash> = words.chunks(CHUNK_WORDS).map(commit::chunk_hash::<Sha>).collect();
        Start { header, words, tree: iollm_repops::merkle::levels::<Sha>(&chunks) }
    }

    /// Its state root (what a job commits as `h_0`).
    pub fn root(&self) -> Hash {
        commit::state_root::<Sha>(&self.header, &self.tensors_root())
    }

    fn tensors_root(&self) -> Hash {
        self.tree.last().map_or([0; 32], |top| top[0])
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
                let at = descent.index as usize * CHUNK_WORDS;
                start.words[at..(at + CHUNK_WORDS).min(start.words.len())].to_vec()
            }),
            _ => None,
        }
    }
}
