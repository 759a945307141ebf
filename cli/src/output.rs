//! The output layer: how `iollm` starts and ends (parse, logging, one-line errors with a
//! non-zero exit code), the [`Report`] every command returns — printed once, as text for a
//! person or with `--json` as one JSON object for a program — and the reports the commands
//! share (a transaction, a job, a game, a deployment). Results go to stdout, logs and errors
//! to stderr. The commands are in `cmd/`.
//!
//! ```text
//! $ iollm job show 3            $ iollm --json job show 3
//! id:           3               {"id":3,"kind":"Train","state":"Finalized",…}
//! state:        Finalized
//! ```

use crate::args::{Cli, LogFormat};
use clap::Parser;
use iollm_types::market::{Commitment, Job, JobTerms};
use serde_json::{Map, Value};
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
        Ok(report) => {
            report.print(cli.json);
            ExitCode::SUCCESS
        }
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

/// What a command reports: lines for a person and the same facts as one JSON object. Text: every line; JSON: the object, with `notes` (the sentences telling
/// what to do next) when there are any. A report of one bare value (an id, an amount) prints
/// the value alone, so that a script reads it either way.
#[derive(Debug, Default)]
pub(crate) struct Report {
    lines: Vec<String>,
    json: Map<String, Value>,
    notes: Vec<String>,
}

impl Report {
    /// A report of `value` alone, named `key` in JSON.
    pub(crate) fn value(key: &str, value: impl serde::Serialize + std::fmt::Display) -> Report {
        let mut report = Report::default();
        report.lines.push(value.to_string());
        report.set(key, value);
        report
    }

    /// A report of one transaction ([`Report::tx`]).
    pub(crate) fn sent<T>(what: &str, call: &iollm_chain::contract::Executed<T>) -> Report {
        let mut report = Report::default();
        report.tx(what, call);
        report
    }

    /// A field: `label:` and `value` on a line of its own (values aligned), `key` in JSON.
    pub(crate) fn kv(
        &mut self,
        label: &str,
        key: &str,
        value: impl serde::Serialize + std::fmt::Display,
    ) -> &mut Report {
        self.lines.push(format!("{:<13} {value}", format!("{label}:")));
        self.set(key, value)
    }

    /// An amount of planck: as [`Report::kv`], a decimal string in JSON (it may not fit a
    /// JSON number a program reads exactly).
    pub(crate) fn planck(&mut self, label: &str, key: &str, amount: u128) -> &mut Report {
        self.kv(label, key, amount.to_string())
    }

    /// A line for a person only (what JSON holds as fields, said in a sentence).
    pub(crate) fn line(&mut self, text: impl Into<String>) -> &mut Report {
        self.lines.push(text.into());
        self
    }

    /// A field in JSON only (its text is a [`Report::line`]).
    pub(crate) fn set(&mut self, key: &str, value: impl serde::Serialize) -> &mut Report {
        // Only a value JSON cannot hold fails (a u128 past u64: amounts go through `planck`).
        let value = serde_json::to_value(value).unwrap_or_else(|e| {
            debug_assert!(false, "{key}: {e}");
            Value::String(e.to_string())
        });
        self.json.insert(key.to_owned(), value);
        self
    }

    /// Every field of `record` (an object) in JSON, as serde writes it.
    pub(crate) fn fields(&mut self, record: impl serde::Serialize) -> &mut Report {
        if let Ok(Value::Object(fields)) = serde_json::to_value(record) {
            self.json.extend(fields);
        }
        self
    }

    /// A sentence telling what to do next: a line, and one of `notes` in JSON.
    pub(crate) fn note(&mut self, text: impl Into<String>) -> &mut Report {
        let text = text.into();
        self.lines.push(text.clone());
        self.notes.push(text);
        self
    }

    /// A transaction made: what it did, its fee, weight, hash and block on a line; `tx` in
    /// JSON (with its proof size).
    pub(crate) fn tx<T>(
        &mut self,
        what: &str,
        call: &iollm_chain::contract::Executed<T>,
    ) -> &mut Report {
        let (hash, block) =
            (hex::encode(call.included.tx_hash), hex::encode(call.included.block_hash));
        self.lines.push(format!(
            "{what} (fee {}, ref_time {}; tx 0x{hash} in block 0x{block})",
            call.fee, call.dry_run.gas_consumed.0
        ));
        self.set(
            "tx",
            serde_json::json!({
                "what": what,
                "fee": call.fee.to_string(),
                "ref_time": call.dry_run.gas_consumed.0,
                "proof_size": call.dry_run.gas_consumed.1,
                "hash": format!("0x{hash}"),
                "block_hash": format!("0x{block}"),
                "block": call.included.block,
            }),
        )
    }

    /// This report followed by `other`'s lines and fields (a field of both: `other`'s).
    pub(crate) fn extend(&mut self, other: Report) -> &mut Report {
        self.lines.extend(other.lines);
        self.json.extend(other.json);
        self.notes.extend(other.notes);
        self
    }

    /// As printed: every line, or (`json`) one JSON object on one line; nothing for an empty
    /// report.
    pub(crate) fn render(&self, json: bool) -> String {
        if !json {
            return self.lines.iter().map(|l| format!("{l}\n")).collect();
        }
        if self.json.is_empty() && self.notes.is_empty() {
            return String::new();
        }
        let mut object = self.json.clone();
        if !self.notes.is_empty() {
            object.insert("notes".into(), self.notes.clone().into());
        }
        format!("{}\n", Value::Object(object))
    }

    /// Prints it to stdout ([`Report::render`]).
    pub(crate) fn print(&self, json: bool) {
        use std::io::Write as _;
        let _ = std::io::stdout().write_all(self.render(json).as_bytes());
    }
}

/// The node's pid, or `external`.
pub(crate) fn pid(d: &iollm_chain::Deployment) -> String {
    d.node.as_ref().map(|n| n.pid.to_string()).unwrap_or_else(|| "external".into())
}

/// A deployment's IPFS node, contracts, clock and workers, one per line after `headline`;
/// in JSON, the deployment record's fields (as in `deployments/devnet.json`).
pub(crate) fn deployment(headline: String, d: &iollm_chain::Deployment) -> Report {
    let mut report = Report::default();
    report.line(headline).fields(d);
    if let Some(ipfs) = &d.ipfs {
        let owner = ipfs.pid.map(|p| format!("pid {p}")).unwrap_or_else(|| "external".into());
        report.line(format!("  ipfs       {} ({owner})", ipfs.api_url));
    }
    for (name, contract) in &d.contracts {
        report.line(format!("  {name:<10} {}  code {}", contract.address, contract.code_hash));
    }
    if let Some(c) = &d.clock {
        report.line(format!(
            "  clock      a block every {} ms (pid {}, log {})",
            c.every_ms,
            c.pid,
            c.log.display()
        ));
    }
    for w in &d.workers {
        report.line(format!(
            "  worker     {} ({}, pid {}, metrics http://{}/metrics, log {})",
            w.account,
            w.role,
            w.pid,
            w.metrics,
            w.log.display()
        ));
    }
    report
}

/// Where a dispute game stands: its level, whose move it is and the last block for it, or its
/// verdict (`verdict` and `how` in JSON too).
pub(crate) fn game(id: u64, game: &iollm_types::game::Game, now: u32) -> Report {
    use iollm_types::game::Stage;
    let account = |a: [u8; 32]| iollm_chain::AccountId::from(a).to_string();
    let mut report = Report::default();
    report
        .kv("game", "game", id)
        .kv("executor", "executor", account(game.terms.sides[0]))
        .kv("challenger", "challenger", account(game.terms.sides[1]))
        .kv("moves", "moves", game.moves);
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
            report.set("verdict", format!("{verdict:?}")).set("how", format!("{how:?}"));
            (format!("decided: {verdict:?} was right ({how:?})"), "nobody: settle the job".into())
        }
    };
    report.kv("stage", "stage", stage).kv("next move", "next", format!("{next} (now block {now})"));
    report.set("now", now).set("initial", game.initial);
    report
}

/// `iollm job show`: one field per line, accounts in SS58.
pub(crate) fn job(
    id: u64,
    job: &Job,
    terms: Option<&JobTerms>,
    result: Option<&Commitment>,
) -> Report {
    let account = |a: [u8; 32]| iollm_chain::AccountId::from(a).to_string();
    let v = &job.verification;
    let mut r = Report::default();
    r.kv("id", "id", id)
        .kv("kind", "kind", format!("{:?}", job.kind))
        .kv("state", "state", format!("{:?}", job.state))
        .kv("poster", "poster", account(job.poster))
        .kv("artifact", "artifact", job.artifact);
    if let Some(base) = terms.and_then(|t| t.game.as_ref()).and_then(|g| g.base.as_ref()) {
        r.kv("base model", "base_model", String::from_utf8_lossy(base));
    }
    if let Some(b) = terms.and_then(|t| t.benchmark.as_ref()) {
        let cid = String::from_utf8_lossy(&b.cid);
        r.line(format!("benchmark:    {cid} (metric {})", b.metric));
        r.set("benchmark", serde_json::json!({ "cid": cid, "metric": b.metric }));
    }
    if let Some(bounty) = job.bounty {
        r.kv("bounty", "bounty", bounty);
    }
    if let Some(t) = terms.filter(|t| !t.executors.is_empty()) {
        let allowed: Vec<String> = t.executors.iter().map(|a| account(*a)).collect();
        r.line(format!("executors:    {} (only these may claim)", allowed.join(", ")));
        r.set("executors", allowed);
    }
    r.kv("units", "units", job.units);
    r.line(format!(
        "needs:        accelerator class {}, {} GiB, throughput {}",
        job.need.accelerator, job.need.memory_gib, job.need.throughput
    ));
    r.set(
        "needs",
        serde_json::json!({
            "accelerator": job.need.accelerator,
            "memory_gib": job.need.memory_gib,
            "throughput": job.need.throughput,
        }),
    );
    r.line(format!("reward:       {} (escrowed)", job.reward))
        .set("reward", job.reward.to_string());
    r.line(format!(
        "value:        {} (reference), joint mining {}",
        job.value,
        if job.joint_mining { "on" } else { "off: the poster may not credit units" }
    ));
    r.set("value", job.value.to_string()).set("joint_mining", job.joint_mining);
    r.line(format!("deadline:     block {}", job.deadline)).set("deadline", job.deadline);
    r.line(format!(
        "verification: window {} blocks, {} verifier(s), collateral {}, verifier fee {}",
        v.challenge_window, v.verifiers, v.collateral, v.verifier_fee
    ));
    r.set(
        "verification",
        serde_json::json!({
            "challenge_window": v.challenge_window,
            "verifiers": v.verifiers,
            "collateral": v.collateral.to_string(),
            "verifier_fee": v.verifier_fee.to_string(),
        }),
    );
    if let Some(executor) = job.executor {
        r.line(format!(
            "executor:     {} (ask {}, forgone {})",
            account(executor),
            job.ask,
            job.forgone
        ));
        r.set("executor", account(executor))
            .set("ask", job.ask.to_string())
            .set("forgone", job.forgone.to_string());
        r.line(format!("submit by:    block {}", job.submit_by)).set("submit_by", job.submit_by);
    }
    if let Some(c) = result {
        r.kv("output CID", "output_cid", String::from_utf8_lossy(&c.output_cid))
            .kv("trace root", "trace_root", hex::encode(c.trace_root))
            .line(format!("score, loss:  {}, {} (×10⁻⁶)", c.score, c.loss))
            .set("score", c.score)
            .set("loss", c.loss)
            .line(format!("submitted:    block {}", job.submitted_at))
            .set("submitted_at", job.submitted_at);
    }
    r.line(format!("spot checks:  {} signed up, {} attested", job.sign_ups, job.attestations))
        .set("sign_ups", job.sign_ups)
        .set("attestations", job.attestations)
        .line(format!("challenges:   {} ({} open)", job.challenges, job.open_games))
        .set("challenges", job.challenges)
        .set("open_games", job.open_games)
        .kv("verified", "verified", job.verified);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_the_same_facts_as_text_and_as_json() {
        let mut report = Report::default();
        report
            .kv("id", "id", 3)
            .kv("output CID", "output_cid", "bafy")
            .planck("reward", "reward", u128::MAX)
            .line("a sentence for a person")
            .set("open_games", 0)
            .note("next: `iollm job show 3`");
        let text = report.render(false);
        assert_eq!(
            text,
            format!(
                "id:           3\noutput CID:   bafy\nreward:       {}\na sentence for a person\n\
                 next: `iollm job show 3`\n",
                u128::MAX
            )
        );
        let json: Value = serde_json::from_str(&report.render(true)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": 3,
                "output_cid": "bafy",
                "reward": u128::MAX.to_string(),
                "open_games": 0,
                "notes": ["next: `iollm job show 3`"],
            })
        );
        assert_eq!(report.render(true).lines().count(), 1, "one object, one line");
    }

    #[test]
    fn a_bare_value_prints_alone_and_an_empty_report_prints_nothing() {
        let id = Report::value("job", 7);
        assert_eq!((id.render(false), id.render(true)), ("7\n".into(), "{\"job\":7}\n".into()));
        assert_eq!(Report::default().render(true), "");
        assert_eq!(Report::default().render(false), "");
        let mut both = Report::value("job", 7);
        both.extend(Report::value("job", 8));
        assert_eq!(
            (both.render(false), both.render(true)),
            ("7\n8\n".into(), "{\"job\":8}\n".into())
        );
    }
}
