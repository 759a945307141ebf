//! `iollm worker run|status`: the provider's daemon (`iollm-worker`) and what its state holds.

use crate::args::{Cli, WorkerAction};
use crate::context;
use crate::output::Report;
use std::path::Path;

/// `iollm worker …`.
pub(super) async fn run(cli: &Cli, action: &WorkerAction) -> anyhow::Result<Report> {
    match action {
        WorkerAction::Run { config } => worker_run(cli, config).await,
        WorkerAction::Status { config } => worker_status(cli, config).await,
    }
}

fn worker_config(path: &Path) -> anyhow::Result<iollm_worker::daemon::WorkerConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    Ok(iollm_worker::daemon::WorkerConfig::parse(&text)?)
}

/// `iollm worker status`: where it reads the chain from, each job (its stage, the
/// transactions it saw finalized, what it withdrew, the output it keeps pinned), what it
/// withdrew in all, and what the market owes its account now (when the node answers).
async fn worker_status(cli: &Cli, config: &Path) -> anyhow::Result<Report> {
    let file = worker_config(config)?.state_file();
    anyhow::ensure!(
        file.is_file(),
        "no worker state at {}; start the worker with `iollm worker run --config {}`",
        file.display(),
        config.display()
    );
    let state = iollm_worker::state::State::open(&file).await?;
    let mut report = Report::default();
    let cursor = state.cursor().await?;
    report.line(match cursor {
        Some(next) => format!("reading the chain from block {next}"),
        None => "not started on a chain yet".into(),
    });
    report.set("cursor", cursor);
    let mut withdrawn = 0u128;
    let mut jobs = Vec::new();
    for job in state.jobs().await? {
        let (mut sent, mut transactions) = (Vec::new(), Vec::new());
        for (what, block, amount) in state.transactions(job.id).await? {
            withdrawn = withdrawn.saturating_add(amount.unwrap_or(0));
            sent.push(match amount {
                Some(amount) => format!("{what}@{block}(+{amount})"),
                None => format!("{what}@{block}"),
            });
            let amount = amount.map(|a| a.to_string());
            transactions
                .push(serde_json::json!({ "what": what, "block": block, "amount": amount }));
        }
        let stage = job.stage.as_str();
        report.line(format!("job {:<6} {:<9} {stage:<12} {}", job.id, job.role, sent.join(" ")));
        if let Some(note) = &job.note {
            report.line(format!("           {note}"));
        }
        if let Some(cid) = &job.pinned {
            report.line(format!(
                "           pinned {cid} to defend its attestation (unpinned at release)"
            ));
        }
        let uploads = state.uploads(job.id).await?;
        for (cid, path) in &uploads {
            report.line(format!("           added {cid} (from {path})"));
        }
        let uploads: Vec<_> = uploads
            .into_iter()
            .map(|(cid, path)| serde_json::json!({ "cid": cid, "path": path }))
            .collect();
        jobs.push(serde_json::json!({
            "id": job.id,
            "role": job.role,
            "stage": stage,
            "transactions": transactions,
            "note": job.note,
            "pinned": job.pinned,
            "uploads": uploads,
        }));
    }
    report
        .set("jobs", jobs)
        .line(format!("withdrawn from the market: {withdrawn} planck"))
        .set("withdrawn", withdrawn.to_string());
    let owed = match state.binding().await? {
        Some((market, account)) => owed(cli, market, account).await,
        None => Err(anyhow::anyhow!("not bound to an account yet")),
    };
    match owed {
        Ok(owed) => report
            .line(format!("owed by the market (withdrawable): {owed} planck"))
            .set("owed", owed.to_string()),
        Err(e) => {
            report.line(format!("owed by the market: unknown ({e})")).set("owed", None::<String>)
        }
    };
    Ok(report)
}

/// What `market` owes `account` now, from the node.
async fn owed(cli: &Cli, market: [u8; 32], account: [u8; 32]) -> anyhow::Result<u128> {
    let ctx = context::connect(cli).await?;
    let client = ctx.market()?;
    anyhow::ensure!(
        client.address().0 == market,
        "this state belongs to another market than the deployment's"
    );
    Ok(client.balance_of(account).await?)
}

/// `iollm worker run`: the worker until a signal stops it.
async fn worker_run(cli: &Cli, config: &Path) -> anyhow::Result<Report> {
    use iollm_worker::daemon::Worker;
    let worker = worker_config(config)?;
    let ctx = context::connect(cli).await?;
    let signer = context::signer(cli)?;
    let store = iollm_artifacts::ipfs_client(&ctx)?;
    let runtime = cli.resolved.runtime(None)?;
    let account = signer.account();
    let role = worker.role.as_str();
    let worker = Worker::open(ctx, signer, store, worker, runtime).await?;
    if let Some(kind) = std::env::var_os(crate::settings::ABORT_BEFORE_RECORDING_ENV) {
        let kind = kind.to_string_lossy();
        tracing::warn!(%kind, "A crash test's hook is set: this worker aborts before recording a landed {kind} (unset {} unless testing)", crate::settings::ABORT_BEFORE_RECORDING_ENV);
        worker.state().abort_before_recording(&kind);
    }
    let (threads, device) = (runtime.threads, runtime.backend.to_string());
    tracing::info!(%account, role, threads, device, "Worker running; SIGTERM or Ctrl-C stops it");
    worker.run(super::cancelled_on_signal()).await?;
    let mut stopped = Report::default();
    stopped.line("Worker stopped.").set("stopped", true);
    Ok(stopped)
}
