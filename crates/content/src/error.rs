//! The crate's one error type.
//!
//! Variants are named for what went wrong; each renders as one line that says what happened and,
//! where it helps, what to do.

use std::path::PathBuf;

use cid::Cid;

/// Everything that can go wrong in the content layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A CID string did not parse.
    #[error("invalid CID {input:?}: {reason}")]
    InvalidCid {
        /// The text that was given.
        input: String,
        /// Why it did not parse.
        reason: String,
    },
    /// A `--chunker` value that is not `size-N` with 1 ≤ N ≤ 1 MiB.
    #[error("invalid chunker {0:?}: expected size-N with 1 <= N <= 1048576 (Kubo's default is size-262144)")]
    InvalidChunker(String),
    /// An `AddOptions` combination Kubo refuses (e.g. CIDv0 with raw leaves).
    #[error("invalid add options: {0}")]
    InvalidOptions(String),
    /// Bytes that came back do not hash to the CID they were asked for.
    #[error("content does not match its CID: expected {expected}, got {actual}")]
    CidMismatch {
        /// The CID that was asked for.
        expected: Box<Cid>,
        /// The CID of what came back.
        actual: Box<Cid>,
    },
    /// A block or DAG node is not what UnixFS / dag-pb says it should be.
    #[error("malformed block {cid}: {reason}")]
    MalformedBlock {
        /// The block.
        cid: Box<Cid>,
        /// What is wrong with it.
        reason: String,
    },
    /// A CID whose codec or hash this crate does not handle.
    #[error("unsupported CID {cid}: {reason}")]
    UnsupportedCid {
        /// The CID.
        cid: Box<Cid>,
        /// What is not supported.
        reason: String,
    },
    /// A node sent more bytes for one block than any block may have.
    #[error("block {cid} is larger than the {limit}-byte block limit; the IPFS node is broken or hostile")]
    BlockTooLarge {
        /// The block asked for.
        cid: Box<Cid>,
        /// The limit (bytes).
        limit: usize,
    },
    /// A long operation was stopped: its client went away or the daemon is shutting down.
    #[error("cancelled: the client went away or the node is shutting down")]
    Cancelled,
    /// A node answered with more bytes than were asked for.
    #[error(
        "the IPFS node sent more than the {limit} bytes asked for ({op}); it is broken or hostile"
    )]
    ResponseTooLarge {
        /// The call.
        op: &'static str,
        /// Bytes asked for.
        limit: u64,
    },
    /// A block is not in the store.
    #[error("block {0} not found")]
    BlockNotFound(Box<Cid>),
    /// A path that should exist does not.
    #[error("{0}: no such file or directory")]
    MissingFile(PathBuf),
    /// A file or directory name that is not valid UTF-8 (IPFS names are UTF-8).
    #[error("{0}: file name is not valid UTF-8; rename it")]
    NonUtf8Name(PathBuf),
    /// A symbolic link whose target is outside the tree being added.
    #[error("{path}: symbolic link points outside the directory being added ({target})")]
    SymlinkEscapes {
        /// The link.
        path: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
    /// A symbolic link inside a model package (packages hold regular files only, so that what
    /// is pulled is exactly what the manifest describes).
    #[error("{0}: symbolic links are not allowed in model packages; replace it with the file")]
    SymlinkInPackage(PathBuf),
    /// Something that is neither file, directory nor symlink (socket, device, …).
    #[error("{0}: not a regular file, directory or symbolic link")]
    UnsupportedFileType(PathBuf),
    /// The SMIP manifest failed validation.
    #[error("invalid manifest: {0}")]
    InvalidManifest(#[from] crate::manifest::ManifestErrors),
    /// The IPFS node answered with an error.
    #[error("IPFS node error: {0}")]
    Api(String),
    /// The IPFS node could not be reached or the transfer broke off (retried and gave up).
    #[error("IPFS node unreachable at {url} after {attempts} attempt(s): {reason}; is the node running? (set IOLLM_IPFS_API to use another)")]
    Unreachable {
        /// The API address.
        url: String,
        /// How often we tried.
        attempts: u32,
        /// The last error.
        reason: String,
    },
    /// An operation ran past its deadline.
    #[error("IPFS operation {op} timed out after {secs} s")]
    Timeout {
        /// The operation.
        op: &'static str,
        /// The limit.
        secs: u64,
    },
    /// A pull or fetch destination that already exists.
    #[error("{path} already exists; choose a new destination")]
    DestinationExists {
        /// The destination.
        path: PathBuf,
    },
    /// Another pull into the same destination is running (it holds the staging lock).
    #[error("another pull into {path} is running; wait for it or choose another destination")]
    PullInProgress {
        /// The destination.
        path: PathBuf,
    },
    /// A CID that should name one file names a directory or a symbolic link.
    #[error("{0} is a directory or a symbolic link, not a file")]
    NotAFile(String),
    /// A byte offset past the end of the file it was asked of.
    #[error("offset {offset} is past the end of the file {cid}")]
    OutOfRange {
        /// The offset asked for.
        offset: u64,
        /// The file (or the node of it) it is past.
        cid: String,
    },
    /// A proof of an offset that needs more blocks than a contract's reader reads
    /// ([`crate::fetch::MAX_PROOF_BLOCKS`]): a DAG no contract can be shown.
    #[error("{root} is too deep to prove: more than {max} blocks from its root to the leaf")]
    TooDeep {
        /// The DAG's root.
        root: String,
        /// The most blocks a proof may hold.
        max: usize,
    },
    /// A path inside a directory DAG that does not name an entry.
    #[error("{root} has no {path:?}: check the CID and the path")]
    NotInDirectory {
        /// The directory's CID.
        root: String,
        /// The path looked up in it.
        path: String,
    },
    /// What a pull would write is more than its limit.
    #[error("the package holds {size} bytes, more than the pull limit of {limit} bytes; raise the limit (--max-size) if you trust it")]
    PullTooLarge {
        /// Bytes the package's manifest (or DAG) declares.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The package DAG holds an entry its `smip.json` does not list (hidden files included).
    #[error("the package holds {path:?}, which its smip.json does not list; refusing to pull it")]
    UnlistedFile {
        /// Path inside the package.
        path: String,
    },
    /// A file's DAG declares, or delivers, another size than expected.
    #[error("{path}: {actual} bytes where {expected} were expected; the package is inconsistent")]
    SizeMismatch {
        /// The file (inside the package, or the destination).
        path: String,
        /// Size from the manifest (or the DAG's root).
        expected: u64,
        /// Size the DAG declares or delivered (at least).
        actual: u64,
    },
    /// The CID given as a package is not a package directory with its manifest.
    #[error("{cid} is not {what}: {reason}")]
    NotAPackage {
        /// The CID.
        cid: Box<Cid>,
        /// The kind of package it had to be (`an SMIP model package`, …).
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// Another daemon holds the repo.
    #[error("IPFS repo {path} is in use by another daemon (its lock is held); stop it or use another --repo")]
    RepoLocked {
        /// The repo directory.
        path: PathBuf,
    },
    /// A repo file (`pins.json`, `identity.json`) that does not parse.
    #[error("{path}: corrupt repo file ({reason}); restore it or remove it to start afresh")]
    CorruptRepoFile {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// An API address that is not loopback (the daemon is offline and local only).
    #[error("the IPFS daemon only listens on loopback addresses (127.0.0.1, ::1), not {addr}")]
    NotLoopback {
        /// The address given.
        addr: std::net::SocketAddr,
    },
    /// Local file system error, with the path it happened on. The OS error is its `source`
    /// (not repeated in the message: error reports print the chain once).
    #[error("{path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// JSON (de)serialisation failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// Wraps an IO error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::Error;

    /// Issue 17 item 17: the OS error is the source, not repeated in the message, so a report
    /// that prints the chain (`{:#}`) says it once.
    #[test]
    fn io_errors_name_the_path_and_carry_the_os_error_once() {
        let e = Error::io("/repo/pins.json", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(e.to_string(), "/repo/pins.json");
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("entity not found"));
    }
}
