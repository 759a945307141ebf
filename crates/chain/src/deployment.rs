//! The deployment record (`deployments/devnet.json`): where the node answers, the processes a
//! devnet started (node, IPFS daemon, workers), and each contract's address and code hash; and a [`Connection`] — a chain
//! plus the deployment it was resolved from, with one typed client per contract.
//!
//! What it is not: it resolves no flags or environment (the CLI's context does) and starts
//! nothing (the devnet does).

use crate::contract::ContractEvent;
use crate::dispute::DisputeClient;
use crate::market::MarketClient;
use crate::registry::RegistryClient;
use crate::splitter::SplitterClient;
use crate::{AccountId, Chain, ChainError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The node a devnet runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Its PID.
    pub pid: u32,
    /// Its base path.
    pub base_path: PathBuf,
    /// Its log.
    pub log: PathBuf,
}

/// The IPFS node a devnet uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpfsRecord {
    /// Its Kubo RPC API URL.
    pub api_url: String,
    /// Its PID when the devnet started it (`None`: an external node from `IOLLM_IPFS_API`).
    pub pid: Option<u32>,
    /// Its repo when the devnet started it.
    pub repo: Option<PathBuf>,
}

/// A worker daemon a devnet started (`iollm devnet up --workers N`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRecord {
    /// The dev account it signs as (`charlie`).
    pub account: String,
    /// `executor` or `verifier`.
    pub role: String,
    /// Its PID.
    pub pid: u32,
    /// Its `worker.toml`.
    pub config: PathBuf,
    /// Its log.
    pub log: PathBuf,
    /// Where it serves Prometheus `/metrics`.
    pub metrics: String,
}

/// The devnet's block clock (`iollm devnet clock`): the dev node seals a block only for a
/// transaction, so this sends one every `every_ms`, as a real chain's block time would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockRecord {
    /// Its PID.
    pub pid: u32,
    /// Milliseconds between its blocks.
    pub every_ms: u64,
    /// Its log.
    pub log: PathBuf,
}

/// One deployed contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedContract {
    /// Its account (SS58 in the file).
    pub address: AccountId,
    /// Code hash, `0x`-hex.
    pub code_hash: String,
}

/// `deployments/devnet.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// The node's RPC URL.
    pub rpc_url: String,
    /// The node process, when this devnet was started by `iollm devnet up`.
    pub node: Option<NodeRecord>,
    /// The IPFS node content goes to.
    #[serde(default)]
    pub ipfs: Option<IpfsRecord>,
    /// Contracts by name.
    pub contracts: BTreeMap<String, DeployedContract>,
    /// Worker daemons the devnet started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<WorkerRecord>,
    /// The block clock the devnet started (with its workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockRecord>,
}

impl Deployment {
    /// Reads a deployment file.
    pub fn load(path: &Path) -> Result<Deployment, ChainError> {
        let bad = |reason: String| ChainError::BadDeployment { path: path.to_owned(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| bad(e.to_string()))
    }

    /// Writes it atomically (temp file + rename).
    pub fn save(&self, path: &Path) -> Result<(), ChainError> {
        let bad = |e: std::io::Error| ChainError::BadDeployment {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(bad)?;
        }
        let partial = path.with_extension("json.partial");
        let json =
            serde_json::to_string_pretty(self).map_err(std::io::Error::other).map_err(bad)?;
        std::fs::write(&partial, json + "\n").map_err(bad)?;
        std::fs::rename(&partial, path).map_err(bad)
    }

    /// The address of the contract named `name`.
    pub fn address(&self, name: &str) -> Result<AccountId, ChainError> {
        self.contracts.get(name).map(|c| c.address.clone()).ok_or_else(|| {
            ChainError::BadDeployment {
                path: PathBuf::from("deployments/devnet.json"),
                reason: format!("no {name} contract recorded"),
            }
        })
    }
}

/// A contract event decoded as the event of the contract of the deployment that emitted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// The market's.
    Market(iollm_types::market::events::Event),
    /// The registry's.
    Registry(iollm_types::registry::events::Event),
    /// The splitter's.
    Splitter(iollm_types::splitter::events::Event),
    /// The dispute contract's.
    Dispute(iollm_types::dispute::events::Event),
}

impl Deployment {
    /// `event` decoded by the contract of this deployment that emitted it: `None` for another
    /// contract's, or a topic its contract's events do not have; an error for data that does
    /// not decode as the event its topic names.
    pub fn decode(&self, event: &ContractEvent) -> Option<Result<Decoded, ChainError>> {
        use iollm_types::{dispute, market, registry, splitter};
        let name = self.contracts.iter().find(|(_, c)| c.address == event.contract)?.0;
        let topic = event.topics.first()?;
        let data = &event.data[..];
        let decoded = match name.as_str() {
            "market" => market::events::Event::decode(topic, data)?.map(Decoded::Market),
            "registry" => registry::events::Event::decode(topic, data)?.map(Decoded::Registry),
            "splitter" => splitter::events::Event::decode(topic, data)?.map(Decoded::Splitter),
            "dispute" => dispute::events::Event::decode(topic, data)?.map(Decoded::Dispute),
            _ => return None,
        };
        Some(
            decoded.map_err(|e| ChainError::UndecodableOutput {
                what: "event",
                reason: e.to_string(),
            }),
        )
    }
}

/// A connected chain plus the deployment it was resolved from.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The chain.
    pub chain: Chain,
    /// Contract addresses.
    pub deployment: Deployment,
}

impl Connection {
    /// Connects to the deployment's node (or `rpc`, when given).
    pub async fn open(deployment: Deployment, rpc: Option<&str>) -> Result<Connection, ChainError> {
        let chain = Chain::connect(rpc.unwrap_or(&deployment.rpc_url)).await?;
        Ok(Connection { chain, deployment })
    }

    /// The registry client.
    pub fn registry(&self) -> Result<RegistryClient, ChainError> {
        Ok(RegistryClient::new(self.chain.clone(), self.deployment.address("registry")?))
    }

    /// The market client.
    pub fn market(&self) -> Result<MarketClient, ChainError> {
        Ok(MarketClient::new(self.chain.clone(), self.deployment.address("market")?))
    }

    /// The dispute contract's client.
    pub fn dispute(&self) -> Result<DisputeClient, ChainError> {
        Ok(DisputeClient::new(self.chain.clone(), self.deployment.address("dispute")?))
    }

    /// The splitter client.
    pub fn splitter(&self) -> Result<SplitterClient, ChainError> {
        Ok(SplitterClient::new(self.chain.clone(), self.deployment.address("splitter")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file keeps addresses as SS58 text and reads them back as typed accounts; a bad
    /// address or a missing contract is one clear error.
    #[test]
    fn deployment_files_round_trip_with_typed_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deployments/devnet.json");
        let alice = crate::Signer::dev("alice").unwrap().account();
        let mut contracts = BTreeMap::new();
        contracts.insert(
            "market".to_owned(),
            DeployedContract { address: alice.clone(), code_hash: "0x00".into() },
        );
        let d = Deployment {
            rpc_url: "ws://127.0.0.1:1".into(),
            node: None,
            ipfs: None,
            contracts,
            workers: Vec::new(),
            clock: None,
        };
        d.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"), "{text}");
        assert_eq!(Deployment::load(&path).unwrap(), d);
        assert_eq!(d.address("market").unwrap(), alice);
        assert!(d.address("registry").unwrap_err().to_string().contains("no registry contract"));
        std::fs::write(&path, text.replace("5GrwvaEF", "5XXXXXXX")).unwrap();
        let e = Deployment::load(&path).unwrap_err().to_string();
        assert!(e.starts_with("cannot read the deployment file"), "{e}");
    }
}
