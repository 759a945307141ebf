//! Typed client of the splitter contract.

use crate::contract::Executed;
use crate::{AccountId, Chain, ChainError, Signer};
use iollm_types::registry::ArtifactId;
use iollm_types::split::SplitRule;
use iollm_types::splitter::{calls, Entry, Error};
use iollm_types::Balance;
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

    /// Admin: sets the registry, market and treasury.
    pub async fn set_params(
        &self,
        signer: &Signer,
        registry: [u8; 32],
        market: [u8; 32],
        treasury: [u8; 32],
    ) -> Result<Executed<()>, ChainError> {
        self.exec(signer, 0, calls::set_params(registry, market, treasury), "()").await
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
