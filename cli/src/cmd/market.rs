//! The market's and the splitter's money commands: `balance`, `pledge`, `unpledge`,
//! `bounty`, `split`, `revenue` and `withdraw` (through [`crate::market`]).

use crate::args::{BountyAction, Cli, Command, RevenueAction, SplitAction};
use crate::market::{self, WithdrawFrom};
use crate::output::Report;
use crate::{context, model};
use iollm_types::split::SplitRule;

/// The money commands (every other command is dispatched before).
pub(super) async fn run(cli: &Cli, command: &Command) -> anyhow::Result<Report> {
    let ctx = context::connect(cli).await?;
    if let Command::Balance { account, artifact } = command {
        let account = match account {
            Some(ss58) => model::parse_account(ss58)?,
            None => context::signer(cli)?.account_bytes(),
        };
        let b = market::balances(&ctx, account, *artifact).await?;
        let mut report = Report::default();
        report
            .planck("free", "free", b.free)
            .planck("market", "market", b.market)
            .planck("splitter", "splitter", b.splitter);
        if let Some(p) = b.pledge {
            report.line(format!(
                "pledge:       stake {} (locked {}), unbonding {} until block {}, price {}/unit, discount {} bps",
                p.stake, p.locked, p.unbonding, p.unbonding_until, p.price_per_unit, p.discount_bps
            ));
            report.set(
                "pledge",
                serde_json::json!({
                    "stake": p.stake.to_string(),
                    "locked": p.locked.to_string(),
                    "unbonding": p.unbonding.to_string(),
                    "unbonding_until": p.unbonding_until,
                    "price_per_unit": p.price_per_unit.to_string(),
                    "discount_bps": p.discount_bps,
                }),
            );
        }
        return Ok(report);
    }
    let signer = context::signer(cli)?;
    Ok(match command {
        Command::Pledge { stake, price, discount_bps, capacity: c } => {
            let call =
                market::pledge(&ctx, &signer, c.capacity(), *price, *discount_bps, *stake).await?;
            Report::sent("Pledged", &call)
        }
        Command::Unpledge { amount } => {
            Report::sent("Unbonding", &market::unpledge(&ctx, &signer, *amount).await?)
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
            Report::value("bounty", call.value)
        }
        Command::Bounty { action: BountyAction::Pay { job } } => {
            let paid = market::pay_bounty(&ctx, &signer, *job).await?.value;
            Report::value("paid", paid.to_string())
        }
        Command::Bounty { action: BountyAction::Reclaim { id } } => {
            let back = market::reclaim_bounty(&ctx, &signer, *id).await?.value;
            Report::value("returned", back.to_string())
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
            Report::sent(
                "Split rule set",
                &market::set_split(&ctx, &signer, *artifact, rule).await?,
            )
        }
        Command::Split { action: SplitAction::Apply { artifact } } => Report::sent(
            "Split rule applied",
            &market::apply_split(&ctx, &signer, *artifact).await?,
        ),
        Command::Split { action: SplitAction::Authorise { artifact, delegate, revoke } } => {
            let delegate = model::parse_account(delegate)?;
            let call = market::authorise(&ctx, &signer, *artifact, delegate, !*revoke).await?;
            Report::sent(if *revoke { "Authorisation revoked" } else { "Authorised" }, &call)
        }
        Command::Revenue { action: RevenueAction::Pay { artifact, amount } } => Report::sent(
            "Revenue paid",
            &market::pay_revenue(&ctx, &signer, *artifact, *amount).await?,
        ),
        Command::Withdraw { artifact, splitter } => {
            let from = if *splitter || artifact.is_some() {
                WithdrawFrom::Splitter(*artifact)
            } else {
                WithdrawFrom::Market
            };
            Report::value(
                "withdrawn",
                market::withdraw(&ctx, &signer, from).await?.value.to_string(),
            )
        }
        _ => unreachable!("the other commands are dispatched before"),
    })
}
