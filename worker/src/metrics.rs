//! The worker's Prometheus metrics, served as OpenMetrics text on `GET /metrics` at the
//! loopback address `metrics_listen` names (the official Rust client `prometheus-client`, as
//! the model server's): jobs by stage (read from the state database at each scrape), training
//! steps and tokens/s, every transaction the worker's chain handle sends (finalized or failed,
//! and how long it took), jobs' failed attempts, dispute games (by side and outcome) and their
//! moves, what the market owes the account, and the device training runs on.

use crate::state::{JobRecord, Stage};
use iollm_chain::{SendObserver, SendReport};
use iollm_types::bisection::{Side, Verdict};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// Label pairs of one series.
type Labels = Vec<(String, String)>;

fn label(key: &str, value: &str) -> Labels {
    vec![(key.to_owned(), value.to_owned())]
}

/// Every metric the worker exports.
pub struct Metrics {
    registry: Registry,
    /// Jobs recorded in the state database, by stage (set at each scrape).
    jobs: Family<Labels, Gauge>,
    /// Training steps done (every job, resumed runs counted again from their checkpoint).
    pub steps: Counter,
    /// Training throughput of the last step reported, tokens per second.
    pub tokens_per_second: Gauge<f64, AtomicU64>,
    /// Transactions sent, by outcome (`finalized`, `failed`).
    transactions: Family<Labels, Counter>,
    /// Seconds from asking for a transaction to its finality.
    transaction_seconds: Histogram,
    /// Attempts of a job's stage that failed and are retried after a backoff.
    pub job_failures: Counter,
    /// Moves played in dispute games.
    pub moves: Counter,
    /// Dispute games this worker is a side of, by side and state ([`Metrics::game`]).
    games: Family<Labels, Counter>,
    /// The (game, state) pairs counted in `games`.
    games_seen: Mutex<HashSet<(u64, &'static str)>>,
    /// What the market holds for the account (its pay, bonds returned), planck.
    pub owed: Gauge<f64, AtomicU64>,
    /// The device training and replays run on (`device` label, value 1).
    device: Family<Labels, Gauge>,
}

impl Metrics {
    /// The metrics of a worker training on `device` (`cpu`, `cuda:0`).
    pub fn new(device: &str) -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("iollm_worker");
        let m = Metrics {
            registry: Registry::default(),
            jobs: Family::default(),
            steps: Counter::default(),
            tokens_per_second: Gauge::default(),
            transactions: Family::default(),
            transaction_seconds: Histogram::new(exponential_buckets(0.25, 2.0, 10)),
            job_failures: Counter::default(),
            moves: Counter::default(),
            games: Family::default(),
            games_seen: Mutex::default(),
            owed: Gauge::default(),
            device: Family::default(),
        };
        m.device.get_or_create(&label("device", device)).set(1);
        registry.register("jobs", "Jobs in the state database by stage", m.jobs.clone());
        registry.register("training_steps", "Training steps done", m.steps.clone());
        registry.register(
            "training_tokens_per_second",
            "Training throughput of the last step reported",
            m.tokens_per_second.clone(),
        );
        registry.register("transactions", "Transactions sent, by outcome", m.transactions.clone());
        registry.register(
            "transaction_seconds",
            "Seconds from asking for a transaction to its finality",
            m.transaction_seconds.clone(),
        );
        registry.register(
            "job_failures",
            "Failed attempts of a job's stage (retried after a backoff)",
            m.job_failures.clone(),
        );
        registry.register("game_moves", "Moves played in dispute games", m.moves.clone());
        registry.register(
            "disputes",
            "Dispute games this worker is a side of, by side and state (playing, won, lost)",
            m.games.clone(),
        );
        registry.register(
            "owed_planck",
            "What the market holds for the account, planck",
            m.owed.clone(),
        );
        registry.register("device", "The device training runs on", m.device.clone());
        Arc::new(Metrics { registry, ..m })
    }

    /// What the worker's chain handle tells of each transaction it sends.
    pub fn observer(self: &Arc<Metrics>) -> SendObserver {
        let metrics = Arc::clone(self);
        Arc::new(move |report: &SendReport| {
            let outcome = if report.finalized { "finalized" } else { "failed" };
            metrics.transactions.get_or_create(&label("outcome", outcome)).inc();
            if report.finalized {
                metrics.transaction_seconds.observe(report.elapsed.as_secs_f64());
            }
        })
    }

    /// Counts game `game`, whose `side` this worker plays (the game's side: an attester
    /// defending its result plays the executor's), as `verdict` says it stands (none yet:
    /// `playing`; else `won` or `lost`, a game where neither side was right lost by both):
    /// each game once per state, however often this process looks at it. So a game decided
    /// is counted under `playing` and its outcome; one settled by another before this worker
    /// looked again is counted under `playing` only; a restarted worker counts afresh.
    pub fn game(&self, game: u64, side: Side, verdict: Option<Verdict>) {
        let state = match (verdict, side) {
            (None, _) => "playing",
            (Some(Verdict::Executor), Side::Executor)
            | (Some(Verdict::Challenger), Side::Challenger) => "won",
            (Some(_), _) => "lost",
        };
        if self.games_seen.lock().expect("not poisoned").insert((game, state)) {
            let side = match side {
                Side::Executor => "executor",
                Side::Challenger => "challenger",
            };
            let labels =
                vec![("side".to_owned(), side.to_owned()), ("state".to_owned(), state.to_owned())];
            self.games.get_or_create(&labels).inc();
        }
    }

    /// Sets the jobs-by-stage gauges from the state database's records (every stage listed,
    /// zero where no job is).
    pub fn set_jobs(&self, jobs: &[JobRecord]) {
        for stage in Stage::ALL {
            let n = jobs.iter().filter(|j| j.stage == stage).count();
            self.jobs.get_or_create(&label("stage", stage.as_str())).set(n as i64);
        }
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn transactions_jobs_and_the_device_are_exported() {
        let m = Metrics::new("cuda:0");
        let observe = m.observer();
        observe(&SendReport { elapsed: Duration::from_millis(1500), finalized: true });
        observe(&SendReport { elapsed: Duration::from_secs(120), finalized: false });
        let record = |id, stage| JobRecord {
            id,
            stage,
            role: "executor".into(),
            secret: None,
            output_cid: None,
            note: None,
            pinned: None,
            base_pinned: None,
        };
        m.set_jobs(&[record(1, Stage::Finalized), record(2, Stage::Finalized)]);
        m.set_jobs(&[
            record(1, Stage::Finalized),
            record(2, Stage::Finalized),
            record(3, Stage::Lost),
        ]);
        m.steps.inc_by(24);
        // Game 7 looked at three times while played, then decided for the challenger; game 8
        // played as the challenger and decided against both sides.
        for verdict in [None, None, None, Some(Verdict::Challenger), Some(Verdict::Challenger)] {
            m.game(7, Side::Executor, verdict);
        }
        m.game(8, Side::Challenger, None);
        m.game(8, Side::Challenger, Some(Verdict::Neither));
        let text = m.render();
        for line in [
            "iollm_worker_transactions_total{outcome=\"finalized\"} 1",
            "iollm_worker_transactions_total{outcome=\"failed\"} 1",
            "iollm_worker_transaction_seconds_count 1",
            "iollm_worker_jobs{stage=\"finalized\"} 2",
            "iollm_worker_jobs{stage=\"lost\"} 1",
            "iollm_worker_jobs{stage=\"claimed\"} 0",
            "iollm_worker_training_steps_total 24",
            "iollm_worker_device{device=\"cuda:0\"} 1",
            "iollm_worker_disputes_total{side=\"executor\",state=\"playing\"} 1",
            "iollm_worker_disputes_total{side=\"executor\",state=\"lost\"} 1",
            "iollm_worker_disputes_total{side=\"challenger\",state=\"playing\"} 1",
            "iollm_worker_disputes_total{side=\"challenger\",state=\"lost\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} missing from:\n{text}");
        }
    }
}
