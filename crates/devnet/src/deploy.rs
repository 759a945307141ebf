//! Deploying the system's contracts in order and wiring them to each other.

use crate::{ContractArtifact, DevnetError};
use iollm_chain::deployment::DeployedContract;
use iollm_chain::dispute::DisputeClient;
use iollm_chain::market::MarketClient;
use iollm_chain::registry::RegistryClient;
use iollm_chain::splitter::SplitterClient;
use iollm_chain::{Chain, Signer};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A contract of the system and how to construct it, in deployment order.
pub struct ContractSpec {
    /// Its name (the package name in `contracts/`).
    pub name: &'static str,
    /// Its constructor input, given the contracts deployed before it and the deployer (who
    /// becomes admin and, on a devnet, the treasury).
    pub constructor: fn(&BTreeMap<String, DeployedContract>, [u8; 32]) -> Vec<u8>,
}

/// The address bytes of an already deployed contract (the deployer's when not deployed yet).
fn address_of(deployed: &BTreeMap<String, DeployedContract>, name: &str, or: [u8; 32]) -> [u8; 32] {
    deployed.get(name).map(|c| c.address.0).unwrap_or(or)
}

/// Every contract `devnet up` deploys, in order. The market is deployed before the splitter
/// names it, so [`wire_contracts`] then points the market at the splitter and the registry at
/// the market.
pub const CONTRACTS: &[ContractSpec] = &[
    ContractSpec { name: "registry", constructor: |_, _| RegistryClient::constructor() },
    ContractSpec {
        name: "market",
        constructor: |_, admin| {
            MarketClient::constructor(admin, &iollm_types::market::MarketParams::DEVNET)
        },
    },
    // The market opens and closes its games.
    ContractSpec {
        name: "dispute",
        constructor: |d, admin| DisputeClient::constructor(address_of(d, "market", admin)),
    },
    ContractSpec {
        name: "splitter",
        constructor: |d, admin| {
            SplitterClient::constructor(
                address_of(d, "registry", admin),
                address_of(d, "market", admin),
                admin,
            )
        },
    },
];

/// Connects the deployed contracts to each other, once: `market.wire_splitter(splitter)`,
/// `market.wire_dispute(dispute)` and
/// `registry.set_market(market)`, signed by the admin (the treasury on a devnet). Later changes
/// go through each contract's timelock.
pub async fn wire_contracts(
    chain: &Chain,
    admin: &Signer,
    deployed: &BTreeMap<String, DeployedContract>,
) -> Result<(), DevnetError> {
    let me = admin.account_bytes();
    let market = address_of(deployed, "market", me);
    let splitter = address_of(deployed, "splitter", me);
    let market_client = MarketClient::new(chain.clone(), market);
    market_client.wire_splitter(admin, splitter).await?;
    if deployed.contains_key("dispute") {
        market_client.wire_dispute(admin, address_of(deployed, "dispute", me)).await?;
    }
    if let Some(registry) = deployed.get("registry") {
        RegistryClient::new(chain.clone(), registry.address.clone())
            .set_market(admin, market)
            .await?;
    }
    Ok(())
}

/// Deploys the built `artifacts` with `signer`, in [`CONTRACTS`] order.
pub async fn deploy_contracts(
    chain: &Chain,
    signer: &Signer,
    artifacts: &BTreeMap<String, ContractArtifact>,
) -> Result<BTreeMap<String, DeployedContract>, DevnetError> {
    let mut deployed = BTreeMap::new();
    let salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().to_le_bytes().to_vec())
        .unwrap_or_default();
    for spec in CONTRACTS {
        let artifact = artifacts.get(spec.name).ok_or_else(|| DevnetError::ContractBuild {
            contract: spec.name.into(),
            log: PathBuf::from("(not built)"),
        })?;
        let code = std::fs::read(&artifact.wasm)?;
        let input = (spec.constructor)(&deployed, signer.account_bytes());
        let contract = chain.instantiate_with_code(signer, code, input, salt.clone()).await?;
        tracing::info!(target: "devnet::deploy", contract = spec.name, address = %contract.address, "Deployed");
        deployed.insert(
            spec.name.to_owned(),
            DeployedContract {
                address: contract.address.clone(),
                code_hash: format!("0x{}", hex::encode(contract.code_hash)),
            },
        );
    }
    wire_contracts(chain, signer, &deployed).await?;
    Ok(deployed)
}
