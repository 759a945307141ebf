//! `iollm dispute show|timeout|play`: where a game stands, ending a late side's game, and
//! playing one's side honestly to the end.

use crate::args::{Cli, DisputeAction};
use crate::output::{self, Report};
use crate::{context, market};

/// `iollm dispute …`.
pub(super) async fn run(cli: &Cli, action: &DisputeAction) -> anyhow::Result<Report> {
    let ctx = context::connect(cli).await?;
    Ok(match action {
        DisputeAction::Show { id } => {
            let game = market::show_game(&ctx, *id).await?;
            output::game(*id, &game, ctx.chain.best_block().await?)
        }
        DisputeAction::Timeout { id } => Report::sent(
            "Timed out",
            &market::timeout_game(&ctx, &context::signer(cli)?, *id).await?,
        ),
        DisputeAction::Play { id, config, threads } => {
            let runtime = cli.resolved.runtime(*threads)?;
            let cfg = config.as_deref().map(market::read_config).transpose()?;
            // Each move as it lands: a game is played over many blocks.
            let game = market::play_game(
                &ctx,
                &context::signer(cli)?,
                *id,
                cfg.as_ref(),
                &runtime,
                true,
                |kind, call| Report::sent(&format!("Played {kind}"), call).print(cli.json),
            )
            .await?;
            output::game(*id, &game, ctx.chain.best_block().await?)
        }
        DisputeAction::Prove { id, config, run } => {
            let runtime = cli.resolved.runtime(None)?;
            let cfg = market::read_config(config)?;
            let call =
                market::prove_package(&ctx, &context::signer(cli)?, *id, &cfg, run, &runtime)
                    .await?;
            let game = market::show_game(&ctx, *id).await?;
            let mut report = Report::sent("Proved", &call);
            report.extend(output::game(*id, &game, ctx.chain.best_block().await?));
            report
        }
    })
}
