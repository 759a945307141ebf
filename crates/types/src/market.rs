//! The market contract's shared vocabulary: pledges, jobs, verification, bounties, errors,
//! events, selectors.
//!
//! The market holds three kinds of money, each accounted for separately:
//! * **stake** of pledged GPU providers; collateral of claimed jobs and challenge bonds is
//!   *locked* stake and cannot be unpledged; unpledged stake waits an unbonding delay;
//! * **escrow** of posted jobs (the reward) and of bounties (the breakthrough tranches);
//! * **balances** owed to accounts (executor pay, verifier fees, refunds, slash shares), paid by
//!   pulling (`withdraw`, which also releases matured unbonding stake).
//!
//! The money rules (ask, settlement, slash ratio) are in [`crate::escrow`].

use crate::registry::ArtifactId;
use crate::split::BPS;
use crate::{AccountBytes, Balance, BlockNumber};
use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Id of a posted job; ids start at 1.
pub type JobId = u64;

/// Id of a posted bounty; ids start at 1.
pub type BountyId = u32;

/// The most verifiers a job can ask for (bounds the loop in `finalize`).
pub const MAX_VERIFIERS: u8 = 8;

/// Upper bound of every block-count parameter (windows, job length, delays): about 69 days of
/// 6-second blocks. Bounded so that `now + x` never overflows a block number.
pub const MAX_BLOCKS: BlockNumber = 1_000_000;

/// Upper bound of the reference price per work unit.
pub const MAX_REFERENCE_PRICE: Balance = 1_000_000_000_000_000_000_000;

/// Upper bound of a job's work units (so `reference_price × units × collateral_bps` fits 128 bits).
pub const MAX_UNITS: u64 = 1_000_000_000;

/// Upper bound of a committed score (fixed point ×10⁶): `best + margin` can never overflow.
pub const MAX_SCORE: u64 = 1_000_000_000_000_000;

/// The most executors a job's allow-list may name.
pub const MAX_ALLOWED_EXECUTORS: usize = 8;

/// Collateral factor bounds, basis points of the job's reference value (1× to 100×).
pub const COLLATERAL_BPS_RANGE: (u32, u32) = (10_000, 1_000_000);

/// Market-wide parameters, each bounded ([`MarketParams::validate`]); changed only through the
/// admin timelock ([`MarketParams::timelock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct MarketParams {
    /// What one work unit is worth: a job's reference value is this times its units. It sizes
    /// the minimum collateral and caps the share units joint mining can earn.
    pub reference_price: Balance,
    /// Minimum collateral, basis points of the job's reference value.
    pub collateral_bps: u32,
    /// Fewest verifications a job may ask for (1..=[`MAX_VERIFIERS`]).
    pub min_verifiers: u8,
    /// Longest challenge window a job may set.
    pub max_window: BlockNumber,
    /// Longest time from posting to a job's deadline.
    pub max_job_blocks: BlockNumber,
    /// Blocks an executor has after its claim to submit; past them the job reopens and its
    /// collateral is slashed.
    pub submit_blocks: BlockNumber,
    /// The longest a dispute game about a job may last: a game spec whose worst case
    /// ([`GameSpec::longest`]) is longer is refused at posting. A result is final at most
    /// `challenge_window + challenge_blocks` blocks after its submission, however many
    /// challengers play.
    pub challenge_blocks: BlockNumber,
    /// Unbonding delay of unpledged stake.
    pub unbonding_blocks: BlockNumber,
}

/// Why market parameters were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamsError {
    /// `reference_price` is 0 or above [`MAX_REFERENCE_PRICE`].
    ReferencePrice,
    /// `collateral_bps` is outside [`COLLATERAL_BPS_RANGE`].
    Collateral,
    /// `min_verifiers` is 0 or above [`MAX_VERIFIERS`].
    Verifiers,
    /// A block count is 0 or above [`MAX_BLOCKS`].
    Blocks,
}

impl MarketParams {
    /// The parameters a new devnet market starts with: short windows so a local network moves.
    pub const DEVNET: MarketParams = MarketParams {
        reference_price: 1_000_000_000,
        collateral_bps: 20_000,
        min_verifiers: 1,
        max_window: 50,
        max_job_blocks: 500,
        submit_blocks: 10,
        challenge_blocks: 5_000,
        unbonding_blocks: 10,
    };

    /// Checks every bound.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.reference_price == 0 || self.reference_price > MAX_REFERENCE_PRICE {
            return Err(ParamsError::ReferencePrice);
        }
        let (lo, hi) = COLLATERAL_BPS_RANGE;
        if self.collateral_bps < lo || self.collateral_bps > hi {
            return Err(ParamsError::Collateral);
        }
        if self.min_verifiers == 0 || self.min_verifiers > MAX_VERIFIERS {
            return Err(ParamsError::Verifiers);
        }
        let blocks = [
            self.max_window,
            self.max_job_blocks,
            self.submit_blocks,
            self.challenge_blocks,
            self.unbonding_blocks,
        ];
        if blocks.iter().any(|b| *b == 0 || *b > MAX_BLOCKS) {
            return Err(ParamsError::Blocks);
        }
        Ok(())
    }

    /// Admin changes wait this long: longer than the longest job plus its verification plus
    /// unbonding, so anyone who dislikes an announced change can finish and leave first. The
    /// last exit of a job posted when the change is announced (a challenge at the window's end,
    /// its game played to the end, then the stake unbonded) can be made at block `now + timelock − 1`: one block
    /// before the change can apply, so ordering within a block never matters.
    pub fn timelock(&self) -> BlockNumber {
        self.max_job_blocks
            .saturating_add(self.max_window)
            .saturating_add(self.challenge_blocks)
            .saturating_add(self.unbonding_blocks)
            .saturating_add(2)
    }

    /// A job's reference value: `reference_price × units`.
    pub fn job_value(&self, units: u64) -> Option<Balance> {
        self.reference_price.checked_mul(Balance::from(units))
    }

    /// The least collateral a job of `units` may ask for.
    pub fn min_collateral(&self, units: u64) -> Option<Balance> {
        self.job_value(units)?
            .checked_mul(Balance::from(self.collateral_bps))?
            .checked_div(Balance::from(BPS))
    }
}

/// Checks a job the way `post_job` does, so off-chain callers refuse locally, with the same
/// error, what the contract would refuse: a reward, a CID, a deadline within
/// `max_job_blocks` of `now`, work units within bounds, verifications between
/// `min_verifiers` and [`MAX_VERIFIERS`], a window within `max_window`, collateral of at least
/// `collateral_bps` of the job's reference value, a benchmark named by exactly the EvalPath
/// jobs, a bounty only for those, an executor allow-list of at most [`MAX_ALLOWED_EXECUTORS`],
/// a game spec for exactly the Train jobs, whose worst-case game fits `challenge_blocks`, and
/// verifier fees the reward covers. A job naming a bounty is also checked against it by
/// [`check_bounty_job`].
pub fn check_job(
    spec: &JobSpec,
    reward: Balance,
    params: &MarketParams,
    now: BlockNumber,
) -> Result<(), Error> {
    if reward == 0 {
        return Err(Error::ZeroAmount);
    }
    crate::cid::check_cid_shape(&spec.spec_cid).map_err(|_| Error::BadCid)?;
    let last = now.checked_add(params.max_job_blocks).ok_or(Error::Overflow)?;
    if spec.deadline <= now || spec.deadline > last {
        return Err(Error::BadDeadline);
    }
    if spec.units == 0 || spec.units > MAX_UNITS {
        return Err(Error::BadUnits);
    }
    let v = spec.verification;
    if v.verifiers < params.min_verifiers
        || v.verifiers > MAX_VERIFIERS
        || v.challenge_window == 0
        || v.challenge_window > params.max_window
    {
        return Err(Error::BadVerification);
    }
    if v.collateral < params.min_collateral(spec.units).ok_or(Error::Overflow)? {
        return Err(Error::CollateralTooLow);
    }
    match (spec.kind, &spec.benchmark) {
        (JobKind::EvalPath, Some(b)) => {
            crate::cid::check_cid_shape(&b.cid).map_err(|_| Error::BadCid)?
        }
        (JobKind::Train, None) => {}
        _ => return Err(Error::BadBenchmark),
    }
    if spec.bounty.is_some() && spec.kind != JobKind::EvalPath {
        return Err(Error::BadBounty);
    }
    if spec.executors.len() > MAX_ALLOWED_EXECUTORS {
        return Err(Error::TooManyExecutors);
    }
    match (spec.kind, &spec.game) {
        (JobKind::Train, Some(g)) => {
            let ok = g.config.is_valid()
                && g.every > 0
                && g.checkpoints > 0
                && g.move_blocks > 0
                && g.move_blocks <= MAX_MOVE_BLOCKS
                && g.output.is_valid()
                && g.output.params == g.config.params()
                && g.base.as_deref().is_none_or(|c| crate::cid::check_cid_shape(c).is_ok())
                && g.longest().is_some_and(|b| b <= params.challenge_blocks);
            if !ok {
                return Err(Error::BadGame);
            }
        }
        (JobKind::EvalPath, None) => {}
        _ => return Err(Error::BadGame),
    }
    crate::escrow::check_covers(reward, 0, v.verifiers, v.verifier_fee)?;
    Ok(())
}

/// Checks a job that names `bounty` the way `post_job` does: it evaluates the bounty's
/// benchmark with the bounty's metric, and its whole life fits before the bounty expires — the
/// last block its result can be finalized ([`Bounty::settles_by`]: its games, if it has a game
/// spec, last at most the market's `challenge_blocks`) plus the market's `submit_blocks` for
/// anyone to claim the tranche — so the sponsor can never reclaim ahead of a winner.
pub fn check_bounty_job(
    spec: &JobSpec,
    bounty: &Bounty,
    params: &MarketParams,
) -> Result<(), Error> {
    let evaluates = spec.benchmark.as_ref().ok_or(Error::BadBenchmark)?;
    if evaluates.cid != bounty.benchmark_cid || evaluates.metric != bounty.metric {
        return Err(Error::NotBountyBenchmark);
    }
    let games = if spec.game.is_some() { params.challenge_blocks } else { 0 };
    let last = Bounty::settles_by(spec.deadline, spec.verification.challenge_window, games)
        .and_then(|b| b.checked_add(params.submit_blocks))
        .ok_or(Error::Overflow)?;
    if last > bounty.expires_at {
        return Err(Error::BountyEndsFirst);
    }
    Ok(())
}

impl From<crate::escrow::EscrowError> for Error {
    fn from(e: crate::escrow::EscrowError) -> Error {
        use crate::escrow::EscrowError as E;
        match e {
            E::Overflow => Error::Overflow,
            E::BadBps => Error::BadBps,
            E::RewardTooLow => Error::PriceTooHigh,
        }
    }
}

/// An admin change of the market, announced and applied after the timelock.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum Change {
    /// New splitter and treasury addresses and parameters.
    Params {
        /// The splitter the market credits units and pays into.
        splitter: AccountBytes,
        /// Where the treasury's slash share goes.
        treasury: AccountBytes,
        /// The market-wide parameters.
        params: MarketParams,
    },
    /// New contract code (storage kept).
    Code([u8; 32]),
}

/// What a provider offers, or what a job needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Capacity {
    /// Accelerator class: 0 CPU, 1 consumer GPU, 2 datacenter GPU, 3 multi-GPU node; higher
    /// classes can do what lower ones can.
    pub accelerator: u8,
    /// Accelerator memory, GiB.
    pub memory_gib: u32,
    /// Throughput, work units per block.
    pub throughput: u32,
}

impl Capacity {
    /// Whether this offer covers `need` in every dimension.
    pub fn fits(&self, need: &Capacity) -> bool {
        self.accelerator >= need.accelerator
            && self.memory_gib >= need.memory_gib
            && self.throughput >= need.throughput
    }
}

/// A provider's pledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Pledge {
    /// What it offers.
    pub capacity: Capacity,
    /// Its price per work unit.
    pub price_per_unit: Balance,
    /// Joint-mining discount, basis points: taken off its price, earned back as share units.
    pub discount_bps: u16,
    /// Bonded stake, including the locked part.
    pub stake: Balance,
    /// Stake locked as job collateral or challenge bond.
    pub locked: Balance,
    /// Stake unpledged and waiting for `unbonding_until`.
    pub unbonding: Balance,
    /// Block from which `unbonding` can be withdrawn.
    pub unbonding_until: BlockNumber,
}

impl Pledge {
    /// Stake neither locked nor unbonding.
    pub fn free(&self) -> Balance {
        self.stake.saturating_sub(self.locked)
    }
}

/// What a job is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum JobKind {
    /// Train (or fine-tune) a model.
    Train,
    /// Evaluate a path on a benchmark.
    EvalPath,
}

/// How a job's result is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Verification {
    /// Blocks after submission during which verifiers attest or challenge.
    pub challenge_window: BlockNumber,
    /// Attestations needed for the result to count as verified (at most [`MAX_VERIFIERS`]).
    pub verifiers: u8,
    /// Stake the executor locks on claim; each attester and each challenger locks the same as
    /// its bond.
    pub collateral: Balance,
    /// Paid from the reward to each attesting verifier.
    pub verifier_fee: Balance,
}

/// What the poster asks for (everything except the escrow, which is the transferred value).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct JobSpec {
    /// Train or EvalPath.
    pub kind: JobKind,
    /// CID text of the job description on IPFS.
    pub spec_cid: Vec<u8>,
    /// The artifact the job works for: joint-mining share units and bounty tranches go to it.
    pub artifact: ArtifactId,
    /// Work units; the executor's ask is its price per unit times this.
    pub units: u64,
    /// Capacity the executor must offer.
    pub need: Capacity,
    /// Last block at which the result can be submitted.
    pub deadline: BlockNumber,
    /// Verification terms.
    pub verification: Verification,
    /// The bounty an EvalPath job competes for.
    pub bounty: Option<BountyId>,
    /// What an EvalPath job evaluates (required for it, none for a Train job): recorded on
    /// chain, since the contract cannot read the spec on IPFS, and matched against a bounty's.
    pub benchmark: Option<Benchmark>,
    /// Providers allowed to claim the job (at most [`MAX_ALLOWED_EXECUTORS`]); empty: any
    /// pledged provider whose capacity fits.
    pub executors: Vec<AccountBytes>,
    /// What the dispute game needs to judge a training job's result: every Train job names
    /// one (a challenge is a game the contracts decide), an EvalPath job none (it cannot be
    /// challenged until the path evaluator's game exists).
    pub game: Option<GameSpec>,
}

/// A training job's commitments for the dispute game (VERIFICATION.md, "Both ends of the run
/// are bound"): its step (model, batch, corpus length, optimizer), the config hash every state
/// header carries, the corpus root, the checkpoint layout, the initial state root and the
/// blocks a side has for each move.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct GameSpec {
    /// The step the job trains.
    pub config: crate::game::GameConfig,
    /// The config hash (SHA-256 of the canonical config, with the corpus root).
    pub config_hash: [u8; 32],
    /// The corpus root.
    pub corpus_root: [u8; 32],
    /// Steps per checkpoint.
    pub every: u32,
    /// Checkpoints `n` (steps = `n × every`).
    pub checkpoints: u32,
    /// The state root before the first step.
    pub h0: [u8; 32],
    /// Blocks a side has for one move of a game (1 ..= [`MAX_MOVE_BLOCKS`]).
    pub move_blocks: BlockNumber,
    /// What the output package must hold besides `h_n`'s parameters.
    pub output: crate::package::OutputCommit,
    /// The base model, as the CID text of its SMIP package: `h_0`'s parameters are its
    /// `model.safetensors` after the header (laid out as outputs are, [`crate::package`]), its
    /// moments `+0`; `None`: the parameters are drawn from the seed.
    pub base: Option<Vec<u8>>,
}

impl GameSpec {
    /// The terms of a game about this job between `sides` (executor, challenger) with their
    /// trace roots, about the executor's output `output_cid` (binary); refused if its base's
    /// CID is not one (which [`check_job`] refused at posting).
    pub fn terms(
        &self,
        sides: [AccountBytes; 2],
        trace_roots: [[u8; 32]; 2],
        output_cid: Vec<u8>,
    ) -> Result<crate::game::Terms, crate::cid::CidShapeError> {
        let base = self.base.as_deref().map(crate::cid::cid_bytes).transpose()?;
        Ok(crate::game::Terms {
            sides,
            config: self.config.clone(),
            config_hash: self.config_hash,
            corpus_root: self.corpus_root,
            every: self.every,
            checkpoints: self.checkpoints,
            trace_roots,
            h0: self.h0,
            move_blocks: self.move_blocks,
            output: self.output.clone(),
            output_cid,
            base,
        })
    }

    /// The most blocks a game about this job can last, every side taking all the time it is
    /// given ([`crate::game::longest`]); `None` when the config is invalid or it overflows.
    pub fn longest(&self) -> Option<BlockNumber> {
        crate::game::longest(&self.config, self.every, self.checkpoints, self.move_blocks)
    }
}

/// The most blocks a side may be given for one move of a dispute game (about a week at 6 s).
pub const MAX_MOVE_BLOCKS: BlockNumber = 100_800;

/// What a job's spec says beyond its [`Job`] record, stored apart because only `claim` and
/// `pay_bounty` read it: the benchmark an EvalPath job evaluates and the executor allow-list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct JobTerms {
    /// See [`JobSpec::benchmark`].
    pub benchmark: Option<Benchmark>,
    /// See [`JobSpec::executors`].
    pub executors: Vec<AccountBytes>,
    /// See [`JobSpec::game`].
    pub game: Option<GameSpec>,
}

/// The benchmark (eval set) an evaluation runs on and the metric its score measures.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Benchmark {
    /// CID text of the eval set.
    pub cid: Vec<u8>,
    /// Metric code (see [`Bounty::metric`]).
    pub metric: u8,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum JobState {
    /// Posted, waiting for an executor.
    Open,
    /// Claimed; the executor works on it.
    Claimed,
    /// Result submitted; in (or past) the challenge window, its games (if any) being played.
    Submitted,
    /// Paid out.
    Finalized,
    /// Deadline missed; escrow refunded.
    Expired,
    /// The result lost a dispute game; escrow refunded.
    Rejected,
}

impl JobState {
    /// Whether nothing can happen to the job any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Finalized | JobState::Expired | JobState::Rejected)
    }
}

/// A job's state as the market stores it (the spec CID and result are stored apart so the hot
/// messages read and write only this).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Job {
    /// Who posted it (and gets refunds).
    pub poster: AccountBytes,
    /// Train or EvalPath.
    pub kind: JobKind,
    /// See [`JobSpec::artifact`].
    pub artifact: ArtifactId,
    /// See [`JobSpec::bounty`].
    pub bounty: Option<BountyId>,
    /// See [`JobSpec::units`].
    pub units: u64,
    /// See [`JobSpec::need`].
    pub need: Capacity,
    /// Escrowed reward.
    pub reward: Balance,
    /// See [`JobSpec::deadline`].
    pub deadline: BlockNumber,
    /// See [`JobSpec::verification`].
    pub verification: Verification,
    /// Where it is.
    pub state: JobState,
    /// Who claimed it.
    pub executor: Option<AccountBytes>,
    /// What the executor is paid at finalize.
    pub ask: Balance,
    /// What the executor forwent (joint mining): credited as share units at finalize.
    pub forgone: Balance,
    /// Block of submission.
    pub submitted_at: BlockNumber,
    /// Spot checks that matched the executor's commitment so far.
    pub attestations: u8,
    /// Verifiers signed up for spot checks (at most [`crate::spotcheck::MAX_SIGN_UPS`]).
    pub sign_ups: u8,
    /// Challenges opened so far: each is a game, indexed `0..challenges` (`game_of`).
    pub challenges: u16,
    /// Challenges whose game is not settled yet: the job cannot be finalized before they are.
    pub open_games: u16,
    /// Finalized with at least `verification.verifiers` attestations.
    pub verified: bool,
    /// The job's reference value (`reference_price × units` at posting): caps the share units
    /// its executor can earn.
    pub value: Balance,
    /// Whether the poster may have share units of the artifact credited (it owns the artifact
    /// or the owner authorised it in the splitter, when the job was posted). Without it the
    /// executor gets no discount and no units.
    pub joint_mining: bool,
    /// Last block at which the executor can submit (claim + `submit_blocks`, at most the
    /// deadline); past it the job reopens and the executor's collateral is slashed.
    pub submit_by: BlockNumber,
    /// The market's `submit_blocks` when the job was posted: a job runs under the parameters
    /// it was posted under, whatever change applies meanwhile.
    pub submit_blocks: BlockNumber,
    /// Attesters of a rejected result not settled yet ([`Check::Accused`]): their bonds wait
    /// until each has beaten every accusation or lost one.
    pub accused: u8,
    /// Games the executor has lost (`0..accusations`, `accusation_of`): each an accusation
    /// every attester still accused must answer.
    pub accusations: u16,
}

/// Accusations (or defence games) one `settle_attester` (or `release`) call goes through at
/// most: a call's gas stays bounded however many games the executor lost; more calls go on
/// from where the last one stopped.
pub const SETTLE_STEP: u16 = 8;

/// The executor lost challenge `by`'s game, so its result stands accused. Nothing in that game
/// shows the result wrong: the executor may have thrown it (answered against its own committed
/// trace below level 1, or let its clock run out) to a challenger of its own. So its attesters'
/// bonds stay locked ([`Check::Accused`]): each may defend the result against this game's
/// claim in a game of its own, opened by block `until`; one that does not, or loses, is
/// slashed. Every game the executor loses is an accusation, so a cheater cannot pick which
/// claim its attesters answer: an attester gets its bond back only once every game of the job
/// has ended and it has won a defence against each accusation. A claim is staked as the
/// executor's result is: its challenger's bond stays locked while attesters stand accused, and
/// the first defence won against it slashes it (half to that attester), so a sybil's thrown
/// game costs a bond each time it makes honest attesters defend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Accusation {
    /// The challenge whose game the executor lost.
    pub by: u16,
    /// Whether that game's challenger was right (`Verdict::Challenger`): it gets half of each
    /// bond slashed on this accusation; else the treasury gets all.
    pub challenger_right: bool,
    /// Last block at which an attester may open its defence.
    pub until: BlockNumber,
    /// Whether an attester won a defence against this claim: its challenger's bond, locked
    /// while attesters stand accused, was slashed then (half to that attester).
    pub beaten: bool,
}

/// What the executor commits to.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Commitment {
    /// CID text of the output (model package, evaluation report).
    pub output_cid: Vec<u8>,
    /// Headline metric, fixed point ×10⁶, higher is better (accuracy, benchmark score).
    pub score: u64,
    /// Final loss, fixed point ×10⁶ (0 for evaluations).
    pub loss: u64,
    /// Merkle root over the checkpoint hashes of the run (VERIFICATION.md).
    pub trace_root: [u8; 32],
    /// Merkle root over the run's spot-check leaves, one per segment
    /// ([`crate::spotcheck::leaf`] of the root over the segment's per-step state roots): what
    /// only a replay of a segment yields, committed but not published.
    pub checks_root: [u8; 32],
}

/// A training result's last state `h_n`, proven at submission (VERIFICATION.md,
/// "Commitments"): its header, which holds the loss of the last step, and its path in the
/// trace, and the path of the trace's first leaf, which must be the job's `h_0`. The market
/// checks it against the job's game spec and the committed trace root and loss, and stores
/// nothing of it: the reported loss is the one `h_n` carries, `h_n` is what the dispute game
/// proves, and a run that starts elsewhere than the job's `h_0` (a state the executor chose)
/// is refused before anyone must play a game to show it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct FinalState {
    /// `h_n`'s header bytes and its tensors' root (`h_n` is the root over both).
    pub state: iollm_repops::commit::HeaderProof,
    /// The siblings of leaf `n` (of `n + 1`) in the trace, from the bottom up.
    pub path: Vec<[u8; 32]>,
    /// The siblings of leaf 0 (the job's `h_0`) in the trace, from the bottom up.
    pub first_path: Vec<[u8; 32]>,
}

impl FinalState {
    /// A made-up run of `game` that tests and benchmarks submit without training: its last
    /// state is a header of the game's config after its last step with the loss bits `loss`
    /// and the tensors' root `tensors`, at the end of the trace `[h0; checkpoints] ++ [h_n]`.
    /// Returns `h_n`, the trace's root and the proof.
    pub fn made_up<H: iollm_repops::merkle::Hasher>(
        game: &GameSpec,
        loss: u32,
        tensors: [u8; 32],
    ) -> ([u8; 32], [u8; 32], FinalState) {
        use iollm_repops::commit::{state_root, Header, HeaderProof};
        let header = Header {
            config_hash: game.config_hash,
            step: u64::from(game.every).saturating_mul(u64::from(game.checkpoints)),
            rng: 1,
            b1pow: 0,
            b2pow: 0,
            loss,
            params: 1,
        }
        .encode(iollm_repops::PROFILE);
        let state = HeaderProof { header, tensors_root: tensors };
        let h_n = state_root::<H>(&state.header, &state.tensors_root);
        let mut trace = alloc::vec![game.h0; game.checkpoints as usize];
        trace.push(h_n);
        let last = u64::from(game.checkpoints);
        let path = iollm_repops::merkle::proof::<H>(&trace, last).unwrap_or_default();
        let first_path = iollm_repops::merkle::proof::<H>(&trace, 0).unwrap_or_default();
        (h_n, iollm_repops::merkle::root::<H>(&trace), FinalState { state, path, first_path })
    }
}

/// Why a [`FinalState`] does not prove a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalStateError {
    /// The header bytes are not a state header.
    Header,
    /// The header names another config than the job's game spec.
    Config,
    /// The header's step is not the run's last (`every × checkpoints`).
    Step,
    /// The state is not leaf `n` of the committed trace.
    Trace,
    /// The trace's leaf 0 is not the job's `h_0`.
    Start,
    /// The committed loss is not the header's ([`loss_micros`]).
    Loss,
}

impl FinalStateError {
    /// One line for a person.
    pub fn message(self) -> &'static str {
        match self {
            FinalStateError::Header => "its header is not a state header",
            FinalStateError::Config => "it is a state of another config than the job's",
            FinalStateError::Step => "it is not the state after the job's last step",
            FinalStateError::Trace => "it is not the last checkpoint of the trace root",
            FinalStateError::Start => "the trace does not start at the job's h_0",
            FinalStateError::Loss => "the loss is not the last step's loss the state holds",
        }
    }
}

impl FinalState {
    /// Whether this proves the last state of a run of `game` with `trace_root` whose last step
    /// had the loss `loss` (×10⁶, [`loss_micros`]).
    pub fn check<H: iollm_repops::merkle::Hasher>(
        &self,
        game: &GameSpec,
        trace_root: &[u8; 32],
        loss: u64,
    ) -> Result<(), FinalStateError> {
        use iollm_repops::commit::{state_root, Header};
        let (_, header) = Header::decode(&self.state.header).ok_or(FinalStateError::Header)?;
        if header.config_hash != game.config_hash {
            return Err(FinalStateError::Config);
        }
        let steps = u64::from(game.every).checked_mul(u64::from(game.checkpoints));
        if steps != Some(header.step) {
            return Err(FinalStateError::Step);
        }
        let last = u64::from(game.checkpoints);
        let h_n = state_root::<H>(&self.state.header, &self.state.tensors_root);
        let leaves = last.checked_add(1).ok_or(FinalStateError::Trace)?;
        if !iollm_repops::merkle::verify::<H>(trace_root, &h_n, last, leaves, &self.path) {
            return Err(FinalStateError::Trace);
        }
        if !iollm_repops::merkle::verify::<H>(trace_root, &game.h0, 0, leaves, &self.first_path) {
            return Err(FinalStateError::Start);
        }
        if loss_micros(header.loss) != loss {
            return Err(FinalStateError::Loss);
        }
        Ok(())
    }
}

/// A loss's f32 bits as the fixed point ×10⁶ a [`Commitment`] reports, exactly: the value
/// times 10⁶ rounded down, computed on the bits (no float arithmetic, so the contract and the
/// trainer agree). Total, so that every run can be submitted, a diverged one too (whether its
/// last state is honest is the game's to decide): [`NOT_A_LOSS`] for a NaN, an infinity, a
/// negative value (but `−0`) or a value whose ×10⁶ does not fit below it.
pub fn loss_micros(bits: u32) -> u64 {
    let exponent = (bits >> 23) & 0xff;
    let fraction = u128::from(bits & 0x7f_ffff);
    if bits & 0x7fff_ffff == 0 {
        return 0;
    }
    if bits >> 31 == 1 || exponent == 0xff {
        return NOT_A_LOSS;
    }
    // value = mantissa × 2^(shift − 149)
    let (mantissa, shift) = if exponent == 0 {
        (fraction, 0)
    } else {
        (fraction | 0x80_0000, exponent.saturating_sub(1))
    };
    // `scaled` < 2^44: shifted up by less than 64 it stays below 2^108 (128 bits lose
    // nothing); by 64 or more it is past 2^64.
    let scaled = mantissa.saturating_mul(1_000_000);
    let value = match shift.checked_sub(149) {
        Some(up) if up < 64 => scaled << up,
        Some(_) => return NOT_A_LOSS,
        None => scaled >> 149u32.saturating_sub(shift).min(127),
    };
    u64::try_from(value).ok().filter(|v| *v < NOT_A_LOSS).unwrap_or(NOT_A_LOSS)
}

/// The reported loss of a run whose last loss is no finite non-negative number below it
/// ([`loss_micros`]).
pub const NOT_A_LOSS: u64 = u64::MAX;

/// A verifier's sign-up for a job's spot check (VERIFICATION.md, "Spot checks").
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct SignUp {
    /// The verifier, bonded with the job's collateral.
    pub verifier: AccountBytes,
    /// [`crate::spotcheck::commitment`] of its account and secret.
    pub commit: [u8; 32],
    /// How far it got.
    pub check: Check,
}

/// Where a sign-up stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum Check {
    /// Signed up; the secret is not revealed (the bond is lost if it never is).
    Committed,
    /// The secret was revealed without a check (the bond comes back, no fee).
    Revealed,
    /// The secret was revealed with its segment's steps root, which matched the executor's
    /// commitment: `draw` ranks it for the job's fee slots.
    Checked {
        /// [`crate::spotcheck::draw`] of its secret and the trace root.
        draw: [u8; 32],
    },
    /// The verifier challenged instead: its bond is the game's.
    Challenged,
    /// It had attested, and the executor then lost a game ([`Accusation`]): its bond stays
    /// locked until it is settled (`settle_attester`). It may defend the result against each
    /// accusation's claim in a game of its own (`defend`, `defence_of`).
    Accused {
        /// Accusations `0..cleared` it has beaten (settled so far, in order).
        cleared: u16,
    },
    /// It was accused and settled: `upheld` (it won a defence against every accusation: bond
    /// back) or not (slashed). Its defences' games are freed by its `release`.
    Settled {
        /// Whether its attestation was upheld.
        upheld: bool,
    },
}

/// A breakthrough bounty.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Bounty {
    /// Who funded it (gets the rest back after `expires_at`).
    pub sponsor: AccountBytes,
    /// CID text of the benchmark (eval set).
    pub benchmark_cid: Vec<u8>,
    /// Metric code (what `score` measures; 0 accuracy, 1 exact match, 2 pass@1, …).
    pub metric: u8,
    /// How much a score must beat `best` by.
    pub margin: u64,
    /// Best verified score so far.
    pub best: u64,
    /// Tranches still to pay.
    pub tranches_left: u8,
    /// Size of one tranche (the last one also takes the division's remainder).
    pub tranche: Balance,
    /// Escrow left.
    pub escrow: Balance,
    /// After this block the sponsor can take the rest back.
    pub expires_at: BlockNumber,
}

impl Bounty {
    /// Whether `score` wins a tranche: it beats the best so far by at least the margin (which
    /// is above 0, so equal scores never win twice). Scores and margins are at most
    /// [`MAX_SCORE`], so the sum never overflows.
    pub fn beaten_by(&self, score: u64) -> bool {
        score >= self.best.saturating_add(self.margin)
    }

    /// The last block at which a job with this `deadline` and challenge `window` can still be
    /// settled: submitted at its deadline, challenged at the window's last block, its games
    /// over at most `game_blocks` later (0 for a job that cannot be challenged), finalized in the
    /// next block.
    pub fn settles_by(
        deadline: BlockNumber,
        window: BlockNumber,
        game_blocks: BlockNumber,
    ) -> Option<BlockNumber> {
        deadline.checked_add(window)?.checked_add(game_blocks)?.checked_add(1)
    }
}

/// What the registry asks the market about a job (provenance of `register_from_job`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct JobOutput {
    /// The job's poster.
    pub poster: AccountBytes,
    /// The artifact the job worked for.
    pub artifact: ArtifactId,
    /// The verified output CID.
    pub output_cid: Vec<u8>,
    /// The base model's package CID its game committed, if any ([`GameSpec::base`]): the
    /// output is a fine-tune of the artifact with this package, or of none.
    pub base: Option<Vec<u8>>,
}

/// A challenge of a job: who challenged, its game in the dispute contract, and whether it was
/// settled (the record stays until its challenger releases it, so that the storage deposit it
/// paid comes back to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Challenge {
    /// The challenger.
    pub challenger: AccountBytes,
    /// Its game in the dispute contract.
    pub game: crate::dispute::GameId,
    /// Whether `settle_challenge` has settled it.
    pub settled: bool,
    /// The accusation its game became (the executor lost it while attesters stood accused):
    /// its claim stays staked, and the record kept, until no attester stands accused; then
    /// its challenger's `release` returns the bond (unless a defence beat the claim).
    pub accusation: Option<u16>,
}

/// An account's entry in the market's ledger: what it may withdraw, and how many of its jobs,
/// sign-ups, challenges and bounties are still to settle (each may credit it). The entry is
/// created by the account's own call (posting, claiming, signing up, challenging, funding a
/// bounty), so settlement never makes a third party pay a deposit for it; `withdraw` frees it
/// once nothing is live, refunding that deposit to the account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Payee {
    /// What the account may withdraw.
    pub owed: Balance,
    /// Its jobs, sign-ups, challenges and bounties still to settle.
    pub live: u32,
}

/// Errors the market returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// The caller is not the admin.
    NotAdmin,
    /// The caller has no pledge.
    NotPledged,
    /// A payable message got no value, or a zero amount was given.
    ZeroAmount,
    /// A basis-point value above 10 000.
    BadBps,
    /// The stake not locked is less than asked for.
    InsufficientFreeStake,
    /// Unbonding stake is not withdrawable yet (or there is none).
    StillUnbonding,
    /// A CID text is empty, too long or has characters no CID has.
    BadCid,
    /// The deadline is not in the future.
    BadDeadline,
    /// Verification terms out of range (verifiers above 8, or a zero window).
    BadVerification,
    /// No job with this id.
    UnknownJob,
    /// No bounty with this id.
    UnknownBounty,
    /// The job is not in the state this message needs.
    WrongState,
    /// The deadline has passed.
    DeadlinePassed,
    /// The deadline has not passed yet.
    DeadlineNotReached,
    /// The provider's capacity does not fit the job.
    CapacityTooSmall,
    /// The reward does not cover the provider's ask plus the verifier fees.
    PriceTooHigh,
    /// Only the job's executor may do this.
    NotExecutor,
    /// The executor, poster or challenger cannot verify its own job.
    ConflictOfInterest,
    /// This account already attested or challenged this job.
    AlreadyActed,
    /// The challenge window has closed.
    WindowClosed,
    /// The challenge window is still open.
    WindowOpen,
    /// A bounty must be paid into an EvalPath job, and needs at least one tranche.
    BadBounty,
    /// Nothing to withdraw.
    NothingToWithdraw,
    /// The native transfer failed.
    TransferFailed,
    /// A call to another contract failed.
    CallFailed,
    /// An amount or counter overflowed.
    Overflow,
    /// The new code hash was refused.
    UpgradeFailed,
    /// Market parameters out of their bounds.
    BadParams,
    /// No admin change has been announced.
    NothingProposed,
    /// The announced change's timelock has not passed.
    Timelocked,
    /// Only the proposed admin may accept the hand-over.
    NotProposedAdmin,
    /// The job's collateral is below the market minimum.
    CollateralTooLow,
    /// Work units are 0 or above the maximum.
    BadUnits,
    /// Bounties cannot be won until the verification game decides evaluation jobs.
    BountyNeedsGame,
    /// A score above the maximum, or a margin of 0.
    BadScore,
    /// The announced change (or rule) went stale: announce it again.
    Stale,
    /// An EvalPath job must name its benchmark and metric; a Train job names none.
    BadBenchmark,
    /// The job's benchmark or metric is not the bounty's.
    NotBountyBenchmark,
    /// The job could still be unsettled when the bounty expires.
    BountyEndsFirst,
    /// The job's score does not beat the bounty's best by its margin.
    NotAnImprovement,
    /// The job names no bounty.
    NoBounty,
    /// An executor allow-list of more than [`MAX_ALLOWED_EXECUTORS`] accounts.
    TooManyExecutors,
    /// The caller is not on the job's executor allow-list.
    NotAllowed,
    /// The job's result was not verified.
    Unverified,
    /// The bounty has no tranche left.
    BountyExhausted,
    /// A record too large for contract storage (its encoding over 16 KiB).
    TooLarge,
    /// A game spec on a job that is not a training job, or out of bounds.
    BadGame,
    /// No such challenge game on this job, or (an evaluation job) none can be opened.
    NoGame,
    /// No dispute contract is wired to the market.
    NoDisputeContract,
    /// The dispute contract refused to open the game (a claim not in the challenger's trace).
    DisputeRefused,
    /// The job's game is not decided yet.
    NotDecided,
    /// Games about the job are still being played.
    GamesOpen,
    /// Sign-ups close when the result is submitted.
    SignUpClosed,
    /// The job has [`crate::spotcheck::MAX_SIGN_UPS`] sign-ups.
    SignUpsFull,
    /// The caller did not sign up for this job's spot check.
    NotSignedUp,
    /// The secret does not open the caller's sign-up commitment.
    BadReveal,
    /// The steps root is not the executor's committed leaf for the caller's segment.
    BadCheck,
    /// The caller has no record of this job that can be freed yet.
    NothingToRelease,
    /// A training result's last state is not proven ([`FinalState::check`]), or an
    /// evaluation's result came with one.
    BadFinalState,
    /// The job's result is not accused (or not by this accusation), or the caller's (or this)
    /// sign-up is not an accused attestation.
    NotAccused,
    /// The time to defend against the accusation has passed.
    DefenceClosed,
    /// An accused attester may still defend, or one of its defences or of the job's games is
    /// still being played: it is settled once everything is decided.
    DefenceOpen,
    /// The attester already defends against this accusation.
    AlreadyDefended,
}

#[cfg(feature = "ink")]
impl From<crate::storage::TooLarge> for Error {
    fn from(_: crate::storage::TooLarge) -> Error {
        Error::TooLarge
    }
}

impl From<crate::admin::AdminError> for Error {
    fn from(e: crate::admin::AdminError) -> Error {
        use crate::admin::AdminError as E;
        match e {
            E::NotAdmin => Error::NotAdmin,
            E::NotProposedAdmin => Error::NotProposedAdmin,
            E::NothingProposed => Error::NothingProposed,
            E::Timelocked => Error::Timelocked,
            E::Overflow => Error::Overflow,
            E::Stale => Error::Stale,
        }
    }
}

impl Error {
    /// A one-line, user-facing explanation.
    pub fn message(self) -> &'static str {
        match self {
            Error::NotAdmin => "only the market's admin may do this",
            Error::NotPledged => "you have no pledge: run `iollm pledge` first",
            Error::ZeroAmount => "the amount must be above zero",
            Error::BadBps => "basis points must be at most 10000",
            Error::InsufficientFreeStake => "not enough free (unlocked) stake",
            Error::StillUnbonding => "the unbonding delay has not passed",
            Error::BadCid => "the CID is empty, too long or not a CID",
            Error::BadDeadline => {
                "the deadline must be a future block within the market's longest job length"
            }
            Error::BadVerification => {
                "verification terms out of range (verifiers from the market minimum to 8, \
                 window from 1 to the market maximum)"
            }
            Error::UnknownJob => "no job with this id",
            Error::UnknownBounty => "no bounty with this id",
            Error::WrongState => "the job is not in a state that allows this",
            Error::DeadlinePassed => "the job's deadline has passed",
            Error::DeadlineNotReached => "the job's deadline has not passed yet",
            Error::CapacityTooSmall => "your pledged capacity does not fit this job",
            Error::PriceTooHigh => "the job's reward does not cover your price plus verifier fees",
            Error::NotExecutor => "only the job's executor may do this",
            Error::ConflictOfInterest => "you cannot verify or judge a job you are party to",
            Error::AlreadyActed => "you already signed up for, attested or challenged this job",
            Error::WindowClosed => "the challenge window has closed",
            Error::WindowOpen => "the challenge window is still open",
            Error::BadBounty => "bounties need tranches and are won by EvalPath jobs only",
            Error::NothingToWithdraw => "nothing to withdraw",
            Error::TransferFailed => "the payout transfer failed",
            Error::CallFailed => "a call to another contract failed",
            Error::Overflow => "an amount overflowed",
            Error::UpgradeFailed => "the new code hash was refused",
            Error::BadParams => "market parameters out of bounds (see contracts/README.md)",
            Error::NothingProposed => "no admin change has been announced",
            Error::Timelocked => "the announced change's timelock has not passed yet",
            Error::NotProposedAdmin => "only the proposed admin may accept",
            Error::CollateralTooLow => {
                "collateral below the market minimum (collateral factor x reference price x units)"
            }
            Error::BadUnits => "work units must be between 1 and 1000000000",
            Error::BountyNeedsGame => {
                "bounties cannot be won yet: evaluation jobs are verified only by the \
                 verification game, which does not exist yet"
            }
            Error::BadScore => "scores must be at most 10^15 and a bounty margin above 0",
            Error::Stale => {
                "the announced change went stale (not applied within a week of its timelock): announce it again"
            }
            Error::BadBenchmark => {
                "an eval-path job names its benchmark CID and metric; a train job names none"
            }
            Error::NotBountyBenchmark => {
                "the job's benchmark CID or metric is not the bounty's: see `iollm bounty show`"
            }
            Error::BountyEndsFirst => {
                "the bounty expires before the job could be settled and its tranche claimed: \
                 deadline + window + 1 (+ the market's challenge blocks for a job with a game) \
                 + its submit blocks must not pass the bounty's expiry"
            }
            Error::NotAnImprovement => "the job's score does not beat the bounty's best by its margin",
            Error::NoBounty => "the job competes for no bounty",
            Error::TooManyExecutors => "an executor allow-list names at most 8 accounts",
            Error::NotAllowed => "the job's poster did not allow you to claim it",
            Error::Unverified => "the job's result was not verified",
            Error::BountyExhausted => "the bounty has no tranche left",
            Error::TooLarge => "a record too large for contract storage (over 16 KiB)",
            Error::BadGame => {
                "every train job (and only a train job) needs a game spec: a valid config and \
                 output commitment, at least one checkpoint, 1 to 100800 blocks per move and a worst-case game \
                 within the market's challenge blocks (post with --config FILE)"
            }
            Error::NothingToRelease => {
                "nothing of yours to release on this job: it has not ended, your challenge is not \
                 settled, or you released it already"
            }
            Error::BadFinalState => {
                "the result's last state is not proven: submit a training result with the run that \
                 produced it (`iollm job submit --run DIR`), an evaluation's without one"
            }
            Error::NoGame => {
                "no such challenge on this job (see `iollm job show`); evaluation jobs cannot be \
                 challenged yet"
            }
            Error::NoDisputeContract => "no dispute contract is wired to the market",
            Error::DisputeRefused => {
                "the dispute contract refused the claim: its h_0 and h_n must be in your trace root"
            }
            Error::NotDecided => {
                "the game is not decided yet and no side is late: play it (`iollm dispute show`)"
            }
            Error::GamesOpen => {
                "challenge games about this job are still open: settle them first \
                 (`iollm job settle-challenge`)"
            }
            Error::SignUpClosed => {
                "spot-check sign-ups close when the result is submitted: challenge it instead"
            }
            Error::SignUpsFull => "the job has the most spot-check sign-ups it takes (16)",
            Error::NotSignedUp => "you did not sign up for this job's spot check (`iollm job sign-up`)",
            Error::BadReveal => "the secret does not open your sign-up: use the one `job sign-up` kept",
            Error::BadCheck => {
                "your segment's steps root is not what the executor committed: if your replay \
                 reaches a different checkpoint, challenge the result; else reveal without a check"
            }
            Error::NotAccused => {
                "no such accusation of your attestation: only an attester of a result whose \
                 executor lost a game defends or is settled (`iollm job show`)"
            }
            Error::DefenceClosed => "the time to defend against this accusation has passed",
            Error::DefenceOpen => {
                "not yet: the attester may still defend, or a game of the job is still played; \
                 settle it once every game is decided (`iollm job show`)"
            }
            Error::AlreadyDefended => "you already defend against this accusation (`iollm job show`)",
        }
    }
}

/// Event data the market emits (SCALE layout of the contract's `#[ink::event]` structs); the
/// admin events are in [`crate::admin::events`].
pub mod events {
    use super::*;

    /// `Pledged`: a pledge was made, changed or topped up.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct Pledged {
        /// The provider.
        pub provider: AccountBytes,
        /// Its stake now.
        pub stake: Balance,
    }

    /// `Unpledged`: stake moved to unbonding.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct Unpledged {
        /// The provider.
        pub provider: AccountBytes,
        /// Amount now unbonding (in total).
        pub unbonding: Balance,
        /// Withdrawable from this block.
        pub until: BlockNumber,
    }

    /// `JobPosted`.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct JobPosted {
        /// The job.
        pub job: JobId,
        /// Its poster.
        pub poster: AccountBytes,
        /// Escrowed reward.
        pub reward: Balance,
    }

    /// `JobClaimed`.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct JobClaimed {
        /// The job.
        pub job: JobId,
        /// The executor.
        pub executor: AccountBytes,
        /// What it will be paid.
        pub ask: Balance,
    }

    /// `ResultSubmitted`.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct ResultSubmitted {
        /// The job.
        pub job: JobId,
        /// The commitment.
        pub commitment: Commitment,
    }

    /// `SignedUp`: a verifier bonded itself to spot-check the job.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct SignedUp {
        /// The job.
        pub job: JobId,
        /// The verifier.
        pub verifier: AccountBytes,
    }

    /// `Attested`: a verifier revealed its secret, with the segment it drew (`None`: revealed
    /// without a check); an attestation checked the last segment too.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct Attested {
        /// The job.
        pub job: JobId,
        /// The verifier.
        pub verifier: AccountBytes,
        /// The drawn segment, whose steps root (and the last segment's) matched the
        /// executor's commitment.
        pub segment: Option<u64>,
    }

    /// `Challenged`: a challenger opened a dispute game about the job's result.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct Challenged {
        /// The job.
        pub job: JobId,
        /// The challenger.
        pub challenger: AccountBytes,
        /// The challenge's index on the job (`game_of(job, index)`).
        pub index: u16,
        /// The game in the dispute contract.
        pub game: crate::dispute::GameId,
    }

    /// `ChallengeResolved`: a challenge's game was settled and its loser slashed (when the
    /// executor lost, its attesters stand accused: `AttestationSettled`).
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct ChallengeResolved {
        /// The job.
        pub job: JobId,
        /// The challenge's index on the job.
        pub index: u16,
        /// Whether the executor was right.
        pub executor_honest: bool,
        /// Amount slashed from the losers.
        pub slashed: Balance,
        /// Of which to the winner.
        pub to_winner: Balance,
        /// Of which to the treasury.
        pub to_treasury: Balance,
    }

    /// `Defended`: an accused attester opened its defence of the result against an accusation.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct Defended {
        /// The job.
        pub job: JobId,
        /// The attester.
        pub verifier: AccountBytes,
        /// The accusation it answers (`accusation_of`).
        pub accusation: u16,
        /// Its game in the dispute contract (it in the executor's place).
        pub game: crate::dispute::GameId,
    }

    /// `AttestationSettled`: an accused attester's bond came back (`upheld`) or was slashed.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct AttestationSettled {
        /// The job.
        pub job: JobId,
        /// The attester.
        pub verifier: AccountBytes,
        /// Whether its attestation was upheld by its defences.
        pub upheld: bool,
        /// Amount slashed (its bond, or 0).
        pub slashed: Balance,
        /// Of which to the accusing challenger.
        pub to_winner: Balance,
        /// Of which to the treasury.
        pub to_treasury: Balance,
    }

    /// `ClaimBeaten`: an accused attester won a defence against an accusing challenge's claim:
    /// that challenger's bond is slashed, half held for the attester (paid with its bond when
    /// it is settled upheld, else to the treasury).
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct ClaimBeaten {
        /// The job.
        pub job: JobId,
        /// The challenge whose claim was beaten.
        pub index: u16,
        /// The attester that beat it.
        pub verifier: AccountBytes,
        /// Of the challenger's bond, held for the attester.
        pub held: Balance,
        /// Of the challenger's bond, to the treasury.
        pub to_treasury: Balance,
    }

    /// `JobFinalized`.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct JobFinalized {
        /// The job.
        pub job: JobId,
        /// Paid to the executor.
        pub executor_paid: Balance,
        /// Paid to verifiers in total.
        pub verifiers_paid: Balance,
        /// Refunded to the poster.
        pub refund: Balance,
        /// Share units credited to the executor (joint mining).
        pub units_credited: Balance,
        /// Whether the result counts as verified.
        pub verified: bool,
    }

    /// `JobExpired`.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct JobExpired {
        /// The job.
        pub job: JobId,
        /// Refunded to the poster.
        pub refund: Balance,
        /// Executor collateral slashed (0 if nobody had claimed).
        pub slashed: Balance,
    }

    /// `BountyPosted`.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct BountyPosted {
        /// The bounty.
        pub bounty: BountyId,
        /// Its sponsor.
        pub sponsor: AccountBytes,
        /// Escrow.
        pub amount: Balance,
    }

    /// `BountyReclaimed`: the sponsor took the rest back after expiry.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct BountyReclaimed {
        /// The bounty.
        pub bounty: BountyId,
        /// Amount returned.
        pub amount: Balance,
    }

    /// `Withdrawn`.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct Withdrawn {
        /// Who.
        pub account: AccountBytes,
        /// How much.
        pub amount: Balance,
    }

    /// `JobReopened`: the executor missed its submit-by block and was slashed.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct JobReopened {
        /// The job.
        pub job: JobId,
        /// The executor that did not submit.
        pub no_show: AccountBytes,
        /// Its collateral, slashed.
        pub slashed: Balance,
    }

    /// Signature topic of `Pledged`.
    pub const PLEDGED_TOPIC: [u8; 32] = [
        0x90, 0x81, 0xdb, 0x39, 0xc6, 0x8d, 0x84, 0x46, 0x2d, 0xd6, 0xa7, 0x2f, 0xf1, 0x90, 0x60,
        0x45, 0x94, 0xab, 0x52, 0x04, 0x28, 0x6b, 0x29, 0x13, 0xbe, 0x8a, 0xba, 0x37, 0x0b, 0xce,
        0x8e, 0x77,
    ];
    /// Signature topic of `Unpledged`.
    pub const UNPLEDGED_TOPIC: [u8; 32] = [
        0x37, 0xe8, 0x5e, 0x04, 0xef, 0x5b, 0xb7, 0xe7, 0xf4, 0x86, 0x8f, 0xd5, 0x52, 0xed, 0x7f,
        0xb1, 0x2f, 0x7b, 0xd4, 0x10, 0x03, 0xd0, 0x89, 0x3f, 0x1f, 0x41, 0xf0, 0xc5, 0xf8, 0x3a,
        0xb8, 0x0d,
    ];
    /// Signature topic of `JobPosted`.
    pub const JOB_POSTED_TOPIC: [u8; 32] = [
        0xf6, 0xaf, 0xfb, 0x96, 0xa6, 0x7b, 0x39, 0x3e, 0x4e, 0x82, 0x7a, 0x6d, 0xf6, 0x98, 0x40,
        0x30, 0x44, 0x33, 0x85, 0x56, 0x4a, 0xbc, 0x04, 0x30, 0x2b, 0x3f, 0x12, 0xf5, 0xbf, 0x44,
        0x1b, 0x27,
    ];
    /// Signature topic of `JobClaimed`.
    pub const JOB_CLAIMED_TOPIC: [u8; 32] = [
        0x65, 0xd4, 0x0e, 0x32, 0x6c, 0xe5, 0x8e, 0x5f, 0x3c, 0xe4, 0xd1, 0x95, 0x2a, 0x69, 0x85,
        0xe3, 0x5b, 0x16, 0x88, 0xa5, 0xa7, 0x67, 0x45, 0x5a, 0x81, 0x64, 0xed, 0x83, 0xe0, 0xc1,
        0xb6, 0x08,
    ];
    /// Signature topic of `ResultSubmitted`.
    pub const RESULT_SUBMITTED_TOPIC: [u8; 32] = [
        0xdf, 0x2c, 0x44, 0x42, 0xbf, 0xed, 0x72, 0xf4, 0xa0, 0xc2, 0x81, 0xb8, 0x1e, 0xa5, 0xa5,
        0xff, 0x01, 0x8c, 0x1e, 0xfc, 0x26, 0xde, 0x7d, 0x2d, 0x41, 0xe9, 0xf5, 0x1b, 0x0c, 0xbe,
        0xb8, 0x0f,
    ];
    /// Signature topic of `SignedUp`.
    pub const SIGNED_UP_TOPIC: [u8; 32] = [
        0x05, 0x6c, 0xa8, 0xfb, 0x8f, 0xf8, 0xbd, 0x83, 0x42, 0xf2, 0xb0, 0xf4, 0x45, 0x2b, 0x2a,
        0x2b, 0x96, 0xd1, 0x21, 0xce, 0x4b, 0x6a, 0xc7, 0xaa, 0x2e, 0xd2, 0xd9, 0x14, 0xd6, 0x53,
        0x51, 0xeb,
    ];
    /// Signature topic of `Attested`.
    pub const ATTESTED_TOPIC: [u8; 32] = [
        0x0f, 0xf6, 0x09, 0xaa, 0xd9, 0xc7, 0xd0, 0x89, 0xae, 0x82, 0xa6, 0x7a, 0xf6, 0x32, 0x37,
        0x98, 0xf8, 0xdb, 0x7b, 0x5a, 0xe2, 0xd9, 0x21, 0xf6, 0x4a, 0xbc, 0xc1, 0x9e, 0x31, 0x0c,
        0x33, 0xb0,
    ];
    /// Signature topic of `Challenged`.
    pub const CHALLENGED_TOPIC: [u8; 32] = [
        0xb6, 0xe0, 0xf2, 0x07, 0x01, 0x96, 0x19, 0x10, 0xbc, 0xea, 0xbd, 0xc3, 0xcc, 0x5e, 0xc1,
        0xef, 0xfa, 0x9b, 0x8b, 0xdf, 0x06, 0xd0, 0x99, 0x77, 0xd7, 0x62, 0x90, 0x93, 0xec, 0xce,
        0x82, 0xa4,
    ];
    /// Signature topic of `ChallengeResolved`.
    pub const CHALLENGE_RESOLVED_TOPIC: [u8; 32] = [
        0xff, 0x47, 0x6c, 0xa7, 0x36, 0x71, 0x94, 0x03, 0xc0, 0xb7, 0x85, 0x39, 0x9a, 0xc4, 0x94,
        0x5a, 0x95, 0xd9, 0x04, 0x38, 0xd6, 0xaa, 0xc5, 0x07, 0x9f, 0x16, 0xa2, 0xa9, 0x19, 0x2b,
        0x0d, 0x29,
    ];
    /// Signature topic of `Defended`.
    pub const DEFENDED_TOPIC: [u8; 32] = [
        0xd6, 0x19, 0xe5, 0x1f, 0x4a, 0x4a, 0x8c, 0x01, 0x61, 0xe5, 0x5d, 0xd0, 0x70, 0x92, 0x4c,
        0x11, 0x18, 0x83, 0x5f, 0x2f, 0x8f, 0xa1, 0xd4, 0x62, 0x8b, 0x2d, 0x7b, 0x0b, 0x18, 0x11,
        0xdd, 0xe6,
    ];
    /// Signature topic of `AttestationSettled`.
    pub const ATTESTATION_SETTLED_TOPIC: [u8; 32] = [
        0x4d, 0xc9, 0x49, 0x4d, 0xfe, 0x58, 0x9d, 0xbd, 0x10, 0xdf, 0xb0, 0x4f, 0xc6, 0xaf, 0x1f,
        0xd1, 0xbd, 0xd3, 0x5f, 0x29, 0x5b, 0xee, 0x18, 0x7e, 0x71, 0xf1, 0x35, 0xa9, 0xf0, 0x39,
        0xf5, 0xd1,
    ];
    /// Signature topic of `ClaimBeaten`.
    pub const CLAIM_BEATEN_TOPIC: [u8; 32] = [
        0x28, 0x38, 0x3a, 0x81, 0x3a, 0xef, 0xbc, 0xfb, 0x20, 0x1e, 0x2d, 0x88, 0x17, 0x3f, 0xf9,
        0xd1, 0xc2, 0xb1, 0xf4, 0x39, 0x88, 0xd7, 0x86, 0x67, 0x79, 0xf3, 0x4a, 0x97, 0x2a, 0xb4,
        0x2f, 0x24,
    ];
    /// Signature topic of `JobFinalized`.
    pub const JOB_FINALIZED_TOPIC: [u8; 32] = [
        0xe8, 0x94, 0x9d, 0xe6, 0x27, 0x14, 0x0c, 0x8f, 0x7f, 0x13, 0xc9, 0x48, 0x5e, 0x13, 0xe3,
        0x57, 0x1a, 0x83, 0xe8, 0x95, 0x2f, 0xb1, 0x75, 0x0b, 0x15, 0x7c, 0xe4, 0x41, 0x7e, 0xd8,
        0xc1, 0x4f,
    ];
    /// Signature topic of `JobExpired`.
    pub const JOB_EXPIRED_TOPIC: [u8; 32] = [
        0x21, 0x46, 0xd7, 0xb1, 0xdf, 0xbb, 0xc2, 0x8b, 0xc0, 0x6d, 0x76, 0x76, 0x8e, 0x2b, 0x45,
        0xd9, 0xa5, 0x68, 0x7b, 0x14, 0x99, 0x4e, 0x32, 0xa1, 0x71, 0x6d, 0x88, 0x56, 0xf2, 0x06,
        0xa8, 0x09,
    ];
    /// Signature topic of `BountyPosted`.
    pub const BOUNTY_POSTED_TOPIC: [u8; 32] = [
        0x9c, 0x09, 0xef, 0x4b, 0x4b, 0xbb, 0xbe, 0x47, 0xa0, 0x67, 0x4d, 0x6e, 0x70, 0x59, 0xc5,
        0x15, 0x66, 0xfe, 0xaf, 0x14, 0x97, 0x21, 0xc6, 0x68, 0xa4, 0x01, 0xa6, 0x4c, 0x75, 0x6a,
        0xa2, 0x1f,
    ];
    /// Signature topic of `BountyReclaimed`.
    pub const BOUNTY_RECLAIMED_TOPIC: [u8; 32] = [
        0x9b, 0x59, 0x18, 0x2a, 0xc4, 0x04, 0xcd, 0xee, 0x63, 0x95, 0xe8, 0x64, 0x7c, 0x6c, 0xee,
        0x94, 0x0a, 0x58, 0x69, 0xe8, 0x4a, 0x93, 0xce, 0xed, 0xc0, 0xbc, 0xd7, 0x83, 0x59, 0x08,
        0x95, 0xe1,
    ];
    /// Signature topic of `Withdrawn`.
    pub const WITHDRAWN_TOPIC: [u8; 32] = [
        0x3f, 0x3c, 0xb8, 0x10, 0x8d, 0x10, 0xf6, 0xbe, 0xbc, 0x48, 0x33, 0x5e, 0x02, 0x75, 0x53,
        0xbc, 0x98, 0x8d, 0x24, 0xac, 0x6b, 0xbb, 0xca, 0xdd, 0x59, 0x58, 0x8e, 0x46, 0x07, 0xe2,
        0x4c, 0x25,
    ];
    /// Signature topic of `JobReopened`.
    pub const JOB_REOPENED_TOPIC: [u8; 32] = [
        0x9f, 0x86, 0xe2, 0x2c, 0x4e, 0xd9, 0xdc, 0xf4, 0xd8, 0xc7, 0x13, 0x95, 0x8f, 0x41, 0xbc,
        0x9d, 0x9b, 0xb1, 0xbd, 0xff, 0x1b, 0x64, 0x5d, 0x88, 0x8a, 0xe8, 0x1f, 0xa0, 0x97, 0x3c,
        0x81, 0xdd,
    ];

    crate::contract_events! {
        "the market emits about pledges, jobs and bounties (its admin events are \
         `crate::admin::events`)";
        Pledged => PLEDGED_TOPIC,
        Unpledged => UNPLEDGED_TOPIC,
        JobPosted => JOB_POSTED_TOPIC,
        JobClaimed => JOB_CLAIMED_TOPIC,
        ResultSubmitted => RESULT_SUBMITTED_TOPIC,
        SignedUp => SIGNED_UP_TOPIC,
        Attested => ATTESTED_TOPIC,
        Challenged => CHALLENGED_TOPIC,
        ChallengeResolved => CHALLENGE_RESOLVED_TOPIC,
        Defended => DEFENDED_TOPIC,
        AttestationSettled => ATTESTATION_SETTLED_TOPIC,
        ClaimBeaten => CLAIM_BEATEN_TOPIC,
        JobFinalized => JOB_FINALIZED_TOPIC,
        JobExpired => JOB_EXPIRED_TOPIC,
        BountyPosted => BOUNTY_POSTED_TOPIC,
        BountyReclaimed => BOUNTY_RECLAIMED_TOPIC,
        Withdrawn => WITHDRAWN_TOPIC,
        JobReopened => JOB_REOPENED_TOPIC,
    }
}

/// Message selectors (generated by `scripts/abi-consts.py sel`, checked by the contract tests).
pub mod selectors {
    pub use crate::admin::selectors::*;
    /// `new`.
    pub const NEW: [u8; 4] = [0x9b, 0xae, 0x9d, 0x5e];
    /// `pledge`.
    pub const PLEDGE: [u8; 4] = [0xc9, 0xc6, 0x3f, 0x62];
    /// `top_up`.
    pub const TOP_UP: [u8; 4] = [0x29, 0xb2, 0x76, 0x5c];
    /// `unpledge`.
    pub const UNPLEDGE: [u8; 4] = [0x22, 0xec, 0xa1, 0x1c];
    /// `post_job`.
    pub const POST_JOB: [u8; 4] = [0x4b, 0x68, 0x2d, 0xca];
    /// `claim`.
    pub const CLAIM: [u8; 4] = [0xb3, 0x88, 0x80, 0x3f];
    /// `submit_result`.
    pub const SUBMIT_RESULT: [u8; 4] = [0xae, 0x2f, 0x36, 0xce];
    /// `attest`.
    pub const ATTEST: [u8; 4] = [0xdf, 0xad, 0xfe, 0x37];
    /// `sign_up`.
    pub const SIGN_UP: [u8; 4] = [0x4a, 0xd6, 0x46, 0x6e];
    /// `challenge`.
    pub const CHALLENGE: [u8; 4] = [0xf7, 0x55, 0xa0, 0x53];
    /// `challenge_output`.
    pub const CHALLENGE_OUTPUT: [u8; 4] = [0x26, 0x10, 0xfa, 0x2e];
    /// `challenge_initial`.
    pub const CHALLENGE_INITIAL: [u8; 4] = [0x15, 0xfb, 0x49, 0x73];
    /// `finalize`.
    pub const FINALIZE: [u8; 4] = [0x40, 0x65, 0x6e, 0x2b];
    /// `expire`.
    pub const EXPIRE: [u8; 4] = [0xb2, 0xc6, 0x85, 0x50];
    /// `post_bounty`.
    pub const POST_BOUNTY: [u8; 4] = [0x16, 0x39, 0x18, 0x51];
    /// `reclaim_bounty`.
    pub const RECLAIM_BOUNTY: [u8; 4] = [0x1e, 0xbc, 0x29, 0x57];
    /// `pay_bounty`.
    pub const PAY_BOUNTY: [u8; 4] = [0x53, 0x95, 0x26, 0x0f];
    /// `job_terms`.
    pub const JOB_TERMS: [u8; 4] = [0x9b, 0xa2, 0x56, 0xd7];
    /// `wire_dispute`.
    pub const WIRE_DISPUTE: [u8; 4] = [0xaa, 0xd2, 0x60, 0x28];
    /// `settle_challenge`.
    pub const SETTLE_CHALLENGE: [u8; 4] = [0xd3, 0x68, 0xed, 0x94];
    /// `defend`.
    pub const DEFEND: [u8; 4] = [0x06, 0xbf, 0x7d, 0xda];
    /// `accusation_of`.
    pub const ACCUSATION_OF: [u8; 4] = [0xc1, 0xa3, 0xcb, 0xbc];
    /// `defence_of`.
    pub const DEFENCE_OF: [u8; 4] = [0xae, 0x6f, 0xd6, 0x5a];
    /// `settle_attester`.
    pub const SETTLE_ATTESTER: [u8; 4] = [0x65, 0x79, 0xb6, 0x2b];
    /// `sign_up_of`.
    pub const SIGN_UP_OF: [u8; 4] = [0xb6, 0x75, 0x76, 0x23];
    /// `release`.
    pub const RELEASE: [u8; 4] = [0x3f, 0x2b, 0xe1, 0x52];
    /// `game_of`.
    pub const GAME_OF: [u8; 4] = [0xc8, 0xb8, 0x9b, 0xf8];
    /// `withdraw`.
    pub const WITHDRAW: [u8; 4] = [0x41, 0x0f, 0xcc, 0x9d];
    /// `wire_splitter`.
    pub const WIRE_SPLITTER: [u8; 4] = [0xd7, 0x41, 0x86, 0x21];
    /// `admin_delay`.
    pub const ADMIN_DELAY: [u8; 4] = [0x14, 0x14, 0xd6, 0xba];
    /// `pledge_of`.
    pub const PLEDGE_OF: [u8; 4] = [0x44, 0x87, 0xc5, 0x5d];
    /// `job`.
    pub const JOB: [u8; 4] = [0x26, 0x7d, 0xd6, 0x17];
    /// `job_spec`.
    pub const JOB_SPEC: [u8; 4] = [0xf2, 0xcd, 0xac, 0x53];
    /// `result`.
    pub const RESULT: [u8; 4] = [0x37, 0x23, 0x77, 0xe0];
    /// `bounty`.
    pub const BOUNTY: [u8; 4] = [0x01, 0x44, 0x66, 0x59];
    /// `balance_of`.
    pub const BALANCE_OF: [u8; 4] = [0x0f, 0x75, 0x5a, 0x56];
    /// `job_output`.
    pub const JOB_OUTPUT: [u8; 4] = [0x86, 0xb2, 0xe1, 0x74];
    /// `params`.
    pub const PARAMS: [u8; 4] = [0xf5, 0x35, 0x3f, 0xe9];
    /// `job_count`.
    pub const JOB_COUNT: [u8; 4] = [0xd2, 0x6a, 0x4e, 0xfb];
    /// `bounty_count`.
    pub const BOUNTY_COUNT: [u8; 4] = [0x07, 0xe1, 0x0b, 0x5d];
}

/// Call data (selector ++ SCALE arguments) of every market message, for off-chain callers.
pub mod calls {
    use super::*;
    pub use crate::admin::calls::*;
    use alloc::vec::Vec;

    fn with<A: Encode>(selector: [u8; 4], args: A) -> Vec<u8> {
        let mut data = selector.to_vec();
        args.encode_to(&mut data);
        data
    }

    /// `new(treasury, params)`.
    pub fn new(treasury: AccountBytes, params: &MarketParams) -> Vec<u8> {
        with(selectors::NEW, (treasury, params))
    }
    /// `pledge(capacity, price_per_unit, discount_bps)` (payable: the stake).
    pub fn pledge(capacity: Capacity, price_per_unit: Balance, discount_bps: u16) -> Vec<u8> {
        with(selectors::PLEDGE, (capacity, price_per_unit, discount_bps))
    }
    /// `top_up()` (payable).
    pub fn top_up() -> Vec<u8> {
        selectors::TOP_UP.to_vec()
    }
    /// `unpledge(amount)`.
    pub fn unpledge(amount: Balance) -> Vec<u8> {
        with(selectors::UNPLEDGE, amount)
    }
    /// `post_job(spec)` (payable: the reward).
    pub fn post_job(spec: &JobSpec) -> Vec<u8> {
        with(selectors::POST_JOB, spec)
    }
    /// `claim(job)`.
    pub fn claim(job: JobId) -> Vec<u8> {
        with(selectors::CLAIM, job)
    }
    /// `submit_result(job, commitment, last)`.
    pub fn submit_result(
        job: JobId,
        commitment: &Commitment,
        last: Option<&FinalState>,
    ) -> Vec<u8> {
        with(selectors::SUBMIT_RESULT, (job, commitment, last))
    }
    /// `sign_up(job, commit)`.
    pub fn sign_up(job: JobId, commit: [u8; 32]) -> Vec<u8> {
        with(selectors::SIGN_UP, (job, commit))
    }
    /// `attest(job, secret, checks)`: `checks` holds, for each of the verifier's
    /// [`crate::spotcheck::checked_segments`] in order, the segment's steps root and its path
    /// in the executor's checks tree.
    pub fn attest(
        job: JobId,
        secret: [u8; 32],
        check: &Option<Vec<crate::spotcheck::SegmentCheck>>,
    ) -> Vec<u8> {
        with(selectors::ATTEST, (job, secret, check))
    }
    /// `challenge(job, trace_root, first_path, last, last_path)`: the challenger's claim.
    pub fn challenge(
        job: JobId,
        trace_root: [u8; 32],
        first_path: &[[u8; 32]],
        last: [u8; 32],
        last_path: &[[u8; 32]],
    ) -> Vec<u8> {
        with(selectors::CHALLENGE, (job, trace_root, first_path, last, last_path))
    }
    /// `challenge_output(job, question)`.
    pub fn challenge_output(job: JobId, question: crate::package::Question) -> Vec<u8> {
        with(selectors::CHALLENGE_OUTPUT, (job, question))
    }
    /// `challenge_initial(job)`: an initial game about the job's `h_0`.
    pub fn challenge_initial(job: JobId) -> Vec<u8> {
        with(selectors::CHALLENGE_INITIAL, job)
    }
    /// `finalize(job)`.
    pub fn finalize(job: JobId) -> Vec<u8> {
        with(selectors::FINALIZE, job)
    }
    /// `expire(job)`.
    pub fn expire(job: JobId) -> Vec<u8> {
        with(selectors::EXPIRE, job)
    }
    /// `post_bounty(benchmark_cid, metric, margin, best, tranches, expires_at)` (payable).
    pub fn post_bounty(
        benchmark_cid: &[u8],
        metric: u8,
        margin: u64,
        best: u64,
        tranches: u8,
        expires_at: BlockNumber,
    ) -> Vec<u8> {
        with(selectors::POST_BOUNTY, (benchmark_cid, metric, margin, best, tranches, expires_at))
    }
    /// `reclaim_bounty(bounty)`.
    pub fn reclaim_bounty(bounty: BountyId) -> Vec<u8> {
        with(selectors::RECLAIM_BOUNTY, bounty)
    }
    /// `pay_bounty(job)`.
    pub fn pay_bounty(job: JobId) -> Vec<u8> {
        with(selectors::PAY_BOUNTY, job)
    }
    /// `job_terms(job) -> Option<JobTerms>`.
    pub fn job_terms(job: JobId) -> Vec<u8> {
        with(selectors::JOB_TERMS, job)
    }
    /// `job_spec(job)`.
    pub fn job_spec(job: JobId) -> Vec<u8> {
        with(selectors::JOB_SPEC, job)
    }
    /// `wire_dispute(dispute)`.
    pub fn wire_dispute(dispute: AccountBytes) -> Vec<u8> {
        with(selectors::WIRE_DISPUTE, dispute)
    }
    /// `settle_challenge(job, index)`.
    pub fn settle_challenge(job: JobId, index: u16) -> Vec<u8> {
        with(selectors::SETTLE_CHALLENGE, (job, index))
    }
    /// `defend(job, accusation)`.
    pub fn defend(job: JobId, accusation: u16) -> Vec<u8> {
        with(selectors::DEFEND, (job, accusation))
    }
    /// `accusation_of(job, index) -> Option<Accusation>`.
    pub fn accusation_of(job: JobId, index: u16) -> Vec<u8> {
        with(selectors::ACCUSATION_OF, (job, index))
    }
    /// `defence_of(job, sign_up, accusation) -> Option<GameId>`.
    pub fn defence_of(job: JobId, sign_up: u8, accusation: u16) -> Vec<u8> {
        with(selectors::DEFENCE_OF, (job, sign_up, accusation))
    }
    /// `settle_attester(job, sign_up)`.
    pub fn settle_attester(job: JobId, sign_up: u8) -> Vec<u8> {
        with(selectors::SETTLE_ATTESTER, (job, sign_up))
    }
    /// `sign_up_of(job, index) -> Option<SignUp>`.
    pub fn sign_up_of(job: JobId, index: u8) -> Vec<u8> {
        with(selectors::SIGN_UP_OF, (job, index))
    }
    /// `release(job)`.
    pub fn release(job: JobId) -> Vec<u8> {
        with(selectors::RELEASE, job)
    }
    /// `game_of(job, index) -> Option<Challenge>`.
    pub fn game_of(job: JobId, index: u16) -> Vec<u8> {
        with(selectors::GAME_OF, (job, index))
    }
    /// `withdraw()`.
    pub fn withdraw() -> Vec<u8> {
        selectors::WITHDRAW.to_vec()
    }
    /// `wire_splitter(splitter)`.
    pub fn wire_splitter(splitter: AccountBytes) -> Vec<u8> {
        with(selectors::WIRE_SPLITTER, splitter)
    }
    /// `params() -> (admin, Option<splitter>, treasury, MarketParams)`.
    pub fn params() -> Vec<u8> {
        selectors::PARAMS.to_vec()
    }
    /// `pledge_of(account) -> Option<Pledge>`.
    pub fn pledge_of(account: AccountBytes) -> Vec<u8> {
        with(selectors::PLEDGE_OF, account)
    }
    /// `job_count() -> JobId`: the last job id given out.
    pub fn job_count() -> Vec<u8> {
        selectors::JOB_COUNT.to_vec()
    }
    /// `job(job) -> Option<Job>`.
    pub fn job(job: JobId) -> Vec<u8> {
        with(selectors::JOB, job)
    }
    /// `result(job) -> Option<Commitment>`.
    pub fn result(job: JobId) -> Vec<u8> {
        with(selectors::RESULT, job)
    }
    /// `bounty(bounty) -> Option<Bounty>`.
    pub fn bounty(bounty: BountyId) -> Vec<u8> {
        with(selectors::BOUNTY, bounty)
    }
    /// `balance_of(account) -> Balance`.
    pub fn balance_of(account: AccountBytes) -> Vec<u8> {
        with(selectors::BALANCE_OF, account)
    }
    /// `job_output(job) -> Option<JobOutput>`.
    pub fn job_output(job: JobId) -> Vec<u8> {
        with(selectors::JOB_OUTPUT, job)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // tests compute their expectations freely
mod tests {
    use super::*;

    #[test]
    fn capacity_fits_in_every_dimension() {
        let offer = Capacity { accelerator: 2, memory_gib: 80, throughput: 100 };
        assert!(offer.fits(&offer));
        assert!(offer.fits(&Capacity::default()));
        assert!(!offer.fits(&Capacity { accelerator: 3, ..offer }));
        assert!(!offer.fits(&Capacity { memory_gib: 81, ..offer }));
        assert!(!offer.fits(&Capacity { throughput: 101, ..offer }));
    }

    #[test]
    fn free_stake_excludes_locked() {
        let p = Pledge { stake: 10, locked: 4, ..Pledge::default() };
        assert_eq!(p.free(), 6);
    }

    #[test]
    fn call_data_is_selector_then_scale_arguments() {
        assert_eq!(calls::claim(5), [&selectors::CLAIM[..], &5u64.to_le_bytes()].concat());
        assert_eq!(calls::withdraw(), selectors::WITHDRAW.to_vec());
        assert_eq!(calls::game_of(1, 2)[12..], [2, 0]);
        let c = Commitment {
            output_cid: b"Qm".to_vec(),
            score: 1,
            loss: 2,
            trace_root: [3; 32],
            checks_root: [4; 32],
        };
        let data = calls::submit_result(9, &c, None);
        assert_eq!(&data[..4], &selectors::SUBMIT_RESULT);
        let decoded = <(JobId, Commitment, Option<FinalState>)>::decode(&mut &data[4..]).unwrap();
        assert_eq!(decoded, (9, c, None));
    }

    const CID: &[u8] = b"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";

    fn bounty(best: u64, margin: u64, expires_at: BlockNumber) -> Bounty {
        Bounty {
            sponsor: [0; 32],
            benchmark_cid: CID.to_vec(),
            metric: 2,
            margin,
            best,
            tranches_left: 1,
            tranche: 1,
            escrow: 1,
            expires_at,
        }
    }

    /// A game spec of the smallest step, one checkpoint of one step.
    fn game(move_blocks: BlockNumber) -> GameSpec {
        GameSpec {
            config: crate::game::GameConfig::SMALLEST,
            config_hash: [4; 32],
            corpus_root: [5; 32],
            every: 1,
            checkpoints: 1,
            h0: [6; 32],
            move_blocks,
            output: crate::package::OutputCommit {
                header_root: [7; 32],
                header_len: crate::package::PIECE_BYTES,
                params: crate::game::GameConfig::SMALLEST.params(),
                config_json: [8; 32],
            },
            base: None,
        }
    }

    fn eval_spec(deadline: BlockNumber, window: BlockNumber) -> JobSpec {
        JobSpec {
            kind: JobKind::EvalPath,
            spec_cid: CID.to_vec(),
            artifact: 1,
            units: 1,
            need: Capacity::default(),
            deadline,
            verification: Verification {
                challenge_window: window,
                verifiers: 1,
                collateral: MarketParams::DEVNET.min_collateral(1).unwrap(),
                verifier_fee: 0,
            },
            bounty: Some(1),
            benchmark: Some(Benchmark { cid: CID.to_vec(), metric: 2 }),
            executors: Vec::new(),
            game: None,
        }
    }

    #[test]
    fn benchmarks_belong_to_eval_jobs_and_bounties_to_them_only() {
        let p = MarketParams::DEVNET;
        let eval = eval_spec(100, 5);
        assert_eq!(check_job(&eval, 1, &p, 1), Ok(()));
        let no_benchmark = JobSpec { benchmark: None, ..eval.clone() };
        assert_eq!(check_job(&no_benchmark, 1, &p, 1), Err(Error::BadBenchmark));
        let bad_cid = JobSpec {
            benchmark: Some(Benchmark { cid: b"x".to_vec(), metric: 2 }),
            ..eval.clone()
        };
        assert_eq!(check_job(&bad_cid, 1, &p, 1), Err(Error::BadCid));
        let train = JobSpec { kind: JobKind::Train, ..eval.clone() };
        assert_eq!(check_job(&train, 1, &p, 1), Err(Error::BadBenchmark));
        let train = JobSpec { benchmark: None, ..train };
        assert_eq!(check_job(&train, 1, &p, 1), Err(Error::BadBounty));
        let train = JobSpec { bounty: None, ..train };
        assert_eq!(check_job(&train, 1, &p, 1), Err(Error::BadGame), "a train job needs a game");
        let game = game(40);
        let longest = game.longest().unwrap();
        assert!(longest <= p.challenge_blocks);
        assert_eq!(
            check_job(&JobSpec { game: Some(game.clone()), ..train.clone() }, 1, &p, 1),
            Ok(())
        );
        let mut no_output = game.clone();
        no_output.output.header_len = 100;
        let spec = JobSpec { game: Some(no_output), ..train.clone() };
        assert_eq!(check_job(&spec, 1, &p, 1), Err(Error::BadGame), "no whole header piece");
        let mut other_shape = game.clone();
        other_shape.output.params += 1;
        let spec = JobSpec { game: Some(other_shape), ..train.clone() };
        assert_eq!(check_job(&spec, 1, &p, 1), Err(Error::BadGame), "P is not the config's");
        let with_base = |base: &[u8]| {
            let game = GameSpec { base: Some(base.to_vec()), ..game.clone() };
            check_job(&JobSpec { game: Some(game), ..train.clone() }, 1, &p, 1)
        };
        assert_eq!(
            with_base(b"bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"),
            Ok(()),
            "a base named by its CID"
        );
        assert_eq!(with_base(b"Qmnot-a-cid"), Err(Error::BadGame), "a base that is no CID");
        let slow = MarketParams { challenge_blocks: longest - 1, ..p };
        let spec = JobSpec { game: Some(game.clone()), ..train };
        assert_eq!(check_job(&spec, 1, &slow, 1), Err(Error::BadGame), "its game could outlast");
        let eval_with_game = JobSpec { game: Some(game), ..eval.clone() };
        assert_eq!(check_job(&eval_with_game, 1, &p, 1), Err(Error::BadGame));
        let crowd = JobSpec { executors: vec![[7; 32]; MAX_ALLOWED_EXECUTORS + 1], ..eval.clone() };
        assert_eq!(check_job(&crowd, 1, &p, 1), Err(Error::TooManyExecutors));
        let few = JobSpec { executors: vec![[7; 32]; MAX_ALLOWED_EXECUTORS], ..eval };
        assert_eq!(check_job(&few, 1, &p, 1), Ok(()));
    }

    #[test]
    fn a_bounty_job_evaluates_the_bounty_benchmark_and_settles_before_expiry() {
        let (b, p) = (bounty(100, 10, 200), MarketParams::DEVNET);
        // An evaluation (no game yet): 100 + 5 + 1 = 106 settles; + 10 submit blocks to claim
        // the tranche = 116.
        assert_eq!(check_bounty_job(&eval_spec(100, 5), &b, &p), Ok(()));
        assert_eq!(check_bounty_job(&eval_spec(184, 5), &b, &p), Ok(()));
        assert_eq!(check_bounty_job(&eval_spec(185, 5), &b, &p), Err(Error::BountyEndsFirst));
        assert_eq!(check_bounty_job(&eval_spec(u32::MAX, 5), &b, &p), Err(Error::Overflow));
        let other_metric = JobSpec {
            benchmark: Some(Benchmark { cid: CID.to_vec(), metric: 0 }),
            ..eval_spec(100, 5)
        };
        assert_eq!(check_bounty_job(&other_metric, &b, &p), Err(Error::NotBountyBenchmark));
        let other_set = JobSpec {
            benchmark: Some(Benchmark {
                cid: b"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".to_vec(),
                metric: 2,
            }),
            ..eval_spec(100, 5)
        };
        assert_eq!(check_bounty_job(&other_set, &b, &p), Err(Error::NotBountyBenchmark));
    }

    /// A made-up run of `game` whose last step had the loss `loss_bits`: its trace root and
    /// the proof of its last state.
    fn final_state(game: &GameSpec, loss_bits: u32) -> ([u8; 32], FinalState) {
        let (_, root, last) = FinalState::made_up::<crate::TestSha>(game, loss_bits, [8; 32]);
        (root, last)
    }

    #[test]
    fn a_final_state_proves_the_reported_loss_and_nothing_else() {
        use crate::TestSha as Sha;
        let game = GameSpec { every: 2, checkpoints: 3, ..game(1) };
        let loss = 2.75f32;
        let (root, last) = final_state(&game, loss.to_bits());
        assert_eq!(last.check::<Sha>(&game, &root, 2_750_000), Ok(()));
        // Another loss, even by 10⁻⁶, is refused.
        for wrong in [2_749_999, 2_750_001, 0] {
            assert_eq!(last.check::<Sha>(&game, &root, wrong), Err(FinalStateError::Loss));
        }
        // Another trace, a path of another length, another state under the same path.
        assert_eq!(last.check::<Sha>(&game, &[1; 32], 2_750_000), Err(FinalStateError::Trace));
        let mut short = last.clone();
        short.path.pop();
        assert_eq!(short.check::<Sha>(&game, &root, 2_750_000), Err(FinalStateError::Trace));
        let mut other = last.clone();
        other.state.tensors_root[0] ^= 1;
        assert_eq!(other.check::<Sha>(&game, &root, 2_750_000), Err(FinalStateError::Trace));
        // A state of another config, or one step short (a run stopped early), with its own
        // valid trace.
        let elsewhere = GameSpec { config_hash: [7; 32], ..game.clone() };
        let (root, mine) = final_state(&elsewhere, loss.to_bits());
        assert_eq!(mine.check::<Sha>(&game, &root, 2_750_000), Err(FinalStateError::Config));
        let (root, early) = final_state(&GameSpec { every: 1, ..game.clone() }, loss.to_bits());
        assert_eq!(early.check::<Sha>(&game, &root, 2_750_000), Err(FinalStateError::Step));
        // The state another checkpoint holds: a trace one leaf longer puts it elsewhere.
        let (root, longer) = final_state(&GameSpec { checkpoints: 4, every: 1, ..game.clone() }, 0);
        let six = GameSpec { every: 1, checkpoints: 6, ..game.clone() };
        assert_eq!(longer.check::<Sha>(&six, &root, 0), Err(FinalStateError::Step));
        // A trace that does not start at the job's h_0 (a run from a state of the executor's
        // choosing), or a path that does not show where it starts.
        let (other_root, elsewhere) = final_state(&GameSpec { h0: [9; 32], ..game.clone() }, 0);
        assert_eq!(elsewhere.check::<Sha>(&game, &other_root, 0), Err(FinalStateError::Start));
        let (root, last) = final_state(&game, loss.to_bits());
        let mut pathless = last.clone();
        pathless.first_path.pop();
        assert_eq!(pathless.check::<Sha>(&game, &root, 2_750_000), Err(FinalStateError::Start));
        // Header bytes that are not a header.
        let mut bent = last.clone();
        bent.state.header.push(0);
        assert_eq!(bent.check::<Sha>(&game, &root, 2_750_000), Err(FinalStateError::Header));
        // A diverged run (NaN, infinite or negative last loss) is submitted too, as
        // NOT_A_LOSS and nothing else: the game decides whether its last state is honest.
        for bits in [f32::NAN.to_bits(), (-1.0f32).to_bits(), f32::INFINITY.to_bits()] {
            let (root, last) = final_state(&game, bits);
            assert_eq!(last.check::<Sha>(&game, &root, NOT_A_LOSS), Ok(()));
            assert_eq!(last.check::<Sha>(&game, &root, 0), Err(FinalStateError::Loss));
        }
    }

    #[test]
    fn market_events_decode_by_their_topic() {
        use events::*;
        let posted = JobPosted { job: 3, poster: [1; 32], reward: 9 };
        let event = Event::decode(&JOB_POSTED_TOPIC, &posted.encode());
        assert_eq!(event, Some(Ok(Event::JobPosted(posted.clone()))));
        assert_eq!(Event::JobPosted(posted.clone()).topic(), JOB_POSTED_TOPIC);
        let claimed = JobClaimed { job: 3, executor: [2; 32], ask: 5 };
        assert_eq!(
            Event::decode(&JOB_CLAIMED_TOPIC, &claimed.encode()),
            Some(Ok(Event::JobClaimed(claimed)))
        );
        // Another contract's (or an admin) event is not a market event; a market topic with
        // data that is not its event is an error, not a wrong event.
        assert_eq!(Event::decode(&[0; 32], &posted.encode()), None);
        assert!(matches!(Event::decode(&JOB_POSTED_TOPIC, &[1, 2]), Some(Err(_))));
        // Every event has its own topic.
        let topics = [
            PLEDGED_TOPIC,
            UNPLEDGED_TOPIC,
            JOB_POSTED_TOPIC,
            JOB_CLAIMED_TOPIC,
            RESULT_SUBMITTED_TOPIC,
            SIGNED_UP_TOPIC,
            ATTESTED_TOPIC,
            CHALLENGED_TOPIC,
            CHALLENGE_RESOLVED_TOPIC,
            JOB_FINALIZED_TOPIC,
            JOB_EXPIRED_TOPIC,
            BOUNTY_POSTED_TOPIC,
            BOUNTY_RECLAIMED_TOPIC,
            WITHDRAWN_TOPIC,
            JOB_REOPENED_TOPIC,
        ];
        let distinct: std::collections::BTreeSet<_> = topics.iter().collect();
        assert_eq!(distinct.len(), topics.len());
        // A signature topic names an event's name and fields, not its contract: the market's
        // and the splitter's `Withdrawn` share one. So a follower decodes an event by the enum
        // of the contract that emitted it. The other contracts' own events are no market event.
        use crate::{dispute, registry, splitter};
        assert_eq!(splitter::events::WITHDRAWN_TOPIC, WITHDRAWN_TOPIC);
        let others = [
            registry::events::REGISTERED_TOPIC,
            registry::events::PROVENANCE_RECORDED_TOPIC,
            splitter::events::UNITS_CREDITED_TOPIC,
            dispute::events::OPENED_TOPIC,
            dispute::events::DECIDED_TOPIC,
        ];
        for topic in others {
            assert!(Event::decode(&topic, &[]).is_none());
            let known = registry::events::Event::decode(&topic, &[]).is_some() as u8
                + splitter::events::Event::decode(&topic, &[]).is_some() as u8
                + dispute::events::Event::decode(&topic, &[]).is_some() as u8;
            assert_eq!(known, 1, "{topic:?}");
        }
        let opened = dispute::events::Opened { game: 4, executor: [1; 32], challenger: [2; 32] };
        assert_eq!(
            dispute::events::Event::decode(&dispute::events::OPENED_TOPIC, &opened.encode()),
            Some(Ok(dispute::events::Event::Opened(opened)))
        );
    }

    #[test]
    fn loss_micros_edges() {
        assert_eq!(loss_micros(0), 0);
        assert_eq!(loss_micros((-0.0f32).to_bits()), 0);
        assert_eq!(loss_micros(1), 0, "the smallest subnormal");
        assert_eq!(loss_micros(1.0f32.to_bits()), 1_000_000);
        assert_eq!(loss_micros(1e-6f32.to_bits()), 0, "1e-6 as f32 is just below 10⁻⁶");
        for bits in [f32::MAX, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -2.0].map(f32::to_bits) {
            assert_eq!(loss_micros(bits), NOT_A_LOSS);
        }
    }

    proptest::proptest! {
        /// The exact floor of the value ×10⁶: f64 holds the product of an f32 and 10⁶ exactly
        /// (24 + 20 bits), so it is the oracle.
        #[test]
        fn loss_micros_is_the_exact_floor_of_the_value_times_a_million(bits in proptest::prelude::any::<u32>()) {
            let x = f64::from(f32::from_bits(bits));
            let scaled = x * 1e6;
            let expected = if x.is_finite() && x >= 0.0 && scaled < 18_446_744_073_709_551_615.0 {
                scaled.floor() as u64
            } else {
                NOT_A_LOSS
            };
            proptest::prop_assert_eq!(loss_micros(bits), expected);
        }

        /// A score wins exactly when it is at least best + margin: never an equal score (margin
        /// is above 0), and no bounded input overflows.
        #[test]
        fn only_a_strict_improvement_by_the_margin_wins(
            best in 0..=MAX_SCORE,
            margin in 1..=MAX_SCORE,
            score in 0..=MAX_SCORE,
        ) {
            let b = bounty(best, margin, 1);
            proptest::prop_assert_eq!(b.beaten_by(score), u128::from(score) >= u128::from(best) + u128::from(margin));
            proptest::prop_assert!(!b.beaten_by(best));
        }

        /// Whatever the job, a bounty job accepted by the check is settled, and its tranche
        /// claimable, before the bounty expires.
        #[test]
        fn an_accepted_bounty_job_ends_before_the_bounty(
            deadline in 0..=MAX_BLOCKS * 3,
            window in 1..=MAX_BLOCKS,
            challenge in 1..=MAX_BLOCKS,
            submit in 1..=MAX_BLOCKS,
            expires in 0..=MAX_BLOCKS * 4,
            with_game in proptest::bool::ANY,
        ) {
            let b = bounty(0, 1, expires);
            let p = MarketParams { challenge_blocks: challenge, submit_blocks: submit, ..MarketParams::DEVNET };
            let spec = eval_spec(deadline, window);
            let spec = JobSpec { game: with_game.then_some(game(1)), ..spec };
            if check_bounty_job(&spec, &b, &p).is_ok() {
                let games = if with_game { u64::from(challenge) } else { 0 };
                let settled = u64::from(deadline) + u64::from(window) + games + 1;
                proptest::prop_assert!(settled + u64::from(submit) <= u64::from(expires));
            }
        }
    }

    #[test]
    fn every_error_reads_as_one_line() {
        use Error::*;
        let all = [
            NotAdmin,
            NotPledged,
            ZeroAmount,
            BadBps,
            InsufficientFreeStake,
            StillUnbonding,
            BadCid,
            BadDeadline,
            BadVerification,
            UnknownJob,
            UnknownBounty,
            WrongState,
            DeadlinePassed,
            DeadlineNotReached,
            CapacityTooSmall,
            PriceTooHigh,
            NotExecutor,
            ConflictOfInterest,
            AlreadyActed,
            WindowClosed,
            WindowOpen,
            BadBounty,
            NothingToWithdraw,
            TransferFailed,
            CallFailed,
            Overflow,
            UpgradeFailed,
            BadParams,
            NothingProposed,
            Timelocked,
            NotProposedAdmin,
            CollateralTooLow,
            BadUnits,
            BountyNeedsGame,
            BadScore,
            Stale,
            BadBenchmark,
            NotBountyBenchmark,
            BountyEndsFirst,
            NotAnImprovement,
            NoBounty,
            TooManyExecutors,
            NotAllowed,
            Unverified,
            BountyExhausted,
            TooLarge,
            BadGame,
            NoGame,
            NoDisputeContract,
            DisputeRefused,
            NotDecided,
            GamesOpen,
            SignUpClosed,
            SignUpsFull,
            NotSignedUp,
            BadReveal,
            BadCheck,
            NothingToRelease,
            BadFinalState,
            NotAccused,
            DefenceClosed,
            DefenceOpen,
            AlreadyDefended,
        ];
        for e in all {
            let m = e.message();
            assert!(!m.is_empty() && !m.contains('\n'), "{e:?}");
        }
    }
}
