//! `iollm job …`: post, claim, submit, spot-check, challenge, defend, settle and show market
//! jobs (through [`crate::market`]).

use crate::args::{Cli, JobAction};
use crate::market::{self, PostJob};
use crate::output::{self, Report};
use crate::{context, model};
use iollm_chain::Connection;
use iollm_types::market::Verification;

/// `iollm job …`.
pub(super) async fn run(cli: &Cli, action: &JobAction) -> anyhow::Result<Report> {
    // A bad spec is one line before anything touches the node or IPFS.
    if let JobAction::Post { spec: Some(file), .. } = action {
        market::check_spec_file(file)?;
    }
    let ctx = &context::connect(cli).await?;
    if let JobAction::Show { id } = action {
        return show(ctx, *id).await;
    }
    let signer = &context::signer(cli)?;
    let settings = &cli.resolved;
    Ok(match action {
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
                need.capacity(),
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
            Report::value("job", market::post_job(ctx, signer, &job).await?.value)
        }
        JobAction::Claim { id } => {
            market::check_before_claim(ctx, *id).await?;
            Report::sent("Claimed", &market::claim(ctx, signer, *id).await?)
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
            Report::sent("Submitted", &call)
        }
        JobAction::SignUp { id, secret_file } => {
            let secret = market::fresh_secret()?;
            market::keep_secret(secret_file, &secret)?;
            let mut report =
                Report::sent("Signed up", &market::sign_up(ctx, signer, *id, &secret).await?);
            report.set("secret_file", secret_file).note(format!(
                "Secret kept in {}: `iollm job attest {id}` reveals it.",
                secret_file.display()
            ));
            report
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
            let (what, attested) = match found {
                market::SpotCheck::Attested { segments } => {
                    (format!("Attested ({} replayed)", market::segments_text(&segments)), true)
                }
                market::SpotCheck::Revealed { segment } => (
                    format!(
                        "Revealed without a check: segment {segment} reaches the committed \
                         checkpoint but not the executor's committed check"
                    ),
                    false,
                ),
                market::SpotCheck::OutputRefused { segments, why, .. } => (
                    format!(
                        "Revealed without a check: replayed {}, but {why}",
                        market::segments_text(&segments)
                    ),
                    false,
                ),
            };
            let mut report = Report::sent(&what, &call);
            report.set("attested", attested);
            report
        }
        JobAction::Challenge { id, run } => {
            let call = market::challenge(ctx, signer, *id, run).await?;
            let next = |game| format!("the executor answers next (`iollm dispute show {game}`)");
            opened(ctx, *id, Report::sent("Challenged", &call), call.value, next).await?
        }
        JobAction::ChallengeOutput { id, question } => {
            let call = ctx.market()?.challenge_output(signer, *id, *question).await?;
            let next =
                |game| format!("the executor must prove {question} (`iollm dispute show {game}`)");
            opened(ctx, *id, Report::sent("Challenged the output", &call), call.value, next).await?
        }
        JobAction::ChallengeInitial { id } => {
            let call = market::challenge_initial(ctx, signer, *id).await?;
            let next = |game| {
                format!(
                    "the executor reveals h_0's header next (`iollm dispute show {game}`; \
                     play your side with `iollm dispute play {game}`)"
                )
            };
            opened(ctx, *id, Report::sent("Challenged h_0", &call), call.value, next).await?
        }
        JobAction::SettleChallenge { id, index } => {
            Report::sent("Settled", &market::settle_challenge(ctx, signer, *id, *index).await?)
        }
        JobAction::Defend { id, accusation } => {
            let call = market::defend(ctx, signer, *id, *accusation).await?;
            let mut report = Report::sent("Defending", &call);
            report.set("game", call.value).note(format!(
                "Defence game {game}: answer as the executor (`iollm dispute play {game}`, with \
                 `--config FILE` unless it is an initial game), then `iollm job settle-attester \
                 {id} N` (`iollm job show {id}`).",
                game = call.value
            ));
            report
        }
        JobAction::SettleAttester { id, sign_up } => {
            Report::sent("Settled", &market::settle_attester(ctx, signer, *id, *sign_up).await?)
        }
        JobAction::Finalize { id } => {
            Report::sent("Finalized", &market::finalize(ctx, signer, *id).await?)
        }
        JobAction::Expire { id } => {
            Report::sent("Expired", &market::expire(ctx, signer, *id).await?)
        }
        JobAction::Release { id } => {
            let call = market::release(ctx, signer, *id).await?;
            let back = match call.dry_run.storage_deposit {
                iollm_chain::contract::StorageDeposit::Refund(d) => d,
                iollm_chain::contract::StorageDeposit::Charge(_) => 0,
            };
            let mut report = Report::sent("Released", &call);
            report.line(format!("{back} planck of storage deposit back"));
            report.set("deposit_back", back.to_string());
            report
        }
        JobAction::Show { .. } => unreachable!("shown without a signer"),
    })
}

/// A challenge's report `report` with the game challenge `index` of job `id` opened (`game`
/// in JSON) and what comes next in it (`next`, given the game).
async fn opened(
    ctx: &Connection,
    id: u64,
    mut report: Report,
    index: u16,
    next: impl Fn(u64) -> String,
) -> anyhow::Result<Report> {
    report.set("challenge", index);
    if let Some(game) = market::game_of(ctx, id, index).await?.map(|c| c.game) {
        report
            .set("game", game)
            .note(format!("Challenge {index} opened game {game}: {}.", next(game)));
    }
    Ok(report)
}

/// `iollm job show`: the job, its challenges, accusations and sign-ups.
async fn show(ctx: &Connection, id: u64) -> anyhow::Result<Report> {
    let account = |a: [u8; 32]| iollm_chain::AccountId::from(a).to_string();
    let (job, terms, result) = market::show_job(ctx, id).await?;
    let mut report = output::job(id, &job, terms.as_ref(), result.as_ref());
    if let Some(cid) = ctx.market()?.job_spec(id).await? {
        report.kv("spec CID", "spec_cid", String::from_utf8_lossy(&cid));
    }
    let mut challenges = Vec::new();
    for index in 0..job.challenges {
        let c = market::game_of(ctx, id, index).await?;
        report.line(match &c {
            Some(c) if c.settled => format!(
                "challenge {index}:  by {}, game {}: settled (its challenger frees it \
                 with `iollm job release {id}`)",
                account(c.challenger),
                c.game
            ),
            Some(c) => format!(
                "challenge {index}:  by {}, game {game} (`iollm dispute show {game}`; \
                 settle with `iollm job settle-challenge {id} {index}`)",
                account(c.challenger),
                game = c.game
            ),
            None => format!("challenge {index}:  settled and released"),
        });
        challenges.push(c.map(|c| {
            serde_json::json!({
                "challenger": account(c.challenger),
                "game": c.game,
                "settled": c.settled,
            })
        }));
    }
    let mut accusations = Vec::new();
    for k in 0..job.accusations {
        let a = ctx.market()?.accusation_of(id, k).await?;
        if let Some(a) = &a {
            let beaten = if a.beaten { " (its claim was beaten in a defence)" } else { "" };
            report.line(format!(
                "accusation {k}: the executor lost challenge {}; its attesters defend \
                 until block {} (`iollm job defend {id} {k}`){beaten}",
                a.by, a.until
            ));
        }
        accusations.push(a.map(
            |a| serde_json::json!({ "challenge": a.by, "until": a.until, "beaten": a.beaten }),
        ));
    }
    if job.accused > 0 {
        report.line(format!("accused:      {} attester(s) to settle", job.accused));
    }
    let mut sign_ups = Vec::new();
    for index in 0..job.sign_ups {
        let Some(s) = ctx.market()?.sign_up_of(id, index).await? else {
            sign_ups.push(serde_json::Value::Null);
            continue;
        };
        let check = output::describe_check(&s.check);
        report.line(format!("sign-up {index}:    {}: {check}", account(s.verifier)));
        let mut defences = Vec::new();
        for k in 0..job.accusations {
            if let Some(game) = ctx.market()?.defence_of(id, index, k).await? {
                report.line(format!("               defends accusation {k} in game {game}"));
                defences.push(serde_json::json!({ "accusation": k, "game": game }));
            }
        }
        sign_ups.push(serde_json::json!({
            "verifier": account(s.verifier),
            "check": check,
            "defences": defences,
        }));
    }
    report
        .set("accused", job.accused)
        .set("challenge_list", challenges)
        .set("accusation_list", accusations)
        .set("sign_up_list", sign_ups);
    Ok(report)
}
