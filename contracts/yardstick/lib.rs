//! A minimal ERC-20-style token, used only as a cost yardstick: the benchmark compares the
//! ref_time of iollm's hot messages with this contract's `transfer`, measured on the same node
//! in the same run. What it is not: a token anyone should use (no allowances, no metadata).
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod yardstick {
    use ink::storage::Mapping;

    /// Balances and total supply.
    #[ink(storage)]
    pub struct Yardstick {
        total_supply: Balance,
        balances: Mapping<AccountId, Balance>,
    }

    /// Tokens moved.
    #[ink(event)]
    pub struct Transfer {
        #[ink(topic)]
        from: AccountId,
        #[ink(topic)]
        to: AccountId,
        value: Balance,
    }

    /// Why a transfer failed.
    #[derive(Debug, PartialEq, Eq)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    pub enum Error {
        /// The sender holds less than the amount.
        InsufficientBalance,
    }

    impl Yardstick {
        /// Mints `supply` tokens to the caller.
        #[ink(constructor)]
        pub fn new(supply: Balance) -> Self {
            let mut balances = Mapping::new();
            let caller = Self::env().caller();
            balances.insert(caller, &supply);
            Self { total_supply: supply, balances }
        }

        /// Moves `value` tokens from the caller to `to`.
        #[ink(message)]
        pub fn transfer(&mut self, to: AccountId, value: Balance) -> Result<(), Error> {
            let from = self.env().caller();
            let from_balance = self.balance_of(from);
            let rest = from_balance.checked_sub(value).ok_or(Error::InsufficientBalance)?;
            self.balances.insert(from, &rest);
            let to_balance = self.balance_of(to);
            self.balances.insert(to, &to_balance.saturating_add(value));
            self.env().emit_event(Transfer { from, to, value });
            Ok(())
        }

        /// `owner`'s balance.
        #[ink(message)]
        pub fn balance_of(&self, owner: AccountId) -> Balance {
            self.balances.get(owner).unwrap_or(0)
        }

        /// All tokens.
        #[ink(message)]
        pub fn total_supply(&self) -> Balance {
            self.total_supply
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use ink::env::test::{default_accounts, set_caller};
        use ink::env::DefaultEnvironment as Env;

        #[ink::test]
        fn transfer_moves_tokens_or_fails() {
            let a = default_accounts::<Env>();
            set_caller::<Env>(a.alice);
            let mut t = Yardstick::new(100);
            assert_eq!(t.transfer(a.bob, 40), Ok(()));
            assert_eq!(
                (t.balance_of(a.alice), t.balance_of(a.bob), t.total_supply()),
                (60, 40, 100)
            );
            assert_eq!(t.transfer(a.bob, 61), Err(Error::InsufficientBalance));
        }
    }
}
