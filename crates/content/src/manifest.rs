//! SMIP manifests (`smip.json`): what a model package is, in a versioned, validated, canonical
//! JSON document.
//!
//! A model package is a UnixFS directory laid out like a Hugging Face repository
//! (`config.json`, `model.safetensors`, tokenizer files, …) plus `smip.json`. The manifest names
//! the format and architecture, every file with size, CID and sha256, parents and their
//! relation, license, provenance (job id, trace root), the runtime it needs, its interfaces and
//! evaluation results.
//!
//! - **Schema**: [`Manifest`] (serde) is the definition; `schema/smip-v1.schema.json` is the
//!   published JSON Schema generated from it (a test keeps the two equal).
//! - **Versioning**: `smip_version` is `1`. A manifest with another version is refused with
//!   [`ManifestError`] naming the version, before any other check.
//! - **Validation** ([`parse`], [`Manifest::validate`]): strict — unknown fields, wrong types,
//!   bad CIDs/hashes/paths, duplicates — and every problem is reported with its field path
//!   (`files[2].sha256: …`).
//! - **Canonical encoding** ([`Manifest::to_canonical_json`]): object keys sorted, two-space
//!   indentation, files sorted by path, one trailing newline; so the same package always gives
//!   the same `smip.json` bytes and hence the same CIDs.
//! - **Packages** ([`build_package_manifest`], [`prepare_package`], [`verify_package`]): fill
//!   `files` from a directory, write the manifest, compute the package CID; after a pull, check
//!   every file against the manifest.
//!
//! What goes on chain: the *package* CID (the directory, `smip.json` included); the manifest's
//! own CID is returned too.
mod package;
mod schema;
mod validate;

pub use package::{
    build_package_manifest, prepare_package, publish_package, pull_package, verify_package, Package,
};
pub use schema::*;
pub use validate::{json_schema, parse};

/// The SMIP version this crate reads and writes.
pub const SMIP_VERSION: u32 = 1;
/// The manifest's file name inside a package.
pub const MANIFEST_FILE: &str = "smip.json";
/// Largest accepted manifest (bytes).
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;
/// The published JSON Schema of version 1.
pub const SCHEMA_V1: &str = include_str!("../schema/smip-v1.schema.json");
