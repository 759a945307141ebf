//! The connection to a node.

use crate::send::{SendObserver, SendPolicy, Senders};
use crate::{ChainError, NodeConfig};
use std::sync::Arc;
use std::time::Duration;
use subxt::backend::legacy::LegacyRpcMethods;
use subxt::backend::rpc::reconnecting_rpc_client::{ExponentialBackoff, RpcClient as Reconnecting};
use subxt::backend::rpc::RpcClient;
use subxt::OnlineClient;

/// How long [`Chain::connect`] waits for a node before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The longest wait between two attempts to reconnect to a node that went away.
const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(2);

/// A connected node: a subxt client plus the URL it was reached at. Cheap to clone; clones
/// share the connection and the task that sends each account's transactions ([`crate::send`]).
/// The connection comes back by itself after the node restarts: calls made while it is down
/// fail, and a transaction being sent waits it out.
#[derive(Clone)]
pub struct Chain {
    pub(crate) api: OnlineClient<NodeConfig>,
    /// The same connection's plain RPC methods (block hashes by number, the finalized head).
    pub(crate) rpc: LegacyRpcMethods<NodeConfig>,
    pub(crate) senders: Arc<Senders>,
    pub(crate) policy: SendPolicy,
    /// Told of every transaction this handle sends (metrics).
    pub(crate) observer: Option<SendObserver>,
    url: String,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("url", &self.url).finish()
    }
}

impl Chain {
    /// The hash of the chain's genesis block: which chain this is (a devnet started again is
    /// another chain).
    pub fn genesis_hash(&self) -> [u8; 32] {
        self.api.genesis_hash().0
    }

    /// Connects to the node at `url` (`ws://`; loopback URLs need no TLS).
    pub async fn connect(url: &str) -> Result<Chain, ChainError> {
        let unreachable =
            |reason: String| ChainError::NodeUnreachable { url: url.to_owned(), reason };
        let connect = async {
            // A node that is not there is reported at once: the reconnecting client would
            // wait for it.
            drop(RpcClient::from_insecure_url(url).await?);
            let backoff = ExponentialBackoff::from_millis(50).max_delay(RECONNECT_MAX_DELAY);
            let reconnecting = Reconnecting::builder().retry_policy(backoff).build(url).await;
            let rpc = RpcClient::new(reconnecting.map_err(|e| subxt::Error::Other(e.to_string()))?);
            let api = OnlineClient::from_rpc_client(rpc.clone()).await?;
            Ok::<_, subxt::Error>((api, LegacyRpcMethods::new(rpc)))
        };
        let (api, rpc) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| unreachable(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs())))?
            .map_err(|e| unreachable(e.to_string()))?;
        tracing::debug!(target: "chain::client", url, "Connected");
        let senders = Arc::default();
        let policy = SendPolicy::default();
        Ok(Chain { api, rpc, senders, policy, observer: None, url: url.to_owned() })
    }

    /// This connection, sending transactions by `policy` (for accounts that have not sent
    /// through it yet).
    pub fn with_send_policy(mut self, policy: SendPolicy) -> Chain {
        self.policy = policy;
        self
    }

    /// This connection, telling `observer` how each transaction it sends ended (a worker's
    /// metrics). Clones made after this share it.
    pub fn with_send_observer(mut self, observer: SendObserver) -> Chain {
        self.observer = Some(observer);
        self
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

    /// The free balance of `account`.
    pub async fn free_balance(&self, account: &crate::AccountId) -> Result<u128, ChainError> {
        let query = crate::node::storage().system().account(account.clone());
        let info = self.api.storage().at_latest().await?.fetch(&query).await?;
        Ok(info.map(|i| i.data.free).unwrap_or(0))
    }
}
