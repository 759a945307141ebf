//! The iollm splitter: per-artifact profit-split rules, revenue accounting and pull payments.
//!
//! `pay_revenue(artifact)` (payable) splits the payment, plus whatever the artifact's children
//! queued for it upstream, by the artifact's rule: the designer part goes to whoever owns the
//! artifact in the registry at that moment, the treasury part to the treasury, the compute part
//! to the artifact's share pool (accumulator-per-share, O(1) whatever the number of holders;
//! [`iollm_types::shares`]), the upstream part in equal parts to the parents' inboxes. Nobody is
//! ever pushed money: `withdraw` pulls.
//!
//! What holders of share units can rely on: only the market credits units, only for jobs whose
//! poster owns the artifact or was authorised by its owner (`may_credit`), within bounds per
//! credit and per pool; once units exist the rule's `compute_bps` can only rise; a rule that
//! lowers `upstream_bps` or `compute_bps` waits the market's timelock before `apply_rule` puts it
//! in force, and no new job may credit units while a compute cut waits; admin changes wait that
//! timelock too.
//!
//! What it is not: the owner of artifacts (the registry is).
#![cfg_attr(not(feature = "std"), no_std, no_main)]
// The ink! linter (scripts/ink-lint.sh): ids are topics on purpose, so that a wallet or indexer
// can follow one job, bounty or artifact (as ERC-721 indexes a token id); they are not amounts.
#![cfg_attr(dylint_lib = "ink_linting", allow(primitive_topic))]

#[ink::contract]
mod splitter {
    use ink::storage::traits::ManualKey;
    use ink::storage::Mapping;
    use iollm_types::admin::{Admin, APPLY_WITHIN};
    use iollm_types::registry::{Artifact, ArtifactId};
    use iollm_types::shares::{Holder, Pool, ShareError};
    use iollm_types::split::{split_evenly, SplitRule};
    use iollm_types::splitter::{
        Change, Entry, Error, MAX_CREDIT_UNITS, MAX_PARENTS, MAX_POOL_UNITS, MIN_CREDIT_UNITS,
    };
    use iollm_types::storage;

    /// An owner's authorisation of a poster: (artifact, owner, delegate).
    type Delegation = (ArtifactId, AccountId, AccountId);

    /// Splitter storage. Mapping keys are fixed (`ManualKey`) so an upgrade that reorders or
    /// renames fields still finds the data written before it.
    #[ink(storage)]
    pub struct Splitter {
        admin: Admin<Change>,
        registry: AccountId,
        market: AccountId,
        treasury: AccountId,
        entries: Mapping<ArtifactId, Entry, ManualKey<0x5350_0001>>,
        pools: Mapping<ArtifactId, Pool, ManualKey<0x5350_0002>>,
        holders: Mapping<(ArtifactId, AccountId), Holder, ManualKey<0x5350_0003>>,
        balances: Mapping<AccountId, Balance, ManualKey<0x5350_0004>>,
        inbox: Mapping<ArtifactId, Balance, ManualKey<0x5350_0005>>,
        /// (artifact, owner, delegate): the owner lets the delegate post unit-crediting jobs.
        delegates: Mapping<Delegation, (), ManualKey<0x5350_0006>>,
    }

    /// An artifact's rule was put in force (layout: `iollm_types::splitter::events::RuleSet`).
    #[ink(event)]
    pub struct RuleSet {
        #[ink(topic)]
        artifact: ArtifactId,
        owner: AccountId,
        rule: SplitRule,
    }

    /// A rule lowering the upstream share was announced (layout: `…::events::RuleProposed`).
    #[ink(event)]
    pub struct RuleProposed {
        #[ink(topic)]
        artifact: ArtifactId,
        rule: SplitRule,
        eta: BlockNumber,
    }

    /// An owner authorised a poster, or stopped (layout: `…::events::Authorised`).
    #[ink(event)]
    pub struct Authorised {
        #[ink(topic)]
        artifact: ArtifactId,
        owner: AccountId,
        delegate: AccountId,
        allowed: bool,
    }

    /// Revenue was split (layout: `iollm_types::splitter::events::RevenuePaid`).
    #[ink(event)]
    pub struct RevenuePaid {
        #[ink(topic)]
        artifact: ArtifactId,
        payer: AccountId,
        amount: Balance,
        designer: Balance,
        compute: Balance,
        upstream: Balance,
        treasury: Balance,
    }

    /// Share units were credited by the market (layout: `…::events::UnitsCredited`).
    #[ink(event)]
    pub struct UnitsCredited {
        #[ink(topic)]
        artifact: ArtifactId,
        #[ink(topic)]
        account: AccountId,
        units: Balance,
    }

    /// An account pulled its balance (layout: `…::events::Withdrawn`).
    #[ink(event)]
    pub struct Withdrawn {
        #[ink(topic)]
        account: AccountId,
        amount: Balance,
    }

    /// Layout: `iollm_types::splitter::events::ChangeProposed`.
    #[ink(event)]
    pub struct ChangeProposed {
        change: Change,
        eta: BlockNumber,
    }

    /// Layout: `iollm_types::splitter::events::ChangeApplied`.
    #[ink(event)]
    pub struct ChangeApplied {
        change: Change,
    }

    /// Layout: `iollm_types::splitter::events::ChangeCancelled`.
    #[ink(event)]
    pub struct ChangeCancelled {
        change: Change,
    }

    /// Layout: `iollm_types::splitter::events::AdminProposed`.
    #[ink(event)]
    pub struct AdminProposed {
        proposed: AccountId,
    }

    /// Layout: `iollm_types::splitter::events::AdminChanged`.
    #[ink(event)]
    pub struct AdminChanged {
        admin: AccountId,
    }

    fn share_err(e: ShareError) -> Error {
        match e {
            ShareError::Overflow => Error::Overflow,
            ShareError::NoUnits => Error::Overflow,
        }
    }

    fn bytes(a: &AccountId) -> [u8; 32] {
        *AsRef::<[u8; 32]>::as_ref(a)
    }

    impl Splitter {
        /// A splitter whose admin is the caller, reading artifacts from `registry`, accepting
        /// share credits from `market`, paying the treasury part to `treasury`.
        #[ink(constructor)]
        pub fn new(registry: AccountId, market: AccountId, treasury: AccountId) -> Self {
            Self {
                admin: Admin::new(bytes(&Self::env().caller())),
                registry,
                market,
                treasury,
                entries: Mapping::new(),
                pools: Mapping::new(),
                holders: Mapping::new(),
                balances: Mapping::new(),
                inbox: Mapping::new(),
                delegates: Mapping::new(),
            }
        }

        /// Sets `artifact`'s split rule; the caller must own it in the registry. Once share
        /// units exist, `compute_bps` cannot fall. A rule that lowers `upstream_bps` or
        /// `compute_bps` (against the one in force, or the one declared at registration) is
        /// only announced: it waits the market's timelock, then `apply_rule` puts it in force
        /// (within [`APPLY_WITHIN`] blocks). While a compute cut is announced no new job may
        /// credit units ([`Splitter::may_credit`]), so units promised before it are credited
        /// before it applies. Any other rule applies at once (and drops an announced one).
        #[ink(message)]
        pub fn set_rule(&mut self, artifact: ArtifactId, rule: SplitRule) -> Result<(), Error> {
            rule.validate().map_err(|_| Error::BadRule)?;
            let record = self.registry_get(artifact)?.ok_or(Error::UnknownArtifact)?;
            let caller = self.env().caller();
            if record.owner != bytes(&caller) {
                return Err(Error::NotOwner);
            }
            if record.parents.len() > MAX_PARENTS {
                return Err(Error::TooManyParents);
            }
            let mut entry = storage::get(&self.entries, artifact).unwrap_or_else(|| Entry {
                rule: record.split_rule,
                parents: record.parents.iter().map(|p| p.id).collect(),
                pending: None,
            });
            self.check_compute_locked(artifact, &entry.rule, &rule)?;
            if rule.upstream_bps < entry.rule.upstream_bps
                || rule.compute_bps < entry.rule.compute_bps
            {
                let delay = self.market_admin_delay()?;
                let eta = self.env().block_number().checked_add(delay).ok_or(Error::Overflow)?;
                entry.pending = Some((rule, eta));
                storage::put(&mut self.entries, artifact, &entry)?;
                self.env().emit_event(RuleProposed { artifact, rule, eta });
                return Ok(());
            }
            entry.rule = rule;
            entry.pending = None;
            storage::put(&mut self.entries, artifact, &entry)?;
            self.env().emit_event(RuleSet { artifact, owner: caller, rule });
            Ok(())
        }

        /// Puts an announced rule in force once its timelock has passed (still refused if it
        /// would lower the compute share of units that now exist). Anyone may call it.
        #[ink(message)]
        pub fn apply_rule(&mut self, artifact: ArtifactId) -> Result<(), Error> {
            let mut entry = storage::get(&self.entries, artifact).ok_or(Error::NothingProposed)?;
            let (rule, eta) = entry.pending.ok_or(Error::NothingProposed)?;
            let now = self.env().block_number();
            if now < eta {
                return Err(Error::Timelocked);
            }
            if now > eta.saturating_add(APPLY_WITHIN) {
                return Err(Error::Stale);
            }
            self.check_compute_locked(artifact, &entry.rule, &rule)?;
            entry.rule = rule;
            entry.pending = None;
            storage::put(&mut self.entries, artifact, &entry)?;
            let owner = self.registry_get(artifact)?.ok_or(Error::UnknownArtifact)?.owner;
            self.env().emit_event(RuleSet { artifact, owner: AccountId::from(owner), rule });
            Ok(())
        }

        /// The artifact's owner lets `delegate` post jobs that credit share units of it (or
        /// stops). An authorisation is the owner's: it ends when the artifact is transferred.
        #[ink(message)]
        pub fn authorise(
            &mut self,
            artifact: ArtifactId,
            delegate: AccountId,
            allowed: bool,
        ) -> Result<(), Error> {
            let record = self.registry_get(artifact)?.ok_or(Error::UnknownArtifact)?;
            let owner = self.env().caller();
            if record.owner != bytes(&owner) {
                return Err(Error::NotOwner);
            }
            if allowed {
                self.delegates.insert((artifact, owner, delegate), &());
            } else {
                self.delegates.remove((artifact, owner, delegate));
            }
            self.env().emit_event(Authorised { artifact, owner, delegate, allowed });
            Ok(())
        }

        /// Whether a job posted by `poster` may credit share units of `artifact`: the artifact
        /// exists, `poster` owns it or its current owner authorised it, and no cut of its
        /// compute share is announced. The market asks when the job is posted and again when
        /// it is finalized.
        #[ink(message)]
        pub fn may_credit(&self, artifact: ArtifactId, poster: AccountId) -> bool {
            if self.compute_cut_announced(artifact) {
                return false;
            }
            match self.registry_get(artifact) {
                Ok(Some(record)) => {
                    record.owner == bytes(&poster)
                        || self.delegates.contains((
                            artifact,
                            AccountId::from(record.owner),
                            poster,
                        ))
                }
                _ => false,
            }
        }

        /// Pays the transferred value (plus the artifact's upstream inbox) to `artifact`'s
        /// contributors by its rule; the designer part to its current owner in the registry.
        /// O(1) in the number of share holders; touches at most [`MAX_PARENTS`] inboxes. With
        /// no share holders the compute part goes to the owner; with no parents the upstream
        /// part does.
        #[ink(message, payable)]
        pub fn pay_revenue(&mut self, artifact: ArtifactId) -> Result<(), Error> {
            self.distribute(artifact, self.env().transferred_value())
        }

        /// Splits `paid` (plus the artifact's upstream inbox) by the artifact's rule.
        fn distribute(&mut self, artifact: ArtifactId, paid: Balance) -> Result<(), Error> {
            let record = self.registry_get(artifact)?.ok_or(Error::UnknownArtifact)?;
            let entry = match storage::get(&self.entries, artifact) {
                Some(entry) => entry,
                None => self.entry_from_record(artifact, &record)?,
            };
            let queued = self.inbox.take(artifact).unwrap_or(0);
            let amount = paid.checked_add(queued).ok_or(Error::Overflow)?;
            let parts = entry.rule.split(amount).map_err(|_| Error::BadRule)?;
            let mut to_owner = parts.designer;

            let mut pool = self.pools.get(artifact).unwrap_or_default();
            if pool.total_units == 0 {
                to_owner = to_owner.checked_add(parts.compute).ok_or(Error::Overflow)?;
            } else if parts.compute > 0 {
                pool.distribute(parts.compute).map_err(share_err)?;
                self.pools.insert(artifact, &pool);
            }

            match u32::try_from(entry.parents.len()) {
                Ok(0) | Err(_) => {
                    to_owner = to_owner.checked_add(parts.upstream).ok_or(Error::Overflow)?
                }
                Ok(n) if parts.upstream > 0 => {
                    let (each, rest) = split_evenly(parts.upstream, n).ok_or(Error::Overflow)?;
                    for (i, parent) in entry.parents.iter().enumerate() {
                        let mut add = each;
                        if i == 0 {
                            add = add.checked_add(rest).ok_or(Error::Overflow)?;
                        }
                        if add > 0 {
                            let now = self.inbox.get(parent).unwrap_or(0);
                            self.inbox
                                .insert(parent, &now.checked_add(add).ok_or(Error::Overflow)?);
                        }
                    }
                }
                Ok(_) => {}
            }

            self.credit(AccountId::from(record.owner), to_owner)?;
            let treasury = self.treasury;
            self.credit(treasury, parts.treasury)?;
            self.env().emit_event(RevenuePaid {
                artifact,
                payer: self.env().caller(),
                amount,
                designer: parts.designer,
                compute: parts.compute,
                upstream: parts.upstream,
                treasury: parts.treasury,
            });
            Ok(())
        }

        /// Credits `units` compute share units of `artifact` to `account`. Market only; at
        /// least [`MIN_CREDIT_UNITS`], at most [`MAX_CREDIT_UNITS`], and the pool stays within
        /// [`MAX_POOL_UNITS`]. The market pays the value the units stand for (one planck per
        /// unit: what the executor forwent) with the call; it is first paid as revenue of the
        /// artifact, to the holders and owner before the new units, so new units always cost
        /// their value to whoever mints them. All or nothing: a refusal reverts, and the market
        /// pays the executor in money instead.
        #[ink(message, payable)]
        pub fn credit_units(
            &mut self,
            artifact: ArtifactId,
            account: AccountId,
            units: Balance,
        ) -> Result<(), Error> {
            if self.env().caller() != self.market {
                return Err(Error::NotMarket);
            }
            if units == 0 {
                return Err(Error::ZeroUnits);
            }
            if self.env().transferred_value() != units {
                return Err(Error::UnitsNotPaid);
            }
            let total = self.pools.get(artifact).unwrap_or_default().total_units;
            if !(MIN_CREDIT_UNITS..=MAX_CREDIT_UNITS).contains(&units)
                || total.checked_add(units).is_none_or(|t| t > MAX_POOL_UNITS)
            {
                return Err(Error::UnitsOutOfBounds);
            }
            self.distribute(artifact, units)?;
            let mut pool = self.pools.get(artifact).unwrap_or_default();
            let mut holder = self.holders.get((artifact, account)).unwrap_or_default();
            pool.credit(&mut holder, units).map_err(share_err)?;
            self.pools.insert(artifact, &pool);
            self.holders.insert((artifact, account), &holder);
            self.env().emit_event(UnitsCredited { artifact, account, units });
            Ok(())
        }

        /// Pays the caller its balance, after moving in its share revenue of `artifact` if
        /// given. Returns the amount paid.
        #[ink(message)]
        pub fn withdraw(&mut self, artifact: Option<ArtifactId>) -> Result<Balance, Error> {
            let caller = self.env().caller();
            let mut amount = self.balances.take(caller).unwrap_or(0);
            if let Some(artifact) = artifact {
                if let Some(mut holder) = self.holders.get((artifact, caller)) {
                    let pool = self.pools.get(artifact).unwrap_or_default();
                    let shares = pool.take(&mut holder).map_err(share_err)?;
                    self.holders.insert((artifact, caller), &holder);
                    amount = amount.checked_add(shares).ok_or(Error::Overflow)?;
                }
            }
            if amount == 0 {
                return Err(Error::NothingToWithdraw);
            }
            self.env().transfer(caller, amount).map_err(|_| Error::TransferFailed)?;
            self.env().emit_event(Withdrawn { account: caller, amount });
            Ok(amount)
        }

        /// `account`'s balance, plus its share revenue of `artifact` if given.
        #[ink(message)]
        pub fn balance_of(&self, account: AccountId, artifact: Option<ArtifactId>) -> Balance {
            let base = self.balances.get(account).unwrap_or(0);
            let shares = artifact
                .and_then(|a| {
                    let holder = self.holders.get((a, account))?;
                    self.pools.get(a).unwrap_or_default().claimable(&holder).ok()
                })
                .unwrap_or(0);
            base.saturating_add(shares)
        }

        /// `artifact`'s entry (rule, parents, announced rule), once a rule is set or revenue
        /// was paid.
        #[ink(message)]
        pub fn entry(&self, artifact: ArtifactId) -> Option<Entry> {
            storage::get(&self.entries, artifact)
        }

        /// `artifact`'s share pool.
        #[ink(message)]
        pub fn pool(&self, artifact: ArtifactId) -> Pool {
            self.pools.get(artifact).unwrap_or_default()
        }

        /// `account`'s compute share units of `artifact`.
        #[ink(message)]
        pub fn units_of(&self, artifact: ArtifactId, account: AccountId) -> Balance {
            self.holders.get((artifact, account)).map(|h| h.units).unwrap_or(0)
        }

        /// Revenue queued for `artifact` by its children, distributed with its next payment.
        #[ink(message)]
        pub fn inbox_of(&self, artifact: ArtifactId) -> Balance {
            self.inbox.get(artifact).unwrap_or(0)
        }

        /// Admin only: announces a change (addresses or code), applicable after the market's
        /// timelock (`admin_delay`, asked of the market now).
        #[ink(message)]
        pub fn propose_change(&mut self, change: Change) -> Result<BlockNumber, Error> {
            let caller = bytes(&self.env().caller());
            self.admin.ensure(caller)?;
            let delay = self.market_admin_delay()?;
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
                Change::Addresses { registry, market, treasury } => {
                    self.registry = AccountId::from(*registry);
                    self.market = AccountId::from(*market);
                    self.treasury = AccountId::from(*treasury);
                }
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

        /// The admin, registry, market and treasury addresses.
        #[ink(message)]
        pub fn params(&self) -> (AccountId, AccountId, AccountId, AccountId) {
            (AccountId::from(self.admin.admin), self.registry, self.market, self.treasury)
        }

        /// Whether an announced rule, not yet stale, lowers `artifact`'s compute share.
        fn compute_cut_announced(&self, artifact: ArtifactId) -> bool {
            let Some(entry) = storage::get(&self.entries, artifact) else { return false };
            let now = self.env().block_number();
            entry.pending.is_some_and(|(rule, eta)| {
                rule.compute_bps < entry.rule.compute_bps && now <= eta.saturating_add(APPLY_WITHIN)
            })
        }

        /// Refuses `rule` if it lowers `current`'s compute share while units exist.
        fn check_compute_locked(
            &self,
            artifact: ArtifactId,
            current: &SplitRule,
            rule: &SplitRule,
        ) -> Result<(), Error> {
            let units = self.pools.get(artifact).map(|p| p.total_units).unwrap_or(0);
            if units > 0 && rule.compute_bps < current.compute_bps {
                return Err(Error::ComputeShareLocked);
            }
            Ok(())
        }

        /// First payment to an artifact: its parents and the rule declared at registration,
        /// stored once.
        fn entry_from_record(
            &mut self,
            artifact: ArtifactId,
            record: &Artifact,
        ) -> Result<Entry, Error> {
            if record.parents.len() > MAX_PARENTS {
                return Err(Error::TooManyParents);
            }
            record.split_rule.validate().map_err(|_| Error::NoRule)?;
            let entry = Entry {
                rule: record.split_rule,
                parents: record.parents.iter().map(|p| p.id).collect(),
                pending: None,
            };
            storage::put(&mut self.entries, artifact, &entry)?;
            self.env().emit_event(RuleSet {
                artifact,
                owner: AccountId::from(record.owner),
                rule: record.split_rule,
            });
            Ok(entry)
        }

        fn credit(&mut self, account: AccountId, amount: Balance) -> Result<(), Error> {
            if amount == 0 {
                return Ok(());
            }
            let now = self.balances.get(account).unwrap_or(0);
            self.balances.insert(account, &now.checked_add(amount).ok_or(Error::Overflow)?);
            Ok(())
        }

        #[cfg(not(test))]
        fn registry_get(&self, id: ArtifactId) -> Result<Option<Artifact>, Error> {
            use ink::env::call::{build_call, ExecutionInput, Selector};
            build_call::<ink::env::DefaultEnvironment>()
                .call(self.registry)
                .exec_input(
                    ExecutionInput::new(Selector::new(iollm_types::registry::selectors::GET))
                        .push_arg(id),
                )
                .returns::<Option<Artifact>>()
                .try_invoke()
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::CallFailed)
        }

        #[cfg(not(test))]
        fn market_admin_delay(&self) -> Result<BlockNumber, Error> {
            use ink::env::call::{build_call, ExecutionInput, Selector};
            build_call::<ink::env::DefaultEnvironment>()
                .call(self.market)
                .exec_input(ExecutionInput::new(Selector::new(
                    iollm_types::market::selectors::ADMIN_DELAY,
                )))
                .returns::<BlockNumber>()
                .try_invoke()
                .map_err(|_| Error::CallFailed)?
                .map_err(|_| Error::CallFailed)
        }

        #[cfg(test)]
        fn registry_get(&self, id: ArtifactId) -> Result<Option<Artifact>, Error> {
            tests::MOCK_REGISTRY.with(|r| r.borrow().get(&id).cloned().ok_or(Error::CallFailed))
        }

        #[cfg(test)]
        fn market_admin_delay(&self) -> Result<BlockNumber, Error> {
            Ok(tests::DELAY)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use core::cell::RefCell;
        use ink::env::test::{
            default_accounts, get_account_balance, recorded_events, set_account_balance,
            set_block_number, set_caller, set_value_transferred, DefaultAccounts,
        };
        use ink::env::DefaultEnvironment as Env;
        use ink::scale::Decode;
        use iollm_types::admin::events as admin_events;
        use iollm_types::registry::{Kind, Parent, Relation};
        use iollm_types::splitter::{events, selectors};
        use std::collections::BTreeMap;

        std::thread_local! {
            /// What the registry answers to `get(id)`: `None` inside means "no such artifact",
            /// a missing key means the call itself fails.
            pub static MOCK_REGISTRY: RefCell<BTreeMap<ArtifactId, Option<Artifact>>> =
                const { RefCell::new(BTreeMap::new()) };
        }

        /// What the mock market answers to `admin_delay()`.
        pub const DELAY: BlockNumber = 100;
        /// One credit's worth of units.
        const U: Balance = MIN_CREDIT_UNITS;

        const RULE: SplitRule = SplitRule {
            designer_bps: 5_000,
            compute_bps: 3_000,
            upstream_bps: 1_500,
            treasury_bps: 500,
        };

        fn accounts() -> DefaultAccounts<Env> {
            default_accounts::<Env>()
        }

        fn artifact(owner: AccountId, parents: &[ArtifactId]) -> Artifact {
            Artifact {
                kind: Kind::Model,
                owner: bytes(&owner),
                manifest_cid: b"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o".to_vec(),
                registered_at: 1,
                parents: parents
                    .iter()
                    .map(|id| Parent { id: *id, relation: Relation::Finetune })
                    .collect(),
                version: 1,
                previous: None,
                deprecated: false,
                job: None,
                split_rule: SplitRule::DESIGNER_ONLY,
            }
        }

        fn set_owner(id: ArtifactId, owner: AccountId) {
            MOCK_REGISTRY.with(|r| {
                let mut r = r.borrow_mut();
                let mut record = r.get(&id).cloned().flatten().unwrap();
                record.owner = bytes(&owner);
                r.insert(id, Some(record));
            });
        }

        /// A splitter (admin alice, market charlie, treasury eve) with artifacts 1 (owner bob)
        /// and 2 (owner django, child of 1); no rule set yet.
        fn setup() -> Splitter {
            let a = accounts();
            MOCK_REGISTRY.with(|r| {
                let mut r = r.borrow_mut();
                r.clear();
                r.insert(1, Some(artifact(a.bob, &[])));
                r.insert(2, Some(artifact(a.django, &[1])));
                r.insert(3, None);
            });
            set_block_number::<Env>(1);
            set_caller::<Env>(a.alice);
            Splitter::new(a.frank, a.charlie, a.eve)
        }

        fn with_rules() -> Splitter {
            let a = accounts();
            let mut s = setup();
            set_caller::<Env>(a.bob);
            s.set_rule(1, RULE).unwrap();
            set_caller::<Env>(a.django);
            s.set_rule(2, RULE).unwrap();
            s
        }

        fn pay(
            s: &mut Splitter,
            from: AccountId,
            artifact: ArtifactId,
            value: Balance,
        ) -> Result<(), Error> {
            set_caller::<Env>(from);
            set_value_transferred::<Env>(value);
            let r = s.pay_revenue(artifact);
            set_value_transferred::<Env>(0);
            r
        }

        /// The market credits `units`, paying their value with the call.
        fn credit(s: &mut Splitter, artifact: ArtifactId, who: AccountId, units: Balance) {
            set_caller::<Env>(accounts().charlie);
            set_value_transferred::<Env>(units);
            s.credit_units(artifact, who, units).unwrap();
            set_value_transferred::<Env>(0);
        }

        #[ink::test]
        fn set_rule_copies_parents_and_checks_the_caller() {
            let a = accounts();
            let mut s = setup();
            set_caller::<Env>(a.bob);
            let bad = SplitRule { designer_bps: 1, ..RULE };
            assert_eq!(s.set_rule(1, bad), Err(Error::BadRule));
            assert_eq!(s.set_rule(3, RULE), Err(Error::UnknownArtifact));
            assert_eq!(s.set_rule(9, RULE), Err(Error::CallFailed));
            assert_eq!(s.set_rule(2, RULE), Err(Error::NotOwner));
            MOCK_REGISTRY.with(|r| {
                r.borrow_mut().insert(4, Some(artifact(a.bob, &[1, 1, 1, 1, 1])));
            });
            assert_eq!(s.set_rule(4, RULE), Err(Error::TooManyParents));
            assert_eq!(recorded_events().count(), 0);

            s.set_rule(1, RULE).unwrap();
            set_caller::<Env>(a.django);
            s.set_rule(2, RULE).unwrap();
            assert_eq!(s.entry(2), Some(Entry { rule: RULE, parents: vec![1], pending: None }));
            let ev = recorded_events().collect::<Vec<_>>();
            assert_eq!(ev.len(), 2);
            assert_eq!(ev[1].topics[0], events::RULE_SET_TOPIC);
            let e = events::RuleSet::decode(&mut &ev[1].data[..]).unwrap();
            assert_eq!(e, events::RuleSet { artifact: 2, owner: bytes(&a.django), rule: RULE });
        }

        /// Finding 5: once units exist the compute share can only rise; lowering the compute
        /// share before units exist, or the upstream share, waits the timelock (and no new job
        /// may credit units while a compute cut is announced); an applied rule is still
        /// checked; an announcement goes stale.
        #[ink::test]
        fn compute_share_cannot_fall_and_upstream_cuts_wait_the_timelock() {
            let a = accounts();
            let mut s = with_rules();
            set_caller::<Env>(a.django);
            assert!(s.may_credit(2, a.django));
            // No units yet: a compute cut is only announced, and stops new credits meanwhile
            // (an executor that claimed before it is credited before it can apply).
            let less_compute = SplitRule { designer_bps: 6_000, compute_bps: 2_000, ..RULE };
            s.set_rule(2, less_compute).unwrap();
            assert_eq!(s.entry(2).unwrap().rule, RULE);
            assert_eq!(s.entry(2).unwrap().pending, Some((less_compute, 1 + DELAY)));
            assert!(!s.may_credit(2, a.django));
            // Raising it back applies at once and drops the announcement.
            s.set_rule(2, RULE).unwrap();
            assert_eq!(s.entry(2).unwrap().pending, None);
            assert!(s.may_credit(2, a.django));
            credit(&mut s, 2, a.frank, U);
            set_caller::<Env>(a.django);
            assert_eq!(s.set_rule(2, less_compute), Err(Error::ComputeShareLocked));
            let zero = SplitRule { designer_bps: 8_000, compute_bps: 0, ..RULE };
            assert_eq!(s.set_rule(2, zero), Err(Error::ComputeShareLocked));
            let more_compute = SplitRule { designer_bps: 4_000, compute_bps: 4_000, ..RULE };
            s.set_rule(2, more_compute).unwrap();
            assert_eq!(s.entry(2).unwrap().rule, more_compute);
            // Cutting the parents' share is only announced.
            let no_upstream = SplitRule { designer_bps: 5_500, upstream_bps: 0, ..more_compute };
            s.set_rule(2, no_upstream).unwrap();
            assert_eq!(s.entry(2).unwrap().rule, more_compute);
            assert_eq!(s.entry(2).unwrap().pending, Some((no_upstream, 1 + DELAY)));
            let ev = recorded_events().last().unwrap();
            let e = events::RuleProposed::decode(&mut &ev.data[..]).unwrap();
            assert_eq!(e, events::RuleProposed { artifact: 2, rule: no_upstream, eta: 1 + DELAY });
            // Revenue meanwhile goes by the rule in force: 15 % upstream (of the credit's
            // value, paid as revenue, and of this payment).
            pay(&mut s, a.alice, 2, 10_000).unwrap();
            assert_eq!(s.inbox_of(1), 150_000 + 1_500);
            set_block_number::<Env>(DELAY);
            assert_eq!(s.apply_rule(2), Err(Error::Timelocked));
            assert_eq!(s.apply_rule(1), Err(Error::NothingProposed));
            set_block_number::<Env>(1 + DELAY);
            s.apply_rule(2).unwrap(); // anyone
            assert_eq!(
                s.entry(2).unwrap(),
                Entry { rule: no_upstream, parents: vec![1], pending: None }
            );
            assert_eq!(s.apply_rule(2), Err(Error::NothingProposed));
            // The first rule set is compared with the one declared at registration.
            MOCK_REGISTRY.with(|r| {
                let mut declared = artifact(a.bob, &[2]);
                declared.split_rule = RULE;
                r.borrow_mut().insert(5, Some(declared));
            });
            set_caller::<Env>(a.bob);
            let cut = SplitRule { designer_bps: 6_500, upstream_bps: 0, ..RULE };
            s.set_rule(5, cut).unwrap();
            assert_eq!(s.entry(5).unwrap().rule, RULE);
            // Not applied within APPLY_WITHIN blocks of its eta: stale, never applies.
            let eta = s.entry(5).unwrap().pending.unwrap().1;
            set_block_number::<Env>(eta + APPLY_WITHIN + 1);
            assert_eq!(s.apply_rule(5), Err(Error::Stale));
            assert_eq!(s.entry(5).unwrap().rule, RULE);
        }

        #[ink::test]
        fn revenue_without_holders_or_parents_goes_to_owner_and_treasury() {
            let a = accounts();
            let mut s = with_rules();
            assert_eq!(pay(&mut s, a.alice, 7, 100), Err(Error::CallFailed));
            assert_eq!(pay(&mut s, a.alice, 3, 100), Err(Error::UnknownArtifact));
            pay(&mut s, a.alice, 1, 1_001).unwrap();
            // treasury 5 % of 1001 = 50; the rest (designer + compute + upstream) to bob.
            assert_eq!(s.balance_of(a.eve, None), 50);
            assert_eq!(s.balance_of(a.bob, None), 951);
            let ev = recorded_events().last().unwrap();
            assert_eq!(ev.topics[0], events::REVENUE_PAID_TOPIC);
            let e = events::RevenuePaid::decode(&mut &ev.data[..]).unwrap();
            assert_eq!(
                e,
                events::RevenuePaid {
                    artifact: 1,
                    payer: bytes(&a.alice),
                    amount: 1_001,
                    designer: 501,
                    compute: 300,
                    upstream: 150,
                    treasury: 50,
                }
            );
        }

        /// Finding 11: after a transfer the designer part goes to the new owner.
        #[ink::test]
        fn the_designer_part_goes_to_the_owner_at_payment_time() {
            let a = accounts();
            let mut s = with_rules();
            pay(&mut s, a.alice, 1, 1_000).unwrap();
            set_owner(1, a.frank);
            pay(&mut s, a.alice, 1, 1_000).unwrap();
            assert_eq!(s.balance_of(a.bob, None), 950);
            assert_eq!(s.balance_of(a.frank, None), 950);
            // The seller can no longer change the rule; the buyer can.
            set_caller::<Env>(a.bob);
            assert_eq!(s.set_rule(1, SplitRule::DESIGNER_ONLY), Err(Error::NotOwner));
        }

        #[ink::test]
        fn the_first_payment_takes_the_rule_declared_at_registration() {
            let a = accounts();
            let mut s = setup();
            MOCK_REGISTRY.with(|r| {
                let mut declared = artifact(a.django, &[1]);
                declared.split_rule = RULE;
                r.borrow_mut().insert(2, Some(declared));
            });
            pay(&mut s, a.alice, 2, 1_000).unwrap();
            assert_eq!(s.entry(2), Some(Entry { rule: RULE, parents: vec![1], pending: None }));
            assert_eq!(s.balance_of(a.django, None), 500 + 300);
            assert_eq!(s.inbox_of(1), 150);
            let ev = recorded_events().collect::<Vec<_>>();
            assert_eq!(ev[0].topics[0], events::RULE_SET_TOPIC);
            // An invalid declared rule (only possible from a foreign registry) is refused.
            MOCK_REGISTRY.with(|r| {
                let mut bad = artifact(a.bob, &[]);
                bad.split_rule.designer_bps = 1;
                r.borrow_mut().insert(5, Some(bad));
                r.borrow_mut().insert(6, Some(artifact(a.bob, &[1, 1, 1, 1, 1])));
            });
            assert_eq!(pay(&mut s, a.alice, 5, 1), Err(Error::NoRule));
            assert_eq!(pay(&mut s, a.alice, 6, 1), Err(Error::TooManyParents));
        }

        #[ink::test]
        fn upstream_is_queued_for_parents_and_compute_shared_by_units() {
            let a = accounts();
            let mut s = with_rules();
            // Each credit's value (one planck per unit) is paid as revenue before the units
            // exist: charlie's U goes to the owner (no holders yet), frank's 2U shares its
            // compute part with charlie.
            credit(&mut s, 2, a.charlie, U);
            credit(&mut s, 2, a.frank, 2 * U);
            pay(&mut s, a.alice, 2, 10_000).unwrap();
            assert_eq!(s.inbox_of(1), 150_000 + 300_000 + 1_500);
            assert_eq!(s.balance_of(a.django, None), 800_000 + 1_000_000 + 5_000);
            assert_eq!(s.balance_of(a.charlie, Some(2)), 600_000 + 1_000);
            assert_eq!(s.balance_of(a.frank, Some(2)), 2_000);
            assert_eq!(s.pool(2).total_units, 3 * U);
            assert_eq!(s.units_of(2, a.frank), 2 * U);
            // A zero-value payment flushes the parent's inbox through its rule.
            pay(&mut s, a.alice, 1, 0).unwrap();
            assert_eq!(s.inbox_of(1), 0);
            assert_eq!(s.balance_of(a.bob, None), 451_500 - 22_575);
            assert_eq!(s.balance_of(a.eve, None), 50_000 + 100_000 + 500 + 22_575);
        }

        /// Findings 1 and 2: only the market credits units, within bounds per credit and per
        /// pool, so no credit can saturate a pool.
        #[ink::test]
        fn only_the_market_credits_bounded_units() {
            let a = accounts();
            let mut s = with_rules();
            let as_market = |units: Balance| {
                set_caller::<Env>(a.charlie);
                set_value_transferred::<Env>(units);
            };
            set_caller::<Env>(a.bob);
            assert_eq!(s.credit_units(1, a.bob, U), Err(Error::NotMarket));
            as_market(0);
            assert_eq!(s.credit_units(1, a.bob, 0), Err(Error::ZeroUnits));
            // Units come with their value: a credit without it is refused.
            assert_eq!(s.credit_units(1, a.bob, U), Err(Error::UnitsNotPaid));
            as_market(U - 1);
            assert_eq!(s.credit_units(1, a.bob, U - 1), Err(Error::UnitsOutOfBounds));
            as_market(MAX_CREDIT_UNITS + 1);
            assert_eq!(
                s.credit_units(1, a.bob, MAX_CREDIT_UNITS + 1),
                Err(Error::UnitsOutOfBounds)
            );
            // The audit's saturation attack: u128::MAX - total.
            as_market(u128::MAX);
            assert_eq!(s.credit_units(1, a.eve, u128::MAX), Err(Error::UnitsOutOfBounds));
            as_market(U);
            s.credit_units(1, a.bob, U).unwrap();
            let ev = recorded_events().last().unwrap();
            assert_eq!(ev.topics[0], events::UNITS_CREDITED_TOPIC);
            let e = events::UnitsCredited::decode(&mut &ev.data[..]).unwrap();
            assert_eq!(e, events::UnitsCredited { artifact: 1, account: bytes(&a.bob), units: U });
            // The pool fills up to its bound and no further; revenue still flows.
            let credits = MAX_POOL_UNITS / MAX_CREDIT_UNITS;
            for _ in 0..credits - 1 {
                as_market(MAX_CREDIT_UNITS);
                s.credit_units(1, a.eve, MAX_CREDIT_UNITS).unwrap();
            }
            assert_eq!(s.credit_units(1, a.eve, MAX_CREDIT_UNITS), Err(Error::UnitsOutOfBounds));
            as_market(MAX_CREDIT_UNITS - U);
            s.credit_units(1, a.eve, MAX_CREDIT_UNITS - U).unwrap();
            assert_eq!(s.pool(1).total_units, MAX_POOL_UNITS);
            as_market(U);
            assert_eq!(s.credit_units(1, a.eve, U), Err(Error::UnitsOutOfBounds));
            set_value_transferred::<Env>(0);
            pay(&mut s, a.alice, 1, MAX_CREDIT_UNITS).unwrap();
            pay(&mut s, a.alice, 1, 1).unwrap();
        }

        #[ink::test]
        fn owners_authorise_posters_and_a_transfer_ends_it() {
            let a = accounts();
            let mut s = with_rules();
            assert!(s.may_credit(1, a.bob));
            assert!(!s.may_credit(1, a.eve));
            assert!(!s.may_credit(3, a.bob)); // no such artifact
            assert!(!s.may_credit(9, a.bob)); // registry call fails
            set_caller::<Env>(a.eve);
            assert_eq!(s.authorise(1, a.eve, true), Err(Error::NotOwner));
            set_caller::<Env>(a.bob);
            s.authorise(1, a.eve, true).unwrap();
            assert!(s.may_credit(1, a.eve));
            let ev = recorded_events().last().unwrap();
            let e = events::Authorised::decode(&mut &ev.data[..]).unwrap();
            assert_eq!(
                e,
                events::Authorised {
                    artifact: 1,
                    owner: bytes(&a.bob),
                    delegate: bytes(&a.eve),
                    allowed: true
                }
            );
            set_owner(1, a.frank);
            assert!(!s.may_credit(1, a.eve));
            assert!(!s.may_credit(1, a.bob));
            assert!(s.may_credit(1, a.frank));
            set_owner(1, a.bob);
            s.authorise(1, a.eve, false).unwrap();
            assert!(!s.may_credit(1, a.eve));
        }

        #[ink::test]
        fn withdraw_pulls_balance_and_shares_once() {
            let a = accounts();
            let mut s = with_rules();
            let contract = ink::env::account_id::<Env>();
            set_account_balance::<Env>(contract, 10_000_000);
            credit(&mut s, 1, a.frank, 3 * U); // its value: 95 % to bob, 5 % to the treasury
            pay(&mut s, a.alice, 1, 10_000).unwrap();
            let before = get_account_balance::<Env>(a.frank).unwrap();
            set_caller::<Env>(a.frank);
            assert_eq!(s.withdraw(None), Err(Error::NothingToWithdraw));
            assert_eq!(s.withdraw(Some(1)), Ok(3_000));
            assert_eq!(get_account_balance::<Env>(a.frank).unwrap(), before + 3_000);
            assert_eq!(s.withdraw(Some(1)), Err(Error::NothingToWithdraw));
            let ev = recorded_events().last().unwrap();
            assert_eq!(ev.topics[0], events::WITHDRAWN_TOPIC);
            let e = events::Withdrawn::decode(&mut &ev.data[..]).unwrap();
            assert_eq!(e, events::Withdrawn { account: bytes(&a.frank), amount: 3_000 });
            set_caller::<Env>(a.bob);
            assert_eq!(s.withdraw(None), Ok(2_850_000 + 6_500));
            // (A failing transfer, `TransferFailed`, panics in the off-chain engine instead of
            // returning an error; the end-to-end tests cover it on the node.)
        }

        /// Random payments, credits and withdrawals over a lineage (2 is a child of 1): what
        /// was paid in equals what was withdrawn plus what is owed (balances, share claims,
        /// inboxes) plus the dust the pools carry: below one unit per holder and pool, plus each
        /// pool's scaled carry. So the sum of what can be withdrawn never exceeds the contract's balance,
        /// and no bounded credit ever makes a payment fail.
        #[ink::test]
        fn withdrawable_never_exceeds_what_was_paid_in() {
            let a = accounts();
            let who = [a.alice, a.bob, a.charlie, a.django, a.eve, a.frank];
            let mut s = with_rules();
            set_account_balance::<Env>(ink::env::account_id::<Env>(), u128::MAX / 2);
            let mut rng = 7u64;
            let mut next = |n: u64| {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (rng >> 33) % n
            };
            let (mut paid_in, mut paid_out) = (0u128, 0u128);
            for _ in 0..300 {
                let artifact = next(2) + 1;
                let account = who[next(6) as usize];
                match next(3) {
                    0 => {
                        let amount = u128::from(next(1_000_000) as u32) << next(60);
                        pay(&mut s, a.alice, artifact, amount).unwrap();
                        paid_in += amount;
                    }
                    1 => {
                        let units = ((u128::from(next(1_000) as u32) + 1) * U) << next(30);
                        set_caller::<Env>(a.charlie);
                        set_value_transferred::<Env>(units);
                        if s.credit_units(artifact, account, units).is_ok() {
                            paid_in += units;
                        }
                        set_value_transferred::<Env>(0);
                    }
                    _ => {
                        set_caller::<Env>(account);
                        if let Ok(x) = s.withdraw(Some(artifact)) {
                            paid_out += x;
                        }
                    }
                }
                let mut owed = s.inbox_of(1) + s.inbox_of(2);
                for w in who {
                    owed += s.balance_of(w, None);
                    for art in [1, 2] {
                        owed += s.balance_of(w, Some(art)) - s.balance_of(w, None);
                    }
                }
                assert!(paid_out + owed <= paid_in);
                // Dust: below one unit per (holder, pool), plus each pool's carry (below
                // `total_units / SCALE + 1`, and handed on with the next payment).
                let carried: u128 = [1, 2]
                    .map(|art| s.pool(art).total_units / iollm_types::shares::SCALE + 1)
                    .iter()
                    .sum();
                assert!(paid_in - paid_out - owed <= 2 * 6 + carried);
            }
        }

        /// Finding 6: address and code changes wait the market's timelock; hand-over is two
        /// steps.
        #[ink::test]
        fn admin_changes_wait_for_the_timelock() {
            let a = accounts();
            let mut s = setup();
            let change =
                Change::Addresses { registry: [1; 32], market: [2; 32], treasury: [3; 32] };
            set_caller::<Env>(a.bob);
            assert_eq!(s.propose_change(change.clone()), Err(Error::NotAdmin));
            assert_eq!(s.propose_admin(a.bob), Err(Error::NotAdmin));
            assert_eq!(s.apply_change(), Err(Error::NothingProposed));
            set_caller::<Env>(a.alice);
            assert_eq!(s.propose_change(change.clone()), Ok(1 + DELAY));
            assert_eq!(s.pending_change(), Some((change.clone(), 1 + DELAY)));
            set_block_number::<Env>(DELAY);
            assert_eq!(s.apply_change(), Err(Error::Timelocked));
            set_block_number::<Env>(1 + DELAY);
            set_caller::<Env>(a.bob);
            s.apply_change().unwrap();
            let (x, y, z) =
                (AccountId::from([1; 32]), AccountId::from([2; 32]), AccountId::from([3; 32]));
            assert_eq!(s.params(), (a.alice, x, y, z));
            let ev = recorded_events().last().unwrap();
            assert_eq!(ev.topics[0], admin_events::CHANGE_APPLIED_TOPIC);
            assert_eq!(
                admin_events::ChangeApplied::<Change>::decode(&mut &ev.data[..]).unwrap().change,
                change
            );
            set_caller::<Env>(a.alice);
            s.propose_change(Change::Code([1; 32])).unwrap();
            s.cancel_change().unwrap();
            assert_eq!(s.pending_change(), None);
            s.propose_admin(a.django).unwrap();
            set_caller::<Env>(a.eve);
            assert_eq!(s.accept_admin(), Err(Error::NotProposedAdmin));
            set_caller::<Env>(a.django);
            s.accept_admin().unwrap();
            assert_eq!(s.params().0, a.django);
        }

        #[ink::test]
        #[should_panic(expected = "off-chain environment does not support `set_code_hash`")]
        fn an_applied_code_change_reaches_set_code_hash() {
            let mut s = setup();
            set_caller::<Env>(accounts().alice);
            s.propose_change(Change::Code([1; 32])).unwrap();
            set_block_number::<Env>(1 + DELAY);
            let _ = s.apply_change();
        }

        /// Storage written before an upgrade stays readable after it: the root's field order and
        /// the mappings' fixed keys are frozen here; a new version must keep decoding them.
        #[ink::test]
        fn storage_layout_is_frozen() {
            // Root v2: (admin, registry, market, treasury); the mappings store nothing inline.
            type RootV2 = (Admin<Change>, AccountId, AccountId, AccountId);
            let a = accounts();
            let mut s = with_rules();
            credit(&mut s, 1, a.frank, 3 * U);
            pay(&mut s, a.alice, 2, 10_000).unwrap();
            set_caller::<Env>(a.bob);
            s.authorise(1, a.eve, true).unwrap();
            ink::env::set_contract_storage(&0u32, &s);
            let root: RootV2 = ink::env::get_contract_storage(&0u32).unwrap().unwrap();
            assert_eq!(root, (Admin::new(bytes(&a.alice)), a.frank, a.charlie, a.eve));
            let entry: Entry =
                ink::env::get_contract_storage(&(0x5350_0001u32, 2u64)).unwrap().unwrap();
            assert_eq!(entry.parents, vec![1]);
            let pool: Pool =
                ink::env::get_contract_storage(&(0x5350_0002u32, 1u64)).unwrap().unwrap();
            assert_eq!(pool.total_units, 3 * U);
            let holder: Holder = ink::env::get_contract_storage(&(0x5350_0003u32, (1u64, a.frank)))
                .unwrap()
                .unwrap();
            assert_eq!(holder.units, 3 * U);
            let bal: Balance =
                ink::env::get_contract_storage(&(0x5350_0004u32, a.django)).unwrap().unwrap();
            assert_eq!(bal, 8_000); // no compute holders on 2: the compute part went to the owner
            let inbox: Balance =
                ink::env::get_contract_storage(&(0x5350_0005u32, 1u64)).unwrap().unwrap();
            assert_eq!(inbox, 1_500);
            let delegate: Option<()> =
                ink::env::get_contract_storage(&(0x5350_0006u32, (1u64, a.bob, a.eve))).unwrap();
            assert!(delegate.is_some());
        }

        #[ink::test]
        fn shared_selectors_and_topics_match_the_contract() {
            use ink::env::Event;
            use ink::selector_bytes as sel;
            let s = [
                (selectors::NEW, sel!("new")),
                (selectors::SET_RULE, sel!("set_rule")),
                (selectors::APPLY_RULE, sel!("apply_rule")),
                (selectors::AUTHORISE, sel!("authorise")),
                (selectors::MAY_CREDIT, sel!("may_credit")),
                (selectors::PAY_REVENUE, sel!("pay_revenue")),
                (selectors::CREDIT_UNITS, sel!("credit_units")),
                (selectors::WITHDRAW, sel!("withdraw")),
                (selectors::BALANCE_OF, sel!("balance_of")),
                (selectors::ENTRY, sel!("entry")),
                (selectors::POOL, sel!("pool")),
                (selectors::UNITS_OF, sel!("units_of")),
                (selectors::INBOX_OF, sel!("inbox_of")),
                (selectors::PROPOSE_CHANGE, sel!("propose_change")),
                (selectors::APPLY_CHANGE, sel!("apply_change")),
                (selectors::CANCEL_CHANGE, sel!("cancel_change")),
                (selectors::PROPOSE_ADMIN, sel!("propose_admin")),
                (selectors::ACCEPT_ADMIN, sel!("accept_admin")),
                (selectors::PENDING_CHANGE, sel!("pending_change")),
                (selectors::PARAMS, sel!("params")),
            ];
            for (ours, inks) in s {
                assert_eq!(ours, inks);
            }
            let t = [
                (events::RULE_SET_TOPIC, RuleSet::SIGNATURE_TOPIC),
                (events::RULE_PROPOSED_TOPIC, RuleProposed::SIGNATURE_TOPIC),
                (events::AUTHORISED_TOPIC, Authorised::SIGNATURE_TOPIC),
                (events::REVENUE_PAID_TOPIC, RevenuePaid::SIGNATURE_TOPIC),
                (events::UNITS_CREDITED_TOPIC, UnitsCredited::SIGNATURE_TOPIC),
                (events::WITHDRAWN_TOPIC, Withdrawn::SIGNATURE_TOPIC),
                (admin_events::CHANGE_PROPOSED_TOPIC, ChangeProposed::SIGNATURE_TOPIC),
                (admin_events::CHANGE_APPLIED_TOPIC, ChangeApplied::SIGNATURE_TOPIC),
                (admin_events::CHANGE_CANCELLED_TOPIC, ChangeCancelled::SIGNATURE_TOPIC),
                (admin_events::ADMIN_PROPOSED_TOPIC, AdminProposed::SIGNATURE_TOPIC),
                (admin_events::ADMIN_CHANGED_TOPIC, AdminChanged::SIGNATURE_TOPIC),
            ];
            for (ours, inks) in t {
                assert_eq!(Some(ours), inks);
            }
        }
    }
}
