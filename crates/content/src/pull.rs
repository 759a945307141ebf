//! Verified pull of a package (a model's, whose manifest is `smip.json`, or a dataset's,
//! `smip-dataset.json`): exactly the files its manifest lists, each checked, within a size
//! limit; and [`fetch_split`], one split of a dataset package.
//!
//! Order: the package's root directory and its manifest are fetched (every block verified
//! against its CID) and the manifest is validated; the sum of the sizes it lists is checked
//! against the limit; then the package's directory tree is checked against the manifest —
//! every entry must be a listed file, with the manifest's CID and size, or a directory on the
//! way to one (anything else, hidden files included, refuses the package) — before any file is
//! written. Files are then written under the staging directory (see [`crate::fetch`]), each
//! stopped as soon as it delivers more than its size, checked again by [`verify_package`]
//! (sha256 and CID of every file), and renamed to the destination. [`read_package_manifest`]
//! is the first step alone: what a caller checks before pulling (the lineage the registry
//! records, in `iollm-artifacts`).
//!
//! ```no_run
//! # async fn f(store: &iollm_content::KuboClient, cid: &iollm_content::Cid) -> iollm_content::Result<()> {
//! use iollm_content::pull::{pull_package_with, PullOptions};
//! let manifest: iollm_content::Manifest = pull_package_with(store, cid, "model".as_ref(), &PullOptions { max_bytes: 1 << 30 }).await?;
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bytes::Bytes;
use cid::Cid;

use crate::client::ContentStore;
use crate::error::{Error, Result};
use crate::fetch::{check_entry_name, get_verified, write_file, write_file_to, Staging};
use crate::manifest::{
    verify_package, DatasetManifest, FileEntry, ManifestError, ManifestErrors, PackageManifest,
    MAX_MANIFEST_BYTES,
};
use crate::options::parse_cid;
use crate::pb::PbLink;
use crate::unixfs::{self, Node};

const TARGET: &str = "iollm_content::pull";

/// How much a pull may write.
#[derive(Debug, Clone, Copy)]
pub struct PullOptions {
    /// Largest total of file sizes accepted (the manifest's sum, `smip.json` included).
    pub max_bytes: u64,
}

impl Default for PullOptions {
    fn default() -> Self {
        Self { max_bytes: crate::fetch::DEFAULT_MAX_BYTES }
    }
}

fn not_a_package<M: PackageManifest>(cid: &Cid, reason: impl Into<String>) -> Error {
    Error::NotAPackage { cid: Box::new(*cid), what: M::WHAT, reason: reason.into() }
}

/// A file to write: path inside the package, CID, verified root block, size.
struct Planned {
    path: String,
    cid: Cid,
    block: Bytes,
    size: u64,
}

/// `iollm model pull`: pulls the package `package_cid` (a model's, or a dataset's: `M`) into
/// `dest` (which must not exist). On any failure nothing is left behind.
pub async fn pull_package_with<M: PackageManifest + Send + 'static, S: ContentStore>(
    store: &S,
    package_cid: &Cid,
    dest: &Path,
    opts: &PullOptions,
) -> Result<M> {
    let staging = Staging::acquire(dest)?;
    let (links, manifest_bytes, manifest) = package_manifest::<M, S>(store, package_cid).await?;
    let total = manifest
        .files()
        .iter()
        .try_fold(manifest_bytes.len() as u64, |t, f| t.checked_add(f.size))
        .unwrap_or(u64::MAX);
    if total > opts.max_bytes {
        return Err(Error::PullTooLarge { size: total, limit: opts.max_bytes });
    }
    let plan = plan::<M, S>(store, package_cid, links, &manifest).await?;

    let content = staging.content();
    std::fs::create_dir(&content).map_err(|e| Error::io(&content, e))?;
    crate::fsutil::write_atomic(&content.join(M::FILE), &manifest_bytes)?;
    let mut dirs = BTreeSet::new();
    for p in plan {
        let path = content.join(&p.path);
        let parent = crate::fsutil::parent_dir(&path);
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        dirs.insert(parent.to_owned());
        write_file_to(store, &p.cid, p.block, &path, p.size).await?;
    }
    for d in dirs {
        crate::fsutil::sync_dir(&d)?;
    }
    let c = content.clone();
    let verified = tokio::task::spawn_blocking(move || verify_package::<M>(&c))
        .await
        .map_err(|e| Error::Api(e.to_string()))??;
    staging.commit(dest)?;
    tracing::info!(target: TARGET, package = %package_cid, dest = %dest.display(), files = verified.files().len(), bytes = total, "Pulled and verified");
    Ok(verified)
}

/// The manifest of package `package_cid` (at most [`MAX_MANIFEST_BYTES`]), validated, every
/// block verified, nothing written: what a caller checks (the lineage the registry records,
/// say) before pulling the package.
pub async fn read_package_manifest<M: PackageManifest, S: ContentStore>(
    store: &S,
    package_cid: &Cid,
) -> Result<M> {
    Ok(package_manifest::<M, S>(store, package_cid).await?.2)
}

/// The package's root links, and its manifest's bytes and manifest.
async fn package_manifest<M: PackageManifest, S: ContentStore>(
    store: &S,
    package_cid: &Cid,
) -> Result<(Vec<PbLink>, Vec<u8>, M)> {
    let root = get_verified(store, package_cid).await?;
    let Node::Directory { links } = unixfs::inspect(package_cid, &root)?.0 else {
        return Err(not_a_package::<M>(package_cid, "it is not a directory"));
    };
    let (bytes, manifest) = read_manifest::<M, S>(store, package_cid, &links).await?;
    Ok((links, bytes, manifest))
}

async fn read_manifest<M: PackageManifest, S: ContentStore>(
    store: &S,
    package: &Cid,
    links: &[PbLink],
) -> Result<(Vec<u8>, M)> {
    let file = M::FILE;
    let link = links
        .iter()
        .find(|l| l.name == file)
        .ok_or_else(|| not_a_package::<M>(package, format!("it has no {file}")))?;
    let block = get_verified(store, &link.cid).await?;
    let Node::File { size } = unixfs::inspect(&link.cid, &block)?.0 else {
        return Err(not_a_package::<M>(package, format!("its {file} is not a file")));
    };
    if size > MAX_MANIFEST_BYTES as u64 {
        return Err(not_a_package::<M>(
            package,
            format!("its {file} is {size} bytes, more than {MAX_MANIFEST_BYTES}"),
        ));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    let bar = indicatif::ProgressBar::hidden();
    let n = write_file(store, &link.cid, block, &mut bytes, Path::new(file), &bar, size).await?;
    if n != size {
        return Err(Error::SizeMismatch { path: file.into(), expected: size, actual: n });
    }
    let manifest = M::parse(&bytes)?;
    Ok((bytes, manifest))
}

/// Checks the package's tree against the manifest and lists the files to write.
async fn plan<M: PackageManifest, S: ContentStore>(
    store: &S,
    package: &Cid,
    root_links: Vec<PbLink>,
    manifest: &M,
) -> Result<Vec<Planned>> {
    let listed: BTreeMap<&str, &FileEntry> =
        manifest.files().iter().map(|f| (f.path.as_str(), f)).collect();
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for f in manifest.files() {
        let mut p = f.path.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            dirs.insert(parent.to_owned());
            p = parent;
        }
    }
    let mut seen = BTreeSet::new();
    let mut planned = Vec::with_capacity(listed.len());
    let mut stack: Vec<(String, Cid, Vec<PbLink>)> = vec![(String::new(), *package, root_links)];
    while let Some((prefix, dir, links)) = stack.pop() {
        for l in links {
            check_entry_name(&dir, &l.name)?;
            let rel =
                if prefix.is_empty() { l.name.clone() } else { format!("{prefix}/{}", l.name) };
            if !seen.insert(rel.clone()) {
                return Err(Error::MalformedBlock {
                    cid: Box::new(dir),
                    reason: format!("duplicate directory entry {:?}", l.name),
                });
            }
            if rel == M::FILE {
                continue;
            }
            if let Some(f) = listed.get(rel.as_str()) {
                let want = parse_cid(&f.cid)?;
                if l.cid != want {
                    return Err(Error::CidMismatch {
                        expected: Box::new(want),
                        actual: Box::new(l.cid),
                    });
                }
                let block = get_verified(store, &l.cid).await?;
                match unixfs::inspect(&l.cid, &block)?.0 {
                    Node::File { size } if size == f.size => {
                        planned.push(Planned { path: rel, cid: l.cid, block, size })
                    }
                    Node::File { size } => {
                        return Err(Error::SizeMismatch {
                            path: rel,
                            expected: f.size,
                            actual: size,
                        })
                    }
                    _ => return Err(Error::UnlistedFile { path: rel }),
                }
            } else if dirs.contains(&rel) {
                let block = get_verified(store, &l.cid).await?;
                match unixfs::inspect(&l.cid, &block)?.0 {
                    Node::Directory { links } => stack.push((rel, l.cid, links)),
                    _ => return Err(Error::UnlistedFile { path: rel }),
                }
            } else {
                return Err(Error::UnlistedFile { path: rel });
            }
        }
    }
    if let Some(missing) = listed.keys().find(|p| !seen.contains(**p)) {
        return Err(not_a_package::<M>(
            package,
            format!("{} lists {missing:?}, which it does not hold", M::FILE),
        ));
    }
    Ok(planned)
}

/// What a training job's executor fetches of its dataset: split `split` of the dataset package
/// `package` into `dest`. The package's `smip-dataset.json` is read and validated, the split's
/// file must be no larger than `max_bytes` and the file the package's directory holds at its
/// path must be the one the manifest lists (CID), then it is fetched with every block verified
/// and its size and sha256 checked; nothing is left at `dest` on failure. Returns the manifest
/// and the split's entry.
pub async fn fetch_split<S: ContentStore>(
    store: &S,
    package: &Cid,
    split: &str,
    dest: &Path,
    max_bytes: u64,
) -> Result<(DatasetManifest, FileEntry)> {
    let manifest: DatasetManifest = read_package_manifest(store, package).await?;
    let entry = manifest.split(split)?.clone();
    if entry.size > max_bytes {
        return Err(Error::PullTooLarge { size: entry.size, limit: max_bytes });
    }
    let listed = parse_cid(&entry.cid)?;
    let held = crate::fetch::resolve_path(store, package, &entry.path).await?;
    if held != listed {
        return Err(Error::CidMismatch { expected: Box::new(listed), actual: Box::new(held) });
    }
    // Fetched beside `dest` and renamed only once its sha256 is the manifest's too: a crash
    // leaves no file at `dest` that was not checked.
    let staged = crate::fsutil::temp_sibling(dest);
    let checked = async {
        crate::fetch::fetch_file_verified(store, &held, &staged, entry.size).await?;
        let (size, sha256) = sha256_of(&staged)?;
        if size != entry.size {
            let (path, expected) = (entry.path.clone(), entry.size);
            return Err(Error::SizeMismatch { path, expected, actual: size });
        }
        if sha256 != entry.sha256 {
            let reason = format!("{} has sha256 {sha256}, not {}", entry.path, entry.sha256);
            let path = format!("splits.{split:?}");
            return Err(ManifestErrors(vec![ManifestError { path, reason }]).into());
        }
        std::fs::rename(&staged, dest).map_err(|e| Error::io(dest, e))
    };
    if let Err(e) = checked.await {
        let _ = std::fs::remove_file(&staged);
        return Err(e);
    }
    tracing::info!(target: TARGET, %package, split, path = %entry.path, bytes = entry.size, "Fetched a dataset split");
    Ok((manifest, entry))
}

/// The size and lower-case hex SHA-256 of the file at `path`.
fn sha256_of(path: &Path) -> Result<(u64, String)> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let size = std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    Ok((size, crate::manifest::hex_lower(&hasher.finalize())))
}
