//! Parsing and validating `smip.json`, its canonical encoding and its JSON Schema.

use std::collections::BTreeSet;

use super::schema::*;
use super::{MANIFEST_FILE, MAX_MANIFEST_BYTES, SMIP_VERSION};
use crate::error::{Error, Result};
use crate::options::parse_cid;

pub(super) fn one(path: &str, reason: impl Into<String>) -> Error {
    Error::InvalidManifest(ManifestErrors(vec![ManifestError {
        path: path.into(),
        reason: reason.into(),
    }]))
}

/// Parses and validates `smip.json` bytes.
pub fn parse(bytes: &[u8]) -> Result<Manifest> {
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
    match value.get("smip_version") {
        None => return Err(one("smip_version", "missing (this iollm reads SMIP version 1)")),
        Some(v) if v.as_u64() != Some(u64::from(SMIP_VERSION)) => {
            return Err(one(
                "smip_version",
                format!("unsupported SMIP version {v} (this iollm reads version {SMIP_VERSION})"),
            ))
        }
        Some(_) => {}
    }
    let m: Manifest = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { "$".to_owned() } else { path };
        one(&path, e.into_inner().to_string())
    })?;
    m.validate()?;
    Ok(m)
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Why a package-relative path is unacceptable, if it is.
fn bad_path(p: &str) -> Option<&'static str> {
    if p.is_empty() {
        return Some("empty path");
    }
    if p.starts_with('/') {
        return Some("absolute path; paths are relative to the package");
    }
    if p.contains('\\') || p.contains('\0') {
        return Some("paths use '/' and contain no backslash or NUL");
    }
    if p.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Some("empty, '.' or '..' path segment");
    }
    if p.split('/').any(|s| s.starts_with('.')) {
        return Some("hidden files are not part of packages (ipfs add -r skips them)");
    }
    if p == MANIFEST_FILE {
        return Some("smip.json does not list itself");
    }
    None
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
        if self.name.is_empty()
            || self.name.len() > 128
            || !self.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
        {
            err("name".into(), "1-128 characters of letters, digits, '.', '_', '-', '/'".into());
        }
        for (field, v) in [
            ("version", &self.version),
            ("license", &self.license),
            ("format.architecture", &self.format.architecture),
            ("runtime.name", &self.runtime.name),
            ("runtime.version", &self.runtime.version),
        ] {
            if v.trim().is_empty() {
                err(field.into(), "must not be empty".into());
            }
        }
        if let Err(e) = self.cid_options.to_add_options() {
            err("cid_options".into(), e.to_string());
        }
        if self.files.is_empty() {
            err("files".into(), "a package has at least one file".into());
        }
        let mut seen = BTreeSet::new();
        for (i, f) in self.files.iter().enumerate() {
            if let Some(r) = bad_path(&f.path) {
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
        for f in &self.files {
            let dir = format!("{}/", f.path);
            if seen.iter().any(|n| n.starts_with(dir.as_str())) {
                err("files".into(), format!("{:?} is both a file and a directory", f.path));
            }
        }
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

    /// The canonical `smip.json` bytes: keys sorted, files sorted by path, interfaces sorted,
    /// two-space indentation, trailing newline.
    pub fn to_canonical_json(&self) -> Result<Vec<u8>> {
        let mut m = self.clone();
        m.files.sort_by(|a, b| a.path.cmp(&b.path));
        m.interfaces.sort();
        // serde_json's Map is a BTreeMap (no `preserve_order`): going through Value sorts keys.
        let v = serde_json::to_value(&m)?;
        let mut out = serde_json::to_vec_pretty(&v)?;
        out.push(b'\n');
        Ok(out)
    }
}

/// The JSON Schema generated from [`Manifest`] (what `schema/smip-v1.schema.json` must equal).
pub fn json_schema() -> Result<String> {
    let schema = schemars::schema_for!(Manifest);
    let v = serde_json::to_value(&schema)?;
    let mut s = serde_json::to_string_pretty(&v)?;
    s.push('\n');
    Ok(s)
}
