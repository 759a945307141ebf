//! The whole dispute game between an executor and one challenger (VERIFICATION.md), as a pure
//! state machine that the dispute contract stores and drives; every Merkle check and the final
//! recomputation happen here, with the caller's SHA-256 ([`Hasher`]) and soft floats.
//!
//! Levels, each a [`Bisection`] over a sequence both sides committed to: 1 the trace's
//! checkpoints (the committed trace roots), 2 the steps of the disputed segment, 3 the cumulative
//! roots after each op of the disputed step then the next state root; then a [`Descent`] of the
//! executor's tree over the disputed op's output (4); then 5 the disputed element's chain. At the
//! bottom [`referee::replay`] recomputes one chain step from proven inputs (or
//! [`referee::next_state`] the step's last transition), and the side whose value it matches
//! wins. Each move has a deadline: a side that misses one loses ([`Game::timeout`]). An honest
//! side wins against any opponent: every value it reveals is true.
//!
//! An *initial game* disputes the job's `h_0` instead ([`Game::open_initial`]): the executor
//! reveals its header, which must be the initial one ([`iollm_repops::init::header`]), then a
//! descent of its tensors' tree ends on one chunk that the referee recomputes from the seed
//! ([`iollm_repops::init::chunk`]). An output game asks the executor to prove one thing of its
//! package ([`Game::open_package`]).
//!
//! What it is not: money. The market reads [`Stage::Decided`] and pays.

use crate::bisection::{Bisection, BisectionError, Side, Value, Verdict};
use crate::descent::{Descent, DescentError, Phase};
use crate::package::{Answer, Question, Submitted};
use crate::BlockNumber;
use alloc::vec::Vec;
use iollm_repops::commit::{self, chunk_hash, CHUNK_WORDS};
use iollm_repops::merkle::{self, Hasher};
use iollm_repops::referee::{self, chain_value, Input, Leaf, LeafError, Proven};
use iollm_repops::step::{self, Program, StepConfig};
use iollm_repops::{init, F32, PROFILE};
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// A training job's step, as the game needs it: the model, batch, corpus length and optimizer
/// (floats as bits), SCALE-encoded so the contract can store it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct GameConfig {
    /// Transformer blocks.
    pub n_layer: u32,
    /// Attention heads.
    pub n_head: u32,
    /// Width.
    pub n_embd: u32,
    /// Context length.
    pub n_ctx: u32,
    /// Sequences per step.
    pub batch: u32,
    /// Corpus bytes.
    pub corpus_len: u64,
    /// Bits of the learning rate, β1, β2, ε and the weight decay.
    pub optimizer: [u32; 5],
    /// Warm-up steps.
    pub warmup_steps: u64,
    /// The seed: the initial weights' stream and the sampler's start from it (`REPOPS.md` §5).
    pub seed: u64,
}

impl GameConfig {
    /// The smallest step a game can be about (1 layer, 1 head, width 8, context 4, batch 1, a
    /// 100-byte corpus): for tests whose games are not played down to a replay.
    pub const SMALLEST: GameConfig = GameConfig {
        n_layer: 1,
        n_head: 1,
        n_embd: 8,
        n_ctx: 4,
        batch: 1,
        corpus_len: 100,
        optimizer: [1; 5],
        warmup_steps: 0,
        seed: 0,
    };

    /// Its parameters (`P`, of `params ‖ m ‖ v`).
    pub fn params(&self) -> u64 {
        step::ParamLayout::new(&self.step()).total as u64
    }

    /// The step program's config.
    pub fn step(&self) -> StepConfig {
        let [lr, beta1, beta2, eps, weight_decay] = self.optimizer;
        StepConfig {
            n_layer: self.n_layer as usize,
            n_head: self.n_head as usize,
            n_embd: self.n_embd as usize,
            n_ctx: self.n_ctx as usize,
            batch: self.batch as usize,
            corpus_len: self.corpus_len as usize,
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            warmup_steps: self.warmup_steps,
        }
    }

    /// Whether a step program can be built from it within the game's bounds: every size at
    /// least 1, the width a multiple of the heads, the corpus longer than a context and under
    /// 4 GiB, at most 16 layers, and every tensor of a step (activations, attention scores,
    /// `params ‖ m ‖ v`) under 2^31 elements, so every index fits the contract's 32-bit `usize`.
    pub fn is_valid(&self) -> bool {
        let sizes = [self.n_layer, self.n_head, self.n_embd, self.n_ctx, self.batch];
        if sizes.contains(&0)
            || self.n_layer > 16
            || self.n_embd.checked_rem(self.n_head) != Some(0)
            || self.corpus_len <= u64::from(self.n_ctx)
            || self.corpus_len >= 1 << 32
        {
            return false;
        }
        let [l, h, c, t, b] = sizes.map(u64::from);
        let largest = || -> Option<u64> {
            let rows = b.checked_mul(t)?;
            let activations = rows.checked_mul(c.checked_mul(4)?.max(256))?;
            let scores = b.checked_mul(h)?.checked_mul(t)?.checked_mul(t)?;
            let block = c.checked_mul(c)?.checked_mul(12)?.checked_add(c.checked_mul(13)?)?;
            let embeddings = t.checked_add(258)?.checked_mul(c)?;
            let params = embeddings.checked_add(l.checked_mul(block)?)?;
            Some(activations.max(scores).max(params.checked_mul(3)?))
        };
        largest().is_some_and(|n| n < 1 << 31)
    }
}

/// The most moves a game about a run can take: one for each of the seven stages that wait on
/// one (the executor's level-1 commit, the commits of levels 2, 3 and 5, the output root, the
/// named element, the referee's inputs), and two (one a side) for each round of each bisection
/// and of the descent (a chain's at most 32, the chain length being a `u32`). `None` if
/// `config` is invalid or it overflows.
pub fn most_moves(config: &GameConfig, every: u32, checkpoints: u32) -> Option<u32> {
    if !config.is_valid() {
        return None;
    }
    let prog = step::program(&config.step());
    let ops = u32::try_from(prog.ops.len()).ok()?.checked_add(1)?;
    let widest = prog.ops.iter().map(|op| op.len as u64).max()?;
    let descent = crate::descent::height(commit::chunk_count(widest)).checked_add(1)?;
    let bisections: u32 =
        [checkpoints, every, ops].iter().map(|n| Bisection::max_rounds(*n).max(1)).sum();
    let rounds = bisections.checked_add(descent)?.checked_add(u32::BITS)?;
    rounds.checked_mul(2)?.checked_add(7)
}

/// The most blocks a game can last when every side takes all the time it is given: a side's
/// clock of `move_blocks` for each of its [`most_moves`], and the block in which anyone ends
/// it. `None` if `config` is invalid or it overflows.
pub fn longest(
    config: &GameConfig,
    every: u32,
    checkpoints: u32,
    move_blocks: BlockNumber,
) -> Option<BlockNumber> {
    move_blocks.checked_mul(most_moves(config, every, checkpoints)?)?.checked_add(1)
}

/// What a game is about, fixed when it opens.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Terms {
    /// The executor's and the challenger's accounts.
    pub sides: [crate::AccountBytes; 2],
    /// The step the job trains.
    pub config: GameConfig,
    /// The config hash every state header carries.
    pub config_hash: Value,
    /// The corpus root.
    pub corpus_root: Value,
    /// Steps per checkpoint segment.
    pub every: u32,
    /// Checkpoints `n` (the trace holds `h_0..h_n`).
    pub checkpoints: u32,
    /// Each side's trace root (executor's as submitted; challenger's with its claim).
    pub trace_roots: [Value; 2],
    /// The state root before the first step, committed with the job: leaf 0 of both traces.
    pub h0: Value,
    /// Blocks a side has for one move (a bisection level gets one per round it can last).
    pub move_blocks: BlockNumber,
    /// What the job committed about its output package.
    pub output: crate::package::OutputCommit,
    /// The executor's output CID, binary (what an output game reads).
    pub output_cid: Vec<u8>,
    /// The base model's package CID, binary: where an initial game reads `h_0`'s parameters
    /// ([`crate::package::base_chunk`]); `None`: from the seed.
    pub base: Option<Vec<u8>>,
}

/// A level bisected over a committed sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum Level {
    /// 1: the trace's checkpoints.
    Segments,
    /// 2: the steps of the disputed segment.
    Steps,
    /// 3: the ops of the disputed step, then the next state.
    Ops,
    /// 5: the disputed element's chain.
    Chain,
}

/// What a side's last committed value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum End {
    /// Exactly this value.
    Exact(Value),
    /// A chain value whose low word is this element.
    Element(u32),
    /// Any value (level 1: each side's `h_n` is its own claim).
    Any,
}

/// How a game was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum How {
    /// The referee recomputed one chain step.
    Replay,
    /// The referee derived the next state root from the agreed ops.
    NextState,
    /// The disputed element is `+0` by definition.
    Masked,
    /// A side missed a deadline.
    Timeout,
    /// The executor's `h_n` is the challenger's own: nothing was disputed.
    NoDispute,
    /// The executor proved what was asked of its output package.
    Proven,
    /// The referee recomputed the disputed chunk of the initial state from the seed.
    Initial,
}

/// Where the game stands. `opened` is the block the stage's move became due; the other fields
/// are named in each variant's doc.
#[allow(missing_docs)] // The variant docs name every field.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum Stage {
    /// Each side commits its root over the level's `n + 1` values, whose first is `start` and
    /// last its [`End`]; `roots` holds `(root, last value)` once committed.
    Commit {
        level: Level,
        n: u32,
        start: Value,
        ends: [End; 2],
        roots: [Option<(Value, Value)>; 2],
        opened: BlockNumber,
    },
    /// Rounds of reveals against the committed roots, of sequences of `size` values.
    Bisect { level: Level, roots: [Value; 2], size: u64, bisection: Bisection },
    /// The executor reveals the root of op `op`'s output (level 4 opens).
    Output { op: u32, after: [Value; 2], opened: BlockNumber },
    /// The descent of the executor's tree over op `op`'s output.
    Descend { op: u32, descent: Descent },
    /// The challenger names the element of the revealed chunk (chunk `index` of the output)
    /// it disputes.
    Name { op: u32, index: u64, chunk: Vec<u32>, opened: BlockNumber },
    /// Anyone proves the next state root from the agreed root after every op.
    NextState { claims: [Value; 2], opened: BlockNumber },
    /// Anyone supplies the proven inputs of the disputed chain step.
    Replay { pos: u32, acc: u64, claims: [Value; 2], opened: BlockNumber },
    /// An output game: the executor proves what [`Game::question`] asks of its package.
    Package { opened: BlockNumber },
    /// An initial game: the executor reveals the header of `h_0` with its tensors' root.
    Initial { opened: BlockNumber },
    /// The descent of the executor's tree over `h_0`'s tensors (an initial game).
    InitialDescend { descent: Descent },
    /// Over: the verdict on the executor's result.
    Decided { verdict: Verdict, how: How },
}

/// Why a move was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum GameError {
    /// Not a move of this stage.
    WrongStage,
    /// Not this side's move.
    NotYourMove,
    /// A value or root does not match what it must (a Merkle proof, a hash, an end).
    BadProof,
    /// The two sides claim the same result: nothing to dispute.
    NoDisagreement,
    /// The named element is the same on both sides.
    NotDisputed,
    /// An index is out of range, or the config cannot be played.
    OutOfRange,
    /// The deadline passed: call `timeout`.
    TooLate,
    /// The step read an input nobody supplied.
    MissingInput,
    /// A count overflowed.
    Overflow,
}

impl From<BisectionError> for GameError {
    fn from(e: BisectionError) -> GameError {
        match e {
            BisectionError::Empty | BisectionError::Narrowed => GameError::WrongStage,
            BisectionError::NoDisagreement => GameError::NoDisagreement,
            BisectionError::AlreadyRevealed => GameError::NotYourMove,
            BisectionError::ClockRanOut => GameError::TooLate,
            BisectionError::Overflow => GameError::Overflow,
        }
    }
}

impl From<DescentError> for GameError {
    fn from(e: DescentError) -> GameError {
        match e {
            DescentError::Empty => GameError::OutOfRange,
            DescentError::NotYourMove => GameError::NotYourMove,
            DescentError::ClockRanOut => GameError::TooLate,
            DescentError::Overflow => GameError::Overflow,
        }
    }
}

/// One game.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Game {
    /// What it is about.
    pub terms: Terms,
    /// Where it stands.
    pub stage: Stage,
    /// The disputed segment (after level 1).
    pub segment: u32,
    /// The disputed step (after level 2): the state before it is step `step`.
    pub step: u64,
    /// The disputed op (after level 3) and the cumulative root both agree on before it.
    pub op: u32,
    /// The cumulative root after `op` ops, agreed.
    pub ops_root: Value,
    /// The disputed element of the op's output (after level 4).
    pub element: u32,
    /// Moves made (reveals, commits, descent moves).
    pub moves: u32,
    /// The challenger's claimed `h_n` (leaf `n` of its trace root), kept so that an attester
    /// of the executor's result can defend it against the same claim ([`Game::defence`]).
    pub claim: Value,
    /// An output game's question (`None` in a game about the trace), kept for its defences.
    pub question: Option<Question>,
    /// Whether it is an initial game (about `h_0`), kept for its defences.
    pub initial: bool,
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Executor => 0,
        Side::Challenger => 1,
    }
}

/// The value of a chain as a game value's first 8 bytes.
fn chain_u64(v: &Value) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&v[..8]);
    u64::from_le_bytes(b)
}

impl Game {
    /// Opens a game at level 1 with the challenger's claim: its trace root
    /// (`terms.trace_roots[1]`) holds the job's `h_0` at position 0 and its `h_n` (`last`) at
    /// position `n`. The executor answers with the same about its own trace root ([`Game::commit`]
    /// at [`Level::Segments`]) before `move_blocks` pass, or loses.
    pub fn open<H: Hasher>(
        terms: Terms,
        first_path: &[Value],
        last: Value,
        last_path: &[Value],
        now: BlockNumber,
    ) -> Result<Game, GameError> {
        if !terms.config.is_valid() || terms.every == 0 || terms.checkpoints == 0 {
            return Err(GameError::OutOfRange);
        }
        let root = terms.trace_roots[1];
        let mut game = Game::at_level_one(terms, None, now);
        game.commit::<H>(Side::Challenger, root, first_path, last, last_path, now)?;
        game.claim = last;
        Ok(game)
    }

    /// Opens an output game: the executor must prove what `question` asks of the package its
    /// result names ([`crate::package::check`]) before `move_blocks` pass, or loses.
    pub fn open_package(
        terms: Terms,
        question: Question,
        now: BlockNumber,
    ) -> Result<Game, GameError> {
        if !terms.output.is_valid() || !terms.output.asks(&question) || terms.checkpoints == 0 {
            return Err(GameError::OutOfRange);
        }
        let mut game = Game::at_level_one(terms, None, now);
        game.stage = Stage::Package { opened: now };
        game.question = Some(question);
        Ok(game)
    }

    /// Opens an initial game: the challenger says the job's `h_0` is not the state its config
    /// starts from. The executor reveals `h_0`'s header ([`Game::initial_header`]) before
    /// `move_blocks` pass, or loses.
    pub fn open_initial(terms: Terms, now: BlockNumber) -> Result<Game, GameError> {
        if !terms.config.is_valid() || terms.checkpoints == 0 {
            return Err(GameError::OutOfRange);
        }
        let mut game = Game::at_level_one(terms, None, now);
        game.stage = Stage::Initial { opened: now };
        game.initial = true;
        Ok(game)
    }

    /// The executor reveals `h_0`'s header and tensors' root: refused ([`GameError::BadProof`];
    /// the clock runs on) unless they are `h_0`'s and the header is the initial one of the job's
    /// config hash, model and seed. Opens the descent of the tensors' tree.
    pub fn initial_header<H: Hasher>(
        &mut self,
        proof: &commit::HeaderProof,
        now: BlockNumber,
    ) -> Result<(), GameError> {
        let Stage::Initial { opened } = self.stage else { return Err(GameError::WrongStage) };
        Self::in_time(self.terms.move_blocks, opened, now)?;
        let params = self.terms.config.params();
        let header = match commit::Header::decode(&proof.header) {
            Some((profile, h))
                if proof.verify::<H>(&self.terms.h0) && profile == PROFILE.as_bytes() =>
            {
                h
            }
            _ => return Err(GameError::BadProof),
        };
        if header != init::header(self.terms.config_hash, self.terms.config.seed, params) {
            return Err(GameError::BadProof);
        }
        let words = params.checked_mul(3).ok_or(GameError::Overflow)?;
        let descent = self.descent_of(commit::chunk_count(words), proof.tensors_root, now)?;
        self.stage = Stage::InitialDescend { descent };
        self.count()
    }

    /// The executor's proof in an output game: decides the game for it if `answer` proves
    /// what was asked, else refuses the move ([`GameError::BadProof`]; the clock runs on).
    pub fn prove_package<H: Hasher>(
        &mut self,
        answer: &Answer,
        now: BlockNumber,
    ) -> Result<(), GameError> {
        let (Stage::Package { opened }, Some(question)) = (&self.stage, self.question) else {
            return Err(GameError::WrongStage);
        };
        let opened = *opened;
        Self::in_time(self.terms.move_blocks, opened, now)?;
        let checkpoints = u64::from(self.terms.checkpoints);
        let submitted = Submitted {
            output: &self.terms.output_cid,
            trace_root: &self.terms.trace_roots[0],
            trace_leaves: checkpoints.checked_add(1).ok_or(GameError::Overflow)?,
        };
        crate::package::check::<H>(&self.terms.output, &submitted, &question, answer)
            .map_err(|_| GameError::BadProof)?;
        self.count()?;
        self.stage = Stage::Decided { verdict: Verdict::Executor, how: How::Proven };
        Ok(())
    }

    /// A new game about this one's claim, in which `defender` (an attester of the executor's
    /// result) defends the executor's committed trace in the executor's place: the challenger's
    /// claim stands committed as it was proven at opening, and the defender answers at level 1
    /// within `move_blocks` as the executor would, or loses. An executor that threw its own game
    /// (answered against its committed trace below level 1, which nothing fixes beforehand)
    /// thus cannot make its attesters lose their bonds: an attester whose result is right wins
    /// its defence against any claim.
    pub fn defence(&self, defender: crate::AccountBytes, now: BlockNumber) -> Game {
        let mut terms = self.terms.clone();
        terms.sides[0] = defender;
        if self.initial {
            let mut game = Game::at_level_one(terms, None, now);
            game.stage = Stage::Initial { opened: now };
            game.initial = true;
            return game;
        }
        if let Some(question) = self.question {
            // An output game's defence: the attester proves the same question.
            let mut game = Game::at_level_one(terms, None, now);
            game.stage = Stage::Package { opened: now };
            game.question = Some(question);
            return game;
        }
        let claim = Some((terms.trace_roots[1], self.claim));
        let mut game = Game::at_level_one(terms, claim, now);
        game.claim = self.claim;
        game
    }

    /// A game at level 1, the challenger's `(root, h_n)` committed if given.
    fn at_level_one(terms: Terms, claim: Option<(Value, Value)>, now: BlockNumber) -> Game {
        let (n, start) = (terms.checkpoints, terms.h0);
        Game {
            terms,
            stage: Stage::Commit {
                level: Level::Segments,
                n,
                start,
                ends: [End::Any, End::Any],
                roots: [None, claim],
                opened: now,
            },
            segment: 0,
            step: 0,
            op: 0,
            ops_root: [0; 32],
            element: 0,
            moves: 0,
            claim: [0; 32],
            question: None,
            initial: false,
        }
    }

    /// The blocks a bisection of `n` transitions gives each side.
    fn budget(move_blocks: BlockNumber, n: u32) -> Result<BlockNumber, GameError> {
        move_blocks.checked_mul(Bisection::max_rounds(n).max(1)).ok_or(GameError::Overflow)
    }

    fn program(&self) -> Program {
        step::program(&self.terms.config.step())
    }

    /// A move due since `opened` is still in time at `now` (`move_blocks` later at most).
    fn in_time(
        move_blocks: BlockNumber,
        opened: BlockNumber,
        now: BlockNumber,
    ) -> Result<(), GameError> {
        if now > opened.saturating_add(move_blocks) {
            return Err(GameError::TooLate);
        }
        Ok(())
    }

    fn count(&mut self) -> Result<(), GameError> {
        self.moves = self.moves.checked_add(1).ok_or(GameError::Overflow)?;
        Ok(())
    }

    /// The side whose move is awaited, if exactly one is (`None` when both or anyone may move,
    /// or the game is over).
    pub fn awaits(&self) -> Option<Side> {
        match &self.stage {
            Stage::Commit { roots, .. } => match roots {
                [None, Some(_)] => Some(Side::Executor),
                [Some(_), None] => Some(Side::Challenger),
                _ => None,
            },
            Stage::Bisect { bisection, .. } => {
                match (bisection.awaits(Side::Executor), bisection.awaits(Side::Challenger)) {
                    (true, false) => Some(Side::Executor),
                    (false, true) => Some(Side::Challenger),
                    _ => None,
                }
            }
            Stage::Output { .. } | Stage::Package { .. } | Stage::Initial { .. } => {
                Some(Side::Executor)
            }
            Stage::Descend { descent, .. } | Stage::InitialDescend { descent, .. } => {
                descent.turn()
            }
            Stage::Name { .. } => Some(Side::Challenger),
            Stage::NextState { .. } | Stage::Replay { .. } | Stage::Decided { .. } => None,
        }
    }

    /// After a bisection narrowed: opens what comes next.
    fn advance<H: Hasher>(&mut self, now: BlockNumber) -> Result<(), GameError> {
        let Stage::Bisect { level, bisection: b, .. } = &self.stage else { return Ok(()) };
        if !b.is_narrowed() {
            return Ok(());
        }
        let (level, lo, agreed, disputed) = (*level, b.lo, b.agreed, b.disputed);
        let exact = [End::Exact(disputed[0]), End::Exact(disputed[1])];
        let commit = |level, n, start, ends| Stage::Commit {
            level,
            n,
            start,
            ends,
            roots: [None, None],
            opened: now,
        };
        self.stage = match level {
            Level::Segments => {
                self.segment = lo;
                commit(Level::Steps, self.terms.every, agreed, exact)
            }
            Level::Steps => {
                let first = u64::from(self.segment).checked_mul(u64::from(self.terms.every));
                self.step =
                    first.and_then(|s| s.checked_add(u64::from(lo))).ok_or(GameError::Overflow)?;
                let ops = self.program().ops.len();
                let start = commit::op_root::<H>(&agreed, &[], ops);
                let n = u32::try_from(ops).map_err(|_| GameError::Overflow)?.saturating_add(1);
                commit(Level::Ops, n, start, exact)
            }
            Level::Ops => {
                self.op = lo;
                self.ops_root = agreed;
                if lo as usize == self.program().ops.len() {
                    Stage::NextState { claims: disputed, opened: now }
                } else {
                    Stage::Output { op: lo, after: disputed, opened: now }
                }
            }
            Level::Chain => {
                Stage::Replay { pos: lo, acc: chain_u64(&agreed), claims: disputed, opened: now }
            }
        };
        Ok(())
    }

    /// `side` commits its root over the current level's sequence: `first_path` proves the
    /// level's start at position 0, `last_path` its `last` value at position `n`.
    pub fn commit<H: Hasher>(
        &mut self,
        side: Side,
        root: Value,
        first_path: &[Value],
        last: Value,
        last_path: &[Value],
        now: BlockNumber,
    ) -> Result<(), GameError> {
        let Stage::Commit { level, n, start, ends, roots, opened } = &mut self.stage else {
            return Err(GameError::WrongStage);
        };
        let i = side_index(side);
        if roots[i].is_some() {
            return Err(GameError::NotYourMove);
        }
        Self::in_time(self.terms.move_blocks, *opened, now)?;
        let leaves = u64::from(*n).saturating_add(1);
        let end_ok = match ends[i] {
            End::Exact(v) => last == v,
            End::Element(w) => chain_u64(&last) as u32 == w && last[8..] == [0; 24],
            End::Any => true,
        };
        // Level 1's roots are the trace roots already committed (the executor's at submission).
        if *level == Level::Segments && root != self.terms.trace_roots[i] {
            return Err(GameError::BadProof);
        }
        if !end_ok
            || !merkle::verify::<H>(&root, start, 0, leaves, first_path)
            || !merkle::verify::<H>(&root, &last, u64::from(*n), leaves, last_path)
        {
            return Err(GameError::BadProof);
        }
        roots[i] = Some((root, last));
        let (level, n, start) = (*level, *n, *start);
        if let [Some((root_e, last_e)), Some((root_c, last_c))] = *roots {
            if last_e == last_c {
                // The executor's result is the challenger's claim: nothing to dispute.
                self.stage = Stage::Decided { verdict: Verdict::Executor, how: How::NoDispute };
                return self.count();
            }
            let budget = Self::budget(self.terms.move_blocks, n)?;
            let bisection = Bisection::open(n, start, [last_e, last_c], budget, now)?;
            self.stage = Stage::Bisect { level, roots: [root_e, root_c], size: leaves, bisection };
        }
        self.count()?;
        self.advance::<H>(now)
    }

    /// `side` reveals its value at the current bisection's midpoint, proven against its root.
    pub fn reveal<H: Hasher>(
        &mut self,
        side: Side,
        value: Value,
        path: &[Value],
        now: BlockNumber,
    ) -> Result<(), GameError> {
        let Stage::Bisect { roots, size, bisection, .. } = &mut self.stage else {
            return Err(GameError::WrongStage);
        };
        let mid = bisection.midpoint().ok_or(GameError::WrongStage)?;
        // Every proof of a level is against a sequence of the level's fixed size.
        if !merkle::verify::<H>(&roots[side_index(side)], &value, u64::from(mid), *size, path) {
            return Err(GameError::BadProof);
        }
        bisection.reveal(side, value, now)?;
        self.count()?;
        self.advance::<H>(now)
    }

    /// The executor reveals the root of the disputed op's output: its root after the op must be
    /// the agreed one with only that leaf added (`siblings`, the same in both).
    pub fn output<H: Hasher>(
        &mut self,
        root: Value,
        siblings: &[Value],
        now: BlockNumber,
    ) -> Result<(), GameError> {
        let Stage::Output { op, after, opened } = &self.stage else {
            return Err(GameError::WrongStage);
        };
        Self::in_time(self.terms.move_blocks, *opened, now)?;
        let (op, after) = (*op, after[0]);
        let prog = self.program();
        let ops = prog.ops.len();
        if !referee::op_output::<H>(&self.ops_root, &after, op as usize, ops, &root, siblings) {
            return Err(GameError::BadProof);
        }
        let len = prog.ops.get(op as usize).ok_or(GameError::OutOfRange)?.len as u64;
        let descent = self.descent_of(commit::chunk_count(len), root, now)?;
        self.stage = Stage::Descend { op, descent };
        self.count()
    }

    /// A descent of the executor's tree of `leaves` chunks with root `root`, each side's clock
    /// a move per level and one more.
    fn descent_of(&self, leaves: u64, root: Value, now: BlockNumber) -> Result<Descent, GameError> {
        let height = crate::descent::height(leaves);
        let budget = self
            .terms
            .move_blocks
            .checked_mul(height.saturating_add(1))
            .ok_or(GameError::Overflow)?;
        Ok(Descent::open(leaves, root, budget, now)?)
    }

    /// The executor reveals the current node's children in the descent.
    pub fn children<H: Hasher>(
        &mut self,
        left: Value,
        right: Value,
        now: BlockNumber,
    ) -> Result<(), GameError> {
        let (Stage::Descend { descent, .. } | Stage::InitialDescend { descent, .. }) =
            &mut self.stage
        else {
            return Err(GameError::WrongStage);
        };
        if H::hash(&[&[1], &left, &right]) != descent.node {
            return Err(GameError::BadProof);
        }
        descent.reveal_children(left, right, now)?;
        self.count()
    }

    /// The challenger picks the child it disputes.
    pub fn pick(&mut self, right: bool, now: BlockNumber) -> Result<(), GameError> {
        let (Stage::Descend { descent, .. } | Stage::InitialDescend { descent, .. }) =
            &mut self.stage
        else {
            return Err(GameError::WrongStage);
        };
        descent.pick(right, now)?;
        self.count()
    }

    /// The executor reveals the chunk the descent reached. In an initial game the referee
    /// recomputes it, from the seed or, for a base model's job, from the base's weights that
    /// `base_proof` reads (a UnixFS proof from the committed base CID, [`Terms::base`];
    /// ignored otherwise): the executor wins if it is the initial chunk. A proof that does not
    /// read is refused ([`GameError::BadProof`]; the clock runs on).
    pub fn chunk<H: Hasher>(
        &mut self,
        words: Vec<u32>,
        base_proof: &[Vec<u8>],
        now: BlockNumber,
    ) -> Result<(), GameError> {
        if let Stage::InitialDescend { descent } = &mut self.stage {
            if descent.phase != Phase::Leaf {
                return Err(GameError::NotYourMove);
            }
            let truth = match &self.terms.base {
                None => {
                    let layout = step::ParamLayout::new(&self.terms.config.step());
                    init::chunk::<F32>(&layout, self.terms.config.seed, descent.index)
                        .ok_or(GameError::OutOfRange)?
                }
                Some(base) => crate::package::base_chunk::<H>(
                    base,
                    &self.terms.output,
                    descent.index,
                    base_proof,
                )
                .map_err(|_| GameError::BadProof)?,
            };
            if words.len() != truth.len()
                || H::hash(&[&[0], &chunk_hash::<H>(&words)]) != descent.node
            {
                return Err(GameError::BadProof);
            }
            descent.reveal_leaf(now)?;
            let verdict = if words == truth { Verdict::Executor } else { Verdict::Challenger };
            self.stage = Stage::Decided { verdict, how: How::Initial };
            return self.count();
        }
        let prog = self.program();
        let Stage::Descend { op, descent } = &mut self.stage else {
            return Err(GameError::WrongStage);
        };
        if descent.phase != Phase::Leaf {
            return Err(GameError::NotYourMove);
        }
        let len = prog.ops.get(*op as usize).ok_or(GameError::OutOfRange)?.len as u64;
        let first = descent.index.saturating_mul(CHUNK_WORDS as u64);
        let expected = len.saturating_sub(first).min(CHUNK_WORDS as u64);
        if words.len() as u64 != expected
            || H::hash(&[&[0], &chunk_hash::<H>(&words)]) != descent.node
        {
            return Err(GameError::BadProof);
        }
        descent.reveal_leaf(now)?;
        let (op, index) = (*op, descent.index);
        self.stage = Stage::Name { op, index, chunk: words, opened: now };
        self.count()
    }

    /// The challenger names element `offset` of the revealed chunk and commits its chain for it
    /// (root over `0, c_1..c_L`, the low word of `c_L` its value of the element, which must
    /// differ from the executor's). An element `+0` by definition is decided at once.
    #[allow(clippy::too_many_arguments)]
    pub fn name<H: Hasher>(
        &mut self,
        offset: u32,
        root: Value,
        first_path: &[Value],
        last: Value,
        last_path: &[Value],
        now: BlockNumber,
    ) -> Result<(), GameError> {
        let Stage::Name { op, index, chunk, opened } = &self.stage else {
            return Err(GameError::WrongStage);
        };
        Self::in_time(self.terms.move_blocks, *opened, now)?;
        let executor = *chunk.get(offset as usize).ok_or(GameError::OutOfRange)?;
        let claim = chain_u64(&last) as u32;
        if claim == executor {
            return Err(GameError::NotDisputed);
        }
        let op = *op;
        let element = index
            .checked_mul(CHUNK_WORDS as u64)
            .and_then(|f| f.checked_add(u64::from(offset)))
            .and_then(|e| u32::try_from(e).ok())
            .ok_or(GameError::Overflow)?;
        let prog = self.program();
        let steps =
            prog.ops.get(op as usize).ok_or(GameError::OutOfRange)?.chain_len(element as usize);
        self.element = element;
        if steps == 0 {
            let verdict = if executor == 0 { Verdict::Executor } else { Verdict::Challenger };
            self.stage = Stage::Decided { verdict, how: How::Masked };
            return self.count();
        }
        self.stage = Stage::Commit {
            level: Level::Chain,
            n: u32::try_from(steps).map_err(|_| GameError::Overflow)?,
            start: chain_value(0),
            ends: [End::Element(executor), End::Element(claim)],
            roots: [None, None],
            opened: now,
        };
        self.commit::<H>(Side::Challenger, root, first_path, last, last_path, now)
    }

    /// Anyone proves the next state root from the agreed root after every op: the scalars
    /// op's words, the loss and AdamW's output root, each at its leaf. The side whose `h_{j+1}`
    /// it matches wins.
    pub fn next_state<H: Hasher>(
        &mut self,
        scalars: &Proven,
        loss: &Proven,
        adam: (&Value, &[Value]),
        now: BlockNumber,
    ) -> Result<(), GameError> {
        let Stage::NextState { claims, opened } = &self.stage else {
            return Err(GameError::WrongStage);
        };
        Self::in_time(self.terms.move_blocks, *opened, now)?;
        let claims = *claims;
        let prog = self.program();
        let truth = referee::next_state::<H>(
            &prog,
            PROFILE,
            &self.terms.config_hash,
            &self.ops_root,
            scalars,
            loss,
            adam,
        )
        .ok_or(GameError::BadProof)?;
        self.stage = Stage::Decided { verdict: verdict(&claims, &truth), how: How::NextState };
        self.count()
    }

    /// Anyone supplies the inputs of the disputed chain step, each proven against the agreed
    /// cumulative root (or the corpus root); the referee recomputes the step on soft floats and
    /// the side whose value it matches wins.
    pub fn replay<H: Hasher>(
        &mut self,
        inputs: &[Input],
        now: BlockNumber,
    ) -> Result<(), GameError> {
        let Stage::Replay { pos, acc, claims, opened } = &self.stage else {
            return Err(GameError::WrongStage);
        };
        Self::in_time(self.terms.move_blocks, *opened, now)?;
        let (pos, acc, claims) = (*pos, *acc, *claims);
        let prog = self.program();
        let leaf = Leaf {
            program: &prog,
            agreed_root: self.ops_root,
            op: self.op as usize,
            element: self.element as usize,
            pos: pos as usize,
            acc,
            corpus: (self.terms.corpus_root, self.terms.config.corpus_len),
        };
        let truth = referee::replay::<F32, H>(&leaf, inputs).map_err(|e| match e {
            LeafError::BadProof(_) => GameError::BadProof,
            LeafError::Missing(..) => GameError::MissingInput,
            LeafError::OutOfRange => GameError::OutOfRange,
        })?;
        self.stage =
            Stage::Decided { verdict: verdict(&claims, &chain_value(truth)), how: How::Replay };
        self.count()
    }

    /// If the side to move missed its deadline, the game is decided against it and that side is
    /// returned. Where nobody in particular owes the move (the referee's inputs) and nobody made
    /// it, or both missed theirs, the executor loses: a result nobody defends does not stand.
    pub fn timeout(&mut self, now: BlockNumber) -> Option<Side> {
        let move_due = |opened: &BlockNumber| now > opened.saturating_add(self.terms.move_blocks);
        let late = match &self.stage {
            Stage::Commit { roots, opened, .. } if move_due(opened) => match roots {
                [Some(_), None] => Some(Side::Challenger),
                _ => Some(Side::Executor),
            },
            Stage::Bisect { bisection, .. } => bisection.timed_out(now),
            Stage::Output { opened, .. }
            | Stage::Package { opened }
            | Stage::Initial { opened }
                if move_due(opened) =>
            {
                Some(Side::Executor)
            }
            Stage::Descend { descent, .. } | Stage::InitialDescend { descent, .. } => {
                descent.timed_out(now)
            }
            Stage::Name { opened, .. } if move_due(opened) => Some(Side::Challenger),
            Stage::NextState { opened, .. } | Stage::Replay { opened, .. } if move_due(opened) => {
                Some(Side::Executor)
            }
            _ => None,
        }?;
        let verdict = match late {
            Side::Executor => Verdict::Challenger,
            Side::Challenger => Verdict::Executor,
        };
        self.stage = Stage::Decided { verdict, how: How::Timeout };
        Some(late)
    }

    /// The verdict, once decided.
    pub fn verdict(&self) -> Option<Verdict> {
        match self.stage {
            Stage::Decided { verdict, .. } => Some(verdict),
            _ => None,
        }
    }
}

/// Who the true value proves right.
fn verdict(claims: &[Value; 2], truth: &Value) -> Verdict {
    if claims[0] == *truth {
        Verdict::Executor
    } else if claims[1] == *truth {
        Verdict::Challenger
    } else {
        Verdict::Neither
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // tests compute their expectations freely
mod tests {
    use super::*;

    fn config(n_layer: u32, n_embd: u32, n_ctx: u32, batch: u32) -> GameConfig {
        GameConfig {
            n_layer,
            n_head: 2,
            n_embd,
            n_ctx,
            batch,
            corpus_len: 1 << 20,
            optimizer: [0; 5],
            warmup_steps: 0,
            seed: 0,
        }
    }

    /// A 1-layer model (75 ops, its widest op `params ‖ m ‖ v`-sized) with 4 checkpoints of 2
    /// steps: bisections of 2 + 1 + 7 rounds, a descent of height H, 32 chain rounds, each
    /// side's clock twice, 7 single moves, and the block that ends it.
    #[test]
    fn the_longest_game_counts_every_clock() {
        let cfg = GameConfig::SMALLEST;
        let prog = step::program(&cfg.step());
        assert_eq!(prog.ops.len(), 75);
        let widest = prog.ops.iter().map(|op| op.len as u64).max().unwrap();
        let h = crate::descent::height(commit::chunk_count(widest));
        let rounds = 2 + 1 + 7 + (h + 1) + 32;
        assert_eq!(most_moves(&cfg, 2, 4), Some(2 * rounds + 7));
        assert_eq!(longest(&cfg, 2, 4, 1), Some(2 * rounds + 7 + 1));
        assert_eq!(longest(&cfg, 2, 4, 3), Some(3 * (2 * rounds + 7) + 1));
        assert_eq!(longest(&cfg, 2, 4, u32::MAX), None);
        assert_eq!(longest(&GameConfig { n_layer: 0, ..cfg }, 2, 4, 1), None);
        println!("widest op {widest} elements, height {h}: {:?}", longest(&cfg, 2, 4, 1));
    }

    #[test]
    fn a_playable_config_keeps_every_tensor_index_in_32_bits() {
        assert!(config(2, 32, 16, 4).is_valid());
        // 2^20 rows of width 4·2^14: activations of 2^36 elements.
        assert!(!config(1, 1 << 14, 1 << 10, 1 << 10).is_valid());
        // Attention scores b·h·t² = 2^31.
        assert!(!config(1, 2, 1 << 14, 4).is_valid());
        assert!(config(1, 2, 1 << 13, 4).is_valid());
        // A corpus no longer than a context, a width that is no multiple of the heads.
        assert!(!GameConfig { corpus_len: 16, ..config(1, 32, 16, 1) }.is_valid());
        assert!(!config(1, 33, 16, 1).is_valid());
        assert!(!config(17, 32, 16, 1).is_valid());
        // Sizes that overflow u64 on the way are refused, not wrapped.
        assert!(!config(16, u32::MAX - 1, u32::MAX, u32::MAX).is_valid());
    }

    /// An initial game's material: the terms of a job whose `h_0` is the state `words` with
    /// header `header` (the honest ones unless changed), the honest words, and the header.
    struct Initial {
        terms: Terms,
        honest: Vec<u32>,
    }

    const SEED: u64 = 9;

    fn initial(
        change: impl FnOnce(&mut Vec<u32>, &mut commit::Header),
    ) -> (Initial, Vec<u32>, Vec<u8>) {
        use crate::TestSha as Sha;
        let config = GameConfig { seed: SEED, ..config(2, 32, 16, 1) };
        let layout = step::ParamLayout::new(&config.step());
        let mut honest = init::params::<F32>(&layout, SEED);
        honest.resize(3 * layout.total, 0);
        let (mut words, mut header) =
            (honest.clone(), init::header([7; 32], SEED, layout.total as u64));
        change(&mut words, &mut header);
        let header = header.encode(PROFILE);
        let h0 = commit::state_root::<Sha>(&header, &commit::tensor_root::<Sha>(&words));
        let terms = Terms {
            sides: [[1; 32], [2; 32]],
            config,
            config_hash: [7; 32],
            corpus_root: [0; 32],
            every: 1,
            checkpoints: 2,
            trace_roots: [[0; 32]; 2],
            h0,
            move_blocks: 5,
            output: crate::package::OutputCommit {
                header_root: [0; 32],
                header_len: 0,
                params: 0,
                config_json: [0; 32],
            },
            output_cid: Vec::new(),
            base: None,
        };
        (Initial { terms, honest }, words, header)
    }

    fn chunk_hashes(words: &[u32]) -> Vec<Value> {
        words.chunks(CHUNK_WORDS).map(chunk_hash::<crate::TestSha>).collect()
    }

    /// Plays an initial game to its end: the executor answers from `words` and `header`, the
    /// challenger picks with `pick(level, index, left, right, honest tree)`. Returns the game.
    fn play_initial(
        game: &mut Game,
        words: &[u32],
        header: &[u8],
        mut pick: impl FnMut(&[Vec<Value>], &Descent) -> bool,
        honest: &[u32],
    ) {
        use crate::TestSha as Sha;
        let mine = merkle::levels::<Sha>(&chunk_hashes(words));
        let truth = merkle::levels::<Sha>(&chunk_hashes(honest));
        let tensors_root = commit::tensor_root::<Sha>(words);
        let proof = commit::HeaderProof { header: header.to_vec(), tensors_root };
        let mut now = 10;
        game.initial_header::<Sha>(&proof, now).unwrap();
        while game.verdict().is_none() {
            now += 1;
            let Stage::InitialDescend { descent } = &game.stage else { panic!("{:?}", game.stage) };
            let (level, i) = (descent.level as usize, descent.index as usize);
            match descent.phase {
                Phase::Children => {
                    let (l, r) = (mine[level - 1][2 * i], mine[level - 1][2 * i + 1]);
                    game.children::<Sha>(l, r, now).unwrap();
                }
                Phase::Pick => {
                    let right = pick(&truth, descent);
                    game.pick(right, now).unwrap();
                }
                Phase::Leaf => {
                    let c = words.chunks(CHUNK_WORDS).nth(i).unwrap().to_vec();
                    game.chunk::<Sha>(c, &[], now).unwrap();
                }
                Phase::Done => unreachable!(),
            }
        }
    }

    /// The honest challenger's pick: the child that is not its own.
    fn honest_pick(truth: &[Vec<Value>], d: &Descent) -> bool {
        let (left, _) = d.children.unwrap();
        left == truth[d.level as usize - 1][2 * d.index as usize]
    }

    #[test]
    fn an_honest_initial_state_wins_whatever_the_challenger_picks() {
        let (ini, words, header) = initial(|_, _| {});
        assert_eq!(words, ini.honest);
        for strategy in 0..4u32 {
            let mut game = Game::open_initial(ini.terms.clone(), 10).unwrap();
            assert_eq!(game.awaits(), Some(Side::Executor));
            let mut round = 0u32;
            play_initial(
                &mut game,
                &words,
                &header,
                |_, _| {
                    round += 1;
                    match strategy {
                        0 => false,
                        1 => true,
                        2 => round.is_multiple_of(2),
                        _ => round % 3 == 1,
                    }
                },
                &ini.honest,
            );
            assert_eq!(
                game.stage,
                Stage::Decided { verdict: Verdict::Executor, how: How::Initial }
            );
        }
    }

    #[test]
    fn a_forged_initial_state_loses_to_the_chunk_the_referee_recomputes() {
        use crate::TestSha as Sha;
        // One weight changed in a drawn tensor, one in a gain (block 0's first), one of `v` (of
        // 3 × 34 112 words) not zero.
        for at in [5usize, 256 * 32 + 16 * 32, 100_000] {
            let (ini, words, header) = initial(|w, _| w[at] ^= 1);
            assert_ne!(words, ini.honest);
            let mut game = Game::open_initial(ini.terms.clone(), 10).unwrap();
            play_initial(&mut game, &words, &header, honest_pick, &ini.honest);
            assert_eq!(
                game.stage,
                Stage::Decided { verdict: Verdict::Challenger, how: How::Initial },
                "word {at}"
            );
            // A forged chunk revealed as the honest one does not hash to the executor's leaf.
            let mut game = Game::open_initial(ini.terms.clone(), 10).unwrap();
            let root = commit::tensor_root::<Sha>(&words);
            let proof = commit::HeaderProof { header: header.clone(), tensors_root: root };
            game.initial_header::<Sha>(&proof, 10).unwrap();
            let mine = merkle::levels::<Sha>(&chunk_hashes(&words));
            let truth = merkle::levels::<Sha>(&chunk_hashes(&ini.honest));
            let mut now = 10;
            loop {
                now += 1;
                let Stage::InitialDescend { descent } = &game.stage else { unreachable!() };
                let (level, i) = (descent.level as usize, descent.index as usize);
                match descent.phase {
                    Phase::Children => game
                        .children::<Sha>(mine[level - 1][2 * i], mine[level - 1][2 * i + 1], now)
                        .unwrap(),
                    Phase::Pick => {
                        let right = honest_pick(&truth, descent);
                        game.pick(right, now).unwrap()
                    }
                    _ => break,
                }
            }
            let Stage::InitialDescend { descent } = game.stage.clone() else { unreachable!() };
            let i = descent.index as usize;
            let true_chunk = ini.honest.chunks(CHUNK_WORDS).nth(i).unwrap().to_vec();
            assert_eq!(game.chunk::<Sha>(true_chunk, &[], now), Err(GameError::BadProof));
            // It cannot answer: its clock runs out.
            let deadline = descent.deadline().unwrap();
            assert_eq!(game.timeout(deadline + 1), Some(Side::Executor));
            assert_eq!(game.verdict(), Some(Verdict::Challenger));
        }
    }

    #[test]
    fn an_initial_header_other_than_the_jobs_is_refused_and_its_game_lost_on_time() {
        use crate::TestSha as Sha;
        let forgeries: [fn(&mut commit::Header); 6] = [
            |h| h.step = 1,
            |h| h.rng = SEED + 1,
            |h| h.config_hash = [8; 32],
            |h| h.loss = 1,
            |h| h.b1pow = 0,
            |h| h.params += 1,
        ];
        for (k, forge) in forgeries.into_iter().enumerate() {
            let (ini, words, header) = initial(|_, h| forge(h));
            let mut game = Game::open_initial(ini.terms.clone(), 10).unwrap();
            let proof = commit::HeaderProof {
                header: header.clone(),
                tensors_root: commit::tensor_root::<Sha>(&words),
            };
            assert_eq!(game.initial_header::<Sha>(&proof, 12), Err(GameError::BadProof), "{k}");
            assert_eq!(game.timeout(15), None);
            assert_eq!(game.timeout(16), Some(Side::Executor));
            assert_eq!(
                game.stage,
                Stage::Decided { verdict: Verdict::Challenger, how: How::Timeout }
            );
        }
        // The honest header proven against another h_0 is refused; in time but late, too.
        let (ini, words, header) = initial(|w, _| w[0] ^= 1);
        let (honest, _, _) = initial(|_, _| {});
        let mut game = Game::open_initial(ini.terms.clone(), 10).unwrap();
        let proof = commit::HeaderProof {
            header: header.clone(),
            tensors_root: commit::tensor_root::<Sha>(&honest.honest),
        };
        assert_eq!(game.initial_header::<Sha>(&proof, 12), Err(GameError::BadProof));
        let proof =
            commit::HeaderProof { header, tensors_root: commit::tensor_root::<Sha>(&words) };
        assert_eq!(game.initial_header::<Sha>(&proof, 16), Err(GameError::TooLate));
        // A defence of an initial game is an initial game against the attester.
        let defence = game.defence([3; 32], 20);
        assert!(defence.initial);
        assert_eq!(defence.stage, Stage::Initial { opened: 20 });
        assert_eq!(defence.terms.sides, [[3; 32], [2; 32]]);
    }
}
