//! A player of the dispute game (`iollm_types::game`): given where a game stands, the move its
//! side makes, answered from its own story of the run — honest, or (for tests) with one element
//! of one op of one step altered (a consistent cheat: every later value follows from it). It
//! replays only what a move needs: the states at the checkpoints of its trace, one segment's
//! steps, one step op by op. The tests drive games with it off chain and on the node.

use iollm_compute::game::StepTrace;
use iollm_compute::merkle::{self, Hash};
use iollm_compute::{TrainState, Trainer};
use iollm_repops::referee::{chain_value, Input, Proven};
use iollm_types::bisection::Side;
use iollm_types::game::{Game, Level, Stage};
use std::path::Path;

mod initial;
pub use initial::{BaseError, BaseWeights, InitialPlayer, Start};

/// What a [`Start`] is built for: a game's config, config hash and committed `h_0`.
type StartTerms = (iollm_types::game::GameConfig, Hash, Hash);

/// One element of one op of one step altered by xor-ing its bits (a consistent cheat).
pub type Cheat = iollm_compute::game::Fault;

/// A move of the game, as the contract's messages take it (each variant's doc names its
/// fields, the message's arguments).
#[allow(missing_docs)] // The variant docs name every field.
#[derive(Clone, Debug)]
pub enum Move {
    /// `commit(root, first_path, last, last_path)`.
    Commit { root: Hash, first_path: Vec<Hash>, last: Hash, last_path: Vec<Hash> },
    /// `reveal(value, path)`.
    Reveal { value: Hash, path: Vec<Hash> },
    /// `output(root, siblings)`.
    Output { root: Hash, siblings: Vec<Hash> },
    /// `initial_header(proof)`: `h_0`'s header in an initial game.
    InitialHeader { proof: iollm_repops::commit::HeaderProof },
    /// `children(left, right)`.
    Children { left: Hash, right: Hash },
    /// `pick(right)`.
    Pick { right: bool },
    /// `chunk(words, base_proof)`.
    Chunk { words: Vec<u32>, base_proof: Vec<Vec<u8>> },
    /// `name(offset, root, first_path, last, last_path)`.
    Name { offset: u32, root: Hash, first_path: Vec<Hash>, last: Hash, last_path: Vec<Hash> },
    /// `next_state(scalars, loss, adam)`.
    NextState { scalars: Proven, loss: Proven, adam: (Hash, Vec<Hash>) },
    /// `replay(inputs)`.
    Replay { inputs: Vec<Input> },
}

/// A claim that disputes segment `segment` of the executor's committed trace `executor`
/// (`h_0..h_n`) after replaying that segment alone, to `end` instead of the committed
/// `h_{segment+1}`: the job's `h0`, the executor's checkpoints up to the segment's start, `end`,
/// then at every later position a value the executor's checkpoint there cannot be (a hash of
/// it). So the two traces agree at most up to `h_segment` and differ at every position after
/// it, whatever the executor committed there: level 1 of the game bisects to that segment (or
/// the executor, whose `h_0` is not the job's, cannot answer at all), and every level below
/// replays inside it from the committed `h_segment`, which the verifier has.
pub fn segment_claim(h0: Hash, executor: &[Hash], segment: usize, end: Hash) -> Vec<Hash> {
    use iollm_repops::merkle::Hasher as _;
    executor
        .iter()
        .enumerate()
        .map(|(j, e)| match j {
            0 => h0,
            j if j <= segment => *e,
            j if j == segment + 1 => end,
            _ => merkle::Sha::hash(&[b"iollm-claim-filler", e]),
        })
        .collect()
}

/// One side's story of a run and how it answers.
pub struct Player<'t> {
    /// Its side.
    pub side: Side,
    trainer: &'t Trainer,
    cheat: Option<Cheat>,
    /// Its own run of the job (directory, checkpoint interval), to start replays from.
    run: Option<(&'t Path, u64)>,
    /// Where a liar's chain leaves its replay.
    lie_from: usize,
    /// An executor throwing its game: honest down to level 2, then at level 3 of this cheat's
    /// step it commits the cheat's ops with its own honest next state, so the referee derives
    /// the cheat's state and the executor loses a game its submission did not lose (the
    /// attack a defence answers: `Game::defence`).
    throw: Option<Cheat>,
    /// Its level-1 sequence when it is not its own trace ([`Player::with_claim`]).
    claim: Option<Vec<Hash>>,
    /// Its `h_0` in an initial game, with the terms it was built for ([`Player::start`]).
    start: std::sync::Mutex<Option<(StartTerms, std::sync::Arc<Start>)>>,
    /// Its replay of the last step a move needed ([`Player::step_trace`]): every move below
    /// level 2 reads the same step (its trainer keeps the replay too, for the next player of
    /// the same story: a worker makes one a round).
    traced: std::sync::Mutex<Option<(u64, StepTrace<'t>)>>,
}

impl<'t> Player<'t> {
    /// A player of `side` telling `trainer`'s run, altered by `cheat` if any, recomputed from
    /// the initial state for every state a move needs.
    pub fn new(side: Side, trainer: &'t Trainer, cheat: Option<Cheat>) -> Player<'t> {
        Player {
            side,
            trainer,
            cheat,
            run: None,
            lie_from: 1,
            throw: None,
            claim: None,
            start: Default::default(),
            traced: Default::default(),
        }
    }

    /// An executor with an honest run that throws its game where `cheat` differs from it
    /// (for tests: what an executor does to hand a sybil challenger of its own a win by
    /// recomputation).
    pub fn throwing(trainer: &'t Trainer, cheat: Cheat) -> Player<'t> {
        Player { throw: Some(cheat), ..Player::new(Side::Executor, trainer, None) }
    }

    /// An honest player of `side` with its own run of the job in `run` (the `iollm train
    /// --out` layout, a checkpoint every `every` steps): a state a move needs is replayed from
    /// the checkpoint before it, at most `every − 1` steps, instead of from the start. A
    /// checkpoint that cannot be read (or is of another config) falls back to the start.
    pub fn from_run(side: Side, trainer: &'t Trainer, run: &'t Path, every: u64) -> Player<'t> {
        Player { run: Some((run, every.max(1))), ..Player::new(side, trainer, None) }
    }

    /// This player (a liar) telling, in the chain of the element a game disputes, its replay's
    /// values up to position `pos` and made-up ones from there (from position 1 if not set):
    /// where in the chain the game ends.
    pub fn lying_from(self, pos: usize) -> Player<'t> {
        Player { lie_from: pos, ..self }
    }

    /// This player claiming `claim` at level 1 instead of its own trace: a verifier that
    /// replayed only one segment claims [`segment_claim`], and every level below the first
    /// stays inside that segment, whose states its replay knows.
    pub fn with_claim(self, claim: Vec<Hash>) -> Player<'t> {
        Player { claim: Some(claim), ..self }
    }

    /// Its sequence at level 1 (checkpoints every `every` steps, `n` segments): its claim if it
    /// was given one, else its own trace.
    pub fn level_one(&self, every: u64, n: u64) -> Vec<Hash> {
        match &self.claim {
            Some(claim) => claim.clone(),
            None => self.checkpoints(every, n),
        }
    }

    /// The state before step `step` in this player's story.
    pub fn state(&self, step: u64) -> TrainState {
        let mut st = self.start_for(step);
        while st.step < step {
            st = self.advance(st);
        }
        st
    }

    /// The latest state at or before `step` it can start from: its own checkpoint, else h_0.
    fn start_for(&self, step: u64) -> TrainState {
        if let Some((run, every)) = self.run {
            let k = step / every;
            let path = iollm_compute::train::checkpoint_path(run, k as usize);
            if let Ok((st, _)) = self.trainer.load_checkpoint(&path) {
                if st.step == k * every {
                    return st;
                }
            }
        }
        self.trainer.initial_state()
    }

    /// One step of this player's story from `st`.
    fn advance(&self, mut st: TrainState) -> TrainState {
        match self.cheat {
            Some(c) if c.step == st.step => self.trace(&st).next_state(),
            _ => {
                self.trainer.step(&mut st);
                st
            }
        }
    }

    /// This player's replay of the step from `st`.
    pub fn trace(&self, st: &TrainState) -> StepTrace<'t> {
        self.trainer.trace_step_as(st, self.cheat)
    }

    /// Its replay of step `step` ([`Player::trace`] of its state before it), kept for the next
    /// move about the same step.
    fn step_trace(&self, step: u64) -> StepTrace<'t> {
        let lock = || self.traced.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, trace)) = lock().as_ref().filter(|(at, _)| *at == step) {
            return trace.clone();
        }
        // The one it held goes first: a step's replay holds every value of the step.
        lock().take();
        let trace = self.trace(&self.state(step));
        *lock() = Some((step, trace.clone()));
        trace
    }

    fn root(&self, st: &TrainState) -> Hash {
        st.hash(&self.trainer.config_hash())
    }

    /// Its trace `h_0..h_n` (checkpoints every `every` steps).
    pub fn checkpoints(&self, every: u64, n: u64) -> Vec<Hash> {
        (0..=n).map(|i| self.root(&self.state(i * every))).collect()
    }

    /// Its sequence at the current level of `game`.
    fn sequence(&self, game: &Game, level: Level) -> Vec<Hash> {
        let t = &game.terms;
        match level {
            Level::Segments => self.level_one(u64::from(t.every), u64::from(t.checkpoints)),
            Level::Steps => {
                let first = u64::from(game.segment) * u64::from(t.every);
                let mut st = self.state(first);
                let mut roots = vec![self.root(&st)];
                for _ in 0..t.every {
                    st = self.advance(st);
                    roots.push(self.root(&st));
                }
                roots
            }
            Level::Ops => {
                let mut seq = self.step_trace(game.step).level3();
                if let Some(c) = self.throw.filter(|c| c.step == game.step) {
                    let honest_end = seq.pop();
                    let st = self.state(game.step);
                    seq = Player::new(self.side, self.trainer, Some(c)).trace(&st).level3();
                    seq.pop();
                    seq.extend(honest_end);
                }
                seq
            }
            Level::Chain => self.chain(game).iter().map(|v| chain_value(*v)).collect(),
        }
    }

    /// Its chain of the disputed element, ending at its value of the element (a liar's story
    /// leaves its replay from `lie_from` on when the replay does not end there).
    fn chain(&self, game: &Game) -> Vec<u64> {
        let trace = self.step_trace(game.step);
        let (k, e) = (game.op as usize, game.element as usize);
        let mut c = trace.chain(k, e);
        let claimed = trace.output(k)[e];
        let last = c.len() - 1;
        if c[last] as u32 != claimed {
            for v in c.iter_mut().skip(self.lie_from.clamp(1, last)) {
                *v ^= 1 << 40;
            }
            c[last] = (c[last] & !0xffff_ffff) | u64::from(claimed);
        }
        c
    }

    fn commit_of(seq: &[Hash]) -> Move {
        let last = seq.len() - 1;
        Move::Commit {
            root: merkle::root(seq),
            first_path: merkle::proof(seq, 0).expect("leaf 0"),
            last: seq[last],
            last_path: merkle::proof(seq, last).expect("last leaf"),
        }
    }

    /// The `h_0` it plays in an initial game, built at its first move of a game with these
    /// terms (kept for the next ones): the seed's state, as a challenger always (never a
    /// checkpoint it fetched); as the executor (or an attester in its place) its own
    /// checkpoint 0 when that is the job's committed `h_0`, else the seed's.
    fn start(&self, game: &Game) -> std::sync::Arc<Start> {
        let t = &game.terms;
        let terms = (t.config.clone(), t.config_hash, t.h0);
        let mut held = self.start.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match held.as_ref() {
            Some((built_for, start)) if *built_for == terms => std::sync::Arc::clone(start),
            _ => {
                let seeds = || Start::of_seed(&t.config, &t.config_hash);
                let start = match self.side {
                    Side::Challenger => seeds(),
                    Side::Executor => {
                        let own = Start::of_state(&self.state(0), &self.trainer.config_hash());
                        if own.root() == t.h0 {
                            own
                        } else {
                            seeds()
                        }
                    }
                };
                let start = std::sync::Arc::new(start);
                *held = Some((terms, std::sync::Arc::clone(&start)));
                start
            }
        }
    }
}

impl Respond for Player<'_> {
    fn respond(&self, game: &Game) -> Option<Move> {
        let me = match self.side {
            Side::Executor => 0,
            Side::Challenger => 1,
        };
        match &game.stage {
            Stage::Commit { level, roots, .. } if roots[me].is_none() => {
                Some(Self::commit_of(&self.sequence(game, *level)))
            }
            Stage::Bisect { level, bisection, .. } if bisection.awaits(self.side) => {
                let seq = self.sequence(game, *level);
                let mid = bisection.midpoint()? as usize;
                Some(Move::Reveal { value: seq[mid], path: merkle::proof(&seq, mid)? })
            }
            Stage::Output { op, .. } if self.side == Side::Executor => {
                let trace = self.step_trace(game.step);
                let k = *op as usize;
                Some(Move::Output {
                    root: trace.output_root(k),
                    siblings: trace.op_root_path(k + 1, 1 + k),
                })
            }
            Stage::Descend { op, descent } => {
                let trace = self.step_trace(game.step);
                let k = *op as usize;
                descend(self.side, descent, &trace.output_tree(k), || {
                    (trace.chunk(k, descent.index).to_vec(), Vec::new())
                })
            }
            // A base model's initial game needs the base's proofs: played from
            // `Start::of_base`, not from a trainer.
            Stage::Initial { .. } | Stage::InitialDescend { .. } if game.terms.base.is_none() => {
                self.start(game).player(self.side).respond(game)
            }
            Stage::Name { op, index, chunk, .. } if self.side == Side::Challenger => {
                let trace = self.step_trace(game.step);
                let mine = trace.chunk(*op as usize, *index);
                let offset = mine.iter().zip(chunk).position(|(a, b)| a != b)?;
                let element = *index as usize * iollm_repops::commit::CHUNK_WORDS + offset;
                let mut named = game.clone();
                named.element = element as u32;
                let steps = trace.program().ops[*op as usize].chain_len(element);
                let seq: Vec<Hash> = if steps == 0 {
                    vec![chain_value(0), chain_value(u64::from(mine[offset]))]
                } else {
                    self.chain(&named).iter().map(|v| chain_value(*v)).collect()
                };
                let Move::Commit { root, first_path, last, last_path } = Self::commit_of(&seq)
                else {
                    unreachable!("commit_of makes a commit")
                };
                Some(Move::Name { offset: offset as u32, root, first_path, last, last_path })
            }
            // A thrower leaves the referee's inputs to the other side (its own would not prove).
            Stage::NextState { .. } if self.throw.is_some() => None,
            Stage::NextState { .. } => {
                let (scalars, loss, adam) = self.step_trace(game.step).seal_proofs();
                Some(Move::NextState { scalars, loss, adam })
            }
            Stage::Replay { pos, acc, .. } => {
                let trace = self.step_trace(game.step);
                let inputs =
                    trace.leaf_inputs(game.op as usize, game.element as usize, *pos as usize, *acc);
                Some(Move::Replay { inputs })
            }
            _ => None,
        }
    }
}

/// What a side answers in a game: the move it makes now, if it owes one (or may make one).
pub trait Respond {
    /// Its move in `game` as it stands, if any.
    fn respond(&self, game: &Game) -> Option<Move>;
}

impl<R: Respond + ?Sized> Respond for &R {
    fn respond(&self, game: &Game) -> Option<Move> {
        R::respond(self, game)
    }
}

/// `side`'s move in a descent of `tree` (its levels, leaf hashes first): the children of the
/// current node or the leaf's chunk (`chunk`) as the executor, the child it disputes as the
/// challenger (the left one unless the left is its own).
fn descend(
    side: Side,
    descent: &iollm_types::descent::Descent,
    tree: &[Vec<Hash>],
    chunk: impl FnOnce() -> (Vec<u32>, Vec<Vec<u8>>),
) -> Option<Move> {
    let (level, i) = (descent.level as usize, descent.index as usize);
    match (descent.turn()?, side) {
        (Side::Executor, Side::Executor) if level > 0 => {
            Some(Move::Children { left: tree[level - 1][2 * i], right: tree[level - 1][2 * i + 1] })
        }
        (Side::Executor, Side::Executor) => {
            let (words, base_proof) = chunk();
            Some(Move::Chunk { words, base_proof })
        }
        (Side::Challenger, Side::Challenger) => {
            let (left, _) = descent.children?;
            Some(Move::Pick { right: left == tree[level - 1][2 * i] })
        }
        _ => None,
    }
}

impl Move {
    /// Makes this move for `side` in `game` at block `now`, off chain: what the dispute
    /// contract does with the same arguments.
    pub fn apply(
        self,
        game: &mut Game,
        side: Side,
        now: iollm_types::BlockNumber,
    ) -> Result<(), iollm_types::game::GameError> {
        use iollm_compute::merkle::Sha;
        match self {
            Move::Commit { root, first_path, last, last_path } => {
                game.commit::<Sha>(side, root, &first_path, last, &last_path, now)
            }
            Move::Reveal { value, path } => game.reveal::<Sha>(side, value, &path, now),
            Move::Output { root, siblings } => game.output::<Sha>(root, &siblings, now),
            Move::InitialHeader { proof } => game.initial_header::<Sha>(&proof, now),
            Move::Children { left, right } => game.children::<Sha>(left, right, now),
            Move::Pick { right } => game.pick(right, now),
            Move::Chunk { words, base_proof } => game.chunk::<Sha>(words, &base_proof, now),
            Move::Name { offset, root, first_path, last, last_path } => {
                game.name::<Sha>(offset, root, &first_path, last, &last_path, now)
            }
            Move::NextState { scalars, loss, adam } => {
                game.next_state::<Sha>(&scalars, &loss, (&adam.0, &adam.1), now)
            }
            Move::Replay { inputs } => game.replay::<Sha>(&inputs, now),
        }
    }
}

impl Move {
    /// The dispute contract's call data for this move in game `game`.
    pub fn call(&self, game: iollm_types::dispute::GameId) -> Vec<u8> {
        use iollm_types::dispute::calls;
        match self {
            Move::Commit { root, first_path, last, last_path } => {
                calls::commit(game, *root, first_path, *last, last_path)
            }
            Move::Reveal { value, path } => calls::reveal(game, *value, path),
            Move::Output { root, siblings } => calls::output(game, *root, siblings),
            Move::InitialHeader { proof } => calls::initial_header(game, proof),
            Move::Children { left, right } => calls::children(game, *left, *right),
            Move::Pick { right } => calls::pick(game, *right),
            Move::Chunk { words, base_proof } => calls::chunk(game, words, base_proof),
            Move::Name { offset, root, first_path, last, last_path } => {
                calls::name(game, *offset, *root, first_path, *last, last_path)
            }
            Move::NextState { scalars, loss, adam } => {
                calls::next_state(game, scalars, loss, adam.0, &adam.1)
            }
            Move::Replay { inputs } => calls::replay(game, inputs),
        }
    }

    /// A short name of the move, for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Move::Commit { .. } => "commit",
            Move::Reveal { .. } => "reveal",
            Move::Output { .. } => "output",
            Move::InitialHeader { .. } => "initial_header",
            Move::Children { .. } => "children",
            Move::Pick { .. } => "pick",
            Move::Chunk { .. } => "chunk",
            Move::Name { .. } => "name",
            Move::NextState { .. } => "next_state",
            Move::Replay { .. } => "replay",
        }
    }
}

/// Why [`play`] could not play a game.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    /// No game has this id.
    #[error("no dispute game with id {0} (or it was settled and closed)")]
    NoSuchGame(iollm_types::dispute::GameId),
    /// The signer is neither side of the game.
    #[error("you are neither the executor nor the challenger of game {0}")]
    NotAPlayer(iollm_types::dispute::GameId),
    /// The chain refused or failed.
    #[error(transparent)]
    Chain(#[from] iollm_chain::ChainError),
}

/// Plays `signer`'s side of game `game` with the story `story` gives for its side (an honest
/// [`Player::new`] or [`Player::from_run`], a [`Start`]'s [`InitialPlayer`]; a cheat, for
/// tests; a reference to one, to keep what it built between moves): makes every move the side
/// owes as soon as it owes it and ends the game by `timeout` when the other side is late. With
/// `wait`, it waits for new blocks in between until the game is decided (a move overtaken by
/// the other side's is read again); without, it returns as soon as it has nothing to do.
/// `moved` hears of each call made, with the kind of move. Returns the game as it then stands.
pub async fn play<R: Respond>(
    conn: &iollm_chain::Connection,
    signer: &iollm_chain::Signer,
    game: iollm_types::dispute::GameId,
    story: impl Fn(Side) -> R,
    wait: bool,
    mut moved: impl FnMut(&'static str, &iollm_chain::contract::Executed<()>),
) -> Result<Game, PlayError> {
    let me = signer.account_bytes();
    let dispute = conn.dispute()?;
    // Its side's story, made once: what it builds for a move (a step's replay) serves the next.
    let mut mine: Option<R> = None;
    loop {
        let g = dispute.game(game).await?.ok_or(PlayError::NoSuchGame(game))?;
        if g.verdict().is_some() {
            return Ok(g);
        }
        let side = match g.terms.sides {
            [executor, _] if executor == me => Side::Executor,
            [_, challenger] if challenger == me => Side::Challenger,
            _ => return Err(PlayError::NotAPlayer(game)),
        };
        let now = conn.chain.best_block().await?;
        // The other side is late by the next block (in which the call lands): end the game.
        // (Checked first: it needs no replay.)
        let late = g.clone().timeout(now.saturating_add(1));
        if late.is_some_and(|s| s != side) {
            let call = dispute.play(signer, iollm_types::dispute::calls::timeout(game)).await?;
            moved("timeout", &call);
        } else if let Some(m) = mine.get_or_insert_with(|| story(side)).respond(&g) {
            let kind = m.kind();
            match dispute.play(signer, m.call(game)).await {
                Ok(call) => moved(kind, &call),
                // The other side's move (or a timeout) landed between our read and ours, so
                // ours failed when it landed: a waiting player reads the game again.
                Err(iollm_chain::ChainError::Dispatch { .. }) if wait => {}
                Err(e) => return Err(e.into()),
            }
        } else if wait {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        } else {
            return Ok(g);
        }
    }
}
