//! The devnet's block clock: the dev node seals a block only when a transaction arrives, so
//! windows measured in blocks (a job's challenge window, a game's move clock) would never close
//! on an idle devnet. `iollm devnet clock` sends a `system.remark` as Ferdie every interval,
//! as a real chain's block time would; `devnet up --workers N` starts it as a child process.

use crate::process::is_our_process;
use crate::{DevnetError, Paths};
use iollm_chain::deployment::ClockRecord;
use iollm_chain::{Chain, Signer};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The dev account the clock signs with (no worker or example uses it).
pub const ACCOUNT: &str = "ferdie";

/// The interval `devnet up --workers` gives its clock: half a real chain's 6 s, so the devnet
/// market's 10 submit blocks leave an executor about 30 s after its claim.
pub const EVERY_MS: u64 = 3000;

/// Makes a block every `every` until `stop`; a failed remark (the node away) is logged and the
/// next one tried.
pub async fn run(
    chain: &Chain,
    every: Duration,
    stop: CancellationToken,
) -> Result<(), DevnetError> {
    let signer = Signer::dev(ACCOUNT)?;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        match chain.remark(&signer, b"iollm devnet clock".to_vec()).await {
            Ok(included) => {
                tracing::debug!(target: "devnet::clock", block = included.block, "Tick")
            }
            Err(e) => tracing::warn!(target: "devnet::clock", error = %e, "No block this tick"),
        }
    }
}

/// Starts `iollm devnet clock --every-ms every_ms` against the devnet recorded in `paths`.
pub fn start(
    iollm_exe: &Path,
    paths: &Paths,
    deployment: &iollm_chain::Deployment,
    every_ms: u64,
) -> Result<ClockRecord, DevnetError> {
    let log = paths.state_dir().join("clock.log");
    let log_file = std::fs::File::create(&log)?;
    let mut command = Command::new(iollm_exe);
    command.args(["devnet", "clock", "--every-ms", &every_ms.to_string()]);
    crate::workers::isolated(&mut command, paths, deployment)?;
    command.stdin(Stdio::null()).stdout(log_file.try_clone()?).stderr(log_file);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command.spawn()?;
    Ok(ClockRecord { pid: child.id(), every_ms, log })
}

/// What identifies the clock's process: `devnet clock … <its deployment file>`.
pub fn marks(paths: &Paths) -> Vec<String> {
    vec!["devnet".into(), "clock".into(), paths.deployment_file().to_string_lossy().into_owned()]
}

/// Whether `clock` is still running.
pub fn is_running(clock: &ClockRecord, paths: &Paths) -> bool {
    let marks = marks(paths);
    let refs: Vec<&str> = marks.iter().map(String::as_str).collect();
    is_our_process(clock.pid, &refs)
}
