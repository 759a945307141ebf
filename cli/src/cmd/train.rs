//! `iollm train`: a run on reproducible numerics (`iollm-compute`), from a config file or a
//! job's spec.

use crate::args::Cli;
use crate::output::Report;
use crate::{context, market};
use std::path::Path;

/// `iollm train`: the config is `--config`'s, or job `--job`'s spec's.
pub(super) async fn run(
    cli: &Cli,
    (config, job): (Option<&Path>, Option<u64>),
    out: &Path,
    threads: Option<usize>,
    resume: bool,
) -> anyhow::Result<Report> {
    let dir = tempfile::tempdir()?;
    let cfg = match (config, job) {
        (Some(path), _) => market::read_config(path)?,
        (None, Some(job)) => {
            let ctx = context::connect(cli).await?;
            market::job_config(&ctx, job, dir.path()).await?
        }
        (None, None) => unreachable!("clap requires --config or --job"),
    };
    train(cfg, out, cli.resolved.runtime(threads)?, resume).await
}

/// Trains `cfg` into `out` with a progress bar (on stderr); reports what the run proves.
async fn train(
    cfg: iollm_compute::TrainConfig,
    out: &Path,
    runtime: iollm_compute::Runtime,
    resume: bool,
) -> anyhow::Result<Report> {
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
    let mut report = Report::default();
    report
        .kv("final loss", "final_loss", format!("{:.4}", outcome.final_loss))
        // The f32 as its shortest decimal (not widened to f64's digits); null if not finite.
        .set("final_loss", outcome.final_loss.to_string().parse::<f64>().ok())
        .kv("tokens/s", "tokens_per_sec", format!("{:.0}", outcome.tokens_per_sec))
        .set("tokens_per_sec", outcome.tokens_per_sec)
        .kv("checkpoints", "checkpoints", outcome.hashes.len())
        .kv("output", "output", outcome.out_dir.display().to_string())
        .kv("trace root", "trace_root", outcome.trace_root_hex())
        .kv("checks root", "checks_root", outcome.checks_root_hex());
    if let Some(e) = &outcome.device_failure {
        let fell_back = format!("the GPU failed ({e}); the run finished on the CPU, same numerics");
        report.kv("note", "device_failure", fell_back);
    }
    Ok(report)
}
