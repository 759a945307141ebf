//! The output layer: the only place that prints. Results go to stdout, logs and errors to
//! stderr; every error is one line, and the exit code is non-zero.

use crate::args::{
    BountyAction, CapacityArgs, Cli, Command, DevnetAction, DisputeAction, IpfsAction, JobAction,
    LogFormat, ModelAction, RevenueAction, SplitAction, WorkerAction,
};
use crate::context;
use crate::market::{self, PostJob, WithdrawFrom};
use crate::{content, model};
use clap::Parser;
use iollm_chain::Connection;
use iollm_devnet::{self as devnet, Paths, Status, Up};
use iollm_types::market::{Capacity, Commitment, Job, JobTerms, Verification};
use iollm_types::split::SplitRule;
use std::process::ExitCode;

/// Parses the command line, runs the command, prints its result or its error.
pub fn run() -> ExitCode {
    let mut cli = Cli::parse();
    init_logging(cli.log_format);
    if let Err(e) = cli.resolve() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
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
        Command::Devnet { action: DevnetAction::Clock { every_ms } } => {
            let ctx = context::connect(cli).await?;
            let every = std::time::Duration::from_millis((*every_ms).max(100));
            println!("Making a block every {} ms; SIGTERM or Ctrl-C stops it.", every.as_millis());
            devnet::clock::run(&ctx.chain, every, cancelled_on_signal()).await?;
            Ok(())
        }
        Command::Devnet { action } => {
            let paths = cli.resolved.devnet_paths(&std::env::current_dir()?)?;
            devnet_command(&paths, action, cli.resolved.ipfs_api.as_deref()).await
        }
        Command::Model { action } => model_command(cli, action).await,
        Command::Cid { path, cid_version, raw_leaves, chunker } => {
            let opts = iollm_content::AddOptions::from_flags(
                *cid_version,
                *raw_leaves,
                chunker.as_deref(),
            )?;
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
        Command::Ipfs { action: IpfsAction::Daemon { repo, api } } => ipfs_daemon(repo, *api).await,
        Command::Worker { action: WorkerAction::Run { config } } => worker_run(cli, config).await,
        Command::Worker { action: WorkerAction::Status { config } } => worker_status(config).await,
        Command::Train { config, job, out, threads, resume } => {
            let dir = tempfile::tempdir()?;
            let cfg = match (config, job) {
                (Some(path), _) => market::read_config(path)?,
                (None, Some(job)) => {
                    let ctx = context::connect(cli).await?;
                    market::job_config(&ctx, *job, dir.path()).await?
                }
                (None, None) => unreachable!("clap requires --config or --job"),
            };
            train(cfg, out, cli.resolved.runtime(*threads)?, *resume).await
        }
        other => market_command(cli, other).await,
    }
}

async fn ipfs_daemon(repo: &std::path::Path, api: std::net::SocketAddr) -> anyhow::Result<()> {
    use iollm_content::daemon::{Daemon, DaemonConfig};
    let daemon = Daemon::bind(DaemonConfig::new(repo, api)).await?;
    println!("IPFS API listening on {} (repo {})", daemon.api_url(), repo.display());
    daemon.run(cancelled_on_signal()).await?;
    println!("IPFS daemon stopped.");
    Ok(())
}

/// Artifact `id` pulled (every byte verified) into the user's cache, once per manifest CID.
async fn pull_cached(cli: &Cli, id: u64, max_size: u64) -> anyhow::Result<std::path::PathBuf> {
    let ctx = context::connect(cli).await?;
    let store = iollm_artifacts::ipfs_client(&ctx)?;
    let artifact = model::show(&ctx, id).await?;
    // The recorded CID is anyone's bytes: parsed before it names a directory.
    let recorded = String::from_utf8_lossy(&artifact.manifest_cid).into_owned();
    let cid = iollm_content::parse_cid(&recorded)
        .map_err(|e| anyhow::anyhow!("artifact {id} records a bad manifest CID: {e}"))?;
    let cid = iollm_content::format_cid(&cid);
    let home = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")))
        .ok_or_else(|| anyhow::anyhow!("no cache directory: set HOME or XDG_CACHE_HOME"))?;
    let dir = home.join("iollm/artifacts").join(format!("{id}-{cid}"));
    if dir.join("smip.json").is_file() {
        return Ok(dir);
    }
    // The pull stages beside `dir` under a lock and renames: an entry is whole or absent.
    let limit = iollm_content::PullOptions { max_bytes: max_size };
    iollm_artifacts::pull(&ctx, &store, id, &dir, &limit).await?;
    println!("pulled artifact {id} ({cid}) into {}, verified", dir.display());
    Ok(dir)
}

/// A token cancelled when the process gets SIGTERM or Ctrl-C.
fn cancelled_on_signal() -> tokio_util::sync::CancellationToken {
    let shutdown = tokio_util::sync::CancellationToken::new();
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

fn worker_config(path: &std::path::Path) -> anyhow::Result<iollm_worker::daemon::WorkerConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    Ok(iollm_worker::daemon::WorkerConfig::parse(&text)?)
}

/// `iollm worker status`.
async fn worker_status(config: &std::path::Path) -> anyhow::Result<()> {
    let file = worker_config(config)?.state_file();
    anyhow::ensure!(
        file.is_file(),
        "no worker state at {}; start the worker with `iollm worker run --config {}`",
        file.display(),
        config.display()
    );
    let state = iollm_worker::state::State::open(&file).await?;
    match state.cursor().await? {
        Some(next) => println!("reading the chain from block {next}"),
        None => println!("not started on a chain yet"),
    }
    for job in state.jobs().await? {
        let sent: Vec<String> = state
            .transactions(job.id)
            .await?
            .into_iter()
            .map(|(what, block, _)| format!("{what}@{block}"))
            .collect();
        println!("job {:<6} {:<9} {:<12} {}", job.id, job.role, job.stage.as_str(), sent.join(" "));
        if let Some(note) = job.note {
            println!("           {note}");
        }
    }
    Ok(())
}

/// `iollm worker run`: the worker until a signal stops it.
async fn worker_run(cli: &Cli, config: &std::path::Path) -> anyhow::Result<()> {
    use iollm_worker::daemon::Worker;
    let worker = worker_config(config)?;
    let ctx = context::connect(cli).await?;
    let signer = context::signer(cli)?;
    let store = iollm_artifacts::ipfs_client(&ctx)?;
    let runtime = cli.resolved.runtime(None)?;
    let account = signer.account();
    let role = worker.role.as_str();
    let worker = Worker::open(ctx, signer, store, worker, runtime).await?;
    let (threads, device) = (runtime.threads, runtime.backend.to_string());
    tracing::info!(%account, role, threads, device, "Worker running; SIGTERM or Ctrl-C stops it");
    worker.run(cancelled_on_signal()).await?;
    println!("Worker stopped.");
    Ok(())
}

async fn train(
    cfg: iollm_compute::TrainConfig,
    out: &std::path::Path,
    runtime: iollm_compute::Runtime,
    resume: bool,
) -> anyhow::Result<()> {
    use iollm_compute::train;
    let bar = indicatif::ProgressBar::new(cfg.train.steps);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} steps  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let out = out.to_owned();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut report = |p: &train::Progress| {
            bar.set_position(p.step);
            if p.loss.is_finite() {
                bar.set_message(format!("loss {:.4}  {:.0} tokens/s", p.loss, p.tokens_per_sec));
            }
            iollm_compute::Flow::Continue(())
        };
        if resume {
            train::resume_latest(&cfg, &out, &runtime, &mut report)
        } else {
            train::train(&cfg, &out, &runtime, &mut report)
        }
        .inspect(|_| bar.finish())
    })
    .await??;
    println!("final loss:  {:.4}", outcome.final_loss);
    println!("tokens/s:    {:.0}", outcome.tokens_per_sec);
    println!("checkpoints: {}", outcome.hashes.len());
    println!("output:      {}", outcome.out_dir.display());
    println!("trace root:  {}", outcome.trace_root_hex());
    println!("checks root: {}", outcome.checks_root_hex());
    if let Some(e) = &outcome.device_failure {
        println!("note:        the GPU failed ({e}); the run finished on the CPU, same numerics");
    }
    Ok(())
}

fn capacity(c: &CapacityArgs) -> Capacity {
    Capacity { accelerator: c.accelerator, memory_gib: c.memory_gib, throughput: c.throughput }
}

/// Where a spot-check sign-up stands, in words.
fn describe_check(check: &iollm_types::market::Check) -> String {
    use iollm_types::market::Check;
    match check {
        Check::Committed => "signed up, secret not revealed".into(),
        Check::Revealed => "revealed without a check".into(),
        Check::Checked { .. } => "attested".into(),
        Check::Challenged => "challenged".into(),
        Check::Accused { .. } => {
            "attested, accused: defends each accusation (`iollm job defend`)".into()
        }
        Check::Settled { upheld: true } => "attested, accused, every defence won: bond back".into(),
        Check::Settled { upheld: false } => "attested, accused: bond slashed".into(),
    }
}

fn print_fee<T>(what: &str, call: &iollm_chain::contract::Executed<T>) {
    println!(
        "{what} (fee {}, ref_time {}; tx 0x{} in block 0x{})",
        call.fee,
        call.dry_run.gas_consumed.0,
        hex::encode(call.included.tx_hash),
        hex::encode(call.included.block_hash)
    );
}

async fn market_command(cli: &Cli, command: &Command) -> anyhow::Result<()> {
    let ctx = context::connect(cli).await?;
    match command {
        Command::Balance { account, artifact } => {
            let account = match account {
                Some(ss58) => model::parse_account(ss58)?,
                None => context::signer(cli)?.account_bytes(),
            };
            let b = market::balances(&ctx, account, *artifact).await?;
            println!("free:     {}", b.free);
            println!("market:   {}", b.market);
            println!("splitter: {}", b.splitter);
            if let Some(p) = b.pledge {
                println!(
                    "pledge:   stake {} (locked {}), unbonding {} until block {}, price {}/unit, discount {} bps",
                    p.stake, p.locked, p.unbonding, p.unbonding_until, p.price_per_unit, p.discount_bps
                );
            }
            return Ok(());
        }
        Command::Job { action: JobAction::Show { id } } => {
            let (job, terms, result) = market::show_job(&ctx, *id).await?;
            print_job(*id, &job, terms.as_ref(), result.as_ref());
            if let Some(cid) = ctx.market()?.job_spec(*id).await? {
                println!("spec CID:     {}", String::from_utf8_lossy(&cid));
            }
            for index in 0..job.challenges {
                match market::game_of(&ctx, *id, index).await? {
                    Some(c) if c.settled => println!(
                        "challenge {index}:  by {}, game {}: settled (its challenger frees it \
                         with `iollm job release {id}`)",
                        iollm_chain::AccountId::from(c.challenger),
                        c.game
                    ),
                    Some(c) => println!(
                        "challenge {index}:  by {}, game {game} (`iollm dispute show {game}`; \
                         settle with `iollm job settle-challenge {id} {index}`)",
                        iollm_chain::AccountId::from(c.challenger),
                        game = c.game
                    ),
                    None => println!("challenge {index}:  settled and released"),
                }
            }
            for k in 0..job.accusations {
                if let Some(a) = ctx.market()?.accusation_of(*id, k).await? {
                    let beaten = if a.beaten { " (its claim was beaten in a defence)" } else { "" };
                    println!(
                        "accusation {k}: the executor lost challenge {}; its attesters defend \
                         until block {} (`iollm job defend {id} {k}`){beaten}",
                        a.by, a.until
                    );
                }
            }
            if job.accused > 0 {
                println!("accused:      {} attester(s) to settle", job.accused);
            }
            for index in 0..job.sign_ups {
                if let Some(s) = ctx.market()?.sign_up_of(*id, index).await? {
                    let who = iollm_chain::AccountId::from(s.verifier);
                    println!("sign-up {index}:    {who}: {}", describe_check(&s.check));
                    for k in 0..job.accusations {
                        if let Some(game) = ctx.market()?.defence_of(*id, index, k).await? {
                            println!("               defends accusation {k} in game {game}");
                        }
                    }
                }
            }
            return Ok(());
        }
        Command::Dispute { action: DisputeAction::Show { id } } => {
            let game = market::show_game(&ctx, *id).await?;
            print_game(*id, &game, ctx.chain.best_block().await?);
            return Ok(());
        }
        _ => {}
    }
    let signer = context::signer(cli)?;
    match command {
        Command::Pledge { stake, price, discount_bps, capacity: c } => {
            let call =
                market::pledge(&ctx, &signer, capacity(c), *price, *discount_bps, *stake).await?;
            print_fee("Pledged", &call);
        }
        Command::Unpledge { amount } => {
            print_fee("Unbonding", &market::unpledge(&ctx, &signer, *amount).await?);
        }
        Command::Job { action } => job_command(&ctx, &signer, action, &cli.resolved).await?,
        Command::Dispute { action: DisputeAction::Timeout { id } } => {
            print_fee("Timed out", &market::timeout_game(&ctx, &signer, *id).await?);
        }
        Command::Dispute { action: DisputeAction::Play { id, config, threads } } => {
            let runtime = cli.resolved.runtime(*threads)?;
            let cfg = market::read_config(config)?;
            let game = market::play_game(&ctx, &signer, *id, &cfg, &runtime, true, |kind, call| {
                print_fee(&format!("Played {kind}"), call)
            })
            .await?;
            print_game(*id, &game, ctx.chain.best_block().await?);
        }
        Command::Bounty {
            action:
                BountyAction::Post { benchmark_cid, metric, margin, best, tranches, expires_at, amount },
        } => {
            let call = market::post_bounty(
                &ctx,
                &signer,
                benchmark_cid,
                *metric,
                *margin,
                *best,
                *tranches,
                market::resolve_block(&ctx, expires_at).await?,
                *amount,
            )
            .await?;
            println!("{}", call.value);
        }
        Command::Bounty { action: BountyAction::Pay { job } } => {
            println!("{}", market::pay_bounty(&ctx, &signer, *job).await?.value);
        }
        Command::Bounty { action: BountyAction::Reclaim { id } } => {
            println!("{}", market::reclaim_bounty(&ctx, &signer, *id).await?.value);
        }
        Command::Split {
            action:
                SplitAction::Set { artifact, designer_bps, compute_bps, upstream_bps, treasury_bps },
        } => {
            let rule = SplitRule {
                designer_bps: *designer_bps,
                compute_bps: *compute_bps,
                upstream_bps: *upstream_bps,
                treasury_bps: *treasury_bps,
            };
            print_fee("Split rule set", &market::set_split(&ctx, &signer, *artifact, rule).await?);
        }
        Command::Split { action: SplitAction::Apply { artifact } } => {
            print_fee("Split rule applied", &market::apply_split(&ctx, &signer, *artifact).await?);
        }
        Command::Split { action: SplitAction::Authorise { artifact, delegate, revoke } } => {
            let delegate = model::parse_account(delegate)?;
            let call = market::authorise(&ctx, &signer, *artifact, delegate, !*revoke).await?;
            print_fee(if *revoke { "Authorisation revoked" } else { "Authorised" }, &call);
        }
        Command::Revenue { action: RevenueAction::Pay { artifact, amount } } => {
            print_fee(
                "Revenue paid",
                &market::pay_revenue(&ctx, &signer, *artifact, *amount).await?,
            );
        }
        Command::Withdraw { artifact, splitter } => {
            let from = if *splitter || artifact.is_some() {
                WithdrawFrom::Splitter(*artifact)
            } else {
                WithdrawFrom::Market
            };
            println!("{}", market::withdraw(&ctx, &signer, from).await?.value);
        }
        _ => unreachable!("devnet and model commands are dispatched before"),
    }
    Ok(())
}

async fn job_command(
    ctx: &Connection,
    signer: &iollm_chain::Signer,
    action: &JobAction,
    settings: &crate::settings::Settings,
) -> anyhow::Result<()> {
    match action {
        JobAction::Post {
            spec,
            spec_cid,
            artifact,
            units,
            reward,
            deadline,
            window,
            verifiers,
            collateral,
            verifier_fee,
            benchmark_cid,
            metric,
            bounty,
            executors,
            move_blocks,
            need,
        } => {
            let (kind, spec_cid, game) = match (spec, spec_cid) {
                (Some(file), _) => {
                    let (cid, game) = market::publish_spec(ctx, file, *move_blocks).await?;
                    eprintln!("spec {cid} added to IPFS");
                    (iollm_types::market::JobKind::Train, cid, Some(game))
                }
                (None, Some(cid)) => (iollm_types::market::JobKind::EvalPath, cid.clone(), None),
                (None, None) => unreachable!("clap requires --spec or --spec-cid"),
            };
            let collateral = match collateral {
                Some(c) => *c,
                None => market::min_collateral(ctx, *units).await?,
            };
            let verification = Verification {
                challenge_window: *window,
                verifiers: *verifiers,
                collateral,
                verifier_fee: *verifier_fee,
            };
            let job = PostJob::new(
                kind,
                &spec_cid,
                *artifact,
                *units,
                capacity(need),
                market::resolve_block(ctx, deadline).await?,
                verification,
                *reward,
            )
            .with_executors(
                executors.iter().map(|a| model::parse_account(a)).collect::<Result<_, _>>()?,
            );
            let job = match benchmark_cid {
                Some(cid) => job.with_benchmark(cid, metric.unwrap_or(0), *bounty),
                None => job,
            };
            let job = match game {
                Some(game) => job.with_game(game),
                None => job,
            };
            println!("{}", market::post_job(ctx, signer, &job).await?.value);
        }
        JobAction::Claim { id } => {
            market::check_before_claim(ctx, *id).await?;
            print_fee("Claimed", &market::claim(ctx, signer, *id).await?)
        }
        JobAction::Submit { id, output_cid, score, run, trace_root, checks_root } => {
            let call = match (run, trace_root, checks_root) {
                (Some(run), _, _) => {
                    market::submit_run(ctx, signer, *id, output_cid, *score, run).await?
                }
                (None, Some(root), Some(checks)) => {
                    let commitment = iollm_types::market::Commitment {
                        output_cid: output_cid.as_bytes().to_vec(),
                        score: *score,
                        loss: 0,
                        trace_root: market::parse_trace_root(root)?,
                        checks_root: market::parse_trace_root(checks)?,
                    };
                    market::submit(ctx, signer, *id, &commitment, None).await?
                }
                _ => unreachable!("clap requires --run or both roots"),
            };
            print_fee("Submitted", &call);
        }
        JobAction::SignUp { id, secret_file } => {
            let secret = market::fresh_secret()?;
            market::keep_secret(secret_file, &secret)?;
            print_fee("Signed up", &market::sign_up(ctx, signer, *id, &secret).await?);
            println!(
                "Secret kept in {}: `iollm job attest {id}` reveals it.",
                secret_file.display()
            );
        }
        JobAction::Attest { id, secret_file, config, run, threads } => {
            let secret = market::read_secret(secret_file)?;
            let runtime = settings.runtime(*threads)?;
            let dir = tempfile::tempdir()?;
            let cfg = match config {
                Some(path) => market::read_config(path)?,
                None => market::job_config(ctx, *id, dir.path()).await?,
            };
            let (call, found) =
                market::spot_check(ctx, signer, *id, &secret, (&cfg, run), &runtime).await?;
            match found {
                market::SpotCheck::Attested { segment } => {
                    print_fee(&format!("Attested (segment {segment} replayed)"), &call)
                }
                market::SpotCheck::Revealed { segment } => print_fee(
                    &format!(
                        "Revealed without a check: segment {segment} reaches the committed \
                         checkpoint but not the executor's committed check"
                    ),
                    &call,
                ),
                market::SpotCheck::OutputRefused { segment, why } => print_fee(
                    &format!("Revealed without a check: segment {segment} replays, but {why}"),
                    &call,
                ),
            }
        }
        JobAction::Challenge { id, run } => {
            let call = market::challenge(ctx, signer, *id, run).await?;
            print_fee("Challenged", &call);
            if let Some(game) = market::game_of(ctx, *id, call.value).await?.map(|c| c.game) {
                println!(
                    "Challenge {} opened game {game}: the executor answers next \
                     (`iollm dispute show {game}`).",
                    call.value
                );
            }
        }
        JobAction::SettleChallenge { id, index } => {
            print_fee("Settled", &market::settle_challenge(ctx, signer, *id, *index).await?)
        }
        JobAction::Defend { id, accusation } => {
            let call = market::defend(ctx, signer, *id, *accusation).await?;
            print_fee("Defending", &call);
            println!(
                "Defence game {game}: answer as the executor (`iollm dispute play {game} \
                 --config FILE`), then `iollm job settle-attester {id} N` (`iollm job show {id}`).",
                game = call.value
            );
        }
        JobAction::SettleAttester { id, sign_up } => {
            let call = market::settle_attester(ctx, signer, *id, *sign_up).await?;
            print_fee("Settled", &call)
        }
        JobAction::Finalize { id } => {
            print_fee("Finalized", &market::finalize(ctx, signer, *id).await?)
        }
        JobAction::Expire { id } => print_fee("Expired", &market::expire(ctx, signer, *id).await?),
        JobAction::Release { id } => {
            let call = market::release(ctx, signer, *id).await?;
            let back = match call.dry_run.storage_deposit {
                iollm_chain::contract::StorageDeposit::Refund(d) => d,
                iollm_chain::contract::StorageDeposit::Charge(_) => 0,
            };
            print_fee("Released", &call);
            println!("{back} planck of storage deposit back");
        }
        JobAction::Show { .. } => unreachable!("handled without a signer"),
    }
    Ok(())
}

async fn devnet_command(
    paths: &Paths,
    action: &DevnetAction,
    ipfs_api: Option<&str>,
) -> anyhow::Result<()> {
    match action {
        DevnetAction::Up { workers } => match devnet::up(paths, &std::env::current_exe()?, ipfs_api, *workers).await? {
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
        DevnetAction::Clock { .. } => unreachable!("handled with a connection"),
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

fn pid(d: &iollm_chain::Deployment) -> String {
    d.node.as_ref().map(|n| n.pid.to_string()).unwrap_or_else(|| "external".into())
}

fn print_deployment(d: &iollm_chain::Deployment) {
    if let Some(ipfs) = &d.ipfs {
        let owner = ipfs.pid.map(|p| format!("pid {p}")).unwrap_or_else(|| "external".into());
        println!("  ipfs       {} ({owner})", ipfs.api_url);
    }
    for (name, contract) in &d.contracts {
        println!("  {name:<10} {}  code {}", contract.address, contract.code_hash);
    }
    if let Some(c) = &d.clock {
        println!(
            "  clock      a block every {} ms (pid {}, log {})",
            c.every_ms,
            c.pid,
            c.log.display()
        );
    }
    for w in &d.workers {
        println!(
            "  worker     {} ({}, pid {}, metrics http://{}/metrics, log {})",
            w.account,
            w.role,
            w.pid,
            w.metrics,
            w.log.display()
        );
    }
}

async fn model_command(cli: &Cli, action: &ModelAction) -> anyhow::Result<()> {
    match action {
        ModelAction::Register { cid, kind, parents, split, from_job, dry_run } => {
            let kind = model::parse_kind(kind)?;
            let parents =
                parents.iter().map(|p| model::parse_parent(p)).collect::<Result<Vec<_>, _>>()?;
            let rule = model::parse_split(split)?;
            let ctx = context::connect(cli).await?;
            let signer = context::signer(cli)?;
            // The lineage registered is the one the package's smip.json states, or nothing.
            let store = iollm_artifacts::ipfs_client(&ctx)?;
            let lineage = iollm_artifacts::Lineage { parents, job: *from_job };
            if *dry_run {
                iollm_artifacts::check_stated(&store, cid, &lineage).await?;
                let cost = ctx
                    .registry()?
                    .register_dry_run(&signer.account(), kind, cid, &lineage.parents, rule)
                    .await?;
                println!("ref_time:        {}", cost.gas_required.0);
                println!("proof_size:      {}", cost.gas_required.1);
                println!("storage deposit: {:?}", cost.storage_deposit);
                return Ok(());
            }
            let registration =
                iollm_artifacts::register_package(&ctx, &store, &signer, kind, cid, &lineage, rule)
                    .await?;
            println!("{}", registration.id);
        }
        ModelAction::NewVersion { id, cid } => {
            let ctx = context::connect(cli).await?;
            let store = iollm_artifacts::ipfs_client(&ctx)?;
            let signer = context::signer(cli)?;
            println!("{}", iollm_artifacts::new_version(&ctx, &store, &signer, *id, cid).await?.id);
        }
        ModelAction::Transfer { id, to } => {
            let to_bytes = model::parse_account(to)?;
            let ctx = context::connect(cli).await?;
            let call = ctx.registry()?.transfer(&context::signer(cli)?, *id, to_bytes).await?;
            print_fee(&format!("Artifact {id} now belongs to {to}"), &call);
        }
        ModelAction::Deprecate { id } => {
            let ctx = context::connect(cli).await?;
            let call = ctx.registry()?.deprecate(&context::signer(cli)?, *id).await?;
            print_fee(&format!("Artifact {id} deprecated"), &call);
        }
        ModelAction::Show { id } => {
            let ctx = context::connect(cli).await?;
            let artifact = model::show(&ctx, *id).await?;
            let owner = iollm_chain::AccountId::from(artifact.owner);
            println!("id:           {id}");
            println!("kind:         {}", artifact.kind.name());
            println!("owner:        {owner}");
            println!("manifest CID: {}", String::from_utf8_lossy(&artifact.manifest_cid));
            println!("registered:   block {}", artifact.registered_at);
            println!("version:      {}", artifact.version);
            if let Some(previous) = artifact.previous {
                println!("previous:     {previous}");
            }
            for parent in &artifact.parents {
                println!("parent:       {} ({:?})", parent.id, parent.relation);
            }
            if let Some(job) = artifact.job {
                println!("from job:     {job} (verified output)");
            }
            let r = artifact.split_rule;
            println!(
                "split (bps):  designer {} compute {} upstream {} treasury {}",
                r.designer_bps, r.compute_bps, r.upstream_bps, r.treasury_bps
            );
            println!("deprecated:   {}", artifact.deprecated);
        }
        ModelAction::Publish { dir, kind, no_register } => {
            let kind = model::parse_kind(kind)?;
            let ctx = context::connect(cli).await?;
            if *no_register {
                let package =
                    iollm_artifacts::add_package(&iollm_artifacts::ipfs_client(&ctx)?, dir).await?;
                println!("package CID:  {}", iollm_content::format_cid(&package.package_cid));
                println!("manifest CID: {}", iollm_content::format_cid(&package.manifest_cid));
                return Ok(());
            }
            let signer = context::signer(cli)?;
            let store = iollm_artifacts::ipfs_client(&ctx)?;
            let rule = iollm_types::split::SplitRule::DESIGNER_ONLY;
            let published =
                iollm_artifacts::publish(&ctx, &store, &signer, kind, dir, rule).await?;
            println!("package CID:  {}", iollm_content::format_cid(&published.package_cid));
            println!("manifest CID: {}", iollm_content::format_cid(&published.manifest_cid));
            println!("lineage:      {}", published.lineage);
            println!("id:           {}", published.id);
        }
        ModelAction::Import { gguf, out, name, license } => {
            let manifest = content::import_gguf(gguf, out, name.as_deref(), license.as_deref())?;
            println!(
                "imported {} ({}, {} parameters) into {}: {} files; publish with `iollm model publish {}`",
                manifest.name,
                manifest.format.architecture,
                manifest.format.parameters.unwrap_or(0),
                out.display(),
                manifest.files.len(),
                out.display()
            );
        }
        ModelAction::Serve { model, listen, name, max_batch, max_queue, threads, max_size } => {
            let runtime = cli.resolved.runtime(*threads)?;
            let (threads, backend) = (runtime.threads, runtime.backend);
            let (path, default_name) = match model.parse::<u64>() {
                Ok(id) if !std::path::Path::new(model).exists() => {
                    (pull_cached(cli, id, *max_size).await?, id.to_string())
                }
                _ => (std::path::PathBuf::from(model), String::new()),
            };
            let name = name.clone().or((!default_name.is_empty()).then_some(default_name));
            let options = iollm_serve::Options {
                name,
                threads,
                backend,
                max_batch: *max_batch,
                max_queue: *max_queue,
            };
            let served =
                tokio::task::spawn_blocking(move || iollm_serve::load(&path, &options)).await??;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
            println!(
                "serving {} on http://{}/v1 ({threads} threads on {backend}, batches of up to {max_batch})",
                served.name,
                listener.local_addr()?
            );
            let shutdown = cancelled_on_signal();
            iollm_serve::serve(listener, served, async move { shutdown.cancelled().await }).await?;
            println!("server stopped.");
        }
        ModelAction::Pull { id, dir, max_size } => {
            let ctx = context::connect(cli).await?;
            let store = iollm_artifacts::ipfs_client(&ctx)?;
            let limit = iollm_content::PullOptions { max_bytes: *max_size };
            let (cid, manifest) = iollm_artifacts::pull(&ctx, &store, *id, dir, &limit).await?;
            println!(
                "pulled {} into {} ({} files, verified)",
                iollm_content::format_cid(&cid),
                dir.display(),
                manifest.files.len()
            );
        }
    }
    Ok(())
}

/// `iollm job show`: one field per line, accounts in SS58.
/// Where a dispute game stands: its level, whose move it is and the last block for it, or its
/// verdict.
fn print_game(id: u64, game: &iollm_types::game::Game, now: u32) {
    use iollm_types::game::Stage;
    let account = |a: [u8; 32]| iollm_chain::AccountId::from(a).to_string();
    println!("game:         {id}");
    println!("executor:     {}", account(game.terms.sides[0]));
    println!("challenger:   {}", account(game.terms.sides[1]));
    println!("moves:        {}", game.moves);
    let due = |opened: u32| opened.saturating_add(game.terms.move_blocks);
    let (stage, next) = match &game.stage {
        Stage::Commit { level, roots, opened, .. } => (
            format!("{level:?}: committing roots"),
            format!(
                "{} by block {}",
                match roots {
                    [None, None] => "both sides",
                    [None, _] => "the executor",
                    _ => "the challenger",
                },
                due(*opened)
            ),
        ),
        Stage::Bisect { level, bisection: b, .. } => (
            format!("{level:?}: bisecting positions {}..{} (round {})", b.lo, b.hi, b.rounds),
            format!(
                "executor by block {}{}, challenger by block {}{}",
                b.deadline(iollm_types::bisection::Side::Executor),
                if b.awaits(iollm_types::bisection::Side::Executor) { "" } else { " (done)" },
                b.deadline(iollm_types::bisection::Side::Challenger),
                if b.awaits(iollm_types::bisection::Side::Challenger) { "" } else { " (done)" },
            ),
        ),
        Stage::Output { op, opened, .. } => (
            format!("step {}, op {op}: its output root", game.step),
            format!("the executor by block {}", due(*opened)),
        ),
        Stage::Descend { op, descent } => (
            format!("step {}, op {op}: descending its output (level {})", game.step, descent.level),
            format!("{:?} by block {}", descent.turn(), descent.deadline().unwrap_or(now)),
        ),
        Stage::Name { op, opened, .. } => (
            format!("step {}, op {op}: naming the disputed element", game.step),
            format!("the challenger by block {}", due(*opened)),
        ),
        Stage::NextState { opened, .. } => (
            format!("step {}: the next state root from the agreed ops", game.step),
            format!("anyone, with the proofs, by block {}", due(*opened)),
        ),
        Stage::Replay { pos, opened, .. } => (
            format!(
                "step {}, op {}, element {}, chain step {pos}: the referee recomputes it",
                game.step, game.op, game.element
            ),
            format!("anyone, with the proven inputs, by block {}", due(*opened)),
        ),
        Stage::Decided { verdict, how } => {
            (format!("decided: {verdict:?} was right ({how:?})"), "nobody: settle the job".into())
        }
    };
    println!("stage:        {stage}");
    println!("next move:    {next} (now block {now})");
}

fn print_job(id: u64, job: &Job, terms: Option<&JobTerms>, result: Option<&Commitment>) {
    let account = |a: [u8; 32]| iollm_chain::AccountId::from(a).to_string();
    let v = &job.verification;
    println!("id:           {id}");
    println!("kind:         {:?}", job.kind);
    println!("state:        {:?}", job.state);
    println!("poster:       {}", account(job.poster));
    println!("artifact:     {}", job.artifact);
    if let Some(b) = terms.and_then(|t| t.benchmark.as_ref()) {
        println!("benchmark:    {} (metric {})", String::from_utf8_lossy(&b.cid), b.metric);
    }
    if let Some(bounty) = job.bounty {
        println!("bounty:       {bounty}");
    }
    if let Some(t) = terms.filter(|t| !t.executors.is_empty()) {
        let allowed: Vec<String> = t.executors.iter().map(|a| account(*a)).collect();
        println!("executors:    {} (only these may claim)", allowed.join(", "));
    }
    println!("units:        {}", job.units);
    println!(
        "needs:        accelerator class {}, {} GiB, throughput {}",
        job.need.accelerator, job.need.memory_gib, job.need.throughput
    );
    println!("reward:       {} (escrowed)", job.reward);
    println!(
        "value:        {} (reference), joint mining {}",
        job.value,
        if job.joint_mining { "on" } else { "off: the poster may not credit units" }
    );
    println!("deadline:     block {}", job.deadline);
    println!(
        "verification: window {} blocks, {} verifier(s), collateral {}, verifier fee {}",
        v.challenge_window, v.verifiers, v.collateral, v.verifier_fee
    );
    if let Some(executor) = job.executor {
        println!("executor:     {} (ask {}, forgone {})", account(executor), job.ask, job.forgone);
        println!("submit by:    block {}", job.submit_by);
    }
    if let Some(r) = result {
        println!("output CID:   {}", String::from_utf8_lossy(&r.output_cid));
        println!("trace root:   {}", hex::encode(r.trace_root));
        println!("score, loss:  {}, {} (×10⁻⁶)", r.score, r.loss);
        println!("submitted:    block {}", job.submitted_at);
    }
    println!("spot checks:  {} signed up, {} attested", job.sign_ups, job.attestations);
    println!("challenges:   {} ({} open)", job.challenges, job.open_games);
    println!("verified:     {}", job.verified);
}
