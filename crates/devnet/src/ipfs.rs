//! The devnet's IPFS node: our embedded Kubo-RPC daemon (`iollm ipfs daemon`) as a child
//! process on a free loopback port, with its repo under the devnet's state directory.

use crate::DevnetError;
use iollm_chain::deployment::IpfsRecord;
use iollm_content::KuboClient;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long to wait for a started daemon's API to answer.
pub const IPFS_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts `iollm_exe ipfs daemon` with its repo at `repo` (kept across restarts) and its log in
/// `repo/../ipfs.log`, and waits until its API answers.
pub async fn start_daemon(iollm_exe: &Path, repo: &Path) -> Result<IpfsRecord, DevnetError> {
    std::fs::create_dir_all(repo)?;
    let log = repo.with_extension("log");
    let log_file = std::fs::File::create(&log)?;
    let port = crate::free_port()?;
    let mut command = Command::new(iollm_exe);
    command
        .args(["ipfs", "daemon", "--repo"])
        .arg(repo)
        .args(["--api", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn()?;
    let api_url = format!("http://127.0.0.1:{port}");
    let client = KuboClient::new(&api_url).map_err(|e| DevnetError::Ipfs(e.to_string()))?;
    let started = Instant::now();
    while started.elapsed() < IPFS_READY_TIMEOUT {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(DevnetError::NodeExited { status: status.to_string(), log });
        }
        if client.version().await.is_ok() {
            tracing::info!(target: "devnet::ipfs", pid = child.id(), api = %api_url, "IPFS daemon answers");
            return Ok(IpfsRecord { api_url, pid: Some(child.id()), repo: Some(repo.to_owned()) });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    Err(DevnetError::NodeNotReady { seconds: IPFS_READY_TIMEOUT.as_secs(), log })
}
