//! `iollm dispute show|timeout|play`: where a game stands, ending a late side's game, and
//! playing one's side honestly to the end.

use crate::args::{Cli, DisputeAction};
use crate::{context, market, output};

/// `iollm dispute …`.
pub(super) async fn run(cli: &Cli, action: &DisputeAction) -> anyhow::Result<()> {
    let ctx = context::connect(cli).await?;
    match action {
        DisputeAction::Show { id } => {
            let game = market::show_game(&ctx, *id).await?;
            output::print_game(*id, &game, ctx.chain.best_block().await?);
        }
        DisputeAction::Timeout { id } => {
            output::print_fee(
                "Timed out",
                &market::timeout_game(&ctx, &context::signer(cli)?, *id).await?,
            );
        }
        DisputeAction::Play { id, config, threads } => {
            let runtime = cli.resolved.runtime(*threads)?;
            let cfg = config.as_deref().map(market::read_config).transpose()?;
            let game = market::play_game(
                &ctx,
                &context::signer(cli)?,
                *id,
                cfg.as_ref(),
                &runtime,
                true,
                |kind, call| output::print_fee(&format!("Played {kind}"), call),
            )
            .await?;
            output::print_game(*id, &game, ctx.chain.best_block().await?);
        }
        DisputeAction::Prove { id, config, run } => {
            let runtime = cli.resolved.runtime(None)?;
            let cfg = market::read_config(config)?;
            let call =
                market::prove_package(&ctx, &context::signer(cli)?, *id, &cfg, run, &runtime)
                    .await?;
            output::print_fee("Proved", &call);
            let game = market::show_game(&ctx, *id).await?;
            output::print_game(*id, &game, ctx.chain.best_block().await?);
        }
    }
    Ok(())
}
