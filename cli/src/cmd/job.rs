//! `iollm job …`: post, claim, submit, spot-check, challenge, defend, settle and show market
//! jobs (through [`crate::market`]).

use crate::args::{Cli, JobAction};
use crate::market::{self, PostJob};
use crate::{context, model, output};
use iollm_chain::Connection;
use iollm_types::market::Verification;

/// `iollm job …`.
pub(super) async fn run(cli: &Cli, action: &JobAction) -> anyhow::Result<()> {
    let ctx = &context::connect(cli).await?;
    if let JobAction::Show { id } = action {
        return show(ctx, *id).await;
    }
    let signer = &context::signer(cli)?;
    let settings = &cli.resolved;
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
            println!("{}", market::post_job(ctx, signer, &job).await?.value);
        }
        JobAction::Claim { id } => {
            market::check_before_claim(ctx, *id).await?;
            output::print_fee("Claimed", &market::claim(ctx, signer, *id).await?)
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
            output::print_fee("Submitted", &call);
        }
        JobAction::SignUp { id, secret_file } => {
            let secret = market::fresh_secret()?;
            market::keep_secret(secret_file, &secret)?;
            output::print_fee("Signed up", &market::sign_up(ctx, signer, *id, &secret).await?);
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
                market::SpotCheck::Attested { segments } => output::print_fee(
                    &format!("Attested ({} replayed)", market::segments_text(&segments)),
                    &call,
                ),
                market::SpotCheck::Revealed { segment } => output::print_fee(
                    &format!(
                        "Revealed without a check: segment {segment} reaches the committed \
                         checkpoint but not the executor's committed check"
                    ),
                    &call,
                ),
                market::SpotCheck::OutputRefused { segments, why, .. } => output::print_fee(
                    &format!(
                        "Revealed without a check: replayed {}, but {why}",
                        market::segments_text(&segments)
                    ),
                    &call,
                ),
            }
        }
        JobAction::Challenge { id, run } => {
            let call = market::challenge(ctx, signer, *id, run).await?;
            output::print_fee("Challenged", &call);
            if let Some(game) = market::game_of(ctx, *id, call.value).await?.map(|c| c.game) {
                println!(
                    "Challenge {} opened game {game}: the executor answers next \
                     (`iollm dispute show {game}`).",
                    call.value
                );
            }
        }
        JobAction::ChallengeOutput { id, question } => {
            let call = ctx.market()?.challenge_output(signer, *id, *question).await?;
            output::print_fee("Challenged the output", &call);
            if let Some(game) = market::game_of(ctx, *id, call.value).await?.map(|c| c.game) {
                println!(
                    "Challenge {} opened game {game}: the executor must prove {question} \
                     (`iollm dispute show {game}`).",
                    call.value
                );
            }
        }
        JobAction::ChallengeInitial { id } => {
            let call = market::challenge_initial(ctx, signer, *id).await?;
            output::print_fee("Challenged h_0", &call);
            if let Some(game) = market::game_of(ctx, *id, call.value).await?.map(|c| c.game) {
                println!(
                    "Challenge {} opened game {game}: the executor reveals h_0's header next \
                     (`iollm dispute show {game}`; play your side with `iollm dispute play`).",
                    call.value
                );
            }
        }
        JobAction::SettleChallenge { id, index } => {
            output::print_fee("Settled", &market::settle_challenge(ctx, signer, *id, *index).await?)
        }
        JobAction::Defend { id, accusation } => {
            let call = market::defend(ctx, signer, *id, *accusation).await?;
            output::print_fee("Defending", &call);
            println!(
                "Defence game {game}: answer as the executor (`iollm dispute play {game} \
                 --config FILE`), then `iollm job settle-attester {id} N` (`iollm job show {id}`).",
                game = call.value
            );
        }
        JobAction::SettleAttester { id, sign_up } => {
            let call = market::settle_attester(ctx, signer, *id, *sign_up).await?;
            output::print_fee("Settled", &call)
        }
        JobAction::Finalize { id } => {
            output::print_fee("Finalized", &market::finalize(ctx, signer, *id).await?)
        }
        JobAction::Expire { id } => {
            output::print_fee("Expired", &market::expire(ctx, signer, *id).await?)
        }
        JobAction::Release { id } => {
            let call = market::release(ctx, signer, *id).await?;
            let back = match call.dry_run.storage_deposit {
                iollm_chain::contract::StorageDeposit::Refund(d) => d,
                iollm_chain::contract::StorageDeposit::Charge(_) => 0,
            };
            output::print_fee("Released", &call);
            println!("{back} planck of storage deposit back");
        }
        JobAction::Show { .. } => unreachable!("shown without a signer"),
    }
    Ok(())
}

/// `iollm job show`: the job, its challenges, accusations and sign-ups.
async fn show(ctx: &Connection, id: u64) -> anyhow::Result<()> {
    let (job, terms, result) = market::show_job(ctx, id).await?;
    output::print_job(id, &job, terms.as_ref(), result.as_ref());
    if let Some(cid) = ctx.market()?.job_spec(id).await? {
        println!("spec CID:     {}", String::from_utf8_lossy(&cid));
    }
    for index in 0..job.challenges {
        match market::game_of(ctx, id, index).await? {
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
        if let Some(a) = ctx.market()?.accusation_of(id, k).await? {
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
        if let Some(s) = ctx.market()?.sign_up_of(id, index).await? {
            let who = iollm_chain::AccountId::from(s.verifier);
            println!("sign-up {index}:    {who}: {}", output::describe_check(&s.check));
            for k in 0..job.accusations {
                if let Some(game) = ctx.market()?.defence_of(id, index, k).await? {
                    println!("               defends accusation {k} in game {game}");
                }
            }
        }
    }
    Ok(())
}
