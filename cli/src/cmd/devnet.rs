//! `iollm devnet up|status|down|clock`: the local network (`iollm-devnet`).

use crate::args::{Cli, DevnetAction};
use crate::{context, output};
use iollm_devnet::{self as devnet, Status, Up};

/// `iollm devnet …`.
pub(super) async fn run(cli: &Cli, action: &DevnetAction) -> anyhow::Result<()> {
    if let DevnetAction::Clock { every_ms } = action {
        // A process `devnet up` starts: it needs the chain, not the checkout.
        let ctx = context::connect(cli).await?;
        let every = std::time::Duration::from_millis((*every_ms).max(100));
        println!("Making a block every {} ms; SIGTERM or Ctrl-C stops it.", every.as_millis());
        devnet::clock::run(&ctx.chain, every, super::cancelled_on_signal()).await?;
        return Ok(());
    }
    let paths = &cli.resolved.devnet_paths(&std::env::current_dir()?)?;
    let ipfs_api = cli.resolved.ipfs_api.as_deref();
    match action {
        DevnetAction::Up { workers } => match devnet::up(paths, &std::env::current_exe()?, ipfs_api, *workers).await? {
            Up::AlreadyRunning(d) => {
                println!("A devnet is already running at {} (pid {}); not starting another.", d.rpc_url, output::pid(&d));
                output::print_deployment(&d);
            }
            Up::Started(d) => {
                println!("Devnet running at {} (pid {}).", d.rpc_url, output::pid(&d));
                output::print_deployment(&d);
                println!("Deployment written to {}", paths.deployment_file().display());
            }
        },
        DevnetAction::Status => match devnet::status(paths).await? {
            Status::NotStarted => println!("No devnet is running (start one with `iollm devnet up`)."),
            Status::Stale(d) => println!(
                "The devnet recorded in {} (pid {}) is not running; `iollm devnet up` starts a new one.",
                paths.deployment_file().display(),
                output::pid(&d)
            ),
            Status::Running(d) => {
                println!("Devnet running at {} (pid {}).", d.rpc_url, output::pid(&d));
                output::print_deployment(&d);
            }
        },
        DevnetAction::Clock { .. } => unreachable!("ticks before the checkout is looked for"),
        DevnetAction::Down => {
            let stopped = devnet::down(paths).await?;
            if stopped.is_empty() {
                println!("No devnet is running; nothing to stop.");
            } else {
                let pids: Vec<String> = stopped.iter().map(u32::to_string).collect();
                println!("Stopped the devnet (pids {}).", pids.join(", "));
            }
        }
    }
    Ok(())
}
