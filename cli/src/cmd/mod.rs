//! The commands, one module per area of `iollm`: each takes what clap parsed
//! ([`crate::args`]), calls the library that does the work and returns what it did as a
//! [`Report`], which the output layer prints (text, or `--json`). No logic of their own
//! beyond choosing what to call.

mod content;
mod devnet;
mod dispute;
mod job;
mod market;
mod model;
mod train;
mod worker;

use crate::args::{Cli, Command, IpfsAction};
use crate::output::Report;
use tokio_util::sync::CancellationToken;

/// Runs the command `cli` names.
pub(crate) async fn dispatch(cli: &Cli) -> anyhow::Result<Report> {
    match &cli.command {
        Command::Devnet { action } => devnet::run(cli, action).await,
        Command::Model { action } => model::run(cli, action).await,
        Command::Cid { path, cid_version, raw_leaves, chunker } => {
            content::cid(path, *cid_version, *raw_leaves, chunker.as_deref())
        }
        Command::Ipfs { action: IpfsAction::Daemon { repo, api } } => {
            content::ipfs_daemon(cli, repo, *api).await
        }
        Command::Worker { action } => worker::run(cli, action).await,
        Command::Train { config, job, out, threads, resume } => {
            train::run(cli, (config.as_deref(), *job), out, *threads, *resume).await
        }
        Command::Job { action } => job::run(cli, action).await,
        Command::Dispute { action } => dispute::run(cli, action).await,
        other => market::run(cli, other).await,
    }
}

/// A token cancelled when the process gets SIGTERM or Ctrl-C.
fn cancelled_on_signal() -> CancellationToken {
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        on_signal.cancel();
    });
    shutdown
}
