//! Transaction signers: sr25519 keys from a secret URI (`//Alice`, a mnemonic with derivation
//! paths) or from a key file holding one. Secrets are never logged (where they come from is the
//! CLI's settings: never a flag's value).

use crate::{AccountId, ChainError};
use std::path::Path;
use std::str::FromStr;
use subxt_signer::{sr25519::Keypair, SecretUri};

/// A signing key for transactions.
#[derive(Clone)]
pub struct Signer {
    pub(crate) keypair: Keypair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("account", &self.account().to_string()).finish()
    }
}

impl Signer {
    /// A key from a secret URI such as `//Alice` or `<mnemonic>//hard/soft`.
    pub fn from_suri(suri: &str) -> Result<Signer, ChainError> {
        let uri = SecretUri::from_str(suri.trim())
            .map_err(|e| ChainError::InvalidKey(format!("not a secret URI: {e}")))?;
        let keypair = Keypair::from_uri(&uri).map_err(|e| ChainError::InvalidKey(e.to_string()))?;
        Ok(Signer { keypair })
    }

    /// A devnet account by name (`alice`, `bob`, `charlie`, `dave`, `eve`, `ferdie`).
    pub fn dev(name: &str) -> Result<Signer, ChainError> {
        let mut chars = name.chars();
        let capitalised: String = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect(),
            None => return Err(ChainError::InvalidKey("empty dev account name".into())),
        };
        Signer::from_suri(&format!("//{capitalised}"))
    }

    /// The key whose secret URI `key_file` holds.
    pub fn from_key_file(key_file: &Path) -> Result<Signer, ChainError> {
        let suri = std::fs::read_to_string(key_file)
            .map_err(|source| ChainError::KeyFile { path: key_file.to_owned(), source })?;
        Signer::from_suri(&suri)
    }

    /// The account this key signs for.
    pub fn account(&self) -> AccountId {
        self.keypair.public_key().to_account_id()
    }

    /// The account as the 32 bytes contracts store.
    pub fn account_bytes(&self) -> [u8; 32] {
        self.account().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_accounts_match_their_uris() {
        let alice = Signer::dev("alice").unwrap();
        assert_eq!(alice.account(), Signer::from_suri("//Alice").unwrap().account());
        assert_eq!(
            alice.account().to_string(),
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
            "well-known //Alice address"
        );
        assert_ne!(alice.account(), Signer::dev("Bob").unwrap().account());
    }

    #[test]
    fn key_file_is_read_and_bad_keys_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "//Bob\n").unwrap();
        let bob = Signer::from_key_file(&path).unwrap();
        assert_eq!(bob.account(), Signer::dev("bob").unwrap().account());

        let missing = dir.path().join("absent");
        let err = Signer::from_key_file(&missing).unwrap_err();
        assert!(err.to_string().contains("cannot read key file"), "{err}");
        assert!(Signer::from_suri("not a key").is_err());
        assert!(Signer::dev("").is_err());
    }
}
