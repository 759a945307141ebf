//! The iollm compute market: GPU providers pledge stake and capacity, designers post jobs with
//! escrowed rewards, results are verified optimistically (bonded attestations, and challenges
//! in a window, each a dispute game the contracts decide) and paid out; sponsors fund
//! breakthrough bounties.
//!
//! Who can trust what (the full threat model is in `contracts/README.md`):
//! * a provider: its pay (its ask, fixed at claim) is in escrow before it starts; what it forwent
//!   by joint mining is escrowed too and comes back to it as share units of the artifact (a
//!   verified job whose poster may credit them) or else as money;
//! * a poster: nothing is paid for a result that loses a dispute game; an executor that does not
//!   submit in time loses its collateral and the job reopens; the escrow comes back when nobody
//!   delivers (`expire`);
//! * everyone: every state has a deadline after which a permissionless call (`finalize`,
//!   `expire`, `reclaim_bounty`) settles it; market-wide minimums (collateral, verifications)
//!   and bounds on every window are parameters that change only after an announced timelock
//!   longer than any job; slashed funds go 50 % to the honest party, 50 % to the treasury
//!   ([`iollm_types::escrow::SLASH_HONEST_BPS`]); payouts are pulled (`withdraw`).
//!
//! * a challenger: its game is decided by the dispute contract's recomputation, never by a
//!   vote, so one honest side wins however many accounts the other controls; every challenger
//!   plays its own game at once, and a result is final at most `challenge_window +
//!   challenge_blocks` after its submission.
//!
//! What it is not: a scheduler (workers find jobs from events and race to `claim`), nor the
//! game itself (`contracts/dispute`). "Verified" means unchallenged or every game won, plus
//! `verifiers` attestations by bonded providers other than the poster and executor (each loses
//! its bond if a game proves the result wrong); bounties cannot be won until a game decides
//! evaluations.
#![cfg_attr(not(feature = "std"), no_std, no_main)]
// The ink! linter (scripts/ink-lint.sh): ids are topics on purpose, so that a wallet or indexer
// can follow one job, bounty or artifact (as ERC-721 indexes a token id); they are not amounts.
#![cfg_attr(dylint_lib = "ink_linting", allow(primitive_topic))]
// ink!'s generated message dispatch holds each message's arguments by value: `post_job`'s
// `JobSpec` with its game spec (352 bytes) is the largest; it lives for one call, on the stack.
#![allow(clippy::large_enum_variant)]

#[ink::contract]
mod market {
    use ink::prelude::vec::Vec;
    use ink::storage::traits::ManualKey;
    use ink::storage::{Lazy, Mapping};
    use iollm_types::admin::Admin;
    use iollm_types::bisection::Verdict;
    use iollm_types::cid::{check_cid_shape, cid_bytes};
    use iollm_types::dispute::GameId;
    use iollm_types::escrow;
    use iollm_types::game::{How, Terms};
    use iollm_types::market::{
        check_bounty_job, check_job, Accusation, Bounty, BountyId, Capacity, Challenge, Change,
        Check, Commitment, Error, FinalState, Job, JobId, JobKind, JobOutput, JobSpec, JobState,
        JobTerms, MarketParams, Payee, Pledge, SignUp, MAX_SCORE, SETTLE_STEP,
    };
    use iollm_types::package::Question;
    use iollm_types::registry::ArtifactId;
    use iollm_types::split::BPS;
    use iollm_types::spotcheck::{self, MAX_SIGN_UPS};
    use iollm_types::{storage, HostSha};

    /// The index of the challenge an account opened on a job, if it opened one.
    type ChallengeIndex = Option<u16>;

    /// A defence's key: the job, the attester's sign-up and the accusation it answers.
    type DefenceKey = (JobId, u8, u16);

    /// Market storage. Mapping keys are fixed (`ManualKey`) so that data written before an
    /// upgrade is found after it.
    ///
    /// Storage deposits go back to whoever paid them: pallet-contracts charges a record's
    /// deposit to the account whose transaction writes it and refunds it to the account whose
    /// transaction frees it, so no call frees a record another account wrote. Settlement
    /// (`finalize`, `expire`, `settle_challenge`), which anyone may call, frees nothing; each
    /// party frees its own records of an ended job with [`Market::release`], and its ledger
    /// entry with `withdraw` once nothing of it is live.
    #[ink(storage)]
    pub struct Market {
        admin: Admin<Change>,
        splitter: Option<AccountId>,
        treasury: AccountId,
        params: MarketParams,
        last_job: JobId,
        last_bounty: BountyId,
        /// The last block up to which something locked under replaced parameters can still be
        /// locked: later admin changes wait at least until then.
        locks_until: BlockNumber,
        pledges: Mapping<AccountId, Pledge, ManualKey<0x4d4b_0001>>,
        jobs: Mapping<JobId, Job, ManualKey<0x4d4b_0002>>,
        specs: Mapping<JobId, Vec<u8>, ManualKey<0x4d4b_0003>>,
        results: Mapping<JobId, Commitment, ManualKey<0x4d4b_0004>>,
        /// Who signed up for or challenged a job (once each), with the index of its challenge.
        acted: Mapping<(JobId, AccountId), ChallengeIndex, ManualKey<0x4d4b_0006>>,
        bounties: Mapping<BountyId, Bounty, ManualKey<0x4d4b_0007>>,
        balances: Mapping<AccountId, Payee, ManualKey<0x4d4b_0008>>,
        /// Benchmark, executor allow-list and game spec of the jobs that have any.
        terms: Mapping<JobId, JobTerms, ManualKey<0x4d4b_0009>>,
        /// The dispute contract that plays the games (wired once by the admin); outside the
        /// root, so that storage written before it existed still decodes.
        dispute: Lazy<AccountId, ManualKey<0x4d4b_000b>>,
        /// The challenger and game of each challenge, by job and index.
        games: Mapping<(JobId, u16), Challenge, ManualKey<0x4d4b_000c>>,
        /// The spot-check sign-ups of each job, by job and index (`0..job.sign_ups`).
        sign_ups: Mapping<(JobId, u8), SignUp, ManualKey<0x4d4b_000d>>,
        /// The index of each verifier's sign-up on a job.
        signed: Mapping<(JobId, AccountId), u8, ManualKey<0x4d4b_000e>>,
        /// The accusations of each rejected job, by job and index (`0..job.accusations`).
        accusations: Mapping<(JobId, u16), Accusation, ManualKey<0x4d4b_000f>>,
        /// Each accused attester's defence games, by job, sign-up and accusation.
        defences: Mapping<DefenceKey, GameId, ManualKey<0x4d4b_0010>>,
        /// How far a settled attester's `release` has gone through the job's accusations,
        /// freeing its defence games: the next accusation index to look at.
        freed_through: Mapping<(JobId, u8), u16, ManualKey<0x4d4b_0011>>,
        /// What an accused attester earned so far by beating claims (half of each beaten
        /// claim's bond), held until it is settled: paid with its bond if upheld, else to the
        /// treasury — so a colluder settled first cannot hand its cheater back half of a
        /// sybil's bond.
        earned: Mapping<(JobId, u8), Balance, ManualKey<0x4d4b_0012>>,
    }

    /// Layout: `iollm_types::market::events::Pledged`.
    #[ink(event)]
    pub struct Pledged {
        #[ink(topic)]
        provider: AccountId,
        stake: Balance,
    }

    /// Layout: `iollm_types::market::events::Unpledged`.
    #[ink(event)]
    pub struct Unpledged {
        #[ink(topic)]
        provider: AccountId,
        unbonding: Balance,
        until: BlockNumber,
    }

    /// Layout: `iollm_types::market::events::JobPosted`.
    #[ink(event)]
    pub struct JobPosted {
        #[ink(topic)]
        job: JobId,
        #[ink(topic)]
        poster: AccountId,
        reward: Balance,
    }

    /// Layout: `iollm_types::market::events::JobClaimed`.
    #[ink(event)]
    pub struct JobClaimed {
        #[ink(topic)]
        job: JobId,
        #[ink(topic)]
        executor: AccountId,
        ask: Balance,
    }

    /// Layout: `iollm_types::market::events::ResultSubmitted`.
    #[ink(event)]
    pub struct ResultSubmitted {
        #[ink(topic)]
        job: JobId,
        commitment: Commitment,
    }

    /// Layout: `iollm_types::market::events::SignedUp`.
    #[ink(event)]
    pub struct SignedUp {
        #[ink(topic)]
        job: JobId,
        verifier: AccountId,
    }

    /// Layout: `iollm_types::market::events::Attested`.
    #[ink(event)]
    pub struct Attested {
        #[ink(topic)]
        job: JobId,
        verifier: AccountId,
        segment: Option<u64>,
    }

    /// Layout: `iollm_types::market::events::Challenged`.
    #[ink(event)]
    pub struct Challenged {
        #[ink(topic)]
        job: JobId,
        challenger: AccountId,
        index: u16,
        game: GameId,
    }

    /// Layout: `iollm_types::market::events::ChallengeResolved`.
    #[ink(event)]
    pub struct ChallengeResolved {
        #[ink(topic)]
        job: JobId,
        index: u16,
        executor_honest: bool,
        slashed: Balance,
        to_winner: Balance,
        to_treasury: Balance,
    }

    /// Layout: `iollm_types::market::events::Defended`.
    #[ink(event)]
    pub struct Defended {
        #[ink(topic)]
        job: JobId,
        verifier: AccountId,
        accusation: u16,
        game: GameId,
    }

    /// Layout: `iollm_types::market::events::AttestationSettled`.
    #[ink(event)]
    pub struct AttestationSettled {
        #[ink(topic)]
        job: JobId,
        verifier: AccountId,
        upheld: bool,
        slashed: Balance,
        to_winner: Balance,
        to_treasury: Balance,
    }

    /// Layout: `iollm_types::market::events::ClaimBeaten`.
    #[ink(event)]
    pub struct ClaimBeaten {
        #[ink(topic)]
        job: JobId,
        index: u16,
        verifier: AccountId,
        held: Balance,
        to_treasury: Balance,
    }

    /// Layout: `iollm_types::market::events::JobFinalized`.
    #[ink(event)]
    pub struct JobFinalized {
        #[ink(topic)]
        job: JobId,
        executor_paid: Balance,
        verifiers_paid: Balance,
        refund: Balance,
        units_credited: Balance,
        verified: bool,
    }

    /// Layout: `iollm_types::market::events::JobExpired`.
    #[ink(event)]
    pub struct JobExpired {
        #[ink(topic)]
        job: JobId,
        refund: Balance,
        slashed: Balance,
    }

    /// Layout: `iollm_types::market::events::JobReopened`.
    #[ink(event)]
    pub struct JobReopened {
        #[ink(topic)]
        job: JobId,
        no_show: AccountId,
        slashed: Balance,
    }

    /// Layout: `iollm_types::market::events::BountyPosted`.
    #[ink(event)]
    pub struct BountyPosted {
        #[ink(topic)]
        bounty: BountyId,
        sponsor: AccountId,
        amount: Balance,
    }

    /// Layout: `iollm_types::market::events::BountyReclaimed`.
    #[ink(event)]
    pub struct BountyReclaimed {
        #[ink(topic)]
        bounty: BountyId,
        amount: Balance,
    }

    /// Layout: `iollm_types::market::events::Withdrawn`.
    #[ink(event)]
    pub struct Withdrawn {
        #[ink(topic)]
        account: AccountId,
        amount: Balance,
    }

    /// Layout: `iollm_types::market::events::ChangeProposed`.
    #[ink(event)]
    pub struct ChangeProposed {
        change: Change,
        eta: BlockNumber,
    }

    /// Layout: `iollm_types::market::events::ChangeApplied`.
    #[ink(event)]
    pub struct ChangeApplied {
        change: Change,
    }

    /// Layout: `iollm_types::market::events::ChangeCancelled`.
    #[ink(event)]
    pub struct ChangeCancelled {
        change: Change,
    }

    /// Layout: `iollm_types::market::events::AdminProposed`.
    #[ink(event)]
    pub struct AdminProposed {
        proposed: AccountId,
    }

    /// Layout: `iollm_types::market::events::AdminChanged`.
    #[ink(event)]
    pub struct AdminChanged {
        admin: AccountId,
    }

    fn add(a: Balance, b: Balance) -> Result<Balance, Error> {
        a.checked_add(b).ok_or(Error::Overflow)
    }

    fn sub(a: Balance, b: Balance) -> Result<Balance, Error> {
        a.checked_sub(b).ok_or(Error::Overflow)
    }

    fn later(now: BlockNumber, blocks: BlockNumber) -> Result<BlockNumber, Error> {
        now.checked_add(blocks).ok_or(Error::Overflow)
    }

    fn bytes(a: &AccountId) -> [u8; 32] {
        *AsRef::<[u8; 32]>::as_ref(a)
    }

    impl Market {
        /// A market whose admin is the caller, paying the treasury's slash share to `treasury`,
        /// with bounded `params`. The splitter is wired once with [`Market::wire_splitter`].
        #[ink(constructor)]
        pub fn new(treasury: AccountId, params: MarketParams) -> Result<Self, Error> {
            params.validate().map_err(|_| Error::BadParams)?;
            let mut balances = Mapping::new();
            // The treasury's entry is the deployer's, and stays: slashes credit it at any time.
            balances.insert(treasury, &Payee { owed: 0, live: 1 });
            Ok(Self {
                admin: Admin::new(bytes(&Self::env().caller())),
                splitter: None,
                treasury,
                params,
                last_job: 0,
                last_bounty: 0,
                locks_until: 0,
                pledges: Mapping::new(),
                jobs: Mapping::new(),
                specs: Mapping::new(),
                results: Mapping::new(),
                acted: Mapping::new(),
                bounties: Mapping::new(),
                balances,
                terms: Mapping::new(),
                dispute: Lazy::new(),
                games: Mapping::new(),
                sign_ups: Mapping::new(),
                signed: Mapping::new(),
                accusations: Mapping::new(),
                defences: Mapping::new(),
                freed_through: Mapping::new(),
                earned: Mapping::new(),
            })
        }

        // ---- pledges ----

        /// Pledges (or re-prices) the caller's capacity, adding the transferred value to its
        /// stake. A new pledge needs some stake.
        #[ink(message, payable)]
        pub fn pledge(
            &mut self,
            capacity: Capacity,
            price_per_unit: Balance,
            discount_bps: u16,
        ) -> Result<(), Error> {
            if discount_bps > BPS {
                return Err(Error::BadBps);
            }
            let caller = self.env().caller();
            let value = self.env().transferred_value();
            let mut pledge = self.pledges.get(caller).unwrap_or_default();
            if pledge.stake == 0 && value == 0 {
                return Err(Error::ZeroAmount);
            }
            pledge.capacity = capacity;
            pledge.price_per_unit = price_per_unit;
            pledge.discount_bps = discount_bps;
            pledge.stake = add(pledge.stake, value)?;
            self.pledges.insert(caller, &pledge);
            self.env().emit_event(Pledged { provider: caller, stake: pledge.stake });
            Ok(())
        }

        /// Adds the transferred value to the caller's stake.
        #[ink(message, payable)]
        pub fn top_up(&mut self) -> Result<(), Error> {
            let caller = self.env().caller();
            let value = self.env().transferred_value();
            if value == 0 {
                return Err(Error::ZeroAmount);
            }
            let mut pledge = self.pledges.get(caller).ok_or(Error::NotPledged)?;
            pledge.stake = add(pledge.stake, value)?;
            self.pledges.insert(caller, &pledge);
            self.env().emit_event(Pledged { provider: caller, stake: pledge.stake });
            Ok(())
        }

        /// Starts unbonding `amount` of the caller's free stake; `withdraw` pays it after the
        /// unbonding delay (a further unpledge restarts the delay for the whole unbonding sum).
        #[ink(message)]
        pub fn unpledge(&mut self, amount: Balance) -> Result<(), Error> {
            if amount == 0 {
                return Err(Error::ZeroAmount);
            }
            let caller = self.env().caller();
            let mut pledge = self.pledges.get(caller).ok_or(Error::NotPledged)?;
            if pledge.free() < amount {
                return Err(Error::InsufficientFreeStake);
            }
            pledge.stake = sub(pledge.stake, amount)?;
            pledge.unbonding = add(pledge.unbonding, amount)?;
            pledge.unbonding_until =
                later(self.env().block_number(), self.params.unbonding_blocks)?;
            self.pledges.insert(caller, &pledge);
            self.env().emit_event(Unpledged {
                provider: caller,
                unbonding: pledge.unbonding,
                until: pledge.unbonding_until,
            });
            Ok(())
        }

        // ---- jobs ----

        /// Posts a job; the transferred value is its escrowed reward. Returns the job id.
        ///
        /// The market's minimums hold for every job: at least `min_verifiers` verifications,
        /// collateral of at least `collateral_bps` of the job's reference value, a window and
        /// a deadline within the market's bounds. Joint mining is on when the poster owns the
        /// artifact or its owner authorised the poster (asked of the splitter). A Train job names
        /// its game spec, whose longest game fits the market's `challenge_blocks`; an EvalPath
        /// job names the benchmark and metric it evaluates; one that competes for a bounty must
        /// evaluate the bounty's and be settled before the bounty expires.
        #[ink(message, payable)]
        pub fn post_job(&mut self, spec: JobSpec) -> Result<JobId, Error> {
            let reward = self.env().transferred_value();
            let p = self.params;
            check_job(&spec, reward, &p, self.env().block_number())?;
            if let Some(bounty) = spec.bounty {
                let bounty = storage::get(&self.bounties, bounty).ok_or(Error::UnknownBounty)?;
                check_bounty_job(&spec, &bounty, &p)?;
            }
            let v = spec.verification;
            let id = self.last_job.checked_add(1).ok_or(Error::Overflow)?;
            let poster = self.env().caller();
            let joint_mining = self.splitter_may_credit(spec.artifact, poster);
            let job = Job {
                poster: bytes(&poster),
                kind: spec.kind,
                artifact: spec.artifact,
                bounty: spec.bounty,
                units: spec.units,
                need: spec.need,
                reward,
                deadline: spec.deadline,
                verification: v,
                state: JobState::Open,
                executor: None,
                ask: 0,
                forgone: 0,
                submitted_at: 0,
                attestations: 0,
                sign_ups: 0,
                challenges: 0,
                open_games: 0,
                verified: false,
                value: p.job_value(spec.units).ok_or(Error::Overflow)?,
                joint_mining,
                submit_by: 0,
                submit_blocks: p.submit_blocks,
                accused: 0,
                accusations: 0,
            };
            self.jobs.insert(id, &job);
            storage::put(&mut self.specs, id, &spec.spec_cid)?;
            if spec.benchmark.is_some() || !spec.executors.is_empty() || spec.game.is_some() {
                let terms = JobTerms {
                    benchmark: spec.benchmark,
                    executors: spec.executors,
                    game: spec.game,
                };
                storage::put(&mut self.terms, id, &terms)?;
            }
            self.last_job = id;
            self.enter(poster)?;
            self.env().emit_event(JobPosted { job: id, poster, reward });
            Ok(id)
        }

        /// Claims an open job: the caller must be on the job's executor allow-list if it has
        /// one, its capacity must fit, the reward must cover its ask, what it forgoes by joint
        /// mining and the verifier fees, and the collateral is locked from its free stake. It
        /// must submit within the market's `submit_blocks` (as they were when the job was posted).
        #[ink(message)]
        pub fn claim(&mut self, job_id: JobId) -> Result<(), Error> {
            let mut job = self.jobs.get(job_id).ok_or(Error::UnknownJob)?;
            if job.state != JobState::Open {
                return Err(Error::WrongState);
            }
            let now = self.env().block_number();
            if now > job.deadline {
                return Err(Error::DeadlinePassed);
            }
            let caller = self.env().caller();
            let pledge = self.pledges.get(caller).ok_or(Error::NotPledged)?;
            if self.signed.contains((job_id, caller)) {
                return Err(Error::ConflictOfInterest);
            }
            if let Some(terms) = storage::get(&self.terms, job_id) {
                if !terms.executors.is_empty() && !terms.executors.contains(&bytes(&caller)) {
                    return Err(Error::NotAllowed);
                }
            }
            if !pledge.capacity.fits(&job.need) {
                return Err(Error::CapacityTooSmall);
            }
            let v = job.verification;
            let discount = if job.joint_mining { pledge.discount_bps } else { 0 };
            let ask = escrow::ask(pledge.price_per_unit, job.units, discount, job.value)?;
            let escrowed = add(ask.ask, ask.forgone)?;
            escrow::check_covers(job.reward, escrowed, v.verifiers, v.verifier_fee)?;
            // Collateral must outweigh what this executor earns, not only the reference value.
            let at_stake = escrowed
                .checked_mul(Balance::from(self.params.collateral_bps))
                .and_then(|x| x.checked_div(Balance::from(BPS)))
                .ok_or(Error::Overflow)?;
            if v.collateral < at_stake {
                return Err(Error::CollateralTooLow);
            }
            self.lock(caller, v.collateral)?;
            job.state = JobState::Claimed;
            job.executor = Some(bytes(&caller));
            job.ask = ask.ask;
            job.forgone = ask.forgone;
            job.submit_by = later(now, job.submit_blocks)?.min(job.deadline);
            self.jobs.insert(job_id, &job);
            self.enter(caller)?;
            self.env().emit_event(JobClaimed { job: job_id, executor: caller, ask: ask.ask });
            Ok(())
        }

        /// The executor commits its result (output CID, metrics, trace root) by its submit-by
        /// block; the challenge window starts. A training job's result comes with its last
        /// state proven ([`FinalState::check`]: the state after the last step, leaf `n` of
        /// the trace root, holding the reported loss); an evaluation's without one.
        #[ink(message)]
        pub fn submit_result(
            &mut self,
            job_id: JobId,
            commitment: Commitment,
            last: Option<FinalState>,
        ) -> Result<(), Error> {
            let mut job = self.jobs.get(job_id).ok_or(Error::UnknownJob)?;
            if job.state != JobState::Claimed {
                return Err(Error::WrongState);
            }
            let caller = self.env().caller();
            if job.executor != Some(bytes(&caller)) {
                return Err(Error::NotExecutor);
            }
            let now = self.env().block_number();
            if now > job.submit_by {
                return Err(Error::DeadlinePassed);
            }
            check_cid_shape(&commitment.output_cid).map_err(|_| Error::BadCid)?;
            if commitment.score > MAX_SCORE {
                return Err(Error::BadScore);
            }
            let game = storage::get(&self.terms, job_id).and_then(|t| t.game);
            let proven = match (&game, &last) {
                (Some(game), Some(last)) => {
                    last.check::<HostSha>(game, &commitment.trace_root, commitment.loss).is_ok()
                }
                (None, None) => true,
                _ => false,
            };
            if !proven {
                return Err(Error::BadFinalState);
            }
            job.state = JobState::Submitted;
            job.submitted_at = now;
            self.jobs.insert(job_id, &job);
            storage::put(&mut self.results, job_id, &commitment)?;
            self.env().emit_event(ResultSubmitted { job: job_id, commitment });
            Ok(())
        }

        /// A pledged provider (not party to the job) signs up to spot-check it before its result
        /// exists, locking a bond equal to the job's collateral, with
        /// [`spotcheck::commitment`]`(caller, secret)`: its secret, revealed by
        /// [`Market::attest`] once the trace root is committed, picks the segment it must
        /// replay, which neither it nor the executor can know before. A signed-up verifier may
        /// not claim the job. At most [`MAX_SIGN_UPS`] per job; returns the sign-up's index.
        #[ink(message)]
        pub fn sign_up(&mut self, job_id: JobId, commit: [u8; 32]) -> Result<u8, Error> {
            let (mut job, caller) = self.verifier_check(job_id)?;
            if !matches!(job.state, JobState::Open | JobState::Claimed) {
                return Err(Error::SignUpClosed);
            }
            if self.acted.contains((job_id, caller)) {
                return Err(Error::AlreadyActed);
            }
            if job.sign_ups >= MAX_SIGN_UPS {
                return Err(Error::SignUpsFull);
            }
            self.lock(caller, job.verification.collateral)?;
            let index = job.sign_ups;
            let sign_up = SignUp { verifier: bytes(&caller), commit, check: Check::Committed };
            self.sign_ups.insert((job_id, index), &sign_up);
            self.signed.insert((job_id, caller), &index);
            self.acted.insert((job_id, caller), &ChallengeIndex::None);
            job.sign_ups = index.checked_add(1).ok_or(Error::Overflow)?;
            self.jobs.insert(job_id, &job);
            self.enter(caller)?;
            self.env().emit_event(SignedUp { job: job_id, verifier: caller });
            Ok(index)
        }

        /// A signed-up verifier reveals its secret in the window, with `check` — for each of
        /// the segments it must replay ([`spotcheck::checked_segments`]: the one its secret and
        /// the trace root draw, [`spotcheck::draw`], then the last, whose end is the `h_n` the
        /// reported loss and the output come from), in that order, the segment's steps root
        /// and its path in the executor's checks tree — or without one (its replay did not
        /// match, but the trace did: the bond comes back, no fee). A check that matches the
        /// executor's committed leaves is an attestation: at finalize the `verifiers`
        /// attestations with the lowest draws are paid the fee, whoever signed up first; every
        /// attester's bond comes back, unless a game proves the result wrong by
        /// recomputation. A verifier that never reveals loses its bond (half to the poster).
        #[ink(message)]
        pub fn attest(
            &mut self,
            job_id: JobId,
            secret: [u8; 32],
            check: Option<Vec<spotcheck::SegmentCheck>>,
        ) -> Result<(), Error> {
            let mut job = self.jobs.get(job_id).ok_or(Error::UnknownJob)?;
            if job.state != JobState::Submitted {
                return Err(Error::WrongState);
            }
            self.ensure_window_open(&job)?;
            let caller = self.env().caller();
            let index = self.signed.get((job_id, caller)).ok_or(Error::NotSignedUp)?;
            let mut sign_up = self.sign_ups.get((job_id, index)).ok_or(Error::NotSignedUp)?;
            if sign_up.check != Check::Committed {
                return Err(Error::AlreadyActed);
            }
            if !spotcheck::opens::<HostSha>(&sign_up.commit, &bytes(&caller), &secret) {
                return Err(Error::BadReveal);
            }
            let result = storage::get(&self.results, job_id).ok_or(Error::WrongState)?;
            let draw = spotcheck::draw::<HostSha>(&secret, &result.trace_root);
            let segment = match check {
                None => {
                    sign_up.check = Check::Revealed;
                    None
                }
                Some(checks) => {
                    let segments = self.segments(job_id);
                    let checked = spotcheck::checked_segments(&draw, segments);
                    let matches =
                        |(segment, (steps_root, path)): (&u64, &spotcheck::SegmentCheck)| {
                            spotcheck::matches::<HostSha>(
                                &result.checks_root,
                                steps_root,
                                *segment,
                                segments,
                                path,
                            )
                        };
                    if checked.is_empty()
                        || checks.len() != checked.len()
                        || !checked.iter().zip(&checks).all(matches)
                    {
                        return Err(Error::BadCheck);
                    }
                    sign_up.check = Check::Checked { draw };
                    job.attestations = job.attestations.checked_add(1).ok_or(Error::Overflow)?;
                    checked.first().copied()
                }
            };
            self.sign_ups.insert((job_id, index), &sign_up);
            self.jobs.insert(job_id, &job);
            self.env().emit_event(Attested { job: job_id, verifier: caller, segment });
            Ok(())
        }

        /// A pledged provider (not party to the job, not one of its attesters) challenges a
        /// training job's result in the window by the dispute game, locking a bond equal to the
        /// job's collateral (a signed-up verifier that has not attested bonds its sign-up's
        /// instead: a replay that does not reach the committed checkpoint becomes a game): its claim is its own trace root, whose leaf 0 is the job's `h_0`
        /// (`first_path`) and leaf `n` its `h_n` (`last`, `last_path`). The dispute contract
        /// opens a game between the executor and the caller. Any number of challengers play
        /// their own games at once; each is settled by [`Market::settle_challenge`]. Returns
        /// the challenge's index on the job.
        #[ink(message)]
        pub fn challenge(
            &mut self,
            job_id: JobId,
            trace_root: [u8; 32],
            first_path: Vec<[u8; 32]>,
            last: [u8; 32],
            last_path: Vec<[u8; 32]>,
        ) -> Result<u16, Error> {
            self.open_challenge(job_id, trace_root, |m, terms| {
                m.dispute_open(terms, first_path, last, last_path)
            })
        }

        /// Like [`Market::challenge`], but about the result's output package rather than its
        /// trace: the executor must prove, within one move's blocks, what `question` asks of
        /// the package its output CID names (the directory's listing, `config.json`, a piece
        /// of the weights file's header, or that the weights at chunk `c` are `h_n`'s), against
        /// what the job committed when it was posted. A verifier whose check of the output
        /// fails challenges so instead of revealing without a check. Settled, paid and
        /// defended by attesters exactly as a game about the trace.
        #[ink(message)]
        pub fn challenge_output(
            &mut self,
            job_id: JobId,
            question: Question,
        ) -> Result<u16, Error> {
            let game = storage::get(&self.terms, job_id).and_then(|t| t.game);
            if game.is_some_and(|g| !g.output.asks(&question)) {
                return Err(Error::DisputeRefused);
            }
            self.open_challenge(job_id, [0; 32], |m, terms| m.dispute_open_package(terms, question))
        }

        /// Like [`Market::challenge`], but about the job's `h_0`: the executor must show, by a
        /// descent of its tensors' tree to one chunk the dispute contract recomputes from the
        /// seed, that `h_0` is the state the job's config starts from. The job's poster commits
        /// `h_0`; an executor that claims the job stands behind it (its worker checks it before
        /// it claims), so a job whose `h_0` was forged — a model trained from a state other than
        /// its provenance says — is rejected. Settled, paid and defended like any game.
        #[ink(message)]
        pub fn challenge_initial(&mut self, job_id: JobId) -> Result<u16, Error> {
            self.open_challenge(job_id, [0; 32], |m, terms| m.dispute_open_initial(terms))
        }

        /// A challenge of the caller's on a submitted job in its window, bonded (a signed-up
        /// verifier that has not attested bonds its sign-up's): `open` opens its game, given
        /// the terms with the caller's `trace_root`.
        fn open_challenge(
            &mut self,
            job_id: JobId,
            trace_root: [u8; 32],
            open: impl FnOnce(&mut Self, Terms) -> Result<GameId, Error>,
        ) -> Result<u16, Error> {
            let (mut job, caller) = self.verifier_check(job_id)?;
            if job.state != JobState::Submitted {
                return Err(Error::WrongState);
            }
            self.ensure_window_open(&job)?;
            let spec =
                storage::get(&self.terms, job_id).and_then(|t| t.game).ok_or(Error::NoGame)?;
            let result = storage::get(&self.results, job_id).ok_or(Error::WrongState)?;
            let executor = job.executor.ok_or(Error::WrongState)?;
            match self.signed.get((job_id, caller)) {
                Some(index) => {
                    let mut sign_up =
                        self.sign_ups.get((job_id, index)).ok_or(Error::NotSignedUp)?;
                    if !matches!(sign_up.check, Check::Committed | Check::Revealed) {
                        return Err(Error::AlreadyActed);
                    }
                    sign_up.check = Check::Challenged;
                    self.sign_ups.insert((job_id, index), &sign_up);
                }
                None if self.acted.contains((job_id, caller)) => return Err(Error::AlreadyActed),
                None => self.lock(caller, job.verification.collateral)?,
            }
            let output = cid_bytes(&result.output_cid).map_err(|_| Error::BadCid)?;
            let terms = spec
                .terms([executor, bytes(&caller)], [result.trace_root, trace_root], output)
                .map_err(|_| Error::BadCid)?;
            let game = open(self, terms)?;
            let index = job.challenges;
            job.challenges = index.checked_add(1).ok_or(Error::Overflow)?;
            job.open_games = job.open_games.checked_add(1).ok_or(Error::Overflow)?;
            let challenge =
                Challenge { challenger: bytes(&caller), game, settled: false, accusation: None };
            self.games.insert((job_id, index), &challenge);
            self.acted.insert((job_id, caller), &Some(index));
            self.jobs.insert(job_id, &job);
            self.enter(caller)?;
            self.env().emit_event(Challenged { job: job_id, challenger: caller, index, game });
            Ok(index)
        }

        /// Anyone settles challenge `index` of a job once its game is decided (or its side to
        /// move is late: the dispute contract then decides against that side). The first game
        /// the executor loses rejects the job: its collateral is slashed — half to the
        /// challenger, or all to the treasury when neither side was right — the poster gets its
        /// escrow back and the challenger its bond. Every game the executor loses, then or
        /// later, accuses its attesters ([`Accusation`]): each may defend the result in its own
        /// game against that game's claim ([`Market::defend`]) and is settled by
        /// [`Market::settle_attester`]. A lost game alone proves nothing against them: the
        /// executor may have stopped answering, or answered against its own submission below
        /// level 1 (which nothing binds), to hand the game to a sybil and harvest their bonds.
        /// An accusing claim stays staked until no attester stands accused (its challenger's
        /// `release` then returns the bond). A game the executor wins slashes the challenger's
        /// bond, half to the executor (to the treasury once the job is rejected). Games never
        /// restart the window: they run side by side, so none can hold the others up.
        #[ink(message)]
        pub fn settle_challenge(&mut self, job_id: JobId, index: u16) -> Result<(), Error> {
            let mut job = self.jobs.get(job_id).ok_or(Error::UnknownJob)?;
            let mut record = self.games.get((job_id, index)).ok_or(Error::NoGame)?;
            if record.settled {
                return Err(Error::NoGame);
            }
            let challenger = AccountId::from(record.challenger);
            let (verdict, _) = self.dispute_close(record.game)?;
            record.settled = true;
            job.open_games = job.open_games.checked_sub(1).ok_or(Error::Overflow)?;
            let executor = AccountId::from(job.executor.ok_or(Error::WrongState)?);
            let bond = job.verification.collateral;
            let standing = job.state == JobState::Submitted;
            // The winner is paid half the loser's stake: the verdict is the contracts' own
            // recomputation, which no sybil can sway.
            let (slashed, to_winner, to_treasury) = match verdict {
                Verdict::Executor => {
                    let (w, t) = self.slash(challenger, bond, standing.then_some(executor))?;
                    (bond, w, t)
                }
                Verdict::Challenger | Verdict::Neither => {
                    let right = verdict == Verdict::Challenger;
                    let paid = if standing {
                        self.reject(job_id, &mut job, right.then_some(challenger))?
                    } else {
                        (0, 0, 0)
                    };
                    record.accusation = self.accuse(job_id, &mut job, index, right)?;
                    // A claim that accuses stays staked while attesters may defend against it.
                    if record.accusation.is_none() {
                        self.unlock(challenger, bond)?;
                    }
                    paid
                }
            };
            self.games.insert((job_id, index), &record);
            // An accuser stays live until its challenger releases it: attesters may still
            // credit it half a bond.
            if record.accusation.is_none() {
                self.leave(challenger);
            }
            self.jobs.insert(job_id, &job);
            self.env().emit_event(ChallengeResolved {
                job: job_id,
                index,
                executor_honest: verdict == Verdict::Executor,
                slashed,
                to_winner,
                to_treasury,
            });
            Ok(())
        }

        /// Challenge `index` of a job, until its challenger releases it: the challenger, the
        /// game's id in the dispute contract and whether it is settled.
        #[ink(message)]
        pub fn game_of(&self, job_id: JobId, index: u16) -> Option<Challenge> {
            self.games.get((job_id, index))
        }

        /// Spot-check sign-up `index` of a job (from 0, in sign-up order), until its verifier
        /// releases it: the verifier, its commitment and where its check stands.
        #[ink(message)]
        pub fn sign_up_of(&self, job_id: JobId, index: u8) -> Option<SignUp> {
            self.sign_ups.get((job_id, index))
        }

        /// Accusation `index` of a rejected job (from 0, in the order its games were lost),
        /// until its challenger releases it: the challenge, whether it was right and the last
        /// block to defend against it.
        #[ink(message)]
        pub fn accusation_of(&self, job_id: JobId, index: u16) -> Option<Accusation> {
            self.accusations.get((job_id, index))
        }

        /// The game in which accused attester `sign_up` of a job defends against accusation
        /// `accusation`, if it opened one, until it releases it.
        #[ink(message)]
        pub fn defence_of(&self, job_id: JobId, sign_up: u8, accusation: u16) -> Option<GameId> {
            self.defences.get((job_id, sign_up, accusation))
        }

        /// Frees the caller's records of an ended job that nothing reads any more, so that
        /// pallet-contracts refunds their storage deposits to the caller, who paid them: the
        /// poster's spec and terms (a verified job keeps its spec, and an evaluation its
        /// benchmark), the executor's result (a verified job keeps it, for provenance), a
        /// verifier's sign-up with its defence games (`SETTLE_STEP` a call), a challenger's
        /// settled challenge with its game in the dispute contract, and the caller's ledger
        /// entry if nothing is owed or live. A challenger may release its settled challenge
        /// while the job is still open; an accusing one once no attester stands accused, which
        /// also returns its claim's bond unless a defence beat it. The spec, terms and result
        /// wait until the job has ended and no game or defence of it is played; everything else
        /// until the job has ended (finalized, rejected or expired).
        #[ink(message)]
        pub fn release(&mut self, job_id: JobId) -> Result<(), Error> {
            let job = self.jobs.get(job_id).ok_or(Error::UnknownJob)?;
            let caller = self.env().caller();
            let me = bytes(&caller);
            let ended = job.state.is_terminal();
            // A job's spec, terms and result stay while its games or defences are played:
            // the players' workers read them.
            let quiet = ended && job.open_games == 0 && job.accused == 0;
            let mut freed = false;
            if quiet && me == job.poster {
                if !job.verified {
                    freed |= self.specs.contains(job_id);
                    self.specs.remove(job_id);
                }
                if !job.verified || job.kind == JobKind::Train {
                    freed |= self.terms.contains(job_id);
                    self.terms.remove(job_id);
                }
            }
            if quiet && Some(me) == job.executor && !job.verified {
                freed |= self.results.contains(job_id);
                self.results.remove(job_id);
            }
            if let Some(index) = self.signed.get((job_id, caller)).filter(|_| ended) {
                let check = self.sign_ups.get((job_id, index)).map(|s| s.check);
                // An accused attester's sign-up stays until it is settled, and until each of
                // its defences is decided (one may still be played when another was lost) and
                // freed: a call goes through `SETTLE_STEP` accusations from where the last one
                // stopped (its gas stays bounded however many there are), and stops at a
                // defence still being played.
                if !matches!(check, Some(Check::Accused { .. })) {
                    // Only a settled attester can have defence games to free; any other
                    // sign-up goes at once.
                    let settled = matches!(check, Some(Check::Settled { .. }));
                    let from = self.freed_through.get((job_id, index)).unwrap_or(0);
                    let last = from.saturating_add(SETTLE_STEP).min(job.accusations);
                    let (mut k, last) = (from, if settled { last } else { from });
                    while k < last {
                        if let Some(game) = self.defences.get((job_id, index, k)) {
                            if self.dispute_close(game) == Err(Error::NotDecided) {
                                break;
                            }
                            self.dispute_release(game)?;
                            self.defences.remove((job_id, index, k));
                            freed = true;
                        }
                        k = k.saturating_add(1);
                    }
                    // Going on through accusations it never defended is progress too.
                    freed |= k > from;
                    if k == job.accusations || !settled {
                        self.signed.remove((job_id, caller));
                        self.sign_ups.remove((job_id, index));
                        self.freed_through.remove((job_id, index));
                        freed = true;
                    } else {
                        self.freed_through.insert((job_id, index), &k);
                    }
                }
            }
            match self.acted.get((job_id, caller)) {
                Some(Some(index)) => {
                    let record = self.games.get((job_id, index));
                    // An accusing game stays while attesters may still defend against its
                    // claim; then its bond comes back, unless a defence beat the claim.
                    let accusing = record.and_then(|r| r.accusation);
                    if let Some(record) = record.filter(|r| r.settled) {
                        if let Some(k) = accusing.filter(|_| job.accused == 0) {
                            let beaten =
                                self.accusations.get((job_id, k)).is_some_and(|a| a.beaten);
                            if !beaten {
                                self.unlock(caller, job.verification.collateral)?;
                            }
                            self.accusations.remove((job_id, k));
                            self.leave(caller);
                        }
                        if accusing.is_none() || job.accused == 0 {
                            self.dispute_release(record.game)?;
                            self.games.remove((job_id, index));
                            freed = true;
                        }
                    }
                    // Kept while the job is open: it stops the caller from challenging twice.
                    if ended && !self.games.contains((job_id, index)) {
                        self.acted.remove((job_id, caller));
                    }
                }
                Some(None) if ended => self.acted.remove((job_id, caller)),
                _ => {}
            }
            // A ledger entry with nothing owed and nothing live (a slashed verifier's, say,
            // which `withdraw` never reaches).
            if self.balances.get(caller) == Some(Payee::default()) {
                self.balances.remove(caller);
                freed = true;
            }
            if freed {
                Ok(())
            } else {
                Err(Error::NothingToRelease)
            }
        }

        /// After the window, with every challenge's game settled: pays the executor its ask and
        /// the `verifiers` attesters with the lowest draws their fee, releases the collateral and
        /// the revealed verifiers' bonds (a verifier that never revealed loses its bond, half to
        /// the poster) and refunds the rest to the poster. What
        /// the executor forwent by joint mining becomes share units of the artifact when the
        /// job is verified, the poster still may credit them and the splitter accepts the credit — the forgone value goes with
        /// it, paid as revenue of the artifact to its current holders and owner, so minting
        /// units always costs their value; otherwise it is paid to the executor in money.
        /// Settlement never waits on the splitter. Anyone may call it.
        #[ink(message)]
        pub fn finalize(&mut self, job_id: JobId) -> Result<(), Error> {
            let mut job = self.jobs.get(job_id).ok_or(Error::UnknownJob)?;
            if job.state != JobState::Submitted {
                return Err(Error::WrongState);
            }
            if self.env().block_number() <= self.window_closes(&job)? {
                return Err(Error::WindowOpen);
            }
            if job.open_games > 0 {
                return Err(Error::GamesOpen);
            }
            let v = job.verification;
            let poster = AccountId::from(job.poster);
            // Spot checks: non-revealers lose their bonds (half to the poster), the attesters
            // with the lowest draws fill the fee slots.
            let mut checked: Vec<(AccountId, [u8; 32])> = Vec::new();
            for i in 0..job.sign_ups {
                let Some(sign_up) = self.sign_ups.get((job_id, i)) else { continue };
                let verifier = AccountId::from(sign_up.verifier);
                self.leave(verifier);
                match sign_up.check {
                    Check::Checked { draw } => checked.push((verifier, draw)),
                    Check::Revealed => self.unlock(verifier, v.collateral)?,
                    Check::Committed => {
                        self.slash(verifier, v.collateral, Some(poster))?;
                    }
                    // A challenger's bond is its game's; accusations arise only on rejection.
                    Check::Challenged | Check::Accused { .. } | Check::Settled { .. } => {}
                }
            }
            let draws: Vec<[u8; 32]> = checked.iter().map(|c| c.1).collect();
            let admitted = spotcheck::admitted(&draws, usize::from(v.verifiers));
            let paid = u8::try_from(admitted.len()).map_err(|_| Error::Overflow)?;
            job.verified = paid >= v.verifiers;
            let executor = AccountId::from(job.executor.ok_or(Error::WrongState)?);
            // Asked again: the owner may have revoked the poster, or announced a cut of the
            // compute share, since the job was posted.
            let units = if job.verified
                && job.forgone > 0
                && self.splitter_may_credit(job.artifact, AccountId::from(job.poster))
            {
                match self.splitter_credit_units(job.artifact, executor, job.forgone) {
                    Ok(()) => job.forgone,
                    Err(_) => 0,
                }
            } else {
                0
            };
            // The forgone value left with the units (paid as revenue of the artifact) or is the
            // executor's, in money.
            let earned = add(job.ask, job.forgone)?;
            let s = escrow::settle(job.reward, earned, paid, v.verifier_fee)?;
            let executor_paid = sub(s.executor, units)?;
            self.credit(executor, executor_paid)?;
            for (k, (verifier, _)) in checked.iter().enumerate() {
                self.unlock(*verifier, v.collateral)?;
                if admitted.contains(&k) {
                    self.credit(*verifier, s.per_verifier)?;
                }
            }
            self.credit(poster, s.refund)?;
            self.unlock(executor, v.collateral)?;
            self.leave(poster);
            self.leave(executor);
            job.state = JobState::Finalized;
            self.jobs.insert(job_id, &job);
            self.env().emit_event(JobFinalized {
                job: job_id,
                executor_paid,
                verifiers_paid: s.verifiers,
                refund: s.refund,
                units_credited: units,
                verified: job.verified,
            });
            Ok(())
        }

        /// Settles a job stuck past its state's deadline; anyone may call it:
        /// * open past its deadline: expired, escrow back to the poster;
        /// * claimed past its submit-by block: the executor's collateral is slashed (half to
        ///   the poster, half to the treasury) and the job reopens, or expires if its deadline
        ///   has passed too.
        ///
        /// A submitted job never expires: `finalize` and `settle_challenge` end it, each game
        /// within its own clocks.
        #[ink(message)]
        pub fn expire(&mut self, job_id: JobId) -> Result<(), Error> {
            let mut job = self.jobs.get(job_id).ok_or(Error::UnknownJob)?;
            let now = self.env().block_number();
            let poster = AccountId::from(job.poster);
            match job.state {
                JobState::Open if now > job.deadline => {
                    self.credit(poster, job.reward)?;
                    job.state = JobState::Expired;
                    self.end_sign_ups(job_id, &job, false)?;
                    self.leave(poster);
                    self.env().emit_event(JobExpired {
                        job: job_id,
                        refund: job.reward,
                        slashed: 0,
                    });
                }
                JobState::Claimed if now > job.submit_by => {
                    let no_show = AccountId::from(job.executor.ok_or(Error::WrongState)?);
                    let slashed = job.verification.collateral;
                    self.slash(no_show, slashed, Some(poster))?;
                    self.leave(no_show);
                    job.executor = None;
                    job.ask = 0;
                    job.forgone = 0;
                    job.submit_by = 0;
                    if now > job.deadline {
                        self.credit(poster, job.reward)?;
                        job.state = JobState::Expired;
                        self.end_sign_ups(job_id, &job, false)?;
                        self.leave(poster);
                        self.env().emit_event(JobExpired {
                            job: job_id,
                            refund: job.reward,
                            slashed,
                        });
                    } else {
                        job.state = JobState::Open;
                        self.env().emit_event(JobReopened { job: job_id, no_show, slashed });
                    }
                }
                JobState::Open | JobState::Claimed => return Err(Error::DeadlineNotReached),
                _ => return Err(Error::WrongState),
            }
            self.jobs.insert(job_id, &job);
            Ok(())
        }

        // ---- bounties ----

        /// Funds a breakthrough bounty with the transferred value, to be paid in `tranches`
        /// equal parts to verified evaluations that beat the best score so far (starting at
        /// `best`) by `margin` (above 0). No job can win one until the verification game
        /// decides evaluations; after `expires_at` anyone can return the rest to the sponsor.
        #[ink(message, payable)]
        pub fn post_bounty(
            &mut self,
            benchmark_cid: Vec<u8>,
            metric: u8,
            margin: u64,
            best: u64,
            tranches: u8,
            expires_at: BlockNumber,
        ) -> Result<BountyId, Error> {
            let amount = self.env().transferred_value();
            if amount == 0 {
                return Err(Error::ZeroAmount);
            }
            if tranches == 0 {
                return Err(Error::BadBounty);
            }
            if margin == 0 || margin > MAX_SCORE || best > MAX_SCORE {
                return Err(Error::BadScore);
            }
            check_cid_shape(&benchmark_cid).map_err(|_| Error::BadCid)?;
            let now = self.env().block_number();
            // Within the timelock: no admin change can take effect while a bounty is locked.
            if expires_at <= now || expires_at > later(now, self.params.timelock())? {
                return Err(Error::BadDeadline);
            }
            let tranche = amount.checked_div(Balance::from(tranches)).ok_or(Error::Overflow)?;
            let id = self.last_bounty.checked_add(1).ok_or(Error::Overflow)?;
            let sponsor = self.env().caller();
            storage::put(
                &mut self.bounties,
                id,
                &Bounty {
                    sponsor: bytes(&sponsor),
                    benchmark_cid,
                    metric,
                    margin,
                    best,
                    tranches_left: tranches,
                    tranche,
                    escrow: amount,
                    expires_at,
                },
            )?;
            self.last_bounty = id;
            self.enter(sponsor)?;
            self.env().emit_event(BountyPosted { bounty: id, sponsor, amount });
            Ok(id)
        }

        /// Claims a bounty tranche for a finalized, verified job that competed for it and beat
        /// its best score by its margin, before the bounty expires. Every job naming a bounty
        /// settles before the bounty expires, under the windows it was posted with (checked at
        /// posting), so its sponsor cannot reclaim ahead of a winner. Evaluations are verified
        /// only by the verification game, which does not exist yet: until it does, an
        /// improving job is refused with `BountyNeedsGame` and nothing is paid, however many
        /// attestations it has. Anyone may call it.
        #[ink(message)]
        pub fn pay_bounty(&mut self, job_id: JobId) -> Result<Balance, Error> {
            let job = self.jobs.get(job_id).ok_or(Error::UnknownJob)?;
            let bounty_id = job.bounty.ok_or(Error::NoBounty)?;
            if job.state != JobState::Finalized {
                return Err(Error::WrongState);
            }
            if !job.verified {
                return Err(Error::Unverified);
            }
            let bounty = storage::get(&self.bounties, bounty_id).ok_or(Error::UnknownBounty)?;
            if self.env().block_number() > bounty.expires_at {
                return Err(Error::DeadlinePassed);
            }
            if bounty.tranches_left == 0 {
                return Err(Error::BountyExhausted);
            }
            let result = storage::get(&self.results, job_id).ok_or(Error::WrongState)?;
            if !bounty.beaten_by(result.score) {
                return Err(Error::NotAnImprovement);
            }
            // When the game decides evaluations: pay one tranche once per job, raise `best`.
            Err(Error::BountyNeedsGame)
        }

        /// After expiry, returns what is left of a bounty to its sponsor's balance; anyone may
        /// call it. The record is freed when its sponsor calls (again, if someone else returned
        /// the escrow first), so that its storage deposit goes back to the sponsor. Returns
        /// the amount returned by this call.
        #[ink(message)]
        pub fn reclaim_bounty(&mut self, bounty_id: BountyId) -> Result<Balance, Error> {
            let mut bounty = storage::get(&self.bounties, bounty_id).ok_or(Error::UnknownBounty)?;
            if self.env().block_number() <= bounty.expires_at {
                return Err(Error::DeadlineNotReached);
            }
            let sponsor = AccountId::from(bounty.sponsor);
            let amount = bounty.escrow;
            let open = bounty.escrow > 0 || bounty.tranches_left > 0;
            if open {
                self.credit(sponsor, amount)?;
                self.leave(sponsor);
                bounty.escrow = 0;
                bounty.tranches_left = 0;
                self.env().emit_event(BountyReclaimed { bounty: bounty_id, amount });
            }
            if self.env().caller() == sponsor {
                self.bounties.remove(bounty_id);
            } else if open {
                storage::put(&mut self.bounties, bounty_id, &bounty)?;
            } else {
                return Err(Error::NothingToRelease);
            }
            Ok(amount)
        }

        // ---- payouts ----

        /// Pays the caller its balance plus its matured unbonding stake. Returns the amount.
        #[ink(message)]
        pub fn withdraw(&mut self) -> Result<Balance, Error> {
            let caller = self.env().caller();
            let entry = self.balances.get(caller).unwrap_or_default();
            let mut amount = entry.owed;
            let mut waiting = false;
            if let Some(mut pledge) = self.pledges.get(caller) {
                if pledge.unbonding > 0 && self.env().block_number() >= pledge.unbonding_until {
                    amount = add(amount, pledge.unbonding)?;
                    pledge.unbonding = 0;
                    if pledge.stake == 0 {
                        self.pledges.remove(caller);
                    } else {
                        self.pledges.insert(caller, &pledge);
                    }
                } else {
                    waiting = pledge.unbonding > 0;
                }
            }
            if amount == 0 {
                return Err(if waiting { Error::StillUnbonding } else { Error::NothingToWithdraw });
            }
            if entry.live == 0 {
                self.balances.remove(caller);
            } else if entry.owed > 0 {
                self.balances.insert(caller, &Payee { owed: 0, ..entry });
            }
            self.env().transfer(caller, amount).map_err(|_| Error::TransferFailed)?;
            self.env().emit_event(Withdrawn { account: caller, amount });
            Ok(amount)
        }

        // ---- admin ----

        /// Admin only, once: names the dispute contract (deployed after the market, which it
        /// names as its opener).
        #[ink(message)]
        pub fn wire_dispute(&mut self, dispute: AccountId) -> Result<(), Error> {
            self.admin.ensure(bytes(&self.env().caller()))?;
            if self.dispute.get().is_some() {
                return Err(Error::WrongState);
            }
            self.dispute.set(&dispute);
            Ok(())
        }

        /// Admin only, once: names the splitter (deployed after the market, since it names
        /// the market). Later changes go through [`Market::propose_change`].
        #[ink(message)]
        pub fn wire_splitter(&mut self, splitter: AccountId) -> Result<(), Error> {
            self.admin.ensure(bytes(&self.env().caller()))?;
            if self.splitter.is_some() {
                return Err(Error::WrongState);
            }
            self.splitter = Some(splitter);
            self.env().emit_event(ChangeApplied {
                change: Change::Params {
                    splitter: bytes(&splitter),
                    treasury: bytes(&self.treasury),
                    params: self.params,
                },
            });
            Ok(())
        }

        /// Admin only: announces a change (parameters or code), which anyone may apply once
        /// the timelock has passed: the longest of the current and the new parameters'
        /// [`MarketParams::timelock`] and what is still locked under parameters replaced
        /// before. A new announcement replaces the pending one.
        #[ink(message)]
        pub fn propose_change(&mut self, change: Change) -> Result<BlockNumber, Error> {
            let now = self.env().block_number();
            // Jobs, bonds and stake locked under parameters since replaced may outlast the
            // current timelock (the admin could first shorten every window): wait them out too.
            let mut delay = self.params.timelock().max(self.locks_until.saturating_sub(now));
            if let Change::Params { params, .. } = &change {
                params.validate().map_err(|_| Error::BadParams)?;
                delay = delay.max(params.timelock());
            }
            let caller = bytes(&self.env().caller());
            let eta = self.admin.propose(caller, change.clone(), now, delay)?;
            self.env().emit_event(ChangeProposed { change, eta });
            Ok(eta)
        }

        /// Applies the announced change once its timelock has passed. Anyone may call it.
        #[ink(message)]
        pub fn apply_change(&mut self) -> Result<(), Error> {
            let change = self.admin.take_ready(self.env().block_number())?;
            match &change {
                Change::Params { splitter, treasury, params } => {
                    let old = later(self.env().block_number(), self.params.timelock())?;
                    self.locks_until = self.locks_until.max(old);
                    self.splitter = Some(AccountId::from(*splitter));
                    let treasury = AccountId::from(*treasury);
                    if treasury != self.treasury {
                        // The new treasury's entry stays, as the first one did (written by
                        // this call); the old one's goes when it withdraws.
                        self.leave(self.treasury);
                        self.enter(treasury)?;
                        self.treasury = treasury;
                    }
                    self.params = *params;
                }
                Change::Code(hash) => {
                    self.env()
                        .set_code_hash(&Hash::from(*hash))
                        .map_err(|_| Error::UpgradeFailed)?;
                }
            }
            self.env().emit_event(ChangeApplied { change });
            Ok(())
        }

        /// Admin only: withdraws the announced change.
        #[ink(message)]
        pub fn cancel_change(&mut self) -> Result<(), Error> {
            let change = self.admin.cancel(bytes(&self.env().caller()))?;
            self.env().emit_event(ChangeCancelled { change });
            Ok(())
        }

        /// Admin only: proposes a new admin, who takes over by calling `accept_admin`.
        #[ink(message)]
        pub fn propose_admin(&mut self, proposed: AccountId) -> Result<(), Error> {
            self.admin.propose_admin(bytes(&self.env().caller()), bytes(&proposed))?;
            self.env().emit_event(AdminProposed { proposed });
            Ok(())
        }

        /// The proposed admin takes over.
        #[ink(message)]
        pub fn accept_admin(&mut self) -> Result<(), Error> {
            let caller = self.env().caller();
            self.admin.accept_admin(bytes(&caller))?;
            self.env().emit_event(AdminChanged { admin: caller });
            Ok(())
        }

        // ---- queries ----

        /// `account`'s pledge.
        #[ink(message)]
        pub fn pledge_of(&self, account: AccountId) -> Option<Pledge> {
            self.pledges.get(account)
        }

        /// A job's state.
        #[ink(message)]
        pub fn job(&self, job_id: JobId) -> Option<Job> {
            self.jobs.get(job_id)
        }

        /// A job's spec CID (freed once the job expires or is rejected).
        #[ink(message)]
        pub fn job_spec(&self, job_id: JobId) -> Option<Vec<u8>> {
            storage::get(&self.specs, job_id)
        }

        /// A job's benchmark and executor allow-list, if it has either (freed once the job
        /// expires, is rejected or times out).
        #[ink(message)]
        pub fn job_terms(&self, job_id: JobId) -> Option<JobTerms> {
            storage::get(&self.terms, job_id)
        }

        /// A job's submitted commitment (freed once the job is rejected or times out).
        #[ink(message)]
        pub fn result(&self, job_id: JobId) -> Option<Commitment> {
            storage::get(&self.results, job_id)
        }

        /// A bounty (freed once reclaimed).
        #[ink(message)]
        pub fn bounty(&self, bounty_id: BountyId) -> Option<Bounty> {
            storage::get(&self.bounties, bounty_id)
        }

        /// What `account` can withdraw now, not counting unbonding stake.
        #[ink(message)]
        pub fn balance_of(&self, account: AccountId) -> Balance {
            self.balances.get(account).map_or(0, |e| e.owed)
        }

        /// The verified output of a finalized training job (for the registry's provenance
        /// check); `None` for anything else.
        #[ink(message)]
        pub fn job_output(&self, job_id: JobId) -> Option<JobOutput> {
            let job = self.jobs.get(job_id)?;
            if job.state != JobState::Finalized || !job.verified || job.kind != JobKind::Train {
                return None;
            }
            let result = storage::get(&self.results, job_id)?;
            let base = storage::get(&self.terms, job_id).and_then(|t| t.game).and_then(|g| g.base);
            Some(JobOutput {
                poster: job.poster,
                artifact: job.artifact,
                output_cid: result.output_cid,
                base,
            })
        }

        /// Admin, splitter, treasury and the market-wide parameters.
        #[ink(message)]
        pub fn params(&self) -> (AccountId, Option<AccountId>, AccountId, MarketParams) {
            (AccountId::from(self.admin.admin), self.splitter, self.treasury, self.params)
        }

        /// The announced admin change and the block from which it can be applied.
        #[ink(message)]
        pub fn pending_change(&self) -> Option<(Change, BlockNumber)> {
            self.admin.pending.clone()
        }

        /// How long an admin change announced now would wait: what the splitter and registry
        /// wait too, so every contract's rules outlast any job.
        #[ink(message)]
        pub fn admin_delay(&self) -> BlockNumber {
            let now = self.env().block_number();
            self.params.timelock().max(self.locks_until.saturating_sub(now))
        }

        /// Jobs posted so far.
        #[ink(message)]
        pub fn job_count(&self) -> JobId {
            self.last_job
        }

        /// Bounties posted so far.
        #[ink(message)]
        pub fn bounty_count(&self) -> BountyId {
            self.last_bounty
        }

        // ---- internals ----

        /// The job and the caller, who must be pledged, not party to it and not have attested
        /// or challenged it already.
        fn verifier_check(&self, job_id: JobId) -> Result<(Job, AccountId), Error> {
            let job = self.jobs.get(job_id).ok_or(Error::UnknownJob)?;
            let caller = self.env().caller();
            if !self.pledges.contains(caller) {
                return Err(Error::NotPledged);
            }
            let me = Some(bytes(&caller));
            if me == job.executor || me == Some(job.poster) {
                return Err(Error::ConflictOfInterest);
            }
            Ok((job, caller))
        }

        /// Locks `amount` of `who`'s free stake.
        fn lock(&mut self, who: AccountId, amount: Balance) -> Result<(), Error> {
            let mut pledge = self.pledges.get(who).ok_or(Error::NotPledged)?;
            if pledge.free() < amount {
                return Err(Error::InsufficientFreeStake);
            }
            pledge.locked = add(pledge.locked, amount)?;
            self.pledges.insert(who, &pledge);
            Ok(())
        }

        fn window_closes(&self, job: &Job) -> Result<BlockNumber, Error> {
            later(job.submitted_at, job.verification.challenge_window)
        }

        fn ensure_window_open(&self, job: &Job) -> Result<(), Error> {
            if self.env().block_number() > self.window_closes(job)? {
                Err(Error::WindowClosed)
            } else {
                Ok(())
            }
        }

        fn credit(&mut self, account: AccountId, amount: Balance) -> Result<(), Error> {
            if amount == 0 {
                return Ok(());
            }
            let mut entry = self.balances.get(account).unwrap_or_default();
            entry.owed = add(entry.owed, amount)?;
            self.balances.insert(account, &entry);
            Ok(())
        }

        /// One more of `account`'s jobs, sign-ups, challenges or bounties to settle: its ledger
        /// entry exists (written, and its deposit paid, by the account's own call) until then.
        fn enter(&mut self, account: AccountId) -> Result<(), Error> {
            let mut entry = self.balances.get(account).unwrap_or_default();
            entry.live = entry.live.checked_add(1).ok_or(Error::Overflow)?;
            self.balances.insert(account, &entry);
            Ok(())
        }

        /// One of `account`'s jobs, sign-ups, challenges or bounties settled. Saturating: a
        /// count that went wrong may leave an entry behind, never block a settlement.
        fn leave(&mut self, account: AccountId) {
            if let Some(mut entry) = self.balances.get(account) {
                entry.live = entry.live.saturating_sub(1);
                self.balances.insert(account, &entry);
            }
        }

        fn unlock(&mut self, who: AccountId, amount: Balance) -> Result<(), Error> {
            let mut pledge = self.pledges.get(who).ok_or(Error::NotPledged)?;
            pledge.locked = sub(pledge.locked, amount)?;
            self.pledges.insert(who, &pledge);
            Ok(())
        }

        /// Ends the sign-ups of a job that ends without a finalize (expired or rejected): every
        /// bond comes back, except an attester's when `accused` (the executor lost a game):
        /// the attester's bond stays locked and it stands accused ([`Check::Accused`]) until
        /// settled. A challenger's bond is its game's. Returns the number of attesters accused.
        fn end_sign_ups(&mut self, job_id: JobId, job: &Job, accused: bool) -> Result<u8, Error> {
            let bond = job.verification.collateral;
            let mut pending: u8 = 0;
            for i in 0..job.sign_ups {
                let Some(mut sign_up) = self.sign_ups.get((job_id, i)) else { continue };
                let verifier = AccountId::from(sign_up.verifier);
                match sign_up.check {
                    Check::Challenged => self.leave(verifier),
                    Check::Checked { .. } if accused => {
                        sign_up.check = Check::Accused { cleared: 0 };
                        self.sign_ups.insert((job_id, i), &sign_up);
                        pending = pending.checked_add(1).ok_or(Error::Overflow)?;
                    }
                    _ => {
                        self.leave(verifier);
                        self.unlock(verifier, bond)?;
                    }
                }
            }
            Ok(pending)
        }

        /// An accused attester defends the result it attested against accusation `accusation`:
        /// the dispute contract opens a game about the accusing challenger's claim with the
        /// caller in the executor's place, the executor's committed trace root its root. It
        /// answers as the executor would (`iollm dispute play`); [`Market::settle_attester`]
        /// settles it once every defence and game is decided. Until the accusation's `until`.
        #[ink(message)]
        pub fn defend(&mut self, job_id: JobId, accusation: u16) -> Result<GameId, Error> {
            let accused = self.accusations.get((job_id, accusation)).ok_or(Error::NotAccused)?;
            if self.env().block_number() > accused.until {
                return Err(Error::DefenceClosed);
            }
            let caller = self.env().caller();
            let index = self.signed.get((job_id, caller)).ok_or(Error::NotAccused)?;
            let sign_up = self.sign_ups.get((job_id, index)).ok_or(Error::NotAccused)?;
            if !matches!(sign_up.check, Check::Accused { .. }) {
                return Err(Error::NotAccused);
            }
            if self.defences.contains((job_id, index, accusation)) {
                return Err(Error::AlreadyDefended);
            }
            let accuser = self.games.get((job_id, accused.by)).ok_or(Error::NoGame)?;
            let game = self.dispute_defend(accuser.game, caller)?;
            self.defences.insert((job_id, index, accusation), &game);
            self.env().emit_event(Defended { job: job_id, verifier: caller, accusation, game });
            Ok(game)
        }

        /// Anyone settles accused attester `sign_up` of a job, going through its accusations in
        /// order from the first it has not beaten, `SETTLE_STEP` a call. Each defence won
        /// beats that claim: the first attester settled past it slashes its challenger's bond,
        /// half to that attester. The attester is slashed at the first defence it lost, or
        /// accusation it let pass undefended: half (rounded up) to that accusation's
        /// challenger when the challenger's claim was right, the rest (or all) to the treasury.
        /// Its bond comes back once every game of the job has ended and it has beaten every
        /// accusation. A call that settles nothing and beats nothing: [`Error::DefenceOpen`].
        #[ink(message)]
        pub fn settle_attester(&mut self, job_id: JobId, sign_up: u8) -> Result<(), Error> {
            let mut job = self.jobs.get(job_id).ok_or(Error::UnknownJob)?;
            let mut record = self.sign_ups.get((job_id, sign_up)).ok_or(Error::NotAccused)?;
            let Check::Accused { cleared: from } = record.check else {
                return Err(Error::NotAccused);
            };
            let now = self.env().block_number();
            let verifier = AccountId::from(record.verifier);
            let bond = job.verification.collateral;
            let last = from.saturating_add(SETTLE_STEP).min(job.accusations);
            let (mut cleared, mut lost) = (from, None);
            let mut earned = self.earned.get((job_id, sign_up)).unwrap_or(0);
            while cleared < last {
                let k = cleared;
                let mut accusation = self.accusations.get((job_id, k)).ok_or(Error::NotAccused)?;
                let verdict = match self.defences.get((job_id, sign_up, k)) {
                    Some(game) => match self.dispute_close(game) {
                        Ok((verdict, _)) => verdict,
                        Err(Error::NotDecided) => break,
                        Err(e) => return Err(e),
                    },
                    None if now > accusation.until => {
                        lost = Some((accusation.by, accusation.challenger_right));
                        break;
                    }
                    None => break,
                };
                if verdict != Verdict::Executor {
                    lost = Some((accusation.by, verdict == Verdict::Challenger));
                    break;
                }
                if !accusation.beaten {
                    let accuser = self.games.get((job_id, accusation.by)).ok_or(Error::NoGame)?;
                    let (held, to_treasury) = escrow::slash_split(bond);
                    self.forfeit(AccountId::from(accuser.challenger), bond)?;
                    let treasury = self.treasury;
                    self.credit(treasury, to_treasury)?;
                    earned = add(earned, held)?;
                    accusation.beaten = true;
                    self.accusations.insert((job_id, k), &accusation);
                    let index = accusation.by;
                    let beaten = ClaimBeaten { job: job_id, index, verifier, held, to_treasury };
                    self.env().emit_event(beaten);
                }
                cleared = cleared.saturating_add(1);
            }
            let upheld = cleared == job.accusations && job.open_games == 0;
            if lost.is_none() && !upheld {
                if cleared == from {
                    return Err(Error::DefenceOpen);
                }
                record.check = Check::Accused { cleared };
                self.sign_ups.insert((job_id, sign_up), &record);
                if earned > 0 {
                    self.earned.insert((job_id, sign_up), &earned);
                }
                return Ok(());
            }
            self.earned.remove((job_id, sign_up));
            let paid = if upheld { verifier } else { self.treasury };
            self.credit(paid, earned)?;
            let (slashed, to_winner, to_treasury) = match lost {
                None => {
                    self.unlock(verifier, bond)?;
                    (0, 0, 0)
                }
                Some((by, right)) => {
                    let accuser = self.games.get((job_id, by)).ok_or(Error::NoGame)?;
                    let winner = right.then_some(AccountId::from(accuser.challenger));
                    let (w, t) = self.slash(verifier, bond, winner)?;
                    (bond, w, t)
                }
            };
            record.check = Check::Settled { upheld };
            self.sign_ups.insert((job_id, sign_up), &record);
            job.accused = job.accused.checked_sub(1).ok_or(Error::Overflow)?;
            self.jobs.insert(job_id, &job);
            self.leave(verifier);
            self.env().emit_event(AttestationSettled {
                job: job_id,
                verifier,
                upheld,
                slashed,
                to_winner,
                to_treasury,
            });
            Ok(())
        }

        /// The executor lost challenge `by`'s game: while attesters of its result stand accused,
        /// the game's claim is one more accusation they must each answer ([`Accusation`]),
        /// until the job's challenge window from now. Its index, if it is one.
        fn accuse(
            &mut self,
            job_id: JobId,
            job: &mut Job,
            by: u16,
            challenger_right: bool,
        ) -> Result<Option<u16>, Error> {
            if job.accused == 0 {
                return Ok(None);
            }
            let until = self.env().block_number().checked_add(job.verification.challenge_window);
            let until = until.ok_or(Error::Overflow)?;
            let accusation = Accusation { by, challenger_right, until, beaten: false };
            let k = job.accusations;
            self.accusations.insert((job_id, k), &accusation);
            job.accusations = k.checked_add(1).ok_or(Error::Overflow)?;
            Ok(Some(k))
        }

        /// The segments a job's spot checks draw from: a training job's checkpoints (one for a
        /// job without a game spec).
        fn segments(&self, job_id: JobId) -> u64 {
            storage::get(&self.terms, job_id)
                .and_then(|t| t.game)
                .map_or(1, |g| u64::from(g.checkpoints))
        }

        /// Takes `amount` of `who`'s locked stake (the caller credits it where it goes).
        fn forfeit(&mut self, who: AccountId, amount: Balance) -> Result<(), Error> {
            let mut pledge = self.pledges.get(who).ok_or(Error::NotPledged)?;
            pledge.locked = sub(pledge.locked, amount)?;
            pledge.stake = sub(pledge.stake, amount)?;
            self.pledges.insert(who, &pledge);
            Ok(())
        }

        /// Takes `amount` of `who`'s locked stake: half (rounded up) to `honest` if given, the
        /// rest (or all) to the treasury.
        fn slash(
            &mut self,
            who: AccountId,
            amount: Balance,
            honest: Option<AccountId>,
        ) -> Result<(Balance, Balance), Error> {
            self.forfeit(who, amount)?;
            let (to_honest, to_treasury) = match honest {
                Some(honest) => {
                    let (to_honest, to_treasury) = escrow::slash_split(amount);
                    self.credit(honest, to_honest)?;
                    (to_honest, to_treasury)
                }
                None => (0, amount),
            };
            let treasury = self.treasury;
            self.credit(treasury, to_treasury)?;
            Ok((to_honest, to_treasury))
        }

        /// Rejects a job whose executor lost a game: its collateral is slashed, half to `winner`
        /// if given and the rest to the treasury; the poster gets its escrow back; its
        /// attesters stand accused ([`Market::accuse`]). Returns (slashed, to the winner, to
        /// the treasury).
        fn reject(
            &mut self,
            job_id: JobId,
            job: &mut Job,
            winner: Option<AccountId>,
        ) -> Result<(Balance, Balance, Balance), Error> {
            let executor = AccountId::from(job.executor.ok_or(Error::WrongState)?);
            let bond = job.verification.collateral;
            let (to_winner, to_treasury) = self.slash(executor, bond, winner)?;
            job.accused = self.end_sign_ups(job_id, job, true)?;
            self.credit(AccountId::from(job.poster), job.reward)?;
            self.leave(AccountId::from(job.poster));
            self.leave(executor);
            job.state = JobState::Rejected;
            Ok((bond, to_winner, to_treasury))
        }

        /// Whether `poster` may have units of `artifact` credited: asked of the splitter (the
        /// artifact exists and `poster` owns it or was authorised by its owner). No splitter,
        /// or a failing call, means no.
        #[cfg(not(test))]
        fn splitter_may_credit(&self, artifact: ArtifactId, poster: AccountId) -> bool {
            use ink::env::call::{build_call, ExecutionInput, Selector};
            use iollm_types::splitter::selectors;
            let Some(splitter) = self.splitter else { return false };
            build_call::<ink::env::DefaultEnvironment>()
                .call(splitter)
                .exec_input(
                    ExecutionInput::new(Selector::new(selectors::MAY_CREDIT))
                        .push_arg(artifact)
                        .push_arg(poster),
                )
                .returns::<bool>()
                .try_invoke()
                .ok()
                .and_then(Result::ok)
                .unwrap_or(false)
        }

        #[cfg(not(test))]
        fn splitter_credit_units(
            &mut self,
            artifact: ArtifactId,
            account: AccountId,
            units: Balance,
        ) -> Result<(), Error> {
            use ink::env::call::{build_call, ExecutionInput, Selector};
            use iollm_types::splitter::{selectors, Error as SplitterError};
            let splitter = self.splitter.ok_or(Error::CallFailed)?;
            build_call::<ink::env::DefaultEnvironment>()
                .call(splitter)
                .transferred_value(units)
                .exec_input(
                    ExecutionInput::new(Selector::new(selectors::CREDIT_UNITS))
                        .push_arg(artifact)
                        .push_arg(account)
                        .push_arg(units),
                )
                .returns::<Result<(), SplitterError>>()
                .try_invoke()
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::CallFailed)
        }

        /// Opens a game in the dispute contract; its id.
        #[cfg(not(test))]
        fn dispute_open(
            &mut self,
            terms: Terms,
            first_path: Vec<[u8; 32]>,
            last: [u8; 32],
            last_path: Vec<[u8; 32]>,
        ) -> Result<GameId, Error> {
            use ink::env::call::{ExecutionInput, Selector};
            use iollm_types::dispute::selectors;
            self.dispute_opens(
                ExecutionInput::new(Selector::new(selectors::OPEN))
                    .push_arg(terms)
                    .push_arg(first_path)
                    .push_arg(last)
                    .push_arg(last_path),
            )
        }

        /// Calls one of the dispute contract's messages that open a game; the game's id.
        #[cfg(not(test))]
        fn dispute_opens<Args: ink::scale::Encode>(
            &mut self,
            input: ink::env::call::ExecutionInput<Args>,
        ) -> Result<GameId, Error> {
            use iollm_types::dispute::Error as DisputeError;
            let dispute = self.dispute.get().ok_or(Error::NoDisputeContract)?;
            ink::env::call::build_call::<ink::env::DefaultEnvironment>()
                .call(dispute)
                .exec_input(input)
                .returns::<Result<GameId, DisputeError>>()
                .try_invoke()
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::DisputeRefused)
        }

        /// Closes a decided game in the dispute contract: its verdict and how it was reached.
        #[cfg(not(test))]
        fn dispute_close(&mut self, game: GameId) -> Result<(Verdict, How), Error> {
            use ink::env::call::{build_call, ExecutionInput, Selector};
            use iollm_types::dispute::{selectors, Error as DisputeError};
            let dispute = self.dispute.get().ok_or(Error::NoDisputeContract)?;
            build_call::<ink::env::DefaultEnvironment>()
                .call(dispute)
                .exec_input(ExecutionInput::new(Selector::new(selectors::CLOSE)).push_arg(game))
                .returns::<Result<(Verdict, How), DisputeError>>()
                .try_invoke()
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::CallFailed)?
                .map_err(|e| match e {
                    DisputeError::NotDecided => Error::NotDecided,
                    _ => Error::CallFailed,
                })
        }

        #[cfg(test)]
        fn dispute_open(
            &mut self,
            _: Terms,
            _: Vec<[u8; 32]>,
            _: [u8; 32],
            _: Vec<[u8; 32]>,
        ) -> Result<GameId, Error> {
            self.dispute.get().ok_or(Error::NoDisputeContract).map(|_| 1)
        }

        /// Opens an output game in the dispute contract; its id.
        #[cfg(not(test))]
        fn dispute_open_package(
            &mut self,
            terms: Terms,
            question: Question,
        ) -> Result<GameId, Error> {
            use ink::env::call::{ExecutionInput, Selector};
            use iollm_types::dispute::selectors;
            self.dispute_opens(
                ExecutionInput::new(Selector::new(selectors::OPEN_PACKAGE))
                    .push_arg(terms)
                    .push_arg(question),
            )
        }

        /// Opens an initial game in the dispute contract; its id.
        #[cfg(not(test))]
        fn dispute_open_initial(&mut self, terms: Terms) -> Result<GameId, Error> {
            use ink::env::call::{ExecutionInput, Selector};
            use iollm_types::dispute::selectors;
            self.dispute_opens(
                ExecutionInput::new(Selector::new(selectors::OPEN_INITIAL)).push_arg(terms),
            )
        }

        #[cfg(test)]
        fn dispute_open_initial(&mut self, _: Terms) -> Result<GameId, Error> {
            self.dispute.get().ok_or(Error::NoDisputeContract).map(|_| 1)
        }

        #[cfg(test)]
        fn dispute_open_package(&mut self, _: Terms, _: Question) -> Result<GameId, Error> {
            self.dispute.get().ok_or(Error::NoDisputeContract).map(|_| 1)
        }

        /// Opens `defender`'s defence of decided game `game`'s result; its id.
        #[cfg(not(test))]
        fn dispute_defend(&mut self, game: GameId, defender: AccountId) -> Result<GameId, Error> {
            use ink::env::call::{build_call, ExecutionInput, Selector};
            use iollm_types::dispute::{selectors, Error as DisputeError};
            let dispute = self.dispute.get().ok_or(Error::NoDisputeContract)?;
            build_call::<ink::env::DefaultEnvironment>()
                .call(dispute)
                .exec_input(
                    ExecutionInput::new(Selector::new(selectors::DEFEND))
                        .push_arg(game)
                        .push_arg(defender),
                )
                .returns::<Result<GameId, DisputeError>>()
                .try_invoke()
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::DisputeRefused)
        }

        #[cfg(test)]
        fn dispute_defend(&mut self, _: GameId, _: AccountId) -> Result<GameId, Error> {
            tests::DEFENCES.with(|d| {
                let mut d = d.borrow_mut();
                *d = d.checked_add(1).ok_or(Error::Overflow)?;
                Ok(1 + *d)
            })
        }

        /// Frees a settled game's record in the dispute contract (in the challenger's call).
        #[cfg(not(test))]
        fn dispute_release(&mut self, game: GameId) -> Result<(), Error> {
            use ink::env::call::{build_call, ExecutionInput, Selector};
            use iollm_types::dispute::{selectors, Error as DisputeError};
            let dispute = self.dispute.get().ok_or(Error::NoDisputeContract)?;
            build_call::<ink::env::DefaultEnvironment>()
                .call(dispute)
                .exec_input(ExecutionInput::new(Selector::new(selectors::RELEASE)).push_arg(game))
                .returns::<Result<(), DisputeError>>()
                .try_invoke()
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::CallFailed)
        }

        #[cfg(test)]
        fn dispute_release(&mut self, _: GameId) -> Result<(), Error> {
            Ok(())
        }

        #[cfg(test)]
        fn dispute_close(&mut self, game: GameId) -> Result<(Verdict, How), Error> {
            tests::GAME_VERDICTS
                .with(|g| g.borrow().get(&game).copied())
                .or_else(|| tests::VERDICT.with(|v| *v.borrow()))
                .ok_or(Error::NotDecided)
        }

        #[cfg(test)]
        fn splitter_may_credit(&self, artifact: ArtifactId, poster: AccountId) -> bool {
            self.splitter.is_some()
                && tests::MAY_CREDIT.with(|m| m.borrow().contains(&(artifact, poster)))
        }

        #[cfg(test)]
        fn splitter_credit_units(
            &mut self,
            artifact: ArtifactId,
            account: AccountId,
            units: Balance,
        ) -> Result<(), Error> {
            if artifact == tests::SATURATED {
                return Err(Error::CallFailed);
            }
            tests::SPLITTER_CALLS
                .with(|c| c.borrow_mut().push(tests::Call::Credit(artifact, account, units)));
            Ok(())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use core::cell::RefCell;
        use ink::env::test::{
            default_accounts, get_account_balance, recorded_events, set_account_balance,
            set_block_number, set_caller, set_value_transferred, DefaultAccounts,
        };
        use ink::env::DefaultEnvironment as Env;
        use ink::scale::Decode;
        use iollm_types::admin::events as admin_events;
        use iollm_types::game::GameConfig;
        use iollm_types::market::{
            events, selectors, Benchmark, GameSpec, Verification, MAX_UNITS,
        };
        use std::collections::{BTreeMap, BTreeSet};

        /// A call the market made to the splitter.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Call {
            Credit(ArtifactId, AccountId, Balance),
        }

        std::thread_local! {
            pub static SPLITTER_CALLS: RefCell<Vec<Call>> = const { RefCell::new(Vec::new()) };
            /// (artifact, poster) pairs the mock splitter lets credit units.
            pub static MAY_CREDIT: RefCell<BTreeSet<(ArtifactId, AccountId)>> =
                const { RefCell::new(BTreeSet::new()) };
            /// The verdict the mock dispute contract gives on `close`, and how (none: not
            /// decided).
            pub static VERDICT: RefCell<Option<(Verdict, How)>> = const { RefCell::new(None) };
            /// Per-game verdicts that override `VERDICT` (a defence's game).
            pub static GAME_VERDICTS: RefCell<BTreeMap<GameId, (Verdict, How)>> =
                const { RefCell::new(BTreeMap::new()) };
            /// Defences opened so far: the mock numbers their games from 2.
            pub static DEFENCES: RefCell<GameId> = const { RefCell::new(0) };
        }

        /// The mock splitter refuses credits to this artifact (a saturated pool).
        pub const SATURATED: ArtifactId = 666;
        const CID: &[u8] = b"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
        const OUT: &[u8] = b"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
        const GPU: Capacity = Capacity { accelerator: 2, memory_gib: 80, throughput: 100 };
        const VERIFY: Verification =
            Verification { challenge_window: 5, verifiers: 2, collateral: 1_000, verifier_fee: 10 };
        /// Reference price 10 per unit, collateral at least 2x the reference value.
        const PARAMS: MarketParams = MarketParams {
            reference_price: 10,
            collateral_bps: 20_000,
            min_verifiers: 1,
            max_window: 50,
            max_job_blocks: 100,
            submit_blocks: 10,
            challenge_blocks: 100,
            unbonding_blocks: 10,
        };

        fn acc() -> DefaultAccounts<Env> {
            default_accounts::<Env>()
        }

        fn splitter_addr() -> AccountId {
            AccountId::from([9; 32])
        }

        fn dispute_addr() -> AccountId {
            AccountId::from([8; 32])
        }

        fn events_of<E: Decode>(topic: [u8; 32]) -> Vec<E> {
            recorded_events()
                .filter(|e| e.topics[0] == topic)
                .map(|e| E::decode(&mut &e.data[..]).unwrap())
                .collect()
        }

        fn as_(who: AccountId, value: Balance) {
            set_caller::<Env>(who);
            set_value_transferred::<Env>(value);
        }

        fn spec(units: u64) -> JobSpec {
            JobSpec {
                kind: JobKind::Train,
                spec_cid: CID.to_vec(),
                artifact: 7,
                units,
                need: Capacity { accelerator: 1, memory_gib: 24, throughput: 10 },
                deadline: 20,
                verification: VERIFY,
                bounty: None,
                benchmark: None,
                executors: Vec::new(),
                game: Some(game_spec()),
            }
        }

        /// The game spec of a training job: a 1-layer model, 2 checkpoints of 2 steps, 1 block
        /// a move (its longest game is exactly the market's 100 challenge blocks).
        fn game_spec() -> GameSpec {
            GameSpec {
                config: GameConfig::SMALLEST,
                config_hash: [4; 32],
                corpus_root: [5; 32],
                every: 2,
                checkpoints: 2,
                h0: [6; 32],
                move_blocks: 1,
                output: iollm_types::package::OutputCommit {
                    header_root: [7; 32],
                    header_len: iollm_types::package::PIECE_BYTES,
                    params: GameConfig::SMALLEST.params(),
                    config_json: [8; 32],
                },
                base: None,
            }
        }

        /// An evaluation of `CID` with metric 2 (pass@1), competing for `bounty`.
        fn eval(bounty: Option<BountyId>, deadline: BlockNumber) -> JobSpec {
            JobSpec {
                kind: JobKind::EvalPath,
                bounty,
                benchmark: Some(Benchmark { cid: CID.to_vec(), metric: 2 }),
                deadline,
                game: None,
                ..spec(50)
            }
        }

        /// The steps roots a made-up run's segments reach: a training job has 2 checkpoints, an
        /// evaluation 1 segment.
        const STEPS: [[u8; 32]; 2] = [[10; 32], [11; 32]];

        fn leaves(segments: usize) -> Vec<[u8; 32]> {
            STEPS[..segments].iter().map(spotcheck::leaf::<HostSha>).collect()
        }

        fn checks_root(segments: usize) -> [u8; 32] {
            spotcheck::checks_root::<HostSha>(&leaves(segments))
        }

        /// The last state of the made-up training run of [`game_spec`] (a last loss of 0),
        /// proven against its trace `[h0, h0, h_n]`, and the trace's root.
        fn final_state() -> (FinalState, [u8; 32]) {
            let (_, root, last) = FinalState::made_up::<HostSha>(&game_spec(), 0, [8; 32]);
            (last, root)
        }

        /// The made-up training run's trace root.
        fn trace_root() -> [u8; 32] {
            final_state().1
        }

        /// The proof of the made-up training run's last state.
        fn last() -> Option<FinalState> {
            Some(final_state().0)
        }

        /// A training job's result: the made-up run ([`trace_root`], [`last`]) and the checks
        /// of [`STEPS`].
        fn commitment(score: u64) -> Commitment {
            Commitment {
                output_cid: OUT.to_vec(),
                score,
                loss: 0,
                trace_root: trace_root(),
                checks_root: checks_root(2),
            }
        }

        /// An evaluation's result (one segment).
        fn eval_commitment(score: u64) -> Commitment {
            Commitment { checks_root: checks_root(1), ..commitment(score) }
        }

        fn secret(who: AccountId) -> [u8; 32] {
            let mut s: [u8; 32] = *who.as_ref();
            s[0] ^= 0xff;
            s
        }

        fn sign_up(m: &mut Market, id: JobId, who: AccountId) -> Result<u8, Error> {
            as_(who, 0);
            m.sign_up(id, spotcheck::commitment::<HostSha>(who.as_ref(), &secret(who)))
        }

        /// What honest replays of `who`'s segments of job `id` (the drawn one, then the last)
        /// yield: their steps roots and paths.
        fn check(m: &Market, id: JobId, who: AccountId) -> Option<Vec<spotcheck::SegmentCheck>> {
            let segments = m.segments(id);
            let draw = spotcheck::draw::<HostSha>(&secret(who), &trace_root());
            let checked = spotcheck::checked_segments(&draw, segments);
            let leaves = leaves(segments as usize);
            let check = |seg: &u64| {
                let path = spotcheck::checks_path::<HostSha>(&leaves, *seg).unwrap();
                (STEPS[*seg as usize], path)
            };
            Some(checked.iter().map(check).collect())
        }

        fn attest(m: &mut Market, id: JobId, who: AccountId) -> Result<(), Error> {
            as_(who, 0);
            let c = check(m, id, who);
            m.attest(id, secret(who), c)
        }

        /// django and eve sign up for job `id`'s spot check.
        fn sign_up_all(m: &mut Market, id: JobId) {
            let a = acc();
            for v in [a.django, a.eve] {
                sign_up(m, id, v).unwrap();
            }
        }

        /// Market (admin alice, treasury frank, splitter and dispute contract wired) where bob may credit units of
        /// artifacts 7 and SATURATED; charlie (price 10, 20 % discount), django and eve
        /// pledged with 5 000 stake each; the contract holds enough balance to pay out.
        fn setup() -> Market {
            let a = acc();
            SPLITTER_CALLS.with(|c| c.borrow_mut().clear());
            MAY_CREDIT.with(|m| {
                let mut m = m.borrow_mut();
                m.clear();
                m.insert((7, a.bob));
                m.insert((SATURATED, a.bob));
            });
            set_block_number::<Env>(1);
            as_(a.alice, 0);
            let mut m = Market::new(a.frank, PARAMS).unwrap();
            m.wire_splitter(splitter_addr()).unwrap();
            // A `Lazy` outlives the instance within a test: wired by an earlier setup, or now.
            if m.dispute.get().is_none() {
                m.wire_dispute(dispute_addr()).unwrap();
            }
            assert_eq!(m.wire_dispute(dispute_addr()), Err(Error::WrongState), "wired once");
            for (who, discount) in [(a.charlie, 2_000), (a.django, 0), (a.eve, 0)] {
                as_(who, 5_000);
                m.pledge(GPU, 10, discount).unwrap();
            }
            set_account_balance::<Env>(ink::env::account_id::<Env>(), 1_000_000);
            as_(a.alice, 0);
            m
        }

        /// `setup` plus a job by bob (reward 1 000, 50 units) that django and eve signed up to
        /// spot-check, claimed by charlie and submitted at block 2.
        fn submitted() -> (Market, JobId) {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 1_000);
            let id = m.post_job(spec(50)).unwrap();
            sign_up_all(&mut m, id);
            as_(a.charlie, 0);
            m.claim(id).unwrap();
            set_block_number::<Env>(2);
            m.submit_result(id, commitment(900_000), last()).unwrap();
            (m, id)
        }

        fn attest_all(m: &mut Market, id: JobId) {
            let a = acc();
            for v in [a.django, a.eve] {
                attest(m, id, v).unwrap();
            }
        }

        #[ink::test]
        fn the_constructor_refuses_unbounded_parameters() {
            as_(acc().alice, 0);
            for bad in [
                MarketParams { reference_price: 0, ..PARAMS },
                MarketParams { collateral_bps: 9_999, ..PARAMS },
                MarketParams { min_verifiers: 0, ..PARAMS },
                MarketParams { min_verifiers: 9, ..PARAMS },
                MarketParams { unbonding_blocks: u32::MAX, ..PARAMS },
                MarketParams { max_window: 0, ..PARAMS },
            ] {
                assert!(matches!(Market::new(acc().frank, bad), Err(Error::BadParams)));
            }
        }

        #[ink::test]
        fn pledge_top_up_and_errors() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 0);
            assert_eq!(m.pledge(GPU, 1, BPS + 1), Err(Error::BadBps));
            assert_eq!(m.pledge(GPU, 1, 0), Err(Error::ZeroAmount));
            assert_eq!(m.top_up(), Err(Error::ZeroAmount));
            as_(a.bob, 5);
            assert_eq!(m.top_up(), Err(Error::NotPledged));
            m.pledge(GPU, 1, 0).unwrap();
            // Re-pricing needs no value; topping up adds to the stake.
            as_(a.bob, 0);
            m.pledge(GPU, 2, 100).unwrap();
            as_(a.bob, 7);
            m.top_up().unwrap();
            let p = m.pledge_of(a.bob).unwrap();
            assert_eq!((p.stake, p.price_per_unit, p.discount_bps, p.locked), (12, 2, 100, 0));
            let ev: Vec<events::Pledged> = events_of(events::PLEDGED_TOPIC);
            assert_eq!(
                ev.last().unwrap(),
                &events::Pledged { provider: *a.bob.as_ref(), stake: 12 }
            );
        }

        #[ink::test]
        fn unpledge_waits_for_unbonding_and_never_touches_locked_stake() {
            let a = acc();
            let (mut m, _) = submitted();
            as_(a.bob, 0);
            assert_eq!(m.unpledge(1), Err(Error::NotPledged));
            as_(a.charlie, 0);
            assert_eq!(m.unpledge(0), Err(Error::ZeroAmount));
            // 1 000 of charlie's 5 000 is locked as collateral.
            assert_eq!(m.unpledge(4_001), Err(Error::InsufficientFreeStake));
            m.unpledge(4_000).unwrap();
            let p = m.pledge_of(a.charlie).unwrap();
            assert_eq!(
                (p.stake, p.locked, p.unbonding, p.unbonding_until),
                (1_000, 1_000, 4_000, 12)
            );
            let ev: Vec<events::Unpledged> = events_of(events::UNPLEDGED_TOPIC);
            assert_eq!(
                ev[0],
                events::Unpledged { provider: *a.charlie.as_ref(), unbonding: 4_000, until: 12 }
            );
            assert_eq!(m.withdraw(), Err(Error::StillUnbonding));
            set_block_number::<Env>(12);
            let before = get_account_balance::<Env>(a.charlie).unwrap();
            assert_eq!(m.withdraw(), Ok(4_000));
            assert_eq!(get_account_balance::<Env>(a.charlie).unwrap(), before + 4_000);
            assert_eq!(m.pledge_of(a.charlie).unwrap().unbonding, 0);
            // A provider that unbonds everything leaves no pledge record behind (frank: django's
            // stake is bonded to the job's spot check).
            as_(a.frank, 5_000);
            m.pledge(GPU, 10, 0).unwrap();
            as_(a.django, 0);
            assert_eq!(m.unpledge(5_000), Err(Error::InsufficientFreeStake));
            as_(a.frank, 0);
            m.unpledge(5_000).unwrap();
            set_block_number::<Env>(22);
            assert_eq!(m.withdraw(), Ok(5_000));
            assert_eq!(m.pledge_of(a.frank), None);
        }

        /// Findings 7 and 8: the poster cannot pick away the minimums or unbounded windows.
        #[ink::test]
        fn post_job_enforces_the_market_minimums_and_bounds() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 0);
            assert_eq!(m.post_job(spec(1)), Err(Error::ZeroAmount));
            as_(a.bob, 100);
            let v = |v: Verification| JobSpec { verification: v, ..spec(1) };
            assert_eq!(m.post_job(JobSpec { spec_cid: vec![], ..spec(1) }), Err(Error::BadCid));
            assert_eq!(m.post_job(JobSpec { deadline: 1, ..spec(1) }), Err(Error::BadDeadline));
            // At most max_job_blocks (100) ahead.
            assert_eq!(m.post_job(JobSpec { deadline: 102, ..spec(1) }), Err(Error::BadDeadline));
            assert_eq!(
                m.post_job(JobSpec { deadline: u32::MAX, ..spec(1) }),
                Err(Error::BadDeadline)
            );
            assert_eq!(m.post_job(spec(0)), Err(Error::BadUnits));
            assert_eq!(m.post_job(spec(MAX_UNITS + 1)), Err(Error::BadUnits));
            for bad in [
                Verification { verifiers: 9, ..VERIFY },
                Verification { verifiers: 0, ..VERIFY },
                Verification { challenge_window: 0, ..VERIFY },
                Verification { challenge_window: 51, ..VERIFY },
                Verification { challenge_window: u32::MAX, ..VERIFY },
            ] {
                assert_eq!(m.post_job(v(bad)), Err(Error::BadVerification), "{bad:?}");
            }
            // 50 units at reference price 10, collateral factor 2: at least 1 000.
            let low = Verification { collateral: 999, ..VERIFY };
            assert_eq!(
                m.post_job(JobSpec { verification: low, ..spec(50) }),
                Err(Error::CollateralTooLow)
            );
            let none = Verification { collateral: 0, ..VERIFY };
            assert_eq!(m.post_job(v(none)), Err(Error::CollateralTooLow));
            let fees = Verification { verifier_fee: 51, ..VERIFY };
            assert_eq!(m.post_job(v(fees)), Err(Error::PriceTooHigh));
            let no_benchmark = JobSpec { kind: JobKind::EvalPath, ..spec(1) };
            assert_eq!(m.post_job(no_benchmark), Err(Error::BadBenchmark));
            assert_eq!(m.post_job(JobSpec { bounty: Some(1), ..spec(1) }), Err(Error::BadBounty));
            assert_eq!(m.job_count(), 0);
            assert_eq!(m.post_job(JobSpec { deadline: 101, ..spec(1) }), Ok(1));
            let job = m.job(1).unwrap();
            assert_eq!((job.reward, job.state, job.poster), (100, JobState::Open, *a.bob.as_ref()));
            assert_eq!((job.value, job.joint_mining), (10, true));
            assert_eq!(m.job_spec(1), Some(CID.to_vec()));
            let ev: Vec<events::JobPosted> = events_of(events::JOB_POSTED_TOPIC);
            assert_eq!(
                ev,
                vec![events::JobPosted { job: 1, poster: *a.bob.as_ref(), reward: 100 }]
            );
        }

        #[ink::test]
        fn claim_checks_pledge_capacity_price_and_stake() {
            let a = acc();
            let mut m = setup();
            as_(a.charlie, 0);
            assert_eq!(m.claim(1), Err(Error::UnknownJob));
            as_(a.bob, 1_000);
            let id = m.post_job(spec(50)).unwrap();
            let big = m
                .post_job(JobSpec { need: Capacity { memory_gib: 81, ..GPU }, ..spec(1) })
                .unwrap();
            let dear = m
                .post_job(JobSpec {
                    verification: Verification { collateral: 4_000, ..VERIFY },
                    ..spec(200)
                })
                .unwrap();
            let heavy = m
                .post_job(JobSpec {
                    verification: Verification { collateral: 5_001, ..VERIFY },
                    ..spec(1)
                })
                .unwrap();
            assert_eq!(m.claim(id), Err(Error::NotPledged));
            as_(a.charlie, 0);
            assert_eq!(m.claim(big), Err(Error::CapacityTooSmall));
            // 200 units * 10 (ask + forgone) = 2 000 > 1 000 - 2 * 10.
            assert_eq!(m.claim(dear), Err(Error::PriceTooHigh));
            assert_eq!(m.claim(heavy), Err(Error::InsufficientFreeStake));
            m.claim(id).unwrap();
            let job = m.job(id).unwrap();
            assert_eq!((job.state, job.ask, job.forgone), (JobState::Claimed, 400, 100));
            // Claimed at block 1: submit within submit_blocks (10).
            assert_eq!(job.submit_by, 11);
            assert_eq!(m.pledge_of(a.charlie).unwrap().locked, 1_000);
            as_(a.django, 0);
            assert_eq!(m.claim(id), Err(Error::WrongState));
            set_block_number::<Env>(21);
            assert_eq!(m.claim(big), Err(Error::DeadlinePassed));
            let ev: Vec<events::JobClaimed> = events_of(events::JOB_CLAIMED_TOPIC);
            assert_eq!(
                ev,
                vec![events::JobClaimed { job: id, executor: *a.charlie.as_ref(), ask: 400 }]
            );
        }

        #[ink::test]
        fn submit_result_is_for_the_executor_before_its_submit_by_block() {
            let a = acc();
            let mut m = setup();
            as_(a.charlie, 0);
            assert_eq!(m.submit_result(1, commitment(1), last()), Err(Error::UnknownJob));
            as_(a.bob, 1_000);
            let id = m.post_job(spec(50)).unwrap();
            as_(a.charlie, 0);
            assert_eq!(m.submit_result(id, commitment(1), last()), Err(Error::WrongState));
            m.claim(id).unwrap();
            as_(a.django, 0);
            assert_eq!(m.submit_result(id, commitment(1), last()), Err(Error::NotExecutor));
            as_(a.charlie, 0);
            let bad = Commitment { output_cid: b"not a cid!".to_vec(), ..commitment(1) };
            assert_eq!(m.submit_result(id, bad, last()), Err(Error::BadCid));
            assert_eq!(
                m.submit_result(id, commitment(MAX_SCORE + 1), last()),
                Err(Error::BadScore)
            );
            set_block_number::<Env>(12);
            assert_eq!(m.submit_result(id, commitment(1), last()), Err(Error::DeadlinePassed));
            set_block_number::<Env>(11);
            // A training result needs its last state proven: not missing, not with another
            // loss than the state holds, not another trace's.
            assert_eq!(m.submit_result(id, commitment(5), None), Err(Error::BadFinalState));
            let lying = Commitment { loss: 1, ..commitment(5) };
            assert_eq!(m.submit_result(id, lying, last()), Err(Error::BadFinalState));
            let elsewhere = Commitment { trace_root: [3; 32], ..commitment(5) };
            assert_eq!(m.submit_result(id, elsewhere, last()), Err(Error::BadFinalState));
            m.submit_result(id, commitment(5), last()).unwrap();
            assert_eq!(m.job(id).unwrap().state, JobState::Submitted);
            assert_eq!(m.result(id), Some(commitment(5)));
            let ev: Vec<events::ResultSubmitted> = events_of(events::RESULT_SUBMITTED_TOPIC);
            assert_eq!(ev, vec![events::ResultSubmitted { job: id, commitment: commitment(5) }]);
        }

        /// Spot checks, deliverable 1: a bonded sign-up before the result exists (not by the
        /// poster, not twice, not by the executor, at most 16), then a reveal in the window
        /// whose steps root must be the executor's committed leaf for the segment the secret
        /// draws: a copied or wrong root, another account's secret, a second reveal all fail.
        #[ink::test]
        fn spot_checks_need_a_bonded_sign_up_and_the_replayed_steps_root() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 1_000);
            let id = m.post_job(spec(50)).unwrap();
            assert_eq!(sign_up(&mut m, 99, a.django), Err(Error::UnknownJob));
            assert_eq!(sign_up(&mut m, id, a.bob), Err(Error::NotPledged));
            as_(a.bob, 5_000);
            m.pledge(GPU, 10, 0).unwrap();
            assert_eq!(sign_up(&mut m, id, a.bob), Err(Error::ConflictOfInterest));
            // A 1-planck pledge is not a bond: free stake must cover the job's collateral.
            as_(a.alice, 1);
            m.pledge(GPU, 1, 0).unwrap();
            assert_eq!(sign_up(&mut m, id, a.alice), Err(Error::InsufficientFreeStake));
            assert_eq!(sign_up(&mut m, id, a.django), Ok(0));
            assert_eq!(sign_up(&mut m, id, a.django), Err(Error::AlreadyActed));
            assert_eq!(m.pledge_of(a.django).unwrap().locked, 1_000);
            // A signed-up verifier may not execute the job it checks.
            as_(a.django, 0);
            assert_eq!(m.claim(id), Err(Error::ConflictOfInterest));
            assert_eq!(sign_up(&mut m, id, a.eve), Ok(1));
            assert_eq!(attest(&mut m, id, a.eve), Err(Error::WrongState), "no result yet");
            as_(a.charlie, 0);
            m.claim(id).unwrap();
            set_block_number::<Env>(2);
            m.submit_result(id, commitment(1), last()).unwrap();
            assert_eq!(sign_up(&mut m, id, a.alice), Err(Error::SignUpClosed));
            // Reveals: only the signed-up account, with its own secret and its own segment's
            // steps root.
            assert_eq!(attest(&mut m, id, a.alice), Err(Error::NotSignedUp));
            as_(a.django, 0);
            let honest = check(&m, id, a.django);
            assert_eq!(m.attest(id, secret(a.eve), honest.clone()), Err(Error::BadReveal));
            let checks = honest.clone().unwrap();
            let (root, path) = checks[0].clone();
            let other = if root == STEPS[0] { STEPS[1] } else { STEPS[0] };
            let with_first = |first: [u8; 32]| {
                let mut c = checks.clone();
                c[0] = (first, path.clone());
                Some(c)
            };
            assert_eq!(m.attest(id, secret(a.django), with_first(other)), Err(Error::BadCheck));
            let leaf = spotcheck::leaf::<HostSha>(&root);
            assert_eq!(
                m.attest(id, secret(a.django), with_first(leaf)),
                Err(Error::BadCheck),
                "the published leaf is not the steps root"
            );
            // Every check is of a segment replayed: the drawn one alone does not attest when it
            // is not the last (whose end is h_n), nor checks in another order, nor extra ones.
            let draw = spotcheck::draw::<HostSha>(&secret(a.django), &trace_root());
            assert_eq!(spotcheck::segment(&draw, 2), Some(0), "django draws the first of 2");
            assert_eq!(checks.len(), 2);
            let reordered = Some(vec![checks[1].clone(), checks[0].clone()]);
            let longer = Some([checks.clone(), checks.clone()].concat());
            for c in [Some(vec![checks[0].clone()]), Some(vec![]), reordered, longer] {
                assert_eq!(m.attest(id, secret(a.django), c), Err(Error::BadCheck));
            }
            m.attest(id, secret(a.django), honest.clone()).unwrap();
            assert_eq!(m.attest(id, secret(a.django), honest), Err(Error::AlreadyActed));
            assert_eq!(m.challenge(id, [9; 32], vec![], [8; 32], vec![]), Err(Error::AlreadyActed));
            let ev: Vec<events::Attested> = events_of(events::ATTESTED_TOPIC);
            assert_eq!(
                ev,
                vec![events::Attested {
                    job: id,
                    verifier: *a.django.as_ref(),
                    segment: spotcheck::segment(&draw, 2)
                }]
            );
            let ev: Vec<events::SignedUp> = events_of(events::SIGNED_UP_TOPIC);
            assert_eq!(ev.len(), 2);
            assert_eq!(m.job(id).unwrap().attestations, 1);
            // After the window nothing is revealed.
            set_block_number::<Env>(8);
            assert_eq!(attest(&mut m, id, a.eve), Err(Error::WindowClosed));
            assert_eq!(m.challenge(id, [9; 32], vec![], [8; 32], vec![]), Err(Error::WindowClosed));
            // Sign-ups are bounded: the 17th is refused.
            as_(a.bob, 1_000);
            let busy = m.post_job(spec(50)).unwrap();
            for k in 0..16u8 {
                let v = AccountId::from([200 + k; 32]);
                as_(v, 5_000);
                m.pledge(GPU, 10, 0).unwrap();
                assert_eq!(sign_up(&mut m, busy, v), Ok(k));
            }
            assert_eq!(sign_up(&mut m, busy, a.eve), Err(Error::SignUpsFull));
        }

        /// Fees go to the `verifiers` attesters with the lowest draws, not to the first to sign
        /// up; a verifier that revealed without a check gets its bond back and no fee; one that
        /// never revealed loses its bond, half to the poster. Balances to the unit.
        #[ink::test]
        fn the_lowest_draws_are_paid_and_a_silent_verifier_loses_its_bond() {
            let a = acc();
            let mut m = setup();
            as_(a.frank, 5_000);
            m.pledge(GPU, 10, 0).unwrap();
            as_(a.alice, 5_000);
            m.pledge(GPU, 10, 0).unwrap();
            as_(a.bob, 1_000);
            let id = m.post_job(spec(50)).unwrap();
            let verifiers = [a.django, a.eve, a.frank, a.alice];
            for v in verifiers {
                sign_up(&mut m, id, v).unwrap();
            }
            as_(a.charlie, 0);
            m.claim(id).unwrap();
            m.submit_result(id, commitment(1), last()).unwrap();
            // django and eve check (the 2 fee slots), frank reveals without a check, alice
            // stays silent.
            for v in [a.django, a.eve] {
                attest(&mut m, id, v).unwrap();
            }
            as_(a.frank, 0);
            m.attest(id, secret(a.frank), None).unwrap();
            let ev: Vec<events::Attested> = events_of(events::ATTESTED_TOPIC);
            assert_eq!(ev.last().unwrap().segment, None);
            set_block_number::<Env>(8);
            m.finalize(id).unwrap();
            assert!(m.job(id).unwrap().verified);
            for v in [a.django, a.eve, a.frank] {
                let p = m.pledge_of(v).unwrap();
                assert_eq!((p.stake, p.locked), (5_000, 0));
            }
            let p = m.pledge_of(a.alice).unwrap();
            assert_eq!((p.stake, p.locked), (4_000, 0));
            assert_eq!((m.balance_of(a.django), m.balance_of(a.eve)), (10, 10));
            assert_eq!(
                m.balance_of(a.frank),
                500,
                "frank is also the treasury: half of alice's bond"
            );
            // Refund 1 000 - 400 - 100 (units) - 20 fees, plus half of alice's bond.
            assert_eq!(m.balance_of(a.bob), 480 + 500);
            // alice's sign-up is hers to free, as she paid for it; she can, though slashed.
            as_(a.alice, 0);
            m.release(id).unwrap();
            assert_eq!(m.sign_ups.get((id, 3)), None, "alice's record freed");
            assert!(m.sign_ups.get((id, 0)).is_some(), "django's is his to free");

            // Three checks for two slots: the two lowest draws are paid, whoever came first.
            as_(a.bob, 1_000);
            let id = m.post_job(spec(50)).unwrap();
            for v in [a.django, a.eve, a.frank] {
                sign_up(&mut m, id, v).unwrap();
            }
            as_(a.charlie, 0);
            m.claim(id).unwrap();
            m.submit_result(id, commitment(1), last()).unwrap();
            for v in [a.django, a.eve, a.frank] {
                attest(&mut m, id, v).unwrap();
            }
            let draws: Vec<[u8; 32]> = [a.django, a.eve, a.frank]
                .iter()
                .map(|v| spotcheck::draw::<HostSha>(&secret(*v), &trace_root()))
                .collect();
            let admitted = spotcheck::admitted(&draws, 2);
            let before = [a.django, a.eve, a.frank].map(|v| m.balance_of(v));
            set_block_number::<Env>(20);
            m.finalize(id).unwrap();
            for (k, v) in [a.django, a.eve, a.frank].iter().enumerate() {
                let fee = if admitted.contains(&k) { 10 } else { 0 };
                assert_eq!(m.balance_of(*v), before[k] + fee, "verifier {k}");
                assert_eq!(m.pledge_of(*v).unwrap().locked, 0);
            }
        }

        /// Finding 1: an unverified job mints no units; the forgone value is paid in money
        /// out of the escrow the poster put up.
        #[ink::test]
        fn an_unverified_job_pays_the_forgone_value_in_money_and_credits_no_units() {
            let a = acc();
            let (mut m, id) = submitted();
            attest(&mut m, id, a.django).unwrap();
            // eve's replay did not match: she reveals without a check (bond back, no fee).
            as_(a.eve, 0);
            m.attest(id, secret(a.eve), None).unwrap();
            assert_eq!(m.finalize(99), Err(Error::UnknownJob));
            set_block_number::<Env>(7);
            assert_eq!(m.finalize(id), Err(Error::WindowOpen));
            set_block_number::<Env>(8);
            m.finalize(id).unwrap();
            // One attestation of the two asked for: not verified. Ask 400 + forgone 100 in
            // money, one fee of 10, refund 490.
            assert_eq!(m.balance_of(a.charlie), 500);
            assert_eq!(m.balance_of(a.django), 10);
            assert_eq!(m.balance_of(a.bob), 490);
            assert_eq!(m.pledge_of(a.charlie).unwrap().locked, 0);
            assert_eq!(m.pledge_of(a.charlie).unwrap().stake, 5_000);
            let e = m.pledge_of(a.eve).unwrap();
            assert_eq!((e.stake, e.locked, m.balance_of(a.eve)), (5_000, 0, 0));
            SPLITTER_CALLS.with(|c| assert!(c.borrow().is_empty()));
            let job = m.job(id).unwrap();
            assert_eq!((job.state, job.verified), (JobState::Finalized, false));
            assert_eq!(m.job_output(id), None);
            assert_eq!(m.finalize(id), Err(Error::WrongState));
            let ev: Vec<events::JobFinalized> = events_of(events::JOB_FINALIZED_TOPIC);
            assert_eq!(
                ev,
                vec![events::JobFinalized {
                    job: id,
                    executor_paid: 500,
                    verifiers_paid: 10,
                    refund: 490,
                    units_credited: 0,
                    verified: false
                }]
            );
            // Pull payment.
            as_(a.charlie, 0);
            let before = get_account_balance::<Env>(a.charlie).unwrap();
            assert_eq!(m.withdraw(), Ok(500));
            assert_eq!(get_account_balance::<Env>(a.charlie).unwrap(), before + 500);
            assert_eq!(m.withdraw(), Err(Error::NothingToWithdraw));
        }

        #[ink::test]
        fn a_verified_job_credits_the_forgone_value_as_units_and_has_an_output() {
            let a = acc();
            let (mut m, id) = submitted();
            attest_all(&mut m, id);
            set_block_number::<Env>(8);
            m.finalize(id).unwrap();
            assert!(m.job(id).unwrap().verified);
            SPLITTER_CALLS.with(|c| assert_eq!(*c.borrow(), vec![Call::Credit(7, a.charlie, 100)]));
            assert_eq!(
                m.job_output(id),
                Some(JobOutput {
                    poster: *a.bob.as_ref(),
                    artifact: 7,
                    output_cid: OUT.to_vec(),
                    base: None,
                })
            );
            assert_eq!(m.balance_of(a.charlie), 400);
            // The forgone 100 went with the units, as revenue of the artifact.
            assert_eq!(m.balance_of(a.bob), 1_000 - 400 - 100 - 20);
            // Each party frees its own records; a verified job keeps its spec and result (the
            // provenance of what it produced), so its executor has nothing to free.
            assert!(m.sign_ups.get((id, 0)).is_some());
            as_(a.django, 0);
            m.release(id).unwrap();
            assert_eq!((m.sign_ups.get((id, 0)), m.signed.get((id, a.django))), (None, None));
            as_(a.charlie, 0);
            assert_eq!(m.release(id), Err(Error::NothingToRelease));
            as_(a.bob, 0);
            m.release(id).unwrap();
            assert!(m.job_spec(id).is_some() && m.result(id).is_some());
            assert_eq!(m.job_terms(id), None);
            // Nothing of charlie's is live any more: withdrawing frees his ledger entry.
            as_(a.charlie, 0);
            assert_eq!(m.withdraw(), Ok(400));
            assert_eq!(m.balances.get(a.charlie), None);
        }

        /// Finding 1, the audit's attack: a 10^25 price with a 100 % discount on someone
        /// else's artifact. The poster may not credit units there, so there is no discount:
        /// the ask is the full price, which no reward covers.
        #[ink::test]
        fn units_cannot_be_minted_for_an_artifact_the_poster_does_not_own() {
            let a = acc();
            let mut m = setup();
            as_(a.eve, 0);
            m.pledge(GPU, 10u128.pow(25), BPS).unwrap();
            as_(a.eve, 1_000); // eve posts for bob's artifact 7
            let id = m.post_job(spec(50)).unwrap();
            assert!(!m.job(id).unwrap().joint_mining);
            sign_up(&mut m, id, a.charlie).unwrap();
            as_(a.alice, 5_000);
            m.pledge(GPU, 1, 0).unwrap();
            sign_up(&mut m, id, a.alice).unwrap();
            as_(a.eve, 0);
            // eve cannot claim her own job's role twice... her sybil django can, at price 0:
            assert_eq!(m.claim(id), Err(Error::PriceTooHigh));
            as_(a.django, 0);
            m.pledge(GPU, 0, BPS).unwrap();
            m.claim(id).unwrap();
            let job = m.job(id).unwrap();
            assert_eq!((job.ask, job.forgone), (0, 0));
            m.submit_result(id, commitment(1), last()).unwrap();
            attest(&mut m, id, a.charlie).unwrap();
            attest(&mut m, id, a.alice).unwrap();
            set_block_number::<Env>(7);
            m.finalize(id).unwrap();
            assert!(m.job(id).unwrap().verified);
            SPLITTER_CALLS.with(|c| assert!(c.borrow().is_empty()));
        }

        /// Finding 1: the owner with its own sybil executor mints at most the reference value
        /// of verified work: 50 units x reference price 10 = 500 units, whatever its price.
        #[ink::test]
        fn an_owner_with_a_sybil_executor_mints_at_most_the_reference_value() {
            let a = acc();
            let mut m = setup();
            as_(a.charlie, 0);
            m.pledge(GPU, 10u128.pow(25), BPS).unwrap();
            as_(a.bob, 1_000);
            let id = m.post_job(spec(50)).unwrap();
            sign_up_all(&mut m, id);
            as_(a.charlie, 0);
            // A huge own price only raises the ask: the discount covers the reference value.
            assert_eq!(m.claim(id), Err(Error::PriceTooHigh));
            m.pledge(GPU, 10, BPS).unwrap();
            m.claim(id).unwrap();
            let job = m.job(id).unwrap();
            assert_eq!((job.ask, job.forgone), (0, 500));
            m.submit_result(id, commitment(1), last()).unwrap();
            attest_all(&mut m, id);
            set_block_number::<Env>(7);
            m.finalize(id).unwrap();
            SPLITTER_CALLS.with(|c| assert_eq!(*c.borrow(), vec![Call::Credit(7, a.charlie, 500)]));
            // The units' value (500) went with them as revenue of the artifact: the poster paid
            // for them, the executor forwent its pay.
            assert_eq!(m.balance_of(a.bob), 1_000 - 500 - 20);
            assert_eq!(m.balance_of(a.charlie), 0);
        }

        /// Finding 2: a splitter that refuses the credit (saturated pool) never blocks
        /// settlement; the executor gets the forgone value in money.
        #[ink::test]
        fn a_refused_credit_never_blocks_settlement() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 1_000);
            let id = m.post_job(JobSpec { artifact: SATURATED, ..spec(50) }).unwrap();
            sign_up_all(&mut m, id);
            as_(a.charlie, 0);
            m.claim(id).unwrap();
            m.submit_result(id, commitment(1), last()).unwrap();
            attest_all(&mut m, id);
            set_block_number::<Env>(7);
            m.finalize(id).unwrap();
            assert_eq!(m.balance_of(a.charlie), 500);
            assert_eq!(m.balance_of(a.bob), 1_000 - 500 - 20);
            let ev: Vec<events::JobFinalized> = events_of(events::JOB_FINALIZED_TOPIC);
            assert_eq!((ev[0].units_credited, ev[0].verified), (0, true));
        }

        /// A poster the owner revoked (or a compute cut announced) after the job was posted:
        /// asked again at finalize, no units are credited and the executor is paid in money.
        #[ink::test]
        fn a_poster_revoked_before_finalize_credits_no_units() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 1_000);
            let id = m.post_job(spec(50)).unwrap();
            assert!(m.job(id).unwrap().joint_mining);
            sign_up_all(&mut m, id);
            as_(a.charlie, 0);
            m.claim(id).unwrap();
            m.submit_result(id, commitment(1), last()).unwrap();
            attest_all(&mut m, id);
            MAY_CREDIT.with(|c| c.borrow_mut().remove(&(7, a.bob)));
            set_block_number::<Env>(7);
            m.finalize(id).unwrap();
            SPLITTER_CALLS.with(|c| assert!(c.borrow().is_empty()));
            assert_eq!(m.balance_of(a.charlie), 500);
            assert_eq!(m.balance_of(a.bob), 1_000 - 500 - 20);
        }

        /// The mock dispute contract's next verdict.
        fn decide(verdict: Verdict, how: How) {
            VERDICT.with(|v| *v.borrow_mut() = Some((verdict, how)));
        }

        /// Bob's job, claimed by charlie, attested by django (bond 1 000 locked), challenged by
        /// eve (challenge 0, her spot-check sign-up's bond) at block 2; the mock dispute
        /// contract's verdict is `verdict`.
        fn challenged(verdict: Option<(Verdict, How)>) -> (Market, JobId) {
            let a = acc();
            let (mut m, id) = submitted();
            attest(&mut m, id, a.django).unwrap();
            for party in [a.charlie, a.bob] {
                as_(party, 0);
                let refused = m.challenge(id, [9; 32], vec![], [8; 32], vec![]);
                assert!(matches!(refused, Err(Error::ConflictOfInterest | Error::NotPledged)));
            }
            as_(a.eve, 0);
            assert_eq!(m.challenge(id, [9; 32], vec![], [8; 32], vec![]), Ok(0));
            assert_eq!(
                m.game_of(id, 0),
                Some(Challenge {
                    challenger: bytes(&a.eve),
                    game: 1,
                    settled: false,
                    accusation: None
                })
            );
            // eve signed up: her sign-up's bond is the game's, not locked twice.
            assert_eq!(m.pledge_of(a.eve).unwrap().locked, 1_000);
            assert_eq!(m.sign_ups.get((id, 1)).unwrap().check, Check::Challenged);
            assert_eq!(m.challenge(id, [9; 32], vec![], [8; 32], vec![]), Err(Error::AlreadyActed));
            let job = m.job(id).unwrap();
            assert_eq!((job.state, job.challenges, job.open_games), (JobState::Submitted, 1, 1));
            let ev: Vec<events::Challenged> = events_of(events::CHALLENGED_TOPIC);
            assert_eq!(
                ev,
                vec![events::Challenged {
                    job: id,
                    challenger: *a.eve.as_ref(),
                    index: 0,
                    game: 1
                }]
            );
            VERDICT.with(|v| *v.borrow_mut() = verdict);
            (m, id)
        }

        /// A game the challenger wins rejects the job: the executor's collateral is slashed,
        /// half (rounded up) to the challenger and the rest to the treasury; the poster gets
        /// its escrow back, the challenger its bond. The attester stands accused for the job's
        /// window: it may defend until then, and is slashed on the same terms when it does
        /// not. Every party frees its own records, the accusing game and its accusation only
        /// once no attester may defend against it.
        #[ink::test]
        fn a_game_the_challenger_wins_slashes_the_executor_and_accuses_its_attesters() {
            let a = acc();
            let (mut m, id) = challenged(None);
            // Undecided: nothing settles, and nothing finalizes or expires the job meanwhile.
            assert_eq!(m.settle_challenge(id, 0), Err(Error::NotDecided));
            assert_eq!(m.settle_challenge(id, 1), Err(Error::NoGame));
            assert_eq!(m.settle_attester(id, 0), Err(Error::NotAccused));
            set_block_number::<Env>(100);
            assert_eq!(m.finalize(id), Err(Error::GamesOpen));
            assert_eq!(m.expire(id), Err(Error::WrongState));
            decide(Verdict::Challenger, How::Replay);
            as_(a.frank, 0); // anyone
            m.settle_challenge(id, 0).unwrap();
            let job = m.job(id).unwrap();
            assert_eq!((job.state, job.open_games), (JobState::Rejected, 0));
            assert_eq!((job.accused, job.accusations), (1, 1));
            let accusation =
                Accusation { by: 0, challenger_right: true, until: 105, beaten: false };
            assert_eq!(m.accusation_of(id, 0), Some(accusation));
            assert_eq!(m.accusation_of(id, 1), None);
            let c = m.pledge_of(a.charlie).unwrap();
            assert_eq!((c.stake, c.locked), (4_000, 0));
            let d = m.pledge_of(a.django).unwrap();
            assert_eq!((d.stake, d.locked), (5_000, 1_000), "the attester's bond stays locked");
            assert_eq!(m.sign_ups.get((id, 0)).unwrap().check, Check::Accused { cleared: 0 });
            let live = |m: &Market, who| m.balances.get(who).map(|p: Payee| p.live);
            assert_eq!(live(&m, a.eve), Some(1), "the accuser stays live: half a bond may come");
            let e = m.pledge_of(a.eve).unwrap();
            assert_eq!((e.stake, e.locked), (5_000, 1_000), "her claim is staked while accusing");
            assert_eq!(
                (m.balance_of(a.eve), m.balance_of(a.frank), m.balance_of(a.bob)),
                (500, 500, 1_000)
            );
            assert_eq!(m.settle_challenge(id, 0), Err(Error::NoGame));
            assert_eq!(m.finalize(id), Err(Error::WrongState));
            // While it may defend: nobody settles it, it keeps its sign-up, and the accusing
            // game stays.
            set_block_number::<Env>(105);
            assert_eq!(m.settle_attester(id, 0), Err(Error::DefenceOpen));
            as_(a.django, 0);
            assert_eq!(m.release(id), Err(Error::NothingToRelease));
            // The spec, terms and result stay while the attester may defend: its worker reads
            // them.
            for party in [a.bob, a.charlie] {
                as_(party, 0);
                let _ = m.release(id); // charlie's empty ledger entry goes
            }
            assert!(
                m.job_spec(id).is_some() && m.job_terms(id).is_some() && m.result(id).is_some()
            );
            as_(a.eve, 0);
            m.release(id).unwrap(); // her sign-up only
            assert!(m.game_of(id, 0).is_some());
            set_block_number::<Env>(106);
            as_(a.django, 0);
            assert_eq!(m.defend(id, 0), Err(Error::DefenceClosed));
            assert_eq!(m.defend(id, 1), Err(Error::NotAccused));
            as_(a.frank, 0);
            m.settle_attester(id, 0).unwrap();
            let d = m.pledge_of(a.django).unwrap();
            assert_eq!((d.stake, d.locked), (4_000, 0));
            assert_eq!((m.balance_of(a.eve), m.balance_of(a.frank)), (1_000, 1_000));
            assert_eq!(m.settle_attester(id, 0), Err(Error::NotAccused));
            assert_eq!(m.job(id).unwrap().accused, 0);
            assert_eq!((live(&m, a.eve), live(&m, a.django)), (Some(1), Some(0)));
            let ev: Vec<events::AttestationSettled> = events_of(events::ATTESTATION_SETTLED_TOPIC);
            assert_eq!(
                ev,
                vec![events::AttestationSettled {
                    job: id,
                    verifier: *a.django.as_ref(),
                    upheld: false,
                    slashed: 1_000,
                    to_winner: 500,
                    to_treasury: 500
                }]
            );
            // Settling freed nothing (frank would be refunded deposits others paid): each
            // party frees its own records, once.
            assert!(m.game_of(id, 0).unwrap().settled);
            assert!(m.job_terms(id).is_some() && m.result(id).is_some());
            assert_eq!(m.release(id), Err(Error::NothingToRelease));
            as_(a.bob, 0);
            m.release(id).unwrap();
            assert_eq!((m.job_terms(id), m.job_spec(id)), (None, None));
            assert!(m.result(id).is_some());
            as_(a.charlie, 0);
            m.release(id).unwrap();
            assert_eq!(m.result(id), None);
            as_(a.django, 0);
            m.release(id).unwrap();
            assert_eq!((m.sign_ups.get((id, 0)), m.signed.get((id, a.django))), (None, None));
            assert_eq!(m.pledge_of(a.eve).unwrap().locked, 1_000, "staked until she releases");
            as_(a.eve, 0);
            m.release(id).unwrap();
            assert_eq!((m.game_of(id, 0), m.sign_ups.get((id, 1))), (None, None));
            assert_eq!(m.accusation_of(id, 0), None);
            assert_eq!(m.acted.get((id, a.eve)), None);
            let e = m.pledge_of(a.eve).unwrap();
            assert_eq!((e.stake, e.locked), (5_000, 0), "nobody beat her claim");
            assert_eq!(live(&m, a.eve), Some(0));
            for party in [a.bob, a.charlie, a.django, a.eve] {
                as_(party, 0);
                assert_eq!(m.release(id), Err(Error::NothingToRelease));
            }
            let ev: Vec<events::ChallengeResolved> = events_of(events::CHALLENGE_RESOLVED_TOPIC);
            assert_eq!(
                ev,
                vec![events::ChallengeResolved {
                    job: id,
                    index: 0,
                    executor_honest: false,
                    slashed: 1_000,
                    to_winner: 500,
                    to_treasury: 500
                }]
            );
        }

        /// An executor that throws its game to a challenger of its own (answers against its
        /// committed trace below level 1) cannot take its attester's bond: the attester defends
        /// in its own game against the same claim and, winning it, gets its bond back; only the
        /// thrower's collateral is gone. A defence lost is slashed, half to the challenger; lost
        /// with neither side right, all to the treasury. Only an accused attester defends, once.
        /// A defence won also beats the thrower's sybil: its claim's bond is slashed, half to
        /// the attester.
        #[ink::test]
        fn an_attester_defends_a_thrown_game_and_keeps_its_bond() {
            defended(Verdict::Executor, [5_000, 4_000], [500, 500, 1_000]);
        }

        #[ink::test]
        fn an_attester_that_loses_its_defence_pays_the_challenger() {
            defended(Verdict::Challenger, [4_000, 5_000], [0, 1_000, 1_000]);
        }

        #[ink::test]
        fn an_attester_whose_defence_neither_side_was_right_in_pays_the_treasury() {
            defended(Verdict::Neither, [4_000, 5_000], [0, 500, 1_500]);
        }

        /// The attester defends a game the executor lost by replay; its defence's verdict is
        /// `verdict`: the attester's and eve's (the challenger's) stakes then, and the
        /// attester's, eve's and the treasury's balances.
        fn defended(verdict: Verdict, stakes: [Balance; 2], balances: [Balance; 3]) {
            let a = acc();
            let (mut m, id) = challenged(Some((Verdict::Challenger, How::Replay)));
            as_(a.django, 0);
            assert_eq!(m.defend(id, 0), Err(Error::NotAccused), "not yet accused");
            m.settle_challenge(id, 0).unwrap();
            VERDICT.with(|v| *v.borrow_mut() = None); // the defence's game: undecided
            for stranger in [a.eve, a.frank, a.charlie] {
                as_(stranger, 0);
                assert_eq!(m.defend(id, 0), Err(Error::NotAccused));
            }
            as_(a.django, 0);
            assert_eq!(m.defend(id, 0), Ok(2));
            assert_eq!(m.defend(id, 0), Err(Error::AlreadyDefended), "once");
            assert_eq!(m.defence_of(id, 0, 0), Some(2));
            assert_eq!(m.sign_ups.get((id, 0)).unwrap().check, Check::Accused { cleared: 0 });
            let ev: Vec<events::Defended> = events_of(events::DEFENDED_TOPIC);
            let verifier = *a.django.as_ref();
            let defended = events::Defended { job: id, verifier, accusation: 0, game: 2 };
            assert_eq!(ev, vec![defended]);
            assert_eq!(m.settle_attester(id, 0), Err(Error::DefenceOpen));
            assert_eq!(m.release(id), Err(Error::NothingToRelease));
            GAME_VERDICTS.with(|g| g.borrow_mut().insert(2, (verdict, How::Replay)));
            as_(a.frank, 0);
            m.settle_attester(id, 0).unwrap();
            as_(a.eve, 0);
            m.release(id).unwrap(); // her claim's bond back, if no defence beat it
            let (d, e) = (m.pledge_of(a.django).unwrap(), m.pledge_of(a.eve).unwrap());
            assert_eq!([(d.stake, d.locked), (e.stake, e.locked)], stakes.map(|s| (s, 0)));
            let paid = [a.django, a.eve, a.frank].map(|who| m.balance_of(who));
            assert_eq!(paid, balances, "{verdict:?}");
            let beaten: Vec<events::ClaimBeaten> = events_of(events::CLAIM_BEATEN_TOPIC);
            assert_eq!(beaten.len(), usize::from(verdict == Verdict::Executor));
            let upheld = verdict == Verdict::Executor;
            assert_eq!(m.sign_ups.get((id, 0)).unwrap().check, Check::Settled { upheld });
            as_(a.django, 0);
            m.release(id).unwrap();
            assert_eq!((m.sign_ups.get((id, 0)), m.defence_of(id, 0, 0)), (None, None));
        }

        #[ink::test]
        fn a_game_the_executor_wins_slashes_the_challenger_and_the_result_stands() {
            let a = acc();
            let (mut m, id) = challenged(Some((Verdict::Executor, How::Replay)));
            set_block_number::<Env>(40);
            m.settle_challenge(id, 0).unwrap();
            let job = m.job(id).unwrap();
            assert_eq!((job.state, job.open_games, job.submitted_at), (JobState::Submitted, 0, 2));
            let e = m.pledge_of(a.eve).unwrap();
            assert_eq!((e.stake, e.locked), (4_000, 0));
            assert_eq!((m.balance_of(a.charlie), m.balance_of(a.frank)), (500, 500));
            m.finalize(id).unwrap();
            // Not verified (1 of 2 attestations): ask 400 + forgone 100 in money, on top.
            assert_eq!(m.balance_of(a.charlie), 500 + 500);
            assert_eq!(m.balance_of(a.django), 10);
            assert_eq!(m.pledge_of(a.django).unwrap().locked, 0);
            assert_eq!(m.pledge_of(a.charlie).unwrap().locked, 0);
        }

        #[ink::test]
        fn a_game_neither_side_was_right_in_slashes_the_executor_to_the_treasury() {
            let a = acc();
            let (mut m, id) = challenged(Some((Verdict::Neither, How::Replay)));
            m.settle_challenge(id, 0).unwrap();
            let job = m.job(id).unwrap();
            assert_eq!(job.state, JobState::Rejected);
            assert_eq!(m.accusation_of(id, 0).map(|a| a.challenger_right), Some(false));
            assert_eq!(m.pledge_of(a.eve).unwrap().locked, 1_000, "staked while accusing");
            assert_eq!((m.balance_of(a.eve), m.balance_of(a.frank)), (0, 1_000));
            // The attester does not defend: its bond too goes to the treasury.
            set_block_number::<Env>(8);
            m.settle_attester(id, 0).unwrap();
            assert_eq!((m.balance_of(a.eve), m.balance_of(a.frank)), (0, 2_000));
        }

        /// An executor that stops answering loses its game and its collateral, but proves
        /// nothing about the result its attester vouched for (else an executor could harvest
        /// its attesters' bonds through a sybil challenger that it lets win): the attester
        /// stands accused, defends the result and gets its bond back. No fee: the job is
        /// rejected.
        #[ink::test]
        fn a_silent_executor_loses_and_its_attester_defends_the_result() {
            let a = acc();
            let (mut m, id) = challenged(Some((Verdict::Challenger, How::Timeout)));
            m.settle_challenge(id, 0).unwrap();
            let job = m.job(id).unwrap();
            assert_eq!((job.state, job.accused, job.accusations), (JobState::Rejected, 1, 1));
            let c = m.pledge_of(a.charlie).unwrap();
            assert_eq!((c.stake, c.locked), (4_000, 0));
            as_(a.django, 0);
            assert_eq!(m.defend(id, 0), Ok(2));
            GAME_VERDICTS.with(|g| g.borrow_mut().insert(2, (Verdict::Executor, How::Timeout)));
            m.settle_attester(id, 0).unwrap();
            let d = m.pledge_of(a.django).unwrap();
            assert_eq!((d.stake, d.locked), (5_000, 0));
            // Eve's claim, beaten, pays half her bond to django, half to the treasury.
            assert_eq!(m.pledge_of(a.eve).unwrap().stake, 4_000);
            assert_eq!(
                (m.balance_of(a.eve), m.balance_of(a.frank), m.balance_of(a.django)),
                (500, 1_000, 500)
            );
        }

        /// A cheater cannot pick which claim its attesters answer. It throws its game to a
        /// challenger of its own (eve) before an honest challenger's (alice's) game ends; its
        /// attester (django) defends against eve's claim, which eve forfeits. Its bond still
        /// waits: alice's game, the executor lost too, is a second accusation, which django
        /// cannot beat. Alice gets half its bond.
        #[ink::test]
        fn a_cheater_that_throws_its_game_to_a_sybil_cannot_free_its_attester() {
            let a = acc();
            let (mut m, id) = challenged(None);
            as_(a.alice, 5_000);
            m.pledge(GPU, 1, 0).unwrap();
            assert_eq!(m.challenge(id, [9; 32], vec![], [8; 32], vec![]), Ok(1));
            decide(Verdict::Challenger, How::NextState);
            m.settle_challenge(id, 0).unwrap();
            VERDICT.with(|v| *v.borrow_mut() = None);
            as_(a.django, 0);
            assert_eq!(m.defend(id, 0), Ok(2));
            GAME_VERDICTS.with(|g| g.borrow_mut().insert(2, (Verdict::Executor, How::Timeout)));
            // Settling beats eve's claim (half her bond held for django), not the attester:
            // alice's game is still open.
            m.settle_attester(id, 0).unwrap();
            assert_eq!(m.sign_ups.get((id, 0)).unwrap().check, Check::Accused { cleared: 1 });
            assert_eq!((m.earned.get((id, 0)), m.balance_of(a.django)), (Some(500), 0));
            assert_eq!(m.accusation_of(id, 0).map(|a| a.beaten), Some(true));
            assert_eq!(m.settle_attester(id, 0), Err(Error::DefenceOpen), "alice's game is open");
            // Past eve's accusation's window: alice's game still holds the bond.
            set_block_number::<Env>(20);
            assert_eq!(m.settle_attester(id, 0), Err(Error::DefenceOpen));
            as_(a.frank, 0);
            decide(Verdict::Challenger, How::Replay);
            m.settle_challenge(id, 1).unwrap();
            VERDICT.with(|v| *v.borrow_mut() = None);
            let accusation = Accusation { by: 1, challenger_right: true, until: 25, beaten: false };
            assert_eq!(m.accusation_of(id, 1), Some(accusation));
            assert_eq!(m.job(id).unwrap().accusations, 2);
            as_(a.django, 0);
            assert_eq!(m.defend(id, 1), Ok(3));
            assert_eq!(m.settle_attester(id, 0), Err(Error::DefenceOpen));
            GAME_VERDICTS.with(|g| g.borrow_mut().insert(3, (Verdict::Challenger, How::Replay)));
            m.settle_attester(id, 0).unwrap();
            let d = m.pledge_of(a.django).unwrap();
            assert_eq!((d.stake, d.locked), (4_000, 0));
            // Eve: half the collateral, and her bond lost to django's defence; alice: her bond
            // back and half django's; the treasury (frank) the other halves and the half of
            // eve's bond django earned but forfeited with his own.
            assert_eq!((m.balance_of(a.eve), m.balance_of(a.alice)), (500, 500));
            assert_eq!((m.balance_of(a.django), m.earned.get((id, 0))), (0, None));
            let (eve, alice) = (m.pledge_of(a.eve).unwrap(), m.pledge_of(a.alice).unwrap());
            let staked = [(eve.stake, eve.locked), (alice.stake, alice.locked)];
            assert_eq!(staked, [(4_000, 0), (5_000, 1_000)], "alice's claim: until she releases");
            assert_eq!(m.balance_of(a.frank), 2_000);
            // Django frees both defences; each accuser its game and accusation (alice's bond
            // comes back then).
            m.release(id).unwrap();
            assert_eq!((m.defence_of(id, 0, 0), m.defence_of(id, 0, 1)), (None, None));
            for (who, k) in [(a.eve, 0), (a.alice, 1)] {
                as_(who, 0);
                m.release(id).unwrap();
                assert_eq!((m.game_of(id, k), m.accusation_of(id, k)), (None, None));
            }
            let alice = m.pledge_of(a.alice).unwrap();
            assert_eq!((alice.stake, alice.locked), (5_000, 0));
            let live = |m: &Market, who| m.balances.get(who).map(|p: Payee| p.live);
            // Django was paid nothing: he has no ledger entry at all.
            assert_eq!(
                (live(&m, a.eve), live(&m, a.alice), live(&m, a.django)),
                (Some(0), Some(0), None)
            );
        }

        /// An honest attester beats every accusation, however many games its executor throws:
        /// its bond comes back once the last game has ended and each defence is won, and not
        /// before.
        #[ink::test]
        fn an_honest_attester_beats_every_accusation_and_keeps_its_bond() {
            let a = acc();
            let (mut m, id) = challenged(None);
            as_(a.alice, 5_000);
            m.pledge(GPU, 1, 0).unwrap();
            m.challenge(id, [9; 32], vec![], [8; 32], vec![]).unwrap();
            decide(Verdict::Challenger, How::Timeout);
            m.settle_challenge(id, 0).unwrap();
            m.settle_challenge(id, 1).unwrap();
            VERDICT.with(|v| *v.borrow_mut() = None);
            as_(a.django, 0);
            assert_eq!((m.defend(id, 0), m.defend(id, 1)), (Ok(2), Ok(3)));
            GAME_VERDICTS.with(|g| g.borrow_mut().insert(2, (Verdict::Executor, How::Replay)));
            m.settle_attester(id, 0).unwrap(); // beats eve's claim
            assert_eq!(m.settle_attester(id, 0), Err(Error::DefenceOpen), "one defence is played");
            GAME_VERDICTS.with(|g| g.borrow_mut().insert(3, (Verdict::Executor, How::Timeout)));
            set_block_number::<Env>(50);
            m.settle_attester(id, 0).unwrap();
            let d = m.pledge_of(a.django).unwrap();
            assert_eq!((d.stake, d.locked), (5_000, 0));
            assert_eq!(m.sign_ups.get((id, 0)).unwrap().check, Check::Settled { upheld: true });
            // Both thrown claims beaten: half of each bond to django, half to the treasury.
            assert_eq!(
                (m.balance_of(a.eve), m.balance_of(a.alice), m.balance_of(a.frank)),
                (500, 0, 1_500)
            );
            assert_eq!(m.balance_of(a.django), 1_000);
            for sybil in [a.eve, a.alice] {
                let p = m.pledge_of(sybil).unwrap();
                assert_eq!((p.stake, p.locked), (4_000, 0));
            }
            assert_eq!(m.settle_attester(id, 0), Err(Error::NotAccused));
        }

        /// Many challengers: each plays its own game at once. A liar's loss neither ends the
        /// job nor blocks the honest game; the first game the executor loses rejects the job;
        /// games settled afterwards return a right challenger's bond and slash a wrong one's to
        /// the treasury (the executor, proven wrong, gets nothing). Balances to the unit.
        #[ink::test]
        fn many_challengers_play_side_by_side() {
            let a = acc();
            let (mut m, id) = challenged(None);
            as_(a.alice, 5_000);
            m.pledge(GPU, 1, 0).unwrap();
            assert_eq!(m.challenge(id, [9; 32], vec![], [8; 32], vec![]), Ok(1));
            as_(a.frank, 5_000);
            m.pledge(GPU, 1, 0).unwrap();
            assert_eq!(m.challenge(id, [9; 32], vec![], [8; 32], vec![]), Ok(2));
            as_(a.bob, 5_000);
            m.pledge(GPU, 1, 0).unwrap();
            assert_eq!(
                m.challenge(id, [9; 32], vec![], [8; 32], vec![]),
                Err(Error::ConflictOfInterest),
                "the poster cannot challenge its own job"
            );
            assert_eq!(m.job(id).unwrap().open_games, 3);
            // Alice lied: she loses her game; the job stands, its other games go on.
            decide(Verdict::Executor, How::Replay);
            m.settle_challenge(id, 1).unwrap();
            assert_eq!(m.job(id).unwrap().state, JobState::Submitted);
            assert_eq!(m.pledge_of(a.alice).unwrap().stake, 4_000);
            assert_eq!((m.balance_of(a.charlie), m.balance_of(a.frank)), (500, 500));
            set_block_number::<Env>(8);
            assert_eq!(m.finalize(id), Err(Error::GamesOpen));
            // Eve proves the executor wrong: rejected.
            decide(Verdict::Challenger, How::Replay);
            m.settle_challenge(id, 0).unwrap();
            assert_eq!(m.job(id).unwrap().state, JobState::Rejected);
            // Frank was right too, later: an accusation too, his bond staked by it until the
            // attester is settled; nothing left to pay him.
            m.settle_challenge(id, 2).unwrap();
            let f = m.pledge_of(a.frank).unwrap();
            assert_eq!((f.stake, f.locked), (5_000, 1_000));
            let job = m.job(id).unwrap();
            assert_eq!((job.challenges, job.open_games), (3, 0));
            // The attester does not defend.
            set_block_number::<Env>(14);
            m.settle_attester(id, 0).unwrap();
            // Alice's half went to the executor before it was proven wrong; eve got half of the
            // executor's collateral and of the attester's bond; the treasury the rest.
            assert_eq!(m.balance_of(a.charlie), 500);
            assert_eq!(m.balance_of(a.eve), 1_000);
            assert_eq!(m.balance_of(a.frank), 500 + 1_000);
            assert_eq!(m.balance_of(a.bob), 1_000);
            // The accusers' claims come back as they release them.
            for accuser in [a.eve, a.frank] {
                as_(accuser, 0);
                m.release(id).unwrap();
            }
            for p in [a.charlie, a.django, a.eve, a.alice, a.frank] {
                assert_eq!(m.pledge_of(p).unwrap().locked, 0, "nothing stays locked");
            }
        }

        /// An output game is a challenge like any other: bonded, settled on its verdict,
        /// side by side with games about the trace; a question about something the package
        /// cannot have is refused and locks nothing.
        #[ink::test]
        fn an_output_challenge_is_bonded_and_settled_like_a_game() {
            let a = acc();
            let (mut m, id) = challenged(None);
            as_(a.alice, 5_000);
            m.pledge(GPU, 1, 0).unwrap();
            let chunks = game_spec().output.chunks() as u32;
            for beyond in [Question::Header(1), Question::Chunk(chunks)] {
                assert_eq!(m.challenge_output(id, beyond), Err(Error::DisputeRefused));
            }
            assert_eq!(m.pledge_of(a.alice).unwrap().locked, 0);
            assert_eq!(m.challenge_output(id, Question::Chunk(1)), Ok(1));
            assert_eq!(m.pledge_of(a.alice).unwrap().locked, 1_000);
            assert_eq!(
                m.challenge_output(id, Question::Listing),
                Err(Error::AlreadyActed),
                "one challenge an account"
            );
            // The executor proves the chunk: Alice's bond is slashed, half to the executor.
            decide(Verdict::Executor, How::Proven);
            m.settle_challenge(id, 1).unwrap();
            assert_eq!(m.job(id).unwrap().state, JobState::Submitted);
            assert_eq!(m.pledge_of(a.alice).unwrap().stake, 4_000);
            assert_eq!(m.balance_of(a.charlie), 500);
            // Frank asks for the listing and the executor cannot prove it: rejected.
            as_(a.frank, 5_000);
            m.pledge(GPU, 1, 0).unwrap();
            let before = m.balance_of(a.frank);
            assert_eq!(m.challenge_output(id, Question::Listing), Ok(2));
            decide(Verdict::Challenger, How::Timeout);
            m.settle_challenge(id, 2).unwrap();
            assert_eq!(m.job(id).unwrap().state, JobState::Rejected);
            assert_eq!(m.balance_of(a.frank) - before, 1_000, "half the executor's collateral");
        }

        /// An initial game (about the job's `h_0`) is bonded and settled like any game: one
        /// the executor wins slashes the challenger's bond, one it loses (its header or a
        /// chunk not the seed's) rejects the job with half the collateral to the challenger.
        #[ink::test]
        fn an_initial_challenge_is_bonded_and_settled_like_a_game() {
            let a = acc();
            let (mut m, id) = challenged(None);
            as_(a.alice, 5_000);
            m.pledge(GPU, 1, 0).unwrap();
            assert_eq!(m.challenge_initial(id), Ok(1));
            assert_eq!(m.pledge_of(a.alice).unwrap().locked, 1_000);
            assert_eq!(m.challenge_initial(id), Err(Error::AlreadyActed), "one an account");
            decide(Verdict::Executor, How::Initial);
            m.settle_challenge(id, 1).unwrap();
            assert_eq!(m.job(id).unwrap().state, JobState::Submitted);
            assert_eq!(m.pledge_of(a.alice).unwrap().stake, 4_000);
            assert_eq!(m.balance_of(a.charlie), 500);
            as_(a.frank, 5_000);
            m.pledge(GPU, 1, 0).unwrap();
            let before = m.balance_of(a.frank);
            assert_eq!(m.challenge_initial(id), Ok(2));
            decide(Verdict::Challenger, How::Initial);
            m.settle_challenge(id, 2).unwrap();
            assert_eq!(m.job(id).unwrap().state, JobState::Rejected);
            assert_eq!(m.balance_of(a.frank) - before, 1_000, "half the executor's collateral");
            // A rejected job takes no more challenges.
            as_(AccountId::from([50; 32]), 5_000);
            m.pledge(GPU, 1, 0).unwrap();
            assert_eq!(m.challenge_initial(id), Err(Error::WrongState));
        }

        /// However many games the executor loses, one `settle_attester` call goes through at
        /// most `SETTLE_STEP` accusations (its gas stays bounded); the next goes on from there.
        #[ink::test]
        fn settling_goes_through_a_bounded_number_of_accusations_a_call() {
            let a = acc();
            let (mut m, id) = challenged(None);
            let sybils: Vec<AccountId> = (0..10u8).map(|i| AccountId::from([40 + i; 32])).collect();
            for (i, sybil) in sybils.iter().enumerate() {
                as_(*sybil, 5_000);
                m.pledge(GPU, 1, 0).unwrap();
                assert_eq!(m.challenge(id, [9; 32], vec![], [8; 32], vec![]), Ok(i as u16 + 1));
            }
            decide(Verdict::Challenger, How::Timeout);
            for index in 0..=10 {
                m.settle_challenge(id, index).unwrap();
            }
            VERDICT.with(|v| *v.borrow_mut() = None);
            assert_eq!(m.job(id).unwrap().accusations, 11);
            as_(a.django, 0);
            for k in 0..11 {
                let game = m.defend(id, k).unwrap();
                GAME_VERDICTS
                    .with(|g| g.borrow_mut().insert(game, (Verdict::Executor, How::Timeout)));
            }
            m.settle_attester(id, 0).unwrap();
            let cleared = Check::Accused { cleared: SETTLE_STEP };
            assert_eq!(m.sign_ups.get((id, 0)).unwrap().check, cleared);
            m.settle_attester(id, 0).unwrap();
            assert_eq!(m.sign_ups.get((id, 0)).unwrap().check, Check::Settled { upheld: true });
            // Eleven claims beaten: half of each bond to django.
            assert_eq!(m.balance_of(a.django), 11 * 500);
            assert_eq!(m.pledge_of(a.django).unwrap().locked, 0);
            let beaten: Vec<events::ClaimBeaten> = events_of(events::CLAIM_BEATEN_TOPIC);
            assert_eq!(beaten.len(), 11);
            // Django frees its eleven defence games, `SETTLE_STEP` a call.
            m.release(id).unwrap();
            assert!(m.sign_ups.get((id, 0)).is_some(), "three defences left");
            m.release(id).unwrap();
            assert_eq!((m.sign_ups.get((id, 0)), m.defence_of(id, 0, 10)), (None, None));
        }

        /// A settled attester's `release` goes through at most `SETTLE_STEP` accusations a
        /// call from where the last one stopped, whether it defended them or not (however many
        /// games were thrown, its gas stays bounded and its sign-up can always go), and stops
        /// at a defence still being played.
        #[ink::test]
        fn releasing_goes_through_a_bounded_number_of_accusations_a_call() {
            let a = acc();
            let (mut m, id) = challenged(None);
            let sybils: Vec<AccountId> = (0..10u8).map(|i| AccountId::from([40 + i; 32])).collect();
            for sybil in &sybils {
                as_(*sybil, 5_000);
                m.pledge(GPU, 1, 0).unwrap();
                m.challenge(id, [9; 32], vec![], [8; 32], vec![]).unwrap();
            }
            decide(Verdict::Challenger, How::Timeout);
            for index in 0..=10 {
                m.settle_challenge(id, index).unwrap();
            }
            VERDICT.with(|v| *v.borrow_mut() = None);
            as_(a.django, 0);
            let played = m.defend(id, 9).unwrap();
            set_block_number::<Env>(1_000);
            as_(a.frank, 0);
            m.settle_attester(id, 0).unwrap();
            assert_eq!(m.sign_ups.get((id, 0)).unwrap().check, Check::Settled { upheld: false });
            // Eve's sign-up (her challenge's) never had a defence: it goes in one call.
            as_(a.eve, 0);
            m.release(id).unwrap();
            assert_eq!((m.sign_ups.get((id, 1)), m.freed_through.get((id, 1))), (None, None));
            as_(a.django, 0);
            m.release(id).unwrap();
            assert_eq!(m.freed_through.get((id, 0)), Some(SETTLE_STEP));
            m.release(id).unwrap();
            assert_eq!(m.freed_through.get((id, 0)), Some(9), "stopped at the defence in play");
            assert_eq!(m.release(id), Err(Error::NothingToRelease));
            assert_eq!(m.defence_of(id, 0, 9), Some(played));
            GAME_VERDICTS
                .with(|g| g.borrow_mut().insert(played, (Verdict::Executor, How::Timeout)));
            m.release(id).unwrap();
            assert_eq!((m.sign_ups.get((id, 0)), m.defence_of(id, 0, 9)), (None, None));
            assert_eq!(m.freed_through.get((id, 0)), None, "its cursor goes too");
        }

        /// A wrong challenger settled after the job was rejected loses its bond to the
        /// treasury, not to the executor proven wrong.
        #[ink::test]
        fn a_liar_settled_after_the_rejection_pays_the_treasury() {
            let a = acc();
            let (mut m, id) = challenged(None);
            as_(a.alice, 5_000);
            m.pledge(GPU, 1, 0).unwrap();
            m.challenge(id, [9; 32], vec![], [8; 32], vec![]).unwrap();
            decide(Verdict::Challenger, How::Replay);
            m.settle_challenge(id, 0).unwrap();
            decide(Verdict::Executor, How::Replay);
            m.settle_challenge(id, 1).unwrap();
            assert_eq!(m.pledge_of(a.alice).unwrap().stake, 4_000);
            // Half the executor's collateral and all of alice's bond to the treasury.
            assert_eq!((m.balance_of(a.charlie), m.balance_of(a.frank)), (0, 500 + 1_000));
        }

        /// Every training job names a game whose longest play fits the market's challenge
        /// blocks; an evaluation job names none and cannot be challenged (yet).
        #[ink::test]
        fn every_training_job_has_a_bounded_game_and_only_training_jobs_are_challenged() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 1_000);
            assert_eq!(game_spec().longest(), Some(PARAMS.challenge_blocks));
            for bad in [
                None,
                Some(GameSpec { move_blocks: 0, ..game_spec() }),
                // Its longest game outlasts the market's 100 challenge blocks.
                Some(GameSpec { move_blocks: 2, ..game_spec() }),
            ] {
                assert_eq!(m.post_job(JobSpec { game: bad, ..spec(50) }), Err(Error::BadGame));
            }
            let eval_with_game = JobSpec { game: Some(game_spec()), ..eval(None, 20) };
            assert_eq!(m.post_job(eval_with_game), Err(Error::BadGame));
            let e = m.post_job(eval(None, 20)).unwrap();
            as_(a.charlie, 0);
            m.claim(e).unwrap();
            m.submit_result(e, eval_commitment(1), None).unwrap();
            as_(a.eve, 0);
            assert_eq!(m.challenge(e, [9; 32], vec![], [8; 32], vec![]), Err(Error::NoGame));
            assert_eq!(m.pledge_of(a.eve).unwrap().locked, 0);
        }

        /// Finding 9: a claim cannot be held hostage: past submit-by, anyone reopens the job,
        /// the no-show's collateral is slashed, and an honest provider can take it.
        #[ink::test]
        fn a_no_show_is_slashed_and_the_job_reopens() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 1_000);
            let id = m.post_job(JobSpec { deadline: 30, ..spec(50) }).unwrap();
            as_(a.charlie, 0);
            m.claim(id).unwrap(); // submit by block 11
            set_block_number::<Env>(11);
            as_(a.frank, 0);
            assert_eq!(m.expire(id), Err(Error::DeadlineNotReached));
            set_block_number::<Env>(12);
            m.expire(id).unwrap();
            let job = m.job(id).unwrap();
            assert_eq!((job.state, job.executor, job.ask), (JobState::Open, None, 0));
            // 1 000 collateral: 500 to the poster, 500 to the treasury.
            let c = m.pledge_of(a.charlie).unwrap();
            assert_eq!((c.stake, c.locked), (4_000, 0));
            assert_eq!((m.balance_of(a.bob), m.balance_of(a.frank)), (500, 500));
            // The no-show has nothing left to settle: its ledger entry goes when it withdraws.
            assert_eq!(m.balances.get(a.charlie), Some(Payee { owed: 0, live: 0 }));
            let ev: Vec<events::JobReopened> = events_of(events::JOB_REOPENED_TOPIC);
            assert_eq!(
                ev,
                vec![events::JobReopened { job: id, no_show: *a.charlie.as_ref(), slashed: 1_000 }]
            );
            as_(a.django, 0);
            m.claim(id).unwrap();
            let job = m.job(id).unwrap();
            assert_eq!((job.submit_by, job.ask, job.forgone), (22, 500, 0));
            m.submit_result(id, commitment(1), last()).unwrap();
            // Claimed again and not delivered past the deadline: slashed and expired.
            as_(a.bob, 1_000);
            let late = m.post_job(JobSpec { deadline: 15, ..spec(50) }).unwrap();
            as_(a.eve, 0);
            m.claim(late).unwrap();
            assert_eq!(m.job(late).unwrap().submit_by, 15);
            set_block_number::<Env>(16);
            m.expire(late).unwrap();
            assert_eq!(m.job(late).unwrap().state, JobState::Expired);
            assert_eq!(m.balance_of(a.bob), 500 + 1_000 + 500);
            // Expiring freed nothing of bob's: he frees his spec himself.
            assert!(m.job_spec(late).is_some());
            // eve, the slashed no-show, frees only her idle ledger entry; once.
            assert_eq!(m.balances.get(a.eve), Some(Payee::default()));
            m.release(late).unwrap();
            assert!(m.job_spec(late).is_some());
            assert_eq!(m.balances.get(a.eve), None);
            assert_eq!(m.release(late), Err(Error::NothingToRelease));
            as_(a.bob, 0);
            m.release(late).unwrap();
            assert_eq!(m.job_spec(late), None);
            assert_eq!(m.release(late), Err(Error::NothingToRelease));
            // Bob's first job is still live: his entry stays when he withdraws.
            assert_eq!(m.withdraw(), Ok(2_000));
            assert_eq!(m.balances.get(a.bob), Some(Payee { owed: 0, live: 1 }));
        }

        #[ink::test]
        fn expire_refunds_an_open_job_after_its_deadline() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 1_000);
            let open = m.post_job(spec(50)).unwrap();
            assert_eq!(m.expire(99), Err(Error::UnknownJob));
            assert_eq!(m.expire(open), Err(Error::DeadlineNotReached));
            set_block_number::<Env>(21);
            m.expire(open).unwrap();
            assert_eq!(m.balance_of(a.bob), 1_000);
            assert_eq!(m.expire(open), Err(Error::WrongState));
            let ev: Vec<events::JobExpired> = events_of(events::JOB_EXPIRED_TOPIC);
            assert_eq!(ev, vec![events::JobExpired { job: open, refund: 1_000, slashed: 0 }]);
        }

        /// Findings 3 and 12: a job competing for a bounty records the bounty's benchmark and
        /// metric and settles before the bounty expires; scores are bounded and must beat the
        /// best by a margin above 0; and no tranche is paid before the verification game exists,
        /// whatever the attestations ("verified" here is one bonded attester's word, which a
        /// bounty does not accept). An expired bounty goes back to its sponsor by anyone's call.
        #[ink::test]
        fn bounties_refuse_fake_breakthroughs_and_return_to_the_sponsor() {
            let a = acc();
            let mut m = setup();
            as_(a.alice, 0);
            assert_eq!(m.post_bounty(CID.to_vec(), 2, 10, 100, 2, 90), Err(Error::ZeroAmount));
            as_(a.alice, 1_001);
            assert_eq!(m.post_bounty(CID.to_vec(), 2, 10, 100, 0, 90), Err(Error::BadBounty));
            assert_eq!(m.post_bounty(vec![], 2, 10, 100, 2, 90), Err(Error::BadCid));
            assert_eq!(m.post_bounty(CID.to_vec(), 2, 10, 100, 2, 1), Err(Error::BadDeadline));
            assert_eq!(
                m.post_bounty(CID.to_vec(), 2, 10, 100, 2, u32::MAX),
                Err(Error::BadDeadline)
            );
            assert_eq!(m.post_bounty(CID.to_vec(), 2, 0, 100, 2, 90), Err(Error::BadScore));
            assert_eq!(m.post_bounty(CID.to_vec(), 2, 10, u64::MAX, 2, 90), Err(Error::BadScore));
            let b = m.post_bounty(CID.to_vec(), 2, 10, 100, 2, 90).unwrap();
            let ev: Vec<events::BountyPosted> = events_of(events::BOUNTY_POSTED_TOPIC);
            assert_eq!(
                ev,
                vec![events::BountyPosted { bounty: b, sponsor: *a.alice.as_ref(), amount: 1_001 }]
            );
            // Jobs that cannot compete: no verifiers, another benchmark or metric, a training
            // job, an unknown bounty, or one that could still be open when the bounty expires
            // (deadline 75 + window 5 + 1 + 10 submit blocks to claim > 90; an evaluation has
            // no game yet, so no challenge blocks).
            as_(a.bob, 1_000);
            let none = Verification { verifiers: 0, ..VERIFY };
            let unverified = JobSpec { verification: none, ..eval(Some(b), 20) };
            assert_eq!(m.post_job(unverified), Err(Error::BadVerification));
            let other = Benchmark { cid: OUT.to_vec(), metric: 2 };
            let other_set = JobSpec { benchmark: Some(other), ..eval(Some(b), 20) };
            assert_eq!(m.post_job(other_set), Err(Error::NotBountyBenchmark));
            let other = Benchmark { cid: CID.to_vec(), metric: 0 };
            let other_metric = JobSpec { benchmark: Some(other), ..eval(Some(b), 20) };
            assert_eq!(m.post_job(other_metric), Err(Error::NotBountyBenchmark));
            assert_eq!(m.post_job(JobSpec { bounty: Some(b), ..spec(50) }), Err(Error::BadBounty));
            assert_eq!(m.post_job(eval(Some(9), 20)), Err(Error::UnknownBounty));
            assert_eq!(m.post_job(eval(Some(b), 75)), Err(Error::BountyEndsFirst));
            assert_eq!(m.job_count(), 0);
            // Two competing jobs, both "verified" by an attester: one short of the margin, one
            // beating it. Neither is paid; the escrow stays whole.
            let low = m.post_job(eval(Some(b), 74)).unwrap();
            as_(a.bob, 1_000);
            let high = m.post_job(eval(Some(b), 20)).unwrap();
            assert_eq!(m.job(high).unwrap().bounty, Some(b));
            assert_eq!(
                m.job_terms(high).unwrap().benchmark,
                Some(Benchmark { cid: CID.to_vec(), metric: 2 })
            );
            for (id, score) in [(low, 109), (high, 110)] {
                sign_up_all(&mut m, id);
                as_(a.charlie, 0);
                m.claim(id).unwrap();
                assert_eq!(
                    m.submit_result(id, eval_commitment(u64::MAX), None),
                    Err(Error::BadScore)
                );
                // An evaluation has no training trace to prove a last state in.
                let with_state = m.submit_result(id, eval_commitment(score), last());
                assert_eq!(with_state, Err(Error::BadFinalState));
                m.submit_result(id, eval_commitment(score), None).unwrap();
                attest_all(&mut m, id);
            }
            assert_eq!(m.pay_bounty(high), Err(Error::WrongState));
            set_block_number::<Env>(7);
            as_(a.bob, 0);
            for id in [low, high] {
                m.finalize(id).unwrap();
                assert!(m.job(id).unwrap().verified);
            }
            assert_eq!(m.pay_bounty(99), Err(Error::UnknownJob));
            as_(a.bob, 1_000);
            let plain = m.post_job(spec(50)).unwrap();
            assert_eq!(m.pay_bounty(plain), Err(Error::NoBounty));
            assert_eq!(m.pay_bounty(low), Err(Error::NotAnImprovement));
            assert_eq!(m.pay_bounty(high), Err(Error::BountyNeedsGame));
            // One attestation of the two asked for: finalized, not verified.
            let unverified = m.post_job(eval(Some(b), 20)).unwrap();
            sign_up(&mut m, unverified, a.django).unwrap();
            as_(a.charlie, 0);
            m.claim(unverified).unwrap();
            m.submit_result(unverified, eval_commitment(500), None).unwrap();
            attest(&mut m, unverified, a.django).unwrap();
            set_block_number::<Env>(13);
            m.finalize(unverified).unwrap();
            assert_eq!(m.pay_bounty(unverified), Err(Error::Unverified));
            assert_eq!(m.job_terms(unverified).map(|t| t.benchmark.is_some()), Some(true));
            assert_eq!(
                m.bounty(b).map(|b| (b.escrow, b.best, b.tranches_left)),
                Some((1_001, 100, 2))
            );
            // Expiry: anyone returns the whole escrow to the sponsor; the record is freed.
            assert_eq!(m.reclaim_bounty(9), Err(Error::UnknownBounty));
            assert_eq!(m.reclaim_bounty(b), Err(Error::DeadlineNotReached));
            set_block_number::<Env>(91);
            let alice_before = m.balance_of(a.alice);
            assert_eq!(m.reclaim_bounty(b), Ok(1_001)); // anyone; to the sponsor
            assert_eq!(m.balance_of(a.alice), alice_before + 1_001);
            // The record is the sponsor's to free (its deposit is hers).
            assert_eq!(m.bounty(b).map(|b| (b.escrow, b.tranches_left)), Some((0, 0)));
            assert_eq!(m.reclaim_bounty(b), Err(Error::NothingToRelease));
            as_(a.alice, 0);
            assert_eq!(m.reclaim_bounty(b), Ok(0));
            assert_eq!(m.bounty(b), None);
            assert_eq!(m.reclaim_bounty(b), Err(Error::UnknownBounty));
            assert_eq!(m.pay_bounty(high), Err(Error::UnknownBounty));
            let ev: Vec<events::BountyReclaimed> = events_of(events::BOUNTY_RECLAIMED_TOPIC);
            assert_eq!(ev, vec![events::BountyReclaimed { bounty: b, amount: 1_001 }]);
        }

        /// Finding 9, the optional part: a poster's allow-list decides who may claim; the
        /// poster frees the list once the job has ended.
        #[ink::test]
        fn only_an_allowed_executor_claims_a_job_with_an_allow_list() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 1_000);
            let allowed = vec![*a.django.as_ref(), *a.eve.as_ref()];
            let id = m.post_job(JobSpec { executors: allowed.clone(), ..spec(50) }).unwrap();
            assert_eq!(
                m.job_terms(id),
                Some(JobTerms { benchmark: None, executors: allowed, game: Some(game_spec()) })
            );
            as_(a.charlie, 0);
            assert_eq!(m.claim(id), Err(Error::NotAllowed));
            as_(a.django, 0);
            assert_eq!(m.claim(id), Ok(()));
            // django never submits: the job reopens and, past its deadline, expires.
            set_block_number::<Env>(21);
            m.expire(id).unwrap();
            assert_eq!(m.job(id).unwrap().state, JobState::Expired);
            as_(a.bob, 0);
            m.release(id).unwrap();
            assert_eq!(m.job_terms(id), None);
        }

        #[ink::test]
        fn only_training_jobs_have_an_output_for_provenance() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 1_000);
            let id = m.post_job(eval(None, 20)).unwrap();
            sign_up_all(&mut m, id);
            as_(a.charlie, 0);
            m.claim(id).unwrap();
            m.submit_result(id, eval_commitment(1), None).unwrap();
            attest_all(&mut m, id);
            set_block_number::<Env>(7);
            m.finalize(id).unwrap();
            assert!(m.job(id).unwrap().verified);
            assert_eq!(m.job_output(id), None);
        }

        /// Finding 6: parameters and code change only after an announced timelock longer than
        /// any job; admin hand-over takes two steps; the splitter is wired once.
        #[ink::test]
        fn admin_changes_wait_for_the_timelock_and_hand_over_takes_two_steps() {
            let a = acc();
            let mut m = setup();
            assert_eq!(m.wire_splitter(a.django), Err(Error::WrongState));
            // 100 + 50 + 100 + 10 + 2 blocks.
            assert_eq!(m.admin_delay(), 262);
            let faster = MarketParams { max_job_blocks: 10, ..PARAMS };
            let change =
                Change::Params { splitter: [4; 32], treasury: *a.eve.as_ref(), params: faster };
            as_(a.bob, 0);
            assert_eq!(m.propose_change(change.clone()), Err(Error::NotAdmin));
            assert_eq!(m.apply_change(), Err(Error::NothingProposed));
            assert_eq!(m.propose_admin(a.bob), Err(Error::NotAdmin));
            as_(a.alice, 0);
            let bad = Change::Params {
                splitter: [4; 32],
                treasury: [5; 32],
                params: MarketParams { unbonding_blocks: u32::MAX, ..PARAMS },
            };
            assert_eq!(m.propose_change(bad), Err(Error::BadParams));
            // A shorter new timelock does not shorten this one: the longer of the two.
            assert_eq!(m.propose_change(change.clone()), Ok(263));
            assert_eq!(m.pending_change(), Some((change.clone(), 263)));
            set_block_number::<Env>(262);
            as_(a.bob, 0);
            assert_eq!(m.apply_change(), Err(Error::Timelocked));
            set_block_number::<Env>(263);
            let frank = m.balances.get(a.frank).unwrap(); // the old treasury
            m.apply_change().unwrap(); // anyone
            assert_eq!(m.params(), (a.alice, Some(AccountId::from([4; 32])), a.eve, faster));
            // The new treasury's ledger entry is kept live, the old one's no longer.
            assert_eq!(m.balances.get(a.eve).map(|e| e.live), Some(1));
            assert_eq!(m.balances.get(a.frank).map(|e| e.live), Some(frank.live - 1));
            assert_eq!(m.pending_change(), None);
            let proposed: Vec<admin_events::ChangeProposed<Change>> =
                events_of(admin_events::CHANGE_PROPOSED_TOPIC);
            assert_eq!(
                proposed,
                vec![admin_events::ChangeProposed { change: change.clone(), eta: 263 }]
            );
            let applied: Vec<admin_events::ChangeApplied<Change>> =
                events_of(admin_events::CHANGE_APPLIED_TOPIC);
            assert_eq!(applied.last(), Some(&admin_events::ChangeApplied { change }));
            // Cancel.
            as_(a.alice, 0);
            m.propose_change(Change::Code([1; 32])).unwrap();
            as_(a.bob, 0);
            assert_eq!(m.cancel_change(), Err(Error::NotAdmin));
            as_(a.alice, 0);
            m.cancel_change().unwrap();
            assert_eq!(m.cancel_change(), Err(Error::NothingProposed));
            let cancelled: Vec<admin_events::ChangeCancelled<Change>> =
                events_of(admin_events::CHANGE_CANCELLED_TOPIC);
            assert_eq!(
                cancelled,
                vec![admin_events::ChangeCancelled { change: Change::Code([1; 32]) }]
            );
            // Two-step hand-over.
            m.propose_admin(a.bob).unwrap();
            as_(a.eve, 0);
            assert_eq!(m.accept_admin(), Err(Error::NotProposedAdmin));
            as_(a.bob, 0);
            m.accept_admin().unwrap();
            assert_eq!(m.params().0, a.bob);
            as_(a.alice, 0);
            assert_eq!(m.propose_admin(a.alice), Err(Error::NotAdmin));
            let ev: Vec<admin_events::AdminChanged> = events_of(admin_events::ADMIN_CHANGED_TOPIC);
            assert_eq!(ev, vec![admin_events::AdminChanged { admin: *a.bob.as_ref() }]);
            let ev: Vec<admin_events::AdminProposed> =
                events_of(admin_events::ADMIN_PROPOSED_TOPIC);
            assert_eq!(ev, vec![admin_events::AdminProposed { proposed: *a.bob.as_ref() }]);
        }

        /// The review's two-step attack: shorten every window (waits the old timelock), then
        /// announce new code at once. The code still waits until everything locked under the
        /// old parameters is free.
        #[ink::test]
        fn shortening_the_windows_does_not_shorten_the_next_timelock() {
            let a = acc();
            let mut m = setup();
            let tiny = MarketParams {
                max_window: 1,
                max_job_blocks: 1,
                submit_blocks: 1,
                challenge_blocks: 1,
                unbonding_blocks: 1,
                ..PARAMS
            };
            assert_eq!(tiny.timelock(), 6);
            let change =
                Change::Params { splitter: [9; 32], treasury: *a.frank.as_ref(), params: tiny };
            assert_eq!(m.propose_change(change), Ok(263));
            set_block_number::<Env>(263);
            m.apply_change().unwrap();
            assert_eq!(m.admin_delay(), 262);
            assert_eq!(m.propose_change(Change::Code([1; 32])), Ok(263 + 262));
            set_block_number::<Env>(500);
            assert_eq!(m.admin_delay(), 25);
            set_block_number::<Env>(600);
            assert_eq!(m.admin_delay(), 6);
        }

        /// A job runs under the windows it was posted with: a change announced before the job
        /// and applied during it (here: a longer submit time) does not stretch it, so a sponsor
        /// cannot be made to reclaim ahead of a winner this way.
        #[ink::test]
        fn a_job_keeps_the_windows_it_was_posted_with() {
            let a = acc();
            let mut m = setup();
            let slow = MarketParams { submit_blocks: 90, challenge_blocks: 90, ..PARAMS };
            let change =
                Change::Params { splitter: [9; 32], treasury: *a.frank.as_ref(), params: slow };
            // The longer timelock of the two parameter sets: 100 + 50 + 100 + 10 + 2.
            let eta = m.propose_change(change).unwrap();
            assert_eq!(eta, 1 + 262);
            let posted = eta - 1;
            set_block_number::<Env>(posted);
            as_(a.alice, 1_001);
            let b = m.post_bounty(CID.to_vec(), 2, 10, 100, 1, posted + 50).unwrap();
            as_(a.bob, 1_000);
            let id = m.post_job(eval(Some(b), posted + 30)).unwrap();
            set_block_number::<Env>(eta);
            as_(a.alice, 0);
            m.apply_change().unwrap();
            assert_eq!(m.params().3, slow);
            as_(a.charlie, 0);
            m.claim(id).unwrap();
            assert_eq!(m.job(id).unwrap().submit_by, eta + 10);
        }

        /// The review's overpriced executor: collateral must outweigh what the executor earns.
        #[ink::test]
        fn collateral_must_outweigh_what_the_executor_earns() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 100_000);
            let id = m.post_job(spec(50)).unwrap(); // collateral 1 000 = 2 x reference value
            as_(a.eve, 0);
            m.pledge(GPU, 1_000, 0).unwrap(); // earns 50 000 from the reward
            assert_eq!(m.claim(id), Err(Error::CollateralTooLow));
            m.pledge(GPU, 10, 0).unwrap();
            m.claim(id).unwrap();
        }

        #[ink::test]
        #[should_panic(expected = "off-chain environment does not support `set_code_hash`")]
        fn an_applied_code_change_reaches_set_code_hash() {
            let mut m = setup();
            as_(acc().alice, 0);
            m.propose_change(Change::Code([1; 32])).unwrap();
            set_block_number::<Env>(1 + 262);
            let _ = m.apply_change();
        }

        /// Finding 4's property, driving the contract itself: over random sequences of calls,
        /// what is owed never exceeds what was deposited; then, once every deadline has passed,
        /// permissionless calls and each party's own withdrawals return every planck.
        #[ink::test]
        fn every_planck_comes_back_once_all_deadlines_pass() {
            let a = acc();
            let who = [a.bob, a.charlie, a.django, a.eve, a.frank];
            let mut done = [0u32; 14];
            for seed in 1..=6u64 {
                // A fresh contract account per seed: fresh storage.
                let contract = AccountId::from([100 + seed as u8; 32]);
                ink::env::test::set_callee::<Env>(contract);
                let mut m = setup();
                let mut rng = seed;
                let mut next = |n: u64| {
                    rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (rng >> 33) % n
                };
                // setup() pledged 3 x 5 000; two more providers to verify.
                for extra in [a.frank, a.alice] {
                    as_(extra, 5_000);
                    m.pledge(GPU, 5, 0).unwrap();
                }
                let (mut deposited, mut paid_out) = (25_000u128, 0u128);
                let mut block = 1u32;
                // Credits carry their value to the splitter.
                let to_splitter = || -> Balance {
                    SPLITTER_CALLS.with(|c| c.borrow().iter().map(|Call::Credit(_, _, u)| u).sum())
                };
                let owed = |m: &Market| {
                    let mut owed = 0u128;
                    for w in who.iter().chain([&a.alice]) {
                        owed += m.balance_of(*w);
                        if let Some(p) = m.pledge_of(*w) {
                            owed += p.stake + p.unbonding;
                            assert!(p.locked <= p.stake);
                        }
                    }
                    for id in 1..=m.job_count() {
                        let j = m.job(id).unwrap();
                        if !j.state.is_terminal() {
                            owed += j.reward;
                        }
                    }
                    for id in 1..=m.bounty_count() {
                        owed += m.bounty(id).map(|b| b.escrow).unwrap_or(0);
                    }
                    owed
                };
                for _ in 0..300 {
                    // Weighted towards the verification steps, which need earlier steps first.
                    const OPS: [usize; 23] =
                        [0, 1, 2, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 8, 8, 8, 9, 9, 10, 11, 12, 13];
                    let op = OPS[next(23) as usize];
                    let caller = who[next(5) as usize];
                    let value = u128::from(next(3) as u32) * 700;
                    let job = m.job_count().saturating_sub(next(3)).max(1);
                    let executor = m.job(job).and_then(|j| j.executor).map(AccountId::from);
                    let caller = match (next(4), executor) {
                        (0, Some(e)) => e,
                        _ => caller,
                    };
                    // Verifiers come from the pledged providers.
                    let verifier = [a.charlie, a.django, a.eve, a.frank, a.alice][next(5) as usize];
                    let caller = if (6..=8).contains(&op) { verifier } else { caller };
                    as_(caller, 0);
                    let ok_value = match op {
                        0 => {
                            as_(caller, value);
                            m.pledge(GPU, u128::from(next(20) as u32), (next(3) * 2_000) as u16)
                                .is_ok()
                        }
                        1 => {
                            as_(caller, value);
                            m.top_up().is_ok()
                        }
                        2 => {
                            done[2] +=
                                u32::from(m.unpledge(u128::from(next(3) as u32) * 500).is_ok());
                            false
                        }
                        3 => {
                            as_(caller, value + 1_000);
                            let s = JobSpec {
                                artifact: [7, SATURATED, 8][next(3) as usize],
                                deadline: block + 2 + next(25) as u32,
                                verification: Verification {
                                    verifiers: 1 + next(2) as u8,
                                    collateral: 100 * (1 + u128::from(next(10) as u32)),
                                    ..VERIFY
                                },
                                ..spec(next(60))
                            };
                            m.post_job(s).is_ok()
                        }
                        4 => {
                            done[4] += u32::from(m.claim(job).is_ok());
                            false
                        }
                        5 => {
                            done[5] += u32::from(
                                m.submit_result(job, commitment(next(300)), last()).is_ok(),
                            );
                            false
                        }
                        6 => {
                            let open = m.job(job).is_some_and(|j| {
                                matches!(j.state, JobState::Open | JobState::Claimed)
                            });
                            let ok = if open {
                                sign_up(&mut m, job, caller).is_ok()
                            } else if next(4) == 0 {
                                m.attest(job, secret(caller), None).is_ok()
                            } else {
                                attest(&mut m, job, caller).is_ok()
                            };
                            done[6] += u32::from(ok);
                            false
                        }
                        7 => {
                            let c = m.challenge(job, [9; 32], vec![], [8; 32], vec![]);
                            done[7] += u32::from(c.is_ok());
                            false
                        }
                        8 => {
                            let verdict =
                                [Verdict::Executor, Verdict::Challenger, Verdict::Neither]
                                    [next(3) as usize];
                            let how = [How::Replay, How::Timeout][next(2) as usize];
                            decide(verdict, how);
                            done[8] += u32::from(m.settle_challenge(job, next(2) as u16).is_ok());
                            false
                        }
                        9 => {
                            done[9] += u32::from(m.finalize(job).is_ok());
                            false
                        }
                        10 => {
                            done[10] += u32::from(m.expire(job).is_ok());
                            false
                        }
                        11 => {
                            as_(caller, value + 1);
                            m.post_bounty(CID.to_vec(), 0, 10, 0, 2, block + 20).is_ok()
                        }
                        12 => {
                            if let Ok(amount) = m.withdraw() {
                                paid_out += amount;
                            }
                            false
                        }
                        _ => {
                            done[13] += u32::from(m.release(job).is_ok());
                            false
                        }
                    };
                    if ok_value {
                        deposited += ink::env::transferred_value::<Env>();
                    }
                    set_value_transferred::<Env>(0);
                    if next(4) == 0 {
                        block += 1;
                        set_block_number::<Env>(block);
                    }
                    assert_eq!(deposited, paid_out + to_splitter() + owed(&m), "seed {seed}");
                }
                // Every deadline passes: permissionless calls settle every job and bounty.
                block += 1_000;
                set_block_number::<Env>(block);
                as_(a.frank, 0);
                decide(Verdict::Executor, How::Replay);
                for id in 1..=m.job_count() {
                    for index in 0..m.job(id).unwrap().challenges {
                        let _ = m.settle_challenge(id, index);
                    }
                    let _ = m.finalize(id);
                    let _ = m.expire(id);
                    assert!(m.job(id).unwrap().state.is_terminal(), "job {id}: {:?}", m.job(id));
                }
                for id in 1..=m.bounty_count() {
                    let _ = m.reclaim_bounty(id);
                }
                // Each party frees its records (settlement freed none: frank would have been
                // refunded deposits others paid).
                for w in who.iter().chain([&a.alice]) {
                    as_(*w, 0);
                    for id in 1..=m.job_count() {
                        let _ = m.release(id);
                    }
                    for id in 1..=m.bounty_count() {
                        let _ = m.reclaim_bounty(id);
                    }
                }
                for id in 1..=m.job_count() {
                    let j = m.job(id).unwrap();
                    for i in 0..j.sign_ups {
                        assert_eq!(m.sign_ups.get((id, i)), None, "seed {seed}");
                    }
                    for i in 0..j.challenges {
                        assert_eq!(m.game_of(id, i), None, "seed {seed}");
                    }
                    for w in who.iter().chain([&a.alice]) {
                        assert_eq!(m.acted.get((id, *w)), None, "seed {seed}");
                        assert_eq!(m.signed.get((id, *w)), None, "seed {seed}");
                    }
                    let kept = j.verified && j.state == JobState::Finalized;
                    assert_eq!(m.job_spec(id).is_some(), kept, "seed {seed} job {id}");
                    assert_eq!(m.result(id).is_some(), kept, "seed {seed} job {id}");
                    assert_eq!(m.job_terms(id), None, "seed {seed} job {id}");
                }
                for id in 1..=m.bounty_count() {
                    assert_eq!(m.bounty(id), None, "seed {seed}");
                }
                // Each party takes what is its own: free stake unbonds, then everything is
                // withdrawn.
                for w in who.iter().chain([&a.alice]) {
                    as_(*w, 0);
                    if let Some(p) = m.pledge_of(*w) {
                        assert_eq!(p.locked, 0, "no stake stays locked");
                        if p.stake > 0 {
                            m.unpledge(p.stake).unwrap();
                        }
                    }
                }
                set_block_number::<Env>(block + PARAMS.unbonding_blocks);
                for w in who.iter().chain([&a.alice]) {
                    as_(*w, 0);
                    if let Ok(amount) = m.withdraw() {
                        paid_out += amount;
                    }
                }
                assert_eq!(owed(&m), 0, "seed {seed}");
                assert_eq!(paid_out + to_splitter(), deposited, "seed {seed}");
                // Nothing is live: every ledger entry went with its owner's withdrawal, but the
                // treasury's (frank), which stays.
                for w in who.iter().chain([&a.alice]) {
                    let left = m.balances.get(*w);
                    let want = (*w == a.frank).then_some(Payee { owed: 0, live: 1 });
                    assert_eq!(left, want, "seed {seed}");
                }
            }
            // The sequences reach every settlement path.
            for (op, name) in [
                (4, "claim"),
                (5, "submit"),
                (6, "attest"),
                (7, "challenge"),
                (8, "settle_challenge"),
                (9, "finalize"),
                (10, "expire"),
                (13, "release"),
            ] {
                assert!(done[op] > 0, "no successful {name}: {done:?}");
            }
        }

        /// The dispute wiring and each challenge's game live under fixed keys outside the root
        /// (a `Lazy` and a mapping), so storage written before them still decodes.
        #[ink::test]
        fn the_game_storage_keys_are_frozen() {
            let a = acc();
            let (_, id) = challenged(None);
            let wired: AccountId =
                ink::env::get_contract_storage(&0x4d4b_000bu32).unwrap().unwrap();
            assert_eq!(wired, dispute_addr());
            let game: Challenge =
                ink::env::get_contract_storage(&(0x4d4b_000cu32, (id, 0u16))).unwrap().unwrap();
            assert_eq!(
                game,
                Challenge { challenger: bytes(&a.eve), game: 1, settled: false, accusation: None }
            );
        }

        /// Storage written before an upgrade stays readable after it: the root's field order
        /// and the mappings' fixed keys are frozen here; a new version must keep decoding them.
        #[ink::test]
        fn storage_layout_is_frozen() {
            type RootV2 =
                (Admin<Change>, Option<AccountId>, AccountId, MarketParams, JobId, BountyId, u32);
            let a = acc();
            let (m, id) = submitted();
            ink::env::set_contract_storage(&0u32, &m);
            let root: RootV2 = ink::env::get_contract_storage(&0u32).unwrap().unwrap();
            assert_eq!(
                root,
                (Admin::new(*a.alice.as_ref()), Some(splitter_addr()), a.frank, PARAMS, 1, 0, 0)
            );
            let p: Pledge =
                ink::env::get_contract_storage(&(0x4d4b_0001u32, a.charlie)).unwrap().unwrap();
            assert_eq!(p.locked, 1_000);
            let job: Job = ink::env::get_contract_storage(&(0x4d4b_0002u32, id)).unwrap().unwrap();
            assert_eq!(job.state, JobState::Submitted);
            let cid: Vec<u8> =
                ink::env::get_contract_storage(&(0x4d4b_0003u32, id)).unwrap().unwrap();
            assert_eq!(cid, CID);
            let c: Commitment =
                ink::env::get_contract_storage(&(0x4d4b_0004u32, id)).unwrap().unwrap();
            assert_eq!(c.score, 900_000);
            let s: SignUp =
                ink::env::get_contract_storage(&(0x4d4b_000du32, (id, 1u8))).unwrap().unwrap();
            assert_eq!(AccountId::from(s.verifier), a.eve);
            let i: u8 =
                ink::env::get_contract_storage(&(0x4d4b_000eu32, (id, a.eve))).unwrap().unwrap();
            assert_eq!(i, 1);
        }

        #[ink::test]
        fn shared_selectors_and_topics_match_the_contract() {
            use ink::env::Event;
            use ink::selector_bytes as sel;
            let s = [
                (selectors::NEW, sel!("new")),
                (selectors::PLEDGE, sel!("pledge")),
                (selectors::TOP_UP, sel!("top_up")),
                (selectors::UNPLEDGE, sel!("unpledge")),
                (selectors::POST_JOB, sel!("post_job")),
                (selectors::CLAIM, sel!("claim")),
                (selectors::SIGN_UP, sel!("sign_up")),
                (selectors::SUBMIT_RESULT, sel!("submit_result")),
                (selectors::ATTEST, sel!("attest")),
                (selectors::CHALLENGE, sel!("challenge")),
                (selectors::CHALLENGE_OUTPUT, sel!("challenge_output")),
                (selectors::CHALLENGE_INITIAL, sel!("challenge_initial")),
                (selectors::FINALIZE, sel!("finalize")),
                (selectors::EXPIRE, sel!("expire")),
                (selectors::POST_BOUNTY, sel!("post_bounty")),
                (selectors::RECLAIM_BOUNTY, sel!("reclaim_bounty")),
                (selectors::PAY_BOUNTY, sel!("pay_bounty")),
                (selectors::JOB_TERMS, sel!("job_terms")),
                (selectors::WIRE_DISPUTE, sel!("wire_dispute")),
                (selectors::SETTLE_CHALLENGE, sel!("settle_challenge")),
                (selectors::DEFEND, sel!("defend")),
                (selectors::SETTLE_ATTESTER, sel!("settle_attester")),
                (selectors::SIGN_UP_OF, sel!("sign_up_of")),
                (selectors::ACCUSATION_OF, sel!("accusation_of")),
                (selectors::DEFENCE_OF, sel!("defence_of")),
                (selectors::GAME_OF, sel!("game_of")),
                (selectors::RELEASE, sel!("release")),
                (selectors::WITHDRAW, sel!("withdraw")),
                (selectors::WIRE_SPLITTER, sel!("wire_splitter")),
                (selectors::PROPOSE_CHANGE, sel!("propose_change")),
                (selectors::APPLY_CHANGE, sel!("apply_change")),
                (selectors::CANCEL_CHANGE, sel!("cancel_change")),
                (selectors::PROPOSE_ADMIN, sel!("propose_admin")),
                (selectors::ACCEPT_ADMIN, sel!("accept_admin")),
                (selectors::PENDING_CHANGE, sel!("pending_change")),
                (selectors::ADMIN_DELAY, sel!("admin_delay")),
                (selectors::PLEDGE_OF, sel!("pledge_of")),
                (selectors::JOB, sel!("job")),
                (selectors::JOB_SPEC, sel!("job_spec")),
                (selectors::RESULT, sel!("result")),
                (selectors::BOUNTY, sel!("bounty")),
                (selectors::BALANCE_OF, sel!("balance_of")),
                (selectors::JOB_OUTPUT, sel!("job_output")),
                (selectors::PARAMS, sel!("params")),
                (selectors::JOB_COUNT, sel!("job_count")),
                (selectors::BOUNTY_COUNT, sel!("bounty_count")),
            ];
            for (ours, inks) in s {
                assert_eq!(ours, inks);
            }
            let t = [
                (events::PLEDGED_TOPIC, Pledged::SIGNATURE_TOPIC),
                (events::UNPLEDGED_TOPIC, Unpledged::SIGNATURE_TOPIC),
                (events::JOB_POSTED_TOPIC, JobPosted::SIGNATURE_TOPIC),
                (events::JOB_CLAIMED_TOPIC, JobClaimed::SIGNATURE_TOPIC),
                (events::RESULT_SUBMITTED_TOPIC, ResultSubmitted::SIGNATURE_TOPIC),
                (events::ATTESTED_TOPIC, Attested::SIGNATURE_TOPIC),
                (events::SIGNED_UP_TOPIC, SignedUp::SIGNATURE_TOPIC),
                (events::CHALLENGED_TOPIC, Challenged::SIGNATURE_TOPIC),
                (events::CHALLENGE_RESOLVED_TOPIC, ChallengeResolved::SIGNATURE_TOPIC),
                (events::DEFENDED_TOPIC, Defended::SIGNATURE_TOPIC),
                (events::ATTESTATION_SETTLED_TOPIC, AttestationSettled::SIGNATURE_TOPIC),
                (events::CLAIM_BEATEN_TOPIC, ClaimBeaten::SIGNATURE_TOPIC),
                (events::JOB_FINALIZED_TOPIC, JobFinalized::SIGNATURE_TOPIC),
                (events::JOB_EXPIRED_TOPIC, JobExpired::SIGNATURE_TOPIC),
                (events::JOB_REOPENED_TOPIC, JobReopened::SIGNATURE_TOPIC),
                (events::BOUNTY_POSTED_TOPIC, BountyPosted::SIGNATURE_TOPIC),
                (events::BOUNTY_RECLAIMED_TOPIC, BountyReclaimed::SIGNATURE_TOPIC),
                (events::WITHDRAWN_TOPIC, Withdrawn::SIGNATURE_TOPIC),
                (admin_events::CHANGE_PROPOSED_TOPIC, ChangeProposed::SIGNATURE_TOPIC),
                (admin_events::CHANGE_APPLIED_TOPIC, ChangeApplied::SIGNATURE_TOPIC),
                (admin_events::CHANGE_CANCELLED_TOPIC, ChangeCancelled::SIGNATURE_TOPIC),
                (admin_events::ADMIN_PROPOSED_TOPIC, AdminProposed::SIGNATURE_TOPIC),
                (admin_events::ADMIN_CHANGED_TOPIC, AdminChanged::SIGNATURE_TOPIC),
            ];
            for (ours, inks) in t {
                assert_eq!(Some(ours), inks);
            }
        }
    }
}
