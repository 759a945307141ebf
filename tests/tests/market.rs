//! End to end against a real substrate-contracts-node: registry, market and splitter built with
//! cargo-contract, deployed and wired by the devnet library, driven through the CLI's library
//! code (`iollm_cli::market`). Every balance is checked to the unit: a participant's free
//! balance changes by exactly what it was paid minus the fees, storage deposits and values of
//! its own calls.
//!
//! The security review's attacks (issue 13's findings 1–12) each run here against the node and
//! are shown to fail. "Verified" means unchallenged (or every game won) plus the market-wide
//! minimum of attestations (`min_verifiers`, 1 on the devnet) by bonded providers other than
//! the poster and executor; each test says where it relies on that. Challenges here are games
//! in the deployed dispute contract decided by a side's deadline, over made-up traces
//! `[h_0, h_1]` of a one-step job (`tests/dispute_chain.rs` plays whole games of a real run).

use anyhow::Result;
use iollm_chain::contract::{Executed, StorageDeposit};
use iollm_chain::Connection;
use iollm_chain::{ChainError, Signer};
use iollm_cli::market::{self as m, MarketCmdError, PostJob, WithdrawFrom};
use iollm_cli::model;
use iollm_compute::merkle::Sha;
use iollm_tests::testnet;
use iollm_types::game::GameConfig;
use iollm_types::market::events::{Event, JOB_POSTED_TOPIC};
use iollm_types::market::{
    Capacity, Change, Commitment, FinalState, GameSpec, JobKind, JobState, MarketParams,
    Verification,
};
use iollm_types::registry::Kind;
use iollm_types::split::SplitRule;
use iollm_types::spotcheck;
use std::time::Duration;

const CID: &str = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
const OUT: &str = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
const GPU: Capacity = Capacity { accelerator: 2, memory_gib: 80, throughput: 100 };
const PRICE: u128 = 1_000_000_000;
const STAKE: u128 = 1_000_000_000_000;
const REWARD: u128 = 1_000_000_000_000;
/// The devnet's minimum for a 50-unit job: collateral factor 2 × reference price × 50.
const COLLATERAL: u128 = 100_000_000_000;
const FEE: u128 = 1_000_000_000;

/// Tracks one account's free balance against what its calls cost and what it was paid.
struct Ledger {
    signer: Signer,
    start: u128,
    spent: u128,
    received: u128,
}

impl Ledger {
    async fn new(ctx: &Connection, name: &str) -> Result<Ledger> {
        let signer = Signer::dev(name)?;
        let start = ctx.chain.free_balance(&signer.account()).await?;
        Ok(Ledger { signer, start, spent: 0, received: 0 })
    }

    /// Records a call: its fee, its storage deposit and the value it transferred.
    fn paid<T>(&mut self, call: &Executed<T>, value: u128) -> &mut Self {
        self.spent += call.fee + value;
        match call.dry_run.storage_deposit {
            StorageDeposit::Charge(d) => self.spent += d,
            StorageDeposit::Refund(d) => self.received += d,
        }
        self
    }

    async fn check(&self, ctx: &Connection) -> Result<()> {
        let now = ctx.chain.free_balance(&self.signer.account()).await?;
        assert_eq!(
            now,
            self.start + self.received - self.spent,
            "{}: start {} received {} spent {}",
            self.signer.account(),
            self.start,
            self.received,
            self.spent
        );
        Ok(())
    }
}

/// `who` frees its records of an ended `job`, and is refunded the storage deposits it paid.
async fn release(ctx: &Connection, who: &mut Ledger, job: u64) -> Result<()> {
    let call = m::release(ctx, &who.signer, job).await?;
    let deposit = call.dry_run.storage_deposit;
    assert!(matches!(deposit, StorageDeposit::Refund(d) if d > 0), "{deposit:?}");
    who.paid(&call, 0);
    Ok(())
}

/// Withdraws and checks the amount; records it in the ledger.
async fn withdraw(
    ctx: &Connection,
    who: &mut Ledger,
    from: WithdrawFrom,
    expected: u128,
) -> Result<()> {
    let w = m::withdraw(ctx, &who.signer, from).await?;
    assert_eq!(w.value, expected, "{} from {from:?}", who.signer.account());
    who.paid(&w, 0);
    who.received += expected;
    Ok(())
}

fn verification(window: u32) -> Verification {
    Verification {
        challenge_window: window,
        verifiers: 1,
        collateral: COLLATERAL,
        verifier_fee: FEE,
    }
}

/// The state root every job here starts from.
const H0: [u8; 32] = [6; 32];

/// The game spec of the training jobs here: a valid 1-layer step, one checkpoint of one step
/// from [`H0`], 2 blocks a move.
fn game() -> GameSpec {
    GameSpec {
        config: GameConfig::SMALLEST,
        config_hash: [4; 32],
        corpus_root: [5; 32],
        every: 1,
        checkpoints: 1,
        h0: H0,
        move_blocks: 2,
        output: iollm_types::package::OutputCommit {
            header_root: [7; 32],
            header_len: iollm_types::package::PIECE_BYTES,
            params: GameConfig::SMALLEST.params(),
            config_json: [8; 32],
        },
        base: None,
    }
}

/// The steps root every made-up run here reaches in its one segment.
const STEPS: [u8; 32] = [8; 32];

/// The checks root the executors here commit: one segment, reaching [`STEPS`].
fn checks_root() -> [u8; 32] {
    spotcheck::checks_root::<Sha>(&[spotcheck::leaf::<Sha>(&STEPS)])
}

/// Signs `who` up to spot-check `job` (a bond locked); its secret.
async fn sign_up(ctx: &Connection, who: &mut Ledger, job: u64) -> Result<[u8; 32]> {
    let secret = m::fresh_secret()?;
    who.paid(&m::sign_up(ctx, &who.signer, job, &secret).await?, 0);
    Ok(secret)
}

/// Reveals `secret` with the made-up run's one segment: an attestation.
async fn spot_check(
    ctx: &Connection,
    who: &Signer,
    job: u64,
    secret: &[u8; 32],
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.market()?.attest(who, job, *secret, &Some(vec![(STEPS, Vec::new())])).await?)
}

/// A made-up trace `[H0, last]`: its root and the paths of its two leaves.
fn trace(last: [u8; 32]) -> ([u8; 32], Vec<[u8; 32]>, Vec<[u8; 32]>) {
    let leaves = [H0, last];
    let path = |i| iollm_compute::merkle::proof(&leaves, i).expect("in range");
    (iollm_compute::merkle::root(&leaves), path(0), path(1))
}

/// Challenges `job` with the made-up trace ending in `last`; the challenge's index.
async fn challenge(
    ctx: &Connection,
    who: &Signer,
    job: u64,
    last: [u8; 32],
) -> Result<Executed<u16>, ChainError> {
    let (root, first, last_path) = trace(last);
    ctx.market().expect("deployed").challenge(who, job, root, &first, last, &last_path).await
}

/// The last state of the made-up run every training job here is done with: a header of
/// [`game`]'s config after its one step, with a loss of 0, its root `h_n` (the trace is
/// `[H0, h_n]`) and its proof.
fn last_state() -> ([u8; 32], FinalState) {
    let (h_n, _, last) = FinalState::made_up::<Sha>(&game(), 0, [8; 32]);
    (h_n, last)
}

/// Submits the made-up run's result for training job `job`, scored `score`.
async fn submit(
    ctx: &Connection,
    who: &Signer,
    job: u64,
    score: u64,
) -> Result<Executed<()>, MarketCmdError> {
    let (h_n, last) = last_state();
    let result = Commitment {
        output_cid: OUT.as_bytes().to_vec(),
        score,
        loss: 0,
        trace_root: trace(h_n).0,
        checks_root: checks_root(),
    };
    m::submit(ctx, who, job, &result, Some(&last)).await
}

fn train_job(artifact: u64, deadline: u32) -> PostJob {
    let need = Capacity { accelerator: 1, memory_gib: 24, throughput: 10 };
    PostJob::new(JobKind::Train, CID, artifact, 50, need, deadline, verification(2), REWARD)
        .with_game(game())
}

async fn block(ctx: &Connection) -> Result<u32> {
    let header = ctx.chain.api().blocks().at_latest().await?;
    Ok(header.number())
}

/// Produces blocks until the chain is past `target` ([`iollm_tests::advance_past`], by
/// ferdie, pledged here first).
async fn advance_past(ctx: &Connection, target: u32) -> Result<()> {
    let ferdie = Signer::dev("ferdie")?;
    if ctx.market()?.pledge_of(ferdie.account_bytes()).await?.is_none() {
        m::pledge(ctx, &ferdie, GPU, PRICE, 0, 1).await?;
    }
    iollm_tests::advance_past(ctx, &ferdie, target).await
}

#[tokio::test]
async fn a_job_pays_its_executor_verifier_and_designer_to_the_unit() -> Result<()> {
    let net = testnet().await?;
    let ctx = &net.connection;
    let mut alice = Ledger::new(ctx, "alice").await?; // admin and treasury
    let mut bob = Ledger::new(ctx, "bob").await?; // designer
    let mut charlie = Ledger::new(ctx, "charlie").await?; // GPU provider, 20 % joint mining
    let mut dave = Ledger::new(ctx, "dave").await?; // verifier
    let mut eve = Ledger::new(ctx, "eve").await?; // user paying revenue; a silent verifier

    let reg = ctx
        .registry()?
        .register(&bob.signer, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY)
        .await?;
    bob.paid(&reg.call, 0);
    let artifact = reg.id;
    let rule = SplitRule {
        designer_bps: 5_000,
        compute_bps: 3_000,
        upstream_bps: 1_500,
        treasury_bps: 500,
    };
    let c = m::set_split(ctx, &bob.signer, artifact, rule).await?;
    bob.paid(&c, 0);

    let c = m::pledge(ctx, &charlie.signer, GPU, PRICE, 2_000, STAKE).await?;
    charlie.paid(&c, STAKE);
    let c = m::pledge(ctx, &dave.signer, GPU, PRICE, 0, STAKE).await?;
    dave.paid(&c, STAKE);
    let c = m::pledge(ctx, &eve.signer, GPU, PRICE, 0, STAKE).await?;
    eve.paid(&c, STAKE);

    let deadline = block(ctx).await? + 100;
    let post = m::post_job(ctx, &bob.signer, &train_job(artifact, deadline)).await?;
    bob.paid(&post, REWARD);
    let job = post.value;
    // A transaction says where it landed: the finalized block it names holds it.
    let landed = ctx.chain.transaction(&post.included).await?.expect("the block holds the post");
    assert_eq!(landed.block, post.included.block);
    assert!(landed.block <= block(ctx).await?);
    let elsewhere = iollm_chain::contract::Included { tx_hash: [0; 32], ..post.included };
    assert_eq!(ctx.chain.transaction(&elsewhere).await?, None);
    // Dave signs up to spot-check the job before its result exists; so does eve, who will
    // never reveal her secret. A signed-up verifier may not execute the job.
    let secret = sign_up(ctx, &mut dave, job).await?;
    sign_up(ctx, &mut eve, job).await?;
    let err = m::claim(ctx, &dave.signer, job).await.unwrap_err();
    assert!(err.to_string().contains("party to"), "{err}");
    let c = m::claim(ctx, &charlie.signer, job).await?;
    charlie.paid(&c, 0);
    assert_eq!(
        ctx.market()?.pledge_of(charlie.signer.account_bytes()).await?.unwrap().locked,
        COLLATERAL
    );
    // Locked collateral cannot be unbonded.
    let err = m::unpledge(ctx, &charlie.signer, STAKE).await.unwrap_err();
    assert!(err.to_string().contains("not enough free (unlocked) stake"), "{err}");

    // (f) No verifier knows its segment before the result is committed: the draw needs the
    // trace root, a secret cannot be revealed before the result exists, and no one signs up
    // (picks a secret) once it does.
    let early = spot_check(ctx, &dave.signer, job, &secret).await;
    assert!(early.unwrap_err().to_string().contains("not in a state that allows this"));
    // A loss other than the one the run's last state holds is refused (at the dry run: nothing
    // is sent, nothing paid).
    let (h_n, last) = last_state();
    let lying = Commitment {
        output_cid: OUT.as_bytes().to_vec(),
        score: 900_000,
        loss: 1,
        trace_root: trace(h_n).0,
        checks_root: checks_root(),
    };
    let err = m::submit(ctx, &charlie.signer, job, &lying, Some(&last)).await.unwrap_err();
    assert!(err.to_string().contains("last state is not proven"), "{err}");
    let c = submit(ctx, &charlie.signer, job, 900_000).await?;
    charlie.paid(&c, 0);
    let ferdie = Signer::dev("ferdie")?;
    if ctx.market()?.pledge_of(ferdie.account_bytes()).await?.is_none() {
        m::pledge(ctx, &ferdie, GPU, PRICE, 0, 1).await?;
    }
    let late = m::sign_up(ctx, &ferdie, job, &m::fresh_secret()?).await.unwrap_err();
    assert!(late.to_string().contains("sign-ups close when the result is submitted"), "{late}");
    let c = spot_check(ctx, &dave.signer, job, &secret).await?;
    dave.paid(&c, 0);
    let err = m::finalize(ctx, &eve.signer, job).await.unwrap_err();
    assert!(err.to_string().contains("challenge window is still open"), "{err}");

    let submitted_at = m::show_job(ctx, job).await?.0.submitted_at;
    advance_past(ctx, submitted_at + 2).await?;
    let fin = m::finalize(ctx, &eve.signer, job).await?;
    eve.paid(&fin, 0);
    let (done, _, result) = m::show_job(ctx, job).await?;
    assert_eq!((done.state, done.verified), (JobState::Finalized, true));
    let result = result.expect("a finalized job keeps its submitted result");
    assert_eq!((result.output_cid.as_slice(), result.trace_root), (OUT.as_bytes(), trace(h_n).0));

    // Market value 50 units x PRICE; 20 % forgone as share units, whose value the poster pays
    // as revenue of the artifact (no holders or parents yet: 95 % back to the owner, 5 % to the
    // treasury); one verifier fee. Eve never revealed: her bond is slashed, half to the poster
    // and half to the treasury (alice).
    let value = 50 * PRICE;
    let forgone = value / 5;
    let ask = value - forgone;
    let forgone_treasury = forgone * 500 / 10_000;
    let market = ctx.market()?;
    let refund = REWARD - ask - forgone - FEE + COLLATERAL / 2;
    assert_eq!(market.balance_of(charlie.signer.account_bytes()).await?, ask);
    assert_eq!(market.balance_of(dave.signer.account_bytes()).await?, FEE);
    assert_eq!(market.balance_of(bob.signer.account_bytes()).await?, refund);
    assert_eq!(market.balance_of(alice.signer.account_bytes()).await?, COLLATERAL / 2);
    let p = market.pledge_of(eve.signer.account_bytes()).await?.unwrap();
    assert_eq!((p.stake, p.locked), (STAKE - COLLATERAL, 0));
    let p = market.pledge_of(dave.signer.account_bytes()).await?.unwrap();
    assert_eq!((p.stake, p.locked), (STAKE, 0));
    let splitter = ctx.splitter()?;
    assert_eq!(splitter.units_of(artifact, charlie.signer.account_bytes()).await?, value / 5);

    // Revenue: 50 % designer, 30 % compute (charlie, the only holder), 15 % upstream (no
    // parents: to the designer), 5 % treasury.
    let revenue = 1_000_001;
    let c = m::pay_revenue(ctx, &eve.signer, artifact, revenue).await?;
    eve.paid(&c, revenue);
    let compute = revenue * 3_000 / 10_000;
    let treasury = revenue * 500 / 10_000;
    let designer = revenue - compute - treasury;

    withdraw(ctx, &mut charlie, WithdrawFrom::Market, ask).await?;
    withdraw(ctx, &mut charlie, WithdrawFrom::Splitter(Some(artifact)), compute).await?;
    withdraw(ctx, &mut dave, WithdrawFrom::Market, FEE).await?;
    withdraw(ctx, &mut bob, WithdrawFrom::Market, refund).await?;
    withdraw(ctx, &mut alice, WithdrawFrom::Market, COLLATERAL / 2).await?;
    let from_units = forgone - forgone_treasury;
    withdraw(ctx, &mut bob, WithdrawFrom::Splitter(None), designer + from_units).await?;
    withdraw(ctx, &mut alice, WithdrawFrom::Splitter(None), treasury + forgone_treasury).await?;
    let err = m::withdraw(ctx, &dave.signer, WithdrawFrom::Market).await.unwrap_err();
    assert!(err.to_string().contains("market refused: nothing to withdraw"), "{err}");
    // Finding 12: eve's finalize freed nothing, so she was refunded no deposit anyone else
    // paid; each party frees its own records (a verified job keeps its spec and result, the
    // provenance of its output, so the executor has nothing to free).
    assert!(matches!(fin.dry_run.storage_deposit, StorageDeposit::Charge(_)));
    for who in [&mut dave, &mut eve, &mut bob] {
        release(ctx, who, job).await?;
    }
    let err = m::release(ctx, &charlie.signer, job).await.unwrap_err();
    assert!(err.to_string().contains("nothing of yours to release"), "{err}");
    assert!(market.result(job).await?.is_some());

    // Provenance: the job's verified output is registered as a model derived from the artifact,
    // only by the job's poster and only under exactly the verified output CID; then versioned,
    // transferred and deprecated, each refused to whoever may not.
    let parent = [iollm_types::registry::Parent {
        id: artifact,
        relation: iollm_types::registry::Relation::Finetune,
    }];
    let from_job = |who: &Signer, cid: &'static str| {
        let who = who.clone();
        async move {
            ctx.registry()?.register_from_job(&who, job, Kind::Model, cid, &parent, rule).await
        }
    };
    let err = from_job(&bob.signer, CID).await.unwrap_err();
    assert!(err.to_string().contains("differs from the job's verified output CID"), "{err}");
    let err = from_job(&eve.signer, OUT).await.unwrap_err();
    assert!(err.to_string().contains("only the job's poster"), "{err}");
    let output = from_job(&bob.signer, OUT).await?;
    bob.paid(&output.call, 0);
    let err = from_job(&bob.signer, OUT).await.unwrap_err();
    assert!(err.to_string().contains("already registered"), "{err}");
    let record = model::show(ctx, output.id).await?;
    assert_eq!((record.job, record.parents.as_slice()), (Some(job), &parent[..]));

    let err = ctx.registry()?.new_version(&eve.signer, output.id, OUT).await.unwrap_err();
    assert!(err.to_string().contains("you do not own this artifact"), "{err}");
    let v2 = ctx.registry()?.new_version(&bob.signer, output.id, CID).await?;
    bob.paid(&v2.call, 0);
    let record = model::show(ctx, v2.id).await?;
    assert_eq!((record.version, record.previous), (2, Some(output.id)));
    let c = ctx.registry()?.transfer(&bob.signer, v2.id, charlie.signer.account_bytes()).await?;
    bob.paid(&c, 0);
    let err = ctx.registry()?.deprecate(&bob.signer, v2.id).await.unwrap_err();
    assert!(err.to_string().contains("you do not own this artifact"), "{err}");
    let c = ctx.registry()?.deprecate(&charlie.signer, v2.id).await?;
    charlie.paid(&c, 0);
    let record = model::show(ctx, v2.id).await?;
    assert_eq!((record.owner, record.deprecated), (charlie.signer.account_bytes(), true));
    for who in [&alice, &bob, &charlie, &dave, &eve] {
        who.check(ctx).await?;
    }
    let p = market.pledge_of(charlie.signer.account_bytes()).await?.unwrap();
    assert_eq!((p.stake, p.locked), (STAKE, 0));
    Ok(())
}

/// A game the executor loses (it does not answer) rejects its result: its collateral is
/// slashed, half to the challenger; its attester keeps its bond (silence proves nothing about
/// the result it vouched for).
#[tokio::test]
async fn a_lost_challenge_is_slashed_an_expired_job_refunded_and_strangers_refused() -> Result<()> {
    let net = testnet().await?;
    let ctx = &net.connection;
    let mut bob = Ledger::new(ctx, "bob").await?;
    let mut charlie = Ledger::new(ctx, "charlie").await?;
    let mut dave = Ledger::new(ctx, "dave").await?;
    let mut eve = Ledger::new(ctx, "eve").await?;
    let artifact = ctx
        .registry()?
        .register(&bob.signer, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY)
        .await?;
    bob.paid(&artifact.call, 0);
    for who in [&mut charlie, &mut dave, &mut eve] {
        let c = m::pledge(ctx, &who.signer, GPU, PRICE, 0, STAKE).await?;
        who.paid(&c, STAKE);
    }

    // Charlie submits a result, dave attests it (locking a bond), eve challenges it with her
    // own claim; charlie never answers the game: past his deadline anyone settles it.
    let deadline = block(ctx).await? + 100;
    let post = m::post_job(ctx, &bob.signer, &train_job(artifact.id, deadline)).await?;
    bob.paid(&post, REWARD);
    let job = post.value;
    let secret = sign_up(ctx, &mut dave, job).await?;
    charlie.paid(&m::claim(ctx, &charlie.signer, job).await?, 0);
    charlie.paid(&submit(ctx, &charlie.signer, job, 1).await?, 0);
    dave.paid(&spot_check(ctx, &dave.signer, job, &secret).await?, 0);
    let market = ctx.market()?;
    let p = market.pledge_of(dave.signer.account_bytes()).await?.unwrap();
    assert_eq!(p.locked, COLLATERAL, "an attester's bond");
    let err = challenge(ctx, &charlie.signer, job, [2; 32]).await.unwrap_err();
    assert!(err.to_string().contains("party to"), "{err}");
    let err = challenge(ctx, &dave.signer, job, [2; 32]).await.unwrap_err();
    assert!(err.to_string().contains("attested or challenged"), "{err}");
    let opened = challenge(ctx, &eve.signer, job, [2; 32]).await?;
    eve.paid(&opened, 0);
    assert_eq!(opened.value, 0);
    let challenge = market.game_of(job, 0).await?.expect("the game is open");
    assert_eq!(challenge.challenger, eve.signer.account_bytes());
    let game_id = challenge.game;
    assert!(ctx.dispute()?.game(game_id).await?.is_some());
    let err = m::settle_challenge(ctx, &bob.signer, job, 0).await.unwrap_err();
    assert!(err.to_string().contains("not decided yet"), "{err}");
    let err = m::finalize(ctx, &bob.signer, job).await.unwrap_err();
    assert!(err.to_string().contains("window is still open"), "{err}");
    advance_past(ctx, block(ctx).await? + game().move_blocks).await?;
    let err = m::finalize(ctx, &bob.signer, job).await.unwrap_err();
    assert!(err.to_string().contains("still open: settle them first"), "{err}");
    bob.paid(&m::settle_challenge(ctx, &bob.signer, job, 0).await?, 0);
    let rejected = m::show_job(ctx, job).await?.0;
    assert_eq!((rejected.state, rejected.accused), (JobState::Rejected, 1));
    // Silence proves nothing about the result dave attested, either way: his bond stays
    // locked and eve's game accuses him. He may defend the result against her claim in a game
    // of his own (tests/dispute_chain.rs); not defending, he is slashed once the time to
    // has passed, half to eve.
    let accusation = market.accusation_of(job, 0).await?.expect("eve's game accuses");
    let err = m::settle_attester(ctx, &bob.signer, job, 0).await.unwrap_err();
    assert!(err.to_string().contains("may still defend"), "{err}");
    let err = release(ctx, &mut eve, job).await.unwrap_err();
    assert!(err.to_string().contains("nothing of yours to release"), "{err}");
    advance_past(ctx, accusation.until).await?;
    bob.paid(&m::settle_attester(ctx, &bob.signer, job, 0).await?, 0);
    // Finding 12: settling freed nothing (bob would have been refunded deposits others paid);
    // each party frees its own records and gets back what it paid for them.
    assert!(market.game_of(job, 0).await?.is_some_and(|c| c.settled));
    assert!(ctx.dispute()?.game(game_id).await?.is_some(), "kept for its challenger to free");
    for who in [&mut eve, &mut bob, &mut charlie, &mut dave] {
        release(ctx, who, job).await?;
    }
    assert_eq!(market.game_of(job, 0).await?, None);
    assert_eq!(ctx.dispute()?.game(game_id).await?, None, "freed in the dispute contract");
    assert_eq!((market.result(job).await?, market.job_terms(job).await?), (None, None));
    assert_eq!(m::show_job(ctx, job).await?.0.state, JobState::Rejected, "the record stays");
    let p = market.pledge_of(charlie.signer.account_bytes()).await?.unwrap();
    assert_eq!((p.stake, p.locked), (STAKE - COLLATERAL, 0));
    let p = market.pledge_of(dave.signer.account_bytes()).await?.unwrap();
    assert_eq!((p.stake, p.locked), (STAKE - COLLATERAL, 0), "dave did not defend");
    let p = market.pledge_of(eve.signer.account_bytes()).await?.unwrap();
    assert_eq!((p.stake, p.locked), (STAKE, 0));
    // Half of the collateral and of dave's bond to eve, the rest to the treasury (alice).
    assert_eq!(market.balance_of(eve.signer.account_bytes()).await?, COLLATERAL);
    assert_eq!(market.balance_of(bob.signer.account_bytes()).await?, REWARD);
    assert_eq!(market.balance_of(dave.signer.account_bytes()).await?, 0, "no fee");
    let alice = Signer::dev("alice")?;
    assert_eq!(market.balance_of(alice.account_bytes()).await?, COLLATERAL);

    // A job claimed and never delivered: expired, escrow back, collateral slashed to the poster.
    let deadline = block(ctx).await? + 3;
    let post = m::post_job(ctx, &bob.signer, &train_job(artifact.id, deadline)).await?;
    bob.paid(&post, REWARD);
    charlie.paid(&m::claim(ctx, &charlie.signer, post.value).await?, 0);
    let err = m::expire(ctx, &eve.signer, post.value).await.unwrap_err();
    assert!(err.to_string().contains("deadline has not passed"), "{err}");
    advance_past(ctx, deadline).await?;
    eve.paid(&m::expire(ctx, &eve.signer, post.value).await?, 0);
    assert_eq!(m::show_job(ctx, post.value).await?.0.state, JobState::Expired);
    assert_eq!(market.balance_of(bob.signer.account_bytes()).await?, 2 * REWARD + COLLATERAL / 2);
    let err = m::release(ctx, &eve.signer, post.value).await.unwrap_err();
    assert!(err.to_string().contains("nothing of yours to release"), "{err}");
    release(ctx, &mut bob, post.value).await?;

    withdraw(ctx, &mut bob, WithdrawFrom::Market, 2 * REWARD + COLLATERAL / 2).await?;

    // Strangers: only the admin sets parameters, only the market credits share units.
    let change =
        Change::Params { splitter: [0; 32], treasury: [0; 32], params: MarketParams::DEVNET };
    let err = market.propose_change(&bob.signer, &change).await.unwrap_err();
    assert!(matches!(err, ChainError::ContractRefused { contract: "market", .. }), "{err}");
    assert!(err.to_string().contains("only the market's admin"), "{err}");
    let splitter_addr = net.connection.deployment.address("splitter")?;
    let credit = iollm_types::splitter::calls::credit_units(1, bob.signer.account_bytes(), 5);
    let err = ctx
        .chain
        .execute::<(), iollm_types::splitter::Error>(&bob.signer, &splitter_addr, 0, credit, "()")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only the market contract may credit"), "{err}");
    let err = ctx.registry()?.set_market(&bob.signer, [0; 32]).await.unwrap_err();
    assert!(err.to_string().contains("only the registry's admin"), "{err}");
    let err = ctx.registry()?.set_market(&alice, [0; 32]).await.unwrap_err();
    assert!(err.to_string().contains("the market is already set"), "{err}");
    let err = m::set_split(ctx, &charlie.signer, artifact.id, SplitRule::DESIGNER_ONLY)
        .await
        .unwrap_err();
    assert!(matches!(err, MarketCmdError::Chain(ChainError::ContractRefused { .. })), "{err}");
    assert!(err.to_string().contains("you do not own this artifact"), "{err}");

    for who in [&bob, &charlie, &dave, &eve] {
        who.check(ctx).await?;
    }
    Ok(())
}

/// A 50-unit training job for `artifact` with the devnet's minimums (1 verifier, collateral
/// 2 × the reference value), posted by `poster`, claimed by `executor`, submitted, attested by
/// `verifier` and finalized by `verifier`: so it is "verified" in the pre-game sense. Returns
/// the job id.
async fn verified_job(
    ctx: &Connection,
    artifact: u64,
    poster: &mut Ledger,
    executor: &mut Ledger,
    verifier: &mut Ledger,
) -> Result<u64> {
    let deadline = block(ctx).await? + 100;
    let post = m::post_job(ctx, &poster.signer, &train_job(artifact, deadline)).await?;
    poster.paid(&post, REWARD);
    let secret = sign_up(ctx, verifier, post.value).await?;
    executor.paid(&m::claim(ctx, &executor.signer, post.value).await?, 0);
    executor.paid(&submit(ctx, &executor.signer, post.value, 1).await?, 0);
    verifier.paid(&spot_check(ctx, &verifier.signer, post.value, &secret).await?, 0);
    let submitted_at = m::show_job(ctx, post.value).await?.0.submitted_at;
    advance_past(ctx, submitted_at + 2).await?;
    verifier.paid(&m::finalize(ctx, &verifier.signer, post.value).await?, 0);
    assert!(m::show_job(ctx, post.value).await?.0.verified);
    Ok(post.value)
}

/// Finding 1 (verified = one attestation by a bonded non-party). The audit's attack — a
/// 10^25 price with a 100 % discount, a 1-planck reward, no verifiers, someone else's artifact
/// — is refused; with the minimums met, a job for someone else's artifact has joint mining off
/// (no discount, no units). The owner with its own sybil executor mints exactly the reference
/// value of the verified work (50 units × 10^9), whatever the executor's price.
#[tokio::test]
async fn share_units_cannot_be_minted_for_nothing() -> Result<()> {
    let net = testnet().await?;
    let ctx = &net.connection;
    let mut bob = Ledger::new(ctx, "bob").await?; // owner of the artifact
    let mut charlie = Ledger::new(ctx, "charlie").await?; // a sybil executor
    let mut dave = Ledger::new(ctx, "dave").await?; // bonded verifier
    let mut eve = Ledger::new(ctx, "eve").await?; // attacker
    let reg = ctx
        .registry()?
        .register(&bob.signer, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY)
        .await?;
    bob.paid(&reg.call, 0);
    let artifact = reg.id;
    let c = m::pledge(ctx, &eve.signer, GPU, 10u128.pow(25), 10_000, 1).await?;
    eve.paid(&c, 1);
    for who in [&mut charlie, &mut dave] {
        let c = m::pledge(ctx, &who.signer, GPU, 0, 10_000, STAKE).await?;
        who.paid(&c, STAKE);
    }

    // The attack as the audit ran it: refused before anything is sent, and by the contract
    // itself (a dry-run refusal: no fee) with the same message.
    let deadline = block(ctx).await? + 100;
    let none = Verification { challenge_window: 2, verifiers: 0, collateral: 0, verifier_fee: 0 };
    let need = Capacity { accelerator: 1, memory_gib: 24, throughput: 10 };
    let attack = PostJob::new(JobKind::Train, CID, artifact, 50, need, deadline, none, 1);
    let local = m::post_job(ctx, &eve.signer, &attack).await.unwrap_err();
    assert!(matches!(local, MarketCmdError::Refused(_)), "{local}");
    assert!(local.to_string().contains("verification terms out of range"), "{local}");
    let chain = ctx.market()?.post_job(&eve.signer, &attack.spec, 1).await.unwrap_err();
    assert_eq!(chain.to_string(), local.to_string());

    // With the minimums met: eve's job for bob's artifact credits no units.
    let post = m::post_job(ctx, &eve.signer, &train_job(artifact, deadline)).await?;
    eve.paid(&post, REWARD);
    let job = post.value;
    assert!(!m::show_job(ctx, job).await?.0.joint_mining);
    let err = m::claim(ctx, &eve.signer, job).await.unwrap_err();
    assert!(err.to_string().contains("does not cover your price"), "{err}");
    let secret = sign_up(ctx, &mut dave, job).await?;
    charlie.paid(&m::claim(ctx, &charlie.signer, job).await?, 0);
    let claimed = m::show_job(ctx, job).await?.0;
    assert_eq!((claimed.ask, claimed.forgone), (0, 0));
    charlie.paid(&submit(ctx, &charlie.signer, job, 1).await?, 0);
    dave.paid(&spot_check(ctx, &dave.signer, job, &secret).await?, 0);
    advance_past(ctx, m::show_job(ctx, job).await?.0.submitted_at + 2).await?;
    dave.paid(&m::finalize(ctx, &dave.signer, job).await?, 0);
    let splitter = ctx.splitter()?;
    assert_eq!(splitter.units_of(artifact, charlie.signer.account_bytes()).await?, 0);
    withdraw(ctx, &mut eve, WithdrawFrom::Market, REWARD - FEE).await?;
    withdraw(ctx, &mut dave, WithdrawFrom::Market, FEE).await?;

    // The owner and its sybil: a huge own price only raises the ask (refused); at the
    // reference price with a 100 % discount the units are exactly the reference value.
    let c = m::pledge(ctx, &charlie.signer, GPU, 10u128.pow(25), 10_000, 0).await?;
    charlie.paid(&c, 0);
    let deadline = block(ctx).await? + 100;
    let post = m::post_job(ctx, &bob.signer, &train_job(artifact, deadline)).await?;
    bob.paid(&post, REWARD);
    let err = m::claim(ctx, &charlie.signer, post.value).await.unwrap_err();
    assert!(err.to_string().contains("does not cover your price"), "{err}");
    charlie.paid(&m::pledge(ctx, &charlie.signer, GPU, PRICE, 10_000, 0).await?, 0);
    let secret = sign_up(ctx, &mut dave, post.value).await?;
    charlie.paid(&m::claim(ctx, &charlie.signer, post.value).await?, 0);
    charlie.paid(&submit(ctx, &charlie.signer, post.value, 1).await?, 0);
    dave.paid(&spot_check(ctx, &dave.signer, post.value, &secret).await?, 0);
    advance_past(ctx, m::show_job(ctx, post.value).await?.0.submitted_at + 2).await?;
    dave.paid(&m::finalize(ctx, &dave.signer, post.value).await?, 0);
    let reference_value = 50 * PRICE;
    assert_eq!(splitter.units_of(artifact, charlie.signer.account_bytes()).await?, reference_value);
    assert_eq!(ctx.market()?.balance_of(charlie.signer.account_bytes()).await?, 0);
    // The units cost their value: the executor forwent its pay, and the poster paid it as
    // revenue of the artifact (all to bob, the only stakeholder, by the registration rule).
    withdraw(ctx, &mut bob, WithdrawFrom::Market, REWARD - reference_value - FEE).await?;
    withdraw(ctx, &mut bob, WithdrawFrom::Splitter(None), reference_value).await?;
    withdraw(ctx, &mut dave, WithdrawFrom::Market, FEE).await?;
    for who in [&bob, &charlie, &dave, &eve] {
        who.check(ctx).await?;
    }
    Ok(())
}

/// Findings 2, 7 and 8. A credit the splitter refuses (here: below its minimum per credit)
/// does not block settlement: the executor gets the forgone value in money. Nobody but the
/// market credits units, so the saturation credit (`u128::MAX`) is refused. The poster cannot
/// pick away the minimums, nor set windows or deadlines that overflow; the admin cannot set
/// unbounded parameters. (Verified = one attestation by a bonded non-party.)
#[tokio::test]
async fn a_refused_credit_never_blocks_settlement_and_every_bound_holds() -> Result<()> {
    let net = testnet().await?;
    let ctx = &net.connection;
    let mut bob = Ledger::new(ctx, "bob").await?;
    let mut charlie = Ledger::new(ctx, "charlie").await?;
    let mut dave = Ledger::new(ctx, "dave").await?;
    let reg = ctx
        .registry()?
        .register(&bob.signer, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY)
        .await?;
    bob.paid(&reg.call, 0);
    let artifact = reg.id;
    // A 1 bps discount on 50 units forgoes 5 000 000: units the splitter accepts.
    let c = m::pledge(ctx, &charlie.signer, GPU, PRICE, 1, STAKE).await?;
    charlie.paid(&c, STAKE);
    let c = m::pledge(ctx, &dave.signer, GPU, PRICE, 0, STAKE).await?;
    dave.paid(&c, STAKE);
    verified_job(ctx, artifact, &mut bob, &mut charlie, &mut dave).await?;
    let forgone = 50 * PRICE / 10_000;
    let splitter = ctx.splitter()?;
    assert_eq!(splitter.units_of(artifact, charlie.signer.account_bytes()).await?, forgone);

    // A one-unit job forgoes 100 000, below the splitter's minimum credit: refused there,
    // paid in money here, and the job settles all the same.
    let deadline = block(ctx).await? + 100;
    let v = Verification { collateral: 2 * PRICE, ..verification(2) };
    let need = Capacity::default();
    let small =
        PostJob::new(JobKind::Train, CID, artifact, 1, need, deadline, v, REWARD).with_game(game());
    let post = m::post_job(ctx, &bob.signer, &small).await?;
    bob.paid(&post, REWARD);
    let secret = sign_up(ctx, &mut dave, post.value).await?;
    charlie.paid(&m::claim(ctx, &charlie.signer, post.value).await?, 0);
    charlie.paid(&submit(ctx, &charlie.signer, post.value, 1).await?, 0);
    dave.paid(&spot_check(ctx, &dave.signer, post.value, &secret).await?, 0);
    advance_past(ctx, m::show_job(ctx, post.value).await?.0.submitted_at + 2).await?;
    dave.paid(&m::finalize(ctx, &dave.signer, post.value).await?, 0);
    assert!(m::show_job(ctx, post.value).await?.0.verified);
    assert_eq!(splitter.units_of(artifact, charlie.signer.account_bytes()).await?, forgone);
    let first_ask = 50 * PRICE - forgone;
    withdraw(ctx, &mut charlie, WithdrawFrom::Market, first_ask + PRICE).await?;

    // The saturation attack needs the market's hand: refused for anyone else.
    let splitter_addr = net.connection.deployment.address("splitter")?;
    let saturate =
        iollm_types::splitter::calls::credit_units(artifact, bob.signer.account_bytes(), u128::MAX);
    let err = ctx
        .chain
        .execute::<(), iollm_types::splitter::Error>(&bob.signer, &splitter_addr, 0, saturate, "()")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only the market contract may credit"), "{err}");

    // Minimums and bounds, refused locally and by the contract with the same message.
    let deadline = block(ctx).await? + 100;
    let cases = [
        (
            Verification { collateral: COLLATERAL - 1, ..verification(2) },
            deadline,
            "collateral below",
        ),
        (Verification { verifiers: 0, ..verification(2) }, deadline, "verification terms"),
        (verification(u32::MAX), deadline, "verification terms"),
        (verification(2), u32::MAX, "the deadline must be a future block"),
        // Everything else in order, but no game spec: a training job nobody could challenge.
        (verification(2), deadline, "needs a game spec"),
    ];
    for (v, deadline, expected) in cases {
        let job = PostJob::new(JobKind::Train, CID, artifact, 50, need, deadline, v, REWARD);
        let local = m::post_job(ctx, &bob.signer, &job).await.unwrap_err();
        assert!(local.to_string().contains(expected), "{local}");
        let chain = ctx.market()?.post_job(&bob.signer, &job.spec, REWARD).await.unwrap_err();
        assert_eq!(chain.to_string(), local.to_string());
    }
    let alice = Signer::dev("alice")?;
    let unbounded = MarketParams { unbonding_blocks: u32::MAX, ..MarketParams::DEVNET };
    let change = Change::Params { splitter: [0; 32], treasury: [0; 32], params: unbounded };
    let err = ctx.market()?.propose_change(&alice, &change).await.unwrap_err();
    assert!(err.to_string().contains("market parameters out of bounds"), "{err}");

    let owed = 2 * REWARD - first_ask - forgone - 2 * FEE - PRICE;
    withdraw(ctx, &mut bob, WithdrawFrom::Market, owed).await?;
    withdraw(ctx, &mut bob, WithdrawFrom::Splitter(None), forgone).await?;
    withdraw(ctx, &mut dave, WithdrawFrom::Market, 2 * FEE).await?;
    for who in [&bob, &charlie, &dave] {
        who.check(ctx).await?;
    }
    Ok(())
}

/// Findings 9 and 4. A sybil that claims a job and sits on it is slashed once its submit-by
/// block passes and the job reopens for an honest provider; a poster's allow-list keeps the
/// sybil off a job altogether (and an unclaimed job still expires); a challenger that stops
/// playing its game loses it on its deadline (its bond slashed, half to the executor) and the
/// result is paid. All settled by strangers' permissionless calls.
#[tokio::test]
async fn a_hostage_claim_is_slashed_and_a_silent_challenger_loses() -> Result<()> {
    let net = testnet().await?;
    let ctx = &net.connection;
    let mut bob = Ledger::new(ctx, "bob").await?;
    let mut charlie = Ledger::new(ctx, "charlie").await?;
    let mut dave = Ledger::new(ctx, "dave").await?;
    let mut eve = Ledger::new(ctx, "eve").await?;
    let reg = ctx
        .registry()?
        .register(&bob.signer, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY)
        .await?;
    bob.paid(&reg.call, 0);
    for who in [&mut charlie, &mut dave, &mut eve] {
        let c = m::pledge(ctx, &who.signer, GPU, PRICE, 0, STAKE).await?;
        who.paid(&c, STAKE);
    }
    let deadline = block(ctx).await? + 100;
    let post = m::post_job(ctx, &bob.signer, &train_job(reg.id, deadline)).await?;
    bob.paid(&post, REWARD);
    let job = post.value;
    eve.paid(&m::claim(ctx, &eve.signer, job).await?, 0);
    let submit_by = m::show_job(ctx, job).await?.0.submit_by;
    assert_eq!(submit_by, block(ctx).await? + MarketParams::DEVNET.submit_blocks);
    let err = m::expire(ctx, &dave.signer, job).await.unwrap_err();
    assert!(err.to_string().contains("deadline has not passed"), "{err}");
    advance_past(ctx, submit_by).await?;
    let err = submit(ctx, &eve.signer, job, 1).await.unwrap_err();
    assert!(err.to_string().contains("deadline has passed"), "{err}");
    dave.paid(&m::expire(ctx, &dave.signer, job).await?, 0);
    let reopened = m::show_job(ctx, job).await?.0;
    assert_eq!((reopened.state, reopened.executor), (JobState::Open, None));
    let market = ctx.market()?;
    let p = market.pledge_of(eve.signer.account_bytes()).await?.unwrap();
    assert_eq!((p.stake, p.locked), (STAKE - COLLATERAL, 0));
    assert_eq!(market.balance_of(bob.signer.account_bytes()).await?, COLLATERAL / 2);

    // A job only charlie may claim: the sybil is refused; nobody claims, it expires.
    let listed = block(ctx).await? + 5;
    let only_charlie =
        train_job(reg.id, listed).with_executors(vec![charlie.signer.account_bytes()]);
    // Posted at the same time as another job: each poster is told the id of its own job (the
    // executed call's event), even where both dry-runs predicted the same id.
    let eves = train_job(reg.id, listed);
    let (post, other) = tokio::join!(
        m::post_job(ctx, &bob.signer, &only_charlie),
        m::post_job(ctx, &eve.signer, &eves)
    );
    let (post, other) = (post?, other?);
    bob.paid(&post, REWARD);
    eve.paid(&other, REWARD);
    assert_ne!(post.value, other.value);
    assert_eq!(m::show_job(ctx, post.value).await?.0.poster, bob.signer.account_bytes());
    assert_eq!(m::show_job(ctx, other.value).await?.0.poster, eve.signer.account_bytes());
    let listed_job = post.value;
    let terms = market.job_terms(listed_job).await?.expect("the allow-list is stored");
    assert_eq!(terms.executors, vec![charlie.signer.account_bytes()]);
    let err = m::claim(ctx, &eve.signer, listed_job).await.unwrap_err();
    assert!(err.to_string().contains("did not allow you to claim"), "{err}");

    // The honest provider takes it; dave challenges with a made-up claim, charlie answers at
    // levels 1 and 2 (with one checkpoint of one step, both are the trace itself), then dave
    // stops playing.
    charlie.paid(&m::claim(ctx, &charlie.signer, job).await?, 0);
    let h_n = last_state().0;
    let (root, first, last_path) = trace(h_n);
    charlie.paid(&submit(ctx, &charlie.signer, job, 1).await?, 0);
    dave.paid(&challenge(ctx, &dave.signer, job, [7; 32]).await?, 0);
    let game_id = market.game_of(job, 0).await?.expect("open").game;
    let dispute = ctx.dispute()?;
    for _level in 1..=2 {
        let commit = iollm_types::dispute::calls::commit(game_id, root, &first, h_n, &last_path);
        charlie.paid(&dispute.play(&charlie.signer, commit).await?, 0);
    }
    let err = m::expire(ctx, &eve.signer, job).await.unwrap_err();
    assert!(err.to_string().contains("not in a state that allows this"), "{err}");
    advance_past(ctx, block(ctx).await? + game().move_blocks).await?;
    eve.paid(&m::settle_challenge(ctx, &eve.signer, job, 0).await?, 0);
    let settled = m::show_job(ctx, job).await?.0;
    assert_eq!((settled.state, settled.open_games), (JobState::Submitted, 0));
    eve.paid(&m::finalize(ctx, &eve.signer, job).await?, 0);
    let finalized = m::show_job(ctx, job).await?.0;
    assert_eq!((finalized.state, finalized.verified), (JobState::Finalized, false));
    dave.paid(&m::expire(ctx, &dave.signer, listed_job).await?, 0);
    dave.paid(&m::expire(ctx, &dave.signer, other.value).await?, 0);
    assert_eq!(m::show_job(ctx, listed_job).await?.0.state, JobState::Expired);
    // Expiring freed nothing of bob's: he frees his allow-list; dave his settled game.
    assert!(market.job_terms(listed_job).await?.is_some(), "the poster's to free");
    release(ctx, &mut bob, listed_job).await?;
    assert_eq!(market.job_terms(listed_job).await?, None);
    release(ctx, &mut dave, job).await?;
    assert_eq!(market.game_of(job, 0).await?, None);
    let p = market.pledge_of(charlie.signer.account_bytes()).await?.unwrap();
    assert_eq!((p.stake, p.locked), (STAKE, 0));
    let p = market.pledge_of(dave.signer.account_bytes()).await?.unwrap();
    assert_eq!((p.stake, p.locked), (STAKE - COLLATERAL, 0), "the silent challenger's bond");
    // Charlie: its ask and half of dave's bond; bob: the no-show's half collateral, the
    // listed job's reward and what the paid job did not spend.
    let ask = finalized.ask;
    withdraw(ctx, &mut charlie, WithdrawFrom::Market, ask + COLLATERAL / 2).await?;
    withdraw(ctx, &mut bob, WithdrawFrom::Market, 2 * REWARD - ask + COLLATERAL / 2).await?;
    withdraw(ctx, &mut eve, WithdrawFrom::Market, REWARD).await?;
    let err = m::withdraw(ctx, &charlie.signer, WithdrawFrom::Market).await.unwrap_err();
    assert!(err.to_string().contains("nothing to withdraw"), "{err}");
    for who in [&bob, &charlie, &dave, &eve] {
        who.check(ctx).await?;
    }
    Ok(())
}

/// Findings 6, 5 and 11. Admin changes are announced and wait the timelock (longer than any
/// job plus verification plus unbonding); hand-over takes two steps. Once share units exist an
/// owner cannot cut the compute share, and a cut of the parents' share only starts a timelock.
/// After a transfer the designer part goes to the new owner. (Verified = one attestation.)
#[tokio::test]
async fn admin_and_owners_cannot_change_the_rules_after_the_fact() -> Result<()> {
    let net = testnet().await?;
    let ctx = &net.connection;
    let alice = Signer::dev("alice")?;
    let market = ctx.market()?;
    let now = block(ctx).await?;
    let shorter = MarketParams { max_job_blocks: 10, ..MarketParams::DEVNET };
    let change = Change::Params { splitter: [7; 32], treasury: [7; 32], params: shorter };
    let announced = market.propose_change(&alice, &change).await?;
    // Announced in the next block, for the longer of the two timelocks: the eta the executed
    // call set (its event), not the dry-run's one block earlier.
    let (pending, eta) = market.pending_change().await?.expect("announced");
    assert_eq!(pending, change);
    assert_eq!(eta, now + 1 + MarketParams::DEVNET.timelock());
    assert_eq!(announced.value, eta);
    let err = market.apply_change(&Signer::dev("eve")?).await.unwrap_err();
    assert!(err.to_string().contains("timelock has not passed"), "{err}");
    let bob_s = Signer::dev("bob")?;
    market.propose_admin(&alice, bob_s.account_bytes()).await?;
    let err = market.accept_admin(&Signer::dev("eve")?).await.unwrap_err();
    assert!(err.to_string().contains("only the proposed admin"), "{err}");
    market.accept_admin(&bob_s).await?;
    assert_eq!(market.params().await?.0, bob_s.account_bytes());
    let err = market.propose_admin(&alice, alice.account_bytes()).await.unwrap_err();
    assert!(err.to_string().contains("only the market's admin"), "{err}");
    let err = ctx
        .splitter()?
        .propose_change(&bob_s, &iollm_types::splitter::Change::Code([1; 32]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only the splitter's admin"), "{err}");

    let mut bob = Ledger::new(ctx, "bob").await?;
    let mut charlie = Ledger::new(ctx, "charlie").await?;
    let mut dave = Ledger::new(ctx, "dave").await?;
    let mut eve = Ledger::new(ctx, "eve").await?;
    let reg = ctx
        .registry()?
        .register(&bob.signer, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY)
        .await?;
    bob.paid(&reg.call, 0);
    let artifact = reg.id;
    let rule = SplitRule {
        designer_bps: 5_000,
        compute_bps: 3_000,
        upstream_bps: 1_500,
        treasury_bps: 500,
    };
    bob.paid(&m::set_split(ctx, &bob.signer, artifact, rule).await?, 0);
    let c = m::pledge(ctx, &charlie.signer, GPU, PRICE, 2_000, STAKE).await?;
    charlie.paid(&c, STAKE);
    let c = m::pledge(ctx, &dave.signer, GPU, PRICE, 0, STAKE).await?;
    dave.paid(&c, STAKE);
    verified_job(ctx, artifact, &mut bob, &mut charlie, &mut dave).await?;
    let splitter = ctx.splitter()?;
    assert_eq!(splitter.units_of(artifact, charlie.signer.account_bytes()).await?, 10 * PRICE);

    let no_compute = SplitRule { designer_bps: 8_000, compute_bps: 0, ..rule };
    let err = m::set_split(ctx, &bob.signer, artifact, no_compute).await.unwrap_err();
    assert!(err.to_string().contains("compute_bps can only rise"), "{err}");
    let no_upstream = SplitRule { designer_bps: 6_500, upstream_bps: 0, ..rule };
    bob.paid(&m::set_split(ctx, &bob.signer, artifact, no_upstream).await?, 0);
    let entry = splitter.entry(artifact).await?.unwrap();
    assert_eq!(entry.rule, rule, "the cut is only announced");
    assert_eq!(entry.pending.map(|p| p.0), Some(no_upstream));
    let err = m::apply_split(ctx, &eve.signer, artifact).await.unwrap_err();
    assert!(err.to_string().contains("timelock has not passed"), "{err}");

    // Sold: the designer part of the next payment goes to eve, the new owner.
    bob.paid(
        &ctx.registry()?.transfer(&bob.signer, artifact, eve.signer.account_bytes()).await?,
        0,
    );
    let revenue = 1_000_000;
    eve.paid(&m::pay_revenue(ctx, &eve.signer, artifact, revenue).await?, revenue);
    let compute = revenue * 3_000 / 10_000;
    let treasury = revenue * 500 / 10_000;
    withdraw(ctx, &mut eve, WithdrawFrom::Splitter(None), revenue - compute - treasury).await?;
    // bob keeps only what the units' value paid him before the sale (95 % of 10 × PRICE).
    let forgone = 10 * PRICE;
    withdraw(ctx, &mut bob, WithdrawFrom::Splitter(None), forgone - forgone * 500 / 10_000).await?;
    withdraw(ctx, &mut charlie, WithdrawFrom::Splitter(Some(artifact)), compute).await?;
    for who in [&bob, &charlie, &dave, &eve] {
        who.check(ctx).await?;
    }
    Ok(())
}

/// Findings 1 and 5, the owner's delegates (verified = one attestation by a bonded non-party).
/// A poster the owner authorised earns its executor share units; the market asks again at
/// finalize, so a delegate revoked in between credits none (the executor is paid in money); a
/// sale ends every authorisation the seller gave; and while a cut of the compute share is
/// announced no new job credits units at all.
#[tokio::test]
async fn a_delegate_earns_units_until_revoked_or_sold_and_compute_cuts_wait() -> Result<()> {
    let net = testnet().await?;
    let ctx = &net.connection;
    let splitter = ctx.splitter()?;
    let mut bob = Ledger::new(ctx, "bob").await?; // the owner
    let mut charlie = Ledger::new(ctx, "charlie").await?; // executor, 20 % discount
    let mut dave = Ledger::new(ctx, "dave").await?; // bonded verifier
    let mut eve = Ledger::new(ctx, "eve").await?; // the owner's delegate
    let reg = ctx
        .registry()?
        .register(&bob.signer, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY)
        .await?;
    bob.paid(&reg.call, 0);
    let artifact = reg.id;
    let rule = SplitRule {
        designer_bps: 5_000,
        compute_bps: 3_000,
        upstream_bps: 1_500,
        treasury_bps: 500,
    };
    bob.paid(&m::set_split(ctx, &bob.signer, artifact, rule).await?, 0);
    let c = m::pledge(ctx, &charlie.signer, GPU, PRICE, 2_000, STAKE).await?;
    charlie.paid(&c, STAKE);
    let c = m::pledge(ctx, &dave.signer, GPU, PRICE, 0, STAKE).await?;
    dave.paid(&c, STAKE);
    let eve_id = eve.signer.account_bytes();
    assert!(!splitter.may_credit(artifact, eve_id).await?);

    // Authorised: eve's job credits charlie the 20 % it forwent (10 × PRICE) as units, and the
    // units' value is paid as revenue (95 % to bob, no units or parents yet; 5 % treasury).
    bob.paid(&m::authorise(ctx, &bob.signer, artifact, eve_id, true).await?, 0);
    assert!(splitter.may_credit(artifact, eve_id).await?);
    verified_job(ctx, artifact, &mut eve, &mut charlie, &mut dave).await?;
    let forgone = 10 * PRICE;
    assert_eq!(splitter.units_of(artifact, charlie.signer.account_bytes()).await?, forgone);

    // Revoked between post and finalize: no units, the executor gets the forgone value in money.
    let deadline = block(ctx).await? + 100;
    let post = m::post_job(ctx, &eve.signer, &train_job(artifact, deadline)).await?;
    eve.paid(&post, REWARD);
    let job = post.value;
    assert!(m::show_job(ctx, job).await?.0.joint_mining);
    let secret = sign_up(ctx, &mut dave, job).await?;
    charlie.paid(&m::claim(ctx, &charlie.signer, job).await?, 0);
    charlie.paid(&submit(ctx, &charlie.signer, job, 1).await?, 0);
    dave.paid(&spot_check(ctx, &dave.signer, job, &secret).await?, 0);
    bob.paid(&m::authorise(ctx, &bob.signer, artifact, eve_id, false).await?, 0);
    advance_past(ctx, m::show_job(ctx, job).await?.0.submitted_at + 2).await?;
    dave.paid(&m::finalize(ctx, &dave.signer, job).await?, 0);
    assert!(m::show_job(ctx, job).await?.0.verified);
    assert_eq!(splitter.units_of(artifact, charlie.signer.account_bytes()).await?, forgone);

    // Sold: the seller's authorisation of eve does not pass to the buyer.
    bob.paid(&m::authorise(ctx, &bob.signer, artifact, eve_id, true).await?, 0);
    let alice = Signer::dev("alice")?;
    bob.paid(&ctx.registry()?.transfer(&bob.signer, artifact, alice.account_bytes()).await?, 0);
    assert!(!splitter.may_credit(artifact, eve_id).await?);
    assert!(splitter.may_credit(artifact, alice.account_bytes()).await?);

    // A second artifact with no units yet: cutting its compute share is only announced, and
    // meanwhile a job its owner posts has joint mining off.
    let reg = ctx
        .registry()?
        .register(&bob.signer, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY)
        .await?;
    bob.paid(&reg.call, 0);
    let second = reg.id;
    bob.paid(&m::set_split(ctx, &bob.signer, second, rule).await?, 0);
    assert!(splitter.may_credit(second, bob.signer.account_bytes()).await?);
    let cut = SplitRule { designer_bps: 8_000, compute_bps: 0, ..rule };
    bob.paid(&m::set_split(ctx, &bob.signer, second, cut).await?, 0);
    assert_eq!(splitter.entry(second).await?.unwrap().rule, rule, "the cut is only announced");
    assert!(!splitter.may_credit(second, bob.signer.account_bytes()).await?);
    let deadline = block(ctx).await? + 3;
    let post = m::post_job(ctx, &bob.signer, &train_job(second, deadline)).await?;
    bob.paid(&post, REWARD);
    assert!(!m::show_job(ctx, post.value).await?.0.joint_mining);
    advance_past(ctx, deadline).await?;
    bob.paid(&m::expire(ctx, &bob.signer, post.value).await?, 0);

    // Job 1: charlie 40 × PRICE (its ask); job 2: 50 × PRICE (ask + forgone, in money).
    withdraw(ctx, &mut charlie, WithdrawFrom::Market, 90 * PRICE).await?;
    withdraw(ctx, &mut eve, WithdrawFrom::Market, 2 * (REWARD - 50 * PRICE - FEE)).await?;
    withdraw(ctx, &mut dave, WithdrawFrom::Market, 2 * FEE).await?;
    withdraw(ctx, &mut bob, WithdrawFrom::Market, REWARD).await?;
    withdraw(ctx, &mut bob, WithdrawFrom::Splitter(None), forgone - forgone * 500 / 10_000).await?;
    for who in [&bob, &charlie, &dave, &eve] {
        who.check(ctx).await?;
    }
    Ok(())
}

/// Findings 3, 10 and 12. A job competing for a bounty must evaluate the bounty's benchmark
/// with its metric (recorded on chain) and settle before the bounty expires; a margin of 0 or an
/// unbounded score is refused; and no tranche is paid until the verification game decides
/// evaluations — here a competing job is "verified" by one bonded attester (the interim meaning)
/// and beats the best by the margin, and the bounty still pays nothing. An expired bounty goes
/// back whole to its sponsor by anyone's call and its record is freed. Provenance is only
/// recorded from a verified training job under a lineage that includes the job's artifact.
#[tokio::test]
async fn bounty_drains_and_fake_provenance_fail() -> Result<()> {
    let net = testnet().await?;
    let ctx = &net.connection;
    let mut bob = Ledger::new(ctx, "bob").await?;
    let mut charlie = Ledger::new(ctx, "charlie").await?;
    let mut dave = Ledger::new(ctx, "dave").await?;
    let mut eve = Ledger::new(ctx, "eve").await?;
    let path = ctx
        .registry()?
        .register(&bob.signer, Kind::Path, CID, &[], SplitRule::DESIGNER_ONLY)
        .await?;
    bob.paid(&path.call, 0);
    let other = ctx
        .registry()?
        .register(&bob.signer, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY)
        .await?;
    bob.paid(&other.call, 0);
    for who in [&mut charlie, &mut dave] {
        let c = m::pledge(ctx, &who.signer, GPU, PRICE, 0, STAKE).await?;
        who.paid(&c, STAKE);
    }
    let expires = block(ctx).await? + 60;
    let err =
        m::post_bounty(ctx, &eve.signer, CID, 2, 0, 100, 2, expires, 1_000).await.unwrap_err();
    assert!(err.to_string().contains("bounty margin above 0"), "{err}");
    let err = m::post_bounty(ctx, &eve.signer, CID, 2, 10, u64::MAX, 2, expires, 1_000)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("scores must be at most"), "{err}");
    let amount = 2_000_001;
    let bounty = m::post_bounty(ctx, &eve.signer, CID, 2, 10, 100, 2, expires, amount).await?;
    eve.paid(&bounty, amount);

    // The drain dressed up: no verifiers, another benchmark, another metric, a job that could
    // outlive the bounty (devnet: 1-block window, no game for an evaluation yet, 10 blocks to
    // claim the tranche), a training job.
    let deadline = block(ctx).await? + 20;
    let eval = |v: Verification, cid: &str, metric: u8, deadline: u32| {
        PostJob::new(JobKind::EvalPath, CID, path.id, 50, Capacity::default(), deadline, v, REWARD)
            .with_benchmark(cid, metric, Some(bounty.value))
    };
    let mut train = train_job(path.id, deadline);
    train.spec.bounty = Some(bounty.value);
    let cases = [
        (
            eval(Verification { verifiers: 0, ..verification(1) }, CID, 2, deadline),
            "verification terms",
        ),
        (eval(verification(1), OUT, 2, deadline), "not the bounty's"),
        (eval(verification(1), CID, 0, deadline), "not the bounty's"),
        (eval(verification(1), CID, 2, expires - 11), "bounty expires before"),
        (train, "won by EvalPath jobs only"),
    ];
    for (drain, expected) in cases {
        let err = m::post_job(ctx, &bob.signer, &drain).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
        let chain = ctx.market()?.post_job(&bob.signer, &drain.spec, REWARD).await.unwrap_err();
        assert_eq!(chain.to_string(), err.to_string());
    }

    // A competing job that beats the best by the margin, attested: still no tranche.
    let job = eval(verification(1), CID, 2, deadline);
    let post = m::post_job(ctx, &bob.signer, &job).await?;
    bob.paid(&post, REWARD);
    let terms =
        ctx.market()?.job_terms(post.value).await?.expect("an eval job records its benchmark");
    assert_eq!(terms.benchmark, job.spec.benchmark);
    let secret = sign_up(ctx, &mut dave, post.value).await?;
    charlie.paid(&m::claim(ctx, &charlie.signer, post.value).await?, 0);
    let evaluation = |score| Commitment {
        output_cid: OUT.as_bytes().to_vec(),
        score,
        loss: 0,
        trace_root: [5; 32],
        checks_root: checks_root(),
    };
    let too_high = evaluation(u64::MAX);
    let err = m::submit(ctx, &charlie.signer, post.value, &too_high, None).await.unwrap_err();
    assert!(err.to_string().contains("scores must be at most"), "{err}");
    // An evaluation's result carries no training run's last state.
    let (_, last) = last_state();
    let err = m::submit(ctx, &charlie.signer, post.value, &evaluation(110), Some(&last))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("last state is not proven"), "{err}");
    charlie.paid(&m::submit(ctx, &charlie.signer, post.value, &evaluation(110), None).await?, 0);
    dave.paid(&spot_check(ctx, &dave.signer, post.value, &secret).await?, 0);
    let submitted_at = m::show_job(ctx, post.value).await?.0.submitted_at;
    advance_past(ctx, submitted_at + 1).await?;
    dave.paid(&m::finalize(ctx, &dave.signer, post.value).await?, 0);
    assert!(m::show_job(ctx, post.value).await?.0.verified);
    let err = m::pay_bounty(ctx, &charlie.signer, post.value).await.unwrap_err();
    assert!(err.to_string().contains("bounties cannot be won yet"), "{err}");
    let left = ctx.market()?.bounty(bounty.value).await?.expect("the bounty is intact");
    assert_eq!((left.escrow, left.best, left.tranches_left), (amount, 100, 2));
    let err = m::reclaim_bounty(ctx, &dave.signer, bounty.value).await.unwrap_err();
    assert!(err.to_string().contains("deadline has not passed"), "{err}");

    // Provenance: a verified training job for `path`; registering its output under an
    // unrelated lineage is refused.
    let job = verified_job(ctx, path.id, &mut bob, &mut charlie, &mut dave).await?;
    let rule = SplitRule::DESIGNER_ONLY;
    let as_child_of = |id: u64| {
        [iollm_types::registry::Parent { id, relation: iollm_types::registry::Relation::Finetune }]
    };
    let err = ctx
        .registry()?
        .register_from_job(&bob.signer, job, Kind::Model, OUT, &as_child_of(other.id), rule)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("fine-tune of the job's artifact alone"), "{err}");
    let output = ctx
        .registry()?
        .register_from_job(&bob.signer, job, Kind::Model, OUT, &as_child_of(path.id), rule)
        .await?;
    bob.paid(&output.call, 0);
    assert_eq!(model::show(ctx, output.id).await?.job, Some(job));

    // An expired bounty: anyone returns it to the sponsor; the sponsor frees the record (its
    // storage deposit is hers).
    advance_past(ctx, expires).await?;
    let back = m::reclaim_bounty(ctx, &dave.signer, bounty.value).await?;
    dave.paid(&back, 0);
    assert_eq!(back.value, amount);
    let left = ctx.market()?.bounty(bounty.value).await?.expect("the sponsor's to free");
    assert_eq!((left.escrow, left.tranches_left), (0, 0));
    let freed = m::reclaim_bounty(ctx, &eve.signer, bounty.value).await?;
    assert!(matches!(freed.dry_run.storage_deposit, StorageDeposit::Refund(d) if d > 0));
    eve.paid(&freed, 0);
    assert_eq!(freed.value, 0);
    assert_eq!(ctx.market()?.bounty(bounty.value).await?, None);
    withdraw(ctx, &mut eve, WithdrawFrom::Market, amount).await?;
    // Two jobs (the evaluation and the training job), each paying the same.
    withdraw(ctx, &mut bob, WithdrawFrom::Market, 2 * (REWARD - 50 * PRICE - FEE)).await?;
    withdraw(ctx, &mut dave, WithdrawFrom::Market, 2 * FEE).await?;
    withdraw(ctx, &mut charlie, WithdrawFrom::Market, 2 * 50 * PRICE).await?;
    for who in [&bob, &charlie, &dave, &eve] {
        who.check(ctx).await?;
    }
    Ok(())
}

/// A training job is posted from its spec (`iollm job post --spec FILE`): its dataset is a split
/// of an SMIP dataset package, published and registered as a dataset; the spec is checked, the
/// split fetched from IPFS (checked against the package's manifest, every byte against its
/// CID), the canonical spec added to IPFS and posted with the game spec its config and dataset
/// give; the executor reads the spec back by the CID on chain. A spec whose dataset is not on
/// IPFS, is not a dataset package or has no such split, or that is refused, posts nothing.
#[tokio::test]
async fn a_training_job_is_posted_from_its_spec_with_its_dataset_on_ipfs() -> Result<()> {
    use iollm_content::ContentStore as _;
    use iollm_worker::job::JobDocument;
    let net = testnet().await?;
    let ctx = &net.connection;
    let bob = Signer::dev("bob")?;
    let store = iollm_artifacts::ipfs_client(ctx)?;
    let start = ctx.chain.finalized_head().await? + 1;
    let dir = tempfile::tempdir()?;
    let package = dir.path().join("fox");
    std::fs::create_dir(&package)?;
    let corpus = package.join("train.txt");
    std::fs::write(&corpus, "the quick brown fox jumps over the lazy dog\n".repeat(64))?;
    std::fs::write(package.join("test.txt"), "the lazy dog sleeps\n")?;
    let template = serde_json::json!({
        "smip_dataset_version": 1, "name": "fox", "version": "1.0.0", "license": "CC0-1.0",
        "format": "bytes", "files": [], "splits": {"train": "train.txt", "test": "test.txt"}
    });
    std::fs::write(package.join("smip-dataset.json"), serde_json::to_vec(&template)?)?;
    let rule = SplitRule::DESIGNER_ONLY;
    let published =
        iollm_artifacts::publish(ctx, &store, &bob, Kind::Dataset, &package, rule).await?;
    let dataset = published.package_cid;
    let record = ctx.registry()?.get(published.id).await?.expect("the dataset's record");
    assert_eq!((record.kind, record.parents.len()), (Kind::Dataset, 0));
    // Registered, it pulls whole, every file checked against its manifest.
    let pulled = dir.path().join("pulled");
    let limit = iollm_content::PullOptions::default();
    let (cid, files) = iollm_artifacts::pull(ctx, &store, published.id, &pulled, &limit).await?;
    assert_eq!((cid, files.len()), (dataset, 2));
    assert_eq!(std::fs::read(pulled.join("train.txt"))?, std::fs::read(&corpus)?);
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../worker/examples/tiny.job.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(example)?)?;
    spec["dataset"] =
        serde_json::json!({"source": "package", "cid": dataset.to_string(), "split": "train"});
    let file = dir.path().join("job.json");
    std::fs::write(&file, serde_json::to_vec(&spec)?)?;

    let (spec_cid, game) = m::publish_spec(ctx, &file, 20).await?;
    // The game spec is the one the same config over the same bytes gives locally.
    let tiny = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/compute/examples/tiny.toml");
    let mut cfg = iollm_compute::TrainConfig::from_file(tiny.as_ref())?;
    cfg.data = iollm_compute::data::DataConfig::File { path: corpus.clone() };
    let trainer = iollm_compute::Trainer::new(&cfg, &iollm_compute::Runtime::new(1))?;
    assert_eq!(game, iollm_worker::game_spec(&trainer, &cfg, 20));
    // What is on IPFS under the spec CID is the canonical spec, every byte checked.
    let back = dir.path().join("back.json");
    iollm_content::fetch_verified(&store, &iollm_content::parse_cid(&spec_cid)?, &back).await?;
    let doc = JobDocument::parse(&std::fs::read(&back)?)?;
    assert_eq!(doc, JobDocument::parse(&serde_json::to_vec(&spec)?)?);

    let artifact =
        ctx.registry()?.register(&bob, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY).await?.id;
    let deadline = block(ctx).await? + 100;
    let need = Capacity { accelerator: 1, memory_gib: 24, throughput: 10 };
    let post = PostJob::new(
        JobKind::Train,
        &spec_cid,
        artifact,
        50,
        need,
        deadline,
        verification(2),
        REWARD,
    )
    .with_game(game.clone());
    let job = m::post_job(ctx, &bob, &post).await?.value;
    let market = ctx.market()?;
    let terms = market.job_terms(job).await?.expect("the job's terms");
    assert_eq!(terms.game.as_ref(), Some(&game));
    assert_eq!(market.job_spec(job).await?, Some(spec_cid.into_bytes()));
    // The executor (`iollm train --job`) and a verifier read the config back from the job:
    // spec and dataset fetched by CID, the same game spec.
    m::check_before_claim(ctx, job).await?;
    // Its h_0 is the seed's state: `iollm job challenge-initial` refuses, sending nothing.
    let free = ctx.chain.free_balance(&bob.account()).await?;
    let err = m::challenge_initial(ctx, &bob, job).await.unwrap_err();
    assert!(matches!(err, m::MarketCmdError::InitialIsHonest(j) if j == job), "{err}");
    assert_eq!(ctx.chain.free_balance(&bob.account()).await?, free, "no fee: nothing sent");
    assert_eq!(market.job(job).await?.expect("the job").challenges, 0);
    let fetched = tempfile::tempdir()?;
    let cfg = m::job_config(ctx, job, fetched.path()).await?;
    let trainer = iollm_compute::Trainer::new(&cfg, &iollm_compute::Runtime::new(1))?;
    assert_eq!(iollm_worker::game_spec(&trainer, &cfg, 20), game);

    // A job whose committed game spec is not its spec's (here: another corpus root) is
    // refused to its executor and verifiers: an honest run of the spec could not win its
    // games. One whose h_0 alone is not the seed's state is refused to its executor by name
    // (a verifier challenges it: `tests/tests/worker.rs`).
    let other_corpus = GameSpec { corpus_root: [9; 32], ..game.clone() };
    let job = m::post_job(ctx, &bob, &post.clone().with_game(other_corpus)).await?.value;
    let err = m::check_before_claim(ctx, job).await.unwrap_err().to_string();
    assert!(err.contains("its committed game spec is not the one its spec gives"), "{err}");
    assert_eq!(m::show_job(ctx, job).await?.0.state, JobState::Open, "nothing claimed");
    let forged = GameSpec { h0: [9; 32], ..game.clone() };
    let post = post.with_game(forged);
    let job = m::post_job(ctx, &bob, &post).await?.value;
    let err = m::check_before_claim(ctx, job).await.unwrap_err().to_string();
    assert!(err.contains("its committed h_0 is not the initial state"), "{err}");
    assert_eq!(m::show_job(ctx, job).await?.0.state, JobState::Open, "nothing claimed");
    // A follower of the finalized chain (what a worker runs) sees the three jobs posted, in order:
    // every block from where it started exactly once, its events typed; one restarted from a
    // block sees it again.
    let mut follower = ctx.chain.follow_finalized(start, Duration::from_millis(200));
    let mut posted = Vec::new();
    let mut posted_at = Vec::new();
    while posted.len() < 3 {
        let block = tokio::time::timeout(Duration::from_secs(60), follower.next()).await??;
        assert_eq!(block.number + 1, follower.position());
        // Each event typed by the contract that emitted it.
        for decoded in block.decoded(&ctx.deployment) {
            if let iollm_chain::Decoded::Market(Event::JobPosted(p)) = decoded? {
                assert_eq!(p.poster, bob.account_bytes());
                posted.push(p.job);
                posted_at.push(block.number);
            }
        }
    }
    assert_eq!(posted, vec![job - 2, job - 1, job]);
    let again = ctx.chain.follow_finalized(posted_at[0], Duration::from_millis(200)).next().await?;
    assert_eq!(Some(again.clone()), ctx.chain.finalized_block(posted_at[0]).await?);
    assert_eq!(ctx.chain.block_hash(posted_at[0]).await?, Some(again.hash));
    assert!(again.events.iter().any(|e| e.topics.first() == Some(&JOB_POSTED_TOPIC)));
    let beyond = ctx.chain.finalized_head().await? + 1_000;
    assert_eq!(ctx.chain.finalized_block(beyond).await?, None, "not finalized yet");
    // A split the package does not have, a file that is no dataset package and a dataset CID
    // the node does not have: each refused, naming the dataset, nothing posted.
    let posted = market.job_count().await?;
    let file_cid = store.put_file(&corpus, &iollm_content::AddOptions::v1()).await?.cid;
    let missing = "bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqze6k4zii";
    for (cid, split, why) in [
        (dataset.to_string(), "validation", "no split \"validation\" (it has: test, train)"),
        (file_cid.to_string(), "train", "is not an SMIP dataset package"),
        (missing.to_owned(), "train", ""),
    ] {
        spec["dataset"] = serde_json::json!({"source": "package", "cid": cid, "split": split});
        std::fs::write(&file, serde_json::to_vec(&spec)?)?;
        let err = m::publish_spec(ctx, &file, 20).await.unwrap_err().to_string();
        assert!(err.contains(&format!("dataset {cid}")) && err.contains(why), "{err}");
    }
    // A raw file, as jobs named datasets before packages: read for old jobs, never posted.
    spec["dataset"] = serde_json::json!({"source": "ipfs", "cid": file_cid.to_string()});
    std::fs::write(&file, serde_json::to_vec(&spec)?)?;
    let err = m::publish_spec(ctx, &file, 20).await.unwrap_err().to_string();
    assert!(err.contains("is read for old jobs only: publish the dataset as a package"), "{err}");
    assert_eq!(market.job_count().await?, posted);
    // What is registered as a dataset must be a dataset package (`iollm model register --kind
    // dataset`): refused before anything is sent.
    let artifacts = ctx.registry()?.count().await?;
    let (plain, none) = (file_cid.to_string(), iollm_artifacts::Lineage::NONE);
    let err =
        iollm_artifacts::register_package(ctx, &store, &bob, Kind::Dataset, &plain, &none, rule)
            .await
            .unwrap_err()
            .to_string();
    assert!(err.contains("is not an SMIP dataset package: it is not a directory"), "{err}");
    assert_eq!(ctx.registry()?.count().await?, artifacts);
    // A refused spec: one line, before anything is fetched or added.
    spec["train"]["checkpoint_every"] = serde_json::json!(7);
    std::fs::write(&file, serde_json::to_vec(&spec)?)?;
    let err = m::publish_spec(ctx, &file, 20).await.unwrap_err().to_string();
    assert!(err.contains("checkpoint_every must be at least 1 and divide"), "{err}");
    assert!(!err.contains('\n'), "{err}");
    Ok(())
}
