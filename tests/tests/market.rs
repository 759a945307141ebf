//! End to end against a real substrate-contracts-node: registry, market and splitter built with
//! cargo-contract, deployed and wired by the devnet library, driven through the CLI's library
//! code (`iollm_cli::market`). Every balance is checked to the unit: a participant's free
//! balance changes by exactly what it was paid minus the fees, storage deposits and values of
//! its own calls.

use anyhow::Result;
use iollm_chain::contract::{Executed, StorageDeposit};
use iollm_chain::{ChainError, Signer};
use iollm_cli::context::Context;
use iollm_cli::market::{self as m, MarketCmdError, PostJob, WithdrawFrom};
use iollm_cli::model;
use iollm_tests::testnet;
use iollm_types::market::{Capacity, JobKind, JobState, Verification};
use iollm_types::registry::Kind;
use iollm_types::split::SplitRule;

const CID: &str = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
const OUT: &str = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
const GPU: Capacity = Capacity { accelerator: 2, memory_gib: 80, throughput: 100 };
const PRICE: u128 = 1_000_000_000;
const STAKE: u128 = 1_000_000_000_000;
const REWARD: u128 = 1_000_000_000_000;
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
    async fn new(ctx: &Context, name: &str) -> Result<Ledger> {
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

    async fn check(&self, ctx: &Context) -> Result<()> {
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

/// Withdraws and checks the amount; records it in the ledger.
async fn withdraw(
    ctx: &Context,
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

fn train_job(artifact: u64, deadline: u32) -> PostJob {
    let need = Capacity { accelerator: 1, memory_gib: 24, throughput: 10 };
    PostJob::new(JobKind::Train, CID, artifact, 50, need, deadline, verification(2), None, REWARD)
}

async fn block(ctx: &Context) -> Result<u32> {
    let header = ctx.chain.api().blocks().at_latest().await?;
    Ok(header.number())
}

/// Produces blocks (the dev node seals one per transaction) until the chain is past `target`:
/// ferdie tops up its stake by 1 unit per block.
async fn advance_past(ctx: &Context, target: u32) -> Result<()> {
    let ferdie = Signer::dev("ferdie")?;
    if ctx.market()?.pledge_of(ferdie.account_bytes()).await?.is_none() {
        m::pledge(ctx, &ferdie, GPU, PRICE, 0, 1).await?;
    }
    while block(ctx).await? <= target {
        ctx.market()?.top_up(&ferdie, 1).await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_job_pays_its_executor_verifier_and_designer_to_the_unit() -> Result<()> {
    let net = testnet().await?;
    let ctx = &net.ctx;
    let mut alice = Ledger::new(ctx, "alice").await?; // admin and treasury
    let mut bob = Ledger::new(ctx, "bob").await?; // designer
    let mut charlie = Ledger::new(ctx, "charlie").await?; // GPU provider, 20 % joint mining
    let mut dave = Ledger::new(ctx, "dave").await?; // verifier
    let mut eve = Ledger::new(ctx, "eve").await?; // user paying revenue

    let reg = model::register(ctx, &bob.signer, Kind::Model, CID).await?;
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

    let deadline = block(ctx).await? + 100;
    let post = m::post_job(ctx, &bob.signer, &train_job(artifact, deadline)).await?;
    bob.paid(&post, REWARD);
    let job = post.value;
    let c = m::claim(ctx, &charlie.signer, job).await?;
    charlie.paid(&c, 0);
    assert_eq!(
        ctx.market()?.pledge_of(charlie.signer.account_bytes()).await?.unwrap().locked,
        COLLATERAL
    );
    // Locked collateral cannot be unbonded.
    let err = m::unpledge(ctx, &charlie.signer, STAKE).await.unwrap_err();
    assert!(err.to_string().contains("not enough free (unlocked) stake"), "{err}");

    let c = m::submit(ctx, &charlie.signer, job, OUT, 900_000, 1, [7; 32]).await?;
    charlie.paid(&c, 0);
    let c = m::attest(ctx, &dave.signer, job).await?;
    dave.paid(&c, 0);
    let err = m::finalize(ctx, &eve.signer, job).await.unwrap_err();
    assert!(err.to_string().contains("challenge window is still open"), "{err}");

    let submitted_at = m::show_job(ctx, job).await?.0.submitted_at;
    advance_past(ctx, submitted_at + 2).await?;
    let fin = m::finalize(ctx, &eve.signer, job).await?;
    eve.paid(&fin, 0);
    let (done, result) = m::show_job(ctx, job).await?;
    assert_eq!((done.state, done.verified), (JobState::Finalized, true));
    let result = result.expect("a finalized job keeps its submitted result");
    assert_eq!((result.output_cid.as_slice(), result.trace_root), (OUT.as_bytes(), [7; 32]));

    // Market value 50 units x PRICE; 20 % forgone as share units; one verifier fee.
    let value = 50 * PRICE;
    let ask = value - value / 5;
    let market = ctx.market()?;
    assert_eq!(market.balance_of(charlie.signer.account_bytes()).await?, ask);
    assert_eq!(market.balance_of(dave.signer.account_bytes()).await?, FEE);
    assert_eq!(market.balance_of(bob.signer.account_bytes()).await?, REWARD - ask - FEE);
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
    withdraw(ctx, &mut bob, WithdrawFrom::Market, REWARD - ask - FEE).await?;
    withdraw(ctx, &mut bob, WithdrawFrom::Splitter(None), designer).await?;
    withdraw(ctx, &mut alice, WithdrawFrom::Splitter(None), treasury).await?;
    let err = m::withdraw(ctx, &dave.signer, WithdrawFrom::Market).await.unwrap_err();
    assert!(err.to_string().contains("market refused: nothing to withdraw"), "{err}");

    // Provenance: the job's verified output is registered as a model derived from the artifact,
    // only by the job's poster and only under exactly the verified output CID; then versioned,
    // transferred and deprecated, each refused to whoever may not.
    let parent = [iollm_types::registry::Parent {
        id: artifact,
        relation: iollm_types::registry::Relation::Finetune,
    }];
    let from_job = |who: &Signer, cid: &'static str| {
        let who = who.clone();
        async move { model::register_from_job(ctx, &who, job, Kind::Model, cid, &parent, rule).await }
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

    let err = model::new_version(ctx, &eve.signer, output.id, OUT).await.unwrap_err();
    assert!(err.to_string().contains("you do not own this artifact"), "{err}");
    let v2 = model::new_version(ctx, &bob.signer, output.id, CID).await?;
    bob.paid(&v2.call, 0);
    let record = model::show(ctx, v2.id).await?;
    assert_eq!((record.version, record.previous), (2, Some(output.id)));
    let c = model::transfer(ctx, &bob.signer, v2.id, charlie.signer.account_bytes()).await?;
    bob.paid(&c, 0);
    let err = model::deprecate(ctx, &bob.signer, v2.id).await.unwrap_err();
    assert!(err.to_string().contains("you do not own this artifact"), "{err}");
    let c = model::deprecate(ctx, &charlie.signer, v2.id).await?;
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

#[tokio::test]
async fn a_lost_challenge_is_slashed_an_expired_job_refunded_and_strangers_refused() -> Result<()> {
    let net = testnet().await?;
    let ctx = &net.ctx;
    let mut bob = Ledger::new(ctx, "bob").await?;
    let mut charlie = Ledger::new(ctx, "charlie").await?;
    let mut dave = Ledger::new(ctx, "dave").await?;
    let mut eve = Ledger::new(ctx, "eve").await?;
    let artifact = model::register(ctx, &bob.signer, Kind::Model, CID).await?;
    bob.paid(&artifact.call, 0);
    for who in [&mut charlie, &mut dave, &mut eve] {
        let c = m::pledge(ctx, &who.signer, GPU, PRICE, 0, STAKE).await?;
        who.paid(&c, STAKE);
    }

    // Charlie submits a bad result; eve challenges; dave (committee) agrees: charlie loses.
    let deadline = block(ctx).await? + 100;
    let post = m::post_job(ctx, &bob.signer, &train_job(artifact.id, deadline)).await?;
    bob.paid(&post, REWARD);
    charlie.paid(&m::claim(ctx, &charlie.signer, post.value).await?, 0);
    charlie.paid(&m::submit(ctx, &charlie.signer, post.value, OUT, 1, 1, [1; 32]).await?, 0);
    eve.paid(&m::challenge(ctx, &eve.signer, post.value).await?, 0);
    let err = m::vote(ctx, &charlie.signer, post.value, true).await.unwrap_err();
    assert!(err.to_string().contains("party to"), "{err}");
    dave.paid(&m::vote(ctx, &dave.signer, post.value, false).await?, 0);
    assert_eq!(m::show_job(ctx, post.value).await?.0.state, JobState::Rejected);
    let market = ctx.market()?;
    let p = market.pledge_of(charlie.signer.account_bytes()).await?.unwrap();
    assert_eq!((p.stake, p.locked), (STAKE - COLLATERAL, 0));
    assert_eq!(market.balance_of(eve.signer.account_bytes()).await?, COLLATERAL / 2);
    assert_eq!(market.balance_of(bob.signer.account_bytes()).await?, REWARD);
    let alice = Signer::dev("alice")?;
    assert_eq!(market.balance_of(alice.account_bytes()).await?, COLLATERAL / 2);

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

    withdraw(ctx, &mut bob, WithdrawFrom::Market, 2 * REWARD + COLLATERAL / 2).await?;
    withdraw(ctx, &mut eve, WithdrawFrom::Market, COLLATERAL / 2).await?;

    // Strangers: only the admin sets parameters, only the market credits share units.
    let err = market.set_params(&bob.signer, [0; 32], [0; 32], 1).await.unwrap_err();
    assert!(matches!(err, ChainError::ContractRefused { contract: "market", .. }), "{err}");
    assert!(err.to_string().contains("only the market's admin"), "{err}");
    let splitter_addr = net.ctx.deployment.contract("splitter")?.account()?;
    let credit = iollm_types::splitter::calls::credit_units(1, bob.signer.account_bytes(), 5);
    let err = ctx
        .chain
        .execute::<(), iollm_types::splitter::Error>(&bob.signer, &splitter_addr, 0, credit, "()")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only the market contract may credit"), "{err}");
    let err = ctx.registry()?.set_market(&bob.signer, [0; 32]).await.unwrap_err();
    assert!(err.to_string().contains("only the registry's admin"), "{err}");
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

#[tokio::test]
async fn a_verified_breakthrough_wins_a_bounty_tranche_paid_into_the_split() -> Result<()> {
    let net = testnet().await?;
    let ctx = &net.ctx;
    let bob = Signer::dev("bob")?;
    let charlie = Signer::dev("charlie")?;
    let dave = Signer::dev("dave")?;
    let eve = Signer::dev("eve")?;
    let path = model::register(ctx, &bob, Kind::Path, CID).await?.id;
    for who in [&charlie, &dave] {
        m::pledge(ctx, who, GPU, PRICE, 0, STAKE).await?;
    }
    let expires = block(ctx).await? + 1_000;
    let bounty = m::post_bounty(ctx, &eve, CID, 0, 10, 100, 2, expires, 2_000_001).await?.value;

    let deadline = block(ctx).await? + 100;
    let need = Capacity::default();
    let job = PostJob::new(
        JobKind::EvalPath,
        CID,
        path,
        1,
        need,
        deadline,
        verification(1),
        Some(bounty),
        REWARD,
    );
    let job = m::post_job(ctx, &bob, &job).await?.value;
    m::claim(ctx, &charlie, job).await?;
    m::submit(ctx, &charlie, job, OUT, 150, 0, [2; 32]).await?;
    m::attest(ctx, &dave, job).await?;
    let submitted_at = m::show_job(ctx, job).await?.0.submitted_at;
    advance_past(ctx, submitted_at + 1).await?;
    let before = ctx.splitter()?.balance_of(bob.account_bytes(), None).await?;
    m::finalize(ctx, &eve, job).await?;
    let b = ctx.market()?.bounty(bounty).await?.unwrap();
    assert_eq!((b.best, b.tranches_left, b.escrow), (150, 1, 2_000_001 - 1_000_000));
    // The path's rule is the registration default (all to the designer).
    let after = ctx.splitter()?.balance_of(bob.account_bytes(), None).await?;
    assert_eq!(after - before, 1_000_000);
    Ok(())
}
