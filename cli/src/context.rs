//! Where the chain, the contracts and IPFS are, and who signs, from the resolved settings
//! ([`crate::settings`]) over the deployment file. The result is an [`iollm_chain::Connection`].

use crate::args::Cli;
use iollm_chain::deployment::{Deployment, IpfsRecord};
use iollm_chain::ChainError;
use iollm_chain::{Connection, Signer};
use iollm_devnet::DevnetError;

/// Connects as the settings say: their deployment file (default: the checkout's
/// `deployments/devnet.json`), their RPC URL and IPFS API over the file's.
pub async fn connect(cli: &Cli) -> Result<Connection, DevnetError> {
    let settings = &cli.resolved;
    let file = match &settings.deployments {
        Some(file) => file.clone(),
        None => settings.devnet_paths(&std::env::current_dir()?)?.deployment_file(),
    };
    if !file.exists() {
        return Err(DevnetError::BadDeployment {
            path: file,
            reason: "no such file; start a devnet with `iollm devnet up`".into(),
        });
    }
    let mut deployment = Deployment::load(&file)?;
    if let Some(api_url) = &settings.ipfs_api {
        deployment.ipfs = Some(IpfsRecord { api_url: api_url.clone(), pid: None, repo: None });
    }
    Ok(Connection::open(deployment, settings.rpc.as_deref()).await?)
}

/// The signer: the settings' key file, else their secret URI.
pub fn signer(cli: &Cli) -> Result<Signer, DevnetError> {
    let settings = &cli.resolved;
    let signer = match (&settings.key_file, &settings.suri) {
        (Some(file), _) => Signer::from_key_file(file),
        (None, Some(suri)) => Signer::from_suri(suri),
        (None, None) => Err(ChainError::NoKey),
    };
    Ok(signer?)
}
