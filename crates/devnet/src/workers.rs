//! The devnet's worker daemons (`iollm devnet up --workers N`): dev accounts pledge, then each
//! runs `iollm worker run` as a child process (like the IPFS daemon) with its own state
//! directory, log and loopback `/metrics`: the first as executor, the others as verifiers.

use crate::process::{is_our_process, stop};
use crate::{free_port, DevnetError, Paths};
use iollm_chain::deployment::WorkerRecord;
use iollm_chain::{Chain, Connection, Deployment, Signer};
use iollm_types::market::Capacity;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The dev accounts that run workers, in order (Alice deploys and posts, Bob owns artifacts
/// in the examples, Ferdie signs the devnet's clock).
pub const ACCOUNTS: [&str; 3] = ["charlie", "dave", "eve"];

/// What each worker's account pledges: stake, price per unit, capacity.
const STAKE: u128 = 1_000_000_000_000;
const PRICE: u128 = 1_000_000_000;
const CAPACITY: Capacity = Capacity { accelerator: 0, memory_gib: 0, throughput: 100 };

/// How long a started worker has to serve its metrics (it opened its state and the chain).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Pledges for the first `n` of [`ACCOUNTS`] and starts their workers against the devnet
/// recorded in `paths` (which must be written already: the workers read it).
pub async fn start(
    iollm_exe: &Path,
    paths: &Paths,
    deployment: &Deployment,
    n: usize,
) -> Result<Vec<WorkerRecord>, DevnetError> {
    if n > ACCOUNTS.len() {
        return Err(DevnetError::Workers(format!(
            "{n} workers asked for; the devnet runs at most {} (dev accounts {})",
            ACCOUNTS.len(),
            ACCOUNTS.join(", ")
        )));
    }
    let chain = Chain::connect(&deployment.rpc_url).await?;
    let conn = Connection { chain, deployment: deployment.clone() };
    let market = conn.market()?;
    let mut started = Vec::new();
    for (i, account) in ACCOUNTS.iter().take(n).enumerate() {
        let role = if i == 0 { "executor" } else { "verifier" };
        // A joint-mining discount for the executor, as the examples show.
        let discount = if i == 0 { 2000 } else { 0 };
        let one = async {
            market.pledge(&Signer::dev(account)?, CAPACITY, PRICE, discount, STAKE).await?;
            spawn(iollm_exe, paths, deployment, account, role).await
        };
        match one.await {
            Ok(worker) => started.push(worker),
            Err(e) => {
                // None left behind: the ones already started are not recorded anywhere.
                for worker in &started {
                    stop(worker.pid, &marks(worker)).await?;
                }
                return Err(e);
            }
        }
    }
    Ok(started)
}

/// A settings file with nothing in it, for the devnet's children: the user's own settings
/// (a `key_file`, an `rpc`) must not reach a dev account's worker.
pub fn empty_settings(paths: &Paths) -> Result<std::path::PathBuf, DevnetError> {
    let file = paths.state_dir().join("child-settings.toml");
    std::fs::create_dir_all(paths.state_dir())?;
    std::fs::write(&file, "# The devnet's workers and clock read no user settings.\n")?;
    Ok(file)
}

/// `command` with none of the user's `IOLLM_*` variables, on the devnet's node and settings.
pub fn isolated(
    command: &mut Command,
    paths: &Paths,
    deployment: &Deployment,
) -> Result<(), DevnetError> {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("IOLLM_") {
            command.env_remove(key);
        }
    }
    command
        .arg("--settings")
        .arg(empty_settings(paths)?)
        .arg("--deployments")
        .arg(paths.deployment_file())
        .args(["--rpc", &deployment.rpc_url]);
    Ok(())
}

/// Starts `account`'s worker in `role` and waits until it serves its metrics.
async fn spawn(
    iollm_exe: &Path,
    paths: &Paths,
    deployment: &Deployment,
    account: &str,
    role: &str,
) -> Result<WorkerRecord, DevnetError> {
    let dir = paths.state_dir().join("workers").join(account);
    // A worker's state is bound to its chain and market: a new devnet starts it afresh.
    let state = dir.join("state");
    if state.exists() {
        std::fs::remove_dir_all(&state)?;
    }
    std::fs::create_dir_all(&dir)?;
    let metrics = format!("127.0.0.1:{}", free_port()?);
    let config = dir.join("worker.toml");
    let toml = format!(
        "role = \"{role}\"\nstate_dir = {:?}\npoll_ms = 200\nmetrics_listen = \"{metrics}\"\n",
        state
    );
    std::fs::write(&config, toml)?;
    let log = dir.join("worker.log");
    let log_file = std::fs::File::create(&log)?;
    let mut capital = account.chars();
    let name: String =
        capital.next().map(|c| c.to_ascii_uppercase()).into_iter().chain(capital).collect();
    let mut command = Command::new(iollm_exe);
    command.args(["worker", "run", "--config"]).arg(&config);
    isolated(&mut command, paths, deployment)?;
    command
        .env("IOLLM_SURI", format!("//{name}"))
        // The workers share the machine: one compute thread each (same bits on any count).
        .env("IOLLM_THREADS", "1")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn()?;
    let started = Instant::now();
    while started.elapsed() < READY_TIMEOUT {
        if let Ok(Some(status)) = child.try_wait() {
            let why =
                format!("{account}'s worker exited at start ({status}); see {}", log.display());
            return Err(DevnetError::Workers(why));
        }
        // Serving metrics: its state, lock and chain connection are open.
        let serving = tokio::net::TcpStream::connect(&metrics).await.is_ok();
        if serving && matches!(child.try_wait(), Ok(None)) {
            tracing::info!(target: "devnet::workers", account, role, pid = child.id(), %metrics, "Worker running");
            return Ok(WorkerRecord {
                account: account.to_owned(),
                role: role.to_owned(),
                pid: child.id(),
                config,
                log,
                metrics,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    Err(DevnetError::Workers(format!(
        "{account}'s worker did not serve its metrics within {}s; see {}",
        READY_TIMEOUT.as_secs(),
        log.display()
    )))
}

/// What identifies `worker`'s process: `worker run --config <its config>`.
pub fn marks(worker: &WorkerRecord) -> Vec<String> {
    vec!["worker".into(), "run".into(), worker.config.to_string_lossy().into_owned()]
}

/// Whether `worker` is still running.
pub fn is_running(worker: &WorkerRecord) -> bool {
    let marks = marks(worker);
    let refs: Vec<&str> = marks.iter().map(String::as_str).collect();
    is_our_process(worker.pid, &refs)
}
