//! Content commands: `iollm cid` (offline, as `ipfs add` computes it), `model publish` (validate
//! → manifest → add to IPFS → register on chain) and `model pull` (resolve on chain → fetch →
//! verify → write atomically).

use crate::model::{self, ModelError};
use iollm_chain::Connection;
use iollm_chain::Signer;
use iollm_content::manifest::Manifest;
use iollm_content::{AddOptions, Cid, KuboClient};
use iollm_types::registry::{ArtifactId, Kind};
use std::path::Path;

/// Why a content command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContentCommandError {
    /// The content layer failed (bad package, CID mismatch, IPFS node down…).
    #[error(transparent)]
    Content(#[from] iollm_content::Error),
    /// Registering or resolving on chain failed.
    #[error(transparent)]
    Model(#[from] ModelError),
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
    /// The record on chain does not hold a CID.
    #[error("artifact {id} records {cid:?}, which is not a CID: {reason}")]
    BadRecordedCid {
        /// The artifact.
        id: ArtifactId,
        /// What it records.
        cid: String,
        /// The parser's complaint.
        reason: String,
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
) -> Result<Manifest, ContentCommandError> {
    use iollm_content::manifest::{
        Accelerator, Format, Interface, Provenance, Runtime, WeightFormat,
    };
    let facts = iollm_serve::inspect(file)?;
    let write = |path: &Path| {
        let path = path.to_owned();
        move |source| ContentCommandError::Write { path, source }
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
        cid_options: iollm_content::manifest::CidOptions::from_add_options(&package_options()),
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
    let built = iollm_content::manifest::build_package_manifest(out, &package_options())?;
    std::fs::write(&template, built.to_canonical_json()?).map_err(write(&template))?;
    Ok(built)
}

/// Options a package is added with: CIDv1, raw leaves, Kubo's default chunker.
pub fn package_options() -> AddOptions {
    AddOptions::v1()
}

/// The IPFS API of the connection (the settings' over the deployment's), else Kubo's default.
pub fn ipfs_client(ctx: &Connection) -> Result<KuboClient, iollm_content::Error> {
    match &ctx.deployment.ipfs {
        Some(ipfs) => KuboClient::new(&ipfs.api_url),
        None => KuboClient::new(iollm_content::DEFAULT_IPFS_API),
    }
}

/// The CID `ipfs add` would print for `path` (file or directory).
pub fn cid_of_path(path: &Path, opts: &AddOptions) -> Result<Cid, iollm_content::Error> {
    iollm_content::cid_of_file(path, opts)
}

/// A published package.
#[derive(Debug)]
pub struct Published {
    /// Its registry id.
    pub id: ArtifactId,
    /// The package directory's CID (recorded on chain).
    pub package_cid: Cid,
    /// Its `smip.json`'s CID.
    pub manifest_cid: Cid,
}

/// Adds the package in `dir` to `store` without registering it: writes its `smip.json`, adds
/// it (checking the node's CID equals ours). A job's executor does this and submits the package
/// CID as the job's output; the poster registers it with `model register --from-job`.
pub async fn add_package(
    store: &KuboClient,
    dir: &Path,
) -> Result<iollm_content::manifest::Package, ContentCommandError> {
    Ok(iollm_content::publish_package(store, dir, &package_options()).await?)
}

/// Publishes the package in `dir`: [`add_package`], then registers the package CID as a `kind`
/// artifact.
pub async fn publish(
    ctx: &Connection,
    store: &KuboClient,
    signer: &Signer,
    kind: Kind,
    dir: &Path,
) -> Result<Published, ContentCommandError> {
    let package = add_package(store, dir).await?;
    let cid = iollm_content::format_cid(&package.package_cid);
    let registration = model::register(ctx, signer, kind, &cid).await?;
    Ok(Published {
        id: registration.id,
        package_cid: package.package_cid,
        manifest_cid: package.manifest_cid,
    })
}

/// Pulls artifact `id` into `dest` (which must not exist): exactly the files its smip.json
/// lists, every block verified against its CID, within `limit`, the directory appearing only
/// once complete.
pub async fn pull(
    ctx: &Connection,
    store: &KuboClient,
    id: ArtifactId,
    dest: &Path,
    limit: &iollm_content::PullOptions,
) -> Result<(Cid, Manifest), ContentCommandError> {
    let artifact = model::show(ctx, id).await?;
    let text = String::from_utf8_lossy(&artifact.manifest_cid).into_owned();
    let cid = iollm_content::parse_cid(&text).map_err(|e| ContentCommandError::BadRecordedCid {
        id,
        cid: text.clone(),
        reason: e.to_string(),
    })?;
    let manifest = iollm_content::pull_package_with(store, &cid, dest, limit).await?;
    Ok((cid, manifest))
}
