//! `iollm model import`: a GGUF model file made an SMIP package. Publishing and pulling
//! packages (with their lineage on chain) is `iollm-artifacts`'.

use iollm_content::manifest::Manifest;
use std::path::Path;

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The content layer failed (bad package, CID mismatch, IPFS node down…).
    #[error(transparent)]
    Content(#[from] iollm_content::Error),
    /// A model file this runtime cannot serve (so it is not packaged).
    #[error(transparent)]
    Serve(#[from] iollm_serve::Error),
    /// Writing the package failed.
    #[error("{path}: {source}")]
    Write {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Makes `out` (which must not exist) an SMIP package of the GGUF model `file`: checks that
/// this runtime serves it ([`iollm_serve::inspect`]), copies it in, and writes `smip.json`
/// (format `gguf`, architecture, parameters, interfaces, runtime needs, every file's CID).
pub fn import_gguf(
    file: &Path,
    out: &Path,
    name: Option<&str>,
    license: Option<&str>,
) -> Result<Manifest, ImportError> {
    use iollm_content::manifest::{
        Accelerator, Format, Interface, Provenance, Runtime, WeightFormat,
    };
    let facts = iollm_serve::inspect(file)?;
    let write = |path: &Path| {
        let path = path.to_owned();
        move |source| ImportError::Write { path, source }
    };
    std::fs::create_dir(out).map_err(write(out))?;
    let file_name =
        file.file_name().map_or_else(|| "model.gguf".into(), |n| n.to_string_lossy().into_owned());
    let copy = out.join(&file_name);
    std::fs::copy(file, &copy).map_err(write(&copy))?;
    let slug: String = facts
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let mut interfaces = vec![Interface::Completion];
    if facts.chat {
        interfaces.push(Interface::Chat);
    }
    let manifest = Manifest {
        smip_version: 1,
        name: name.map_or(slug, str::to_owned),
        version: "1.0.0".into(),
        description: Some(format!(
            "{} ({}), imported from {file_name}",
            facts.name, facts.architecture
        )),
        license: license
            .map(str::to_owned)
            .or(facts.license)
            .unwrap_or_else(|| "NOASSERTION".into()),
        format: Format {
            weights: WeightFormat::Gguf,
            architecture: facts.architecture,
            parameters: Some(facts.parameters),
        },
        cid_options: iollm_content::manifest::CidOptions::from_add_options(
            &iollm_artifacts::package_options(),
        ),
        files: Vec::new(),
        parents: Vec::new(),
        provenance: Some(Provenance {
            job_id: None,
            trace_root: None,
            created_by: Some("iollm model import".into()),
            run: None,
        }),
        runtime: Runtime {
            name: "iollm".into(),
            version: ">=0.1".into(),
            memory_bytes: facts.memory_bytes,
            accelerator: Accelerator::Cpu,
        },
        interfaces,
        evaluations: Vec::new(),
    };
    let template = out.join(iollm_content::manifest::MANIFEST_FILE);
    let text = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    std::fs::write(&template, text).map_err(write(&template))?;
    let built: iollm_content::Manifest =
        iollm_content::manifest::build_package_manifest(out, &iollm_artifacts::package_options())?;
    std::fs::write(&template, built.to_canonical_json()?).map_err(write(&template))?;
    Ok(built)
}
