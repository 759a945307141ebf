//! `iollm-content`: the content layer of iollm.
//!
//! What it is:
//! - **CIDs exactly as Kubo's `ipfs add` computes them** ([`cid_of_file`], [`cid_of_reader`],
//!   [`AddOptions`]): CIDv0 and CIDv1, raw leaves or not, `size-N` chunker, balanced layout with
//!   174 links per node, sha2-256, UnixFS files, directories and symlinks; streaming, constant
//!   memory.
//! - **SMIP model packages** ([`manifest`]): the `smip.json` manifest, its validation, canonical
//!   encoding and JSON Schema, and the package builder.
//! - **An IPFS client** ([`ContentStore`], [`KuboClient`]) for the Kubo RPC API, and
//!   [`fetch_verified`], which recomputes every CID it fetches before anything reaches its final
//!   path.
//! - **An embedded IPFS daemon** ([`daemon`]) serving the Kubo RPC subset iollm uses, with Kubo's
//!   response shapes, on a flat-file blockstore, for the devnet.
//!
//! What it is not: a libp2p node. The daemon is offline (no peers, no bootstrap, no DHT); to use
//! the real network point `IOLLM_IPFS_API` at a Kubo node.
//!
//! Why our own DAG builder and blockstore instead of `rust-ipfs`: the DAG rules Kubo follows are
//! small and fully specified (this crate's builder is ~300 lines and checked against real Kubo
//! output), while rust-ipfs costs ~8 minutes of cold build (457 crates) on our 2-core machines,
//! drags in libp2p we must then keep offline, and was never checked on multi-level DAGs. A
//! flat-file blockstore (one file per block named by its multihash, like Kubo's flatfs) is
//! enough for a devnet and trivially inspectable (the tamper tests edit it directly).
//!
//! # Entry points for the `iollm` CLI
//!
//! - `iollm cid <path> [--cid-version N] [--raw-leaves B] [--chunker size-N]`:
//!   `AddOptions::from_flags(Option<u8>, Option<bool>, Option<&str>)`, then [`cid_of_file`]
//!   (root only) or [`add_path_with`] with [`NullSink`] (one `(relative path, Added)` per entry,
//!   root last — the `added <cid> <name>` lines of `ipfs add -r`). Print with `Cid`'s `Display`
//!   (base58btc v0 / base32 v1, as Kubo).
//! - `iollm ipfs daemon --repo DIR --api 127.0.0.1:PORT`:
//!   [`daemon::serve`]`(DaemonConfig::new(dir, addr), cancellation_token)`; in-process tests use
//!   [`daemon::Daemon::bind`] then `local_addr()` / `api_url()` and `run(token)`.
//! - `iollm model publish <dir>`: [`KuboClient::new`] (the API the CLI's settings name), then
//!   [`publish_package`]`(&client, dir, &opts)` → [`Package`] `{ manifest, manifest_cid,
//!   package_cid }`; register `package_cid` on chain.
//! - `iollm model pull <id> <dir>`: resolve the id to the package CID on chain, then
//!   [`pull_package`]`(&client, &cid, dir)` → the verified [`Manifest`].
//! - Parse user-given CIDs with [`parse_cid`] (errors name the input and the reason).
//!
//! ```
//! use iollm_content::{cid_of_bytes, AddOptions};
//! let v1 = AddOptions::from_flags(Some(1), None, Some("size-262144")).unwrap();
//! let cid = cid_of_bytes(b"hello world\n", &v1).unwrap();
//! assert_eq!(cid.to_string(), "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4");
//! ```

pub mod blockstore;
pub mod client;
pub mod daemon;
pub mod dag;
pub mod error;
pub mod fetch;
pub mod fsutil;
pub mod manifest;
pub mod options;
pub mod pb;
pub mod pull;
pub mod unixfs;

pub use cid::Cid;
pub use client::{ContentStore, KuboClient, RetryPolicy, DEFAULT_IPFS_API};
pub use dag::{
    add_path, add_path_with, add_reader, cid_of_bytes, cid_of_file, cid_of_reader, Added,
    BlockSink, NullSink,
};
pub use error::{Error, Result};
pub use fetch::{
    fetch_file_verified, fetch_verified, fetch_verified_with, get_verified, prove_at, resolve_path,
    verify_block, DEFAULT_MAX_BYTES,
};
pub use manifest::{
    build_package_manifest, prepare_package, publish_package, pull_package, verify_package,
    DatasetManifest, Manifest, Package, PackageManifest,
};
pub use options::{format_cid, parse_chunker, parse_cid, AddOptions, CidVersion};
pub use pull::{fetch_split, pull_package_with, read_package_manifest, PullOptions};
