//! Parsing and validating `smip.json`, its canonical encoding and its JSON Schema.

use std::collections::BTreeSet;

use super::schema::*;
use super::{PackageManifest, MANIFEST_FILE, MAX_MANIFEST_BYTES, SMIP_VERSION};
use crate::error::{Error, Result};
use crate::options::parse_cid;
use crate::options::AddOptions;

pub(super) fn one(path: &str, reason: impl Into<String>) -> Error {
    Error::InvalidManifest(ManifestErrors(vec![ManifestError {
        path: path.into(),
        reason: reason.into(),
    }]))
}

/// Parses and validates `smip.json` bytes.
pub fn parse(bytes: &[u8]) -> Result<Manifest> {
    let value = check_version(bytes, "smip_version", SMIP_VERSION)?;
    let m: Manifest = deserialize(value)?;
    m.validate()?;
    Ok(m)
}

/// A manifest's bytes as JSON, refused when too large or when `key` is not `version` (before
/// any other check, so that a manifest of another version is named as such).
pub(super) fn check_version(bytes: &[u8], key: &str, version: u32) -> Result<serde_json::Value> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(one(
            "$",
            format!(
                "manifest is {} bytes, more than the {MAX_MANIFEST_BYTES} allowed",
                bytes.len()
            ),
        ));
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| one("$", format!("not JSON: {e}")))?;
    match value.get(key) {
        None => Err(one(key, format!("missing (this iollm reads version {version})"))),
        Some(v) if v.as_u64() != Some(u64::from(version)) => {
            Err(one(key, format!("unsupported version {v} (this iollm reads version {version})")))
        }
        Some(_) => Ok(value),
    }
}

/// `value` as a `T`, a mismatch reported with its field path.
pub(super) fn deserialize<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { "$".to_owned() } else { path };
        one(&path, e.into_inner().to_string())
    })
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The longest path a package may list, in bytes, and in names (a manifest of deep paths would
/// cost a pull memory in the square of their length).
const MAX_PATH_BYTES: usize = 1024;
const MAX_PATH_SEGMENTS: usize = 16;

/// Why a package-relative path is unacceptable, if it is.
fn bad_path(p: &str, own: &str) -> Option<&'static str> {
    if p.is_empty() {
        return Some("empty path");
    }
    if p.starts_with('/') {
        return Some("absolute path; paths are relative to the package");
    }
    if p.contains('\\') || p.contains('\0') {
        return Some("paths use '/' and contain no backslash or NUL");
    }
    if p.len() > MAX_PATH_BYTES || p.split('/').count() > MAX_PATH_SEGMENTS {
        return Some("longer than 1024 bytes or 16 names: package paths are short");
    }
    if p.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Some("empty, '.' or '..' path segment");
    }
    if p.split('/').any(|s| s.starts_with('.')) {
        return Some("hidden files are not part of packages (ipfs add -r skips them)");
    }
    if p == own {
        return Some("the manifest does not list itself");
    }
    None
}

/// A manifest template's JSON with what the directory fills set: `files` empty, `cid_options`
/// from `opts`.
pub(super) fn template_value(bytes: &[u8], opts: &AddOptions) -> Result<serde_json::Value> {
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| one("$", format!("not JSON: {e}")))?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("files".into(), serde_json::Value::Array(Vec::new()));
        obj.insert("cid_options".into(), serde_json::to_value(CidOptions::from_add_options(opts))?);
    }
    Ok(value)
}

/// The checks every kind of package's manifest shares: its name, the fields that must not be
/// empty, its `ipfs add` options and its files (paths, duplicates, CIDs, hashes; `own` is the
/// manifest's own file name, which it does not list).
pub(super) fn check_common(
    name: &str,
    nonempty: &[(&str, &String)],
    cid_options: &CidOptions,
    files: &[FileEntry],
    own: &str,
    err: &mut impl FnMut(String, String),
) {
    if name.is_empty()
        || name.len() > 128
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
    {
        err("name".into(), "1-128 characters of letters, digits, '.', '_', '-', '/'".into());
    }
    for (field, v) in nonempty {
        if v.trim().is_empty() {
            err((*field).into(), "must not be empty".into());
        }
    }
    if let Err(e) = cid_options.to_add_options() {
        err("cid_options".into(), e.to_string());
    }
    if files.is_empty() {
        err("files".into(), "a package has at least one file".into());
    }
    let mut seen = BTreeSet::new();
    for (i, f) in files.iter().enumerate() {
        if let Some(r) = bad_path(&f.path, own) {
            err(format!("files[{i}].path"), format!("{:?}: {r}", f.path));
        }
        if !seen.insert(f.path.as_str()) {
            err(format!("files[{i}].path"), format!("duplicate path {:?}", f.path));
        }
        if let Err(e) = parse_cid(&f.cid) {
            err(format!("files[{i}].cid"), e.to_string());
        }
        if !is_hex64(&f.sha256) {
            err(format!("files[{i}].sha256"), "expected 64 lower-case hex digits".into());
        }
    }
    // A file that is also a directory prefix of another ("a" and "a/b").
    for f in files {
        let dir = format!("{}/", f.path);
        if seen.iter().any(|n| n.starts_with(dir.as_str())) {
            err("files".into(), format!("{:?} is both a file and a directory", f.path));
        }
    }
}

impl Manifest {
    /// Checks everything serde cannot: versions, names, paths, hashes, CIDs, duplicates.
    /// Reports every problem found, each with its field path.
    pub fn validate(&self) -> Result<()> {
        let mut errs = Vec::new();
        let mut err = |path: String, reason: String| errs.push(ManifestError { path, reason });
        if self.smip_version != SMIP_VERSION {
            err("smip_version".into(), format!("unsupported SMIP version {}", self.smip_version));
        }
        check_common(
            &self.name,
            &[
                ("version", &self.version),
                ("license", &self.license),
                ("format.architecture", &self.format.architecture),
                ("runtime.name", &self.runtime.name),
                ("runtime.version", &self.runtime.version),
            ],
            &self.cid_options,
            &self.files,
            MANIFEST_FILE,
            &mut err,
        );
        let exts = self.format.weights.extensions();
        if !self
            .files
            .iter()
            .any(|f| f.path.rsplit_once('.').is_some_and(|(_, e)| exts.contains(&e)))
        {
            err(
                "format.weights".into(),
                format!("no weight file (*.{}) among files", exts.join(", *.")),
            );
        }
        for (i, p) in self.parents.iter().enumerate() {
            if p.id.is_none() && p.cid.is_none() {
                err(format!("parents[{i}]"), "needs an id or a cid".into());
            }
            if let Some(c) = &p.cid {
                if let Err(e) = parse_cid(c) {
                    err(format!("parents[{i}].cid"), e.to_string());
                }
            }
        }
        if let Some(t) = self.provenance.as_ref().and_then(|p| p.trace_root.as_ref()) {
            if !is_hex64(t) {
                err("provenance.trace_root".into(), "expected 64 lower-case hex digits".into());
            }
        }
        if let Some(r) = self.provenance.as_ref().and_then(|p| p.run.as_ref()) {
            if let Err(e) = parse_cid(r) {
                err("provenance.run".into(), e.to_string());
            }
        }
        if self.runtime.memory_bytes == 0 {
            err("runtime.memory_bytes".into(), "must be more than 0".into());
        }
        if self.interfaces.is_empty() {
            err("interfaces".into(), "list at least one interface".into());
        }
        let mut ifs = BTreeSet::new();
        for (i, x) in self.interfaces.iter().enumerate() {
            if !ifs.insert(x) {
                err(format!("interfaces[{i}]"), format!("duplicate interface {x:?}"));
            }
        }
        for (i, e) in self.evaluations.iter().enumerate() {
            if !e.value.is_finite() {
                err(format!("evaluations[{i}].value"), "must be a finite number".into());
            }
            if e.benchmark.trim().is_empty() || e.metric.trim().is_empty() {
                err(format!("evaluations[{i}]"), "benchmark and metric must not be empty".into());
            }
            if let Some(c) = &e.dataset_cid {
                if let Err(er) = parse_cid(c) {
                    err(format!("evaluations[{i}].dataset_cid"), er.to_string());
                }
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidManifest(ManifestErrors(errs)))
        }
    }

    /// The canonical `smip.json` bytes ([`PackageManifest::to_canonical_json`]), its
    /// interfaces sorted too.
    pub fn to_canonical_json(&self) -> Result<Vec<u8>> {
        let mut m = self.clone();
        m.interfaces.sort();
        super::canonical(&m)
    }
}

impl PackageManifest for Manifest {
    const FILE: &'static str = MANIFEST_FILE;
    const WHAT: &'static str = "an SMIP model package";

    fn parse(bytes: &[u8]) -> Result<Self> {
        parse(bytes)
    }

    fn from_template(bytes: &[u8], opts: &AddOptions) -> Result<Self> {
        // Lenient on `files` (it may be empty or stale), strict elsewhere.
        let value = template_value(bytes, opts)?;
        let template = serde_json::to_vec(&value)?;
        match parse(&template) {
            Ok(m) => Ok(m),
            Err(Error::InvalidManifest(ManifestErrors(errs))) => {
                // Only file-related complaints are expected from an empty `files` list.
                let rest: Vec<_> = errs
                    .into_iter()
                    .filter(|e| e.path != "files" && e.path != "format.weights")
                    .collect();
                if !rest.is_empty() {
                    return Err(Error::InvalidManifest(ManifestErrors(rest)));
                }
                Ok(serde_json::from_value(value)?)
            }
            Err(e) => Err(e),
        }
    }

    fn validate(&self) -> Result<()> {
        self.validate()
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

    fn to_canonical_json(&self) -> Result<Vec<u8>> {
        self.to_canonical_json()
    }
}

/// The JSON Schema generated from [`Manifest`] (what `schema/smip-v1.schema.json` must equal).
pub fn json_schema() -> Result<String> {
    schema_of(schemars::schema_for!(Manifest))
}

/// A generated schema as committed: pretty JSON, keys sorted, a trailing newline.
pub(super) fn schema_of(schema: schemars::schema::RootSchema) -> Result<String> {
    let v = serde_json::to_value(&schema)?;
    let mut s = serde_json::to_string_pretty(&v)?;
    s.push('\n');
    Ok(s)
}
