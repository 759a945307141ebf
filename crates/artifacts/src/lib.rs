//! Artifacts: an SMIP package on IPFS and its record in the registry contract, with one lineage
//! for both. The manifest's `parents` (by registry id) and `provenance.job_id` are what
//! [`publish`] registers, so revenue follows the lineage the package states; [`pull`] refuses a
//! package whose manifest states another lineage than the chain records, and keeps nothing of
//! it. The CLI (`iollm model publish|pull`) and the worker (its job outputs) both come here.

use iollm_chain::registry::Registration;
use iollm_chain::{ChainError, Connection, Signer};
use iollm_content::manifest::{Manifest, Package};
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

/// Adds the package in `dir` to `store` without registering it: writes its `smip.json`, adds
/// it (checking the node's CID equals ours). A job's executor does this and submits the package
/// CID as the job's output; the poster registers it ([`publish`] or `model register --from-job`).
pub async fn add_package<S: ContentStore>(store: &S, dir: &Path) -> Result<Package, ArtifactError> {
    Ok(iollm_content::publish_package(store, dir, &package_options()).await?)
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
    let package = add_package(store, dir).await?;
    // What was hashed and added states the lineage: the one registered.
    let lineage = lineage(&package.manifest)?;
    let cid = iollm_content::format_cid(&package.package_cid);
    let registration = register_lineage(connection, signer, kind, &cid, &lineage, rule).await?;
    Ok(Published {
        id: registration.id,
        package_cid: package.package_cid,
        manifest_cid: package.manifest_cid,
        lineage,
    })
}

/// The lineage the `smip.json` of the package `cid` states, read from the manifest alone (a
/// description of why it states none, when a parent has no registry id).
async fn stated_lineage<S: ContentStore>(
    store: &S,
    cid: &Cid,
) -> Result<Result<Lineage, String>, ArtifactError> {
    let manifest = iollm_content::read_package_manifest(store, cid).await?;
    Ok(lineage(&manifest).map_err(|e| e.to_string()))
}

/// Refuses, before anything is sent, to register the package at `cid` (already on IPFS) with
/// a lineage its `smip.json` does not state ([`ArtifactError::NotItsLineage`]).
pub async fn check_stated<S: ContentStore>(
    store: &S,
    cid: &str,
    registering: &Lineage,
) -> Result<(), ArtifactError> {
    let parsed = iollm_content::parse_cid(cid)?;
    match stated_lineage(store, &parsed).await? {
        Ok(stated) if stated == *registering => Ok(()),
        stated => Err(ArtifactError::NotItsLineage {
            cid: cid.to_string(),
            registering: registering.to_string(),
            manifest: stated.map_or_else(|why| why, |s| s.to_string()),
        }),
    }
}

/// Registers the package at `cid` (already on IPFS) as a `kind` artifact with `lineage` and
/// `rule` — the verified output of `lineage.job` when it names one — a model only when its
/// `smip.json` states that lineage ([`check_stated`]; a dataset or path need not be an SMIP
/// package): what `iollm model register` does. The registry contract cannot read IPFS, so
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
    if kind == Kind::Model {
        check_stated(store, cid, lineage).await?;
    }
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

/// Registers the package at `cid` as a new version of artifact `id` (the signer's) — of a
/// model, only when its `smip.json` states the lineage the new version will have: `id`'s
/// parents, no job (a new version is not a job's verified output).
pub async fn new_version(
    connection: &Connection,
    store: &KuboClient,
    signer: &Signer,
    id: ArtifactId,
    cid: &str,
) -> Result<Registration, ArtifactError> {
    let registry = connection.registry()?;
    let old = registry.get(id).await?.ok_or(ArtifactError::NotFound(id))?;
    if old.kind == Kind::Model {
        check_stated(store, cid, &Lineage { parents: old.parents, job: None }).await?;
    }
    Ok(registry.new_version(signer, id, cid).await?)
}

/// Pulls artifact `id` into `dest` (which must not exist): exactly the files its smip.json
/// lists, every block verified against its CID, within `limit`, the directory appearing only
/// once complete — and only when its manifest's lineage is the one the chain records (else
/// nothing is written).
pub async fn pull(
    connection: &Connection,
    store: &KuboClient,
    id: ArtifactId,
    dest: &Path,
    limit: &PullOptions,
) -> Result<(Cid, Manifest), ArtifactError> {
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
    match stated_lineage(store, &cid).await? {
        Ok(stated) if stated == recorded => {}
        stated => {
            let manifest = stated.map_or_else(|why| why, |s| s.to_string());
            let chain = recorded.to_string();
            return Err(ArtifactError::LineageMismatch { id, chain, manifest });
        }
    }
    let manifest = iollm_content::pull_package_with(store, &cid, dest, limit).await?;
    Ok((cid, manifest))
}
