//! The embedded IPFS daemon: the Kubo RPC subset iollm uses, on a flat-file blockstore.
//!
//! What it serves (all `POST /api/v0/...`, like Kubo): `add` (multipart; `cid-version`,
//! `raw-leaves`, `chunker`, `pin`, `only-hash`, `wrap-with-directory`, `quiet`), `cat` (`arg`,
//! repeatable, `offset`, `length`; paths `/ipfs/CID/a/b`), `ls`, `pin/add`, `pin/ls`, `pin/rm`
//! (`arg` repeatable), `block/get`, `block/stat`, `id`, `version`, `repo/stat`. Identity CIDs
//! (`bafkqaaa`) are served from the CID itself. Errors are Kubo's JSON body
//! `{"Message": …, "Code": 0, "Type": "error"}`: HTTP 400 with `Code: 1` for a request that is
//! malformed before the command runs (missing argument, bad option value, a body that is not
//! multipart), HTTP 500 with `Code: 0` for a command that fails (unparseable path, block not
//! found, not pinned); unknown commands are 404, a `GET` is 405, both with that body.
//!
//! Against hostile clients: requests from another `Origin`/`Referer`, or whose `Host` is not
//! loopback, are 403; headers must arrive within [`Limits::header_timeout`], upload bodies may
//! not pause longer than [`Limits::body_idle_timeout`], part headers are at most
//! [`Limits::part_header_bytes`], at most [`Limits::max_uploads`] uploads run at once (more are
//! 503); pin walks visit each block once and stop when their client leaves or at shutdown; the
//! repo is locked (`repo.lock`) so one daemon serves it.
//!
//! What it is not: a network node. It has no peers, no bootstrap list and no DHT; it only binds
//! loopback addresses and refuses others. `pin ls` lists recursive and direct pins, not
//! indirect ones; there is no garbage collection.
//!
//! Repo layout: `<repo>/blocks/` (see [`crate::blockstore`]), `<repo>/pins.json`,
//! `<repo>/identity.json`.
//!
//! ```no_run
//! # async fn f() -> iollm_content::Result<()> {
//! use iollm_content::daemon::{Daemon, DaemonConfig};
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let d = Daemon::bind(DaemonConfig::new("/tmp/repo", "127.0.0.1:0".parse().unwrap())).await?;
//! let _api_url = d.api_url(); // e.g. http://127.0.0.1:45123, what IOLLM_IPFS_API takes
//! d.run(shutdown).await
//! # }
//! ```

mod add;
mod error;
mod handlers;
mod multipart;
mod repo;
mod server;
mod tree;

pub use repo::{PinKind, Repo, WalkStats};
pub use server::{app, serve, Daemon, DaemonConfig, Limits};
/// Re-exported so callers of [`serve`] need not depend on tokio-util themselves.
pub use tokio_util::sync::CancellationToken;

const TARGET: &str = "iollm_content::daemon";
/// The Kubo version whose RPC shapes we follow.
pub const KUBO_RPC_VERSION: &str = "0.22.0";
