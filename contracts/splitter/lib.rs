//! The iollm splitter: per-artifact profit-split rules, revenue accounting and pull payments.
//!
//! `pay_revenue(artifact)` (payable) splits the payment, plus whatever the artifact's parents'
//! children queued for it upstream, by the artifact's rule: designer and treasury parts are
//! credited to balances, the compute part goes to the artifact's share pool
//! (accumulator-per-share, O(1) whatever the number of holders; [`iollm_types::shares`]), the
//! upstream part is queued in equal parts in the parents' inboxes. Nobody is ever pushed money:
//! `withdraw` pulls. Only the market contract credits share units (joint mining).
//!
//! What it is not: the owner of artifacts. Owners and parents are copied from the registry by
//! `set_rule` (which the owner calls again after a transfer).
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod splitter {
    use ink::storage::Mapping;
    use iollm_types::registry::{Artifact, ArtifactId};
    use iollm_types::shares::{Holder, Pool, ShareError};
    use iollm_types::split::{split_evenly, SplitRule};
    use iollm_types::splitter::{Entry, Error, MAX_PARENTS};

    /// Splitter storage. Mapping keys are fixed (`ManualKey`) so an upgrade that reorders or
    /// renames fields still finds the data written before it.
    #[ink(storage)]
    pub struct Splitter {
        admin: AccountId,
        registry: AccountId,
        market: AccountId,
        treasury: AccountId,
        entries: Mapping<ArtifactId, Entry, ink::storage::traits::ManualKey<0x5350_0001>>,
        pools: Mapping<ArtifactId, Pool, ink::storage::traits::ManualKey<0x5350_0002>>,
        holders:
            Mapping<(ArtifactId, AccountId), Holder, ink::storage::traits::ManualKey<0x5350_0003>>,
        balances: Mapping<AccountId, Balance, ink::storage::traits::ManualKey<0x5350_0004>>,
        inbox: Mapping<ArtifactId, Balance, ink::storage::traits::ManualKey<0x5350_0005>>,
    }

    /// An artifact's rule was set (layout: `iollm_types::splitter::events::RuleSet`).
    #[ink(event)]
    pub struct RuleSet {
        #[ink(topic)]
        artifact: ArtifactId,
        owner: AccountId,
        rule: SplitRule,
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

    /// The admin changed parameters or code (layout: `…::events::ParamsChanged`).
    #[ink(event)]
    pub struct ParamsChanged {
        admin: AccountId,
    }

    fn share_err(e: ShareError) -> Error {
        match e {
            ShareError::Overflow => Error::Overflow,
            ShareError::NoUnits => Error::Overflow,
        }
    }

    impl Splitter {
        /// A splitter whose admin is the caller, reading artifacts from `registry`, accepting
        /// share credits from `market`, paying the treasury part to `treasury`.
        #[ink(constructor)]
        pub fn new(registry: AccountId, market: AccountId, treasury: AccountId) -> Self {
            Self {
                admin: Self::env().caller(),
                registry,
                market,
                treasury,
                entries: Mapping::new(),
                pools: Mapping::new(),
                holders: Mapping::new(),
                balances: Mapping::new(),
                inbox: Mapping::new(),
            }
        }

        /// Sets `artifact`'s split rule; the caller must own it in the registry. Owner and
        /// parents are copied from the registry (call again after a transfer).
        #[ink(message)]
        pub fn set_rule(&mut self, artifact: ArtifactId, rule: SplitRule) -> Result<(), Error> {
            rule.validate().map_err(|_| Error::BadRule)?;
            let record = self.registry_get(artifact)?.ok_or(Error::UnknownArtifact)?;
            let caller = self.env().caller();
            if record.owner != *AsRef::<[u8; 32]>::as_ref(&caller) {
                return Err(Error::NotOwner);
            }
            if record.parents.len() > MAX_PARENTS {
                return Err(Error::TooManyParents);
            }
            let parents = record.parents.iter().map(|p| p.id).collect();
            self.entries.insert(artifact, &Entry { owner: record.owner, rule, parents });
            self.env().emit_event(RuleSet { artifact, owner: caller, rule });
            Ok(())
        }

        /// Pays the transferred value (plus the artifact's upstream inbox) to `artifact`'s
        /// contributors by its rule. O(1) in the number of share holders; touches at most
        /// [`MAX_PARENTS`] inboxes. With no share holders the compute part goes to the owner;
        /// with no parents the upstream part does.
        #[ink(message, payable)]
        pub fn pay_revenue(&mut self, artifact: ArtifactId) -> Result<(), Error> {
            let entry = match self.entries.get(artifact) {
                Some(entry) => entry,
                None => self.entry_from_registry(artifact)?,
            };
            let paid = self.env().transferred_value();
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

            let owner = AccountId::from(entry.owner);
            self.credit(owner, to_owner)?;
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

        /// Credits `units` compute share units of `artifact` to `account`. Market only.
        #[ink(message)]
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

        /// `artifact`'s entry (owner, rule, parents), if a rule is set.
        #[ink(message)]
        pub fn entry(&self, artifact: ArtifactId) -> Option<Entry> {
            self.entries.get(artifact)
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

        /// Admin only: changes the registry, market and treasury addresses.
        #[ink(message)]
        pub fn set_params(
            &mut self,
            registry: AccountId,
            market: AccountId,
            treasury: AccountId,
        ) -> Result<(), Error> {
            self.ensure_admin()?;
            self.registry = registry;
            self.market = market;
            self.treasury = treasury;
            self.env().emit_event(ParamsChanged { admin: self.admin });
            Ok(())
        }

        /// The admin, registry, market and treasury addresses.
        #[ink(message)]
        pub fn params(&self) -> (AccountId, AccountId, AccountId, AccountId) {
            (self.admin, self.registry, self.market, self.treasury)
        }

        /// Admin only: replaces the contract's code, keeping its storage.
        #[ink(message)]
        pub fn set_code_hash(&mut self, code_hash: Hash) -> Result<(), Error> {
            self.ensure_admin()?;
            self.env().set_code_hash(&code_hash).map_err(|_| Error::UpgradeFailed)?;
            self.env().emit_event(ParamsChanged { admin: self.admin });
            Ok(())
        }

        /// First payment to an artifact: copies owner, parents and the rule declared at
        /// registration from the registry (one cross-contract call, once per artifact).
        fn entry_from_registry(&mut self, artifact: ArtifactId) -> Result<Entry, Error> {
            let record = self.registry_get(artifact)?.ok_or(Error::UnknownArtifact)?;
            if record.parents.len() > MAX_PARENTS {
                return Err(Error::TooManyParents);
            }
            record.split_rule.validate().map_err(|_| Error::NoRule)?;
            let entry = Entry {
                owner: record.owner,
                rule: record.split_rule,
                parents: record.parents.iter().map(|p| p.id).collect(),
            };
            self.entries.insert(artifact, &entry);
            self.env().emit_event(RuleSet {
                artifact,
                owner: AccountId::from(record.owner),
                rule: record.split_rule,
            });
            Ok(entry)
        }

        fn ensure_admin(&self) -> Result<(), Error> {
            if self.env().caller() == self.admin {
                Ok(())
            } else {
                Err(Error::NotAdmin)
            }
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

        #[cfg(test)]
        fn registry_get(&self, id: ArtifactId) -> Result<Option<Artifact>, Error> {
            tests::MOCK_REGISTRY.with(|r| r.borrow().get(&id).cloned().ok_or(Error::CallFailed))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use core::cell::RefCell;
        use ink::env::test::{
            default_accounts, get_account_balance, recorded_events, set_account_balance,
            set_caller, set_value_transferred, DefaultAccounts,
        };
        use ink::env::DefaultEnvironment as Env;
        use ink::scale::Decode;
        use iollm_types::registry::{Kind, Parent, Relation};
        use iollm_types::splitter::{events, selectors};
        use std::collections::BTreeMap;

        std::thread_local! {
            /// What the registry answers to `get(id)`: `None` inside means "no such artifact",
            /// a missing key means the call itself fails.
            pub static MOCK_REGISTRY: RefCell<BTreeMap<ArtifactId, Option<Artifact>>> =
                const { RefCell::new(BTreeMap::new()) };
        }

        const RULE: SplitRule = SplitRule {
            designer_bps: 5_000,
            compute_bps: 3_000,
            upstream_bps: 1_500,
            treasury_bps: 500,
        };

        fn accounts() -> DefaultAccounts<Env> {
            default_accounts::<Env>()
        }

        fn bytes(a: &AccountId) -> [u8; 32] {
            *AsRef::<[u8; 32]>::as_ref(a)
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

        fn credit(s: &mut Splitter, artifact: ArtifactId, who: AccountId, units: Balance) {
            set_caller::<Env>(accounts().charlie);
            s.credit_units(artifact, who, units).unwrap();
        }

        #[ink::test]
        fn set_rule_copies_owner_and_parents_and_checks_the_caller() {
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
            assert_eq!(
                s.entry(2),
                Some(Entry { owner: bytes(&a.django), rule: RULE, parents: vec![1] })
            );
            let ev = recorded_events().collect::<Vec<_>>();
            assert_eq!(ev.len(), 2);
            assert_eq!(ev[1].topics[0], events::RULE_SET_TOPIC);
            let e = events::RuleSet::decode(&mut &ev[1].data[..]).unwrap();
            assert_eq!(e, events::RuleSet { artifact: 2, owner: bytes(&a.django), rule: RULE });
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
            assert_eq!(
                s.entry(2),
                Some(Entry { owner: bytes(&a.django), rule: RULE, parents: vec![1] })
            );
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
            credit(&mut s, 2, a.charlie, 1);
            credit(&mut s, 2, a.frank, 2);
            pay(&mut s, a.alice, 2, 10_000).unwrap();
            assert_eq!(s.inbox_of(1), 1_500);
            assert_eq!(s.balance_of(a.django, None), 5_000);
            assert_eq!(s.balance_of(a.charlie, Some(2)), 1_000);
            assert_eq!(s.balance_of(a.frank, Some(2)), 2_000);
            assert_eq!(s.pool(2).total_units, 3);
            assert_eq!(s.units_of(2, a.frank), 2);
            // A zero-value payment flushes the parent's inbox through its rule.
            pay(&mut s, a.alice, 1, 0).unwrap();
            assert_eq!(s.inbox_of(1), 0);
            assert_eq!(s.balance_of(a.bob, None), 1_500 - 75);
            assert_eq!(s.balance_of(a.eve, None), 500 + 75);
        }

        #[ink::test]
        fn only_the_market_credits_units() {
            let a = accounts();
            let mut s = with_rules();
            set_caller::<Env>(a.bob);
            assert_eq!(s.credit_units(1, a.bob, 5), Err(Error::NotMarket));
            set_caller::<Env>(a.charlie);
            assert_eq!(s.credit_units(1, a.bob, 0), Err(Error::ZeroUnits));
            s.credit_units(1, a.bob, 5).unwrap();
            assert_eq!(s.credit_units(1, a.eve, u128::MAX), Err(Error::Overflow));
            let ev = recorded_events().last().unwrap();
            assert_eq!(ev.topics[0], events::UNITS_CREDITED_TOPIC);
            let e = events::UnitsCredited::decode(&mut &ev.data[..]).unwrap();
            assert_eq!(e, events::UnitsCredited { artifact: 1, account: bytes(&a.bob), units: 5 });
        }

        #[ink::test]
        fn withdraw_pulls_balance_and_shares_once() {
            let a = accounts();
            let mut s = with_rules();
            let contract = ink::env::account_id::<Env>();
            set_account_balance::<Env>(contract, 1_000_000);
            credit(&mut s, 1, a.frank, 3);
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
            assert_eq!(s.withdraw(None), Ok(6_500));
            // (A failing transfer, `TransferFailed`, panics in the off-chain engine instead of
            // returning an error; the end-to-end tests cover it on the node.)
        }

        /// Random payments, credits and withdrawals over a lineage (2 is a child of 1): what
        /// was paid in equals what was withdrawn plus what is owed (balances, share claims,
        /// inboxes) plus the sub-unit dust the pools carry, which is below one unit per holder
        /// and pool. So the sum of what can be withdrawn never exceeds the contract's balance.
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
                        let amount = u128::from(next(1_000_000) as u32);
                        pay(&mut s, a.alice, artifact, amount).unwrap();
                        paid_in += amount;
                    }
                    1 => credit(&mut s, artifact, account, u128::from(next(1_000) as u32) + 1),
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
                // Dust: below one unit per (holder, pool) plus one per pool's carry.
                assert!(paid_in - paid_out - owed <= 2 * 6 + 2);
            }
        }

        #[ink::test]
        fn admin_only_parameters_and_upgrade() {
            let a = accounts();
            let mut s = setup();
            set_caller::<Env>(a.bob);
            assert_eq!(s.set_params(a.bob, a.bob, a.bob), Err(Error::NotAdmin));
            assert_eq!(s.set_code_hash(Hash::from([1; 32])), Err(Error::NotAdmin));
            set_caller::<Env>(a.alice);
            s.set_params(a.frank, a.django, a.eve).unwrap();
            assert_eq!(s.params(), (a.alice, a.frank, a.django, a.eve));
            let ev = recorded_events().last().unwrap();
            assert_eq!(ev.topics[0], events::PARAMS_CHANGED_TOPIC);
        }

        #[ink::test]
        #[should_panic(expected = "off-chain environment does not support `set_code_hash`")]
        fn admin_reaches_set_code_hash() {
            let mut s = setup();
            set_caller::<Env>(accounts().alice);
            let _ = s.set_code_hash(Hash::from([1; 32]));
        }

        /// Storage written before an upgrade stays readable after it: the root's field order and
        /// the mappings' fixed keys are frozen here; a new version must keep decoding them.
        #[ink::test]
        fn storage_layout_is_frozen() {
            // Root v1: (admin, registry, market, treasury); the mappings store nothing inline.
            type RootV1 = (AccountId, AccountId, AccountId, AccountId);
            let a = accounts();
            let mut s = with_rules();
            credit(&mut s, 1, a.frank, 3);
            pay(&mut s, a.alice, 2, 10_000).unwrap();
            ink::env::set_contract_storage(&0u32, &s);
            let root: RootV1 = ink::env::get_contract_storage(&0u32).unwrap().unwrap();
            assert_eq!(root, (a.alice, a.frank, a.charlie, a.eve));
            let entry: Entry =
                ink::env::get_contract_storage(&(0x5350_0001u32, 2u64)).unwrap().unwrap();
            assert_eq!(entry.parents, vec![1]);
            let pool: Pool =
                ink::env::get_contract_storage(&(0x5350_0002u32, 1u64)).unwrap().unwrap();
            assert_eq!(pool.total_units, 3);
            let holder: Holder = ink::env::get_contract_storage(&(0x5350_0003u32, (1u64, a.frank)))
                .unwrap()
                .unwrap();
            assert_eq!(holder.units, 3);
            let bal: Balance =
                ink::env::get_contract_storage(&(0x5350_0004u32, a.django)).unwrap().unwrap();
            assert_eq!(bal, 8_000); // no compute holders on 2: the compute part went to the owner
            let inbox: Balance =
                ink::env::get_contract_storage(&(0x5350_0005u32, 1u64)).unwrap().unwrap();
            assert_eq!(inbox, 1_500);
        }

        #[ink::test]
        fn shared_selectors_and_topics_match_the_contract() {
            use ink::env::Event;
            assert_eq!(selectors::NEW, ink::selector_bytes!("new"));
            assert_eq!(selectors::SET_RULE, ink::selector_bytes!("set_rule"));
            assert_eq!(selectors::PAY_REVENUE, ink::selector_bytes!("pay_revenue"));
            assert_eq!(selectors::CREDIT_UNITS, ink::selector_bytes!("credit_units"));
            assert_eq!(selectors::WITHDRAW, ink::selector_bytes!("withdraw"));
            assert_eq!(selectors::BALANCE_OF, ink::selector_bytes!("balance_of"));
            assert_eq!(selectors::ENTRY, ink::selector_bytes!("entry"));
            assert_eq!(selectors::POOL, ink::selector_bytes!("pool"));
            assert_eq!(selectors::UNITS_OF, ink::selector_bytes!("units_of"));
            assert_eq!(selectors::INBOX_OF, ink::selector_bytes!("inbox_of"));
            assert_eq!(selectors::SET_PARAMS, ink::selector_bytes!("set_params"));
            assert_eq!(selectors::PARAMS, ink::selector_bytes!("params"));
            assert_eq!(selectors::SET_CODE_HASH, ink::selector_bytes!("set_code_hash"));
            assert_eq!(events::RULE_SET_TOPIC, RuleSet::SIGNATURE_TOPIC.unwrap());
            assert_eq!(events::REVENUE_PAID_TOPIC, RevenuePaid::SIGNATURE_TOPIC.unwrap());
            assert_eq!(events::UNITS_CREDITED_TOPIC, UnitsCredited::SIGNATURE_TOPIC.unwrap());
            assert_eq!(events::WITHDRAWN_TOPIC, Withdrawn::SIGNATURE_TOPIC.unwrap());
            assert_eq!(events::PARAMS_CHANGED_TOPIC, ParamsChanged::SIGNATURE_TOPIC.unwrap());
        }
    }
}
