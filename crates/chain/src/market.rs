//! Typed client of the market contract: every message, each dry-run first (a refusal is
//! [`ChainError::ContractRefused`] and nothing is submitted), then submitted and finalized.

use crate::contract::{proposed_eta, Executed};
use crate::{AccountId, Chain, ChainError, Signer};
use iollm_types::market::{
    calls, events, Accusation, Bounty, BountyId, Capacity, Challenge, Change, Commitment, Error,
    FinalState, Job, JobId, JobOutput, JobSpec, JobTerms, MarketParams, Pledge, SignUp,
};
use iollm_types::{Balance, BlockNumber};
use parity_scale_codec::Decode;

/// The market contract at a known address.
#[derive(Debug, Clone)]
pub struct MarketClient {
    chain: Chain,
    address: AccountId,
}

impl MarketClient {
    /// The market at `address` on `chain`.
    pub fn new(chain: Chain, address: impl Into<AccountId>) -> MarketClient {
        MarketClient { chain, address: address.into() }
    }

    /// Its address.
    pub fn address(&self) -> &AccountId {
        &self.address
    }

    /// The chain it is on.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Constructor input: `new(treasury, params)`.
    pub fn constructor(treasury: [u8; 32], params: &MarketParams) -> Vec<u8> {
        calls::new(treasury, params)
    }

    async fn exec<T: Decode>(
        &self,
        signer: &Signer,
        value: Balance,
        input: Vec<u8>,
        what: &'static str,
    ) -> Result<Executed<T>, ChainError> {
        self.chain.execute::<T, Error>(signer, &self.address, value, input, what).await
    }

    /// Pledges capacity with `stake` (or re-prices an existing pledge, adding `stake`).
    pub async fn pledge(
        &self,
        signer: &Signer,
        capacity: Capacity,
        price_per_unit: Balance,
        discount_bps: u16,
        stake: Balance,
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, stake, calls::pledge(capacity, price_per_unit, discount_bps), "()").await
    }

    /// Adds `amount` to the signer's stake.
    pub async fn top_up(
        &self,
        signer: &Signer,
        amount: Balance,
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, amount, calls::top_up(), "()").await
    }

    /// Starts unbonding `amount` of free stake.
    pub async fn unpledge(
        &self,
        signer: &Signer,
        amount: Balance,
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::unpledge(amount), "()").await
    }

    /// Posts a job escrowing `reward`; returns its id.
    pub async fn post_job(
        &self,
        signer: &Signer,
        spec: &JobSpec,
        reward: Balance,
    ) -> Result<Executed<JobId>, ChainError> {
        let call: Executed<JobId> =
            self.exec(signer, reward, calls::post_job(spec), "job id").await?;
        call.from_event(events::JOB_POSTED_TOPIC, "JobPosted", |e: events::JobPosted| e.job)
    }

    /// Claims an open job.
    pub async fn claim(&self, signer: &Signer, job: JobId) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::claim(job), "()").await
    }

    /// Submits the executor's commitment, with the proof of its last state for a training job
    /// (`iollm_types::market::FinalState`).
    pub async fn submit_result(
        &self,
        signer: &Signer,
        job: JobId,
        commitment: &Commitment,
        last: Option<&FinalState>,
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::submit_result(job, commitment, last), "()").await
    }

    /// Signs up to spot-check a job before its result exists, locking a bond, with the
    /// commitment to a secret (`iollm_types::spotcheck::commitment`); returns the sign-up's
    /// index.
    pub async fn sign_up(
        &self,
        signer: &Signer,
        job: JobId,
        commit: [u8; 32],
    ) -> Result<Executed<u8>, ChainError> {
        self.exec(signer, 0, calls::sign_up(job, commit), "u8").await
    }

    /// Reveals a sign-up's secret with the steps roots of the segments it checks (the one it
    /// draws, then the last) and their paths in the executor's checks tree (an attestation),
    /// or with none.
    pub async fn attest(
        &self,
        signer: &Signer,
        job: JobId,
        secret: [u8; 32],
        check: &Option<Vec<iollm_types::spotcheck::SegmentCheck>>,
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::attest(job, secret, check), "()").await
    }

    /// Finalizes a job after its challenge window.
    pub async fn finalize(&self, signer: &Signer, job: JobId) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::finalize(job), "()").await
    }

    /// Expires a job whose deadline passed undelivered.
    pub async fn expire(&self, signer: &Signer, job: JobId) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::expire(job), "()").await
    }

    /// Posts a breakthrough bounty escrowing `amount`; returns its id.
    #[allow(clippy::too_many_arguments)]
    pub async fn post_bounty(
        &self,
        signer: &Signer,
        benchmark_cid: &str,
        metric: u8,
        margin: u64,
        best: u64,
        tranches: u8,
        expires_at: BlockNumber,
        amount: Balance,
    ) -> Result<Executed<BountyId>, ChainError> {
        let input = calls::post_bounty(
            benchmark_cid.as_bytes(),
            metric,
            margin,
            best,
            tranches,
            expires_at,
        );
        let call: Executed<BountyId> = self.exec(signer, amount, input, "bounty id").await?;
        call.from_event(events::BOUNTY_POSTED_TOPIC, "BountyPosted", |e: events::BountyPosted| {
            e.bounty
        })
    }

    /// Returns what is left of an expired bounty to its sponsor's balance.
    pub async fn reclaim_bounty(
        &self,
        signer: &Signer,
        bounty: BountyId,
    ) -> Result<Executed<Balance>, ChainError> {
        self.exec(signer, 0, calls::reclaim_bounty(bounty), "amount").await
    }

    /// Claims a bounty tranche for a finalized job that competed for it; returns the amount.
    pub async fn pay_bounty(
        &self,
        signer: &Signer,
        job: JobId,
    ) -> Result<Executed<Balance>, ChainError> {
        self.exec(signer, 0, calls::pay_bounty(job), "amount").await
    }

    /// Pays out the signer's balance (and matured unbonding stake).
    pub async fn withdraw(&self, signer: &Signer) -> Result<Executed<Balance>, ChainError> {
        self.exec(signer, 0, calls::withdraw(), "amount").await
    }

    /// Admin, once: names the splitter (deployed after the market).
    pub async fn wire_splitter(
        &self,
        signer: &Signer,
        splitter: [u8; 32],
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::wire_splitter(splitter), "()").await
    }

    /// Admin, once: names the dispute contract (deployed after the market, its opener).
    pub async fn wire_dispute(
        &self,
        signer: &Signer,
        dispute: [u8; 32],
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::wire_dispute(dispute), "()").await
    }

    /// Challenges a training job's result by the dispute game, locking a bond: the claim is
    /// the signer's trace root with the paths of the job's `h_0` (leaf 0) and its `h_n` (leaf
    /// `n`). Returns the challenge's index on the job.
    pub async fn challenge(
        &self,
        signer: &Signer,
        job: JobId,
        trace_root: [u8; 32],
        first_path: &[[u8; 32]],
        last: [u8; 32],
        last_path: &[[u8; 32]],
    ) -> Result<Executed<u16>, ChainError> {
        let input = calls::challenge(job, trace_root, first_path, last, last_path);
        self.exec(signer, 0, input, "challenge index").await
    }

    /// Challenges a submitted result's output package with `question` (bonded like
    /// [`MarketClient::challenge`]); the challenge's index.
    pub async fn challenge_output(
        &self,
        signer: &Signer,
        job: JobId,
        question: iollm_types::package::Question,
    ) -> Result<Executed<u16>, ChainError> {
        let input = calls::challenge_output(job, question);
        self.exec(signer, 0, input, "challenge index").await
    }

    /// Challenges a submitted job's `h_0` (an initial game: the executor must show it is the
    /// initial state of the job's config and seed), bonded as [`MarketClient::challenge`].
    pub async fn challenge_initial(
        &self,
        signer: &Signer,
        job: JobId,
    ) -> Result<Executed<u16>, ChainError> {
        self.exec(signer, 0, calls::challenge_initial(job), "challenge index").await
    }

    /// Settles challenge `index` of a job once its game is decided or its side to move is
    /// late (anyone).
    pub async fn settle_challenge(
        &self,
        signer: &Signer,
        job: JobId,
        index: u16,
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::settle_challenge(job, index), "()").await
    }

    /// An accused attester defends the job's result in its own game against accusation
    /// `accusation`'s claim (it in the executor's place). Returns the game's id.
    pub async fn defend(
        &self,
        signer: &Signer,
        job: JobId,
        accusation: u16,
    ) -> Result<Executed<u64>, ChainError> {
        self.exec(signer, 0, calls::defend(job, accusation), "game id").await
    }

    /// Settles the job's accused attester `sign_up` (anyone): slashed once it lost a defence or
    /// let an accusation pass undefended; its bond back once every game of the job has ended
    /// and it won a defence against every accusation.
    pub async fn settle_attester(
        &self,
        signer: &Signer,
        job: JobId,
        sign_up: u8,
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::settle_attester(job, sign_up), "()").await
    }

    /// Accusation `index` of a rejected job until its challenger releases it.
    pub async fn accusation_of(
        &self,
        job: JobId,
        index: u16,
    ) -> Result<Option<Accusation>, ChainError> {
        self.chain.query(&self.address, calls::accusation_of(job, index), "accusation").await
    }

    /// The game in which sign-up `sign_up` defends against accusation `accusation`, if any.
    pub async fn defence_of(
        &self,
        job: JobId,
        sign_up: u8,
        accusation: u16,
    ) -> Result<Option<u64>, ChainError> {
        let input = calls::defence_of(job, sign_up, accusation);
        self.chain.query(&self.address, input, "defence").await
    }

    /// Spot-check sign-up `index` of a job until its verifier releases it.
    pub async fn sign_up_of(&self, job: JobId, index: u8) -> Result<Option<SignUp>, ChainError> {
        self.chain.query(&self.address, calls::sign_up_of(job, index), "sign-up").await
    }

    /// Challenge `index` of a job until its challenger releases it.
    pub async fn game_of(&self, job: JobId, index: u16) -> Result<Option<Challenge>, ChainError> {
        self.chain.query(&self.address, calls::game_of(job, index), "challenge").await
    }

    /// Frees the signer's records of an ended job (and its settled challenge's game), so that
    /// their storage deposits come back to it.
    pub async fn release(&self, signer: &Signer, job: JobId) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::release(job), "()").await
    }

    /// Admin: announces a change; returns the block from which it can be applied.
    pub async fn propose_change(
        &self,
        signer: &Signer,
        change: &Change,
    ) -> Result<Executed<BlockNumber>, ChainError> {
        let call = self.exec(signer, 0, calls::propose_change(change), "block number").await?;
        proposed_eta::<Change>(call)
    }

    /// Applies the announced change once its timelock has passed (anyone).
    pub async fn apply_change(&self, signer: &Signer) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::apply_change(), "()").await
    }

    /// Admin: proposes a successor, who must accept.
    pub async fn propose_admin(
        &self,
        signer: &Signer,
        admin: [u8; 32],
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::propose_admin(admin), "()").await
    }

    /// The proposed admin takes over.
    pub async fn accept_admin(&self, signer: &Signer) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::accept_admin(), "()").await
    }

    /// Admin, splitter, treasury and the market-wide parameters.
    pub async fn params(
        &self,
    ) -> Result<([u8; 32], Option<[u8; 32]>, [u8; 32], MarketParams), ChainError> {
        self.chain.query(&self.address, calls::params(), "params").await
    }

    /// The announced admin change and the block from which it can be applied.
    pub async fn pending_change(&self) -> Result<Option<(Change, BlockNumber)>, ChainError> {
        self.chain.query(&self.address, calls::pending_change(), "pending change").await
    }

    /// `account`'s pledge.
    pub async fn pledge_of(&self, account: [u8; 32]) -> Result<Option<Pledge>, ChainError> {
        self.chain.query(&self.address, calls::pledge_of(account), "pledge").await
    }

    /// A job.
    pub async fn job(&self, job: JobId) -> Result<Option<Job>, ChainError> {
        self.chain.query(&self.address, calls::job(job), "job").await
    }

    /// The last job id given out (jobs are numbered from 1).
    pub async fn job_count(&self) -> Result<JobId, ChainError> {
        self.chain.query(&self.address, calls::job_count(), "job count").await
    }

    /// A job's commitment.
    pub async fn result(&self, job: JobId) -> Result<Option<Commitment>, ChainError> {
        self.chain.query(&self.address, calls::result(job), "commitment").await
    }

    /// A job's spec CID (text), until its poster releases it (a verified job keeps it).
    pub async fn job_spec(&self, job: JobId) -> Result<Option<Vec<u8>>, ChainError> {
        self.chain.query(&self.address, calls::job_spec(job), "job spec").await
    }

    /// A job's benchmark and executor allow-list, if it has either.
    pub async fn job_terms(&self, job: JobId) -> Result<Option<JobTerms>, ChainError> {
        self.chain.query(&self.address, calls::job_terms(job), "job terms").await
    }

    /// A bounty.
    pub async fn bounty(&self, bounty: BountyId) -> Result<Option<Bounty>, ChainError> {
        self.chain.query(&self.address, calls::bounty(bounty), "bounty").await
    }

    /// What `account` can withdraw from the market now.
    pub async fn balance_of(&self, account: [u8; 32]) -> Result<Balance, ChainError> {
        self.chain.query(&self.address, calls::balance_of(account), "balance").await
    }

    /// A finalized, verified job's output.
    pub async fn job_output(&self, job: JobId) -> Result<Option<JobOutput>, ChainError> {
        self.chain.query(&self.address, calls::job_output(job), "job output").await
    }
}
