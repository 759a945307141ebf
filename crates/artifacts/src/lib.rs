//! Artifacts: an SMIP package on IPFS and its record in the registry contract, with one lineage
//! for both. The manifest's `parents` (by registry id) and `provenance.job_id` are what
//! [`publish`] registers, so revenue follows the lineage the package states; [`pull`] refuses a
//! package whose manifest states another lineage than the chain records, and keeps nothing of
//! it. A dataset is an SMIP dataset package (`smip-dataset.json`), which states no lineage;
//! a model, or a path (until the path evaluator defines its package), an SMIP model package
//! (`smip.json`): [`is_dataset`]. The CLI (`iollm model publish|pull`) and the worker (its job
//! outputs) both come here.

use iollm_chain::registry::Registration;
use iollm_chain::{ChainError, Connection, Signer};
use iollm_content::manifest::{DatasetManifest, FileEntry, Manifest, Package, PackageManifest};
use iollm_content::{AddOptions, Cid, ContentStore, KuboClient, PullOptions};
use iollm_types::market::JobId;
use iollm_types::registry::{ArtifactId, Kind, Parent, Relation};
use iollm_types::split::SplitRule;
use std::path::Path;

/// Why publishing or pulling an artifact failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// The content layer failed (bad package, CID mismatch, IPFS node down…).
    #[error(transparent)]
    Content(#[from] iollm_content::Error),
    /// The chain refused or failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// No artifact has this id.
    #[error("no artifact with id {0}")]
    NotFound(ArtifactId),
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
    /// A parent the manifest names by CID alone: the chain cannot route revenue to it.
    #[error("smip.json parents[{index}] names no registry id (only {cid:?}): register that parent, then name it by its id")]
    UnregisteredParent {
        /// Its index in `parents`.
        index: usize,
        /// The CID it names.
        cid: String,
    },
    /// The package states another lineage than the chain records.
    #[error("artifact {id}: its smip.json states {manifest} but the chain records {chain}; nothing was pulled")]
    LineageMismatch {
        /// The artifact.
        id: ArtifactId,
        /// The chain's lineage, described.
        chain: String,
        /// The manifest's, described.
        manifest: String,
    },
    /// A registration of a package under another lineage than its manifest states: the chain
    /// would pay parents the package does not name (or not pay those it does).
    #[error("the package {cid} states {manifest}, not the {registering} being registered; nothing was sent (register the lineage its smip.json states, as `iollm model publish` does)")]
    NotItsLineage {
        /// The package's CID.
        cid: String,
        /// The lineage being registered, described.
        registering: String,
        /// The manifest's, described.
        manifest: String,
    },
}

/// Where an artifact comes from, as the registry records it: its parents and the market job
/// that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// Its parents, in the manifest's order.
    pub parents: Vec<Parent>,
    /// The job it is the verified output of.
    pub job: Option<JobId>,
}

impl Lineage {
    /// No parents, no job: a dataset's (its manifest states none).
    pub const NONE: Lineage = Lineage { parents: Vec::new(), job: None };
}

impl std::fmt::Display for Lineage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parents: Vec<String> =
            self.parents.iter().map(|p| format!("{}:{:?}", p.id, p.relation)).collect();
        write!(f, "parents [{}]", parents.join(", "))?;
        match self.job {
            Some(job) => write!(f, ", job {job}"),
            None => write!(f, ", no job"),
        }
    }
}

/// The lineage `manifest` states, refused when a parent has no registry id.
pub fn lineage(manifest: &Manifest) -> Result<Lineage, ArtifactError> {
    use iollm_content::manifest::Relation as Stated;
    let parents = manifest.parents.iter().enumerate().map(|(index, parent)| {
        let id = parent.id.ok_or_else(|| ArtifactError::UnregisteredParent {
            index,
            cid: parent.cid.clone().unwrap_or_default(),
        })?;
        let relation = match parent.relation {
            Stated::Finetune => Relation::Finetune,
            Stated::Adapter => Relation::Adapter,
            Stated::Merge => Relation::Merge,
            Stated::Quantize => Relation::Quantize,
            Stated::Distill => Relation::Distill,
        };
        Ok(Parent { id, relation })
    });
    Ok(Lineage {
        parents: parents.collect::<Result<_, ArtifactError>>()?,
        job: manifest.provenance.as_ref().and_then(|p| p.job_id),
    })
}

/// Options every package is added with: CIDv1, raw leaves of 32 KiB
/// ([`iollm_types::package::PIECE_BYTES`], the weights file's alignment), so that each 4 KiB
/// chunk of a model's weights lies whole in one leaf, which a UnixFS path proof can show a
/// contract (`iollm_content::prove_at`): a job's output is proven so, and any model published
/// can be a job's base model, read so by the referee of its initial game.
pub fn package_options() -> AddOptions {
    AddOptions { chunk_size: iollm_types::package::PIECE_BYTES as usize, ..AddOptions::v1() }
}

/// The IPFS API of the connection (its deployment's), else Kubo's default.
pub fn ipfs_client(connection: &Connection) -> Result<KuboClient, iollm_content::Error> {
    match &connection.deployment.ipfs {
        Some(ipfs) => KuboClient::new(&ipfs.api_url),
        None => KuboClient::new(iollm_content::DEFAULT_IPFS_API),
    }
}

/// Adds the package in `dir` to `store` without registering it: writes its manifest (`M`'s:
/// a model's `smip.json`, a dataset's `smip-dataset.json`), adds it (checking the node's CID
/// equals ours). A job's executor does this and submits the package CID as the job's output;
/// the poster registers it ([`publish`] or `model register --from-job`).
pub async fn add_package<M: PackageManifest + Send + 'static, S: ContentStore>(
    store: &S,
    dir: &Path,
) -> Result<Package<M>, ArtifactError> {
    Ok(iollm_content::publish_package(store, dir, &package_options()).await?)
}

/// A package added to IPFS.
#[derive(Debug)]
pub struct Added {
    /// The package directory's CID.
    pub package_cid: Cid,
    /// Its manifest's CID.
    pub manifest_cid: Cid,
    /// Its manifest, when it is a model's (a dataset's states no lineage).
    pub model: Option<Manifest>,
}

/// Whether a `kind` artifact's package is a dataset package (`smip-dataset.json`, stating no
/// lineage); else it is a model package (`smip.json`), a path's too until the path evaluator
/// defines its own.
pub fn is_dataset(kind: Kind) -> bool {
    kind == Kind::Dataset
}

/// [`add_package`] with the manifest a `kind` artifact has ([`is_dataset`]).
pub async fn add_kind<S: ContentStore>(
    store: &S,
    kind: Kind,
    dir: &Path,
) -> Result<Added, ArtifactError> {
    Ok(if is_dataset(kind) {
        let p: Package<DatasetManifest> = add_package(store, dir).await?;
        Added { package_cid: p.package_cid, manifest_cid: p.manifest_cid, model: None }
    } else {
        let p: Package = add_package(store, dir).await?;
        Added { package_cid: p.package_cid, manifest_cid: p.manifest_cid, model: Some(p.manifest) }
    })
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
    /// The lineage registered: the manifest's.
    pub lineage: Lineage,
}

/// Publishes the package in `dir`: [`add_package`], then the package CID registered as a
/// `kind` artifact with the lineage its manifest states (a parent without a registry id is
/// refused before anything is registered) and `rule` — as the verified output of
/// the manifest's job when it names one (only that job's poster may, and only with the
/// output CID the job recorded).
pub async fn publish(
    connection: &Connection,
    store: &KuboClient,
    signer: &Signer,
    kind: Kind,
    dir: &Path,
    rule: SplitRule,
) -> Result<Published, ArtifactError> {
    let Added { package_cid, manifest_cid, model } = add_kind(store, kind, dir).await?;
    // What was hashed and added states the lineage: the one registered.
    let lineage = model.as_ref().map_or(Ok(Lineage::NONE), lineage)?;
    let cid = iollm_content::format_cid(&package_cid);
    let registration = register_lineage(connection, signer, kind, &cid, &lineage, rule).await?;
    Ok(Published { id: registration.id, package_cid, manifest_cid, lineage })
}

/// The lineage the manifest of the `kind` package `cid` states, read from the manifest alone
/// (a description of why it states none, when a parent has no registry id); a dataset
/// package states none. Refused when it is not a package of that kind.
async fn stated_lineage<S: ContentStore>(
    store: &S,
    kind: Kind,
    cid: &Cid,
) -> Result<Result<Lineage, String>, ArtifactError> {
    Ok(if is_dataset(kind) {
        let _: DatasetManifest = iollm_content::read_package_manifest(store, cid).await?;
        Ok(Lineage::NONE)
    } else {
        let manifest: Manifest = iollm_content::read_package_manifest(store, cid).await?;
        lineage(&manifest).map_err(|e| e.to_string())
    })
}

/// Refuses, before anything is sent, to register the package at `cid` (already on IPFS) as a
/// `kind` artifact when it is not a package of that kind ([`is_dataset`]), or with a lineage
/// its manifest does not state ([`ArtifactError::NotItsLineage`]).
pub async fn check_stated<S: ContentStore>(
    store: &S,
    kind: Kind,
    cid: &str,
    registering: &Lineage,
) -> Result<(), ArtifactError> {
    let parsed = iollm_content::parse_cid(cid)?;
    match stated_lineage(store, kind, &parsed).await? {
        Ok(stated) if stated == *registering => Ok(()),
        stated => Err(ArtifactError::NotItsLineage {
            cid: cid.to_string(),
            registering: registering.to_string(),
            manifest: stated.map_or_else(|why| why, |s| s.to_string()),
        }),
    }
}

/// Registers the package at `cid` (already on IPFS) as a `kind` artifact with `lineage` and
/// `rule` — the verified output of `lineage.job` when it names one — only when it is a package
/// of that kind whose manifest states that lineage ([`check_stated`]): what `iollm model
/// register` does. The registry contract cannot read IPFS, so
/// this check is the client's; [`pull`] refuses whatever slipped past it.
pub async fn register_package(
    connection: &Connection,
    store: &KuboClient,
    signer: &Signer,
    kind: Kind,
    cid: &str,
    lineage: &Lineage,
    rule: SplitRule,
) -> Result<Registration, ArtifactError> {
    check_stated(store, kind, cid, lineage).await?;
    register_lineage(connection, signer, kind, cid, lineage, rule).await
}

/// The registration of `cid` with `lineage`: from its job when it names one.
async fn register_lineage(
    connection: &Connection,
    signer: &Signer,
    kind: Kind,
    cid: &str,
    lineage: &Lineage,
    rule: SplitRule,
) -> Result<Registration, ArtifactError> {
    let registry = connection.registry()?;
    let parents = &lineage.parents;
    Ok(match lineage.job {
        Some(job) => registry.register_from_job(signer, job, kind, cid, parents, rule).await?,
        None => registry.register(signer, kind, cid, parents, rule).await?,
    })
}

/// Registers the package at `cid` as a new version of artifact `id` (the signer's) — only when
/// it is a package of `id`'s kind whose manifest states the lineage the new version will have:
/// `id`'s parents, no job (a new version is not a job's verified output).
pub async fn new_version(
    connection: &Connection,
    store: &KuboClient,
    signer: &Signer,
    id: ArtifactId,
    cid: &str,
) -> Result<Registration, ArtifactError> {
    let registry = connection.registry()?;
    let old = registry.get(id).await?.ok_or(ArtifactError::NotFound(id))?;
    check_stated(store, old.kind, cid, &Lineage { parents: old.parents, job: None }).await?;
    Ok(registry.new_version(signer, id, cid).await?)
}

/// Pulls artifact `id` into `dest` (which must not exist): exactly the files its manifest
/// lists (a model's `smip.json`, a dataset's `smip-dataset.json`), every block verified
/// against its CID, within `limit`, the directory appearing only once complete — and only when
/// its manifest's lineage is the one the chain records (else nothing is written). Returns the
/// package CID and its files.
pub async fn pull(
    connection: &Connection,
    store: &KuboClient,
    id: ArtifactId,
    dest: &Path,
    limit: &PullOptions,
) -> Result<(Cid, Vec<FileEntry>), ArtifactError> {
    let artifact = connection.registry()?.get(id).await?.ok_or(ArtifactError::NotFound(id))?;
    let text = String::from_utf8_lossy(&artifact.manifest_cid).into_owned();
    let cid = iollm_content::parse_cid(&text).map_err(|e| ArtifactError::BadRecordedCid {
        id,
        cid: text.clone(),
        reason: e.to_string(),
    })?;
    // The lineage is checked on the manifest alone, before a byte is written or a file
    // fetched (the package's content cannot change under its CID).
    let recorded = Lineage { parents: artifact.parents, job: artifact.job };
    let kind = artifact.kind;
    match stated_lineage(store, kind, &cid).await? {
        Ok(stated) if stated == recorded => {}
        stated => {
            let manifest = stated.map_or_else(|why| why, |s| s.to_string());
            let chain = recorded.to_string();
            return Err(ArtifactError::LineageMismatch { id, chain, manifest });
        }
    }
    let files = if is_dataset(kind) {
        let m: DatasetManifest = iollm_content::pull_package_with(store, &cid, dest, limit).await?;
        m.files
    } else {
        let m: Manifest = iollm_content::pull_package_with(store, &cid, dest, limit).await?;
        m.files
    };
    Ok((cid, files))
}
