//! Typed client of the registry contract.

use crate::contract::{decode_output, DryRun, Executed};
use crate::{AccountId, Chain, ChainError, Signer};
use iollm_types::market::JobId;
use iollm_types::registry::{calls, events, selectors, Artifact, ArtifactId, Error, Kind, Parent};
use iollm_types::split::SplitRule;
use parity_scale_codec::Encode;

/// The registry contract at a known address.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    chain: Chain,
    address: AccountId,
}

/// A finalized registration.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The new artifact's id.
    pub id: ArtifactId,
    /// The decoded `Registered` event.
    pub event: events::Registered,
    /// The call, with its dry-run measurements and fee.
    pub call: Executed<ArtifactId>,
}

fn input(selector: [u8; 4], args: impl Encode) -> Vec<u8> {
    let mut input = selector.to_vec();
    args.encode_to(&mut input);
    input
}

impl RegistryClient {
    /// The registry at `address` on `chain`.
    pub fn new(chain: Chain, address: impl Into<AccountId>) -> RegistryClient {
        RegistryClient { chain, address: address.into() }
    }

    /// Constructor input for deploying a registry.
    pub fn constructor() -> Vec<u8> {
        selectors::NEW.to_vec()
    }

    /// Registers an artifact owned by `signer`'s account, derived from `parents`, with the
    /// split rule its revenue starts with.
    pub async fn register(
        &self,
        signer: &Signer,
        kind: Kind,
        manifest_cid: &str,
        parents: &[Parent],
        rule: SplitRule,
    ) -> Result<Registration, ChainError> {
        let input = calls::register(kind, manifest_cid.as_bytes(), parents, rule);
        self.registration(signer, input).await
    }

    /// Dry-runs a registration (nothing is submitted): what it would cost. A registration the
    /// contract would refuse is an error, as with [`RegistryClient::register`].
    pub async fn register_dry_run(
        &self,
        origin: &AccountId,
        kind: Kind,
        manifest_cid: &str,
        parents: &[Parent],
        rule: SplitRule,
    ) -> Result<DryRun, ChainError> {
        let input = calls::register(kind, manifest_cid.as_bytes(), parents, rule);
        let dry_run = self.chain.dry_run_call(origin, &self.address, 0, input).await?;
        decode_output::<Result<ArtifactId, Error>>(&dry_run.output, "artifact id")?.map_err(
            |e| ChainError::ContractRefused { contract: "registry", message: e.message().into() },
        )?;
        Ok(dry_run)
    }

    /// Registers the verified output of market job `job` (the signer must have posted it).
    pub async fn register_from_job(
        &self,
        signer: &Signer,
        job: JobId,
        kind: Kind,
        manifest_cid: &str,
        parents: &[Parent],
        rule: SplitRule,
    ) -> Result<Registration, ChainError> {
        let input = calls::register_from_job(job, kind, manifest_cid.as_bytes(), parents, rule);
        self.registration(signer, input).await
    }

    /// Registers a new version of `id`.
    pub async fn new_version(
        &self,
        signer: &Signer,
        id: ArtifactId,
        manifest_cid: &str,
    ) -> Result<Registration, ChainError> {
        self.registration(signer, calls::new_version(id, manifest_cid.as_bytes())).await
    }

    async fn registration(
        &self,
        signer: &Signer,
        input: Vec<u8>,
    ) -> Result<Registration, ChainError> {
        let call = self
            .chain
            .execute::<ArtifactId, Error>(signer, &self.address, 0, input, "artifact id")
            .await?;
        // The id the executed call registered (another registration may have taken the one
        // the dry-run predicted).
        let event: events::Registered = call.event(events::REGISTERED_TOPIC, "Registered")?;
        let call =
            call.from_event(events::REGISTERED_TOPIC, "Registered", |e: events::Registered| e.id)?;
        Ok(Registration { id: event.id, event, call })
    }

    /// Gives `id` to `to`.
    pub async fn transfer(
        &self,
        signer: &Signer,
        id: ArtifactId,
        to: [u8; 32],
    ) -> Result<Executed<()>, ChainError> {
        self.chain
            .execute::<(), Error>(signer, &self.address, 0, calls::transfer(id, to), "()")
            .await
    }

    /// Deprecates `id`.
    pub async fn deprecate(
        &self,
        signer: &Signer,
        id: ArtifactId,
    ) -> Result<Executed<()>, ChainError> {
        self.chain.execute::<(), Error>(signer, &self.address, 0, calls::deprecate(id), "()").await
    }

    /// Admin: sets the market asked about provenance.
    pub async fn set_market(
        &self,
        signer: &Signer,
        market: [u8; 32],
    ) -> Result<Executed<()>, ChainError> {
        self.chain
            .execute::<(), Error>(signer, &self.address, 0, calls::set_market(market), "()")
            .await
    }

    /// The artifact with this id, if any.
    pub async fn get(&self, id: ArtifactId) -> Result<Option<Artifact>, ChainError> {
        self.chain.query(&self.address, input(selectors::GET, id), "artifact").await
    }

    /// How many artifacts are registered.
    pub async fn count(&self) -> Result<u64, ChainError> {
        self.chain.query(&self.address, input(selectors::COUNT, ()), "count").await
    }

    /// The first artifact registered with the content `cid` (a CID text, in either form)
    /// names, if any: the one a job from that content as its base model fine-tunes.
    pub async fn first_with(&self, cid: &str) -> Result<Option<ArtifactId>, ChainError> {
        let input = input(selectors::FIRST_WITH, cid.as_bytes().to_vec());
        self.chain.query(&self.address, input, "artifact id").await
    }
}
