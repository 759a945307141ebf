//! Following the chain: finalized blocks in order, each with the contract events it holds,
//! typed by the `Event` enum of the contract that emitted it (`iollm_types::market::events`,
//! `registry`, `splitter`, `dispute`: a signature topic alone does not name the contract). A
//! follower starts
//! at any block (the first after the last one its owner handled, after a restart), catches up
//! on the blocks already finalized, then waits for each new one: every finalized block exactly
//! once, none skipped, whatever the node's finality notifications skip.

use crate::contract::ContractEvent;
use crate::{node, Chain, ChainError};
use std::time::Duration;

/// A finalized block and the contract events it holds, in the order they were emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalizedBlock {
    /// Its number.
    pub number: u32,
    /// Its hash.
    pub hash: [u8; 32],
    /// Its contracts' events.
    pub events: Vec<ContractEvent>,
}

impl FinalizedBlock {
    /// Its events that `deployment`'s contracts emitted, each decoded by the contract that
    /// emitted it ([`crate::Deployment::decode`]), in order.
    pub fn decoded<'a>(
        &'a self,
        deployment: &'a crate::Deployment,
    ) -> impl Iterator<Item = Result<crate::Decoded, ChainError>> + 'a {
        self.events.iter().filter_map(|e| deployment.decode(e))
    }
}

/// The contract event a block event is, if it is one.
pub(crate) fn contract_event(
    event: &subxt::events::EventDetails<crate::NodeConfig>,
) -> Result<Option<ContractEvent>, ChainError> {
    Ok(event.as_event::<node::contracts::events::ContractEmitted>()?.map(|emitted| ContractEvent {
        contract: emitted.contract,
        topics: event.topics().iter().map(|t| t.0).collect(),
        data: emitted.data,
    }))
}

impl Chain {
    /// The number of the latest finalized block.
    pub async fn finalized_head(&self) -> Result<u32, ChainError> {
        let hash = self.rpc.chain_get_finalized_head().await.map_err(subxt::Error::from)?;
        Ok(self.api.blocks().at(hash).await?.number())
    }

    /// The hash of block `number`, once it is finalized (`None` before): where a backfill
    /// starts from.
    pub async fn block_hash(&self, number: u32) -> Result<Option<[u8; 32]>, ChainError> {
        if number > self.finalized_head().await? {
            return Ok(None);
        }
        let asked = self.rpc.chain_get_block_hash(Some(number.into())).await;
        Ok(asked.map_err(subxt::Error::from)?.map(|hash| hash.0))
    }

    /// Block `number` with its contract events, once it is finalized (`None` before).
    pub async fn finalized_block(&self, number: u32) -> Result<Option<FinalizedBlock>, ChainError> {
        let Some(hash) = self.block_hash(number).await? else { return Ok(None) };
        let hash = subxt::utils::H256(hash);
        let events = self.api.blocks().at(hash).await?.events().await?;
        let mut found = Vec::new();
        for event in events.iter() {
            if let Some(e) = contract_event(&event?)? {
                found.push(e);
            }
        }
        Ok(Some(FinalizedBlock { number, hash: hash.0, events: found }))
    }

    /// A follower of the finalized chain from block `from` on, asking the node every `poll`
    /// while it waits for the next block.
    pub fn follow_finalized(&self, from: u32, poll: Duration) -> Follower {
        Follower { chain: self.clone(), next: from, poll }
    }
}

/// Finalized blocks in order ([`Chain::follow_finalized`]).
#[derive(Debug, Clone)]
pub struct Follower {
    chain: Chain,
    next: u32,
    poll: Duration,
}

impl Follower {
    /// The next finalized block: at once if it is already finalized, else when it is. While
    /// the node is away it waits (the connection comes back by itself); an error leaves the
    /// follower where it was: call again to retry.
    pub async fn next(&mut self) -> Result<FinalizedBlock, ChainError> {
        loop {
            if let Some(block) = self.chain.finalized_block(self.next).await? {
                self.next += 1;
                return Ok(block);
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// The number of the block [`Follower::next`] returns next.
    pub fn position(&self) -> u32 {
        self.next
    }
}
