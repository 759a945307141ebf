//! The processes a devnet starts, found again by PID: a PID counts as ours only while its
//! command line still has the arguments we started it with (a reused PID is someone else's);
//! stopping is SIGTERM, then SIGKILL.

use crate::{DevnetError, NODE_BINARY};
use iollm_chain::deployment::{Deployment, NodeRecord};
use iollm_chain::Chain;
use std::time::Duration;

/// Whether the devnet recorded in `deployment` is alive: its PID is our node and RPC answers.
pub async fn is_running(deployment: &Deployment) -> bool {
    let Some(node) = &deployment.node else { return false };
    is_our_node(node) && Chain::connect(&deployment.rpc_url).await.is_ok()
}

/// Whether `pid` is alive and each of `marks` is one of its arguments (the program may be
/// named by a path ending in the mark): a reused PID running something else is not ours.
pub(crate) fn is_our_process(pid: u32, marks: &[&str]) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    let cmdline = String::from_utf8_lossy(&cmdline);
    let args: Vec<&str> = cmdline.split('\0').collect();
    marks
        .iter()
        .all(|mark| args.iter().any(|arg| arg == mark || arg.ends_with(&format!("/{mark}"))))
}

/// Whether `node.pid` is still a substrate-contracts-node using `node.base_path`.
pub(crate) fn is_our_node(node: &NodeRecord) -> bool {
    let marks = node_marks(node);
    is_our_process(node.pid, &marks.iter().map(String::as_str).collect::<Vec<_>>())
}

/// What identifies the node's process: its binary and its chain directory (`--base-path`).
pub(crate) fn node_marks(node: &NodeRecord) -> [String; 2] {
    [NODE_BINARY.to_owned(), node.base_path.join("chain").to_string_lossy().into_owned()]
}

/// The devnet's own IPFS daemon, if it is still running: `(pid, marks)`.
pub(crate) fn our_ipfs(deployment: &Deployment) -> Option<(u32, Vec<String>)> {
    let ipfs = deployment.ipfs.as_ref()?;
    let (pid, repo) = (ipfs.pid?, ipfs.repo.as_ref()?);
    let marks = vec!["ipfs".to_owned(), "daemon".to_owned(), repo.to_string_lossy().into_owned()];
    let refs: Vec<&str> = marks.iter().map(String::as_str).collect();
    is_our_process(pid, &refs).then_some((pid, marks))
}

/// SIGTERM, up to 15 s for it to exit, then SIGKILL.
pub(crate) async fn stop(pid: u32, marks: &[String]) -> Result<(), DevnetError> {
    use nix::sys::signal::{kill, Signal};
    let refs: Vec<&str> = marks.iter().map(String::as_str).collect();
    let target = nix::unistd::Pid::from_raw(i32::try_from(pid).map_err(std::io::Error::other)?);
    // Gone between the check and the signal: nothing left to stop.
    let gone = |e: nix::errno::Errno| e == nix::errno::Errno::ESRCH;
    match kill(target, Signal::SIGTERM) {
        Err(e) if gone(e) => return Ok(()),
        other => other.map_err(std::io::Error::from)?,
    }
    let mut waited = Duration::ZERO;
    while is_our_process(pid, &refs) && waited < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
    if is_our_process(pid, &refs) {
        match kill(target, Signal::SIGKILL) {
            Err(e) if gone(e) => {}
            other => other.map_err(std::io::Error::from)?,
        }
    }
    Ok(())
}
