//! A devnet owned by its caller, like anvil's: [`Devnet::spawn`] starts a node on a temporary
//! base path, deploys every contract and runs an IPFS daemon in this process; dropping the
//! [`Devnet`] kills the node, stops the daemon and removes the directory. A test may stop
//! either and start it again, to show what survives their loss. Tests and tools use it;
//! `iollm devnet up` is the detached kind, recorded in a deployment file.

use crate::CONTRACTS;
use crate::{build_contracts, deploy_contracts, ContractArtifact, DevnetError, NodeProcess, Paths};
use iollm_chain::deployment::{Deployment, IpfsRecord};
use iollm_chain::{Chain, Connection, Signer};
use iollm_content::daemon::{Daemon, DaemonConfig};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A node with the contracts deployed (by `//Alice`, the treasury) and an IPFS daemon, all
/// stopped when it is dropped.
pub struct Devnet {
    /// The chain and the deployment.
    pub connection: Connection,
    /// The node (a test may kill it and start it again).
    pub node: NodeProcess,
    ipfs: Ipfs,
    _dir: tempfile::TempDir,
}

/// The IPFS daemon this process runs: its repo and address, kept to start it again.
struct Ipfs {
    repo: PathBuf,
    addr: SocketAddr,
    shutdown: CancellationToken,
    serving: Option<JoinHandle<Result<(), iollm_content::Error>>>,
}

impl Ipfs {
    /// Binds a daemon on `addr` over `repo` and serves it on this runtime.
    async fn start(repo: PathBuf, addr: SocketAddr) -> Result<Ipfs, DevnetError> {
        let daemon = Daemon::bind(DaemonConfig::new(repo.clone(), addr))
            .await
            .map_err(|e| DevnetError::Ipfs(e.to_string()))?;
        let (addr, shutdown) = (daemon.local_addr(), CancellationToken::new());
        let serving = Some(tokio::spawn(daemon.run(shutdown.clone())));
        Ok(Ipfs { repo, addr, shutdown, serving })
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        self.ipfs.shutdown.cancel();
    }
}

impl Devnet {
    /// Starts a devnet of the checkout `paths` names. Contracts are built once per process
    /// (several devnets of one process share the build); must run inside a Tokio runtime, which
    /// runs the IPFS daemon.
    pub async fn spawn(paths: &Paths) -> Result<Devnet, DevnetError> {
        let artifacts = built_once(paths)?;
        let dir = tempfile::tempdir()?;
        let node = NodeProcess::start(&paths.node_binary()?, &dir.path().join("node")).await?;
        let chain = Chain::connect(&node.rpc_url()).await?;
        let contracts = deploy_contracts(&chain, &Signer::dev("alice")?, &artifacts).await?;
        let ipfs = Ipfs::start(dir.path().join("ipfs"), ([127, 0, 0, 1], 0).into()).await?;
        let record = IpfsRecord { api_url: format!("http://{}", ipfs.addr), pid: None, repo: None };
        let deployment = Deployment {
            rpc_url: node.rpc_url(),
            node: None,
            ipfs: Some(record),
            contracts,
            workers: Vec::new(),
            clock: None,
        };
        Ok(Devnet { connection: Connection { chain, deployment }, node, ipfs, _dir: dir })
    }

    /// Stops the IPFS daemon (to test what survives its loss) and waits until it has let go
    /// of its repo; [`Devnet::start_ipfs`] starts it again. Stopping a stopped one does nothing.
    pub async fn stop_ipfs(&mut self) {
        self.ipfs.shutdown.cancel();
        if let Some(serving) = self.ipfs.serving.take() {
            // Its result is of no use once it is stopped; a panic in it ends the test anyway.
            let _ = serving.await;
        }
    }

    /// Starts the IPFS daemon again, on its address and repo (every block it held is there).
    pub async fn start_ipfs(&mut self) -> Result<(), DevnetError> {
        self.stop_ipfs().await;
        self.ipfs = Ipfs::start(self.ipfs.repo.clone(), self.ipfs.addr).await?;
        Ok(())
    }
}

/// Every contract of `paths`' checkout, built on the first call of this process for that
/// checkout (concurrent cargo-contract runs would race on the same output files).
pub fn built_once(paths: &Paths) -> Result<BTreeMap<String, ContractArtifact>, DevnetError> {
    type Built = BTreeMap<PathBuf, BTreeMap<String, ContractArtifact>>;
    static BUILT: Mutex<Built> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(artifacts) = built.get(&paths.root) {
        return Ok(artifacts.clone());
    }
    let artifacts = build_contracts(paths, CONTRACTS.iter().map(|c| c.name))?;
    built.insert(paths.root.clone(), artifacts.clone());
    Ok(artifacts)
}
