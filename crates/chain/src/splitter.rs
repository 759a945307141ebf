//! Typed client of the splitter contract.

use crate::contract::{proposed_eta, Executed};
use crate::{AccountId, Chain, ChainError, Signer};
use iollm_types::registry::ArtifactId;
use iollm_types::split::SplitRule;
use iollm_types::splitter::{calls, Change, Entry, Error};
use iollm_types::{Balance, BlockNumber};
use parity_scale_codec::Decode;

/// The splitter contract at a known address.
#[derive(Debug, Clone)]
pub struct SplitterClient {
    chain: Chain,
    address: AccountId,
}

impl SplitterClient {
    /// The splitter at `address` on `chain`.
    pub fn new(chain: Chain, address: impl Into<AccountId>) -> SplitterClient {
        SplitterClient { chain, address: address.into() }
    }

    /// Constructor input: `new(registry, market, treasury)`.
    pub fn constructor(registry: [u8; 32], market: [u8; 32], treasury: [u8; 32]) -> Vec<u8> {
        calls::new(registry, market, treasury)
    }

    async fn exec<T: Decode>(
        &self,
        signer: &Signer,
        value: Balance,
        input: Vec<u8>,
        what: &'static str,
    ) -> Result<Executed<T>, ChainError> {
        self.chain.execute::<T, Error>(signer, &self.address, value, input, what).await
    }

    /// Sets `artifact`'s split rule (the signer must own it in the registry).
    pub async fn set_rule(
        &self,
        signer: &Signer,
        artifact: ArtifactId,
        rule: SplitRule,
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::set_rule(artifact, rule), "()").await
    }

    /// Pays `amount` of revenue to `artifact`.
    pub async fn pay_revenue(
        &self,
        signer: &Signer,
        artifact: ArtifactId,
        amount: Balance,
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, amount, calls::pay_revenue(artifact), "()").await
    }

    /// Pays out the signer's balance plus its share revenue of `artifact`.
    pub async fn withdraw(
        &self,
        signer: &Signer,
        artifact: Option<ArtifactId>,
    ) -> Result<Executed<Balance>, ChainError> {
        self.exec(signer, 0, calls::withdraw(artifact), "amount").await
    }

    /// Puts an announced rule (one lowering the upstream share) in force after its timelock.
    pub async fn apply_rule(
        &self,
        signer: &Signer,
        artifact: ArtifactId,
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::apply_rule(artifact), "()").await
    }

    /// The owner of `artifact` lets `delegate` post jobs that credit share units of it.
    pub async fn authorise(
        &self,
        signer: &Signer,
        artifact: ArtifactId,
        delegate: [u8; 32],
        allowed: bool,
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::authorise(artifact, delegate, allowed), "()").await
    }

    /// Whether a job posted by `poster` may credit share units of `artifact`.
    pub async fn may_credit(
        &self,
        artifact: ArtifactId,
        poster: [u8; 32],
    ) -> Result<bool, ChainError> {
        self.chain.query(&self.address, calls::may_credit(artifact, poster), "bool").await
    }

    /// Admin: announces a change; returns the block from which it can be applied.
    pub async fn propose_change(
        &self,
        signer: &Signer,
        change: &Change,
    ) -> Result<Executed<BlockNumber>, ChainError> {
        let call = self.exec(signer, 0, calls::propose_change(change), "block number").await?;
        proposed_eta::<Change>(call)
    }

    /// `account`'s balance plus its share revenue of `artifact`.
    pub async fn balance_of(
        &self,
        account: [u8; 32],
        artifact: Option<ArtifactId>,
    ) -> Result<Balance, ChainError> {
        self.chain.query(&self.address, calls::balance_of(account, artifact), "balance").await
    }

    /// `artifact`'s entry.
    pub async fn entry(&self, artifact: ArtifactId) -> Result<Option<Entry>, ChainError> {
        self.chain.query(&self.address, calls::entry(artifact), "entry").await
    }

    /// `account`'s share units of `artifact`.
    pub async fn units_of(
        &self,
        artifact: ArtifactId,
        account: [u8; 32],
    ) -> Result<Balance, ChainError> {
        self.chain.query(&self.address, calls::units_of(artifact, account), "units").await
    }

    /// Revenue queued for `artifact` by its children.
    pub async fn inbox_of(&self, artifact: ArtifactId) -> Result<Balance, ChainError> {
        self.chain.query(&self.address, calls::inbox_of(artifact), "inbox").await
    }
}
