//! A devnet left running: [`up`] starts and records it (`deployments/devnet.json`), [`status`]
//! reports it, [`down`] stops exactly what `up` started.

use crate::process::{is_our_node, node_marks, our_ipfs, stop};
use crate::{build_contracts, clock, deploy_contracts, is_running, start_daemon, workers};
use crate::{DevnetError, NodeProcess, Paths, CONTRACTS};
use iollm_chain::deployment::{Deployment, IpfsRecord, NodeRecord};
use iollm_chain::{Chain, Signer};
use std::path::Path;

/// What `up` found or did.
#[derive(Debug)]
pub enum Up {
    /// A devnet was already running; nothing was started.
    AlreadyRunning(Deployment),
    /// A new devnet was started and deployed.
    Started(Deployment),
}

/// Starts a devnet: node, contracts built and deployed (by `//Alice`), an IPFS daemon (unless
/// `ipfs_api` names an external one), deployment file written, then `workers` worker daemons
/// ([`workers::start`]). `iollm_exe` is the `iollm` binary, which runs the IPFS daemon and
/// the workers.
pub async fn up(
    paths: &Paths,
    iollm_exe: &Path,
    ipfs_api: Option<&str>,
    workers: usize,
) -> Result<Up, DevnetError> {
    let file = paths.deployment_file();
    if let Ok(existing) = Deployment::load(&file) {
        if is_running(&existing).await {
            return Ok(Up::AlreadyRunning(existing));
        }
        // A devnet whose node died may have left its workers and clock: stopped first.
        stop_children(paths, &existing).await?;
    }
    let artifacts = build_contracts(paths, CONTRACTS.iter().map(|c| c.name))?;
    let node = NodeProcess::start(&paths.node_binary()?, &paths.state_dir().join("node")).await?;
    let chain = Chain::connect(&node.rpc_url()).await?;
    let contracts = deploy_contracts(&chain, &Signer::dev("alice")?, &artifacts).await?;
    let ipfs = match ipfs_api {
        Some(url) => IpfsRecord { api_url: url.to_owned(), pid: None, repo: None },
        None => start_daemon(iollm_exe, &paths.state_dir().join("ipfs")).await?,
    };
    let deployment = Deployment {
        ipfs: Some(ipfs),
        rpc_url: node.rpc_url(),
        node: Some(NodeRecord {
            pid: node.pid(),
            base_path: node.base_path().to_owned(),
            log: node.log().to_owned(),
        }),
        contracts,
        workers: Vec::new(),
        clock: None,
    };
    deployment.save(&file)?;
    node.detach();
    let mut deployment = deployment;
    if workers > 0 {
        // Windows are counted in blocks, and the dev node makes one only per transaction.
        deployment.clock = Some(clock::start(iollm_exe, paths, &deployment, clock::EVERY_MS)?);
        deployment.save(&file)?;
        deployment.workers = workers::start(iollm_exe, paths, &deployment, workers).await?;
        deployment.save(&file)?;
    }
    Ok(Up::Started(deployment))
}

/// What `status` found.
#[derive(Debug)]
pub enum Status {
    /// No deployment file.
    NotStarted,
    /// A deployment file whose node is gone.
    Stale(Deployment),
    /// A live devnet.
    Running(Deployment),
}

/// Reports the devnet recorded in the checkout.
pub async fn status(paths: &Paths) -> Result<Status, DevnetError> {
    let file = paths.deployment_file();
    if !file.exists() {
        return Ok(Status::NotStarted);
    }
    let deployment = Deployment::load(&file)?;
    Ok(if is_running(&deployment).await {
        Status::Running(deployment)
    } else {
        Status::Stale(deployment)
    })
}

/// Stops the workers, clock, node and IPFS daemon `up` started (by PID, after checking each is
/// still ours) and removes the deployment file. Returns the PIDs stopped (workers, the clock,
/// then the node); empty when nothing was running.
pub async fn down(paths: &Paths) -> Result<Vec<u32>, DevnetError> {
    let file = paths.deployment_file();
    let Ok(deployment) = Deployment::load(&file) else { return Ok(Vec::new()) };
    // Workers and clock first: they would only retry against a node going away.
    let mut stopped = stop_children(paths, &deployment).await?;
    if let Some(node) = deployment.node.as_ref().filter(|n| is_our_node(n)) {
        stop(node.pid, &node_marks(node)).await?;
        stopped.push(node.pid);
    }
    if let Some((pid, marks)) = our_ipfs(&deployment) {
        stop(pid, &marks).await?;
        stopped.push(pid);
    }
    std::fs::remove_file(&file)?;
    Ok(stopped)
}

/// Stops the workers and clock of `deployment` that still run; their PIDs.
async fn stop_children(paths: &Paths, deployment: &Deployment) -> Result<Vec<u32>, DevnetError> {
    let mut stopped = Vec::new();
    for worker in deployment.workers.iter().filter(|w| workers::is_running(w)) {
        stop(worker.pid, &workers::marks(worker)).await?;
        stopped.push(worker.pid);
    }
    if let Some(clock) = deployment.clock.as_ref().filter(|c| clock::is_running(c, paths)) {
        stop(clock.pid, &clock::marks(paths)).await?;
        stopped.push(clock.pid);
    }
    Ok(stopped)
}
