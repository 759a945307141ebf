//! Resolves where the chain and the contracts are, and who signs: flag > environment >
//! deployment file, in this one place.

use crate::args::Cli;
use crate::devnet::{Deployment, DevnetError, Paths};
use iollm_chain::dispute::DisputeClient;
use iollm_chain::market::MarketClient;
use iollm_chain::registry::RegistryClient;
use iollm_chain::splitter::SplitterClient;
use iollm_chain::{Chain, Signer};
use std::path::PathBuf;

/// A connected chain plus the deployment it was resolved from.
#[derive(Debug, Clone)]
pub struct Context {
    /// The chain.
    pub chain: Chain,
    /// Contract addresses.
    pub deployment: Deployment,
    key_file: Option<PathBuf>,
}

impl Context {
    /// Connects as the command line says.
    pub async fn from_cli(cli: &Cli) -> Result<Context, DevnetError> {
        let file = match &cli.deployments {
            Some(file) => file.clone(),
            None => Paths::discover(&std::env::current_dir()?)?.deployment_file(),
        };
        if !file.exists() {
            return Err(DevnetError::BadDeployment {
                path: file,
                reason: "no such file; start a devnet with `iollm devnet up`".into(),
            });
        }
        let deployment = Deployment::load(&file)?;
        let url = cli.rpc.clone().unwrap_or_else(|| deployment.rpc_url.clone());
        let chain = Chain::connect(&url).await?;
        Ok(Context { chain, deployment, key_file: cli.key_file.clone() })
    }

    /// A context on an already connected chain (tests, in-process devnets).
    pub fn new(chain: Chain, deployment: Deployment) -> Context {
        Context { chain, deployment, key_file: None }
    }

    /// The signer: `--key-file`, else `IOLLM_SURI`.
    pub fn signer(&self) -> Result<Signer, DevnetError> {
        Ok(Signer::from_env_or_file(self.key_file.as_deref())?)
    }

    /// The registry client.
    pub fn registry(&self) -> Result<RegistryClient, DevnetError> {
        let address = self.deployment.contract("registry")?.account()?;
        Ok(RegistryClient::new(self.chain.clone(), address))
    }

    /// The market client.
    pub fn market(&self) -> Result<MarketClient, DevnetError> {
        let address = self.deployment.contract("market")?.account()?;
        Ok(MarketClient::new(self.chain.clone(), address))
    }

    /// The dispute contract's client.
    pub fn dispute(&self) -> Result<DisputeClient, DevnetError> {
        let address = self.deployment.contract("dispute")?.account()?;
        Ok(DisputeClient::new(self.chain.clone(), address))
    }

    /// The splitter client.
    pub fn splitter(&self) -> Result<SplitterClient, DevnetError> {
        let address = self.deployment.contract("splitter")?.account()?;
        Ok(SplitterClient::new(self.chain.clone(), address))
    }
}
