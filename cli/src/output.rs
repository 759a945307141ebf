//! The output layer: how `iollm` starts and ends (parse, logging, one-line errors with a
//! non-zero exit code) and the renderers the commands share (a transaction's fee line, a job,
//! a game, a deployment). Results go to stdout, logs and errors to stderr. The commands are in
//! `cmd/`; they print their results through these renderers or with `println!` (a `Report`
//! type that renders as text or JSON is still to come).

use crate::args::{Cli, LogFormat};
use clap::Parser;
use iollm_types::market::{Commitment, Job, JobTerms};
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
    match runtime.block_on(crate::cmd::dispatch(&cli)) {
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

/// Where a spot-check sign-up stands, in words.
pub(crate) fn describe_check(check: &iollm_types::market::Check) -> String {
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

/// Prints what a transaction did, with its fee, weight, hash and block.
pub(crate) fn print_fee<T>(what: &str, call: &iollm_chain::contract::Executed<T>) {
    println!(
        "{what} (fee {}, ref_time {}; tx 0x{} in block 0x{})",
        call.fee,
        call.dry_run.gas_consumed.0,
        hex::encode(call.included.tx_hash),
        hex::encode(call.included.block_hash)
    );
}

/// The node's pid, or `external`.
pub(crate) fn pid(d: &iollm_chain::Deployment) -> String {
    d.node.as_ref().map(|n| n.pid.to_string()).unwrap_or_else(|| "external".into())
}

/// A deployment's IPFS node, contracts, clock and workers, one per line.
pub(crate) fn print_deployment(d: &iollm_chain::Deployment) {
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

/// Where a dispute game stands: its level, whose move it is and the last block for it, or its
/// verdict.
pub(crate) fn print_game(id: u64, game: &iollm_types::game::Game, now: u32) {
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
        Stage::Package { opened } => (
            match game.question {
                Some(q) => format!("output package: proving {q}"),
                None => "output package".into(),
            },
            format!("the executor, with the proof, by block {}", due(*opened)),
        ),
        Stage::Initial { opened } => (
            "h_0: its header and tensors' root".into(),
            format!("the executor by block {}", due(*opened)),
        ),
        Stage::InitialDescend { descent } => (
            format!("h_0: descending its tensors (level {})", descent.level),
            format!("{:?} by block {}", descent.turn(), descent.deadline().unwrap_or(now)),
        ),
        Stage::Decided { verdict, how } => {
            (format!("decided: {verdict:?} was right ({how:?})"), "nobody: settle the job".into())
        }
    };
    println!("stage:        {stage}");
    println!("next move:    {next} (now block {now})");
}

/// `iollm job show`: one field per line, accounts in SS58.
pub(crate) fn print_job(id: u64, job: &Job, terms: Option<&JobTerms>, result: Option<&Commitment>) {
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
