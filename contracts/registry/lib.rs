//! The iollm registry: every model, dataset and path gets an id, an owner and a manifest CID,
//! with its lineage (parents and how it derives from them), versions and provenance.
//!
//! Records and events use the shared types of `iollm-types`, so off-chain code decodes them with
//! the same definitions. Unbounded data never enters storage: CIDs are shape-checked and bounded,
//! parents are at most [`MAX_PARENTS`](iollm_types::splitter::MAX_PARENTS), records live in a
//! `Mapping` keyed by a counter. `register_from_job` asks the market whether the job is a
//! finalized, verified training job with an output equal to the manifest CID registered, and
//! records it only under a lineage that includes the artifact the job worked for (provenance).
//! The market is wired once; later changes of it, and code upgrades, wait the market's timelock.
#![cfg_attr(not(feature = "std"), no_std, no_main)]
// The ink! linter (scripts/ink-lint.sh): ids are topics on purpose, so that a wallet or indexer
// can follow one job, bounty or artifact (as ERC-721 indexes a token id); they are not amounts.
#![cfg_attr(dylint_lib = "ink_linting", allow(primitive_topic))]

#[ink::contract]
mod registry {
    use ink::prelude::vec::Vec;
    use ink::storage::traits::ManualKey;
    use ink::storage::Mapping;
    use iollm_types::admin::Admin;
    use iollm_types::cid::{content_key, CidShapeError};
    use iollm_types::market::{JobId, JobOutput};
    use iollm_types::registry::{Artifact, ArtifactId, Change, Error, Kind, Parent, Relation};
    use iollm_types::split::SplitRule;
    use iollm_types::splitter::MAX_PARENTS;
    use iollm_types::storage;

    /// Registry storage: admin, the last id handed out, the market asked about provenance, the
    /// records by id and the artifact registered from each job. Mapping keys are fixed
    /// (`ManualKey`) so that an upgrade finds the data written before it.
    /// The key of a content in [`Registry::first`]: the SHA-256 of what the CID text `cid`
    /// names (`iollm_types::cid::content_key`), of a fixed size for storage.
    fn content_of(cid: &[u8]) -> Result<[u8; 32], CidShapeError> {
        let key = content_key(cid)?;
        let mut out = [0u8; 32];
        ink::env::hash_bytes::<ink::env::hash::Sha2x256>(&key, &mut out);
        Ok(out)
    }

    #[ink(storage)]
    pub struct Registry {
        admin: Admin<Change>,
        last_id: ArtifactId,
        market: Option<AccountId>,
        artifacts: Mapping<ArtifactId, Artifact, ManualKey<0x5247_0001>>,
        by_job: Mapping<JobId, ArtifactId, ManualKey<0x5247_0002>>,
        /// The first artifact registered with each content ([`content_of`] its manifest CID):
        /// whose fine-tunes a job from that content as a base model is.
        first: Mapping<[u8; 32], ArtifactId, ManualKey<0x5247_0003>>,
    }

    /// A new artifact was registered (layout: `iollm_types::registry::events::Registered`).
    #[ink(event)]
    pub struct Registered {
        #[ink(topic)]
        id: ArtifactId,
        kind: Kind,
        #[ink(topic)]
        owner: AccountId,
        manifest_cid: Vec<u8>,
    }

    /// Layout: `iollm_types::registry::events::VersionAdded`.
    #[ink(event)]
    pub struct VersionAdded {
        #[ink(topic)]
        id: ArtifactId,
        #[ink(topic)]
        previous: ArtifactId,
        version: u32,
    }

    /// Layout: `iollm_types::registry::events::Transferred`.
    #[ink(event)]
    pub struct Transferred {
        #[ink(topic)]
        id: ArtifactId,
        from: AccountId,
        #[ink(topic)]
        to: AccountId,
    }

    /// Layout: `iollm_types::registry::events::DeprecatedSet`.
    #[ink(event)]
    pub struct DeprecatedSet {
        #[ink(topic)]
        id: ArtifactId,
    }

    /// Layout: `iollm_types::registry::events::ProvenanceRecorded`.
    #[ink(event)]
    pub struct ProvenanceRecorded {
        #[ink(topic)]
        id: ArtifactId,
        #[ink(topic)]
        job: JobId,
    }

    /// Layout: `iollm_types::admin::events::ChangeProposed`.
    #[ink(event)]
    pub struct ChangeProposed {
        change: Change,
        eta: BlockNumber,
    }

    /// Layout: `iollm_types::admin::events::ChangeApplied`.
    #[ink(event)]
    pub struct ChangeApplied {
        change: Change,
    }

    /// Layout: `iollm_types::admin::events::ChangeCancelled`.
    #[ink(event)]
    pub struct ChangeCancelled {
        change: Change,
    }

    /// Layout: `iollm_types::admin::events::AdminProposed`.
    #[ink(event)]
    pub struct AdminProposed {
        proposed: AccountId,
    }

    /// Layout: `iollm_types::admin::events::AdminChanged`.
    #[ink(event)]
    pub struct AdminChanged {
        admin: AccountId,
    }

    fn bytes(a: &AccountId) -> [u8; 32] {
        *AsRef::<[u8; 32]>::as_ref(a)
    }

    impl Default for Registry {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Registry {
        /// An empty registry whose admin is the caller, with no market configured yet.
        #[ink(constructor)]
        pub fn new() -> Self {
            Self {
                admin: Admin::new(bytes(&Self::env().caller())),
                last_id: 0,
                market: None,
                artifacts: Mapping::new(),
                by_job: Mapping::new(),
                first: Mapping::new(),
            }
        }

        /// Registers an artifact of `kind` (0 model, 1 dataset, 2 path) whose manifest is at
        /// `manifest_cid`, owned by the caller, derived from `parents` (at most 4, each
        /// registered, with how it derives from each: finetune, adapter, merge, quantize,
        /// distill), with the split rule its revenue starts with. Returns its new id.
        ///
        /// `kind` is the SCALE code of [`Kind`], taken as a byte so that an unknown kind is a
        /// readable `UnknownKind` error instead of an undecodable call.
        #[ink(message)]
        pub fn register(
            &mut self,
            kind: u8,
            manifest_cid: Vec<u8>,
            parents: Vec<Parent>,
            split_rule: SplitRule,
        ) -> Result<ArtifactId, Error> {
            self.insert_new(kind, manifest_cid, parents, split_rule, None, None)
        }

        /// Registers a new version of `id` (caller must own it): same kind, owner and parents,
        /// a new manifest, `version` one higher, `previous` pointing back.
        #[ink(message)]
        pub fn new_version(
            &mut self,
            id: ArtifactId,
            manifest_cid: Vec<u8>,
        ) -> Result<ArtifactId, Error> {
            let old = self.owned(id)?;
            if old.deprecated {
                return Err(Error::Deprecated);
            }
            let version = old.version.checked_add(1).ok_or(Error::IdOverflow)?;
            let new_id = self.insert_new(
                u8::from(old.kind),
                manifest_cid,
                old.parents,
                old.split_rule,
                Some((id, version)),
                None,
            )?;
            self.env().emit_event(VersionAdded { id: new_id, previous: id, version });
            Ok(new_id)
        }

        /// Gives `id` to `to` (caller must own it).
        #[ink(message)]
        pub fn transfer(&mut self, id: ArtifactId, to: AccountId) -> Result<(), Error> {
            let mut artifact = self.owned(id)?;
            let from = self.env().caller();
            artifact.owner = *AsRef::<[u8; 32]>::as_ref(&to);
            storage::put(&mut self.artifacts, id, &artifact)?;
            self.env().emit_event(Transferred { id, from, to });
            Ok(())
        }

        /// Marks `id` deprecated (caller must own it); it stays readable and keeps earning.
        #[ink(message)]
        pub fn deprecate(&mut self, id: ArtifactId) -> Result<(), Error> {
            let mut artifact = self.owned(id)?;
            if artifact.deprecated {
                return Err(Error::Deprecated);
            }
            artifact.deprecated = true;
            storage::put(&mut self.artifacts, id, &artifact)?;
            self.env().emit_event(DeprecatedSet { id });
            Ok(())
        }

        /// Registers the verified output of market job `job_id`: accepted only when the market
        /// says it is a finalized, verified training job, the caller posted it, its output CID
        /// is `manifest_cid`, and the artifact it worked for is among `parents`. Once per job.
        #[ink(message)]
        pub fn register_from_job(
            &mut self,
            job_id: JobId,
            kind: u8,
            manifest_cid: Vec<u8>,
            parents: Vec<Parent>,
            split_rule: SplitRule,
        ) -> Result<ArtifactId, Error> {
            if self.by_job.contains(job_id) {
                return Err(Error::JobAlreadyRegistered);
            }
            let market = self.market.ok_or(Error::NoMarket)?;
            let output = self.market_job_output(market, job_id)?.ok_or(Error::JobNotVerified)?;
            if output.poster != *AsRef::<[u8; 32]>::as_ref(&self.env().caller()) {
                return Err(Error::NotPoster);
            }
            if output.output_cid != manifest_cid {
                return Err(Error::CidMismatch);
            }
            if kind != u8::from(Kind::Model) {
                return Err(Error::NotAModel);
            }
            // Exactly a fine-tune of the job's artifact: the executor writes the output's
            // manifest, and extra parents of its choosing would take upstream revenue.
            if parents != [Parent { id: output.artifact, relation: Relation::Finetune }] {
                return Err(Error::NotDerived);
            }
            // A job that started from a base model fine-tuned that base: the artifact it worked
            // for must be the first registered with the base's content (a later registration
            // of the same package, in whatever CID form, takes none of its fine-tunes).
            if let Some(base) = output.base {
                if self.first_with(base) != Some(output.artifact) {
                    return Err(Error::NotItsBase);
                }
            }
            let id =
                self.insert_new(kind, manifest_cid, parents, split_rule, None, Some(job_id))?;
            self.by_job.insert(job_id, &id);
            self.env().emit_event(ProvenanceRecorded { id, job: job_id });
            Ok(id)
        }

        /// The artifact with this id, if any.
        #[ink(message)]
        pub fn get(&self, id: ArtifactId) -> Option<Artifact> {
            storage::get(&self.artifacts, id)
        }

        /// How many artifacts have been registered (ids run from 1 to this).
        #[ink(message)]
        pub fn count(&self) -> u64 {
            self.last_id
        }

        /// The market asked about provenance.
        #[ink(message)]
        pub fn market(&self) -> Option<AccountId> {
            self.market
        }

        /// The first artifact registered with the content `cid` names (in whatever CID form),
        /// if any: the one a job from that content as a base model fine-tunes.
        #[ink(message)]
        pub fn first_with(&self, cid: Vec<u8>) -> Option<ArtifactId> {
            self.first.get(content_of(&cid).ok()?)
        }

        /// The artifact registered from `job_id`, if any.
        pub fn artifact_of_job(&self, job_id: JobId) -> Option<ArtifactId> {
            self.by_job.get(job_id)
        }

        /// Admin only, once: names the market asked about provenance (deployed after the
        /// registry). Later changes go through [`Registry::propose_change`].
        #[ink(message)]
        pub fn set_market(&mut self, market: AccountId) -> Result<(), Error> {
            self.admin.ensure(bytes(&self.env().caller()))?;
            if self.market.is_some() {
                return Err(Error::MarketAlreadySet);
            }
            self.market = Some(market);
            self.env().emit_event(ChangeApplied { change: Change::Market(bytes(&market)) });
            Ok(())
        }

        /// Admin only: announces a change (market or code), applicable after the market's
        /// timelock (`admin_delay`, asked of the market now).
        #[ink(message)]
        pub fn propose_change(&mut self, change: Change) -> Result<BlockNumber, Error> {
            let caller = bytes(&self.env().caller());
            self.admin.ensure(caller)?;
            let market = self.market.ok_or(Error::NoMarket)?;
            let delay = self.market_admin_delay(market)?;
            let now = self.env().block_number();
            let eta = self.admin.propose(caller, change.clone(), now, delay)?;
            self.env().emit_event(ChangeProposed { change, eta });
            Ok(eta)
        }

        /// Applies the announced change once its timelock has passed. Anyone may call it.
        #[ink(message)]
        pub fn apply_change(&mut self) -> Result<(), Error> {
            let change = self.admin.take_ready(self.env().block_number())?;
            match &change {
                Change::Market(market) => self.market = Some(AccountId::from(*market)),
                Change::Code(hash) => {
                    self.env()
                        .set_code_hash(&Hash::from(*hash))
                        .map_err(|_| Error::UpgradeFailed)?;
                }
            }
            self.env().emit_event(ChangeApplied { change });
            Ok(())
        }

        /// Admin only: withdraws the announced change.
        #[ink(message)]
        pub fn cancel_change(&mut self) -> Result<(), Error> {
            let change = self.admin.cancel(bytes(&self.env().caller()))?;
            self.env().emit_event(ChangeCancelled { change });
            Ok(())
        }

        /// Admin only: proposes a new admin, who takes over by calling `accept_admin`.
        #[ink(message)]
        pub fn propose_admin(&mut self, proposed: AccountId) -> Result<(), Error> {
            self.admin.propose_admin(bytes(&self.env().caller()), bytes(&proposed))?;
            self.env().emit_event(AdminProposed { proposed });
            Ok(())
        }

        /// The proposed admin takes over.
        #[ink(message)]
        pub fn accept_admin(&mut self) -> Result<(), Error> {
            let caller = self.env().caller();
            self.admin.accept_admin(bytes(&caller))?;
            self.env().emit_event(AdminChanged { admin: caller });
            Ok(())
        }

        /// The announced admin change and the block from which it can be applied.
        #[ink(message)]
        pub fn pending_change(&self) -> Option<(Change, BlockNumber)> {
            self.admin.pending.clone()
        }

        /// The artifact, which the caller must own.
        fn owned(&self, id: ArtifactId) -> Result<Artifact, Error> {
            let artifact = storage::get(&self.artifacts, id).ok_or(Error::UnknownArtifact)?;
            if artifact.owner != *AsRef::<[u8; 32]>::as_ref(&self.env().caller()) {
                return Err(Error::NotOwner);
            }
            Ok(artifact)
        }

        fn insert_new(
            &mut self,
            kind: u8,
            manifest_cid: Vec<u8>,
            parents: Vec<Parent>,
            split_rule: SplitRule,
            previous: Option<(ArtifactId, u32)>,
            job: Option<JobId>,
        ) -> Result<ArtifactId, Error> {
            let kind = Kind::try_from(kind)?;
            let content = content_of(&manifest_cid)?;
            split_rule.validate().map_err(|_| Error::BadSplitRule)?;
            if parents.len() > MAX_PARENTS {
                return Err(Error::TooManyParents);
            }
            if parents.iter().any(|p| !self.artifacts.contains(p.id)) {
                return Err(Error::UnknownParent);
            }
            let id = self.last_id.checked_add(1).ok_or(Error::IdOverflow)?;
            let owner = self.env().caller();
            let artifact = Artifact {
                kind,
                owner: *owner.as_ref(),
                manifest_cid: manifest_cid.clone(),
                registered_at: self.env().block_number(),
                parents,
                version: previous.map(|p| p.1).unwrap_or(1),
                previous: previous.map(|p| p.0),
                deprecated: false,
                job,
                split_rule,
            };
            storage::put(&mut self.artifacts, id, &artifact)?;
            if !self.first.contains(content) {
                self.first.insert(content, &id);
            }
            self.last_id = id;
            self.env().emit_event(Registered { id, kind, owner, manifest_cid });
            Ok(id)
        }

        #[cfg(not(test))]
        fn market_job_output(
            &self,
            market: AccountId,
            job_id: JobId,
        ) -> Result<Option<JobOutput>, Error> {
            use ink::env::call::{build_call, ExecutionInput, Selector};
            build_call::<ink::env::DefaultEnvironment>()
                .call(market)
                .exec_input(
                    ExecutionInput::new(Selector::new(iollm_types::market::selectors::JOB_OUTPUT))
                        .push_arg(job_id),
                )
                .returns::<Option<JobOutput>>()
                .try_invoke()
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::CallFailed)
        }

        #[cfg(not(test))]
        fn market_admin_delay(&self, market: AccountId) -> Result<BlockNumber, Error> {
            use ink::env::call::{build_call, ExecutionInput, Selector};
            build_call::<ink::env::DefaultEnvironment>()
                .call(market)
                .exec_input(ExecutionInput::new(Selector::new(
                    iollm_types::market::selectors::ADMIN_DELAY,
                )))
                .returns::<BlockNumber>()
                .try_invoke()
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::CallFailed)
        }

        #[cfg(test)]
        fn market_admin_delay(&self, _market: AccountId) -> Result<BlockNumber, Error> {
            Ok(tests::DELAY)
        }

        #[cfg(test)]
        fn market_job_output(
            &self,
            _market: AccountId,
            job_id: JobId,
        ) -> Result<Option<JobOutput>, Error> {
            tests::MOCK_MARKET.with(|m| m.borrow().get(&job_id).cloned().ok_or(Error::CallFailed))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use ink::env::test::{default_accounts, recorded_events, set_caller};
        use ink::env::DefaultEnvironment;
        use ink::scale::{Decode, Encode};
        use iollm_types::cid::MAX_CID_LEN;
        use iollm_types::registry::{events, selectors};
        use std::cell::RefCell;
        use std::collections::BTreeMap;

        /// What the mock market answers to `admin_delay()`.
        pub const DELAY: BlockNumber = 50;

        std::thread_local! {
            /// What the market answers to `job_output(job)`; a missing key: the call fails.
            pub static MOCK_MARKET: RefCell<BTreeMap<JobId, Option<JobOutput>>> =
                const { RefCell::new(BTreeMap::new()) };
        }

        const CID: &[u8] = b"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
        const CID2: &[u8] = b"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";

        const RULE: SplitRule = SplitRule {
            designer_bps: 7_000,
            compute_bps: 2_000,
            upstream_bps: 1_000,
            treasury_bps: 0,
        };

        fn parent(id: ArtifactId) -> Parent {
            Parent { id, relation: Relation::Finetune }
        }

        fn last_event<E: Decode>(topic: [u8; 32]) -> E {
            let e = recorded_events().filter(|e| e.topics[0] == topic).last().unwrap();
            E::decode(&mut &e.data[..]).unwrap()
        }

        #[ink::test]
        fn register_checks_parents_and_rule() {
            let mut r = Registry::new();
            let base = r.register(0, CID.to_vec(), vec![], SplitRule::DESIGNER_ONLY).unwrap();
            assert_eq!(
                r.register(0, CID.to_vec(), vec![parent(9)], RULE),
                Err(Error::UnknownParent)
            );
            assert_eq!(
                r.register(0, CID.to_vec(), vec![parent(base); 5], RULE),
                Err(Error::TooManyParents)
            );
            let bad = SplitRule { treasury_bps: 1, ..RULE };
            assert_eq!(r.register(0, CID.to_vec(), vec![], bad), Err(Error::BadSplitRule));
            assert_eq!(r.get(base).unwrap().split_rule, SplitRule::DESIGNER_ONLY);
            let merged = Parent { id: base, relation: Relation::Merge };
            let child = r.register(0, CID2.to_vec(), vec![parent(base), merged], RULE).unwrap();
            let record = r.get(child).unwrap();
            assert_eq!(record.parents, vec![parent(base), merged]);
            assert_eq!(record.split_rule, RULE);
            assert_eq!(
                (record.version, record.previous, record.deprecated, record.job),
                (1, None, false, None)
            );
        }

        #[ink::test]
        fn new_version_transfer_and_deprecate_are_for_the_owner() {
            let a = default_accounts::<DefaultEnvironment>();
            set_caller::<DefaultEnvironment>(a.bob);
            let mut r = Registry::new();
            let base = r.register(0, CID.to_vec(), vec![], SplitRule::DESIGNER_ONLY).unwrap();
            let v1 = r.register(0, CID.to_vec(), vec![parent(base)], RULE).unwrap();
            assert_eq!(r.new_version(9, CID2.to_vec()), Err(Error::UnknownArtifact));
            let v2 = r.new_version(v1, CID2.to_vec()).unwrap();
            let record = r.get(v2).unwrap();
            assert_eq!(
                (record.version, record.previous, record.parents.clone()),
                (2, Some(v1), vec![parent(base)])
            );
            assert_eq!(
                last_event::<events::VersionAdded>(events::VERSION_ADDED_TOPIC),
                events::VersionAdded { id: v2, previous: v1, version: 2 }
            );

            set_caller::<DefaultEnvironment>(a.charlie);
            assert_eq!(r.new_version(v2, CID.to_vec()), Err(Error::NotOwner));
            assert_eq!(r.transfer(v2, a.charlie), Err(Error::NotOwner));
            assert_eq!(r.deprecate(v2), Err(Error::NotOwner));
            assert_eq!(r.transfer(9, a.charlie), Err(Error::UnknownArtifact));

            set_caller::<DefaultEnvironment>(a.bob);
            r.transfer(v2, a.charlie).unwrap();
            assert_eq!(r.get(v2).unwrap().owner, bytes(&a.charlie));
            assert_eq!(
                last_event::<events::Transferred>(events::TRANSFERRED_TOPIC),
                events::Transferred { id: v2, from: bytes(&a.bob), to: bytes(&a.charlie) }
            );
            set_caller::<DefaultEnvironment>(a.charlie);
            r.deprecate(v2).unwrap();
            assert!(r.get(v2).unwrap().deprecated);
            assert_eq!(r.deprecate(v2), Err(Error::Deprecated));
            assert_eq!(r.new_version(v2, CID.to_vec()), Err(Error::Deprecated));
            assert_eq!(
                last_event::<events::DeprecatedSet>(events::DEPRECATED_SET_TOPIC),
                events::DeprecatedSet { id: v2 }
            );
        }

        #[ink::test]
        fn register_from_job_needs_the_verified_output() {
            let a = default_accounts::<DefaultEnvironment>();
            set_caller::<DefaultEnvironment>(a.alice);
            let mut r = Registry::new();
            let output = |cid: &[u8]| JobOutput {
                poster: bytes(&a.bob),
                artifact: 1,
                output_cid: cid.to_vec(),
                base: None,
            };
            // Jobs 4 to 7 started from a base model: artifact 1's package (7 naming it in its
            // CIDv1 form), another, and artifact 1's package posted for a squatter's artifact
            // (3: the same package registered again, in the other form).
            let from = |base: &[u8], artifact| JobOutput {
                base: Some(base.to_vec()),
                artifact,
                ..output(CID2)
            };
            const CID_V1: &[u8] = b"bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mby";
            MOCK_MARKET.with(|m| {
                let mut m = m.borrow_mut();
                m.clear();
                m.insert(1, Some(output(CID2)));
                m.insert(2, None);
                m.insert(4, Some(from(CID, 1)));
                m.insert(5, Some(from(CID2, 1)));
                m.insert(6, Some(from(CID, 3)));
                m.insert(7, Some(from(CID_V1, 1)));
            });
            set_caller::<DefaultEnvironment>(a.bob);
            r.register(0, CID.to_vec(), vec![], RULE).unwrap(); // artifact 1, the job's
            let lineage = vec![parent(1)];
            assert_eq!(
                r.register_from_job(1, 0, CID2.to_vec(), lineage.clone(), RULE),
                Err(Error::NoMarket)
            );
            assert_eq!(r.set_market(a.django), Err(Error::NotAdmin));
            set_caller::<DefaultEnvironment>(a.alice);
            r.set_market(a.django).unwrap();
            assert_eq!(r.market(), Some(a.django));
            set_caller::<DefaultEnvironment>(a.bob);
            assert_eq!(
                r.register_from_job(3, 0, CID2.to_vec(), lineage.clone(), RULE),
                Err(Error::CallFailed)
            );
            assert_eq!(
                r.register_from_job(2, 0, CID2.to_vec(), lineage.clone(), RULE),
                Err(Error::JobNotVerified)
            );
            assert_eq!(
                r.register_from_job(1, 0, CID.to_vec(), lineage.clone(), RULE),
                Err(Error::CidMismatch)
            );
            set_caller::<DefaultEnvironment>(a.charlie);
            assert_eq!(
                r.register_from_job(1, 0, CID2.to_vec(), lineage.clone(), RULE),
                Err(Error::NotPoster)
            );
            // Finding 10: provenance only as a model, under a lineage that includes the job's
            // artifact.
            set_caller::<DefaultEnvironment>(a.bob);
            assert_eq!(
                r.register_from_job(1, 1, CID2.to_vec(), lineage.clone(), RULE),
                Err(Error::NotAModel)
            );
            // The job's artifact as the one parent, a fine-tune: not missing, not with parents
            // of the executor's choosing beside it, not another relation.
            let merged = vec![Parent { id: 1, relation: Relation::Merge }];
            for lineage in [vec![], vec![parent(1), parent(1)], vec![parent(1), parent(2)], merged]
            {
                assert_eq!(
                    r.register_from_job(1, 0, CID2.to_vec(), lineage, RULE),
                    Err(Error::NotDerived)
                );
            }
            let id = r.register_from_job(1, 0, CID2.to_vec(), lineage.clone(), RULE).unwrap();
            assert_eq!(r.get(id).unwrap().job, Some(1));
            assert_eq!(r.artifact_of_job(1), Some(id));
            assert_eq!(
                r.register_from_job(1, 0, CID2.to_vec(), lineage.clone(), RULE),
                Err(Error::JobAlreadyRegistered)
            );
            assert_eq!(
                last_event::<events::ProvenanceRecorded>(events::PROVENANCE_RECORDED_TOPIC),
                events::ProvenanceRecorded { id, job: 1 }
            );
            // A job from a base model is a fine-tune of the first artifact registered with
            // the base's content, and of no other.
            assert_eq!(
                r.register_from_job(5, 0, CID2.to_vec(), lineage.clone(), RULE),
                Err(Error::NotItsBase)
            );
            set_caller::<DefaultEnvironment>(a.charlie);
            let squatter = r.register(0, CID_V1.to_vec(), vec![], RULE).unwrap();
            assert_eq!(squatter, 3);
            assert_eq!(
                (r.first_with(CID.to_vec()), r.first_with(CID_V1.to_vec())),
                (Some(1), Some(1))
            );
            assert_eq!(r.first_with(b"not a cid".to_vec()), None);
            set_caller::<DefaultEnvironment>(a.bob);
            assert_eq!(
                r.register_from_job(6, 0, CID2.to_vec(), vec![parent(3)], RULE),
                Err(Error::NotItsBase)
            );
            let tuned = r.register_from_job(4, 0, CID2.to_vec(), lineage.clone(), RULE).unwrap();
            assert_eq!(r.get(tuned).unwrap().parents, vec![parent(1)]);
            r.register_from_job(7, 0, CID2.to_vec(), lineage, RULE).unwrap();
        }

        /// Finding 6: the market is wired once; later changes and upgrades wait the market's
        /// timelock; hand-over takes two steps.
        #[ink::test]
        fn admin_changes_wait_for_the_timelock() {
            use ink::env::test::set_block_number;
            use iollm_types::admin::events as admin_events;
            let a = default_accounts::<DefaultEnvironment>();
            set_caller::<DefaultEnvironment>(a.alice);
            let mut r = Registry::new();
            assert_eq!(r.propose_change(Change::Code([1; 32])), Err(Error::NoMarket));
            set_caller::<DefaultEnvironment>(a.bob);
            assert_eq!(r.set_market(a.bob), Err(Error::NotAdmin));
            set_caller::<DefaultEnvironment>(a.alice);
            r.set_market(a.django).unwrap();
            assert_eq!(r.set_market(a.bob), Err(Error::MarketAlreadySet));
            set_block_number::<DefaultEnvironment>(10);
            let change = Change::Market(bytes(&a.eve));
            set_caller::<DefaultEnvironment>(a.bob);
            assert_eq!(r.propose_change(change.clone()), Err(Error::NotAdmin));
            set_caller::<DefaultEnvironment>(a.alice);
            assert_eq!(r.propose_change(change.clone()), Ok(10 + DELAY));
            assert_eq!(
                last_event::<admin_events::ChangeProposed<Change>>(
                    admin_events::CHANGE_PROPOSED_TOPIC
                ),
                admin_events::ChangeProposed { change: change.clone(), eta: 10 + DELAY }
            );
            set_block_number::<DefaultEnvironment>(9 + DELAY);
            assert_eq!(r.apply_change(), Err(Error::Timelocked));
            set_block_number::<DefaultEnvironment>(10 + DELAY);
            set_caller::<DefaultEnvironment>(a.charlie);
            r.apply_change().unwrap();
            assert_eq!(r.market(), Some(a.eve));
            assert_eq!(r.apply_change(), Err(Error::NothingProposed));
            set_caller::<DefaultEnvironment>(a.alice);
            r.propose_change(Change::Code([1; 32])).unwrap();
            r.cancel_change().unwrap();
            assert_eq!(r.pending_change(), None);
            r.propose_admin(a.bob).unwrap();
            set_caller::<DefaultEnvironment>(a.charlie);
            assert_eq!(r.accept_admin(), Err(Error::NotProposedAdmin));
            set_caller::<DefaultEnvironment>(a.bob);
            r.accept_admin().unwrap();
            assert_eq!(r.propose_admin(a.bob), Ok(()));
        }

        #[ink::test]
        #[should_panic(expected = "off-chain environment does not support `set_code_hash`")]
        fn an_applied_code_change_reaches_set_code_hash() {
            let a = default_accounts::<DefaultEnvironment>();
            set_caller::<DefaultEnvironment>(a.alice);
            let mut r = Registry::new();
            r.set_market(a.django).unwrap();
            r.propose_change(Change::Code([1; 32])).unwrap();
            ink::env::test::set_block_number::<DefaultEnvironment>(DELAY);
            let _ = r.apply_change();
        }

        /// Storage written before an upgrade stays readable after it: the root's field order and
        /// the mappings' fixed keys are frozen here; a new version must keep decoding them.
        #[ink::test]
        fn storage_layout_is_frozen() {
            type RootV2 = (Admin<Change>, ArtifactId, Option<AccountId>);
            let a = default_accounts::<DefaultEnvironment>();
            set_caller::<DefaultEnvironment>(a.alice);
            let mut r = Registry::new();
            r.register(2, CID.to_vec(), vec![], SplitRule::DESIGNER_ONLY).unwrap();
            ink::env::set_contract_storage(&0u32, &r);
            let root: RootV2 = ink::env::get_contract_storage(&0u32).unwrap().unwrap();
            assert_eq!(root, (Admin::new(bytes(&a.alice)), 1, None));
            let record: Artifact =
                ink::env::get_contract_storage(&(0x5247_0001u32, 1u64)).unwrap().unwrap();
            assert_eq!(record.kind, Kind::Path);
        }

        fn bytes(account: &AccountId) -> [u8; 32] {
            *AsRef::<[u8; 32]>::as_ref(account)
        }

        #[ink::test]
        fn register_stores_the_record_and_emits_the_event() {
            let accounts = default_accounts::<DefaultEnvironment>();
            set_caller::<DefaultEnvironment>(accounts.bob);
            let mut registry = Registry::new();
            assert_eq!(registry.count(), 0);

            let id = registry
                .register(Kind::Dataset.into(), CID.to_vec(), vec![], SplitRule::DESIGNER_ONLY)
                .unwrap();
            assert_eq!(id, 1);
            assert_eq!(registry.count(), 1);
            let record = registry.get(id).unwrap();
            assert_eq!(record.kind, Kind::Dataset);
            assert_eq!(record.owner, bytes(&accounts.bob));
            assert_eq!(record.manifest_cid, CID);

            let emitted = recorded_events().collect::<Vec<_>>();
            assert_eq!(emitted.len(), 1);
            assert_eq!(emitted[0].topics[0], events::REGISTERED_TOPIC);
            let event = events::Registered::decode(&mut &emitted[0].data[..]).unwrap();
            assert_eq!(
                event,
                events::Registered {
                    id: 1,
                    kind: Kind::Dataset,
                    owner: bytes(&accounts.bob),
                    manifest_cid: CID.to_vec(),
                }
            );
            // Topics shorter than 32 bytes are the field's SCALE encoding, zero-padded.
            let mut id_topic = [0u8; 32];
            id_topic[..8].copy_from_slice(&id.encode());
            assert_eq!(emitted[0].topics[1], id_topic);
            assert_eq!(emitted[0].topics[2], bytes(&accounts.bob));
        }

        #[ink::test]
        fn ids_increase_and_unknown_ids_are_none() {
            let mut registry = Registry::new();
            let a = registry
                .register(Kind::Model.into(), CID.to_vec(), vec![], SplitRule::DESIGNER_ONLY)
                .unwrap();
            let b = registry
                .register(Kind::Path.into(), CID.to_vec(), vec![], SplitRule::DESIGNER_ONLY)
                .unwrap();
            assert_eq!((a, b), (1, 2));
            assert_eq!(registry.get(b).unwrap().kind, Kind::Path);
            assert_eq!(registry.get(0), None);
            assert_eq!(registry.get(3), None);
        }

        #[ink::test]
        fn bad_input_is_refused_and_stores_nothing() {
            let mut registry = Registry::new();
            let model = u8::from(Kind::Model);
            assert_eq!(
                registry.register(model, Vec::new(), vec![], SplitRule::DESIGNER_ONLY),
                Err(Error::EmptyCid)
            );
            assert_eq!(
                registry.register(
                    model,
                    vec![b'a'; MAX_CID_LEN + 1],
                    vec![],
                    SplitRule::DESIGNER_ONLY
                ),
                Err(Error::CidTooLong)
            );
            assert_eq!(
                registry.register(
                    model,
                    b"Qm not a cid".to_vec(),
                    vec![],
                    SplitRule::DESIGNER_ONLY
                ),
                Err(Error::InvalidCid)
            );
            assert_eq!(
                registry.register(3, CID.to_vec(), vec![], SplitRule::DESIGNER_ONLY),
                Err(Error::UnknownKind)
            );
            assert_eq!(
                registry.register(255, CID.to_vec(), vec![], SplitRule::DESIGNER_ONLY),
                Err(Error::UnknownKind)
            );
            assert_eq!(registry.count(), 0);
            assert_eq!(recorded_events().count(), 0);
        }

        #[ink::test]
        fn id_overflow_is_an_error() {
            let mut registry = Registry::new();
            registry.last_id = ArtifactId::MAX;
            assert_eq!(
                registry.register(0, CID.to_vec(), vec![], SplitRule::DESIGNER_ONLY),
                Err(Error::IdOverflow)
            );
            assert_eq!(registry.count(), ArtifactId::MAX);
        }

        /// The selectors and topic off-chain code uses are the ones ink! generates.
        #[ink::test]
        fn shared_selectors_and_topics_match_the_contract() {
            assert_eq!(selectors::NEW, ink::selector_bytes!("new"));
            assert_eq!(selectors::REGISTER, ink::selector_bytes!("register"));
            assert_eq!(selectors::GET, ink::selector_bytes!("get"));
            assert_eq!(selectors::COUNT, ink::selector_bytes!("count"));
            assert_eq!(selectors::NEW_VERSION, ink::selector_bytes!("new_version"));
            assert_eq!(selectors::TRANSFER, ink::selector_bytes!("transfer"));
            assert_eq!(selectors::DEPRECATE, ink::selector_bytes!("deprecate"));
            assert_eq!(selectors::REGISTER_FROM_JOB, ink::selector_bytes!("register_from_job"));
            assert_eq!(selectors::SET_MARKET, ink::selector_bytes!("set_market"));
            assert_eq!(selectors::PROPOSE_CHANGE, ink::selector_bytes!("propose_change"));
            assert_eq!(selectors::APPLY_CHANGE, ink::selector_bytes!("apply_change"));
            assert_eq!(selectors::CANCEL_CHANGE, ink::selector_bytes!("cancel_change"));
            assert_eq!(selectors::PROPOSE_ADMIN, ink::selector_bytes!("propose_admin"));
            assert_eq!(selectors::ACCEPT_ADMIN, ink::selector_bytes!("accept_admin"));
            assert_eq!(selectors::PENDING_CHANGE, ink::selector_bytes!("pending_change"));
            assert_eq!(selectors::MARKET, ink::selector_bytes!("market"));
            assert_eq!(selectors::ARTIFACT_OF_JOB, ink::selector_bytes!("artifact_of_job"));
            assert_eq!(selectors::FIRST_WITH, ink::selector_bytes!("first_with"));
            use ink::env::Event;
            assert_eq!(Some(events::VERSION_ADDED_TOPIC), VersionAdded::SIGNATURE_TOPIC);
            assert_eq!(Some(events::TRANSFERRED_TOPIC), Transferred::SIGNATURE_TOPIC);
            assert_eq!(Some(events::DEPRECATED_SET_TOPIC), DeprecatedSet::SIGNATURE_TOPIC);
            assert_eq!(
                Some(events::PROVENANCE_RECORDED_TOPIC),
                ProvenanceRecorded::SIGNATURE_TOPIC
            );
            use iollm_types::admin::events as admin;
            assert_eq!(Some(admin::CHANGE_PROPOSED_TOPIC), ChangeProposed::SIGNATURE_TOPIC);
            assert_eq!(Some(admin::CHANGE_APPLIED_TOPIC), ChangeApplied::SIGNATURE_TOPIC);
            assert_eq!(Some(admin::CHANGE_CANCELLED_TOPIC), ChangeCancelled::SIGNATURE_TOPIC);
            assert_eq!(Some(admin::ADMIN_PROPOSED_TOPIC), AdminProposed::SIGNATURE_TOPIC);
            assert_eq!(Some(admin::ADMIN_CHANGED_TOPIC), AdminChanged::SIGNATURE_TOPIC);
            assert_eq!(
                events::REGISTERED_TOPIC,
                <Registered as ink::env::Event>::SIGNATURE_TOPIC.unwrap()
            );
        }
    }
}
