//! End to end on the node: the executor daemon (`iollm_worker::executor`, what
//! `iollm worker run` runs) takes training jobs posted from their specs through to payment.
//! Two providers' executors race for one job: one claims it, the other records the lost race
//! and claims nothing. A worker stopped mid-training (as SIGTERM stops it) and started again
//! resumes from its last checkpoint and claims nothing twice. A lying challenger loses the game
//! the executor's worker plays by itself. A verifier's worker attests an honest result from one
//! replayed segment, challenges a cheat (a challenge kept across a crash is sent however late),
//! defends what it attested, does not vouch for an output package that is not the run the
//! trace proves, and challenges a job whose `h_0` is not its seed's initial state.

use anyhow::{bail, Context as _, Result};
use iollm_chain::{ChainError, Connection, Signer};
use iollm_cli::market::{self as m, PostJob};
use iollm_tests::{advance_past, testnet};
use iollm_types::market::{Capacity, JobKind, JobState, Verification};
use iollm_types::registry::Kind;
use iollm_types::split::SplitRule;
use iollm_worker::daemon::{job_dir, Role, Worker, WorkerConfig};
use iollm_worker::state::{Stage, State};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const CID: &str = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
const GPU: Capacity = Capacity { accelerator: 2, memory_gib: 80, throughput: 100 };
const NEED: Capacity = Capacity { accelerator: 1, memory_gib: 24, throughput: 10 };
const PRICE: u128 = 1_000_000_000;
const STAKE: u128 = 1_000_000_000_000;
const REWARD: u128 = 1_000_000_000_000;
const COLLATERAL: u128 = 100_000_000_000;
const WINDOW: u32 = 2;

/// One spot-check slot (the devnet's minimum) that no verifier takes, and a short window.
const ONE_SLOT: Verification = Verification {
    challenge_window: WINDOW,
    verifiers: 1,
    collateral: COLLATERAL,
    verifier_fee: 1_000_000_000,
};

/// Pledges each of `providers` and registers the artifact the jobs work for (by `owner`): its
/// id.
async fn providers_and_artifact(
    ctx: &Connection,
    providers: &[&Signer],
    owner: &Signer,
) -> Result<u64> {
    for provider in providers {
        m::pledge(ctx, provider, GPU, PRICE, 0, STAKE).await?;
    }
    let registry = ctx.registry()?;
    Ok(registry.register(owner, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY).await?.id)
}

/// The example spec (`worker/examples/tiny.job.json`), its training shortened to `steps` of
/// which every `every`th is checkpointed.
fn spec(dir: &Path, steps: u64, every: u64) -> Result<PathBuf> {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../worker/examples/tiny.job.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(example)?)?;
    spec["train"]["steps"] = steps.into();
    spec["train"]["checkpoint_every"] = every.into();
    let file = dir.join(format!("job-{steps}.json"));
    std::fs::write(&file, serde_json::to_vec(&spec)?)?;
    Ok(file)
}

/// A running worker: its task, and where it serves its metrics.
type Running = (tokio::task::JoinHandle<Result<(), iollm_worker::daemon::WorkerError>>, SocketAddr);

/// An executor of `signer` with its state in `state_dir`, running until `stop`.
/// It withdraws its pay after each job if `withdraw`.
async fn start(
    ctx: &Connection,
    signer: &Signer,
    state_dir: &Path,
    withdraw: bool,
    stop: &CancellationToken,
) -> Result<Running> {
    start_as(Role::Executor, ctx, signer, state_dir, withdraw, stop).await
}

/// A worker in `role`.
async fn start_as(
    role: Role,
    ctx: &Connection,
    signer: &Signer,
    state_dir: &Path,
    withdraw: bool,
    stop: &CancellationToken,
) -> Result<Running> {
    spawn(open(role, ctx, signer, state_dir, withdraw).await?, stop)
}

/// A worker in `role` of `signer`, its state in `state_dir`, not yet running.
async fn open(
    role: Role,
    ctx: &Connection,
    signer: &Signer,
    state_dir: &Path,
    withdraw: bool,
) -> Result<Worker<iollm_content::KuboClient>> {
    let config = WorkerConfig {
        role,
        min_fee: 0,
        state_dir: state_dir.to_owned(),
        max_jobs: 1,
        min_reward: 0,
        finalize: true,
        withdraw,
        poll_ms: 200,
        reveal_margin: iollm_worker::spotcheck::REVEAL_MARGIN,
        output_license: "Apache-2.0".into(),
        metrics_listen: Some("127.0.0.1:0".parse()?),
    };
    let conn = Connection { chain: ctx.chain.clone(), deployment: ctx.deployment.clone() };
    let store = iollm_artifacts::ipfs_client(ctx)?;
    Ok(Worker::open(conn, signer.clone(), store, config, iollm_compute::Runtime::new(1)).await?)
}

/// `worker` running until `stop`.
fn spawn(worker: Worker<iollm_content::KuboClient>, stop: &CancellationToken) -> Result<Running> {
    let metrics = worker.metrics_addr().expect("metrics_listen is set");
    let stop = stop.clone();
    Ok((tokio::spawn(async move { worker.run(stop).await }), metrics))
}

/// Waits until `state` holds job `id` at `stage`.
async fn reach(state: &State, id: u64, stage: Stage, seconds: u64) -> Result<()> {
    reach_any(state, id, &[stage], seconds).await
}

/// Waits until `state` holds job `id` at one of `stages`.
async fn reach_any(state: &State, id: u64, stages: &[Stage], seconds: u64) -> Result<()> {
    let stage = stages[0];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let now = state.job(id).await?;
        match &now {
            Some(record) if stages.contains(&record.stage) => return Ok(()),
            Some(record) if record.stage.is_final() => bail!("job {id} ended as {record:?}"),
            _ => {}
        }
        if tokio::time::Instant::now() > deadline {
            bail!("job {id} did not reach {stage:?} in {seconds}s: {now:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn executors_take_jobs_to_payment_and_go_on_after_a_stop() -> Result<()> {
    tokio::time::timeout(Duration::from_secs(600), scenario()).await?
}

async fn scenario() -> Result<()> {
    let net = testnet().await?;
    let ctx = &net.connection;
    let market = ctx.market()?;
    let store = iollm_artifacts::ipfs_client(ctx)?;
    let (bob, charlie, dave) = (Signer::dev("bob")?, Signer::dev("charlie")?, Signer::dev("dave")?);
    let artifact = providers_and_artifact(ctx, &[&charlie, &dave], &bob).await?;
    let dir = tempfile::tempdir()?;
    let verification = ONE_SLOT;
    let post = |spec_cid: &str, game, deadline| {
        PostJob::new(JobKind::Train, spec_cid, artifact, 50, NEED, deadline, verification, REWARD)
            .with_game(game)
    };

    // A job posted before any worker ran: both executors find it at their first start and
    // race for it.
    let (short, short_game) = m::publish_spec(ctx, &spec(dir.path(), 24, 6)?, 20).await?;
    let deadline = ctx.chain.best_block().await? + 300;
    let first = m::post_job(ctx, &bob, &post(&short, short_game.clone(), deadline)).await?.value;
    let (charlie_dir, dave_dir) = (dir.path().join("charlie"), dir.path().join("dave"));
    let stop = CancellationToken::new();
    let (charlie_runs, _) = start(ctx, &charlie, &charlie_dir, true, &stop).await?;
    let (dave_runs, _) = start(ctx, &dave, &dave_dir, true, &stop).await?;
    let charlie_state = State::open(&charlie_dir.join("state.sqlite")).await?;
    let dave_state = State::open(&dave_dir.join("state.sqlite")).await?;
    // One worker per state directory; and a state directory is one account's on one chain
    // and market: a worker opening another's is refused before it reads any job.
    let twin = start(ctx, &charlie, &charlie_dir, true, &stop).await.expect_err("refused");
    assert!(twin.to_string().contains("in use by another worker"), "{twin}");
    let foreign = dir.path().join("foreign");
    std::fs::create_dir_all(&foreign)?;
    State::open(&foreign.join("state.sqlite"))
        .await?
        .bind(ctx.chain.genesis_hash(), market.address().0, charlie.account().0)
        .await?;
    let stranger = start(ctx, &dave, &foreign, true, &stop).await.expect_err("refused");
    assert!(stranger.to_string().contains("belongs to another account"), "{stranger}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    let (winner, state, loser_state) = loop {
        let job = market.job(first).await?.expect("the job");
        if job.state == JobState::Submitted {
            if job.executor == Some(charlie.account_bytes()) {
                break (charlie.clone(), &charlie_state, &dave_state);
            }
            break (dave.clone(), &dave_state, &charlie_state);
        }
        let records = (charlie_state.job(first).await?, dave_state.job(first).await?);
        let stopped = [&records.0, &records.1]
            .into_iter()
            .flatten()
            .any(|r| r.note.as_deref().is_some_and(|n| n.starts_with("stopped")));
        if stopped || tokio::time::Instant::now() > deadline {
            bail!("job {first} was not submitted: {job:?}; the workers' records: {records:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    reach(state, first, Stage::Submitted, 60).await?;
    // The loser lost the race as a normal outcome: recorded, nothing sent.
    if let Some(lost) = loser_state.job(first).await? {
        assert_eq!(lost.stage, Stage::Lost, "{lost:?}");
        assert!(loser_state.transactions(first).await?.is_empty());
    }
    // The committed output is the package the winner published, every byte on IPFS.
    let result = market.result(first).await?.expect("a result");
    let published = state.job(first).await?.and_then(|j| j.output_cid).expect("an output");
    assert_eq!(result.output_cid, published.as_bytes());
    let pulled = dir.path().join("pulled");
    let manifest =
        iollm_content::pull_package(&store, &iollm_content::parse_cid(&published)?, &pulled)
            .await?;
    let provenance = manifest.provenance.expect("provenance");
    assert_eq!(provenance.job_id, Some(first));
    assert_eq!(provenance.trace_root, Some(iollm_compute::train::hex(&result.trace_root)));
    assert!(pulled.join("model.safetensors").is_file());

    // Blocks pass (the other provider's top-ups make them): once the window has closed, the
    // winner finalizes and is paid its ask, to the unit.
    let free_before = ctx.chain.free_balance(&winner.account()).await?;
    let job = market.job(first).await?.expect("the job");
    advance_past(ctx, &other(&winner, &charlie, &dave), job.submitted_at + WINDOW + 1).await?;
    reach(state, first, Stage::Finalized, 120).await?;
    let job = market.job(first).await?.expect("the job");
    assert_eq!(job.state, JobState::Finalized);
    // Its pay, its ask to the unit, was withdrawn to its account: the market holds nothing
    // for it, and its free balance grew by more than that (the storage deposits of its claim
    // and submission came back at finalize) less the fees.
    // (A release of what the ended job left may follow at any block: not counted here.)
    let mut sent = state.transactions(first).await?;
    sent.retain(|t| t.0 != "release");
    let kinds: Vec<&str> = sent.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(kinds, ["claim", "submit_result", "finalize", "withdraw"], "each once");
    assert_eq!(sent[3].2, Some(job.ask), "withdrew exactly its pay");
    assert_eq!(market.balance_of(winner.account_bytes()).await?, 0);
    let gained = ctx.chain.free_balance(&winner.account()).await? - free_before;
    assert!(gained > job.ask, "{gained} of {}", job.ask);
    stop.cancel();
    charlie_runs.await??;
    dave_runs.await??;

    // A longer job: the winner's worker is stopped mid-training (as SIGTERM stops it), then
    // started again; it resumes from its last checkpoint and claims it once.
    let (long, long_game) = m::publish_spec(ctx, &spec(dir.path(), 800, 50)?, 20).await?;
    let deadline = ctx.chain.best_block().await? + 300;
    let second = m::post_job(ctx, &bob, &post(&long, long_game, deadline)).await?.value;
    let winner_dir = if winner.account() == charlie.account() { &charlie_dir } else { &dave_dir };
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(winner_dir)?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the state (a verifier's secrets) is its owner's alone");
    let stop = CancellationToken::new();
    let (runs, _) = start(ctx, &winner, winner_dir, true, &stop).await?;
    let run = job_dir(winner_dir, second).join("run");
    let second_checkpoint = iollm_compute::train::checkpoint_path(&run, 2);
    let waited = tokio::time::Instant::now();
    while !second_checkpoint.exists() {
        if waited.elapsed() > Duration::from_secs(120) {
            bail!("training of job {second} did not reach checkpoint 2");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    runs.await??;
    let stopped = state.job(second).await?.expect("recorded");
    assert_eq!(stopped.stage, Stage::Claimed, "stopped while training");
    assert!(iollm_compute::run_result(&run).is_err(), "the run is unfinished");
    let kept = std::fs::metadata(&second_checkpoint)?.modified()?;

    let stop = CancellationToken::new();
    let (runs, _) = start(ctx, &winner, winner_dir, true, &stop).await?;
    reach(state, second, Stage::Submitted, 300).await?;
    assert_eq!(
        std::fs::metadata(&second_checkpoint)?.modified()?,
        kept,
        "resumed after the checkpoints it had, not trained again"
    );
    let sent: Vec<String> = state.transactions(second).await?.into_iter().map(|t| t.0).collect();
    assert_eq!(sent, ["claim", "submit_result"], "claimed once across the restart");
    let job = market.job(second).await?.expect("the job");
    assert_eq!(job.executor, Some(winner.account_bytes()));
    assert_eq!(market.result(second).await?.map(|r| r.trace_root), {
        let trained = iollm_compute::run_result(&run)?;
        Some(trained.trace_root)
    });

    // A stage that fails (here: its output directory is blocked by a file) is noted on the
    // job and tried again after a backoff, without a restart: once the cause is gone, the job
    // goes on.
    let third_id = market.job_count().await? + 1;
    let blocker = job_dir(winner_dir, third_id).join("output");
    std::fs::create_dir_all(blocker.parent().expect("a job directory"))?;
    std::fs::write(&blocker, b"in the way")?;
    let deadline = ctx.chain.best_block().await? + 300;
    let third = m::post_job(ctx, &bob, &post(&short, short_game.clone(), deadline)).await?.value;
    assert_eq!(third, third_id);
    let waited = tokio::time::Instant::now();
    loop {
        let note = state.job(third).await?.and_then(|j| j.note).unwrap_or_default();
        if note.starts_with("stopped: clearing the output directory") {
            break;
        }
        if waited.elapsed() > Duration::from_secs(120) {
            bail!("job {third} did not stop at its output: {note:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state.job(third).await?.map(|j| j.stage), Some(Stage::Trained));
    std::fs::remove_file(&blocker)?;
    reach(state, third, Stage::Submitted, 120).await?;
    stop.cancel();
    runs.await??;
    Ok(())
}

/// The provider of the two that is not `winner`.
fn other(winner: &Signer, charlie: &Signer, dave: &Signer) -> Signer {
    if winner.account() == charlie.account() {
        dave.clone()
    } else {
        charlie.clone()
    }
}

/// A verifier's stages once its sign-up has landed (it may be running the job already).
const SIGNED_UP: &[Stage] = &[Stage::SignedUp, Stage::Trained];

/// The game's run (`iollm_tests::GAME_RUN`: 2 layers, 2 heads, 16 steps, 4 checkpoints) as an
/// `iollm-job-v1` spec: the smallest job the dispute game is played on.
const GAME_SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../worker/examples/game.job.json");

/// A challenger lies about the executor's result (a claim wrong from step 2): the executor's
/// worker plays its side of the game by itself — stopped mid-game and started again, it carries
/// on — wins it, settles it, finalizes, and is paid its ask plus half the liar's bond, to the
/// unit.
#[tokio::test]
async fn the_executor_defends_its_result_against_a_lying_challenger() -> Result<()> {
    tokio::time::timeout(Duration::from_secs(600), defence()).await?
}

async fn defence() -> Result<()> {
    use iollm_types::bisection::Side;
    use iollm_types::bisection::Verdict;
    use iollm_worker::player::{Cheat, Player};
    let net = testnet().await?;
    let ctx = &net.connection;
    let market = ctx.market()?;
    let (alice, bob, charlie, dave) =
        (Signer::dev("alice")?, Signer::dev("bob")?, Signer::dev("charlie")?, Signer::dev("dave")?);
    for provider in [&charlie, &alice, &dave] {
        m::pledge(ctx, provider, GPU, PRICE, 0, STAKE).await?;
    }
    let artifact =
        ctx.registry()?.register(&bob, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY).await?.id;
    let dir = tempfile::tempdir()?;
    let spec = Path::new(GAME_SPEC);
    let (spec_cid, game) = m::publish_spec(ctx, spec, 20).await?;
    let verification = Verification {
        challenge_window: 40,
        verifiers: 1,
        collateral: COLLATERAL,
        verifier_fee: 1_000_000_000,
    };
    let deadline = ctx.chain.best_block().await? + 300;
    let last_chunk = game.output.chunks() as u32 - 1;
    let post =
        PostJob::new(JobKind::Train, &spec_cid, artifact, 50, NEED, deadline, verification, REWARD)
            .with_game(game);
    let job = m::post_job(ctx, &bob, &post).await?.value;

    let worker_dir = dir.path().join("charlie");
    let stop = CancellationToken::new();
    let (runs, metrics) = start(ctx, &charlie, &worker_dir, false, &stop).await?;
    let state = State::open(&worker_dir.join("state.sqlite")).await?;
    reach(&state, job, Stage::Submitted, 300).await?;

    // Dave claims the output package does not hold the last state's weights (its last,
    // partial chunk): Charlie's worker proves it does, from its run and the package on IPFS,
    // and the dispute contract reads the proof.
    let question = iollm_types::package::Question::Chunk(last_chunk);
    let asked = market.challenge_output(&dave, job, question).await?.value;
    let output_game = market.game_of(job, asked).await?.expect("Dave's game").game;
    let proven = loop {
        let g = ctx.dispute()?.game(output_game).await?.expect("the output game");
        if let iollm_types::game::Stage::Decided { verdict, how } = g.stage {
            break (verdict, how, g.moves);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        proven,
        (Verdict::Executor, iollm_types::game::How::Proven, 1),
        "proven in one move"
    );

    // Alice claims a run that differs from step 2 on, and plays it to the end.
    let cfg = m::job_config(ctx, job, &dir.path().join("liar")).await?;
    let trainer = iollm_compute::Trainer::new(&cfg, &iollm_compute::Runtime::new(1))?;
    let cheat = Cheat { step: 2, op: 30, element: 3, xor: 1 << 21 };
    let n = cfg.n_checkpoints();
    let lie = Player::new(Side::Challenger, &trainer, Some(cheat)).checkpoints(4, n as u64);
    let proof = |i: usize| iollm_compute::merkle::proof(&lie, i).expect("in range");
    let root = iollm_compute::merkle::root(&lie);
    let alices = market.challenge(&alice, job, root, &proof(0), lie[n], &proof(n)).await?.value;
    let game_id = market.game_of(job, alices).await?.expect("the challenge's game").game;
    // Mid-game, the worker is stopped (its training and submission counted in its metrics)
    // and started again on its state: it carries the game on from where the chain says it
    // stands, whatever move it was making.
    let restart = async {
        let dispute = ctx.dispute()?;
        while dispute.game(game_id).await?.map_or(0, |g| g.moves) < 6 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let before = scrape(metrics).await?;
        stop.cancel();
        runs.await??;
        let stop = CancellationToken::new();
        let (runs, metrics) = start(ctx, &charlie, &worker_dir, false, &stop).await?;
        anyhow::Ok((before, stop, runs, metrics))
    };
    let liar = async {
        let (mut moves, mut overtaken) = (0, 0);
        let decided = loop {
            let liar = |side| Player::new(side, &trainer, Some(cheat));
            let played =
                iollm_worker::player::play(ctx, &alice, game_id, liar, false, |_, _| moves += 1)
                    .await;
            match played {
                Ok(g) => {
                    if let Some(verdict) = g.verdict() {
                        break verdict;
                    }
                }
                // The worker's move landed between her read and hers: read the game again.
                Err(iollm_worker::player::PlayError::Chain(ChainError::Dispatch { .. })) => {
                    overtaken += 1
                }
                Err(e) => return Err(anyhow::Error::from(e)),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        println!("the liar made {moves} moves ({overtaken} overtaken)");
        Ok(decided)
    };
    let (restarted, decided) = tokio::join!(restart, liar);
    let (before, stop, runs, metrics) = restarted?;
    assert_eq!(decided?, Verdict::Executor, "the honest executor's worker won");
    let value = |text: &str, series: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(&format!("{series} ")));
        line.and_then(|l| l.rsplit(' ').next()?.parse().ok()).unwrap_or(f64::NAN)
    };
    assert!(value(&before, "iollm_worker_training_steps_total") >= 1.0, "{before}");
    assert!(value(&before, "iollm_worker_training_tokens_per_second") > 0.0, "{before}");
    // Claim, submission and its first moves, before the stop: all finalized, none failed.
    let finalized = value(&before, "iollm_worker_transactions_total{outcome=\"finalized\"}");
    assert!(finalized >= 2.0 + value(&before, "iollm_worker_game_moves_total"), "{before}");
    let playing = "iollm_worker_disputes_total{side=\"executor\",state=\"playing\"}";
    assert!(value(&before, playing) >= 1.0, "{before}");

    // The worker settles the game and, once the window has closed, finalizes.
    let submitted_at = market.job(job).await?.expect("the job").submitted_at;
    advance_past(ctx, &alice, submitted_at + 40 + 1).await?;
    reach(&state, job, Stage::Finalized, 120).await?;
    let done = market.job(job).await?.expect("the job");
    assert_eq!((done.state, done.open_games), (JobState::Finalized, 0));
    // Half of each liar's bond is the executor's.
    let owed = done.ask + 2 * (COLLATERAL / 2);
    for liar in [&alice, &dave] {
        let p = market.pledge_of(liar.account_bytes()).await?.expect("pledge");
        assert_eq!((p.stake, p.locked), (STAKE - COLLATERAL, 0), "a liar's bond is slashed");
    }
    assert_eq!(market.balance_of(charlie.account_bytes()).await?, owed);
    // The restarted worker's metrics say so: the job by stage, the game's moves it made, the
    // transactions, what it is owed.
    let text = scrape(metrics).await?;
    let value = |series: &str| value(&text, series);
    assert_eq!(value("iollm_worker_jobs{stage=\"finalized\"}"), 1.0, "{text}");
    assert_eq!(value("iollm_worker_owed_planck"), owed as f64, "{text}");
    assert_eq!(value("iollm_worker_device{device=\"cpu\"}"), 1.0, "{text}");
    assert!(value("iollm_worker_game_moves_total") >= 1.0, "{text}");
    // Its games: won (each counted once however often it was looked at), none lost.
    let won = value("iollm_worker_disputes_total{side=\"executor\",state=\"won\"}");
    assert!((1.0..=2.0).contains(&won), "{text}");
    assert!(!text.contains("state=\"lost\""), "{text}");
    // Its moves, the settlement and finalize: all finalized, none failed.
    let finalized = value("iollm_worker_transactions_total{outcome=\"finalized\"}");
    assert!(finalized >= 2.0 + value("iollm_worker_game_moves_total"), "{text}");
    assert_eq!(value("iollm_worker_transaction_seconds_count"), finalized, "{text}");
    stop.cancel();
    runs.await??;
    Ok(())
}

/// The game spec (`GAME_SPEC`) made to train on split `train` of an SMIP dataset package of
/// English text, published to the devnet's IPFS daemon: the spec's path, in `dir`.
async fn on_a_dataset_package(ctx: &Connection, dir: &Path) -> Result<PathBuf> {
    let package = dir.join("dataset");
    std::fs::create_dir(&package)?;
    let text = "It was the best of times, it was the worst of times, it was the age of wisdom.\n";
    std::fs::write(package.join("train.txt"), text.repeat(40))?;
    let manifest = serde_json::json!({
        "smip_dataset_version": 1, "name": "dickens", "version": "1.0.0", "license": "CC0-1.0",
        "format": "bytes", "files": [], "splits": {"train": "train.txt"}
    });
    std::fs::write(package.join("smip-dataset.json"), manifest.to_string())?;
    let store = iollm_artifacts::ipfs_client(ctx)?;
    let added = iollm_artifacts::add_kind(&store, Kind::Dataset, &package).await?;
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(GAME_SPEC)?)?;
    let cid = added.package_cid.to_string();
    spec["dataset"] = serde_json::json!({"source": "package", "cid": cid, "split": "train"});
    let path = dir.join("job.json");
    std::fs::write(&path, spec.to_string())?;
    Ok(path)
}

/// `GET /metrics` of a worker (plain HTTP/1.1 over a socket).
async fn scrape(addr: SocketAddr) -> Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut socket = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    socket.read_to_string(&mut response).await?;
    anyhow::ensure!(response.starts_with("HTTP/1.1 200"), "{response}");
    Ok(response)
}

/// A verifier's worker checks jobs by itself: it signs up before the result and attests an
/// honest executor's result after replaying one segment from the checkpoint the executor's
/// worker published (it never runs the job; the job is verified and it is paid its fee, to the
/// unit); against an executor that cheated in one element of one step and published that run,
/// its replay of the segment its draw names misses the committed checkpoint, so it challenges
/// at once with a one-segment claim (never running the job), plays the game, wins it and
/// settles it: the job is rejected and the cheater's collateral is slashed, half to it. An honest result it attested, whose executor then throws
/// its game to a sybil, it defends in a game of its own against the sybil's claim, wins, and
/// keeps its bond.
#[tokio::test]
async fn a_verifiers_worker_attests_the_honest_and_catches_the_cheat() -> Result<()> {
    // Five jobs on one devnet, the suite's longest test: its file took 531 s in CI.
    tokio::time::timeout(Duration::from_secs(900), verification()).await?
}

async fn verification() -> Result<()> {
    use iollm_content::ContentStore as _;
    use iollm_types::bisection::{Side, Verdict};
    use iollm_worker::player::Player;
    const FEE: u128 = 1_000_000_000;
    let net = testnet().await?;
    let ctx = &net.connection;
    let market = ctx.market()?;
    let (alice, bob, charlie, dave) =
        (Signer::dev("alice")?, Signer::dev("bob")?, Signer::dev("charlie")?, Signer::dev("dave")?);
    for provider in [&alice, &charlie, &dave] {
        m::pledge(ctx, provider, GPU, PRICE, 0, STAKE).await?;
    }
    let artifact =
        ctx.registry()?.register(&bob, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY).await?.id;
    let dir = tempfile::tempdir()?;
    // The job trains on a split of an SMIP dataset package: executor and verifier each fetch
    // it, checked against the package's manifest.
    let spec = &on_a_dataset_package(ctx, dir.path()).await?;
    let (spec_cid, game) = m::publish_spec(ctx, spec, 20).await?;
    let window = 40;
    let verification = Verification {
        challenge_window: window,
        verifiers: 1,
        collateral: COLLATERAL,
        verifier_fee: FEE,
    };
    let post = |deadline| {
        PostJob::new(JobKind::Train, &spec_cid, artifact, 50, NEED, deadline, verification, REWARD)
            .with_game(game.clone())
    };

    // Dave's verifier signs up for the job before anyone claims it; Charlie's executor then
    // takes it.
    let dave_dir = dir.path().join("dave");
    let stop_dave = CancellationToken::new();
    let (dave_runs, _) = start_as(Role::Verifier, ctx, &dave, &dave_dir, false, &stop_dave).await?;
    let daves = State::open(&dave_dir.join("state.sqlite")).await?;
    let honest = m::post_job(ctx, &bob, &post(ctx.chain.best_block().await? + 300)).await?.value;
    reach_any(&daves, honest, SIGNED_UP, 120).await?;
    let charlie_dir = dir.path().join("charlie");
    let stop_charlie = CancellationToken::new();
    let (charlie_runs, _) = start(ctx, &charlie, &charlie_dir, false, &stop_charlie).await?;
    let charlies = State::open(&charlie_dir.join("state.sqlite")).await?;
    // Dave's worker shares the devnet's IPFS daemon with Charlie's, whose pin of its output
    // is not Dave's to take away. Taken away here as soon as it is published (before it is
    // submitted, so before Dave's check), the output is as on a daemon of Dave's own: his
    // check pins it, and his worker unpins it when the job is released.
    let store = iollm_artifacts::ipfs_client(ctx)?;
    let published = tokio::time::Instant::now();
    let output = loop {
        if let Some(cid) = charlies.job(honest).await?.and_then(|j| j.output_cid) {
            break iollm_content::parse_cid(&cid)?;
        }
        assert!(published.elapsed() < Duration::from_secs(300), "Charlie published no output");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    store.unpin(&output).await?;
    reach(&charlies, honest, Stage::Submitted, 300).await?;
    reach(&daves, honest, Stage::Attested, 300).await?;
    let pinned = daves.job(honest).await?.and_then(|j| j.pinned);
    assert_eq!(pinned, Some(output.to_string()), "Dave's check pinned the output it attests");
    assert!(store.pins().await?.contains(&output));
    let note = daves.job(honest).await?.and_then(|j| j.note).unwrap_or_default();
    // The drawn segment and the last replayed from the checkpoints Charlie's worker published:
    // Dave's never ran the job.
    let secret = daves.job(honest).await?.and_then(|j| j.secret).expect("Dave's secret");
    let trace_root = market.result(honest).await?.expect("a result").trace_root;
    let draw = iollm_types::spotcheck::draw::<iollm_compute::merkle::Sha>(&secret, &trace_root);
    let n = m::job_config(ctx, honest, &dir.path().join("honest")).await?.n_checkpoints();
    let checked = iollm_types::spotcheck::checked_segments(&draw, n as u64);
    let replayed = iollm_worker::spotcheck::segments_text(&checked);
    assert!(note.starts_with(&format!("attested {replayed}")), "{note}");
    assert!(note.ends_with("(replayed from the published run)"), "{note}");
    let daves_job = iollm_worker::daemon::job_dir(&dave_dir, honest);
    assert!(!daves_job.join("run").exists(), "the verifier did not train the job");
    let fetched = std::fs::read_dir(daves_job.join("published/checkpoints"))?.count();
    assert_eq!(fetched, checked.len() + 1, "each replayed segment's start, and the last state");
    assert_eq!(market.job(honest).await?.expect("the job").attestations, 1);
    // Its attestation carried the replayed segments' steps roots, which the contract checked
    // against the executor's trace: its sign-up is recorded checked, ranked by its draw.
    let mut daves_checks = Vec::new();
    for i in 0..market.job(honest).await?.expect("the job").sign_ups {
        let sign_up = market.sign_up_of(honest, i).await?.expect("a sign-up");
        if sign_up.verifier == dave.account_bytes() {
            daves_checks.push(sign_up.check);
        }
    }
    assert_eq!(daves_checks, [iollm_types::market::Check::Checked { draw }]);
    let submitted_at = market.job(honest).await?.expect("the job").submitted_at;
    advance_past(ctx, &alice, submitted_at + window + 1).await?;
    reach(&charlies, honest, Stage::Finalized, 120).await?;
    let done = market.job(honest).await?.expect("the job");
    assert!(done.verified, "attested by the verifier's worker");
    assert_eq!(market.balance_of(dave.account_bytes()).await?, FEE);
    reach(&daves, honest, Stage::Checked, 120).await?;
    // The job over, Dave's worker releases its sign-up (its storage deposit comes back), once,
    // and stops trying when the market has nothing more of his to free.
    let waited = tokio::time::Instant::now();
    while !daves.unreleased().await?.is_empty() {
        assert!(waited.elapsed() < Duration::from_secs(120), "Dave's sign-up was not released");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(market.sign_up_of(honest, 0).await?, None, "the sign-up is freed");
    assert!(!store.pins().await?.contains(&output), "unpinned once no game can ask for it");
    let released = daves.transactions(honest).await?;
    assert_eq!(released.iter().filter(|(what, ..)| what == "release").count(), 1, "{released:?}");
    stop_charlie.cancel();
    charlie_runs.await??;

    // A cheating executor (driven here: Charlie again, by hand) altered one element of one
    // op of one step and publishes that run as an executor's worker does; Dave's verifier,
    // signed up before, replays the segment its draw names from it (and the last). The cheat
    // is put in the drawn segment (the draw depends on the trace root, so the cheat's step and
    // bit are tried until it falls there): a cheat in another segment but the last is one this
    // spot check misses, which the other verifiers and challengers are for.
    use iollm_compute::merkle::Sha;
    use iollm_types::spotcheck;
    let cheated = m::post_job(ctx, &bob, &post(ctx.chain.best_block().await? + 300)).await?.value;
    reach_any(&daves, cheated, SIGNED_UP, 120).await?;
    let daves_secret = daves.job(cheated).await?.and_then(|j| j.secret).expect("its secret");
    let cfg = m::job_config(ctx, cheated, &dir.path().join("cheat")).await?;
    let trainer = iollm_compute::Trainer::new(&cfg, &iollm_compute::Runtime::new(1))?;
    let n = cfg.n_checkpoints();
    let cheat = cheat_found_by(&trainer, &daves_secret, CheatIn::Drawn);
    let cheater = Player::new(Side::Executor, &trainer, Some(cheat));
    let bad = cheater.checkpoints(4, n as u64);
    // The cheater's sybil (Alice) signs up too; the cheater commits made-up checks and hands
    // her the steps roots, so her "check" matches.
    let made_up: Vec<[u8; 32]> = (0..n).map(|i| [40 + i as u8; 32]).collect();
    let leaves: Vec<[u8; 32]> = made_up.iter().map(spotcheck::leaf::<Sha>).collect();
    let sybil_secret = m::fresh_secret()?;
    let alices_stake = market.pledge_of(alice.account_bytes()).await?.expect("pledge").stake;
    m::sign_up(ctx, &alice, cheated, &sybil_secret).await?;
    let honest_run = tempfile::tempdir()?;
    let one = iollm_compute::Runtime::new(1);
    iollm_compute::train(&cfg, honest_run.path(), &one, &mut iollm_compute::go_on)?;
    let cheat_run = dir.path().join("cheat-run");
    write_run(&trainer, &cheater, &bad, &leaves, honest_run.path(), &cheat_run)?;
    let out = dir.path().join("cheat-output");
    let package =
        iollm_tests::publish_output(ctx, (cheated, artifact), &charlie, &cfg, &cheat_run, &out)
            .await?;
    let (commitment, proof) = iollm_worker::submission(&cheat_run, &game, &package, 0)?;
    let trace_root = commitment.trace_root;
    assert_eq!(trace_root, iollm_compute::merkle::root(&bad));
    m::claim(ctx, &charlie, cheated).await?;
    m::submit(ctx, &charlie, cheated, &commitment, Some(&proof)).await?;
    let checks = iollm_tests::made_up_checks(&sybil_secret, &trace_root, &made_up);
    market.attest(&alice, cheated, sybil_secret, &Some(checks)).await?;
    reach(&daves, cheated, Stage::Challenged, 300).await?;
    // One segment replayed, the claim made from it: Dave's worker never ran the job.
    let note = daves.job(cheated).await?.and_then(|j| j.note).unwrap_or_default();
    let segment = cheat.step / 4;
    assert!(note.contains(&format!("segment {segment} does not replay")), "{note}");
    let daves_cheated = job_dir(&dave_dir, cheated);
    assert!(!daves_cheated.join("run").exists(), "the verifier did not train the job");
    let claim_file = daves_cheated.join("claim.json");
    let kept = std::fs::read(&claim_file)?;
    // A disk that corrupts the kept claim mid-game: the worker makes it again from the
    // published run (the same replay gives the same claim) and plays on.
    std::fs::write(&claim_file, b"[\"not a hash")?;
    let game_id = market.game_of(cheated, 0).await?.expect("Dave's game").game;
    let verdict = loop {
        let cheater = |side| Player::new(side, &trainer, Some(cheat));
        match iollm_worker::player::play(ctx, &charlie, game_id, cheater, false, |_, _| {}).await {
            Ok(g) => {
                if let Some(verdict) = g.verdict() {
                    break verdict;
                }
            }
            Err(iollm_worker::player::PlayError::Chain(ChainError::Dispatch { .. })) => {}
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(verdict, Verdict::Challenger, "the verifier's worker won");
    assert_eq!(std::fs::read(&claim_file)?, kept, "its claim made again, byte for byte");
    // Dave's worker settles its game: the job is rejected and Alice, the sybil attester,
    // stands accused. She defends the cheat in her own game; Dave's worker answers it, wins,
    // and settles her: half her bond is Dave's.
    let sybils_defence = loop {
        if market.job(cheated).await?.expect("the job").accusations > 0 {
            break m::defend(ctx, &alice, cheated, 0).await?.value;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let cheat_story = |side| Player::new(side, &trainer, Some(cheat));
    let by_hand = [(&alice, sybils_defence, true)];
    play_until_decided(ctx, &by_hand, &cheat_story, &cheat_story).await?;
    reach(&daves, cheated, Stage::Checked, 180).await?;
    let rejected = market.job(cheated).await?.expect("the job");
    assert_eq!((rejected.state, rejected.open_games), (JobState::Rejected, 0));
    assert_eq!(rejected.accused, 0, "Alice is settled");
    let verdict = ctx.dispute()?.game(sybils_defence).await?.and_then(|g| g.verdict());
    assert_eq!(verdict, Some(Verdict::Challenger), "the sybil's defence lost");
    let a = market.pledge_of(alice.account_bytes()).await?.expect("pledge");
    assert_eq!((a.stake, a.locked), (alices_stake - COLLATERAL, 0), "Alice's bond is slashed");
    assert_eq!(market.balance_of(dave.account_bytes()).await?, FEE + COLLATERAL);

    // An honest result whose executor (Charlie, by hand) throws its game to a sybil (Alice,
    // claiming the cheat): Dave's verifier attested it, so it defends the result in a game of
    // its own against the sybil's claim, wins and keeps its bond; Dave's books are unchanged.
    // (Published no run, so Dave's worker runs this job itself.)
    let thrown = m::post_job(ctx, &bob, &post(ctx.chain.best_block().await? + 300)).await?.value;
    reach_any(&daves, thrown, SIGNED_UP, 120).await?;
    let run = tempfile::tempdir()?;
    let runtime = iollm_compute::Runtime::new(1);
    iollm_compute::train(&cfg, run.path(), &runtime, &mut iollm_compute::go_on)?;
    let thrown_output = dir.path().join("thrown-output");
    let package =
        output_without_run(ctx, (thrown, artifact), &charlie, &cfg, run.path(), &thrown_output)
            .await?;
    let (commitment, proof) = iollm_worker::submission(run.path(), &game, &package, 0)?;
    let alices = market.balance_of(alice.account_bytes()).await?;
    m::claim(ctx, &charlie, thrown).await?;
    m::submit(ctx, &charlie, thrown, &commitment, Some(&proof)).await?;
    reach(&daves, thrown, Stage::Attested, 300).await?;
    let claim = (
        iollm_compute::merkle::root(&bad),
        iollm_compute::merkle::proof(&bad, 0).expect("in range"),
        bad[n],
        iollm_compute::merkle::proof(&bad, n).expect("in range"),
    );
    market.challenge(&alice, thrown, claim.0, &claim.1, claim.2, &claim.3).await?;
    let sybil = |side| Player::new(side, &trainer, Some(cheat));
    let throw = |_| Player::throwing(&trainer, cheat);
    let thrown_game = market.game_of(thrown, 0).await?.expect("the sybil's game").game;
    let by_hand = [(&charlie, thrown_game, true), (&alice, thrown_game, false)];
    play_until_decided(ctx, &by_hand, &throw, &sybil).await?;
    m::settle_challenge(ctx, &bob, thrown, 0).await?;
    assert_eq!(market.job(thrown).await?.expect("the job").accusations, 1);
    reach(&daves, thrown, Stage::Defending, 120).await?;
    let defence = loop {
        if let Some(game) = market.defence_of(thrown, 0, 0).await? {
            break game;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    play_until_decided(ctx, &[(&alice, defence, false)], &throw, &sybil).await?;
    reach(&daves, thrown, Stage::Checked, 120).await?;
    let note = daves.job(thrown).await?.and_then(|j| j.note).unwrap_or_default();
    assert!(note.contains("won: bond back"), "{note}");
    let d = market.pledge_of(dave.account_bytes()).await?.expect("pledge");
    assert_eq!((d.stake, d.locked), (STAKE, 0), "Dave keeps his bond");
    // Dave's defence beat the sybil's claim: half her bond is his.
    let half = COLLATERAL.div_ceil(2);
    assert_eq!(market.balance_of(dave.account_bytes()).await?, FEE + COLLATERAL + half);
    // Alice, the sybil and (on a devnet) the treasury, got the thrower's whole collateral
    // and the treasury's half of her own bond, nothing of Dave's; Charlie lost it.
    let a = market.pledge_of(alice.account_bytes()).await?.expect("pledge");
    assert_eq!((a.stake, a.locked), (alices_stake - 2 * COLLATERAL, 0), "her claim was beaten");
    let alices_now = market.balance_of(alice.account_bytes()).await?;
    assert_eq!(alices_now, alices + COLLATERAL + (COLLATERAL - half));
    let c = market.pledge_of(charlie.account_bytes()).await?.expect("pledge");
    assert_eq!(c.locked, 0);
    let verdict = ctx.dispute()?.game(defence).await?.and_then(|g| g.verdict());
    assert_eq!(verdict, Some(Verdict::Executor), "the defence won");

    // An honest run delivered with other weights: Charlie (by hand) publishes the run and an
    // output whose model has one weight changed, re-sealed under its own CID (laid out as an
    // executor's worker lays out its outputs). Dave's worker replays its segments (they
    // match) but does not vouch for that output: it challenges it, asking Charlie to prove
    // the chunk of the weights that differs. Charlie cannot, his clock runs out, the job is
    // rejected: half his collateral is Dave's, and the output cannot be registered as the
    // job's.
    let swapped = m::post_job(ctx, &bob, &post(ctx.chain.best_block().await? + 300)).await?.value;
    reach_any(&daves, swapped, SIGNED_UP, 120).await?;
    let out = dir.path().join("swapped-output");
    iollm_tests::publish_output(ctx, (swapped, artifact), &charlie, &cfg, run.path(), &out).await?;
    let (model, mut params) = iollm_compute::io::load_model(&out)?;
    params[5] = f32::from_bits(params[5].to_bits() ^ 1);
    iollm_compute::io::save_model(&out, &model, &params)?;
    let store = iollm_artifacts::ipfs_client(ctx)?;
    let package =
        iollm_artifacts::add_package::<iollm_content::Manifest, _>(&store, &out).await?.package_cid;
    let package = iollm_content::format_cid(&package);
    let (commitment, proof) = iollm_worker::submission(run.path(), &game, &package, 0)?;
    let daves_before = market.balance_of(dave.account_bytes()).await?;
    let charlies_stake = market.pledge_of(charlie.account_bytes()).await?.expect("pledge").stake;
    m::claim(ctx, &charlie, swapped).await?;
    m::submit(ctx, &charlie, swapped, &commitment, Some(&proof)).await?;
    reach(&daves, swapped, Stage::Challenged, 300).await?;
    let note = daves.job(swapped).await?.and_then(|j| j.note).unwrap_or_default();
    assert!(note.contains("asking for chunk 0 of the weights"), "{note}");
    assert!(note.contains("the output's weights are not"), "{note}");
    let sent = daves.transactions(swapped).await?;
    assert!(sent.iter().any(|(what, ..)| what == "challenge_output"), "{sent:?}");
    let output_game = market.game_of(swapped, 0).await?.expect("Dave's output game").game;
    let g = ctx.dispute()?.game(output_game).await?.expect("the output game");
    let iollm_types::game::Stage::Package { opened } = g.stage else {
        panic!("an output game: {:?}", g.stage)
    };
    advance_past(ctx, &alice, opened + g.terms.move_blocks + 1).await?;
    reach(&daves, swapped, Stage::Checked, 180).await?;
    let verdict = ctx.dispute()?.game(output_game).await?.and_then(|g| g.verdict());
    assert!(matches!(verdict, Some(Verdict::Challenger) | None), "lost on time: {verdict:?}");
    let done = market.job(swapped).await?.expect("the job");
    assert_eq!((done.state, done.attestations, done.verified), (JobState::Rejected, 0, false));
    assert_eq!(
        market.balance_of(dave.account_bytes()).await?,
        daves_before + COLLATERAL / 2,
        "half the executor's collateral"
    );
    let d = market.pledge_of(dave.account_bytes()).await?.expect("pledge");
    assert_eq!((d.stake, d.locked), (STAKE, 0), "Dave's bond is back");
    let c = market.pledge_of(charlie.account_bytes()).await?.expect("pledge");
    assert_eq!(c.stake, charlies_stake - COLLATERAL, "Charlie's collateral is slashed");
    let registry = ctx.registry()?;
    let parents = [iollm_types::registry::Parent {
        id: artifact,
        relation: iollm_types::registry::Relation::Finetune,
    }];
    let rule = SplitRule::DESIGNER_ONLY;
    let refused = registry.register_from_job(&bob, swapped, Kind::Model, &package, &parents, rule);
    let err = refused.await.unwrap_err();
    assert!(
        err.to_string().contains(iollm_types::registry::Error::JobNotVerified.message()),
        "{err}"
    );

    // An honest output whose executor (Charlie, by hand) throws an output game to a sybil
    // (Alice, asking for its last chunk): Dave's verifier attested it, so it proves that chunk
    // in a defence of its own, from the last checkpoint its spot check fetched and the package
    // it kept, without fetching the rest of the run (which a thrower may stop serving), and
    // keeps its bond; half of Alice's is his.
    let thrown_output =
        m::post_job(ctx, &bob, &post(ctx.chain.best_block().await? + 300)).await?.value;
    reach_any(&daves, thrown_output, SIGNED_UP, 120).await?;
    let out = dir.path().join("thrown-output-game");
    let package = iollm_tests::publish_output(
        ctx,
        (thrown_output, artifact),
        &charlie,
        &cfg,
        run.path(),
        &out,
    )
    .await?;
    let (commitment, proof) = iollm_worker::submission(run.path(), &game, &package, 0)?;
    m::claim(ctx, &charlie, thrown_output).await?;
    m::submit(ctx, &charlie, thrown_output, &commitment, Some(&proof)).await?;
    reach(&daves, thrown_output, Stage::Attested, 300).await?;
    let daves_before = market.balance_of(dave.account_bytes()).await?;
    let alices_stake = market.pledge_of(alice.account_bytes()).await?.expect("pledge").stake;
    let chunks = game.output.chunks() as u32;
    let last_chunk = iollm_types::package::Question::Chunk(chunks - 1);
    market.challenge_output(&alice, thrown_output, last_chunk).await?;
    let sybils = market.game_of(thrown_output, 0).await?.expect("Alice's output game").game;
    let g = ctx.dispute()?.game(sybils).await?.expect("the output game");
    let iollm_types::game::Stage::Package { opened } = g.stage else {
        panic!("an output game: {:?}", g.stage)
    };
    // Charlie could have answered: his proof, dry-run, is accepted (and what it costs).
    let n_path = iollm_compute::train::checkpoint_path(run.path(), n);
    let (last, _) = trainer.load_checkpoint(&n_path)?;
    let last_path = iollm_compute::run_result(run.path())?.last_path;
    let output = iollm_content::parse_cid(&package)?;
    let answer =
        iollm_worker::output::answer(&store, &output, &trainer, (&last, &last_path), last_chunk);
    let call = iollm_types::dispute::calls::prove_package(sybils, &answer.await?);
    let dispute = ctx.dispute()?;
    let dry = ctx.chain.dry_run_call(&charlie.account(), dispute.address(), 0, call).await?;
    assert!(!dry.reverted, "the executor's proof of {last_chunk} is accepted");
    let ((ref_time, proof_size), required) = (dry.gas_consumed, dry.gas_required);
    eprintln!("prove_package({last_chunk}) dry-run: ref_time {ref_time}, proof_size {proof_size} (required {required:?})");
    // (Blocks made by Charlie's top-ups: Alice's stake is counted to the unit.)
    advance_past(ctx, &charlie, opened + g.terms.move_blocks + 1).await?;
    m::settle_challenge(ctx, &bob, thrown_output, 0).await?;
    assert_eq!(market.job(thrown_output).await?.expect("the job").accusations, 1);
    reach(&daves, thrown_output, Stage::Checked, 180).await?;
    let note = daves.job(thrown_output).await?.and_then(|j| j.note).unwrap_or_default();
    assert!(note.contains("won: bond back"), "{note}");
    let defence = market.defence_of(thrown_output, 0, 0).await?.expect("Dave's defence");
    let g = ctx.dispute()?.game(defence).await?.expect("the defence");
    assert_eq!((g.question, g.verdict()), (Some(last_chunk), Some(Verdict::Executor)));
    let published = iollm_worker::daemon::job_dir(&dave_dir, thrown_output).join("published");
    let fetched = std::fs::read_dir(published.join("checkpoints"))?.count();
    let secret = daves.job(thrown_output).await?.and_then(|j| j.secret).expect("Dave's secret");
    let trace_root = market.result(thrown_output).await?.expect("a result").trace_root;
    let draw = iollm_types::spotcheck::draw::<iollm_compute::merkle::Sha>(&secret, &trace_root);
    let checked = iollm_types::spotcheck::checked_segments(&draw, n as u64);
    assert!(checked.len() + 1 < n + 1, "a run with checkpoints no spot check fetches");
    assert_eq!(fetched, checked.len() + 1, "only the replayed segments' starts and h_n");
    let d = market.pledge_of(dave.account_bytes()).await?.expect("pledge");
    assert_eq!((d.stake, d.locked), (STAKE, 0), "Dave keeps his bond");
    let half = COLLATERAL.div_ceil(2);
    assert_eq!(market.balance_of(dave.account_bytes()).await?, daves_before + half);
    let a = market.pledge_of(alice.account_bytes()).await?.expect("pledge");
    assert_eq!((a.stake, a.locked), (alices_stake - COLLATERAL, 0), "her question was answered");

    stop_dave.cancel();
    dave_runs.await??;
    Ok(())
}

/// Job `job`'s output from the finished run in `run`, as an executor's worker publishes it,
/// but naming no published run (as when that upload failed): its verifiers run the job.
async fn output_without_run(
    ctx: &iollm_chain::Connection,
    job: (u64, u64),
    executor: &Signer,
    cfg: &iollm_compute::TrainConfig,
    run: &Path,
    out: &Path,
) -> Result<String> {
    iollm_tests::publish_output(ctx, job, executor, cfg, run, out).await?;
    let path = out.join("smip.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    manifest["provenance"].as_object_mut().context("a provenance")?.remove("run");
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest)?)?;
    let store = iollm_artifacts::ipfs_client(ctx)?;
    let package =
        iollm_artifacts::add_package::<iollm_content::Manifest, _>(&store, out).await?.package_cid;
    Ok(iollm_content::format_cid(&package))
}

/// The dishonest executor the issue asks for: Charlie's worker, made dishonest at run time
/// (`Worker::with_fault`: one element of one op of one step altered, every later value
/// following from it), claims, trains, publishes and submits its altered run by itself. The
/// alteration is in the last segment and Dave's draw in another: every verifier replays the
/// last segment too (it ends at the `h_n` the loss and output come from), so Dave's worker
/// challenges it, and the two workers play the game to its end on the node: Dave's claim wins
/// at the altered element by the referee's recomputation, the job is rejected, Charlie's
/// collateral is slashed half to Dave, and Bob's escrow comes back — every balance to the
/// unit.
#[tokio::test]
async fn a_dishonest_executors_worker_is_caught_by_a_verifiers_worker() -> Result<()> {
    tokio::time::timeout(Duration::from_secs(600), dishonest()).await?
}

async fn dishonest() -> Result<()> {
    use iollm_types::bisection::Verdict;
    use iollm_types::game::How;
    let net = testnet().await?;
    let ctx = &net.connection;
    let market = ctx.market()?;
    let (bob, charlie, dave) = (Signer::dev("bob")?, Signer::dev("charlie")?, Signer::dev("dave")?);
    let artifact = providers_and_artifact(ctx, &[&charlie, &dave], &bob).await?;
    let dir = tempfile::tempdir()?;
    // The job trains on a split of an SMIP dataset package: executor and verifier each fetch
    // it, checked against the package's manifest.
    let spec = &on_a_dataset_package(ctx, dir.path()).await?;
    let (spec_cid, game) = m::publish_spec(ctx, spec, 20).await?;
    let window = 40;
    let verification = Verification { challenge_window: window, ..ONE_SLOT };
    let deadline = ctx.chain.best_block().await? + 300;
    let post =
        PostJob::new(JobKind::Train, &spec_cid, artifact, 50, NEED, deadline, verification, REWARD)
            .with_game(game);

    // Dave's verifier signs up before anyone claims; the fault is put in the last segment, his
    // draw falling elsewhere.
    let dave_dir = dir.path().join("dave");
    let stop = CancellationToken::new();
    let (dave_runs, _) = start_as(Role::Verifier, ctx, &dave, &dave_dir, false, &stop).await?;
    let daves = State::open(&dave_dir.join("state.sqlite")).await?;
    let bobs = market.balance_of(bob.account_bytes()).await?;
    let job = m::post_job(ctx, &bob, &post).await?.value;
    reach_any(&daves, job, SIGNED_UP, 120).await?;
    let secret = daves.job(job).await?.and_then(|j| j.secret).context("Dave's secret")?;
    let cfg = m::job_config(ctx, job, &dir.path().join("spec")).await?;
    let trainer = iollm_compute::Trainer::new(&cfg, &iollm_compute::Runtime::new(1))?;
    let fault = cheat_found_by(&trainer, &secret, CheatIn::Last);

    let charlie_dir = dir.path().join("charlie");
    let dishonest = open(Role::Executor, ctx, &charlie, &charlie_dir, false).await?;
    let (charlie_runs, _) = spawn(dishonest.with_fault(fault), &stop)?;
    let charlies = State::open(&charlie_dir.join("state.sqlite")).await?;
    reach(&charlies, job, Stage::Submitted, 300).await?;
    reach(&daves, job, Stage::Challenged, 300).await?;
    let note = daves.job(job).await?.and_then(|j| j.note).unwrap_or_default();
    assert!(note.contains(&format!("segment {} does not replay", fault.step / 4)), "{note}");
    let game_id = market.game_of(job, 0).await?.context("Dave's game")?.game;
    // Watched while the workers play it (its record goes once Dave's worker releases it).
    let dispute = ctx.dispute()?;
    let waited = tokio::time::Instant::now();
    let decided = loop {
        match dispute.game(game_id).await? {
            Some(game) if game.verdict().is_some() => break game,
            Some(_) if waited.elapsed() < Duration::from_secs(300) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Some(game) => bail!("game {game_id} was not decided in 300 s: {game:?}"),
            None => bail!("game {game_id} was freed before it was seen decided"),
        }
    };
    reach(&daves, job, Stage::Checked, 300).await?;

    let rejected = market.job(job).await?.context("the job")?;
    assert_eq!((rejected.state, rejected.open_games, rejected.accused), (JobState::Rejected, 0, 0));
    assert_eq!(decided.verdict(), Some(Verdict::Challenger));
    assert!(matches!(decided.stage, iollm_types::game::Stage::Decided { how: How::Replay, .. }));
    assert_eq!(
        (decided.step, decided.op as usize, decided.element as usize),
        (fault.step, fault.op, fault.element),
        "the game ends at the altered element"
    );
    caught_and_paid(&market, [&dave, &charlie, &bob], bobs).await?;
    reach(&charlies, job, Stage::Lost, 120).await?;
    stop.cancel();
    charlie_runs.await??;
    dave_runs.await??;
    Ok(())
}

/// A poster and an executor launder a model trained from another state than its job says:
/// Bob posts a job whose committed `h_0` is a forged initial state (one LayerNorm gain
/// changed, re-sealed with its own root); no honest executor's worker would claim it, but
/// Charlie, by hand, does and submits the honest run from that state (a run from the seed's
/// state is refused at submission: its trace does not start at the job's `h_0`). Dave's
/// verifier worker sees `h_0` is not the seed's state when the job is posted, takes it without
/// a sign-up, challenges it in an initial game once the result is in (bonded from his
/// pledge), and wins at the one chunk the dispute contract recomputes from the seed, Charlie
/// answering every move from his forged run; it fetched nothing of the job. Then the other
/// way round: an honest job's `h_0` challenged by a liar is defended by the executor's
/// worker; and one thrown by its executor to a sybil is defended by the verifier's worker
/// that attested it. Balances to the unit.
#[tokio::test]
async fn a_forged_start_is_challenged_by_a_verifiers_worker_and_lost_at_one_chunk() -> Result<()> {
    tokio::time::timeout(Duration::from_secs(600), forged_start()).await?
}

async fn forged_start() -> Result<()> {
    use iollm_types::bisection::Verdict;
    use iollm_types::game::How;
    let net = testnet().await?;
    let ctx = &net.connection;
    let market = ctx.market()?;
    let (bob, charlie, dave) = (Signer::dev("bob")?, Signer::dev("charlie")?, Signer::dev("dave")?);
    let alice = Signer::dev("alice")?;
    let artifact = providers_and_artifact(ctx, &[&alice, &charlie, &dave], &bob).await?;
    let dir = tempfile::tempdir()?;
    let spec = Path::new(GAME_SPEC);
    let (spec_cid, game) = m::publish_spec(ctx, spec, 20).await?;
    let store = iollm_artifacts::ipfs_client(ctx)?;
    let doc = iollm_worker::job::JobDocument::parse(&std::fs::read(spec)?)?;
    let max = iollm_worker::job::MAX_DATASET_BYTES;
    let cfg = doc.train_config(&store, &dir.path().join("spec"), max).await?;
    let trainer = iollm_compute::Trainer::new(&cfg, &iollm_compute::Runtime::new(1))?;
    assert_eq!(iollm_worker::initial_root(&store, &game).await?, game.h0, "the honest job's h_0");
    // The forged start, and the honest run from it.
    let run = dir.path().join("forged-run");
    let mut forged = trainer.initial_state();
    forged.params[256 * cfg.model.n_embd + cfg.model.n_ctx * cfg.model.n_embd] = 1.5;
    let (bytes, h0) = forged.checkpoint_bytes(&trainer.config_hash());
    let first = iollm_compute::train::checkpoint_path(&run, 0);
    std::fs::create_dir_all(first.parent().context("a directory")?)?;
    std::fs::write(&first, bytes)?;
    trainer.resume(&run, 0, &mut iollm_compute::go_on)?;
    let honest = game.clone();
    let game = iollm_types::market::GameSpec { h0, ..game };
    let window = 40;
    let verification = Verification { challenge_window: window, ..ONE_SLOT };
    let deadline = ctx.chain.best_block().await? + 300;
    let post =
        PostJob::new(JobKind::Train, &spec_cid, artifact, 50, NEED, deadline, verification, REWARD)
            .with_game(game.clone());

    let dave_dir = dir.path().join("dave");
    let stop = CancellationToken::new();
    let (dave_runs, _) = start_as(Role::Verifier, ctx, &dave, &dave_dir, false, &stop).await?;
    let daves = State::open(&dave_dir.join("state.sqlite")).await?;
    let bobs = market.balance_of(bob.account_bytes()).await?;
    let job = m::post_job(ctx, &bob, &post).await?.value;
    // Dave's worker takes it to challenge, without a sign-up (none may be left, or the result
    // may be in before one could land).
    reach(&daves, job, Stage::Forged, 120).await?;
    // An honest executor's check refuses it by name.
    let refused = iollm_worker::job::check_before_claim(&market, &store, job).await;
    assert!(
        matches!(refused, Err(iollm_worker::job::JobSpecError::ForgedStart(j)) if j == job),
        "{refused:?}"
    );
    let out = dir.path().join("forged-output");
    let package =
        iollm_tests::publish_output(ctx, (job, artifact), &charlie, &cfg, &run, &out).await?;
    let (commitment, proof) = iollm_worker::submission(&run, &game, &package, 0)?;
    m::claim(ctx, &charlie, job).await?;
    // A run from the seed's state (the honest job's) is not this job's: its trace does not
    // start at the job's h_0, and the market refuses it at submission.
    let seeds_run = dir.path().join("seeds-run");
    trainer.train(&seeds_run, &mut iollm_compute::go_on)?;
    let (other, other_proof) = iollm_worker::submission(&seeds_run, &honest, &package, 0)?;
    let refused = m::submit(ctx, &charlie, job, &other, Some(&other_proof)).await.unwrap_err();
    let bad_final_state = iollm_types::market::Error::BadFinalState.message();
    assert!(refused.to_string().contains(bad_final_state), "{refused}");
    m::submit(ctx, &charlie, job, &commitment, Some(&proof)).await?;
    reach(&daves, job, Stage::Challenged, 300).await?;
    let note = daves.job(job).await?.and_then(|j| j.note).unwrap_or_default();
    assert!(note.starts_with("challenged h_0"), "{note}");
    assert_eq!(market.job(job).await?.context("the job")?.sign_ups, 0, "no sign-up");
    let game_id = market.game_of(job, 0).await?.context("Dave's game")?.game;
    // Charlie answers from his forged run; his last move, the chunk, decides the game.
    let forger = |side| iollm_worker::player::Player::from_run(side, &trainer, &run, 4);
    let mut chunk_gas = None;
    let (waited, mut refused) = (tokio::time::Instant::now(), None);
    let decided = loop {
        if waited.elapsed() > Duration::from_secs(300) {
            bail!("game {game_id} not decided in 300 s; Charlie's last refused move: {refused:?}");
        }
        let moved = |kind: &str, call: &iollm_chain::contract::Executed<()>| {
            if kind == "chunk" {
                chunk_gas = Some(call.dry_run.gas_consumed);
            }
        };
        match iollm_worker::player::play(ctx, &charlie, game_id, forger, false, moved).await {
            Ok(g) if g.verdict().is_some() => break g,
            Ok(_) => {}
            Err(iollm_worker::player::PlayError::Chain(e @ ChainError::Dispatch { .. })) => {
                refused = Some(e.to_string())
            }
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let stage =
        iollm_types::game::Stage::Decided { verdict: Verdict::Challenger, how: How::Initial };
    assert_eq!(decided.stage, stage, "decided by the referee's chunk, not a clock");
    let (ref_time, proof_size) = chunk_gas.context("Charlie revealed the chunk")?;
    println!(
        "a forged h_0 lost on the node in {} moves; the chunk the contract recomputed: \
         ref_time {ref_time}, proof_size {proof_size}",
        decided.moves
    );
    reach(&daves, job, Stage::Checked, 300).await?;
    // He played from the game's terms alone: nothing of the job (spec, dataset, run) fetched.
    let daves_job = iollm_worker::daemon::job_dir(&dave_dir, job);
    assert!(!daves_job.exists(), "{} was made", daves_job.display());
    let rejected = market.job(job).await?.context("the job")?;
    assert_eq!((rejected.state, rejected.open_games), (JobState::Rejected, 0));
    caught_and_paid(&market, [&dave, &charlie, &bob], bobs).await?;
    stop.cancel();
    dave_runs.await??;

    // An honest job, taken by Charlie's executor worker. Dave, by hand, challenges its h_0
    // anyway (what `iollm job challenge-initial` refuses to send) and plays the seed's state:
    // Charlie's worker answers every move from its run and wins at the chunk. Dave's bond is
    // slashed, half of it Charlie's; the job is paid.
    let charlie_dir = dir.path().join("charlie");
    let stop = CancellationToken::new();
    let (charlie_runs, _) = start(ctx, &charlie, &charlie_dir, false, &stop).await?;
    let charlies = State::open(&charlie_dir.join("state.sqlite")).await?;
    let deadline = ctx.chain.best_block().await? + 300;
    let post =
        PostJob::new(JobKind::Train, &spec_cid, artifact, 50, NEED, deadline, verification, REWARD)
            .with_game(honest.clone());
    let job = m::post_job(ctx, &bob, &post).await?.value;
    reach(&charlies, job, Stage::Submitted, 300).await?;
    let daves = market.pledge_of(dave.account_bytes()).await?.context("pledge")?.stake;
    let charlies_balance = market.balance_of(charlie.account_bytes()).await?;
    let index = market.challenge_initial(&dave, job).await?.value;
    let game_id = market.game_of(job, index).await?.context("Dave's game")?.game;
    let seeds = |side| iollm_worker::player::Player::new(side, &trainer, None);
    let decided = play_to_verdict(ctx, &dave, game_id, seeds, |_, _| {}).await?;
    let stage = iollm_types::game::Stage::Decided { verdict: Verdict::Executor, how: How::Initial };
    assert_eq!(decided.stage, stage, "an honest h_0 defended by the executor's worker");
    match m::settle_challenge(ctx, &bob, job, index).await {
        Ok(_) | Err(m::MarketCmdError::Chain(ChainError::ContractRefused { .. })) => {}
        Err(e) => return Err(e.into()),
    }
    let d = market.pledge_of(dave.account_bytes()).await?.context("pledge")?;
    assert_eq!((d.stake, d.locked), (daves - COLLATERAL, 0), "the liar's bond is slashed");
    let half = COLLATERAL.div_ceil(2);
    let charlies_now = market.balance_of(charlie.account_bytes()).await?;
    assert_eq!(charlies_now, charlies_balance + half, "half of it to the executor");
    let submitted_at = market.job(job).await?.context("the job")?.submitted_at;
    advance_past(ctx, &dave, submitted_at + window + 1).await?;
    reach(&charlies, job, Stage::Finalized, 120).await?;
    stop.cancel();
    charlie_runs.await??;

    // An honest job whose executor (Charlie, by hand) throws an initial game to a sybil
    // (Alice challenges its h_0 and Charlie lets his clock run out): Dave's verifier worker
    // attested it, so it defends h_0 (playing the seed's state, as a worker always does in an
    // initial game) and wins at one chunk; his bond comes back with half of hers.
    let stop = CancellationToken::new();
    let (dave_runs, _) = start_as(Role::Verifier, ctx, &dave, &dave_dir, false, &stop).await?;
    let dave_state = State::open(&dave_dir.join("state.sqlite")).await?;
    let deadline = ctx.chain.best_block().await? + 300;
    let post =
        PostJob::new(JobKind::Train, &spec_cid, artifact, 50, NEED, deadline, verification, REWARD)
            .with_game(honest.clone());
    let thrown_start = m::post_job(ctx, &bob, &post).await?.value;
    reach_any(&dave_state, thrown_start, SIGNED_UP, 120).await?;
    let out = dir.path().join("thrown-initial-game");
    let job = (thrown_start, artifact);
    let package = iollm_tests::publish_output(ctx, job, &charlie, &cfg, &seeds_run, &out).await?;
    let (commitment, proof) = iollm_worker::submission(&seeds_run, &honest, &package, 0)?;
    m::claim(ctx, &charlie, thrown_start).await?;
    m::submit(ctx, &charlie, thrown_start, &commitment, Some(&proof)).await?;
    reach(&dave_state, thrown_start, Stage::Attested, 300).await?;
    let (daves_before, daves_stake) = (
        market.balance_of(dave.account_bytes()).await?,
        market.pledge_of(dave.account_bytes()).await?.context("pledge")?.stake,
    );
    let alices_stake = market.pledge_of(alice.account_bytes()).await?.expect("pledge").stake;
    market.challenge_initial(&alice, thrown_start).await?;
    let sybils = market.game_of(thrown_start, 0).await?.expect("Alice's initial game").game;
    let g = ctx.dispute()?.game(sybils).await?.expect("the initial game");
    let iollm_types::game::Stage::Initial { opened } = g.stage else {
        panic!("an initial game: {:?}", g.stage)
    };
    advance_past(ctx, &charlie, opened + g.terms.move_blocks + 1).await?;
    m::settle_challenge(ctx, &bob, thrown_start, 0).await?;
    assert_eq!(market.job(thrown_start).await?.expect("the job").accusations, 1);
    // Alice plays her side of Dave's defence, from the seed's state too (built from the
    // game's terms alone), so that the referee's chunk decides it, not her clock.
    let waited = tokio::time::Instant::now();
    let defence = loop {
        match market.defence_of(thrown_start, 0, 0).await? {
            Some(defence) => break defence,
            None if waited.elapsed() < Duration::from_secs(120) => {}
            None => bail!("Dave's worker did not defend in 120 s"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let dispute = ctx.dispute()?;
    let g = dispute.game(defence).await?.expect("the defence");
    let seeds = iollm_worker::player::Start::of_seed(&g.terms.config, &g.terms.config_hash);
    let g = play_to_verdict(ctx, &alice, defence, |side| seeds.player(side), |_, _| {}).await?;
    reach(&dave_state, thrown_start, Stage::Checked, 180).await?;
    let note = dave_state.job(thrown_start).await?.and_then(|j| j.note).unwrap_or_default();
    assert!(note.contains("won: bond back"), "{note}");
    let by_the_referee = iollm_types::game::Stage::Decided {
        verdict: Verdict::Executor,
        how: iollm_types::game::How::Initial,
    };
    assert_eq!((g.initial, g.stage), (true, by_the_referee), "won at the chunk, not on time");
    let d = market.pledge_of(dave.account_bytes()).await?.expect("pledge");
    assert_eq!((d.stake, d.locked), (daves_stake, 0), "Dave keeps his bond");
    assert_eq!(market.balance_of(dave.account_bytes()).await?, daves_before + half);
    let a = market.pledge_of(alice.account_bytes()).await?.expect("pledge");
    assert_eq!((a.stake, a.locked), (alices_stake - COLLATERAL, 0), "her challenge lost");
    stop.cancel();
    dave_runs.await??;
    Ok(())
}

/// A job from a base model, end to end: a model trained here is published and registered
/// (artifact B); a spec naming its package as `base_model` is posted for B (for another
/// artifact it is refused before anything is sent). Charlie's executor worker fetches the base,
/// trains from it and is paid; Dave's verifier worker attests; Bob registers the output, a
/// fine-tune of B. A second job commits an `h_0` with one base weight changed: Charlie's check
/// refuses it, Dave's worker challenges it, and the forger (Charlie by hand, proving the base's
/// true bytes beside his own chunk, the best he can do) loses at the chunk the contract reads
/// from the base package by its UnixFS proof. A third job's base is the same weights added in
/// leaves no proof can cross: refused by Charlie's check, challenged by Dave's worker, which
/// steers the game to a chunk the executor cannot prove. Balances to the unit.
#[tokio::test]
async fn a_job_from_a_base_model_is_its_fine_tune_and_a_forged_base_start_loses() -> Result<()> {
    tokio::time::timeout(Duration::from_secs(900), from_a_base()).await?
}

async fn from_a_base() -> Result<()> {
    use iollm_content::ContentStore as _;
    use iollm_types::bisection::{Side, Verdict};
    use iollm_types::game::How;
    use iollm_worker::player::{InitialPlayer, Move, Respond, Start};
    let net = testnet().await?;
    let ctx = &net.connection;
    let (market, registry) = (ctx.market()?, ctx.registry()?);
    let (bob, charlie, dave) = (Signer::dev("bob")?, Signer::dev("charlie")?, Signer::dev("dave")?);
    let alice = Signer::dev("alice")?; // moves the chain on
    let other = providers_and_artifact(ctx, &[&alice, &charlie, &dave], &bob).await?;
    let (dir, store) = (tempfile::tempdir()?, iollm_artifacts::ipfs_client(ctx)?);

    // The base: the game's run, trained here, published as a package and registered.
    let (cfg, trainer) = iollm_tests::game_run()?;
    let base_run = dir.path().join("base-run");
    trainer.train(&base_run, &mut iollm_compute::go_on)?;
    let out = dir.path().join("base-package");
    let base_cid =
        iollm_tests::publish_output(ctx, (0, other), &bob, &cfg, &base_run, &out).await?;
    let rule = SplitRule::DESIGNER_ONLY;
    let base = registry.register(&bob, Kind::Model, &base_cid, &[], rule).await?.id;
    // Not kept by its publisher: the workers of a job from it keep it.
    let base_pin = iollm_content::parse_cid(&base_cid)?;
    store.unpin(&base_pin).await?;
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(GAME_SPEC)?)?;
    doc["base_model"] = base_cid.clone().into();
    let spec = dir.path().join("from-base.json");
    std::fs::write(&spec, serde_json::to_vec(&doc)?)?;
    let (spec_cid, game) = m::publish_spec(ctx, &spec, 20).await?;
    assert_eq!(game.base.as_deref(), Some(base_cid.as_bytes()), "the job commits its base");
    assert_eq!(iollm_worker::initial_root(&store, &game).await?, game.h0);
    let (_, seeds) = m::publish_spec(ctx, Path::new(GAME_SPEC), 20).await?;
    assert_ne!(game.h0, seeds.h0, "the base's weights, not the seed's");
    assert_ne!(game.config_hash, seeds.config_hash, "the base is bound into the config hash");

    let window = 40;
    let verification = Verification { challenge_window: window, ..ONE_SLOT };
    let post = |artifact, game, deadline| {
        PostJob::new(JobKind::Train, &spec_cid, artifact, 50, NEED, deadline, verification, REWARD)
            .with_game(game)
    };
    // Posted for another artifact than the base: refused here, nothing sent.
    let deadline = ctx.chain.best_block().await? + 300;
    let jobs = market.job_count().await?;
    let refused = m::post_job(ctx, &bob, &post(other, game.clone(), deadline)).await;
    assert!(
        matches!(refused, Err(m::MarketCmdError::NotItsBase { artifact, .. }) if artifact == other)
    );
    assert_eq!(market.job_count().await?, jobs, "no job was posted");

    // The honest job: trained from the base by Charlie's worker, attested by Dave's.
    let (charlie_dir, dave_dir) = (dir.path().join("charlie"), dir.path().join("dave"));
    let stop = CancellationToken::new();
    let (dave_runs, _) = start_as(Role::Verifier, ctx, &dave, &dave_dir, false, &stop).await?;
    let daves = State::open(&dave_dir.join("state.sqlite")).await?;
    let job = m::post_job(ctx, &bob, &post(base, game.clone(), deadline)).await?.value;
    reach_any(&daves, job, SIGNED_UP, 120).await?;
    let (charlie_runs, _) = start(ctx, &charlie, &charlie_dir, false, &stop).await?;
    let charlies = State::open(&charlie_dir.join("state.sqlite")).await?;
    reach(&charlies, job, Stage::Submitted, 300).await?;
    let charlies_run = job_dir(&charlie_dir, job).join("run");
    let first = iollm_compute::read_trace(&charlies_run)?.hashes[0].clone();
    assert_eq!(first, iollm_compute::train::hex(&game.h0), "Charlie's run starts from the base");
    reach(&daves, job, Stage::Attested, 300).await?;
    let pinned_by = |record: Option<iollm_worker::state::JobRecord>| record?.base_pinned;
    let kept = [pinned_by(charlies.job(job).await?), pinned_by(daves.job(job).await?)];
    assert!(kept.contains(&Some(base_pin.to_string())), "a worker pinned the base: {kept:?}");
    assert!(store.pins().await?.contains(&base_pin), "the base is kept while the job lives");
    let submitted_at = market.job(job).await?.context("the job")?.submitted_at;
    advance_past(ctx, &alice, submitted_at + window + 1).await?;
    reach(&charlies, job, Stage::Finalized, 120).await?;
    let output = market.result(job).await?.context("a result")?.output_cid;
    let output = String::from_utf8(output)?;
    let parents = [iollm_types::registry::Parent {
        id: base,
        relation: iollm_types::registry::Relation::Finetune,
    }];
    let tuned = registry.register_from_job(&bob, job, Kind::Model, &output, &parents, rule).await?;
    let artifact = registry.get(tuned.id).await?.context("the fine-tune")?;
    assert_eq!((artifact.parents.to_vec(), artifact.job), (parents.to_vec(), Some(job)));

    // The forged start: one weight of the base changed in h_0.
    let cfg = doc_config(&store, &spec, &dir.path().join("spec")).await?;
    let tuner = iollm_compute::Trainer::new(&cfg, &iollm_compute::Runtime::new(1))?;
    let mut forged = tuner.initial_state();
    forged.params[256 * cfg.model.n_embd + cfg.model.n_ctx * cfg.model.n_embd] += 0.5;
    let forged_start = Start::of_state(&forged, &tuner.config_hash());
    let forged_game = iollm_types::market::GameSpec { h0: forged_start.root(), ..game.clone() };
    let bobs = market.balance_of(bob.account_bytes()).await?;
    let (charlies_stake, charlies_balance) = (
        market.pledge_of(charlie.account_bytes()).await?.context("pledge")?.stake,
        market.balance_of(charlie.account_bytes()).await?,
    );
    let daves_balance = market.balance_of(dave.account_bytes()).await?;
    stop.cancel();
    charlie_runs.await??;
    dave_runs.await??;
    let stop = CancellationToken::new();
    let (dave_runs, _) = start_as(Role::Verifier, ctx, &dave, &dave_dir, false, &stop).await?;
    let deadline = ctx.chain.best_block().await? + 300;
    let job = m::post_job(ctx, &bob, &post(base, forged_game.clone(), deadline)).await?.value;
    reach(&daves, job, Stage::Forged, 120).await?;
    let refused = iollm_worker::job::check_before_claim(&market, &store, job).await;
    assert!(
        matches!(refused, Err(iollm_worker::job::JobSpecError::ForgedStart(j)) if j == job),
        "{refused:?}"
    );
    // Charlie claims it anyway and submits a run from the forged state.
    let run = dir.path().join("forged-run");
    let (bytes, _) = forged.checkpoint_bytes(&tuner.config_hash());
    let ckpt0 = iollm_compute::train::checkpoint_path(&run, 0);
    std::fs::create_dir_all(ckpt0.parent().context("a directory")?)?;
    std::fs::write(&ckpt0, bytes)?;
    tuner.resume(&run, 0, &mut iollm_compute::go_on)?;
    let package = iollm_tests::publish_output(
        ctx,
        (job, base),
        &charlie,
        &cfg,
        &run,
        &dir.path().join("forged-output"),
    )
    .await?;
    let (commitment, proof) = iollm_worker::submission(&run, &forged_game, &package, 0)?;
    m::claim(ctx, &charlie, job).await?;
    m::submit(ctx, &charlie, job, &commitment, Some(&proof)).await?;
    reach(&daves, job, Stage::Challenged, 300).await?;
    let game_id = market.game_of(job, 0).await?.context("Dave's game")?.game;
    // The forger's best: his chunk, with the base's true bytes' proof (no other reads).
    let terms = ctx.dispute()?.game(game_id).await?.context("the game")?.terms;
    let honest = iollm_worker::initial_start(&store, &terms).await?;
    struct Forger<'s>(InitialPlayer<'s>, InitialPlayer<'s>);
    impl Respond for Forger<'_> {
        fn respond(&self, game: &iollm_types::game::Game) -> Option<Move> {
            match (self.0.respond(game)?, self.1.respond(game)) {
                (Move::Chunk { words, .. }, Some(Move::Chunk { base_proof, .. })) => {
                    Some(Move::Chunk { words, base_proof })
                }
                (forged, _) => Some(forged),
            }
        }
    }
    let forger = |side| Forger(forged_start.player(side), honest.player(Side::Executor));
    let mut chunk = None;
    let moved = |kind: &str, call: &iollm_chain::contract::Executed<()>| {
        if kind == "chunk" {
            chunk = Some((call.dry_run.gas_consumed, call.fee));
        }
    };
    let decided = play_to_verdict(ctx, &charlie, game_id, forger, moved).await?;
    let stage =
        iollm_types::game::Stage::Decided { verdict: Verdict::Challenger, how: How::Initial };
    assert_eq!(decided.stage, stage, "decided by the base's chunk, not a clock");
    let ((ref_time, proof_size), fee) = chunk.context("Charlie revealed the chunk")?;
    println!(
        "a forged start of a base model's job lost on the node in {} moves; the chunk read from \
         the base by its UnixFS proof: ref_time {ref_time}, proof_size {proof_size}, fee {fee}",
        decided.moves
    );
    reach(&daves, job, Stage::Checked, 300).await?;
    let rejected = market.job(job).await?.context("the job")?;
    assert_eq!((rejected.state, rejected.open_games), (JobState::Rejected, 0));
    let half = COLLATERAL.div_ceil(2);
    assert_eq!(market.balance_of(dave.account_bytes()).await?, daves_balance + half);
    let d = market.pledge_of(dave.account_bytes()).await?.context("pledge")?;
    assert_eq!((d.stake, d.locked), (STAKE, 0), "Dave's bond is back");
    let c = market.pledge_of(charlie.account_bytes()).await?.context("pledge")?;
    assert_eq!((c.stake, c.locked), (charlies_stake - COLLATERAL, 0), "the collateral slashed");
    assert_eq!(market.balance_of(charlie.account_bytes()).await?, charlies_balance);
    assert_eq!(market.balance_of(bob.account_bytes()).await?, bobs + REWARD, "the escrow back");

    // A base nobody can prove: the same weights added with Kubo's 256 KiB leaves (no proof
    // through one fits a call) and registered. Its job commits the honest h_0 (the same bytes
    // under the same config hash), but no chunk of its weights can be shown to the referee:
    // Charlie's check refuses it by the chunk, Dave's worker challenges it as forged, and the
    // executor (Charlie, by hand, with the honest run and the other package's proofs) is
    // steered to that chunk, cannot answer, and loses on time.
    let kubo =
        iollm_content::AddOptions { chunk_size: 256 << 10, ..iollm_artifacts::package_options() };
    let wide = iollm_content::publish_package::<iollm_content::Manifest, _>(&store, &out, &kubo)
        .await?
        .package_cid;
    let wide = iollm_content::format_cid(&wide);
    let wide_id = registry.register(&bob, Kind::Model, &wide, &[], rule).await?.id;
    doc["base_model"] = wide.clone().into();
    std::fs::write(&spec, serde_json::to_vec(&doc)?)?;
    // (6 blocks a move, not 20: the executor's clock is run out here, a block at a time.)
    let (wide_spec, wide_game) = m::publish_spec(ctx, &spec, 6).await?;
    assert_eq!((wide_game.h0, wide_game.config_hash), (game.h0, game.config_hash));
    let (charlies_stake, daves_balance) = (
        market.pledge_of(charlie.account_bytes()).await?.context("pledge")?.stake,
        market.balance_of(dave.account_bytes()).await?,
    );
    let bobs = market.balance_of(bob.account_bytes()).await?;
    let deadline = ctx.chain.best_block().await? + 300;
    let post =
        PostJob::new(JobKind::Train, &wide_spec, wide_id, 50, NEED, deadline, verification, REWARD)
            .with_game(wide_game.clone());
    let job = m::post_job(ctx, &bob, &post).await?.value;
    reach(&daves, job, Stage::Forged, 120).await?;
    let refused = iollm_worker::job::check_before_claim(&market, &store, job).await;
    assert!(
        matches!(refused, Err(iollm_worker::job::JobSpecError::UnprovableBase { chunk: 0, .. })),
        "{refused:?}"
    );
    let (commitment, proof) = iollm_worker::submission(&charlies_run, &wide_game, &output, 0)?;
    m::claim(ctx, &charlie, job).await?;
    m::submit(ctx, &charlie, job, &commitment, Some(&proof)).await?;
    reach(&daves, job, Stage::Challenged, 300).await?;
    let game_id = market.game_of(job, 0).await?.context("Dave's game")?.game;
    let (dispute, waited) = (ctx.dispute()?, tokio::time::Instant::now());
    let charlies_story = |side| honest.player(side);
    let descent = loop {
        let g = dispute.game(game_id).await?.context("the game")?;
        if let iollm_types::game::Stage::InitialDescend { descent } = &g.stage {
            if descent.phase == iollm_types::descent::Phase::Leaf {
                break descent.clone();
            }
        }
        if waited.elapsed() > Duration::from_secs(300) {
            bail!("game {game_id} did not reach its leaf in 300 s: {:?}", g.stage);
        }
        match iollm_worker::player::play(ctx, &charlie, game_id, charlies_story, false, |_, _| {})
            .await
        {
            Ok(_)
            | Err(iollm_worker::player::PlayError::Chain(
                ChainError::Dispatch { .. } | ChainError::ContractRefused { .. },
            )) => {}
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(descent.index, 0, "Dave's worker steered to the chunk nobody can prove");
    let refused =
        iollm_worker::player::play(ctx, &charlie, game_id, charlies_story, false, |_, _| {}).await;
    let bad_proof = "a value or proof does not match what was committed";
    assert!(
        matches!(&refused, Err(iollm_worker::player::PlayError::Chain(ChainError::ContractRefused { message, .. })) if message == bad_proof),
        "another package's proof does not read from this base: {refused:?}"
    );
    advance_past(ctx, &alice, descent.deadline().context("a deadline")? + 1).await?;
    reach(&daves, job, Stage::Checked, 300).await?;
    let rejected = market.job(job).await?.context("the job")?;
    assert_eq!((rejected.state, rejected.open_games), (JobState::Rejected, 0));
    assert_eq!(market.balance_of(dave.account_bytes()).await?, daves_balance + half);
    let c = market.pledge_of(charlie.account_bytes()).await?.context("pledge")?;
    assert_eq!((c.stake, c.locked), (charlies_stake - COLLATERAL, 0), "the collateral slashed");
    assert_eq!(market.balance_of(bob.account_bytes()).await?, bobs + REWARD, "the escrow back");
    stop.cancel();
    dave_runs.await??;
    Ok(())
}

/// The training config of the spec in `spec`, its dataset and base fetched into `dir`.
async fn doc_config(
    store: &iollm_content::KuboClient,
    spec: &Path,
    dir: &Path,
) -> Result<iollm_compute::TrainConfig> {
    let doc = iollm_worker::job::JobDocument::parse(&std::fs::read(spec)?)?;
    Ok(doc.train_config(store, dir, iollm_worker::job::MAX_DATASET_BYTES).await?)
}

/// Plays `signer`'s side of game `game` (its `story`) until the game is decided, within 300 s:
/// a move the other side overtook is read again; `moved` hears of each move made. The game as
/// decided.
async fn play_to_verdict<R: iollm_worker::player::Respond>(
    ctx: &Connection,
    signer: &Signer,
    game: u64,
    story: impl Fn(iollm_types::bisection::Side) -> R,
    mut moved: impl FnMut(&'static str, &iollm_chain::contract::Executed<()>),
) -> Result<iollm_types::game::Game> {
    let (dispute, waited) = (ctx.dispute()?, tokio::time::Instant::now());
    loop {
        match dispute.game(game).await? {
            Some(g) if g.verdict().is_some() => return Ok(g),
            Some(_) if waited.elapsed() < Duration::from_secs(300) => {}
            Some(g) => bail!("game {game} was not decided in 300 s: {:?}", g.stage),
            None => bail!("game {game} was freed before it was seen decided"),
        }
        match iollm_worker::player::play(ctx, signer, game, &story, false, &mut moved).await {
            Ok(_) | Err(iollm_worker::player::PlayError::Chain(ChainError::Dispatch { .. })) => {}
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The books after a cheating executor (`charlie`) lost the one game of a job to a
/// challenger (`dave`) who never earned from it before: half the collateral to the challenger,
/// its bond back, the executor's collateral slashed and nothing earned, the poster's escrow
/// back (`bobs`: its balance before).
async fn caught_and_paid(
    market: &iollm_chain::market::MarketClient,
    [dave, charlie, bob]: [&Signer; 3],
    bobs: u128,
) -> Result<()> {
    let half = COLLATERAL.div_ceil(2);
    assert_eq!(market.balance_of(dave.account_bytes()).await?, half, "half the collateral");
    let d = market.pledge_of(dave.account_bytes()).await?.context("pledge")?;
    assert_eq!((d.stake, d.locked), (STAKE, 0), "the challenger's bond is back");
    let c = market.pledge_of(charlie.account_bytes()).await?.context("pledge")?;
    assert_eq!((c.stake, c.locked), (STAKE - COLLATERAL, 0), "the collateral is slashed");
    assert_eq!(market.balance_of(charlie.account_bytes()).await?, 0, "and it earns nothing");
    assert_eq!(market.balance_of(bob.account_bytes()).await?, bobs + REWARD, "the escrow back");
    Ok(())
}

/// Which segment a test's cheat goes in, by the segment a verifier's secret draws from the
/// cheated trace (never the last, so the two cases differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheatIn {
    /// The drawn segment.
    Drawn,
    /// The last segment, which every verifier replays besides the one it draws (its end is
    /// `h_n`, whose loss is reported and whose weights are the output).
    Last,
}

/// A cheat (one element of one op of one step altered) in the segment `place` names for a
/// verifier's `secret` (a checkpoint every 4 steps): the draw depends on the cheated trace's
/// root, so steps and bits are tried until it falls so. A cheat in any other segment is one
/// that verifier's spot check misses, which the other verifiers and challengers are for.
fn cheat_found_by(
    trainer: &iollm_compute::Trainer,
    secret: &[u8; 32],
    place: CheatIn,
) -> iollm_worker::player::Cheat {
    use iollm_compute::merkle::Sha;
    use iollm_types::bisection::Side;
    use iollm_types::spotcheck;
    use iollm_worker::player::{Cheat, Player};
    let n = trainer.config().n_checkpoints() as u64;
    let drawn = |trace: &[[u8; 32]]| {
        let draw = spotcheck::draw::<Sha>(secret, &iollm_compute::merkle::root(trace));
        spotcheck::segment(&draw, n).expect("segments")
    };
    let steps = match place {
        CheatIn::Drawn => 0..4 * (n - 1),
        CheatIn::Last => 4 * (n - 1)..4 * n,
    };
    steps
        .flat_map(|step| {
            [20, 21, 22, 19].map(|bit| Cheat { step, op: 14, element: 77, xor: 1 << bit })
        })
        .find(|c| {
            let drawn = drawn(&Player::new(Side::Executor, trainer, Some(*c)).checkpoints(4, n));
            drawn != n - 1 && (place == CheatIn::Last || drawn == c.step / 4)
        })
        .unwrap_or_else(|| panic!("a cheat in the {place:?} segment"))
}

/// Writes a run directory (the `iollm train --out` layout) telling `player`'s story: its
/// checkpoints `trace` (a checkpoint every 4 steps), the spot-check leaves `checks`, and the
/// weights and config of the run in `files_from` (nothing checks them against the trace).
fn write_run(
    trainer: &iollm_compute::Trainer,
    player: &iollm_worker::player::Player,
    trace: &[[u8; 32]],
    checks: &[[u8; 32]],
    files_from: &Path,
    out: &Path,
) -> Result<()> {
    use iollm_compute::train::{checkpoint_path, hex, COMPLETE_FILE};
    let config_hash = trainer.config_hash();
    std::fs::create_dir_all(checkpoint_path(out, 0).parent().expect("a directory"))?;
    for (i, h) in trace.iter().enumerate() {
        let (bytes, hash) = player.state(4 * i as u64).checkpoint_bytes(&config_hash);
        assert_eq!(hash, *h, "checkpoint {i} is the trace's");
        std::fs::write(checkpoint_path(out, i), bytes)?;
    }
    let root = iollm_compute::merkle::root(trace);
    let honest = iollm_compute::read_trace(files_from)?;
    let told = iollm_compute::train::Trace {
        hashes: trace.iter().map(|h| hex(h)).collect(),
        root: hex(&root),
        checks: checks.iter().map(|c| hex(c)).collect(),
        checks_root: hex(&iollm_types::spotcheck::checks_root::<iollm_compute::merkle::Sha>(
            checks,
        )),
        ..honest
    };
    std::fs::write(out.join("trace.json"), serde_json::to_vec_pretty(&told)?)?;
    std::fs::write(out.join(COMPLETE_FILE), format!("{}\n", hex(&root)))?;
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(files_from.join(file), out.join(file))?;
    }
    Ok(())
}

/// Plays the hand-driven sides (`(signer, game, executor?)`; the executor's story `executor`,
/// a challenger's `challenger`) of their games until every one is decided.
async fn play_until_decided<'t>(
    ctx: &iollm_chain::Connection,
    sides: &[(&Signer, u64, bool)],
    executor: &dyn Fn(iollm_types::bisection::Side) -> iollm_worker::player::Player<'t>,
    challenger: &dyn Fn(iollm_types::bisection::Side) -> iollm_worker::player::Player<'t>,
) -> Result<()> {
    let mut decided = vec![false; sides.len()];
    while decided.iter().any(|d| !d) {
        for (i, (signer, game, is_executor)) in sides.iter().enumerate() {
            let story = if *is_executor { executor } else { challenger };
            match iollm_worker::player::play(ctx, signer, *game, story, false, |_, _| {}).await {
                Ok(g) => decided[i] = g.verdict().is_some(),
                Err(iollm_worker::player::PlayError::Chain(ChainError::Dispatch { .. })) => {}
                Err(e) => return Err(e.into()),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// A verifier's worker back only in a job's last blocks. Its challenge that was never sent
/// (the node away when it tried, a crash before it was) is kept: the worker records the job as
/// challenging with its claim in `claim.json` before it sends, and sends that claim (it needs
/// no replay) rather than reveal without a check and let a wrong result pass; the cheater,
/// silent, loses the game on time. A check it has not started, or its own run of a job, is
/// given up: it reveals without one, in time, rather than lose its bond. Balances to the unit.
#[tokio::test]
async fn a_verifier_back_in_the_last_blocks_challenges_what_it_kept_and_reveals_in_time(
) -> Result<()> {
    tokio::time::timeout(Duration::from_secs(600), late_challenge()).await?
}

async fn late_challenge() -> Result<()> {
    use iollm_types::bisection::{Side, Verdict};
    use iollm_worker::player::{Cheat, Player};
    let net = testnet().await?;
    let ctx = &net.connection;
    let market = ctx.market()?;
    let (alice, bob) = (Signer::dev("alice")?, Signer::dev("bob")?);
    let (charlie, dave) = (Signer::dev("charlie")?, Signer::dev("dave")?);
    // Alice only makes blocks (top-ups of her pledge).
    let artifact = providers_and_artifact(ctx, &[&charlie, &dave, &alice], &bob).await?;
    let dir = tempfile::tempdir()?;
    let spec = Path::new(GAME_SPEC);
    let (spec_cid, game) = m::publish_spec(ctx, spec, 20).await?;
    let window = 12;
    let verification = Verification { challenge_window: window, ..ONE_SLOT };
    let deadline = ctx.chain.best_block().await? + 300;
    let post =
        PostJob::new(JobKind::Train, &spec_cid, artifact, 50, NEED, deadline, verification, REWARD)
            .with_game(game.clone());
    // Dave's verifier signs up, and is stopped.
    let dave_dir = dir.path().join("dave");
    let stop = CancellationToken::new();
    let (runs, _) = start_as(Role::Verifier, ctx, &dave, &dave_dir, false, &stop).await?;
    let daves = State::open(&dave_dir.join("state.sqlite")).await?;
    // A job whose window leaves no block for a check (it would reveal without one at once)
    // is left to others; the next one it signs up for.
    let short =
        PostJob::new(JobKind::Train, &spec_cid, artifact, 50, NEED, deadline, ONE_SLOT, REWARD)
            .with_game(game.clone());
    let short = m::post_job(ctx, &bob, &short).await?.value;
    let job = m::post_job(ctx, &bob, &post).await?.value;
    reach(&daves, job, Stage::SignedUp, 120).await?;
    assert!(daves.job(short).await?.is_none(), "the window-{WINDOW} job left to others");
    assert_eq!(market.job(short).await?.context("the short job")?.sign_ups, 0);
    stop.cancel();
    runs.await??;

    // Charlie, by hand, submits a run altered at step 2.
    let cfg = m::job_config(ctx, job, &dir.path().join("spec")).await?;
    let one = iollm_compute::Runtime::new(1);
    let trainer = iollm_compute::Trainer::new(&cfg, &one)?;
    let n = cfg.n_checkpoints() as u64;
    let cheat = Cheat { step: 2, op: 30, element: 3, xor: 1 << 21 };
    let cheater = Player::new(Side::Executor, &trainer, Some(cheat));
    let bad = cheater.checkpoints(4, n);
    let honest_run = tempfile::tempdir()?;
    trainer.train(honest_run.path(), &mut iollm_compute::go_on)?;
    let leaves: Vec<[u8; 32]> = (0..n).map(|i| [40 + i as u8; 32]).collect();
    let cheat_run = dir.path().join("cheat-run");
    write_run(&trainer, &cheater, &bad, &leaves, honest_run.path(), &cheat_run)?;
    let (commitment, proof) = iollm_worker::submission(&cheat_run, &game, CID, 0)?;
    m::claim(ctx, &charlie, job).await?;
    m::submit(ctx, &charlie, job, &commitment, Some(&proof)).await?;

    // Dave's worker had found it wrong and kept its claim (the honest trace), then went down
    // before its challenge landed; the window is now down to its last blocks.
    let honest = Player::new(Side::Executor, &trainer, None).checkpoints(4, n);
    let hex = |h: &[u8; 32]| iollm_compute::train::hex(h);
    let root = hex(&iollm_compute::merkle::root(&honest));
    let kept =
        serde_json::json!({ "root": root, "claim": honest.iter().map(hex).collect::<Vec<_>>() });
    let daves_job = job_dir(&dave_dir, job);
    std::fs::create_dir_all(&daves_job)?;
    std::fs::write(daves_job.join("claim.json"), serde_json::to_vec(&kept)?)?;
    daves.set_stage(job, Stage::Challenging, Some("segment 0 does not replay")).await?;
    let (market, alice, dave, dave_dir) = (&market, &alice, &dave, &dave_dir);
    let late = |job| async move {
        let submitted_at = market.job(job).await?.context("the job")?.submitted_at;
        let margin = iollm_worker::spotcheck::REVEAL_MARGIN;
        advance_past(ctx, alice, submitted_at + window - margin - 1).await?;
        assert!(
            iollm_worker::spotcheck::window_closes_soon(market, job, margin).await?,
            "too early"
        );
        let stop = CancellationToken::new();
        let (runs, _) = start_as(Role::Verifier, ctx, dave, dave_dir, false, &stop).await?;
        anyhow::Ok((stop, runs))
    };
    let (mut stop, mut runs) = late(job).await?;
    reach(&daves, job, Stage::Challenged, 120).await?;
    let challenge = market.game_of(job, 0).await?.context("Dave's challenge")?;
    assert_eq!(challenge.challenger, dave.account_bytes());
    let sent: Vec<String> = daves.transactions(job).await?.into_iter().map(|t| t.0).collect();
    assert_eq!(sent, ["sign_up", "challenge"], "challenged, not revealed");

    // Charlie never answers: the game is Dave's on time, and the job rejected.
    let dispute = ctx.dispute()?;
    let now = ctx.chain.best_block().await?;
    advance_past(ctx, alice, now + 21).await?;
    reach(&daves, job, Stage::Checked, 300).await?;
    let decided = market.job(job).await?.context("the job")?;
    assert_eq!((decided.state, decided.open_games), (JobState::Rejected, 0));
    assert!(dispute
        .game(challenge.game)
        .await?
        .is_none_or(|g| g.verdict() == Some(Verdict::Challenger)));
    assert_eq!(market.balance_of(dave.account_bytes()).await?, COLLATERAL.div_ceil(2));
    let d = market.pledge_of(dave.account_bytes()).await?.context("pledge")?;
    assert_eq!((d.stake, d.locked), (STAKE, 0), "Dave's bond is back");
    let c = market.pledge_of(charlie.account_bytes()).await?.context("pledge")?;
    assert_eq!((c.stake, c.locked), (STAKE - COLLATERAL, 0), "Charlie's collateral is slashed");

    // Twice, Dave signs up for another job and goes down; Charlie submits an honest result
    // (its published run and output). Back only in the window's last blocks — still to check
    // it, then running the job itself (as when a published run is unusable) — Dave's worker
    // reveals without a check, in time: its bond back, no fee, the job unverified.
    let mut paid = 0;
    for running in [false, true] {
        let job = m::post_job(ctx, &bob, &post).await?.value;
        reach(&daves, job, Stage::SignedUp, 120).await?;
        stop.cancel();
        runs.await??;
        let out = dir.path().join(format!("output-{job}"));
        let (run, charlies) = (honest_run.path(), (job, artifact));
        let package = iollm_tests::publish_output(ctx, charlies, &charlie, &cfg, run, &out).await?;
        let (commitment, proof) = iollm_worker::submission(run, &game, &package, 0)?;
        m::claim(ctx, &charlie, job).await?;
        m::submit(ctx, &charlie, job, &commitment, Some(&proof)).await?;
        if running {
            daves.set_stage(job, Stage::Running, Some("the published run is unusable")).await?;
        }
        (stop, runs) = late(job).await?;
        reach(&daves, job, Stage::Checked, 120).await?;
        let note = daves.job(job).await?.and_then(|j| j.note).unwrap_or_default();
        assert!(note.starts_with("revealed without a check"), "{note}");
        assert_eq!(note.contains("its own run"), running, "{note}");
        let sent: Vec<String> = daves.transactions(job).await?.into_iter().map(|t| t.0).collect();
        assert!(sent.len() == 2 && ["reveal", "attest"].contains(&sent[1].as_str()), "{sent:?}");
        let submitted_at = market.job(job).await?.context("the job")?.submitted_at;
        advance_past(ctx, alice, submitted_at + window + 1).await?;
        m::finalize(ctx, &bob, job).await?;
        let done = market.job(job).await?.context("the job")?;
        assert_eq!((done.state, done.verified), (JobState::Finalized, false));
        let half = COLLATERAL.div_ceil(2);
        assert_eq!(market.balance_of(dave.account_bytes()).await?, half, "no fee");
        let d = market.pledge_of(dave.account_bytes()).await?.context("pledge")?;
        assert_eq!((d.stake, d.locked), (STAKE, 0), "Dave's bond is back");
        paid += done.ask;
        assert_eq!(market.balance_of(charlie.account_bytes()).await?, paid, "Charlie is paid");
    }
    stop.cancel();
    runs.await??;
    Ok(())
}

/// A job survives a crash between sending its claim and recording it, and its node and IPFS
/// daemon going away mid-training: Charlie's executor takes the job from its unrecorded claim,
/// trains on while both are down and waits for the node; with the node back and IPFS still
/// away its publication fails, is noted and tried again after a backoff; once IPFS is back it
/// publishes and submits; a crash between sending the submission and recording it follows;
/// started again, it finalizes — one claim and one submission on chain, the trace root of its
/// run.
#[tokio::test]
async fn an_executor_finishes_its_job_across_a_node_and_an_ipfs_restart() -> Result<()> {
    tokio::time::timeout(Duration::from_secs(600), restarts()).await?
}

async fn restarts() -> Result<()> {
    let mut net = testnet().await?;
    let ctx = &Connection {
        chain: net.connection.chain.clone(),
        deployment: net.connection.deployment.clone(),
    };
    let market = ctx.market()?;
    let (bob, charlie, dave) = (Signer::dev("bob")?, Signer::dev("charlie")?, Signer::dev("dave")?);
    // Dave only makes blocks: Charlie's worker owns Charlie's nonce.
    let artifact = providers_and_artifact(ctx, &[&charlie, &dave], &bob).await?;
    let dir = tempfile::tempdir()?;
    let verification = ONE_SLOT;
    let (spec_cid, game) = m::publish_spec(ctx, &spec(dir.path(), 400, 50)?, 20).await?;
    let deadline = ctx.chain.best_block().await? + 300;
    let post =
        PostJob::new(JobKind::Train, &spec_cid, artifact, 50, NEED, deadline, verification, REWARD)
            .with_game(game);
    let job = m::post_job(ctx, &bob, &post).await?.value;
    // First, a crash between sending the claim and recording it: the worker's state holds the
    // job as being claimed, the chain holds its claim. Started, it takes the job from there.
    let charlie_dir = dir.path().join("charlie");
    std::fs::create_dir_all(&charlie_dir)?;
    let state = State::open(&charlie_dir.join("state.sqlite")).await?;
    assert!(state.begin(job, Role::Executor.as_str(), Stage::Claiming, None).await?);
    m::claim(ctx, &charlie, job).await?;
    let stop = CancellationToken::new();
    let (runs, _) = start(ctx, &charlie, &charlie_dir, false, &stop).await?;
    reach_any(&state, job, &[Stage::Claimed, Stage::Trained, Stage::Published], 120).await?;
    // Training has begun once its run has a checkpoint directory: spec and dataset are in hand
    // (taken away before that, the worker waits for IPFS to fetch them, as it should).
    let run = job_dir(&charlie_dir, job).join("run");
    let waited = tokio::time::Instant::now();
    while !run.join("checkpoints").is_dir() {
        if waited.elapsed() > Duration::from_secs(120) {
            bail!("job {job} did not start training in 120s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    net.node.kill();
    net.stop_ipfs().await;
    // It trains on without either, and waits for the node (its reads retry until it is back).
    let waited = tokio::time::Instant::now();
    while iollm_compute::run_result(&run).is_err() {
        if waited.elapsed() > Duration::from_secs(300) {
            bail!("job {job} did not finish training without its node and IPFS");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let trained = state.job(job).await?.context("recorded")?;
    assert!(
        !matches!(trained.stage, Stage::Submitting | Stage::Submitted),
        "the job went down before its submission: {trained:?}"
    );
    // The node back, IPFS still away: publishing fails, is noted, and is tried again later.
    net.node.start_again().await?;
    let waited = tokio::time::Instant::now();
    loop {
        let record = state.job(job).await?.context("recorded")?;
        if record.note.as_deref().is_some_and(|n| n.starts_with("stopped")) {
            assert_ne!(record.stage, Stage::Submitted, "{record:?}");
            break;
        }
        if waited.elapsed() > Duration::from_secs(300) {
            bail!("job {job} did not stop without IPFS: {record:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    net.start_ipfs().await?;
    reach(&state, job, Stage::Submitted, 300).await?;
    // Then a crash between sending the submission and recording it: the state says the
    // submission is in flight, the chain holds it. Started again, the worker takes the job
    // from the chain and sends nothing more (one `submit_result` below).
    stop.cancel();
    runs.await??;
    state.set_stage(job, Stage::Submitting, None).await?;
    let stop = CancellationToken::new();
    let (runs, _) = start(ctx, &charlie, &charlie_dir, false, &stop).await?;
    reach(&state, job, Stage::Submitted, 120).await?;
    let note = state.job(job).await?.context("recorded")?.note;
    assert_eq!(note.as_deref(), Some("found on chain after a restart"));
    let submitted_at = market.job(job).await?.context("the job")?.submitted_at;
    advance_past(ctx, &dave, submitted_at + WINDOW + 1).await?;
    reach(&state, job, Stage::Finalized, 120).await?;
    let sent = state.transactions(job).await?.into_iter().map(|t| t.0);
    let sent: Vec<String> = sent.filter(|t| t != "release").collect();
    assert_eq!(sent, ["submit_result", "finalize"], "each once, and no claim of its own");
    let trace_root = iollm_compute::run_result(&run)?.trace_root;
    assert_eq!(market.result(job).await?.map(|r| r.trace_root), Some(trace_root));
    stop.cancel();
    runs.await??;
    Ok(())
}
