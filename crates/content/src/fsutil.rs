//! The crate's one way to put a file in place durably, and its one advisory lock.
//!
//! [`write_atomic`] writes a temporary sibling, fsyncs it, renames it over the target and fsyncs
//! the directory, so after a crash the target is either the old file or the whole new one, and
//! the rename itself survives. [`lock_exclusive`] takes a non-blocking `flock` on a lock file
//! (released when the file is closed, also when the process dies), used for the daemon's repo
//! and for a pull's staging directory.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! iollm_content::fsutil::write_atomic(&dir.path().join("a.json"), b"{}").unwrap();
//! ```

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// The directory a path lives in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Fsyncs a directory, so renames and creations in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))
}

/// A temporary name beside `path`, unique within this process.
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    parent_dir(path).join(format!(".{name}.tmp-{}-{seq}", std::process::id()))
}

/// Writes `parts` (concatenated) to `path` atomically and durably: temporary sibling, fsync,
/// rename, fsync of the directory. On error the temporary is removed.
pub fn write_parts_atomic(path: &Path, parts: &[&[u8]]) -> Result<()> {
    let tmp = temp_sibling(path);
    let res = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        for p in parts {
            f.write_all(p)?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    sync_dir(parent_dir(path))
}

/// [`write_parts_atomic`] of one buffer.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_parts_atomic(path, &[bytes])
}

/// Opens (creating) `path` and takes an exclusive `flock` on it without waiting: `Ok(None)`
/// when another process (or another open of it here) holds it.
pub fn lock_exclusive(path: &Path) -> Result<Option<File>> {
    let f = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(f)),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(None),
        Err(e) => Err(Error::io(path, e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_atomic(&p, b"one").unwrap();
        write_parts_atomic(&p, &[b"tw", b"o"]).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_lock_is_exclusive_until_closed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let held = lock_exclusive(&p).unwrap().expect("free");
        assert!(lock_exclusive(&p).unwrap().is_none());
        drop(held);
        assert!(lock_exclusive(&p).unwrap().is_some());
    }
}
