//! `iollm cid` (the CID `ipfs add` would give, offline) and `iollm ipfs daemon`.

use std::net::SocketAddr;
use std::path::Path;

/// `iollm cid`.
pub(super) fn cid(
    path: &Path,
    cid_version: Option<u8>,
    raw_leaves: Option<bool>,
    chunker: Option<&str>,
) -> anyhow::Result<()> {
    let opts = iollm_content::AddOptions::from_flags(cid_version, raw_leaves, chunker)?;
    let cid = iollm_content::cid_of_file(path, &opts)?;
    // `.` or `dir/..` have no file name: print the directory's own, as `ipfs add` does.
    let name = match path.file_name() {
        Some(n) => n.to_string_lossy().into_owned(),
        None => std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default(),
    };
    println!("added {} {name}", iollm_content::format_cid(&cid));
    Ok(())
}

/// `iollm ipfs daemon`: serves until a signal stops it.
pub(super) async fn ipfs_daemon(repo: &Path, api: SocketAddr) -> anyhow::Result<()> {
    use iollm_content::daemon::{Daemon, DaemonConfig};
    let daemon = Daemon::bind(DaemonConfig::new(repo, api)).await?;
    println!("IPFS API listening on {} (repo {})", daemon.api_url(), repo.display());
    daemon.run(super::cancelled_on_signal()).await?;
    println!("IPFS daemon stopped.");
    Ok(())
}
