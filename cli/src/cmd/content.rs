//! `iollm cid` (the CID `ipfs add` would give, offline) and `iollm ipfs daemon`.

use crate::args::Cli;
use crate::output::Report;
use std::net::SocketAddr;
use std::path::Path;

/// `iollm cid`.
pub(super) fn cid(
    path: &Path,
    cid_version: Option<u8>,
    raw_leaves: Option<bool>,
    chunker: Option<&str>,
) -> anyhow::Result<Report> {
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
    let cid = iollm_content::format_cid(&cid);
    let mut report = Report::default();
    report.line(format!("added {cid} {name}")).set("cid", cid).set("name", name);
    Ok(report)
}

/// `iollm ipfs daemon`: serves until a signal stops it.
pub(super) async fn ipfs_daemon(cli: &Cli, repo: &Path, api: SocketAddr) -> anyhow::Result<Report> {
    use iollm_content::daemon::{Daemon, DaemonConfig};
    let daemon = Daemon::bind(DaemonConfig::new(repo, api)).await?;
    let mut listening = Report::default();
    listening
        .line(format!("IPFS API listening on {} (repo {})", daemon.api_url(), repo.display()))
        .set("api_url", daemon.api_url().to_string())
        .set("repo", repo);
    listening.print(cli.json);
    daemon.run(super::cancelled_on_signal()).await?;
    let mut stopped = Report::default();
    stopped.line("IPFS daemon stopped.").set("stopped", true);
    Ok(stopped)
}
