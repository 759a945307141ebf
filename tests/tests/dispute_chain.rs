//! The dispute game on a real substrate-contracts-node: the dispute contract built with
//! cargo-contract and deployed, players of a real 16-step run (2 layers, 2 heads, context 16,
//! weight decay) moving through signed transactions, every move checked by the contract and the
//! bottom step recomputed by it on soft floats. An honest executor beats a lying challenger, and
//! an executor that forged a checkpoint (one weight changed, re-sealed) loses (the dispute
//! contract deployed alone, its opener a test account); an account that is not a player cannot
//! move. Through the market, which opens a game on every challenge and pays on its
//! verdict: a cheating executor loses to an honest challenger while a liar's game beside it is
//! lost to the cheater, the cheater's attesters lose their bonds even when the cheater throws
//! a game to a sybil first (one defends against each claim and loses against the honest one,
//! one does not defend), an executor that throws its game to a sybil cannot cost its honest
//! attester its bond (the attester defends and wins), and a swarm of ten silent sybils each
//! lose a bond to an honest executor. Reports the moves and the ref_time of each
//! kind of move as a multiple of the yardstick transfer (BENCH.md's 1.13 × 10^9).

use anyhow::{Context as _, Result};
use iollm_chain::contract::StorageDeposit;
use iollm_chain::dispute::DisputeClient;
use iollm_chain::{Chain, ChainError, Signer};
use iollm_cli::market::{self as m, PostJob};
use iollm_compute::merkle::{self, Sha};
use iollm_compute::{Runtime, TrainConfig, Trainer};
use iollm_devnet::NodeProcess;
use iollm_tests::advance_past;
use iollm_types::bisection::{Side, Verdict};
use iollm_types::dispute::GameId;
use iollm_types::game::{most_moves, How};
use iollm_types::market::{
    loss_micros, Capacity, Commitment, FinalState, GameSpec, JobKind, JobState, Verification,
};
use iollm_types::registry::Kind;
use iollm_types::split::SplitRule;
use iollm_types::spotcheck;
use iollm_worker::game_spec;
use iollm_worker::player::{Cheat, Player, Respond};
use std::collections::BTreeMap;

use std::time::Duration;

/// The yardstick ERC-20 transfer's ref_time (BENCH.md).
const YARDSTICK: f64 = 1.13e9;

/// Opens a game between the two players (signed by the opener) and plays it through
/// transactions until decided. Returns the game, the verdict, how, the moves and their cost.
async fn play(
    dispute: &DisputeClient,
    opener: &Signer,
    tr: &Trainer,
    cfg: &TrainConfig,
    players: [(&Player<'_>, &Signer); 2],
) -> Result<(GameId, Verdict, How, u32, Cost)> {
    let (n, every) = (cfg.n_checkpoints() as u64, cfg.train.checkpoint_every);
    let traces = players.map(|(p, _)| p.level_one(every, n));
    let proof = |t: &[[u8; 32]], i: usize| merkle::proof(t, i).expect("in range");
    let sides = players.map(|(_, s)| s.account_bytes());
    let t = game_spec(tr, cfg, 50)
        .terms(sides, [merkle::root(&traces[0]), merkle::root(&traces[1])], Vec::new())
        .expect("no base");
    let c = &traces[1];
    let id =
        dispute.open(opener, &t, &proof(c, 0), c[n as usize], &proof(c, n as usize)).await?.value;
    let (verdict, how, moves, cost) = play_game(dispute, id, players).await?;
    Ok((id, verdict, how, moves, cost))
}

/// What a game came to: verdict, how, moves, and what its moves cost.
type Outcome = (Verdict, How, u32, Cost);

/// What a game's moves cost: the worst ref_time of each kind of move, and the ref_time and fees
/// of all of them together.
#[derive(Default)]
struct Cost {
    worst: BTreeMap<&'static str, u64>,
    ref_time: u64,
    fees: u128,
}

/// Plays open game `id` through transactions until decided.
async fn play_game(
    dispute: &DisputeClient,
    id: GameId,
    players: [(&Player<'_>, &Signer); 2],
) -> Result<Outcome> {
    let mut outcomes = play_games(dispute, &[(id, players)]).await?;
    Ok(outcomes.remove(0))
}

/// Plays open games side by side, one move in each undecided game per round (as a worker must:
/// every game's clock runs at once), through transactions until all are decided.
async fn play_games(
    dispute: &DisputeClient,
    games: &[(GameId, [(&Player<'_>, &Signer); 2])],
) -> Result<Vec<Outcome>> {
    let mut outcomes: Vec<Option<Outcome>> = games.iter().map(|_| None).collect();
    let mut cost: Vec<Cost> = games.iter().map(|_| Cost::default()).collect();
    while outcomes.iter().any(Option::is_none) {
        for (i, (id, players)) in games.iter().enumerate() {
            if outcomes[i].is_some() {
                continue;
            }
            let game = dispute.game(*id).await?.context("the game is stored")?;
            let (player, signer) = players
                .iter()
                .find_map(|(p, s)| p.respond(&game).map(|m| (m, *s)))
                .with_context(|| format!("nobody could move in {:?}", game.stage))?;
            let kind = player.kind();
            let call = dispute.play(signer, player.call(*id)).await?;
            let gas = call.dry_run.gas_required.0;
            let worst = cost[i].worst.entry(kind).or_default();
            *worst = (*worst).max(gas);
            cost[i].ref_time += gas;
            cost[i].fees += call.fee;
            if let Some(d) = DisputeClient::decided(&call) {
                outcomes[i] = Some((d.verdict, d.how, d.moves, std::mem::take(&mut cost[i])));
            }
        }
    }
    Ok(outcomes.into_iter().flatten().collect())
}

/// Plays one side of open game `id` until the other side must move (or it is decided): the
/// moves made.
async fn play_one_side(
    dispute: &DisputeClient,
    id: GameId,
    (player, signer): (&Player<'_>, &Signer),
) -> Result<u32> {
    let mut moves = 0;
    loop {
        let game = dispute.game(id).await?.context("the game is stored")?;
        let Some(next) = game.verdict().is_none().then(|| player.respond(&game)).flatten() else {
            return Ok(moves);
        };
        dispute.play(signer, next.call(id)).await?;
        moves += 1;
    }
}

/// Prints what a game about `cfg`'s run cost, and checks that it took no more moves than a
/// game can ([`most_moves`]).
fn report(name: &str, (tr, cfg): (&Trainer, &TrainConfig), moves: u32, cost: &Cost) {
    let kinds: Vec<String> =
        cost.worst.iter().map(|(k, v)| format!("{k} {:.2}", *v as f64 / YARDSTICK)).collect();
    println!(
        "{name}: {moves} moves, ref_time {} in all ({:.1} × the yardstick transfer), fees {}; \
         worst ref_time per kind (× yardstick transfer): {}",
        cost.ref_time,
        cost.ref_time as f64 / YARDSTICK,
        cost.fees,
        kinds.join(", ")
    );
    check_moves((tr, cfg), moves);
}

/// A game about `cfg`'s run ended in at least one move and at most [`most_moves`].
fn check_moves((tr, cfg): (&Trainer, &TrainConfig), moves: u32) {
    let spec = game_spec(tr, cfg, 50);
    let most = most_moves(&spec.config, spec.every, spec.checkpoints).expect("a valid config");
    assert!((1..=most).contains(&moves), "{moves} moves, a game takes 1 to {most}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disputes_are_decided_on_the_node_by_the_contracts_recomputation() -> Result<()> {
    tokio::time::timeout(Duration::from_secs(1200), async {
        let built = iollm_tests::contracts()?;
        let dir = tempfile::tempdir()?;
        let node = NodeProcess::start(&iollm_tests::checkout().node_binary()?, &dir.path().join("node")).await?;
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
        let t = game_spec(&tr, &cfg, 50).terms(sides, [merkle::root(&traces[0]), merkle::root(&traces[1])], Vec::new()).expect("no base");
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
        report("lying challenger", (&tr, &cfg), moves, &cost);
        assert_eq!(dispute.game_count().await?, 2);
        // Only the opener opens games; a decided game takes no more moves.
        let refused = dispute.open(&dave, &t, &[], [1; 32], &[]).await;
        assert!(matches!(refused, Err(ChainError::ContractRefused { .. })), "{refused:?}");
        let late = dispute.play(&bob, iollm_types::dispute::calls::timeout(2)).await;
        assert!(matches!(late, Err(ChainError::ContractRefused { .. })), "{late:?}");

        // A forged checkpoint: the executor changes one weight at the end of segment 1 (the
        // AdamW output of step 7, the last op), re-seals h_2 with its own root and trains on
        // honestly from it. The game starts segment 2's dispute only from the committed h_1
        // both traces agree on, and ends at the forged weight, recomputed by the contract.
        let adam = tr.step_program().ops.len() - 1;
        let forged = Cheat { step: 7, op: adam, element: 100, xor: 1 << 20 };
        let forger = Player::new(Side::Executor, &tr, Some(forged));
        let honest = Player::new(Side::Challenger, &tr, None);
        let (_, verdict, how, moves, _) =
            play(&dispute, &alice, &tr, &cfg, [(&forger, &bob), (&honest, &charlie)]).await?;
        assert_eq!((verdict, how), (Verdict::Challenger, How::Replay));
        let game = dispute.game(3).await?.context("decided games stay until closed")?;
        assert_eq!((game.segment, game.step, game.op as usize, game.element), (1, 7, adam, 100));
        println!("forged checkpoint h_2: {moves} moves");
        check_moves((&tr, &cfg), moves);
        Ok(())
    })
    .await
    .context("the dispute test took over 20 minutes")?
}

/// Pledges `who` with `stake`, as a GPU provider.
/// What an executor telling `player`'s story (`trace`, checkpointed every 4 steps) submits:
/// its trace root and `checks`, the last step's loss, and the proof of its last state.
fn submission(
    player: &Player,
    tr: &Trainer,
    trace: &[[u8; 32]],
    checks: [u8; 32],
) -> (Commitment, FinalState) {
    let n = trace.len() - 1;
    let last = player.state(4 * n as u64);
    let commitment = Commitment {
        output_cid: b"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o".to_vec(),
        score: 900_000,
        loss: loss_micros(last.loss.to_bits()),
        trace_root: merkle::root(trace),
        checks_root: checks,
    };
    let (path, first_path) = (merkle::proof(trace, n), merkle::proof(trace, 0));
    let state = last.prove_header(&tr.config_hash());
    let (path, first_path) = (path.expect("in range"), first_path.expect("in range"));
    (commitment, FinalState { state, path, first_path })
}

async fn pledge(ctx: &iollm_chain::Connection, who: &Signer, stake: u128) -> Result<()> {
    const GPU: Capacity = Capacity { accelerator: 2, memory_gib: 80, throughput: 100 };
    m::pledge(ctx, who, GPU, 1_000_000_000, 0, stake).await?;
    Ok(())
}

/// Many challengers through the market, each with its own game, side by side. Job 1: an
/// executor that cheated in one element of one op of step 6, its result attested by two
/// sybils, is challenged at once by an honest provider (Dave, with his own run of the job)
/// and by a liar whose claim is wrong from step 2 on, and by a sybil of the cheater's, whose
/// game the cheater throws (does not answer) so that it rejects the job first. The liar loses
/// its game to the cheater; Dave's game ends at the cheated element. Both lost games accuse the
/// attesters: one defends the cheat against each claim, wins against the sybil's (forfeited)
/// and loses against Dave's; the other does not defend; both bonds are slashed. Job 3: an honest executor
/// throws its game to a sybil challenger; its honest attester defends against the same claim,
/// wins and keeps its bond. Job 2: an honest executor challenged by a swarm of ten sybils that
/// then stop playing: every sybil loses its bond (half to the executor) and the result is
/// paid. The market's books are checked to the unit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_challengers_play_their_own_games_through_the_market() -> Result<()> {
    // Includes building the contracts when this is the first test to deploy them (cold: about
    // 3 minutes each).
    tokio::time::timeout(Duration::from_secs(2400), async {
        let net = iollm_tests::testnet().await?;
        let ctx = &net.connection;
        let market = ctx.market()?;
        let dispute = ctx.dispute()?;
        let dev = |name: &str| Signer::dev(name);
        let (alice, bob, charlie, dave, eve, ferdie) = (
            dev("alice")?,
            dev("bob")?,
            dev("charlie")?,
            dev("dave")?,
            dev("eve")?,
            dev("ferdie")?,
        );
        // Ten more endowed dev accounts for the swarm.
        let swarm: Vec<Signer> = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"]
            .iter()
            .map(|n| Signer::from_suri(&format!("//{n}//stash")))
            .chain([Ok(alice.clone()), Ok(dave.clone()), Ok(eve.clone()), Ok(ferdie.clone())])
            .collect::<Result<_, _>>()?;
        const STAKE: u128 = 1_000_000_000_000;
        const REWARD: u128 = 1_000_000_000_000;
        const COLLATERAL: u128 = 100_000_000_000;
        const CID: &str = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
        let half = COLLATERAL.div_ceil(2);

        let (cfg, tr) = iollm_tests::game_run()?;
        let cheat = Cheat { step: 6, op: 14, element: 77, xor: 1 << 20 };
        let cheater = Player::new(Side::Executor, &tr, Some(cheat));
        let honest = Player::new(Side::Challenger, &tr, None);
        let liar = Player::new(
            Side::Challenger,
            &tr,
            Some(Cheat { step: 2, op: 30, element: 3, xor: 1 << 21 }),
        );
        let n = cfg.n_checkpoints() as u64;
        let (bad, good, lie) =
            (cheater.checkpoints(4, n), honest.checkpoints(4, n), liar.checkpoints(4, n));

        let artifact = ctx
            .registry()?
            .register(&bob, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY)
            .await?
            .id;
        for who in [&charlie, &dave, &eve, &ferdie] {
            pledge(ctx, who, STAKE).await?;
        }
        // 20 blocks a move: its longest game (109 × 20 + 1 blocks) fits the devnet's
        // challenge blocks (5 000).
        let spec = game_spec(&tr, &cfg, 20);
        assert_eq!(spec.longest(), Some(2_181));
        assert_eq!(spec.h0, good[0], "the job's h_0 is the run's");
        let need = Capacity { accelerator: 1, memory_gib: 24, throughput: 10 };
        let v = Verification {
            challenge_window: 40,
            verifiers: 2,
            collateral: COLLATERAL,
            verifier_fee: 0,
        };
        let deadline = ctx.chain.best_block().await? + 200;
        let post = PostJob::new(JobKind::Train, CID, artifact, 50, need, deadline, v, REWARD)
            .with_game(spec.clone());
        let job = m::post_job(ctx, &bob, &post).await?.value;
        // The cheater's sybils sign up to spot-check it, each locking a bond; the cheater
        // commits made-up checks and hands them the steps roots, so their "checks" match.
        let made_up: Vec<[u8; 32]> = (0..n).map(|i| [40 + i as u8; 32]).collect();
        let leaves: Vec<[u8; 32]> = made_up.iter().map(spotcheck::leaf::<Sha>).collect();
        let mut secrets = Vec::new();
        for sybil in [&eve, &ferdie] {
            let secret = m::fresh_secret()?;
            m::sign_up(ctx, sybil, job, &secret).await?;
            secrets.push(secret);
        }
        m::claim(ctx, &charlie, job).await?;
        let checks = spotcheck::checks_root::<Sha>(&leaves);
        let (result, last) = submission(&cheater, &tr, &bad, checks);
        m::submit(ctx, &charlie, job, &result, Some(&last)).await?;
        for (sybil, secret) in [&eve, &ferdie].into_iter().zip(&secrets) {
            let checks = iollm_tests::made_up_checks(secret, &merkle::root(&bad), &made_up);
            ctx.market()?.attest(sybil, job, *secret, &Some(checks)).await?;
        }
        assert_eq!(m::show_job(ctx, job).await?.0.attestations, 2);

        // Dave challenges with his own run of the job (`iollm job challenge --run DIR`), a liar
        // (Alice) with a claim wrong from step 2; both games are open at once.
        let run = tempfile::tempdir()?;
        let out =
            iollm_compute::train(&cfg, run.path(), &Runtime::new(2), &mut iollm_compute::go_on)?;
        assert_eq!(out.hashes, good, "his run is the honest player's story");
        let nothing = m::challenge(ctx, &dave, job, &run.path().join("missing")).await.unwrap_err();
        assert!(nothing.to_string().contains("cannot use"), "{nothing}");
        assert_eq!(m::challenge(ctx, &dave, job, run.path()).await?.value, 0);
        pledge(ctx, &alice, STAKE).await?;
        let proof = |t: &[[u8; 32]], i: usize| merkle::proof(t, i).expect("in range");
        let claim = (merkle::root(&lie), proof(&lie, 0), lie[n as usize], proof(&lie, n as usize));
        let opened = market.challenge(&alice, job, claim.0, &claim.1, claim.2, &claim.3).await?;
        assert_eq!(opened.value, 1);
        // And the cheater's own sybil (S), whose game the cheater throws by not answering: a
        // rejection it picks, before Dave's game can end.
        let sybil_challenger = &swarm[0];
        pledge(ctx, sybil_challenger, STAKE).await?;
        // Blocks are made by its top-ups, so that no balance checked below moves.
        let clock = &swarm[1];
        pledge(ctx, clock, STAKE).await?;
        let (root, first, last_h, last_p) = &claim;
        let thrown = market.challenge(sybil_challenger, job, *root, first, *last_h, last_p).await?;
        assert_eq!(thrown.value, 2);
        let thrown_at = thrown.included.block;
        let honest_id = market.game_of(job, 0).await?.context("Dave's game")?.game;
        let liar_id = market.game_of(job, 1).await?.context("the liar's game")?.game;
        let job_now = m::show_job(ctx, job).await?.0;
        assert_eq!(
            (job_now.state, job_now.challenges, job_now.open_games),
            (JobState::Submitted, 3, 3)
        );
        assert_eq!(m::show_game(ctx, honest_id).await?.awaits(), Some(Side::Executor));
        let early = m::settle_challenge(ctx, &bob, job, 0).await.unwrap_err();
        assert!(early.to_string().contains("not decided yet"), "{early}");

        // Both games are played side by side. The liar loses: the cheater was right at step 2,
        // where their traces first differ. Settled first, the job stands (the other game
        // goes on) and the cheater gets half the liar's bond.
        let mut outcomes = play_games(
            &dispute,
            &[
                (liar_id, [(&cheater, &charlie), (&liar, &alice)]),
                (honest_id, [(&cheater, &charlie), (&honest, &dave)]),
            ],
        )
        .await?;
        let (verdict, how, moves, cost) = outcomes.remove(1);
        let (liar_verdict, _, liar_moves, _) = outcomes.remove(0);
        assert_eq!(liar_verdict, Verdict::Executor);
        println!("lying challenger against a cheating executor: {liar_moves} moves");
        check_moves((&tr, &cfg), liar_moves);
        m::settle_challenge(ctx, &bob, job, 1).await?;
        assert_eq!(m::show_job(ctx, job).await?.0.state, JobState::Submitted);
        assert_eq!(market.balance_of(charlie.account_bytes()).await?, half);

        assert_eq!((verdict, how), (Verdict::Challenger, How::Replay));
        let game = dispute.game(honest_id).await?.context("decided games stay until closed")?;
        assert_eq!(
            (game.step, game.op as usize, game.element as usize),
            (6, cheat.op, cheat.element)
        );
        report("cheating executor, through the market", (&tr, &cfg), moves, &cost);
        // The thrown game, its executor silent past its clock, is settled first: it rejects
        // the job (half the collateral to the sybil) and is accusation 0; Dave's game, lost
        // at the cheated element, is accusation 1.
        advance_past(ctx, clock, thrown_at + 2 * 20).await?;
        m::settle_challenge(ctx, &bob, job, 2).await?;
        assert_eq!(m::show_job(ctx, job).await?.0.state, JobState::Rejected);
        m::settle_challenge(ctx, &bob, job, 0).await?;
        let rejected = m::show_job(ctx, job).await?.0;
        assert_eq!((rejected.state, rejected.open_games), (JobState::Rejected, 0));
        // The attesters stand accused, bonds locked, by both games. Eve defends the cheat
        // against each claim: the sybil's, which the sybil forfeits, and Dave's, which she
        // loses at the cheated element. Winning the one her cheater picked does not save her
        // bond. Ferdie does not defend and is settled once the time to defend has passed.
        assert_eq!((rejected.accused, rejected.accusations), (2, 2));
        let accusation = market.accusation_of(job, 0).await?.context("the thrown game accuses")?;
        assert_eq!((accusation.by, accusation.challenger_right), (2, true));
        let daves = market.accusation_of(job, 1).await?.context("Dave's game accuses")?;
        assert_eq!((daves.by, daves.challenger_right), (0, true));
        let early = m::settle_attester(ctx, &bob, job, 1).await.unwrap_err();
        assert!(early.to_string().contains("may still defend"), "{early}");
        let stranger = m::defend(ctx, &dave, job, 0).await.unwrap_err();
        assert!(stranger.to_string().contains("no such accusation"), "{stranger}");
        let against_sybil = m::defend(ctx, &eve, job, 0).await?.value;
        let moves = play_one_side(&dispute, against_sybil, (&cheater, &eve)).await?;
        assert!(moves > 0, "the defender answers first");
        let against_dave = m::defend(ctx, &eve, job, 1).await?.value;
        let (verdict, how, _, _) =
            play_game(&dispute, against_dave, [(&cheater, &eve), (&honest, &dave)]).await?;
        assert_eq!((verdict, how), (Verdict::Challenger, How::Replay), "Eve's defence");
        let budget = ctx.chain.best_block().await? + 2 * 20;
        advance_past(ctx, clock, budget).await?;
        let timeout = iollm_types::dispute::calls::timeout(against_sybil);
        dispute.play(&bob, timeout).await?;
        let forfeited = dispute.game(against_sybil).await?.and_then(|g| g.verdict());
        assert_eq!(forfeited, Some(Verdict::Executor), "the sybil forfeits Eve's defence");
        // Eve signed up first (sign-up 0), Ferdie second.
        m::settle_attester(ctx, &bob, job, 0).await?;
        advance_past(ctx, clock, daves.until).await?;
        let late = m::defend(ctx, &ferdie, job, 1).await.unwrap_err();
        assert!(late.to_string().contains("has passed"), "{late}");
        m::settle_attester(ctx, &bob, job, 1).await?;
        assert_eq!(m::show_job(ctx, job).await?.0.accused, 0);
        // Dave's claim stays staked until he releases it (below).
        for (who, stake, locked) in [
            (&charlie, STAKE - COLLATERAL, 0),
            (&eve, STAKE - COLLATERAL, 0),
            (&ferdie, STAKE - COLLATERAL, 0),
            (&dave, STAKE, COLLATERAL),
            (&alice, STAKE - COLLATERAL, 0),
            (sybil_challenger, STAKE - COLLATERAL, 0),
        ] {
            let p = market.pledge_of(who.account_bytes()).await?.context("pledge")?;
            assert_eq!((p.stake, p.locked), (stake, locked), "{}", who.account());
        }
        // The books: the sybil half of the collateral and of Ferdie's bond (the first
        // accusation's terms; the other halves always go to the treasury), and its own bond
        // lost to Eve's defence; Dave half of Eve's bond, lost against his claim; the
        // treasury (Alice on a devnet) the rest of those four, half the liar's bond, and the
        // half of the sybil's bond Eve earned by beating its claim but forfeited with her own
        // (held until she was settled: a colluder cannot hand it back to the cheater's side);
        // the cheater kept half the liar's bond (won before it was proven wrong); Bob his
        // reward back.
        assert_eq!(market.balance_of(sybil_challenger.account_bytes()).await?, 2 * half);
        assert_eq!(market.balance_of(eve.account_bytes()).await?, 0);
        assert_eq!(market.balance_of(dave.account_bytes()).await?, half);
        let treasury = 5 * (COLLATERAL - half) + half;
        assert_eq!(market.balance_of(alice.account_bytes()).await?, treasury);
        assert_eq!(market.balance_of(bob.account_bytes()).await?, REWARD);
        // Settled, the game stays for Dave to free: he paid its deposit when he opened it.
        assert!(market.game_of(job, 0).await?.is_some_and(|c| c.settled));
        let freed = market.release(&dave, job).await?;
        let deposit = freed.dry_run.storage_deposit;
        assert!(matches!(deposit, StorageDeposit::Refund(d) if d > 0), "{deposit:?}");
        assert_eq!((market.game_of(job, 0).await?, dispute.game(honest_id).await?), (None, None));
        let d = market.pledge_of(dave.account_bytes()).await?.context("pledge")?;
        assert_eq!((d.stake, d.locked), (STAKE, 0), "Dave's claim, never beaten, is his again");

        // Job 3: an honest executor (Charlie) throws its game to a challenger of its own
        // (Ferdie, claiming the cheat): it loses by recomputation, its collateral half to
        // Ferdie. Dave attested with a real replay; he defends against Ferdie's claim in his
        // own game, wins it at the cheated element and keeps his bond. Books to the unit.
        let before: Vec<u128> = {
            let mut b = Vec::new();
            for who in [&charlie, &dave, &ferdie, &alice] {
                b.push(market.balance_of(who.account_bytes()).await?);
            }
            b
        };
        let deadline = ctx.chain.best_block().await? + 200;
        let v1 = Verification { verifiers: 1, ..v };
        let post = PostJob::new(JobKind::Train, CID, artifact, 50, need, deadline, v1, REWARD)
            .with_game(spec.clone());
        let job = m::post_job(ctx, &bob, &post).await?.value;
        let secret = m::fresh_secret()?;
        m::sign_up(ctx, &dave, job, &secret).await?;
        m::claim(ctx, &charlie, job).await?;
        let (mut result, last) = submission(&honest, &tr, &good, out.checks_root);
        // Dave attests only an output that holds the run's last state.
        let staged = tempfile::tempdir()?;
        let (job_of, output_dir) = ((job, artifact), staged.path().join("output"));
        let output =
            iollm_tests::publish_output(ctx, job_of, &charlie, &cfg, run.path(), &output_dir)
                .await?;
        result.output_cid = output.into_bytes();
        m::submit(ctx, &charlie, job, &result, Some(&last)).await?;
        let runtime = Runtime::new(2);
        let (_, found) =
            m::spot_check(ctx, &dave, job, &secret, (&cfg, run.path()), &runtime).await?;
        assert!(matches!(found, m::SpotCheck::Attested { .. }), "{found:?}");
        let sybil_claim =
            (merkle::root(&bad), proof(&bad, 0), bad[n as usize], proof(&bad, n as usize));
        let (root, first, last_h, last_p) = &sybil_claim;
        let index = market.challenge(&ferdie, job, *root, first, *last_h, last_p).await?.value;
        let thrown_id = market.game_of(job, index).await?.context("the sybil's game")?.game;
        let thrower = Player::throwing(&tr, cheat);
        let sybil = Player::new(Side::Challenger, &tr, Some(cheat));
        let (verdict, how, thrown_moves, _) =
            play_game(&dispute, thrown_id, [(&thrower, &charlie), (&sybil, &ferdie)]).await?;
        assert_eq!((verdict, how), (Verdict::Challenger, How::NextState), "thrown");
        m::settle_challenge(ctx, &bob, job, index).await?;
        let thrown = m::show_job(ctx, job).await?.0;
        assert_eq!(thrown.state, JobState::Rejected);
        let d = market.pledge_of(dave.account_bytes()).await?.context("pledge")?;
        assert_eq!((d.stake, d.locked), (STAKE, COLLATERAL), "Dave's bond is held, not taken");
        let defended = m::defend(ctx, &dave, job, 0).await?;
        let defence = defended.value;
        let honest_defender = Player::new(Side::Executor, &tr, None);
        let (verdict, how, defence_moves, _) =
            play_game(&dispute, defence, [(&honest_defender, &dave), (&sybil, &ferdie)]).await?;
        assert_eq!((verdict, how), (Verdict::Executor, How::Replay), "Dave's defence");
        let game = dispute.game(defence).await?.context("decided games stay until closed")?;
        assert_eq!(
            (game.step, game.op as usize, game.element as usize),
            (6, cheat.op, cheat.element)
        );
        println!(
            "thrown game: {thrown_moves} moves; the attester's defence: {defence_moves} moves"
        );
        check_moves((&tr, &cfg), thrown_moves);
        check_moves((&tr, &cfg), defence_moves);
        let settled = m::settle_attester(ctx, &bob, job, 0).await?;
        println!(
            "ref_time (× yardstick transfer): defend {:.2}, settle_attester {:.2}",
            defended.dry_run.gas_required.0 as f64 / YARDSTICK,
            settled.dry_run.gas_required.0 as f64 / YARDSTICK
        );
        let d = market.pledge_of(dave.account_bytes()).await?.context("pledge")?;
        assert_eq!((d.stake, d.locked), (STAKE, 0), "Dave keeps his bond");
        let mut after = Vec::new();
        for who in [&charlie, &dave, &ferdie, &alice] {
            after.push(market.balance_of(who.account_bytes()).await?);
        }
        // Ferdie got half the thrower's collateral and nothing of Dave's, and lost his bond,
        // his claim beaten by Dave's defence: half to Dave; the treasury the other halves;
        // Charlie nothing.
        assert_eq!(
            after,
            vec![
                before[0],
                before[1] + half,
                before[2] + half,
                before[3] + 2 * (COLLATERAL - half)
            ]
        );
        let f = market.pledge_of(ferdie.account_bytes()).await?.context("pledge")?;
        assert_eq!((f.stake, f.locked), (STAKE - 2 * COLLATERAL, 0), "Ferdie's claim was beaten");
        let c = market.pledge_of(charlie.account_bytes()).await?.context("pledge")?;
        assert_eq!((c.stake, c.locked), (STAKE - 2 * COLLATERAL, 0));
        let freed = market.release(&dave, job).await?;
        assert!(matches!(freed.dry_run.storage_deposit, StorageDeposit::Refund(d) if d > 0));
        assert_eq!(dispute.game(defence).await?, None, "Dave freed his defence's game");

        // Job 2: an honest executor, ten sybils challenge and go quiet after opening.
        for sybil in &swarm {
            if market.pledge_of(sybil.account_bytes()).await?.is_none() {
                pledge(ctx, sybil, STAKE).await?;
            }
        }
        let quick = GameSpec { move_blocks: 3, ..spec };
        let deadline = ctx.chain.best_block().await? + 200;
        let v = Verification { verifiers: 1, ..v };
        let post = PostJob::new(JobKind::Train, CID, artifact, 50, need, deadline, v, REWARD)
            .with_game(quick);
        let job = m::post_job(ctx, &bob, &post).await?.value;
        m::claim(ctx, &charlie, job).await?;
        let checks = out.checks_root;
        let (result, last) = submission(&honest, &tr, &good, checks);
        m::submit(ctx, &charlie, job, &result, Some(&last)).await?;
        // The executor plays with `iollm dispute play` (the CLI's library, here returning when
        // it has nothing to do): its moves, recomputed from the job's config, as each game
        // opens (a commit, then its first reveal; each game's clock runs from its opening);
        // once the sybils' clocks have run out, `timeout` in each. No sybil moves again.
        let play = |id: u64| {
            let mut played: Vec<&'static str> = Vec::new();
            let (charlie, cfg) = (&charlie, &cfg);
            async move {
                let game = m::play_game(
                    ctx,
                    charlie,
                    id,
                    Some(cfg),
                    &iollm_compute::Runtime::new(2),
                    false,
                    |k, _| played.push(k),
                )
                .await?;
                anyhow::Ok((game, played))
            }
        };
        let mut games = Vec::new();
        for (i, sybil) in swarm.iter().enumerate() {
            let opened = market.challenge(sybil, job, claim.0, &claim.1, claim.2, &claim.3).await?;
            assert_eq!(usize::from(opened.value), i);
            let id = market.game_of(job, opened.value).await?.context("open")?.game;
            let (game, played) = play(id).await?;
            assert_eq!((game.verdict(), played), (None, vec!["commit", "reveal"]));
            games.push(id);
        }
        let late = ctx.chain.best_block().await? + 2 * 3 * 2;
        advance_past(ctx, &charlie, late).await?;
        for &id in &games {
            let (game, played) = play(id).await?;
            assert_eq!((game.verdict(), played), (Some(Verdict::Executor), vec!["timeout"]));
        }
        let stranger = m::play_game(
            ctx,
            &bob,
            1,
            Some(&cfg),
            &iollm_compute::Runtime::new(2),
            false,
            |_, _| {},
        )
        .await;
        assert!(stranger.unwrap_err().to_string().contains("no dispute game"));
        // A game about the run, played without the job's config: one line saying to pass it.
        let rt = iollm_compute::Runtime::new(2);
        let blind = m::play_game(ctx, &charlie, games[0], None, &rt, false, |_, _| {}).await;
        assert!(matches!(blind, Err(m::MarketCmdError::NeedsConfig(g)) if g == games[0]));
        for i in 0..10u16 {
            m::settle_challenge(ctx, &bob, job, i).await?;
        }
        let paid = m::show_job(ctx, job).await?.0;
        assert_eq!((paid.state, paid.challenges, paid.open_games), (JobState::Submitted, 10, 0));
        advance_past(ctx, &charlie, paid.submitted_at + v.challenge_window).await?;
        m::finalize(ctx, &bob, job).await?;
        let paid = m::show_job(ctx, job).await?.0;
        assert_eq!(paid.state, JobState::Finalized);
        for sybil in &swarm {
            let p = market.pledge_of(sybil.account_bytes()).await?.context("pledge")?;
            assert_eq!(p.locked, 0, "{}", sybil.account());
        }
        // Charlie: half the liar's bond from job 1, half of each of the ten bonds, its ask
        // (nothing from job 3, which it threw).
        assert_eq!(market.balance_of(charlie.account_bytes()).await?, 11 * half + paid.ask);
        Ok(())
    })
    .await
    .context("the market's games took over 40 minutes")?
}
