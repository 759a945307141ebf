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
//! - **Datasets** ([`DatasetManifest`], `smip-dataset.json`): the same package machinery for
//!   a directory of data files and its named splits; one kind of package or the other, by the
//!   manifest it holds ([`PackageManifest`]).
//!
//! What goes on chain: the *package* CID (the directory, `smip.json` included); the manifest's
//! own CID is returned too.
mod dataset;
mod package;
mod schema;
mod validate;

pub use dataset::{
    dataset_json_schema, is_split_name, DataFormat, DatasetManifest, DATASET_MANIFEST_FILE,
    DATASET_SCHEMA_V1, DATASET_VERSION,
};
pub(crate) use package::hex_lower;
pub use package::{
    build_package_manifest, prepare_package, publish_package, pull_package, verify_package, Package,
};
pub use schema::*;
pub use validate::{json_schema, parse};

use crate::error::Result;
use crate::options::AddOptions;

/// A kind of package's manifest: what building, publishing, pulling and checking a package
/// needs of it.
pub trait PackageManifest: Sized + Clone + serde::Serialize {
    /// The manifest's file name inside its package.
    const FILE: &'static str;
    /// What such a package is, for messages (`an SMIP model package`).
    const WHAT: &'static str;
    /// Parses and validates the manifest's bytes (at most [`MAX_MANIFEST_BYTES`]).
    fn parse(bytes: &[u8]) -> Result<Self>;
    /// The manifest a package directory's template gives before its files are listed: checked
    /// strictly but for `files` (left empty) and `cid_options` (set from `opts`).
    fn from_template(bytes: &[u8], opts: &AddOptions) -> Result<Self>;
    /// Checks everything serde cannot, reporting every problem with its field path.
    fn validate(&self) -> Result<()>;
    /// Every file of the package but the manifest.
    fn files(&self) -> &[FileEntry];
    /// The same, to fill.
    fn files_mut(&mut self) -> &mut Vec<FileEntry>;
    /// The `ipfs add` options its CIDs were computed with.
    fn cid_options(&self) -> &CidOptions;
    /// The canonical bytes: keys sorted, files sorted by path, two-space indentation, a
    /// trailing newline; so one package always gives the same manifest bytes and CIDs.
    fn to_canonical_json(&self) -> Result<Vec<u8>> {
        canonical(self)
    }
}

/// [`PackageManifest::to_canonical_json`] as every kind starts it.
fn canonical<M: PackageManifest>(m: &M) -> Result<Vec<u8>> {
    let mut m = m.clone();
    m.files_mut().sort_by(|a, b| a.path.cmp(&b.path));
    // serde_json's Map is a BTreeMap (no `preserve_order`): going through Value sorts keys.
    let mut out = serde_json::to_vec_pretty(&serde_json::to_value(&m)?)?;
    out.push(b'\n');
    Ok(out)
}

/// The SMIP version this crate reads and writes.
pub const SMIP_VERSION: u32 = 1;
/// The manifest's file name inside a package.
pub const MANIFEST_FILE: &str = "smip.json";
/// Largest accepted manifest (bytes).
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;
/// The published JSON Schema of version 1.
pub const SCHEMA_V1: &str = include_str!("../schema/smip-v1.schema.json");
