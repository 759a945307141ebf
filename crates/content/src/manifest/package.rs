//! Packages: filling `files` from a directory, writing the manifest, publishing, and checking
//! a pulled directory against its manifest.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::schema::*;
use super::{Manifest, PackageManifest};
use crate::dag::{add_path_with, FileBuilder, NullSink};
use crate::error::{Error, Result};
use crate::options::{parse_cid, AddOptions};

/// Reads one file once, computing its size, sha256 and CID together.
fn describe_file(path: &Path, rel: &str, opts: &AddOptions) -> Result<FileEntry> {
    let mut f = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut b = FileBuilder::new(*opts, NullSink)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; opts.chunk_size];
    let mut size = 0u64;
    loop {
        let mut n = 0;
        while n < buf.len() {
            let k = f.read(&mut buf[n..]).map_err(|e| Error::io(path, e))?;
            if k == 0 {
                break;
            }
            n += k;
        }
        if n > 0 {
            h.update(&buf[..n]);
            b.push_chunk(&buf[..n])?;
            size += n as u64;
        }
        if n < buf.len() {
            break;
        }
    }
    let cid = b.finish()?.cid;
    Ok(FileEntry {
        path: rel.to_owned(),
        size,
        cid: cid.to_string(),
        sha256: hex_lower(&h.finalize()),
    })
}

pub(crate) fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Lists the package's files (`/`-separated relative paths) as `ipfs add -r` would add them,
/// refusing symlinks that leave the package, non-UTF-8 names and special files.
fn package_files(dir: &Path, opts: &AddOptions, own: &str) -> Result<Vec<(String, PathBuf)>> {
    // Canonical, so `.` or `pkg/` name the package by its real directory name.
    let dir = &fs::canonicalize(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::MissingFile(dir.to_owned())
        } else {
            Error::io(dir, e)
        }
    })?;
    let mut files = Vec::new();
    let mut symlinks = Vec::new();
    let base = dir.parent().unwrap_or(Path::new(""));
    let root_name = dir.file_name().map(PathBuf::from).unwrap_or_default();
    // Walks like `ipfs add -r` (same skips and checks), without storing anything.
    add_path_with(dir, opts, &mut NullSink, &mut |rel, _| {
        if let Ok(inner) = rel.strip_prefix(&root_name) {
            let abs = base.join(rel);
            if fs::symlink_metadata(&abs).is_ok_and(|m| m.file_type().is_symlink()) {
                symlinks.push(abs);
            } else if abs.is_file() && !inner.as_os_str().is_empty() {
                let s = inner.to_string_lossy().replace('\\', "/");
                files.push((s, abs));
            }
        }
    })?;
    if let Some(link) = symlinks.into_iter().next() {
        return Err(Error::SymlinkInPackage(link));
    }
    files.retain(|(p, _)| p != own);
    files.sort();
    Ok(files)
}

/// Fills `files` of the manifest template in `dir` (`smip.json` for a model) from the
/// directory and validates the result. The template holds the descriptive fields; any `files`
/// it lists are replaced.
pub fn build_package_manifest<M: PackageManifest>(dir: &Path, opts: &AddOptions) -> Result<M> {
    let mpath = dir.join(M::FILE);
    let bytes = match fs::read(&mpath) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::MissingFile(mpath));
        }
        Err(e) => return Err(Error::io(mpath, e)),
    };
    let mut m = M::from_template(&bytes, opts)?;
    for (rel, abs) in package_files(dir, opts, M::FILE)? {
        m.files_mut().push(describe_file(&abs, &rel, opts)?);
    }
    m.validate()?;
    Ok(m)
}

/// A package ready to publish.
#[derive(Debug, Clone)]
pub struct Package<M = Manifest> {
    /// The manifest as written.
    pub manifest: M,
    /// CID of the manifest's file (`smip.json` for a model).
    pub manifest_cid: cid::Cid,
    /// CID of the package directory (what goes on chain).
    pub package_cid: cid::Cid,
}

/// `build_package_manifest`, then writes the canonical manifest (atomically) and computes
/// the manifest and package CIDs. Idempotent: running it twice gives the same CIDs.
pub fn prepare_package<M: PackageManifest>(dir: &Path, opts: &AddOptions) -> Result<Package<M>> {
    let manifest: M = build_package_manifest(dir, opts)?;
    let bytes = manifest.to_canonical_json()?;
    let mpath = dir.join(M::FILE);
    crate::fsutil::write_atomic(&mpath, &bytes)?;
    let manifest_cid = crate::dag::cid_of_bytes(&bytes, opts)?;
    let package_cid = crate::dag::cid_of_file(dir, opts)?;
    Ok(Package { manifest, manifest_cid, package_cid })
}

/// After a pull: reads and validates the manifest in `dir` (`smip.json` for a model) and checks
/// every listed file's size, sha256 and CID (with the manifest's `cid_options`), and that the
/// directory holds no file the manifest does not list.
pub fn verify_package<M: PackageManifest>(dir: &Path) -> Result<M> {
    let mpath = dir.join(M::FILE);
    let bytes = fs::read(&mpath).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::MissingFile(mpath.clone())
        } else {
            Error::io(&mpath, e)
        }
    })?;
    let m = M::parse(&bytes)?;
    let opts = &m.cid_options().to_add_options()?;
    let on_disk = package_files(dir, opts, M::FILE)?;
    let listed: BTreeSet<&str> = m.files().iter().map(|f| f.path.as_str()).collect();
    let mut errs = Vec::new();
    for (rel, _) in &on_disk {
        if !listed.contains(rel.as_str()) {
            errs.push(ManifestError {
                path: "files".into(),
                reason: format!("{rel:?} is in the package but not listed"),
            });
        }
    }
    for (i, f) in m.files().iter().enumerate() {
        let abs = dir.join(&f.path);
        if !abs.is_file() {
            errs.push(ManifestError {
                path: format!("files[{i}].path"),
                reason: format!("missing file {:?}", f.path),
            });
            continue;
        }
        let got = describe_file(&abs, &f.path, opts)?;
        if got.size != f.size {
            errs.push(ManifestError {
                path: format!("files[{i}].size"),
                reason: format!("{} on disk, {} in manifest", got.size, f.size),
            });
        }
        if got.sha256 != f.sha256 {
            errs.push(ManifestError {
                path: format!("files[{i}].sha256"),
                reason: format!("{} on disk", got.sha256),
            });
        }
        if parse_cid(&got.cid).ok() != parse_cid(&f.cid).ok() {
            errs.push(ManifestError {
                path: format!("files[{i}].cid"),
                reason: format!("{} on disk", got.cid),
            });
        }
    }
    if errs.is_empty() {
        Ok(m)
    } else {
        Err(Error::InvalidManifest(ManifestErrors(errs)))
    }
}

/// `iollm model publish`: builds and writes the manifest ([`prepare_package`]), adds the
/// directory to `store` and checks the node's CID equals ours. Register `package_cid` on chain.
pub async fn publish_package<
    M: PackageManifest + Send + 'static,
    S: crate::client::ContentStore,
>(
    store: &S,
    dir: &Path,
    opts: &AddOptions,
) -> Result<Package<M>> {
    let (d, o) = (dir.to_owned(), *opts);
    let pkg = tokio::task::spawn_blocking(move || prepare_package::<M>(&d, &o))
        .await
        .map_err(|e| Error::Api(e.to_string()))??;
    // `put_dir` fails with CidMismatch if the node's root differs from the local one.
    let added = store.put_dir(dir, opts).await?;
    if added.cid != pkg.package_cid {
        return Err(Error::CidMismatch {
            expected: Box::new(pkg.package_cid),
            actual: Box::new(added.cid),
        });
    }
    tracing::info!(target: "iollm_content::manifest", package = %pkg.package_cid, manifest = %pkg.manifest_cid, kind = M::WHAT, "Published package");
    Ok(pkg)
}

/// `iollm model pull` with the default limit: [`crate::pull::pull_package_with`].
pub async fn pull_package<S: crate::client::ContentStore>(
    store: &S,
    package_cid: &cid::Cid,
    dest: &Path,
) -> Result<Manifest> {
    crate::pull::pull_package_with(store, package_cid, dest, &crate::pull::PullOptions::default())
        .await
}
