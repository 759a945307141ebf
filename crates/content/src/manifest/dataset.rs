//! SMIP dataset packages (`smip-dataset.json`, version 1): a UnixFS directory of data files
//! and the manifest that lists them (size, CID and sha256 of each, as a model package's
//! `smip.json` does), names its splits (`train`, `validation`, …, each one file), its license
//! and where the data came from. A training job names a dataset by its package CID and a
//! split; its executor fetches that one file, checked against the manifest and its CID
//! ([`crate::pull::fetch_split`]).

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::{CidOptions, FileEntry, ManifestError, ManifestErrors};
use super::validate::{check_common, check_version, deserialize, one, template_value};
use super::PackageManifest;
use crate::error::{Error, Result};
use crate::options::AddOptions;

/// The version this crate reads and writes.
pub const DATASET_VERSION: u32 = 1;
/// The manifest's file name inside a dataset package.
pub const DATASET_MANIFEST_FILE: &str = "smip-dataset.json";
/// The published JSON Schema of version 1.
pub const DATASET_SCHEMA_V1: &str = include_str!("../../schema/smip-dataset-v1.schema.json");

/// An SMIP dataset manifest (`smip-dataset.json`), version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "SMIP dataset package manifest, version 1")]
pub struct DatasetManifest {
    /// Always `1` for this schema.
    pub smip_dataset_version: u32,
    /// Package name, e.g. `tiny-shakespeare` (1–128 characters: letters, digits, `.`, `_`,
    /// `-`, `/`).
    pub name: String,
    /// Package version chosen by its publisher, e.g. `1.0.0`.
    pub version: String,
    /// One-paragraph description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// SPDX license identifier or expression, e.g. `CC-BY-4.0`.
    pub license: String,
    /// How a trainer reads a split's bytes.
    pub format: DataFormat,
    /// Where the data came from (a URL, a citation, the tool that made it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// How the file CIDs (and the package CID) were computed: `ipfs add` options.
    pub cid_options: CidOptions,
    /// Every file of the package except `smip-dataset.json`, sorted by path.
    pub files: Vec<FileEntry>,
    /// The splits, by name (1–64 characters: lower-case letters, digits, `_`, `-`; e.g.
    /// `train`, `validation`, `test`): each the path of one file of `files`.
    pub splits: BTreeMap<String, String>,
}

/// How a trainer reads a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// A byte stream: each byte is a token (a vocabulary of 256), so text in any encoding is
    /// read as it is stored (UTF-8 text is the usual).
    Bytes,
}

/// Whether `s` may name a split: 1–64 lower-case letters, digits, `_` or `-`.
pub fn is_split_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b))
}

impl DatasetManifest {
    /// The file entry of split `split`, or why there is none (the splits it has).
    pub fn split(&self, split: &str) -> Result<&FileEntry> {
        let missing = || {
            let have: Vec<&str> = self.splits.keys().map(String::as_str).collect();
            one("splits", format!("no split {split:?} (it has: {})", have.join(", ")))
        };
        let path = self.splits.get(split).ok_or_else(missing)?;
        self.files.iter().find(|f| f.path == *path).ok_or_else(missing)
    }
}

impl PackageManifest for DatasetManifest {
    const FILE: &'static str = DATASET_MANIFEST_FILE;
    const WHAT: &'static str = "an SMIP dataset package";

    fn parse(bytes: &[u8]) -> Result<Self> {
        let value = check_version(bytes, "smip_dataset_version", DATASET_VERSION)?;
        let m: DatasetManifest = deserialize(value)?;
        m.validate()?;
        Ok(m)
    }

    fn from_template(bytes: &[u8], opts: &AddOptions) -> Result<Self> {
        // Strict but for what the directory fills: `files` and `cid_options`.
        deserialize(template_value(bytes, opts)?)
    }

    fn validate(&self) -> Result<()> {
        let mut errs = Vec::new();
        let mut err = |path: String, reason: String| errs.push(ManifestError { path, reason });
        if self.smip_dataset_version != DATASET_VERSION {
            err(
                "smip_dataset_version".into(),
                format!("unsupported version {}", self.smip_dataset_version),
            );
        }
        check_common(
            &self.name,
            &[("version", &self.version), ("license", &self.license)],
            &self.cid_options,
            &self.files,
            Self::FILE,
            &mut err,
        );
        if self.splits.is_empty() {
            err("splits".into(), "name at least one split (e.g. \"train\")".into());
        }
        let listed: BTreeSet<&str> = self.files.iter().map(|f| f.path.as_str()).collect();
        for (name, path) in &self.splits {
            if !is_split_name(name) {
                err(
                    format!("splits.{name:?}"),
                    "a split's name is 1-64 lower-case letters, digits, '_' or '-'".into(),
                );
            }
            if !listed.contains(path.as_str()) {
                err(format!("splits.{name:?}"), format!("{path:?} is not among files"));
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidManifest(ManifestErrors(errs)))
        }
    }

    fn files(&self) -> &[FileEntry] {
        &self.files
    }

    fn files_mut(&mut self) -> &mut Vec<FileEntry> {
        &mut self.files
    }

    fn cid_options(&self) -> &CidOptions {
        &self.cid_options
    }
}

/// The JSON Schema generated from [`DatasetManifest`] (what
/// `schema/smip-dataset-v1.schema.json` must equal).
pub fn dataset_json_schema() -> Result<String> {
    super::validate::schema_of(schemars::schema_for!(DatasetManifest))
}
