//! The dispute game on a real substrate-contracts-node: the dispute contract built with
//! cargo-contract and deployed, two players of a real 16-step run (2 layers, 2 heads, context
//! 16, weight decay) moving through signed transactions, every move checked by the contract and
//! the bottom step recomputed by it on soft floats. Both directions: an honest executor beats a
//! lying challenger (the dispute contract deployed alone, its opener a test account); a cheating
//! executor loses to an honest challenger through the market, which opens the game on a
//! dispute and pays on its verdict. An account that is not a player cannot move. Reports the moves and the ref_time of each kind of move as a multiple of
//! the yardstick transfer (BENCH.md's 1.13 × 10^9).

use anyhow::{Context as _, Result};
use iollm_chain::dispute::DisputeClient;
use iollm_chain::{Chain, ChainError, Signer};
use iollm_cli::devnet::{self, NodeProcess};
use iollm_cli::market::{self as m, PostJob};
use iollm_cli::model;
use iollm_compute::merkle;
use iollm_compute::{Runtime, TrainConfig, Trainer};
use iollm_types::bisection::{Side, Verdict};
use iollm_types::dispute::GameId;
use iollm_types::game::How;
use iollm_types::market::{Capacity, GameSpec, JobKind, JobState, Verification};
use iollm_types::registry::Kind;
use iollm_worker::game_spec;
use iollm_worker::player::{Cheat, Player};
use std::collections::BTreeMap;

use std::time::Duration;

/// The yardstick ERC-20 transfer's ref_time (BENCH.md).
const YARDSTICK: f64 = 1.13e9;

/// Opens a game between the two players (signed by the opener) and plays it through
/// transactions until decided. Returns the verdict, how, the moves and the ref_time per kind.
async fn play(
    dispute: &DisputeClient,
    opener: &Signer,
    tr: &Trainer,
    cfg: &TrainConfig,
    players: [(&Player<'_>, &Signer); 2],
) -> Result<(GameId, Verdict, How, u32, BTreeMap<&'static str, u64>)> {
    let (n, every) = (cfg.n_checkpoints() as u64, cfg.train.checkpoint_every);
    let traces = players.map(|(p, _)| p.checkpoints(every, n));
    let proof = |t: &[[u8; 32]], i: usize| merkle::proof(t, i).expect("in range");
    let sides = players.map(|(_, s)| s.account_bytes());
    let t =
        game_spec(tr, cfg, 50).terms(sides, [merkle::root(&traces[0]), merkle::root(&traces[1])]);
    let c = &traces[1];
    let id =
        dispute.open(opener, &t, &proof(c, 0), c[n as usize], &proof(c, n as usize)).await?.value;
    let (verdict, how, moves, cost) = play_game(dispute, id, players).await?;
    Ok((id, verdict, how, moves, cost))
}

/// Plays open game `id` through transactions until decided.
async fn play_game(
    dispute: &DisputeClient,
    id: GameId,
    players: [(&Player<'_>, &Signer); 2],
) -> Result<(Verdict, How, u32, BTreeMap<&'static str, u64>)> {
    let mut cost: BTreeMap<&'static str, u64> = BTreeMap::new();
    loop {
        let game = dispute.game(id).await?.context("the game is stored")?;
        let mut moved = false;
        for (player, signer) in players {
            let Some(m) = player.respond(&game) else { continue };
            let kind = m.kind();
            let call = dispute.play(signer, m.call(id)).await?;
            let worst = cost.entry(kind).or_default();
            *worst = (*worst).max(call.dry_run.gas_required.0);
            if let Some(d) = DisputeClient::decided(&call) {
                return Ok((d.verdict, d.how, d.moves, cost));
            }
            moved = true;
            break;
        }
        anyhow::ensure!(moved, "nobody could move in {:?}", game.stage);
    }
}

fn report(name: &str, moves: u32, cost: &BTreeMap<&'static str, u64>) {
    let kinds: Vec<String> =
        cost.iter().map(|(k, v)| format!("{k} {:.2}", *v as f64 / YARDSTICK)).collect();
    println!(
        "{name}: {moves} moves; worst ref_time per kind (× yardstick transfer): {}",
        kinds.join(", ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disputes_are_decided_on_the_node_by_the_contracts_recomputation() -> Result<()> {
    tokio::time::timeout(Duration::from_secs(1200), async {
        devnet::node_binary().context("the end-to-end tests need the devnet tools: run scripts/setup.sh")?;
        let built = devnet::build_contracts(&iollm_tests::checkout().contracts(), ["dispute"])?;
        let dir = tempfile::tempdir()?;
        let node = NodeProcess::start(&dir.path().join("node")).await?;
        let chain = Chain::connect(&node.rpc_url()).await?;
        let (alice, bob, charlie, dave) =
            (Signer::dev("alice")?, Signer::dev("bob")?, Signer::dev("charlie")?, Signer::dev("dave")?);
        let code = std::fs::read(&built["dispute"].wasm)?;
        let deployed = chain
            .instantiate_with_code(&alice, code, DisputeClient::constructor(alice.account_bytes()), vec![1])
            .await?;
        let dispute = DisputeClient::new(chain.clone(), deployed.address);

        let (cfg, tr) = iollm_tests::game_run()?;
        // An honest executor (Bob) against a lying challenger (Charlie), while Dave (not a
        // player) tries to move and is refused (the other direction, a cheating executor
        // caught, is played through the market below).
        let honest_executor = Player::new(Side::Executor, &tr, None);
        let liar = Player::new(Side::Challenger, &tr, Some(Cheat { step: 13, op: 40, element: 5, xor: 1 << 22 }));
        let n = cfg.n_checkpoints() as u64;
        let traces = [honest_executor.checkpoints(4, n), liar.checkpoints(4, n)];
        let sides = [bob.account_bytes(), charlie.account_bytes()];
        let t = game_spec(&tr, &cfg, 50).terms(sides, [merkle::root(&traces[0]), merkle::root(&traces[1])]);
        let proof = |t: &[[u8; 32]], i: usize| merkle::proof(t, i).expect("in range");
        let c = &traces[1];
        let probe = dispute.open(&alice, &t, &proof(c, 0), c[n as usize], &proof(c, n as usize)).await?.value;
        let game = dispute.game(probe).await?.context("stored")?;
        let m = honest_executor.respond(&game).context("the executor owes its answer")?;
        let sybil = dispute.play(&dave, m.call(probe)).await;
        assert!(
            matches!(&sybil, Err(ChainError::ContractRefused { message, .. }) if message.contains("executor or challenger")),
            "{sybil:?}"
        );
        let (_, verdict, how, moves, cost) =
            play(&dispute, &alice, &tr, &cfg, [(&honest_executor, &bob), (&liar, &charlie)]).await?;
        assert_eq!((verdict, how), (Verdict::Executor, How::Replay));
        report("lying challenger", moves, &cost);
        assert_eq!(dispute.game_count().await?, 2);
        // Only the opener opens games; a decided game takes no more moves.
        let refused = dispute.open(&dave, &t, &[], [1; 32], &[]).await;
        assert!(matches!(refused, Err(ChainError::ContractRefused { .. })), "{refused:?}");
        let late = dispute.play(&bob, iollm_types::dispute::calls::timeout(2)).await;
        assert!(matches!(late, Err(ChainError::ContractRefused { .. })), "{late:?}");
        Ok(())
    })
    .await
    .context("the dispute test took over 20 minutes")?
}

/// The market opens the game on a dispute and pays on its verdict: an executor that cheated in
/// one element of one op of step 6 loses its collateral — half to the challenger, half to the
/// treasury — the poster gets its escrow back, and every planck of the market's books is
/// accounted for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_market_settles_a_dispute_on_the_games_verdict() -> Result<()> {
    tokio::time::timeout(Duration::from_secs(1200), async {
        let net = iollm_tests::testnet().await?;
        let ctx = &net.ctx;
        let market = ctx.market()?;
        let dispute = ctx.dispute()?;
        let (alice, bob, charlie, dave) = (
            Signer::dev("alice")?,
            Signer::dev("bob")?,
            Signer::dev("charlie")?,
            Signer::dev("dave")?,
        );
        const STAKE: u128 = 1_000_000_000_000;
        const REWARD: u128 = 1_000_000_000_000;
        const COLLATERAL: u128 = 100_000_000_000;
        const GPU: Capacity = Capacity { accelerator: 2, memory_gib: 80, throughput: 100 };
        const CID: &str = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";

        let (cfg, tr) = iollm_tests::game_run()?;
        let cheat = Cheat { step: 6, op: 14, element: 77, xor: 1 << 20 };
        let (cheater, honest) = (
            Player::new(Side::Executor, &tr, Some(cheat)),
            Player::new(Side::Challenger, &tr, None),
        );
        let n = cfg.n_checkpoints() as u64;
        let (bad, good) = (cheater.checkpoints(4, n), honest.checkpoints(4, n));

        let artifact = model::register(ctx, &bob, Kind::Model, CID).await?.id;
        m::pledge(ctx, &charlie, GPU, 1_000_000_000, 0, STAKE).await?;
        m::pledge(ctx, &dave, GPU, 1_000_000_000, 0, STAKE).await?;
        let spec = game_spec(&tr, &cfg, 50);
        assert_eq!(spec.h0, good[0], "the job's h_0 is the run's");
        let need = Capacity { accelerator: 1, memory_gib: 24, throughput: 10 };
        let v = Verification {
            challenge_window: 20,
            verifiers: 1,
            collateral: COLLATERAL,
            verifier_fee: 0,
        };
        let deadline = ctx.chain.best_block().await? + 100;
        let post = PostJob::new(JobKind::Train, CID, artifact, 50, need, deadline, v, REWARD)
            .with_game(spec.clone());
        let job = m::post_job(ctx, &bob, &post).await?.value;
        m::claim(ctx, &charlie, job).await?;
        m::submit(ctx, &charlie, job, CID, 900_000, 1, merkle::root(&bad)).await?;

        // Dave disputes with his own run of the job (`iollm job dispute --run DIR`); the market
        // opens the game.
        let run = tempfile::tempdir()?;
        let out = iollm_compute::train(&cfg, run.path(), &Runtime::new(2), &mut |_| {})?;
        assert_eq!(out.hashes, good, "his run is the honest player's story");
        let nothing = m::dispute(ctx, &dave, job, &run.path().join("missing")).await.unwrap_err();
        assert!(nothing.to_string().contains("cannot use"), "{nothing}");
        m::dispute(ctx, &dave, job, run.path()).await?;
        let id = market.game_of(job).await?.context("the job's game")?;
        assert_eq!(m::show_job(ctx, job).await?.0.state, JobState::Challenged);
        let shown = m::show_game(ctx, id).await?;
        assert_eq!(shown.awaits(), Some(Side::Executor), "the executor answers first");
        let early = m::settle_dispute(ctx, &alice, job).await.unwrap_err();
        assert!(early.to_string().contains("not decided yet"), "{early}");

        let (verdict, how, moves, cost) =
            play_game(&dispute, id, [(&cheater, &charlie), (&honest, &dave)]).await?;
        assert_eq!((verdict, how), (Verdict::Challenger, How::Replay));
        let game = dispute.game(id).await?.context("decided games stay until closed")?;
        assert_eq!(
            (game.step, game.op as usize, game.element as usize),
            (6, cheat.op, cheat.element)
        );
        report("cheating executor, through the market", moves, &cost);
        market.settle_dispute(&alice, job).await?;
        assert_eq!(m::show_job(ctx, job).await?.0.state, JobState::Rejected);
        let c = market.pledge_of(charlie.account_bytes()).await?.context("pledge")?;
        assert_eq!((c.stake, c.locked), (STAKE - COLLATERAL, 0));
        let d = market.pledge_of(dave.account_bytes()).await?.context("pledge")?;
        assert_eq!((d.stake, d.locked), (STAKE, 0));
        // The market's books: half the collateral (rounded up) to Dave, the rest to the
        // treasury (Alice on a devnet), the reward back to Bob.
        let half = COLLATERAL.div_ceil(2);
        assert_eq!(market.balance_of(dave.account_bytes()).await?, half);
        assert_eq!(market.balance_of(alice.account_bytes()).await?, COLLATERAL - half);
        assert_eq!(market.balance_of(bob.account_bytes()).await?, REWARD);
        // The game is closed and its record freed.
        assert_eq!((market.game_of(job).await?, dispute.game(id).await?), (None, None));

        // A second job whose executor never answers the dispute: after its deadline anyone
        // times the game out (`iollm dispute timeout`) and the market pays on it.
        let quick = GameSpec { move_blocks: 3, ..spec };
        let deadline = ctx.chain.best_block().await? + 100;
        let post = PostJob::new(JobKind::Train, CID, artifact, 50, need, deadline, v, REWARD)
            .with_game(quick);
        let job = m::post_job(ctx, &bob, &post).await?.value;
        m::claim(ctx, &charlie, job).await?;
        m::submit(ctx, &charlie, job, CID, 900_000, 1, merkle::root(&bad)).await?;
        m::dispute(ctx, &dave, job, run.path()).await?;
        let id = market.game_of(job).await?.context("the second job's game")?;
        let opened = ctx.chain.best_block().await?;
        let early = m::timeout_game(ctx, &alice, id).await.unwrap_err();
        assert!(early.to_string().contains("not at a stage"), "{early}");
        while ctx.chain.best_block().await? <= opened + 3 {
            market.top_up(&dave, 1).await?;
        }
        m::timeout_game(ctx, &alice, id).await?;
        let shown = m::show_game(ctx, id).await?;
        assert_eq!(shown.verdict(), Some(Verdict::Challenger));
        assert!(matches!(shown.stage, iollm_types::game::Stage::Decided { how: How::Timeout, .. }));
        m::settle_dispute(ctx, &alice, job).await?;
        let c = market.pledge_of(charlie.account_bytes()).await?.context("pledge")?;
        assert_eq!((c.stake, c.locked), (STAKE - 2 * COLLATERAL, 0));
        assert_eq!(market.balance_of(dave.account_bytes()).await?, 2 * half);
        assert_eq!(market.balance_of(bob.account_bytes()).await?, 2 * REWARD);
        Ok(())
    })
    .await
    .context("the market dispute test took over 20 minutes")?
}
