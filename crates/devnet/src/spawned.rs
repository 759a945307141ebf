//! A devnet owned by its caller, like anvil's: [`Devnet::spawn`] starts a node on a temporary
//! base path, deploys every contract and runs an IPFS daemon in this process; dropping the
//! [`Devnet`] kills the node, stops the daemon and removes the directory. Tests and tools use it;
//! `iollm devnet up` is the detached kind, recorded in a deployment file.

use crate::CONTRACTS;
use crate::{build_contracts, deploy_contracts, ContractArtifact, DevnetError, NodeProcess, Paths};
use iollm_chain::deployment::{Deployment, IpfsRecord};
use iollm_chain::{Chain, Connection, Signer};
use iollm_content::daemon::{Daemon, DaemonConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// A node with the contracts deployed (by `//Alice`, the treasury) and an IPFS daemon, all
/// stopped when it is dropped.
pub struct Devnet {
    /// The chain and the deployment.
    pub connection: Connection,
    /// The node (a test may kill it and start it again).
    pub node: NodeProcess,
    ipfs_shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Devnet {
    fn drop(&mut self) {
        self.ipfs_shutdown.cancel();
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
        let config = DaemonConfig::new(dir.path().join("ipfs"), ([127, 0, 0, 1], 0).into());
        let daemon = Daemon::bind(config).await.map_err(|e| DevnetError::Ipfs(e.to_string()))?;
        let ipfs = IpfsRecord { api_url: daemon.api_url(), pid: None, repo: None };
        let ipfs_shutdown = CancellationToken::new();
        tokio::spawn(daemon.run(ipfs_shutdown.clone()));
        let deployment = Deployment {
            rpc_url: node.rpc_url(),
            node: None,
            ipfs: Some(ipfs),
            contracts,
            workers: Vec::new(),
            clock: None,
        };
        Ok(Devnet { connection: Connection { chain, deployment }, node, ipfs_shutdown, _dir: dir })
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
