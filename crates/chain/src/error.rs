//! The chain crate's error type: one variant per thing that can go wrong, each printable as one
//! line that says what happened and, where there is one, what to do.

/// Everything that can fail when talking to the chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// No node answers at the URL.
    #[error("no node answers at {url} ({reason}); start one with `iollm devnet up`")]
    NodeUnreachable {
        /// The RPC URL tried.
        url: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// A secret URI or key file could not be turned into a key.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// No key was given.
    #[error("no signing key: set IOLLM_SURI to a secret URI (e.g. //Alice on a devnet) or pass --key-file")]
    NoKey,
    /// The key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    KeyFile {
        /// The key file.
        path: std::path::PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The account cannot pay the transaction fee or the storage deposit.
    #[error("account {account} has too little balance to pay for this transaction")]
    InsufficientFunds {
        /// The paying account (SS58).
        account: String,
    },
    /// The contract returned its own error (the call reverted; nothing was submitted).
    #[error("{contract} refused: {message}")]
    ContractRefused {
        /// Which contract.
        contract: &'static str,
        /// Its error, in words.
        message: String,
    },
    /// The runtime refused the call (a pallet error, e.g. out of gas or a trapped contract).
    #[error("the chain refused the call: {pallet}::{error}{docs}")]
    Dispatch {
        /// Pallet name.
        pallet: String,
        /// Error variant name.
        error: String,
        /// The error's documentation, prefixed with " — " when there is any.
        docs: String,
    },
    /// The call's output could not be decoded as the expected type.
    #[error("cannot decode the {what} returned by the contract: {reason}")]
    UndecodableOutput {
        /// What was being decoded.
        what: &'static str,
        /// The codec's message.
        reason: String,
    },
    /// A finalized transaction lacked the event it must emit.
    #[error("the transaction was finalized but emitted no {0} event")]
    MissingEvent(&'static str),
    /// The deployment file is unreadable, or lacks a contract.
    #[error("cannot read the deployment file {path}: {reason}")]
    BadDeployment {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// A transaction's era ended before any finalized block held it: it did nothing.
    #[error("transaction {tx} expired without being included; nothing was done, send it again")]
    TransactionExpired {
        /// Its hash.
        tx: String,
    },
    /// A transaction was not found finalized in time; it may still be included.
    #[error("transaction {tx} was not finalized within {seconds}s; it may still land: check the node, then look for it before sending again")]
    NotFinalized {
        /// Its hash.
        tx: String,
        /// The time allowed.
        seconds: u64,
    },
    /// The task that sends an account's transactions stopped (its runtime ended).
    #[error("the sender of account {account} stopped; connect again")]
    SenderStopped {
        /// The account (SS58).
        account: String,
    },
    /// Any other failure reported by subxt (RPC, metadata, transaction pool).
    #[error("chain error: {0}")]
    Subxt(Box<subxt::Error>),
}

impl From<subxt::Error> for ChainError {
    fn from(e: subxt::Error) -> Self {
        ChainError::Subxt(Box::new(e))
    }
}
