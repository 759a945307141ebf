//! The main user journey through the real `iollm` binary: `devnet up` (node + contracts + IPFS
//! daemon), a second `up` that reports the running one, `status`, `model publish` and
//! `model pull` as //Alice, a provider's `worker run` killed with SIGKILL mid-training and
//! started again, then stopped with SIGTERM, killed again mid-dispute and winning the game
//! after its restart, a real model (SmolLM2 GGUF) imported, published
//! and served by its artifact id, `down` that stops exactly the processes `up` started.

use std::path::{Path, PathBuf};
use std::process::Command;

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn iollm(state: &Path, args: &[&str]) -> (bool, String, String) {
    iollm_as(state, "//Alice", args)
}

/// `iollm` on the devnet whose state is in `state`, signing as `suri`.
fn command(state: &Path, suri: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_iollm"));
    command
        .args(args)
        .current_dir(checkout())
        .env("IOLLM_STATE_DIR", state)
        .env("IOLLM_SURI", suri)
        .env_remove("IOLLM_ROOT")
        .env_remove("IOLLM_RPC")
        .env_remove("IOLLM_DEPLOYMENTS")
        .env_remove("IOLLM_IPFS_API")
        .env_remove("IOLLM_SETTINGS");
    command
}

fn iollm_as(state: &Path, suri: &str, args: &[&str]) -> (bool, String, String) {
    let out = command(state, suri, args).output().expect("run iollm");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    (out.status.success(), stdout, stderr)
}

/// Whether `pid` is a live process (gone and zombie both count as dead).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Stops the devnet even when an assertion fails half-way.
struct Down<'a>(&'a Path);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        iollm(self.0, &["devnet", "down"]);
    }
}

#[test]
fn devnet_up_publish_pull_down() {
    let state = tempfile::tempdir().unwrap();
    let s = state.path();
    let (ok, stdout, stderr) = iollm(s, &["devnet", "up"]);
    let _down = Down(s);
    assert!(ok, "devnet up failed: {stderr}");
    assert!(stdout.starts_with("Devnet running at ws://127.0.0.1:"), "{stdout}");

    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("deployments/devnet.json")).unwrap())
            .unwrap();
    let node_pid = record["node"]["pid"].as_u64().unwrap() as u32;
    let ipfs_pid = record["ipfs"]["pid"].as_u64().unwrap() as u32;
    assert!(record["ipfs"]["api_url"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    assert!(record["contracts"]["registry"]["address"].is_string());
    assert!(alive(node_pid) && alive(ipfs_pid));

    let (ok, stdout, _) = iollm(s, &["devnet", "up"]);
    assert!(ok && stdout.starts_with("A devnet is already running"), "{stdout}");
    assert!(stdout.contains(&format!("pid {node_pid}")), "{stdout}");
    let (ok, stdout, _) = iollm(s, &["devnet", "status"]);
    assert!(ok && stdout.starts_with("Devnet running at"), "{stdout}");
    // The same report for a program: one JSON object, the deployment's facts as fields.
    let (ok, stdout, _) = iollm(s, &["--json", "devnet", "status"]);
    let status: serde_json::Value = serde_json::from_str(&stdout).expect(&stdout);
    assert!(ok && stdout.lines().count() == 1, "{stdout}");
    assert_eq!((&status["state"], &status["node"]["pid"]), (&"running".into(), &node_pid.into()));
    assert_eq!((&status["contracts"], &status["ipfs"]), (&record["contracts"], &record["ipfs"]));

    // Publish a package and pull it back by id.
    let pkg = s.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    // The template, as a first model: no parents, made by no job.
    let template = checkout().join("crates/content/schema/examples/smip.template.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(template).unwrap()).unwrap();
    manifest["parents"] = serde_json::json!([]);
    manifest["provenance"].as_object_mut().unwrap().remove("job_id");
    std::fs::write(pkg.join("smip.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
    std::fs::write(pkg.join("config.json"), b"{\"n_layer\":1}").unwrap();
    std::fs::write(pkg.join("model.safetensors"), vec![7u8; 300_000]).unwrap();
    let (ok, stdout, stderr) = iollm(s, &["model", "publish", pkg.to_str().unwrap()]);
    assert!(ok, "publish failed: {stderr}");
    let id_line = stdout.lines().find(|l| l.starts_with("id:")).expect(&stdout);
    let id = id_line.trim_start_matches("id:").trim().to_owned();
    let cid = ["cid", "--cid-version", "1", "--chunker", "size-32768", pkg.to_str().unwrap()];
    let (_, offline, _) = iollm(s, &cid);
    let offline_cid = offline.split_whitespace().nth(1).unwrap().to_owned();
    assert!(stdout.contains(&format!("package CID:  {offline_cid}")), "{stdout} vs {offline}");
    assert!(stdout.contains("lineage:      parents [], no job"), "{stdout}");

    let (ok, shown, stderr) = iollm(s, &["--json", "model", "show", &id]);
    assert!(ok, "{stderr}");
    let shown: serde_json::Value = serde_json::from_str(&shown).expect(&shown);
    assert_eq!((shown["id"].to_string(), &shown["kind"]), (id.clone(), &"model".into()));
    assert_eq!(
        (&shown["parents"], &shown["job"]),
        (&serde_json::json!([]), &serde_json::Value::Null)
    );
    assert!(shown["manifest_cid"].as_str().is_some_and(|c| c.starts_with("baf")), "{shown}");
    let pulled = s.join("pulled");
    let (ok, stdout, stderr) = iollm(s, &["model", "pull", &id, pulled.to_str().unwrap()]);
    assert!(ok, "pull failed: {stderr}");
    assert!(stdout.contains("verified"), "{stdout}");
    assert_eq!(std::fs::read(pulled.join("model.safetensors")).unwrap(), vec![7u8; 300_000]);

    worker_survives_kill_9_and_stops_on_sigterm(s, &id);
    worker_wins_a_dispute_across_kill_9(s, &id);
    a_real_model_is_imported_published_and_served_by_id(s);

    let (ok, stdout, _) = iollm(s, &["devnet", "down"]);
    assert!(ok, "{stdout}");
    assert_eq!(stdout.trim(), format!("Stopped the devnet (pids {node_pid}, {ipfs_pid})."));
    assert!(!alive(node_pid) && !alive(ipfs_pid));
    let (ok, stdout, _) = iollm(s, &["devnet", "down"]);
    assert!(ok && stdout.trim() == "No devnet is running; nothing to stop.", "{stdout}");
}

/// `iollm worker run --config config` as `suri`, on one thread, appending to `log`.
fn worker_process(s: &Path, suri: &str, config: &Path, log: &Path) -> std::process::Child {
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    command(s, suri, &["worker", "run", "--config", config.to_str().unwrap()])
        .env("IOLLM_THREADS", "1")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start the worker")
}

/// The collateral of the jobs the tests post (and a verifier's bond).
const COLLATERAL: u128 = 100_000_000_000;

/// `iollm job post` of the spec file `spec` (a path in the checkout) for `artifact`, with one
/// verifier slot and the tests' reward and collateral: the job's id.
fn post_job(s: &Path, spec: &str, artifact: &str, deadline: &str, window: u32) -> u64 {
    let (window, collateral) = (window.to_string(), COLLATERAL.to_string());
    let (ok, job, stderr) = iollm(
        s,
        &[
            "job",
            "post",
            "--spec",
            spec,
            "--artifact",
            artifact,
            "--units",
            "50",
            "--reward",
            "1000000000000",
            "--deadline",
            deadline,
            "--window",
            &window,
            "--verifiers",
            "1",
            "--collateral",
            &collateral,
            "--verifier-fee",
            "1000000000",
        ],
    );
    assert!(ok, "job post failed: {stderr}");
    job.trim().parse().unwrap()
}

/// A provider runs `iollm worker run`; a job is posted from the example spec; the worker is
/// killed with SIGKILL while it trains, started again, stopped with SIGTERM while it trains
/// again, started again, and goes on from its checkpoints to submit, having claimed once, the
/// trace root of the job trained without a stop; SIGTERM then stops it cleanly.
fn worker_survives_kill_9_and_stops_on_sigterm(s: &Path, artifact: &str) {
    use iollm_worker::state::{Stage, State};
    let charlie = "//Charlie";
    let (ok, _, stderr) = iollm_as(
        s,
        charlie,
        &["pledge", "--stake", "1000000000000", "--price", "1000000000", "--throughput", "100"],
    );
    assert!(ok, "pledge failed: {stderr}");
    let worker_dir = s.join("worker");
    let config = s.join("worker.toml");
    let toml = format!("state_dir = {:?}\npoll_ms = 200\n", worker_dir);
    std::fs::write(&config, toml).unwrap();
    let log = s.join("worker.log");
    let spawn = || worker_process(s, charlie, &config, &log);
    let mut worker = spawn();
    let job = post_job(s, "worker/examples/tiny.job.json", artifact, "+200", 2);
    let run = worker_dir.join("jobs").join(job.to_string()).join("run");
    let third = iollm_compute::train::checkpoint_path(&run, 3);
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let started = std::time::Instant::now();
        while !done() {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(started.elapsed().as_secs() < 300, "no {what} in 300 s; worker log:\n{log}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    until("checkpoint 3", &|| third.exists());
    worker.kill().unwrap(); // SIGKILL
    worker.wait().unwrap();
    assert!(iollm_compute::run_result(&run).is_err(), "killed before the run finished");

    // Started again, it goes on from checkpoint 3; SIGTERM mid-training stops it cleanly, its
    // checkpoints kept and the run unfinished.
    let mut worker = spawn();
    let sixth = iollm_compute::train::checkpoint_path(&run, 6);
    until("checkpoint 6", &|| sixth.exists());
    let pid = nix::unistd::Pid::from_raw(worker.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = worker.wait().unwrap();
    let stopped = std::fs::read_to_string(&log).unwrap();
    assert!(status.success() && stopped.contains("Worker stopped."), "{status}: {stopped}");
    assert!(iollm_compute::run_result(&run).is_err(), "stopped before the run finished");
    assert!(sixth.exists(), "its checkpoints kept");

    let mut worker = spawn();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let state = runtime.block_on(State::open(&worker_dir.join("state.sqlite"))).unwrap();
    let stage = || runtime.block_on(state.job(job)).unwrap().map(|j| j.stage);
    until("submission", &|| stage() == Some(Stage::Submitted));
    let sent: Vec<String> =
        runtime.block_on(state.transactions(job)).unwrap().into_iter().map(|t| t.0).collect();
    assert_eq!(sent, ["claim", "submit_result"], "claimed once across the kill");
    let (ok, shown, _) = iollm(s, &["job", "show", &job.to_string()]);
    assert!(ok && shown.contains("state:        Submitted"), "{shown}");
    // The submitted trace root is the one of the job trained without a kill.
    let reference = s.join("reference");
    let (ok, trained, stderr) = iollm(
        s,
        &["--json", "train", "--job", &job.to_string(), "--out", reference.to_str().unwrap()],
    );
    assert!(ok, "iollm train --job failed: {stderr}");
    let (ok, shown, _) = iollm(s, &["--json", "job", "show", &job.to_string()]);
    let [trained, shown]: [serde_json::Value; 2] =
        [trained, shown].map(|j| serde_json::from_str(&j).expect(&j));
    assert!(ok && trained["trace_root"].is_string(), "{trained}");
    assert_eq!(shown["trace_root"], trained["trace_root"], "the same run as without the kill");

    let pid = nix::unistd::Pid::from_raw(worker.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = worker.wait().unwrap();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(status.success() && log.matches("Worker stopped.").count() == 2, "{status}: {log}");
    let (ok, status, stderr) =
        iollm_as(s, charlie, &["worker", "status", "--config", config.to_str().unwrap()]);
    assert!(ok, "worker status failed: {stderr}");
    let line = status.lines().find(|l| l.starts_with(&format!("job {job} "))).expect(&status);
    assert!(line.contains("executor") && line.contains("submitted"), "{status}");
    assert!(line.contains(" claim@") && line.contains(" submit_result@"), "{status}");
    // What it added to IPFS: the output package the result names, and the run beside it.
    let output = shown["output_cid"].as_str().expect("the result's output CID");
    assert!(status.contains(&format!("added {output} (from ")), "{status}");
    assert_eq!(status.matches("           added ").count(), 2, "{status}");
    // What the market owes the worker's account, as `iollm balance` says it.
    let config = config.to_str().unwrap();
    let (ok, status, _) = iollm_as(s, charlie, &["--json", "worker", "status", "--config", config]);
    let (ok_too, balance, _) = iollm_as(s, charlie, &["--json", "balance"]);
    let [status, balance]: [serde_json::Value; 2] =
        [status, balance].map(|j| serde_json::from_str(&j).expect(&j));
    assert!(ok && ok_too && status["owed"].is_string(), "{status}");
    assert_eq!(status["owed"], balance["market"], "{status} {balance}");
}

/// Charlie's `worker run` (not withdrawing, so what the market owes it can be counted) takes
/// a job posted from the CLI to submission, its process killed twice on the way in the window
/// between a transaction's landing and its record (`IOLLM_TEST_ABORT_BEFORE_RECORDING`: once
/// when its claim has landed, once when its submission has) and started again each time, with
/// exactly one claim and one submission on chain; Dave challenges with a lying claim (wrong
/// from step 2) and plays it; mid-game the worker is killed with SIGKILL and started again on
/// its state: it carries the game on from where the chain says it stands, wins it, and once
/// the window has passed finalizes, owed its ask plus half Dave's bond, to the unit.
fn worker_wins_a_dispute_across_kill_9(s: &Path, artifact: &str) {
    use iollm_chain::{Chain, Connection, Decoded, Deployment, Signer};
    use iollm_types::bisection::{Side, Verdict};
    use iollm_types::market::events::Event;
    use iollm_types::market::JobState;
    use iollm_worker::player::{play, Cheat, Player};
    use iollm_worker::state::{Stage, State};
    use std::os::unix::process::ExitStatusExt as _;
    const STAKE: u128 = 1_000_000_000_000;
    const WINDOW: u32 = 40;
    let (charlie, dave) = (Signer::dev("charlie").unwrap(), Signer::dev("dave").unwrap());
    let (ok, _, stderr) = iollm_as(
        s,
        "//Dave",
        &["pledge", "--stake", &STAKE.to_string(), "--price", "1000000000", "--throughput", "100"],
    );
    assert!(ok, "pledge failed: {stderr}");
    let worker_dir = s.join("worker");
    let config = s.join("worker-dispute.toml");
    let toml = format!("state_dir = {:?}\npoll_ms = 200\nwithdraw = false\n", worker_dir);
    std::fs::write(&config, toml).unwrap();
    let log = s.join("worker-dispute.log");
    let spawn = || worker_process(s, "//Charlie", &config, &log);
    let spawn_with = |key: &str, value: &str| {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        command(s, "//Charlie", &["worker", "run", "--config", config.to_str().unwrap()])
            .env("IOLLM_THREADS", "1")
            .env(key, value)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start the worker")
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let deployment = Deployment::load(&s.join("deployments/devnet.json")).unwrap();
    let chain = runtime.block_on(Chain::connect(&deployment.rpc_url)).unwrap();
    let ctx = &Connection { chain, deployment };
    let market = ctx.market().unwrap();
    let state = runtime.block_on(State::open(&worker_dir.join("state.sqlite"))).unwrap();
    let stage = |job| runtime.block_on(state.job(job)).unwrap().map(|j| j.stage);
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let started = std::time::Instant::now();
        while !done() {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(started.elapsed().as_secs() < 300, "no {what} in 300 s; worker log:\n{log}");
            // Blocks, for windows to pass (the devnet seals one only for a transaction).
            runtime.block_on(ctx.chain.remark(&dave, b"tick".to_vec())).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    // The job it submitted before finalizes first, so what this job pays can be counted.
    let mut worker = spawn();
    let earlier = runtime.block_on(state.jobs()).unwrap().iter().map(|j| j.id).max().unwrap();
    until("finalization of the earlier job", &|| stage(earlier) == Some(Stage::Finalized));
    let owed_before = runtime.block_on(market.balance_of(charlie.account_bytes())).unwrap();

    // Killed once its claim has landed, before it records it; then once its submission has.
    let pid = nix::unistd::Pid::from_raw(worker.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(worker.wait().unwrap().success());
    let head = runtime.block_on(ctx.chain.finalized_head()).unwrap();
    let hook = iollm_cli::settings::ABORT_BEFORE_RECORDING_ENV;
    let mut worker = spawn_with(hook, "claim");
    let job = post_job(s, "worker/examples/game.job.json", artifact, "+300", WINDOW);
    let job_state = |job| runtime.block_on(market.job(job)).unwrap().expect("the job").state;
    for (what, stage_left, chain_state) in [
        ("claim", Stage::Claiming, JobState::Claimed),
        ("submit_result", Stage::Submitting, JobState::Submitted),
    ] {
        let (aborting, exited) = (std::cell::RefCell::new(worker), std::cell::Cell::new(None));
        until(&format!("an abort before recording {what}"), &|| {
            exited.set(aborting.borrow_mut().try_wait().unwrap());
            exited.get().is_some()
        });
        let status = exited.get().unwrap();
        assert_eq!(status.signal(), Some(nix::libc::SIGABRT), "{status}");
        assert_eq!(stage(job), Some(stage_left), "what the state says after the abort");
        assert_eq!(job_state(job), chain_state, "what the chain holds");
        let recorded = runtime.block_on(state.transactions(job)).unwrap();
        assert!(recorded.is_empty(), "nothing recorded: {recorded:?}");
        worker = match what {
            "claim" => spawn_with(hook, "submit_result"),
            _ => spawn(),
        };
    }
    let started = std::time::Instant::now();
    while stage(job) != Some(Stage::Submitted) {
        assert!(started.elapsed().as_secs() < 300, "job {job} not submitted in 300 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Exactly one claim and one submission on chain, every finalized block read.
    let (mut claims, mut submissions) = (0, 0);
    let end = runtime.block_on(ctx.chain.finalized_head()).unwrap();
    for n in head..=end {
        let block = runtime.block_on(ctx.chain.finalized_block(n)).unwrap().expect("finalized");
        for decoded in block.decoded(&ctx.deployment) {
            match decoded.unwrap() {
                Decoded::Market(Event::JobClaimed(c)) if c.job == job => claims += 1,
                Decoded::Market(Event::ResultSubmitted(r)) if r.job == job => submissions += 1,
                _ => {}
            }
        }
    }
    assert_eq!((claims, submissions), (1, 1), "one claim and one submission across two aborts");
    let ask = runtime.block_on(market.job(job)).unwrap().expect("the job").ask;

    // Dave's lie, challenged and played to the end while the worker is killed mid-game.
    let cfg = runtime.block_on(iollm_cli::market::job_config(ctx, job, &s.join("liar"))).unwrap();
    let trainer = iollm_compute::Trainer::new(&cfg, &iollm_compute::Runtime::new(1)).unwrap();
    let cheat = Cheat { step: 2, op: 30, element: 3, xor: 1 << 21 };
    let n = cfg.n_checkpoints();
    let lie = Player::new(Side::Challenger, &trainer, Some(cheat)).checkpoints(4, n as u64);
    let proof = |i: usize| iollm_compute::merkle::proof(&lie, i).expect("in range");
    let root = iollm_compute::merkle::root(&lie);
    let (first, last) = (proof(0), proof(n));
    runtime.block_on(market.challenge(&dave, job, root, &first, lie[n], &last)).unwrap();
    let game = runtime.block_on(market.game_of(job, 0)).unwrap().expect("Dave's game").game;
    let dispute = ctx.dispute().unwrap();
    let restart = async {
        while dispute.game(game).await.unwrap().map_or(0, |g| g.moves) < 6 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        worker.kill().unwrap(); // SIGKILL, whatever move it was making
        worker.wait().unwrap();
        spawn()
    };
    let liar = |side| Player::new(side, &trainer, Some(cheat));
    let lying = play(ctx, &dave, game, liar, true, |_, _| {});
    let (mut worker, decided) = runtime.block_on(async { tokio::join!(restart, lying) });
    assert_eq!(decided.unwrap().verdict(), Some(Verdict::Executor), "the worker won");

    until("finalization", &|| stage(job) == Some(Stage::Finalized));
    let done = runtime.block_on(market.job(job)).unwrap().expect("the job");
    assert_eq!(done.open_games, 0);
    let owed = runtime.block_on(market.balance_of(charlie.account_bytes())).unwrap();
    assert_eq!(owed - owed_before, ask + COLLATERAL / 2, "its ask and half the liar's bond");
    let d = runtime.block_on(market.pledge_of(dave.account_bytes())).unwrap().expect("pledge");
    assert_eq!((d.stake, d.locked), (STAKE - COLLATERAL, 0), "Dave's bond is lost");
    let c = runtime.block_on(market.pledge_of(charlie.account_bytes())).unwrap().expect("pledge");
    assert_eq!(c.locked, 0, "Charlie's collateral is free again");
    let sent: Vec<String> =
        runtime.block_on(state.transactions(job)).unwrap().into_iter().map(|t| t.0).collect();
    // The claim and the submission landed but were never recorded (the chain told the worker
    // started again); what it sent afterwards was.
    let once = |call: &str| sent.iter().filter(|c| *c == call).count() == 1;
    assert!(!sent.iter().any(|c| c == "claim" || c == "submit_result"), "{sent:?}");
    assert!(once("finalize"), "{sent:?}");
    let pid = nix::unistd::Pid::from_raw(worker.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(worker.wait().unwrap().success());
}

/// `model import` of the real SmolLM2 GGUF, `model publish`, then `model serve <id>`: pulled
/// by id (every byte verified) into the cache, served on a loopback port, answering over HTTP;
/// SIGTERM stops it. A file that is not a model is refused and leaves nothing behind.
fn a_real_model_is_imported_published_and_served_by_id(s: &Path) {
    use std::io::{BufRead, Read, Write};
    let home = std::env::var_os("IOLLM_HOME").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap()).join(".local/share/iollm")
    });
    let gguf = home.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(gguf.is_file(), "{} missing: run scripts/setup.sh", gguf.display());
    let bad = s.join("bad-import");
    let (ok, _, stderr) =
        iollm(s, &["model", "import", "--gguf", "Cargo.toml", "--out", bad.to_str().unwrap()]);
    assert!(!ok && stderr.contains("not a GGUF file"), "{stderr}");
    assert!(!bad.exists());

    let pkg = s.join("smollm2");
    let (ok, stdout, stderr) = iollm(
        s,
        &["model", "import", "--gguf", gguf.to_str().unwrap(), "--out", pkg.to_str().unwrap()],
    );
    assert!(ok, "import failed: {stderr}");
    assert!(stdout.contains("(llama, 134515008 parameters)"), "{stdout}");
    let (ok, stdout, stderr) = iollm(s, &["model", "publish", pkg.to_str().unwrap()]);
    assert!(ok, "publish failed: {stderr}");
    let id = stdout.lines().find_map(|l| l.strip_prefix("id:")).expect(&stdout).trim().to_owned();

    let mut server = command(
        s,
        "//Alice",
        &["model", "serve", &id, "--listen", "127.0.0.1:0", "--threads", "2"],
    )
    .env("XDG_CACHE_HOME", s.join("cache"))
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let pulled = lines.next().unwrap().unwrap();
    assert!(
        pulled.starts_with(&format!("pulled artifact {id} (")) && pulled.ends_with("verified"),
        "{pulled}"
    );
    let serving = lines.next().unwrap().unwrap();
    let addr = serving
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect(&serving)
        .to_owned();
    assert!(serving.starts_with(&format!("serving {id} on http://127.0.0.1:")), "{serving}");
    let post = |body: &str| -> String {
        let mut tcp = std::net::TcpStream::connect(&addr).unwrap();
        write!(tcp, "POST /v1/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).unwrap();
        let mut reply = String::new();
        tcp.read_to_string(&mut reply).unwrap();
        reply
    };
    let body = format!(
        r#"{{"model":"{id}","prompt":"The capital of France is","max_tokens":3,"temperature":0}}"#
    );
    let reply = post(&body);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains(r#""text":" Paris.\n""#), "{reply}");
    let reply = post("{not json");
    assert!(
        reply.starts_with("HTTP/1.1 400") && reply.contains("invalid_request_error"),
        "{reply}"
    );

    let pid = nix::unistd::Pid::from_raw(server.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(server.wait().unwrap().success());
    assert_eq!(lines.next().unwrap().unwrap(), "server stopped.");
}
