//! `iollm devnet up|status|down|clock`: the local network (`iollm-devnet`).

use crate::args::{Cli, DevnetAction};
use crate::context;
use crate::output::{self, Report};
use iollm_devnet::{self as devnet, Status, Up};

/// `iollm devnet …`.
pub(super) async fn run(cli: &Cli, action: &DevnetAction) -> anyhow::Result<Report> {
    if let DevnetAction::Clock { every_ms } = action {
        // A process `devnet up` starts: it needs the chain, not the checkout.
        let ctx = context::connect(cli).await?;
        let every = std::time::Duration::from_millis((*every_ms).max(100));
        let mut ticking = Report::default();
        ticking
            .line(format!(
                "Making a block every {} ms; SIGTERM or Ctrl-C stops it.",
                every.as_millis()
            ))
            .set("every_ms", every.as_millis());
        ticking.print(cli.json);
        devnet::clock::run(&ctx.chain, every, super::cancelled_on_signal()).await?;
        return Ok(Report::default());
    }
    let paths = &cli.resolved.devnet_paths(&std::env::current_dir()?)?;
    let ipfs_api = cli.resolved.ipfs_api.as_deref();
    let running = |d: &iollm_chain::Deployment, state: &str| {
        let mut report = output::deployment(
            format!("Devnet running at {} (pid {}).", d.rpc_url, output::pid(d)),
            d,
        );
        report.set("state", state);
        report
    };
    Ok(match action {
        DevnetAction::Up { workers } => {
            match devnet::up(paths, &std::env::current_exe()?, ipfs_api, *workers).await? {
                Up::AlreadyRunning(d) => {
                    let headline = format!(
                        "A devnet is already running at {} (pid {}); not starting another.",
                        d.rpc_url,
                        output::pid(&d)
                    );
                    let mut report = output::deployment(headline, &d);
                    report.set("state", "already running");
                    report
                }
                Up::Started(d) => {
                    let file = paths.deployment_file();
                    let mut report = running(&d, "started");
                    report
                        .line(format!("Deployment written to {}", file.display()))
                        .set("deployment_file", file);
                    report
                }
            }
        }
        DevnetAction::Status => match devnet::status(paths).await? {
            Status::NotStarted => {
                let mut report = Report::default();
                report
                    .line("No devnet is running (start one with `iollm devnet up`).")
                    .set("state", "not started");
                report
            }
            Status::Stale(d) => {
                let mut report = Report::default();
                report
                    .line(format!(
                        "The devnet recorded in {} (pid {}) is not running; `iollm devnet up` \
                         starts a new one.",
                        paths.deployment_file().display(),
                        output::pid(&d)
                    ))
                    .set("state", "stale");
                report
            }
            Status::Running(d) => running(&d, "running"),
        },
        DevnetAction::Clock { .. } => unreachable!("ticks before the checkout is looked for"),
        DevnetAction::Down => {
            let stopped = devnet::down(paths).await?;
            let mut report = Report::default();
            if stopped.is_empty() {
                report.line("No devnet is running; nothing to stop.");
            } else {
                let pids: Vec<String> = stopped.iter().map(u32::to_string).collect();
                report.line(format!("Stopped the devnet (pids {}).", pids.join(", ")));
            }
            report.set("stopped", stopped);
            report
        }
    })
}
