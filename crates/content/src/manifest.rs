//! SMIP manifests (`smip.json`).

/// All problems found while validating a manifest, each with its field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestErrors(pub Vec<ManifestError>);

/// One validation problem: where (a JSON path like `files[2].sha256`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// Field path.
    pub path: String,
    /// Reason.
    pub reason: String,
}

impl std::fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.path, e.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestErrors {}
