//! The connection to a node.

use crate::{ChainError, NodeConfig};
use std::time::Duration;
use subxt::backend::legacy::LegacyRpcMethods;
use subxt::backend::rpc::RpcClient;
use subxt::OnlineClient;

/// How long [`Chain::connect`] waits for a node before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A connected node: a subxt client plus the URL it was reached at. Cheap to clone.
#[derive(Clone)]
pub struct Chain {
    pub(crate) api: OnlineClient<NodeConfig>,
    /// The same connection's plain RPC methods (block hashes by number, the finalized head).
    pub(crate) rpc: LegacyRpcMethods<NodeConfig>,
    url: String,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("url", &self.url).finish()
    }
}

impl Chain {
    /// Connects to the node at `url` (`ws://` or `http://`; loopback URLs need no TLS).
    pub async fn connect(url: &str) -> Result<Chain, ChainError> {
        let unreachable =
            |reason: String| ChainError::NodeUnreachable { url: url.to_owned(), reason };
        let connect = async {
            let rpc = RpcClient::from_insecure_url(url).await?;
            let api = OnlineClient::from_rpc_client(rpc.clone()).await?;
            Ok::<_, subxt::Error>((api, LegacyRpcMethods::new(rpc)))
        };
        let (api, rpc) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| unreachable(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs())))?
            .map_err(|e| unreachable(e.to_string()))?;
        tracing::debug!(target: "chain::client", url, "Connected");
        Ok(Chain { api, rpc, url: url.to_owned() })
    }

    /// The URL this client is connected to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The underlying subxt client, for calls this crate has no wrapper for yet.
    pub fn api(&self) -> &OnlineClient<NodeConfig> {
        &self.api
    }

    /// The number of the latest block.
    pub async fn best_block(&self) -> Result<u32, ChainError> {
        Ok(self.api.blocks().at_latest().await?.number())
    }

    /// The number of the block `included` names, if that block holds its transaction: how a
    /// caller that recorded a transaction (a worker restarting, say) learns it landed.
    pub async fn holds(
        &self,
        included: &crate::contract::Included,
    ) -> Result<Option<u32>, ChainError> {
        let block = self.api.blocks().at(subxt::utils::H256(included.block_hash)).await?;
        let extrinsics = block.extrinsics().await?;
        let found = extrinsics.iter().any(|x| x.hash().0 == included.tx_hash);
        Ok(found.then_some(block.number()))
    }

    /// The free balance of `account`.
    pub async fn free_balance(&self, account: &crate::AccountId) -> Result<u128, ChainError> {
        let query = crate::node::storage().system().account(account.clone());
        let info = self.api.storage().at_latest().await?.fetch(&query).await?;
        Ok(info.map(|i| i.data.free).unwrap_or(0))
    }
}
