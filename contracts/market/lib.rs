//! The iollm compute market: GPU providers pledge stake and capacity, designers post jobs with
//! escrowed rewards, results are verified optimistically (attest / challenge in a window,
//! committee vote on a challenge) and paid out; sponsors fund breakthrough bounties.
//!
//! Who can trust what:
//! * a provider: its pay (its ask, fixed at claim) is in escrow before it starts; what it forwent
//!   by joint mining is credited to it as share units in the splitter at finalize;
//! * a poster: nothing is paid for a result that loses a challenge, and the escrow comes back
//!   when nobody delivers (`expire`), with the defaulting executor's collateral slashed;
//! * everyone: slashed funds go 50 % to the honest party, 50 % to the treasury
//!   ([`iollm_types::escrow::SLASH_HONEST_BPS`]); payouts are pulled (`withdraw`).
//!
//! What it is not: a scheduler. Workers find jobs from events and race to `claim`.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod market {
    use ink::prelude::vec::Vec;
    use ink::storage::traits::ManualKey;
    use ink::storage::Mapping;
    use iollm_types::cid::check_cid_shape;
    use iollm_types::escrow::{self, EscrowError};
    use iollm_types::market::{
        Bounty, BountyId, Capacity, Commitment, Error, Job, JobId, JobKind, JobOutput, JobSpec,
        JobState, Pledge, DEFAULT_UNBONDING_BLOCKS, MAX_VERIFIERS,
    };
    use iollm_types::registry::ArtifactId;
    use iollm_types::split::BPS;

    /// Market storage. Mapping keys are fixed (`ManualKey`) so that data written before an
    /// upgrade is found after it.
    #[ink(storage)]
    pub struct Market {
        admin: AccountId,
        splitter: AccountId,
        treasury: AccountId,
        unbonding_blocks: BlockNumber,
        last_job: JobId,
        last_bounty: BountyId,
        pledges: Mapping<AccountId, Pledge, ManualKey<0x4d4b_0001>>,
        jobs: Mapping<JobId, Job, ManualKey<0x4d4b_0002>>,
        specs: Mapping<JobId, Vec<u8>, ManualKey<0x4d4b_0003>>,
        results: Mapping<JobId, Commitment, ManualKey<0x4d4b_0004>>,
        attesters: Mapping<(JobId, u8), AccountId, ManualKey<0x4d4b_0005>>,
        voted: Mapping<(JobId, AccountId), (), ManualKey<0x4d4b_0006>>,
        bounties: Mapping<BountyId, Bounty, ManualKey<0x4d4b_0007>>,
        balances: Mapping<AccountId, Balance, ManualKey<0x4d4b_0008>>,
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

    /// Layout: `iollm_types::market::events::Attested`.
    #[ink(event)]
    pub struct Attested {
        #[ink(topic)]
        job: JobId,
        verifier: AccountId,
    }

    /// Layout: `iollm_types::market::events::Challenged`.
    #[ink(event)]
    pub struct Challenged {
        #[ink(topic)]
        job: JobId,
        challenger: AccountId,
    }

    /// Layout: `iollm_types::market::events::Voted`.
    #[ink(event)]
    pub struct Voted {
        #[ink(topic)]
        job: JobId,
        voter: AccountId,
        executor_honest: bool,
    }

    /// Layout: `iollm_types::market::events::ChallengeResolved`.
    #[ink(event)]
    pub struct ChallengeResolved {
        #[ink(topic)]
        job: JobId,
        executor_honest: bool,
        slashed: Balance,
        to_winner: Balance,
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

    /// Layout: `iollm_types::market::events::BountyPosted`.
    #[ink(event)]
    pub struct BountyPosted {
        #[ink(topic)]
        bounty: BountyId,
        sponsor: AccountId,
        amount: Balance,
    }

    /// Layout: `iollm_types::market::events::BountyPaid`.
    #[ink(event)]
    pub struct BountyPaid {
        #[ink(topic)]
        bounty: BountyId,
        job: JobId,
        artifact: ArtifactId,
        amount: Balance,
        score: u64,
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

    /// Layout: `iollm_types::market::events::ParamsChanged`.
    #[ink(event)]
    pub struct ParamsChanged {
        admin: AccountId,
    }

    fn esc(e: EscrowError) -> Error {
        match e {
            EscrowError::Overflow => Error::Overflow,
            EscrowError::BadBps => Error::BadBps,
            EscrowError::RewardTooLow => Error::PriceTooHigh,
        }
    }

    fn add(a: Balance, b: Balance) -> Result<Balance, Error> {
        a.checked_add(b).ok_or(Error::Overflow)
    }

    fn sub(a: Balance, b: Balance) -> Result<Balance, Error> {
        a.checked_sub(b).ok_or(Error::Overflow)
    }

    fn bytes(a: &AccountId) -> [u8; 32] {
        *AsRef::<[u8; 32]>::as_ref(a)
    }

    impl Market {
        /// A market whose admin is the caller, crediting share units and paying bounties into
        /// `splitter`, and paying the treasury's slash share to `treasury`.
        #[ink(constructor)]
        pub fn new(splitter: AccountId, treasury: AccountId) -> Self {
            Self {
                admin: Self::env().caller(),
                splitter,
                treasury,
                unbonding_blocks: DEFAULT_UNBONDING_BLOCKS,
                last_job: 0,
                last_bounty: 0,
                pledges: Mapping::new(),
                jobs: Mapping::new(),
                specs: Mapping::new(),
                results: Mapping::new(),
                attesters: Mapping::new(),
                voted: Mapping::new(),
                bounties: Mapping::new(),
                balances: Mapping::new(),
            }
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
            pledge.unbonding_until = self
                .env()
                .block_number()
                .checked_add(self.unbonding_blocks)
                .ok_or(Error::Overflow)?;
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
        #[ink(message, payable)]
        pub fn post_job(&mut self, spec: JobSpec) -> Result<JobId, Error> {
            let reward = self.env().transferred_value();
            if reward == 0 {
                return Err(Error::ZeroAmount);
            }
            check_cid_shape(&spec.spec_cid).map_err(|_| Error::BadCid)?;
            let now = self.env().block_number();
            if spec.deadline <= now {
                return Err(Error::BadDeadline);
            }
            let v = spec.verification;
            if v.verifiers > MAX_VERIFIERS || v.challenge_window == 0 {
                return Err(Error::BadVerification);
            }
            escrow::check_covers(reward, 0, v.verifiers, v.verifier_fee).map_err(esc)?;
            if let Some(b) = spec.bounty {
                if spec.kind != JobKind::EvalPath {
                    return Err(Error::BadBounty);
                }
                if !self.bounties.contains(b) {
                    return Err(Error::UnknownBounty);
                }
            }
            let id = self.last_job.checked_add(1).ok_or(Error::Overflow)?;
            let poster = self.env().caller();
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
                challenger: None,
                votes_executor: 0,
                votes_challenger: 0,
                verified: false,
            };
            self.jobs.insert(id, &job);
            self.specs.insert(id, &spec.spec_cid);
            self.last_job = id;
            self.env().emit_event(JobPosted { job: id, poster, reward });
            Ok(id)
        }

        /// Claims an open job: the caller's capacity must fit, the reward must cover its ask
        /// plus the verifier fees, and the collateral is locked from its free stake.
        #[ink(message)]
        pub fn claim(&mut self, job_id: JobId) -> Result<(), Error> {
            let mut job = self.jobs.get(job_id).ok_or(Error::UnknownJob)?;
            if job.state != JobState::Open {
                return Err(Error::WrongState);
            }
            if self.env().block_number() > job.deadline {
                return Err(Error::DeadlinePassed);
            }
            let caller = self.env().caller();
            let mut pledge = self.pledges.get(caller).ok_or(Error::NotPledged)?;
            if !pledge.capacity.fits(&job.need) {
                return Err(Error::CapacityTooSmall);
            }
            let v = job.verification;
            let ask =
                escrow::ask(pledge.price_per_unit, job.units, pledge.discount_bps).map_err(esc)?;
            escrow::check_covers(job.reward, ask.ask, v.verifiers, v.verifier_fee).map_err(esc)?;
            if pledge.free() < v.collateral {
                return Err(Error::InsufficientFreeStake);
            }
            pledge.locked = add(pledge.locked, v.collateral)?;
            job.state = JobState::Claimed;
            job.executor = Some(bytes(&caller));
            job.ask = ask.ask;
            job.forgone = ask.forgone;
            self.pledges.insert(caller, &pledge);
            self.jobs.insert(job_id, &job);
            self.env().emit_event(JobClaimed { job: job_id, executor: caller, ask: ask.ask });
            Ok(())
        }

        /// The executor commits its result (output CID, metrics, trace root) before the
        /// deadline; the challenge window starts.
        #[ink(message)]
        pub fn submit_result(
            &mut self,
            job_id: JobId,
            commitment: Commitment,
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
            if now > job.deadline {
                return Err(Error::DeadlinePassed);
            }
            check_cid_shape(&commitment.output_cid).map_err(|_| Error::BadCid)?;
            job.state = JobState::Submitted;
            job.submitted_at = now;
            self.jobs.insert(job_id, &job);
            self.results.insert(job_id, &commitment);
            self.env().emit_event(ResultSubmitted { job: job_id, commitment });
            Ok(())
        }

        /// A pledged provider (not party to the job) attests the result in the window; it is
        /// paid the verifier fee at finalize.
        #[ink(message)]
        pub fn attest(&mut self, job_id: JobId) -> Result<(), Error> {
            let (mut job, caller) = self.verifier_check(job_id)?;
            if job.state != JobState::Submitted {
                return Err(Error::WrongState);
            }
            self.ensure_window_open(&job)?;
            if job.attestations >= job.verification.verifiers {
                return Err(Error::EnoughAttestations);
            }
            self.attesters.insert((job_id, job.attestations), &caller);
            self.voted.insert((job_id, caller), &());
            job.attestations = job.attestations.checked_add(1).ok_or(Error::Overflow)?;
            self.jobs.insert(job_id, &job);
            self.env().emit_event(Attested { job: job_id, verifier: caller });
            Ok(())
        }

        /// A pledged provider (not party to the job) disputes the result in the window,
        /// locking a bond equal to the job's collateral; a committee vote decides.
        #[ink(message)]
        pub fn challenge(&mut self, job_id: JobId) -> Result<(), Error> {
            let (mut job, caller) = self.verifier_check(job_id)?;
            if job.state != JobState::Submitted {
                return Err(Error::WrongState);
            }
            self.ensure_window_open(&job)?;
            let mut pledge = self.pledges.get(caller).ok_or(Error::NotPledged)?;
            let bond = job.verification.collateral;
            if pledge.free() < bond {
                return Err(Error::InsufficientFreeStake);
            }
            pledge.locked = add(pledge.locked, bond)?;
            self.pledges.insert(caller, &pledge);
            self.voted.insert((job_id, caller), &());
            job.state = JobState::Challenged;
            job.challenger = Some(bytes(&caller));
            job.votes_executor = 0;
            job.votes_challenger = 0;
            self.jobs.insert(job_id, &job);
            self.env().emit_event(Challenged { job: job_id, challenger: caller });
            Ok(())
        }

        /// A committee member (pledged, not party to the job) votes on a challenge, having
        /// re-run the disputed segment. The first side to reach the quorum
        /// (`max(verifiers, 1)` votes) wins; the loser's collateral or bond is slashed.
        #[ink(message)]
        pub fn vote(&mut self, job_id: JobId, executor_honest: bool) -> Result<(), Error> {
            let (mut job, caller) = self.verifier_check(job_id)?;
            if job.state != JobState::Challenged {
                return Err(Error::WrongState);
            }
            self.voted.insert((job_id, caller), &());
            let quorum = job.verification.verifiers.max(1);
            let tally =
                if executor_honest { &mut job.votes_executor } else { &mut job.votes_challenger };
            *tally = tally.checked_add(1).ok_or(Error::Overflow)?;
            let reached = *tally >= quorum;
            self.env().emit_event(Voted { job: job_id, voter: caller, executor_honest });
            if reached {
                self.resolve(job_id, &mut job, executor_honest)?;
            }
            self.jobs.insert(job_id, &job);
            Ok(())
        }

        /// After the window, with no open challenge: pays the executor its ask and each
        /// attester its fee, refunds the rest to the poster, releases the collateral, credits
        /// the executor's forgone value as share units in the splitter and, for a verified
        /// EvalPath job that beats its bounty's best by the margin, pays the next tranche into
        /// the artifact's split. Anyone may call it.
        #[ink(message)]
        pub fn finalize(&mut self, job_id: JobId) -> Result<(), Error> {
            let mut job = self.jobs.get(job_id).ok_or(Error::UnknownJob)?;
            if job.state != JobState::Submitted {
                return Err(Error::WrongState);
            }
            let closes = job
                .submitted_at
                .checked_add(job.verification.challenge_window)
                .ok_or(Error::Overflow)?;
            if self.env().block_number() <= closes {
                return Err(Error::WindowOpen);
            }
            let v = job.verification;
            let s = escrow::settle(job.reward, job.ask, job.attestations, v.verifier_fee)
                .map_err(esc)?;
            let executor = AccountId::from(job.executor.ok_or(Error::WrongState)?);
            self.credit(executor, s.executor)?;
            for i in 0..job.attestations {
                if let Some(verifier) = self.attesters.get((job_id, i)) {
                    self.credit(verifier, s.per_verifier)?;
                }
            }
            self.credit(AccountId::from(job.poster), s.refund)?;
            let mut pledge = self.pledges.get(executor).ok_or(Error::NotPledged)?;
            pledge.locked = sub(pledge.locked, v.collateral)?;
            self.pledges.insert(executor, &pledge);
            job.state = JobState::Finalized;
            job.verified = job.attestations >= v.verifiers;
            self.jobs.insert(job_id, &job);
            if job.forgone > 0 {
                self.splitter_credit_units(job.artifact, executor, job.forgone)?;
            }
            if let (Some(b), true) = (job.bounty, job.verified) {
                self.try_pay_bounty(b, job_id, &job)?;
            }
            self.env().emit_event(JobFinalized {
                job: job_id,
                executor_paid: s.executor,
                verifiers_paid: s.verifiers,
                refund: s.refund,
                units_credited: job.forgone,
                verified: job.verified,
            });
            Ok(())
        }

        /// After the deadline, a job nobody delivered: the escrow goes back to the poster; if
        /// it was claimed, the executor's collateral is slashed (half to the poster, half to
        /// the treasury). Anyone may call it.
        #[ink(message)]
        pub fn expire(&mut self, job_id: JobId) -> Result<(), Error> {
            let mut job = self.jobs.get(job_id).ok_or(Error::UnknownJob)?;
            if !matches!(job.state, JobState::Open | JobState::Claimed) {
                return Err(Error::WrongState);
            }
            if self.env().block_number() <= job.deadline {
                return Err(Error::DeadlineNotReached);
            }
            let poster = AccountId::from(job.poster);
            let mut slashed = 0;
            if let Some(executor) = job.executor {
                let executor = AccountId::from(executor);
                slashed = job.verification.collateral;
                self.slash(executor, slashed, poster)?;
            }
            self.credit(poster, job.reward)?;
            job.state = JobState::Expired;
            self.jobs.insert(job_id, &job);
            self.env().emit_event(JobExpired { job: job_id, refund: job.reward, slashed });
            Ok(())
        }

        // ---- bounties ----

        /// Funds a breakthrough bounty with the transferred value, paid in `tranches` equal
        /// parts to verified EvalPath jobs whose score beats the best so far (starting at
        /// `best`) by `margin`. After `expires_at` the sponsor can take the rest back.
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
            check_cid_shape(&benchmark_cid).map_err(|_| Error::BadCid)?;
            if expires_at <= self.env().block_number() {
                return Err(Error::BadDeadline);
            }
            let tranche = amount.checked_div(Balance::from(tranches)).ok_or(Error::Overflow)?;
            let id = self.last_bounty.checked_add(1).ok_or(Error::Overflow)?;
            let sponsor = self.env().caller();
            self.bounties.insert(
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
            );
            self.last_bounty = id;
            self.env().emit_event(BountyPosted { bounty: id, sponsor, amount });
            Ok(id)
        }

        /// After expiry, returns what is left of a bounty to its sponsor's balance.
        #[ink(message)]
        pub fn reclaim_bounty(&mut self, bounty_id: BountyId) -> Result<Balance, Error> {
            let mut bounty = self.bounties.get(bounty_id).ok_or(Error::UnknownBounty)?;
            let caller = self.env().caller();
            if bytes(&caller) != bounty.sponsor {
                return Err(Error::NotAdmin);
            }
            if self.env().block_number() <= bounty.expires_at {
                return Err(Error::DeadlineNotReached);
            }
            let amount = bounty.escrow;
            if amount == 0 {
                return Err(Error::NothingToWithdraw);
            }
            bounty.escrow = 0;
            bounty.tranches_left = 0;
            self.bounties.insert(bounty_id, &bounty);
            self.credit(caller, amount)?;
            self.env().emit_event(BountyReclaimed { bounty: bounty_id, amount });
            Ok(amount)
        }

        // ---- payouts ----

        /// Pays the caller its balance plus its matured unbonding stake. Returns the amount.
        #[ink(message)]
        pub fn withdraw(&mut self) -> Result<Balance, Error> {
            let caller = self.env().caller();
            let mut amount = self.balances.get(caller).unwrap_or(0);
            let mut waiting = false;
            if let Some(mut pledge) = self.pledges.get(caller) {
                if pledge.unbonding > 0 && self.env().block_number() >= pledge.unbonding_until {
                    amount = add(amount, pledge.unbonding)?;
                    pledge.unbonding = 0;
                    self.pledges.insert(caller, &pledge);
                } else {
                    waiting = pledge.unbonding > 0;
                }
            }
            if amount == 0 {
                return Err(if waiting { Error::StillUnbonding } else { Error::NothingToWithdraw });
            }
            self.balances.remove(caller);
            self.env().transfer(caller, amount).map_err(|_| Error::TransferFailed)?;
            self.env().emit_event(Withdrawn { account: caller, amount });
            Ok(amount)
        }

        // ---- admin ----

        /// Admin only: changes the splitter and treasury addresses and the unbonding delay.
        #[ink(message)]
        pub fn set_params(
            &mut self,
            splitter: AccountId,
            treasury: AccountId,
            unbonding_blocks: BlockNumber,
        ) -> Result<(), Error> {
            self.ensure_admin()?;
            self.splitter = splitter;
            self.treasury = treasury;
            self.unbonding_blocks = unbonding_blocks;
            self.env().emit_event(ParamsChanged { admin: self.admin });
            Ok(())
        }

        /// Admin only: replaces the contract's code, keeping its storage.
        #[ink(message)]
        pub fn set_code_hash(&mut self, code_hash: Hash) -> Result<(), Error> {
            self.ensure_admin()?;
            self.env().set_code_hash(&code_hash).map_err(|_| Error::UpgradeFailed)?;
            self.env().emit_event(ParamsChanged { admin: self.admin });
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

        /// A job's spec CID.
        #[ink(message)]
        pub fn job_spec(&self, job_id: JobId) -> Option<Vec<u8>> {
            self.specs.get(job_id)
        }

        /// A job's submitted commitment.
        #[ink(message)]
        pub fn result(&self, job_id: JobId) -> Option<Commitment> {
            self.results.get(job_id)
        }

        /// A bounty.
        #[ink(message)]
        pub fn bounty(&self, bounty_id: BountyId) -> Option<Bounty> {
            self.bounties.get(bounty_id)
        }

        /// What `account` can withdraw now, not counting unbonding stake.
        #[ink(message)]
        pub fn balance_of(&self, account: AccountId) -> Balance {
            self.balances.get(account).unwrap_or(0)
        }

        /// The verified output of a finalized job (for the registry's provenance check).
        #[ink(message)]
        pub fn job_output(&self, job_id: JobId) -> Option<JobOutput> {
            let job = self.jobs.get(job_id)?;
            if job.state != JobState::Finalized || !job.verified {
                return None;
            }
            let result = self.results.get(job_id)?;
            Some(JobOutput {
                poster: job.poster,
                artifact: job.artifact,
                output_cid: result.output_cid,
            })
        }

        /// Admin, splitter, treasury, unbonding delay.
        #[ink(message)]
        pub fn params(&self) -> (AccountId, AccountId, AccountId, BlockNumber) {
            (self.admin, self.splitter, self.treasury, self.unbonding_blocks)
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

        fn ensure_admin(&self) -> Result<(), Error> {
            if self.env().caller() == self.admin {
                Ok(())
            } else {
                Err(Error::NotAdmin)
            }
        }

        /// The job and the caller, who must be pledged, not party to it and not have voted.
        fn verifier_check(&self, job_id: JobId) -> Result<(Job, AccountId), Error> {
            let job = self.jobs.get(job_id).ok_or(Error::UnknownJob)?;
            let caller = self.env().caller();
            if !self.pledges.contains(caller) {
                return Err(Error::NotPledged);
            }
            let me = Some(bytes(&caller));
            if me == job.executor || me == Some(job.poster) || me == job.challenger {
                return Err(Error::ConflictOfInterest);
            }
            if self.voted.contains((job_id, caller)) {
                return Err(Error::AlreadyVoted);
            }
            Ok((job, caller))
        }

        fn ensure_window_open(&self, job: &Job) -> Result<(), Error> {
            let closes = job
                .submitted_at
                .checked_add(job.verification.challenge_window)
                .ok_or(Error::Overflow)?;
            if self.env().block_number() > closes {
                Err(Error::WindowClosed)
            } else {
                Ok(())
            }
        }

        fn credit(&mut self, account: AccountId, amount: Balance) -> Result<(), Error> {
            if amount == 0 {
                return Ok(());
            }
            let now = self.balances.get(account).unwrap_or(0);
            self.balances.insert(account, &add(now, amount)?);
            Ok(())
        }

        /// Takes `amount` of `who`'s locked stake: half (rounded up) to `honest`, the rest to
        /// the treasury.
        fn slash(
            &mut self,
            who: AccountId,
            amount: Balance,
            honest: AccountId,
        ) -> Result<(Balance, Balance), Error> {
            let mut pledge = self.pledges.get(who).ok_or(Error::NotPledged)?;
            pledge.locked = sub(pledge.locked, amount)?;
            pledge.stake = sub(pledge.stake, amount)?;
            self.pledges.insert(who, &pledge);
            let (to_honest, to_treasury) = escrow::slash_split(amount);
            self.credit(honest, to_honest)?;
            let treasury = self.treasury;
            self.credit(treasury, to_treasury)?;
            Ok((to_honest, to_treasury))
        }

        fn resolve(
            &mut self,
            job_id: JobId,
            job: &mut Job,
            executor_honest: bool,
        ) -> Result<(), Error> {
            let executor = AccountId::from(job.executor.ok_or(Error::WrongState)?);
            let challenger = AccountId::from(job.challenger.ok_or(Error::WrongState)?);
            let amount = job.verification.collateral;
            let (to_winner, to_treasury) = if executor_honest {
                // The challenger loses its bond; the result goes back to the window.
                let r = self.slash(challenger, amount, executor)?;
                job.state = JobState::Submitted;
                job.challenger = None;
                r
            } else {
                // The executor loses its collateral and the job; the challenger gets its bond
                // back and the poster its escrow.
                let r = self.slash(executor, amount, challenger)?;
                let mut pledge = self.pledges.get(challenger).ok_or(Error::NotPledged)?;
                pledge.locked = sub(pledge.locked, amount)?;
                self.pledges.insert(challenger, &pledge);
                self.credit(AccountId::from(job.poster), job.reward)?;
                job.state = JobState::Rejected;
                r
            };
            self.env().emit_event(ChallengeResolved {
                job: job_id,
                executor_honest,
                slashed: amount,
                to_winner,
                to_treasury,
            });
            Ok(())
        }

        fn try_pay_bounty(
            &mut self,
            bounty_id: BountyId,
            job_id: JobId,
            job: &Job,
        ) -> Result<(), Error> {
            let Some(mut bounty) = self.bounties.get(bounty_id) else { return Ok(()) };
            let Some(result) = self.results.get(job_id) else { return Ok(()) };
            let Some(needed) = bounty.best.checked_add(bounty.margin) else { return Ok(()) };
            if bounty.tranches_left == 0 || result.score < needed {
                return Ok(());
            }
            let amount = if bounty.tranches_left == 1 { bounty.escrow } else { bounty.tranche };
            bounty.escrow = sub(bounty.escrow, amount)?;
            bounty.tranches_left = bounty.tranches_left.checked_sub(1).ok_or(Error::Overflow)?;
            // A splitter that refuses the payment (an artifact it cannot pay) must not block
            // the executor's pay: the tranche then stays in the bounty.
            if self.splitter_pay_revenue(job.artifact, amount).is_err() {
                return Ok(());
            }
            bounty.best = result.score;
            self.bounties.insert(bounty_id, &bounty);
            self.env().emit_event(BountyPaid {
                bounty: bounty_id,
                job: job_id,
                artifact: job.artifact,
                amount,
                score: result.score,
            });
            Ok(())
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
            build_call::<ink::env::DefaultEnvironment>()
                .call(self.splitter)
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

        #[cfg(not(test))]
        fn splitter_pay_revenue(
            &mut self,
            artifact: ArtifactId,
            amount: Balance,
        ) -> Result<(), Error> {
            use ink::env::call::{build_call, ExecutionInput, Selector};
            use iollm_types::splitter::{selectors, Error as SplitterError};
            build_call::<ink::env::DefaultEnvironment>()
                .call(self.splitter)
                .transferred_value(amount)
                .exec_input(
                    ExecutionInput::new(Selector::new(selectors::PAY_REVENUE)).push_arg(artifact),
                )
                .returns::<Result<(), SplitterError>>()
                .try_invoke()
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::CallFailed)
        }

        #[cfg(test)]
        fn splitter_credit_units(
            &mut self,
            artifact: ArtifactId,
            account: AccountId,
            units: Balance,
        ) -> Result<(), Error> {
            tests::SPLITTER_CALLS
                .with(|c| c.borrow_mut().push(tests::Call::Credit(artifact, account, units)));
            Ok(())
        }

        #[cfg(test)]
        fn splitter_pay_revenue(
            &mut self,
            artifact: ArtifactId,
            amount: Balance,
        ) -> Result<(), Error> {
            if artifact == tests::UNPAYABLE {
                return Err(Error::CallFailed);
            }
            tests::SPLITTER_CALLS.with(|c| c.borrow_mut().push(tests::Call::Pay(artifact, amount)));
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
        use iollm_types::market::{events, selectors, Verification};

        /// A call the market made to the splitter.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Call {
            Credit(ArtifactId, AccountId, Balance),
            Pay(ArtifactId, Balance),
        }

        std::thread_local! {
            pub static SPLITTER_CALLS: RefCell<Vec<Call>> = const { RefCell::new(Vec::new()) };
        }

        /// The mock splitter refuses payments to this artifact.
        pub const UNPAYABLE: ArtifactId = 666;
        const CID: &[u8] = b"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
        const OUT: &[u8] = b"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
        const GPU: Capacity = Capacity { accelerator: 2, memory_gib: 80, throughput: 100 };
        const VERIFY: Verification =
            Verification { challenge_window: 5, verifiers: 2, collateral: 1_000, verifier_fee: 10 };

        fn acc() -> DefaultAccounts<Env> {
            default_accounts::<Env>()
        }

        fn splitter_addr() -> AccountId {
            AccountId::from([9; 32])
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
            }
        }

        fn commitment(score: u64) -> Commitment {
            Commitment { output_cid: OUT.to_vec(), score, loss: 1, trace_root: [3; 32] }
        }

        /// Market (admin alice, treasury frank); charlie (price 10, 20 % discount), django and
        /// eve pledged with 5 000 stake each; the contract holds enough balance to pay out.
        fn setup() -> Market {
            SPLITTER_CALLS.with(|c| c.borrow_mut().clear());
            let a = acc();
            set_block_number::<Env>(1);
            as_(a.alice, 0);
            let mut m = Market::new(splitter_addr(), a.frank);
            for (who, discount) in [(a.charlie, 2_000), (a.django, 0), (a.eve, 0)] {
                as_(who, 5_000);
                m.pledge(GPU, 10, discount).unwrap();
            }
            set_account_balance::<Env>(ink::env::account_id::<Env>(), 1_000_000);
            as_(a.alice, 0);
            m
        }

        /// `setup` plus a job by bob (reward 1 000, 50 units) claimed by charlie and submitted at
        /// block 2.
        fn submitted() -> (Market, JobId) {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 1_000);
            let id = m.post_job(spec(50)).unwrap();
            as_(a.charlie, 0);
            m.claim(id).unwrap();
            set_block_number::<Env>(2);
            m.submit_result(id, commitment(900_000)).unwrap();
            (m, id)
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
        }

        #[ink::test]
        fn post_job_validates_and_escrows() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 0);
            assert_eq!(m.post_job(spec(1)), Err(Error::ZeroAmount));
            as_(a.bob, 100);
            assert_eq!(m.post_job(JobSpec { spec_cid: vec![], ..spec(1) }), Err(Error::BadCid));
            assert_eq!(m.post_job(JobSpec { deadline: 1, ..spec(1) }), Err(Error::BadDeadline));
            let v9 = Verification { verifiers: 9, ..VERIFY };
            assert_eq!(
                m.post_job(JobSpec { verification: v9, ..spec(1) }),
                Err(Error::BadVerification)
            );
            let w0 = Verification { challenge_window: 0, ..VERIFY };
            assert_eq!(
                m.post_job(JobSpec { verification: w0, ..spec(1) }),
                Err(Error::BadVerification)
            );
            let fees = Verification { verifier_fee: 51, ..VERIFY };
            assert_eq!(
                m.post_job(JobSpec { verification: fees, ..spec(1) }),
                Err(Error::PriceTooHigh)
            );
            assert_eq!(m.post_job(JobSpec { bounty: Some(1), ..spec(1) }), Err(Error::BadBounty));
            let eval = JobSpec { kind: JobKind::EvalPath, bounty: Some(1), ..spec(1) };
            assert_eq!(m.post_job(eval), Err(Error::UnknownBounty));
            assert_eq!(m.job_count(), 0);
            assert_eq!(m.post_job(spec(1)), Ok(1));
            let job = m.job(1).unwrap();
            assert_eq!((job.reward, job.state, job.poster), (100, JobState::Open, *a.bob.as_ref()));
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
            let dear = m.post_job(spec(500)).unwrap();
            let heavy = m
                .post_job(JobSpec {
                    verification: Verification { collateral: 5_001, ..VERIFY },
                    ..spec(1)
                })
                .unwrap();
            assert_eq!(m.claim(id), Err(Error::NotPledged));
            as_(a.charlie, 0);
            assert_eq!(m.claim(big), Err(Error::CapacityTooSmall));
            // 500 units * 10 * 80 % = 4 000 > 1 000 - 2 * 10.
            assert_eq!(m.claim(dear), Err(Error::PriceTooHigh));
            assert_eq!(m.claim(heavy), Err(Error::InsufficientFreeStake));
            m.claim(id).unwrap();
            let job = m.job(id).unwrap();
            assert_eq!((job.state, job.ask, job.forgone), (JobState::Claimed, 400, 100));
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
        fn submit_result_is_for_the_executor_before_the_deadline() {
            let a = acc();
            let mut m = setup();
            as_(a.charlie, 0);
            assert_eq!(m.submit_result(1, commitment(1)), Err(Error::UnknownJob));
            as_(a.bob, 1_000);
            let id = m.post_job(spec(50)).unwrap();
            as_(a.charlie, 0);
            assert_eq!(m.submit_result(id, commitment(1)), Err(Error::WrongState));
            m.claim(id).unwrap();
            as_(a.django, 0);
            assert_eq!(m.submit_result(id, commitment(1)), Err(Error::NotExecutor));
            as_(a.charlie, 0);
            let bad = Commitment { output_cid: b"not a cid!".to_vec(), ..commitment(1) };
            assert_eq!(m.submit_result(id, bad), Err(Error::BadCid));
            set_block_number::<Env>(21);
            assert_eq!(m.submit_result(id, commitment(1)), Err(Error::DeadlinePassed));
            set_block_number::<Env>(20);
            m.submit_result(id, commitment(5)).unwrap();
            assert_eq!(m.job(id).unwrap().state, JobState::Submitted);
            assert_eq!(m.result(id), Some(commitment(5)));
            let ev: Vec<events::ResultSubmitted> = events_of(events::RESULT_SUBMITTED_TOPIC);
            assert_eq!(ev, vec![events::ResultSubmitted { job: id, commitment: commitment(5) }]);
        }

        #[ink::test]
        fn attest_rules() {
            let a = acc();
            let (mut m, id) = submitted();
            as_(a.django, 0);
            assert_eq!(m.attest(99), Err(Error::UnknownJob));
            as_(a.bob, 0);
            assert_eq!(m.attest(id), Err(Error::NotPledged));
            as_(a.charlie, 0);
            assert_eq!(m.attest(id), Err(Error::ConflictOfInterest));
            as_(a.django, 0);
            m.attest(id).unwrap();
            assert_eq!(m.attest(id), Err(Error::AlreadyVoted));
            as_(a.alice, 1);
            m.pledge(GPU, 1, 0).unwrap();
            as_(a.eve, 0);
            m.attest(id).unwrap();
            as_(a.alice, 0);
            assert_eq!(m.attest(id), Err(Error::EnoughAttestations));
            let ev: Vec<events::Attested> = events_of(events::ATTESTED_TOPIC);
            assert_eq!(ev[0], events::Attested { job: id, verifier: *a.django.as_ref() });
            // After the window, and on jobs not submitted.
            as_(a.bob, 1_000);
            let open = m.post_job(spec(1)).unwrap();
            as_(a.alice, 0);
            assert_eq!(m.attest(open), Err(Error::WrongState));
            // (Storage persists within one test: alice never attested.)
            let (mut m, id) = submitted();
            set_block_number::<Env>(8);
            as_(a.alice, 0);
            assert_eq!(m.attest(id), Err(Error::WindowClosed));
            assert_eq!(m.challenge(id), Err(Error::WindowClosed));
        }

        #[ink::test]
        fn finalize_pays_executor_verifiers_refunds_and_credits_units() {
            let a = acc();
            let (mut m, id) = submitted();
            as_(a.django, 0);
            m.attest(id).unwrap();
            assert_eq!(m.finalize(99), Err(Error::UnknownJob));
            set_block_number::<Env>(7);
            assert_eq!(m.finalize(id), Err(Error::WindowOpen));
            assert_eq!(m.job_output(id), None);
            set_block_number::<Env>(8);
            m.finalize(id).unwrap();
            // ask 400 (market value 500, 20 % joint-mining discount), 1 attester * 10, refund 590.
            assert_eq!(m.balance_of(a.charlie), 400);
            assert_eq!(m.balance_of(a.django), 10);
            assert_eq!(m.balance_of(a.bob), 590);
            assert_eq!(m.pledge_of(a.charlie).unwrap().locked, 0);
            assert_eq!(m.pledge_of(a.charlie).unwrap().stake, 5_000);
            SPLITTER_CALLS.with(|c| assert_eq!(*c.borrow(), vec![Call::Credit(7, a.charlie, 100)]));
            let job = m.job(id).unwrap();
            // One attestation of the two asked for: paid, but not verified.
            assert_eq!((job.state, job.verified), (JobState::Finalized, false));
            assert_eq!(m.job_output(id), None);
            assert_eq!(m.finalize(id), Err(Error::WrongState));
            let ev: Vec<events::JobFinalized> = events_of(events::JOB_FINALIZED_TOPIC);
            assert_eq!(
                ev,
                vec![events::JobFinalized {
                    job: id,
                    executor_paid: 400,
                    verifiers_paid: 10,
                    refund: 590,
                    units_credited: 100,
                    verified: false
                }]
            );
            // Pull payment.
            as_(a.charlie, 0);
            let before = get_account_balance::<Env>(a.charlie).unwrap();
            assert_eq!(m.withdraw(), Ok(400));
            assert_eq!(get_account_balance::<Env>(a.charlie).unwrap(), before + 400);
            assert_eq!(m.withdraw(), Err(Error::NothingToWithdraw));
            let ev: Vec<events::Withdrawn> = events_of(events::WITHDRAWN_TOPIC);
            assert_eq!(ev, vec![events::Withdrawn { account: *a.charlie.as_ref(), amount: 400 }]);
        }

        #[ink::test]
        fn a_fully_attested_job_is_verified_and_has_an_output() {
            let a = acc();
            let (mut m, id) = submitted();
            for v in [a.django, a.eve] {
                as_(v, 0);
                m.attest(id).unwrap();
            }
            set_block_number::<Env>(8);
            m.finalize(id).unwrap();
            assert!(m.job(id).unwrap().verified);
            assert_eq!(
                m.job_output(id),
                Some(JobOutput { poster: *a.bob.as_ref(), artifact: 7, output_cid: OUT.to_vec() })
            );
            assert_eq!(m.balance_of(a.bob), 1_000 - 400 - 20);
        }

        #[ink::test]
        fn a_lost_challenge_slashes_the_executor_and_refunds_the_poster() {
            let a = acc();
            let (mut m, id) = submitted();
            as_(a.django, 0);
            assert_eq!(m.vote(id, false), Err(Error::WrongState));
            as_(a.eve, 0);
            m.challenge(id).unwrap();
            assert_eq!(m.pledge_of(a.eve).unwrap().locked, 1_000);
            assert_eq!(m.job(id).unwrap().state, JobState::Challenged);
            assert_eq!(m.challenge(id), Err(Error::ConflictOfInterest));
            assert_eq!(m.vote(id, false), Err(Error::ConflictOfInterest));
            as_(a.django, 0);
            assert_eq!(m.challenge(id), Err(Error::WrongState));
            assert_eq!(m.attest(id), Err(Error::WrongState));
            set_block_number::<Env>(8);
            assert_eq!(m.finalize(id), Err(Error::WrongState));
            m.vote(id, false).unwrap();
            assert_eq!(m.vote(id, false), Err(Error::AlreadyVoted));
            as_(a.alice, 1);
            m.pledge(GPU, 1, 0).unwrap();
            m.vote(id, false).unwrap(); // quorum 2 reached
            let job = m.job(id).unwrap();
            assert_eq!(job.state, JobState::Rejected);
            // Executor loses its 1 000 collateral: 500 to the challenger, 500 to the treasury.
            let c = m.pledge_of(a.charlie).unwrap();
            assert_eq!((c.stake, c.locked), (4_000, 0));
            assert_eq!(m.pledge_of(a.eve).unwrap().locked, 0);
            assert_eq!(m.balance_of(a.eve), 500);
            assert_eq!(m.balance_of(a.frank), 500);
            assert_eq!(m.balance_of(a.bob), 1_000);
            assert_eq!(m.balance_of(a.charlie), 0);
            let ev: Vec<events::ChallengeResolved> = events_of(events::CHALLENGE_RESOLVED_TOPIC);
            assert_eq!(
                ev,
                vec![events::ChallengeResolved {
                    job: id,
                    executor_honest: false,
                    slashed: 1_000,
                    to_winner: 500,
                    to_treasury: 500
                }]
            );
            let votes: Vec<events::Voted> = events_of(events::VOTED_TOPIC);
            assert_eq!(votes.len(), 2);
            let ch: Vec<events::Challenged> = events_of(events::CHALLENGED_TOPIC);
            assert_eq!(ch, vec![events::Challenged { job: id, challenger: *a.eve.as_ref() }]);
        }

        #[ink::test]
        fn a_wrong_challenger_is_slashed_and_the_result_stands() {
            let a = acc();
            let (mut m, id) = submitted();
            as_(a.alice, 5_000);
            m.pledge(GPU, 1, 0).unwrap();
            as_(a.eve, 0);
            m.challenge(id).unwrap();
            for v in [a.django, a.alice] {
                as_(v, 0);
                m.vote(id, true).unwrap();
            }
            assert_eq!(m.job(id).unwrap().state, JobState::Submitted);
            let e = m.pledge_of(a.eve).unwrap();
            assert_eq!((e.stake, e.locked), (4_000, 0));
            assert_eq!(m.balance_of(a.charlie), 500);
            assert_eq!(m.balance_of(a.frank), 500);
            set_block_number::<Env>(8);
            m.finalize(id).unwrap();
            assert_eq!(m.balance_of(a.charlie), 900);
        }

        #[ink::test]
        fn a_challenger_needs_free_stake() {
            let a = acc();
            let (mut m, id) = submitted();
            as_(a.alice, 10);
            m.pledge(GPU, 1, 0).unwrap();
            assert_eq!(m.challenge(id), Err(Error::InsufficientFreeStake));
        }

        #[ink::test]
        fn expire_refunds_the_poster_and_slashes_a_defaulting_executor() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 1_000);
            let open = m.post_job(spec(50)).unwrap();
            let claimed = m.post_job(spec(50)).unwrap();
            as_(a.charlie, 0);
            m.claim(claimed).unwrap();
            assert_eq!(m.expire(99), Err(Error::UnknownJob));
            assert_eq!(m.expire(open), Err(Error::DeadlineNotReached));
            set_block_number::<Env>(21);
            m.expire(open).unwrap();
            assert_eq!(m.balance_of(a.bob), 1_000);
            m.expire(claimed).unwrap();
            // Refund 1 000 + half of the executor's 1 000 collateral.
            assert_eq!(m.balance_of(a.bob), 2_500);
            assert_eq!(m.balance_of(a.frank), 500);
            let c = m.pledge_of(a.charlie).unwrap();
            assert_eq!((c.stake, c.locked), (4_000, 0));
            assert_eq!(m.expire(open), Err(Error::WrongState));
            let ev: Vec<events::JobExpired> = events_of(events::JOB_EXPIRED_TOPIC);
            assert_eq!(
                ev,
                vec![
                    events::JobExpired { job: open, refund: 1_000, slashed: 0 },
                    events::JobExpired { job: claimed, refund: 1_000, slashed: 1_000 }
                ]
            );
        }

        #[ink::test]
        fn bounty_tranches_go_to_verified_breakthroughs() {
            let a = acc();
            let mut m = setup();
            as_(a.alice, 0);
            assert_eq!(m.post_bounty(CID.to_vec(), 0, 10, 100, 2, 50), Err(Error::ZeroAmount));
            as_(a.alice, 1_001);
            assert_eq!(m.post_bounty(CID.to_vec(), 0, 10, 100, 0, 50), Err(Error::BadBounty));
            assert_eq!(m.post_bounty(vec![], 0, 10, 100, 2, 50), Err(Error::BadCid));
            assert_eq!(m.post_bounty(CID.to_vec(), 0, 10, 100, 2, 1), Err(Error::BadDeadline));
            let b = m.post_bounty(CID.to_vec(), 0, 10, 100, 2, 50).unwrap();
            assert_eq!(m.bounty_count(), 1);
            let ev: Vec<events::BountyPosted> = events_of(events::BOUNTY_POSTED_TOPIC);
            assert_eq!(
                ev,
                vec![events::BountyPosted { bounty: b, sponsor: *a.alice.as_ref(), amount: 1_001 }]
            );

            let verification = Verification { verifiers: 1, ..VERIFY };
            let eval =
                JobSpec { kind: JobKind::EvalPath, bounty: Some(b), verification, ..spec(50) };
            // Three jobs: score 109 (not enough), 110 (wins tranche 1), 125 (wins the rest).
            let mut block = 1;
            for score in [109, 110, 125] {
                set_block_number::<Env>(block);
                as_(a.bob, 1_000);
                let id = m.post_job(JobSpec { deadline: block + 10, ..eval.clone() }).unwrap();
                as_(a.charlie, 0);
                m.claim(id).unwrap();
                m.submit_result(id, commitment(score)).unwrap();
                as_(a.django, 0);
                m.attest(id).unwrap();
                set_block_number::<Env>(block + 6);
                m.finalize(id).unwrap();
                block += 7;
            }
            SPLITTER_CALLS.with(|c| {
                let pays: Vec<_> =
                    c.borrow().iter().filter(|c| matches!(c, Call::Pay(..))).cloned().collect();
                assert_eq!(pays, vec![Call::Pay(7, 500), Call::Pay(7, 501)]);
            });
            let bounty = m.bounty(b).unwrap();
            assert_eq!((bounty.best, bounty.tranches_left, bounty.escrow), (125, 0, 0));
            let ev: Vec<events::BountyPaid> = events_of(events::BOUNTY_PAID_TOPIC);
            assert_eq!(
                ev[0],
                events::BountyPaid { bounty: b, job: 2, artifact: 7, amount: 500, score: 110 }
            );
        }

        #[ink::test]
        fn a_splitter_refusing_the_tranche_does_not_block_the_executors_pay() {
            let a = acc();
            let mut m = setup();
            as_(a.alice, 1_000);
            let b = m.post_bounty(CID.to_vec(), 0, 10, 100, 2, 50).unwrap();
            let verification = Verification { verifiers: 1, ..VERIFY };
            let eval = JobSpec {
                kind: JobKind::EvalPath,
                bounty: Some(b),
                verification,
                artifact: UNPAYABLE,
                ..spec(50)
            };
            as_(a.bob, 1_000);
            let id = m.post_job(eval).unwrap();
            as_(a.charlie, 0);
            m.claim(id).unwrap();
            m.submit_result(id, commitment(500)).unwrap();
            as_(a.django, 0);
            m.attest(id).unwrap();
            set_block_number::<Env>(7);
            m.finalize(id).unwrap();
            assert_eq!(m.balance_of(a.charlie), 400);
            let bounty = m.bounty(b).unwrap();
            assert_eq!((bounty.escrow, bounty.tranches_left, bounty.best), (1_000, 2, 100));
        }

        #[ink::test]
        fn the_sponsor_reclaims_an_expired_bounty() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 0);
            assert_eq!(m.reclaim_bounty(1), Err(Error::UnknownBounty));
            as_(a.bob, 900);
            let b = m.post_bounty(CID.to_vec(), 1, 10, 0, 3, 5).unwrap();
            as_(a.alice, 0);
            assert_eq!(m.reclaim_bounty(b), Err(Error::NotAdmin));
            as_(a.bob, 0);
            assert_eq!(m.reclaim_bounty(b), Err(Error::DeadlineNotReached));
            set_block_number::<Env>(6);
            assert_eq!(m.reclaim_bounty(b), Ok(900));
            assert_eq!(m.balance_of(a.bob), 900);
            assert_eq!(m.reclaim_bounty(b), Err(Error::NothingToWithdraw));
            let ev: Vec<events::BountyReclaimed> = events_of(events::BOUNTY_RECLAIMED_TOPIC);
            assert_eq!(ev, vec![events::BountyReclaimed { bounty: b, amount: 900 }]);
        }

        /// Random sequences of every message (errors allowed): at every step the money the
        /// market holds equals deposits minus payouts, and is exactly what it owes (stakes,
        /// unbonding, balances, escrow of live jobs and bounties). So the sum of what can be
        /// withdrawn never exceeds what the contract holds.
        #[ink::test]
        fn conservation_over_random_sequences() {
            let a = acc();
            let who = [a.bob, a.charlie, a.django, a.eve, a.frank];
            let mut done = [0u32; 13];
            for seed in 1..=4u64 {
                // A fresh contract account per seed: fresh storage.
                ink::env::test::set_callee::<Env>(AccountId::from([100 + seed as u8; 32]));
                let mut m = setup();
                let mut rng = seed;
                let mut next = |n: u64| {
                    rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (rng >> 33) % n
                };
                // setup() pledged 3 x 5 000; two more providers for committees.
                for extra in [a.frank, a.alice] {
                    as_(extra, 5_000);
                    m.pledge(GPU, 5, 0).unwrap();
                }
                let (mut deposited, mut paid_out) = (25_000u128, 0u128);
                let mut block = 1u32;
                for _ in 0..250 {
                    // Weighted towards the verification steps, which need earlier steps first.
                    const OPS: [usize; 22] =
                        [0, 1, 2, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 8, 8, 8, 8, 9, 10, 11, 12];
                    let op = OPS[next(22) as usize];
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
                            let bounty = if next(2) == 0 { None } else { Some(1) };
                            let kind =
                                if bounty.is_some() { JobKind::EvalPath } else { JobKind::Train };
                            let s = JobSpec {
                                kind,
                                bounty,
                                deadline: block + 2 + next(12) as u32,
                                verification: Verification { verifiers: next(3) as u8, ..VERIFY },
                                ..spec(next(60))
                            };
                            m.post_job(s).is_ok()
                        }
                        4 => {
                            done[4] += u32::from(m.claim(job).is_ok());
                            false
                        }
                        5 => {
                            done[5] +=
                                u32::from(m.submit_result(job, commitment(next(300))).is_ok());
                            false
                        }
                        6 => {
                            done[6] += u32::from(m.attest(job).is_ok());
                            false
                        }
                        7 => {
                            done[7] += u32::from(m.challenge(job).is_ok());
                            false
                        }
                        8 => {
                            done[8] += u32::from(m.vote(job, next(2) == 0).is_ok());
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
                        _ => {
                            if let Ok(amount) = m.withdraw() {
                                paid_out += amount;
                            }
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
                    let to_splitter: u128 = SPLITTER_CALLS.with(|c| {
                        c.borrow()
                            .iter()
                            .map(|c| if let Call::Pay(_, x) = c { *x } else { 0 })
                            .sum()
                    });
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
                        if matches!(
                            j.state,
                            JobState::Open
                                | JobState::Claimed
                                | JobState::Submitted
                                | JobState::Challenged
                        ) {
                            owed += j.reward;
                        }
                    }
                    for id in 1..=m.bounty_count() {
                        owed += m.bounty(id).unwrap().escrow;
                    }
                    assert_eq!(deposited, paid_out + to_splitter + owed, "seed {seed}");
                }
            }
            // The sequences reach every settlement path.
            for (op, name) in [
                (4, "claim"),
                (5, "submit"),
                (6, "attest"),
                (8, "vote"),
                (9, "finalize"),
                (10, "expire"),
            ] {
                assert!(done[op] > 0, "no successful {name}: {done:?}");
            }
        }

        #[ink::test]
        fn admin_only_parameters_and_upgrade() {
            let a = acc();
            let mut m = setup();
            as_(a.bob, 0);
            assert_eq!(m.set_params(a.bob, a.bob, 1), Err(Error::NotAdmin));
            assert_eq!(m.set_code_hash(Hash::from([1; 32])), Err(Error::NotAdmin));
            as_(a.alice, 0);
            m.set_params(a.django, a.eve, 3).unwrap();
            assert_eq!(m.params(), (a.alice, a.django, a.eve, 3));
            let ev: Vec<events::ParamsChanged> = events_of(events::PARAMS_CHANGED_TOPIC);
            assert_eq!(ev, vec![events::ParamsChanged { admin: *a.alice.as_ref() }]);
        }

        #[ink::test]
        #[should_panic(expected = "off-chain environment does not support `set_code_hash`")]
        fn admin_reaches_set_code_hash() {
            let mut m = setup();
            as_(acc().alice, 0);
            let _ = m.set_code_hash(Hash::from([1; 32]));
        }

        /// Storage written before an upgrade stays readable after it: the root's field order
        /// and the mappings' fixed keys are frozen here; a new version must keep decoding them.
        #[ink::test]
        fn storage_layout_is_frozen() {
            type RootV1 = (AccountId, AccountId, AccountId, BlockNumber, JobId, BountyId);
            let a = acc();
            let (m, id) = submitted();
            ink::env::set_contract_storage(&0u32, &m);
            let root: RootV1 = ink::env::get_contract_storage(&0u32).unwrap().unwrap();
            assert_eq!(root, (a.alice, splitter_addr(), a.frank, DEFAULT_UNBONDING_BLOCKS, 1, 0));
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
                (selectors::SUBMIT_RESULT, sel!("submit_result")),
                (selectors::ATTEST, sel!("attest")),
                (selectors::CHALLENGE, sel!("challenge")),
                (selectors::VOTE, sel!("vote")),
                (selectors::FINALIZE, sel!("finalize")),
                (selectors::EXPIRE, sel!("expire")),
                (selectors::POST_BOUNTY, sel!("post_bounty")),
                (selectors::RECLAIM_BOUNTY, sel!("reclaim_bounty")),
                (selectors::WITHDRAW, sel!("withdraw")),
                (selectors::SET_PARAMS, sel!("set_params")),
                (selectors::SET_CODE_HASH, sel!("set_code_hash")),
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
                (events::CHALLENGED_TOPIC, Challenged::SIGNATURE_TOPIC),
                (events::VOTED_TOPIC, Voted::SIGNATURE_TOPIC),
                (events::CHALLENGE_RESOLVED_TOPIC, ChallengeResolved::SIGNATURE_TOPIC),
                (events::JOB_FINALIZED_TOPIC, JobFinalized::SIGNATURE_TOPIC),
                (events::JOB_EXPIRED_TOPIC, JobExpired::SIGNATURE_TOPIC),
                (events::BOUNTY_POSTED_TOPIC, BountyPosted::SIGNATURE_TOPIC),
                (events::BOUNTY_PAID_TOPIC, BountyPaid::SIGNATURE_TOPIC),
                (events::BOUNTY_RECLAIMED_TOPIC, BountyReclaimed::SIGNATURE_TOPIC),
                (events::WITHDRAWN_TOPIC, Withdrawn::SIGNATURE_TOPIC),
                (events::PARAMS_CHANGED_TOPIC, ParamsChanged::SIGNATURE_TOPIC),
            ];
            for (ours, inks) in t {
                assert_eq!(Some(ours), inks);
            }
        }
    }
}
