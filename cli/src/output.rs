//! The output layer: the only place that prints. Results go to stdout, logs and errors to
//! stderr; every error is one line, and the exit code is non-zero.

use crate::args::{Cli, Command, DevnetAction, LogFormat, ModelAction};
use crate::context::Context;
use crate::devnet::{self, Paths, Status, Up};
use crate::model;
use clap::Parser;
use std::process::ExitCode;

/// Parses the command line, runs the command, prints its result or its error.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(&cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,jsonrpsee=warn,subxt=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_target(false).init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn dispatch(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Devnet { action } => {
            let paths = Paths::discover(&std::env::current_dir()?)?;
            devnet_command(&paths, action).await
        }
        Command::Model { action } => model_command(cli, action).await,
    }
}

async fn devnet_command(paths: &Paths, action: &DevnetAction) -> anyhow::Result<()> {
    match action {
        DevnetAction::Up => match devnet::up(paths).await? {
            Up::AlreadyRunning(d) => {
                println!("A devnet is already running at {} (pid {}); not starting another.", d.rpc_url, pid(&d));
                print_deployment(&d);
            }
            Up::Started(d) => {
                println!("Devnet running at {} (pid {}).", d.rpc_url, pid(&d));
                print_deployment(&d);
                println!("Deployment written to {}", paths.deployment_file().display());
            }
        },
        DevnetAction::Status => match devnet::status(paths).await? {
            Status::NotStarted => println!("No devnet is running (start one with `iollm devnet up`)."),
            Status::Stale(d) => println!(
                "The devnet recorded in {} (pid {}) is not running; `iollm devnet up` starts a new one.",
                paths.deployment_file().display(),
                pid(&d)
            ),
            Status::Running(d) => {
                println!("Devnet running at {} (pid {}).", d.rpc_url, pid(&d));
                print_deployment(&d);
            }
        },
        DevnetAction::Down => match devnet::down(paths).await? {
            Some(pid) => println!("Stopped the devnet node (pid {pid})."),
            None => println!("No devnet is running; nothing to stop."),
        },
    }
    Ok(())
}

fn pid(d: &devnet::Deployment) -> String {
    d.node.as_ref().map(|n| n.pid.to_string()).unwrap_or_else(|| "external".into())
}

fn print_deployment(d: &devnet::Deployment) {
    for (name, contract) in &d.contracts {
        println!("  {name:<10} {}  code {}", contract.address, contract.code_hash);
    }
}

async fn model_command(cli: &Cli, action: &ModelAction) -> anyhow::Result<()> {
    match action {
        ModelAction::Register { cid, kind, dry_run } => {
            let kind = model::parse_kind(kind)?;
            let ctx = Context::from_cli(cli).await?;
            let signer = ctx.signer()?;
            if *dry_run {
                let cost = ctx.registry()?.register_dry_run(&signer.account(), kind, cid).await?;
                println!("ref_time:        {}", cost.gas_required.0);
                println!("proof_size:      {}", cost.gas_required.1);
                println!("storage deposit: {:?}", cost.storage_deposit);
                return Ok(());
            }
            let registration = model::register(&ctx, &signer, kind, cid).await?;
            println!("{}", registration.id);
        }
        ModelAction::Show { id } => {
            let ctx = Context::from_cli(cli).await?;
            let artifact = model::show(&ctx, *id).await?;
            let owner = iollm_chain::AccountId::from(artifact.owner);
            println!("id:           {id}");
            println!("kind:         {}", artifact.kind.name());
            println!("owner:        {owner}");
            println!("manifest CID: {}", String::from_utf8_lossy(&artifact.manifest_cid));
            println!("registered:   block {}", artifact.registered_at);
        }
    }
    Ok(())
}
