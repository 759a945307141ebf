//! Resolves where the chain and the contracts are, and who signs: flag > environment >
//! deployment file, in this one place. The result is an [`iollm_chain::Connection`].

use crate::args::Cli;
use crate::devnet::{DevnetError, Paths};
use iollm_chain::deployment::Deployment;
use iollm_chain::{Connection, Signer};

/// Connects as the command line says: `--deployments` (default: the checkout's
/// `deployments/devnet.json`), `--rpc` over the file's node.
pub async fn connect(cli: &Cli) -> Result<Connection, DevnetError> {
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
    Ok(Connection::open(deployment, cli.rpc.as_deref()).await?)
}

/// The signer: `--key-file`, else `IOLLM_SURI`.
pub fn signer(cli: &Cli) -> Result<Signer, DevnetError> {
    Ok(Signer::from_env_or_file(cli.key_file.as_deref())?)
}
