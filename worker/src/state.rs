//! The executor's local state: a SQLite database (through sqlx, migrations in
//! `worker/migrations/` run at open) holding where it reads the chain from, every job it
//! decided to claim and the stage it reached, every transaction it saw finalized and every
//! package it uploaded. Each stage is written before the step that follows it starts, so a
//! worker killed at any point finds, at restart, the step to check or do again.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row as _, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

/// How far the worker got with a job. Each stage names what is done and what comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Verifier: decided to sign up (its secret recorded); the sign-up may or may not have
    /// landed (the chain says which).
    SigningUp,
    /// Verifier: signed up; waits for the result, then spot-checks it from the executor's
    /// published run (its drawn segment and the last replayed).
    SignedUp,
    /// Verifier: the job's `h_0` is not the initial state of its config and seed (taken
    /// without a sign-up, whatever its fee or slots): waits for the result, then challenges
    /// its `h_0`.
    Forged,
    /// Verifier: runs the job itself, the executor's published run being missing or not the
    /// committed one (to attest from, or challenge with, its own run).
    Running,
    /// Decided to claim; the claim may or may not have landed (the chain says which).
    Claiming,
    /// Claimed: training (from the last checkpoint, after a restart).
    Claimed,
    /// Trained. Executor: the output package is built and published next. Verifier: waits
    /// for the result, then attests or challenges.
    Trained,
    /// Output published (its CID recorded): the result is submitted next.
    Published,
    /// Submitting; the submission may or may not have landed (the chain says which).
    Submitting,
    /// Submitted: waits for the challenge window, then finalizes.
    Submitted,
    /// Paid out (by this worker or anyone).
    Finalized,
    /// Verifier: its run differs from the committed one; challenging with it next.
    Challenging,
    /// Verifier: challenged; playing the game to its end, then settling it.
    Challenged,
    /// Verifier: attested; watches the job to its end, to defend the result if its executor
    /// loses a game by recomputation (the executor may have thrown it).
    Attested,
    /// Verifier: defends the result it attested in its own game; settles it once decided.
    Defending,
    /// Verifier: its part is over (attested, revealed, or its game settled); the note says how.
    Checked,
    /// Given up: lost a claim race, expired, rejected. The note says why.
    Lost,
}

impl Stage {
    /// Every stage.
    pub const ALL: [Stage; 17] = [
        Stage::SigningUp,
        Stage::SignedUp,
        Stage::Forged,
        Stage::Running,
        Stage::Claiming,
        Stage::Claimed,
        Stage::Trained,
        Stage::Published,
        Stage::Submitting,
        Stage::Submitted,
        Stage::Finalized,
        Stage::Challenging,
        Stage::Challenged,
        Stage::Attested,
        Stage::Defending,
        Stage::Checked,
        Stage::Lost,
    ];

    /// Its name in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::SigningUp => "signing_up",
            Stage::SignedUp => "signed_up",
            Stage::Forged => "forged",
            Stage::Running => "running",
            Stage::Claiming => "claiming",
            Stage::Claimed => "claimed",
            Stage::Trained => "trained",
            Stage::Published => "published",
            Stage::Submitting => "submitting",
            Stage::Submitted => "submitted",
            Stage::Finalized => "finalized",
            Stage::Challenging => "challenging",
            Stage::Challenged => "challenged",
            Stage::Attested => "attested",
            Stage::Defending => "defending",
            Stage::Checked => "checked",
            Stage::Lost => "lost",
        }
    }

    /// Whether the job keeps the worker busy (it trains, or is about to): what `max_jobs`
    /// counts. A job waiting for its result, its window or a game does not.
    pub fn is_busy(self) -> bool {
        matches!(
            self,
            Stage::Claiming | Stage::Claimed | Stage::SigningUp | Stage::SignedUp | Stage::Running
        )
    }

    /// Whether the worker has nothing more to do for the job.
    pub fn is_final(self) -> bool {
        matches!(self, Stage::Finalized | Stage::Checked | Stage::Lost)
    }
}

impl FromStr for Stage {
    type Err = StateError;
    fn from_str(s: &str) -> Result<Stage, StateError> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == s)
            .ok_or_else(|| StateError::Corrupt(format!("unknown stage {s:?}")))
    }
}

/// What a worker pins for a job ([`State::pinned`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pin {
    /// The output package a verifier attested, to defend its attestation.
    Output,
    /// The job's base model package, to answer its initial games.
    Base,
}

/// A job as the state records it (its `Debug` never prints the secret).
#[derive(Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// The market's job id.
    pub id: u64,
    /// What the worker does with it: `executor` or `verifier`.
    pub role: String,
    /// A verifier's spot-check secret.
    pub secret: Option<[u8; 32]>,
    /// How far it got.
    pub stage: Stage,
    /// The output package, once published.
    pub output_cid: Option<String>,
    /// Why it ended, when it did.
    pub note: Option<String>,
    /// The output package a verifier pinned to defend its attestation, unpinned when the
    /// job is released ([`State::pinned`]).
    pub pinned: Option<String>,
    /// The base model package the worker pinned for the job, unpinned when the job is
    /// released ([`State::pinned`]).
    pub base_pinned: Option<String>,
}

impl std::fmt::Debug for JobRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRecord")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("secret", &self.secret.map(|_| "(secret)"))
            .field("stage", &self.stage)
            .field("output_cid", &self.output_cid)
            .field("note", &self.note)
            .field("pinned", &self.pinned)
            .field("base_pinned", &self.base_pinned)
            .finish()
    }
}

/// What can go wrong with the state database.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// SQLite or a migration failed.
    #[error("worker state database: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("worker state database migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// It belongs to another chain, market or account.
    #[error("worker state belongs to another {0}; give this worker its own state_dir")]
    Foreign(&'static str),
    /// It holds something this version cannot read.
    #[error("worker state database is corrupt ({0}); repair it: moving it aside loses the jobs in flight and a verifier's secrets (their bonds)")]
    Corrupt(String),
}

/// The state database.
#[derive(Debug, Clone)]
pub struct State {
    pool: SqlitePool,
    /// The kind of transaction before whose record the process aborts (a crash test's hook,
    /// [`State::abort_before_recording`]).
    abort_before: Arc<OnceLock<String>>,
}

impl State {
    /// Opens (creating if needed) the database at `path` and runs the migrations it lacks.
    /// Every write is durable when it returns (WAL, `synchronous = FULL`).
    pub async fn open(path: &Path) -> Result<State, StateError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(State { pool, abort_before: Arc::default() })
    }

    /// For crash tests: the process aborts (as a `kill -9` would stop it: no destructor runs,
    /// nothing more is written) when it is about to record a landed transaction of kind `what`
    /// (`claim`, `submit_result`, …): the window between a transaction's landing and its
    /// record. Switched on per process at run time, never by a cargo feature; the first kind
    /// set stays.
    pub fn abort_before_recording(&self, what: &str) {
        let _ = self.abort_before.set(what.to_owned());
    }

    /// Binds the state to a chain (its genesis hash), a market and an account on first use;
    /// afterwards refuses any other ([`StateError::Foreign`]).
    pub async fn bind(
        &self,
        genesis: [u8; 32],
        market: [u8; 32],
        account: [u8; 32],
    ) -> Result<(), StateError> {
        sqlx::query("INSERT INTO binding (id, genesis, market, account) VALUES (0, ?1, ?2, ?3) ON CONFLICT (id) DO NOTHING")
            .bind(genesis.as_slice())
            .bind(market.as_slice())
            .bind(account.as_slice())
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT genesis, market, account FROM binding WHERE id = 0")
            .fetch_one(&self.pool)
            .await?;
        let same = |i: usize, want: &[u8]| row.get::<Vec<u8>, _>(i) == want;
        if !same(0, &genesis) {
            return Err(StateError::Foreign("chain (genesis hash)"));
        }
        if !same(1, &market) {
            return Err(StateError::Foreign("market contract"));
        }
        if !same(2, &account) {
            return Err(StateError::Foreign("account"));
        }
        Ok(())
    }

    /// The market contract and the account this state is bound to ([`State::bind`]), once it
    /// is.
    pub async fn binding(&self) -> Result<Option<([u8; 32], [u8; 32])>, StateError> {
        let row = sqlx::query("SELECT market, account FROM binding WHERE id = 0")
            .fetch_optional(&self.pool)
            .await?;
        let bytes = |v: Vec<u8>| {
            <[u8; 32]>::try_from(v)
                .map_err(|_| StateError::Corrupt("a binding of another size".into()))
        };
        row.map(|r| Ok((bytes(r.get(0))?, bytes(r.get(1))?))).transpose()
    }

    /// The next block to read events from, once one was recorded.
    pub async fn cursor(&self) -> Result<Option<u32>, StateError> {
        let row = sqlx::query("SELECT next_block FROM cursor WHERE id = 0")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            u32::try_from(r.get::<i64, _>(0)).map_err(|e| StateError::Corrupt(e.to_string()))
        })
        .transpose()
    }

    /// Records the next block to read events from.
    pub async fn set_cursor(&self, next_block: u32) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO cursor (id, next_block) VALUES (0, ?1)
             ON CONFLICT (id) DO UPDATE SET next_block = excluded.next_block",
        )
        .bind(i64::from(next_block))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The job `id`, if the executor ever decided to claim it.
    pub async fn job(&self, id: u64) -> Result<Option<JobRecord>, StateError> {
        let row = sqlx::query(
            "SELECT id, stage, output_cid, note, role, secret, pinned, base_pinned FROM jobs WHERE id = ?1",
        )
        .bind(job_key(id)?)
        .fetch_optional(&self.pool)
        .await?;
        row.map(record).transpose()
    }

    /// Every job recorded, oldest first.
    pub async fn jobs(&self) -> Result<Vec<JobRecord>, StateError> {
        let rows = sqlx::query(
            "SELECT id, stage, output_cid, note, role, secret, pinned, base_pinned FROM jobs ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(record).collect()
    }

    /// The jobs not finished yet ([`Stage::is_final`]), oldest first.
    pub async fn in_flight(&self) -> Result<Vec<JobRecord>, StateError> {
        Ok(self.jobs().await?.into_iter().filter(|j| !j.stage.is_final()).collect())
    }

    /// Records that the worker decided to take `id` in `role` at `stage` (before the claim or
    /// sign-up is sent; a verifier's `secret` with it, so it is never lost); `false` if it is
    /// already recorded, so a job is taken at most once whatever the events repeat.
    pub async fn begin(
        &self,
        id: u64,
        role: &str,
        stage: Stage,
        secret: Option<[u8; 32]>,
    ) -> Result<bool, StateError> {
        let done = sqlx::query(
            "INSERT INTO jobs (id, role, secret, stage, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(job_key(id)?)
        .bind(role)
        .bind(secret.map(|s| s.to_vec()))
        .bind(stage.as_str())
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Moves job `id` to `stage`, with a note for a person (why it ended, say).
    pub async fn set_stage(
        &self,
        id: u64,
        stage: Stage,
        note: Option<&str>,
    ) -> Result<(), StateError> {
        sqlx::query(
            "UPDATE jobs SET stage = ?2, note = COALESCE(?3, note), updated_at = ?4 WHERE id = ?1",
        )
        .bind(job_key(id)?)
        .bind(stage.as_str())
        .bind(note)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The finished jobs ([`Stage::is_final`]) whose records on chain the worker has not
    /// released yet ([`State::set_released`]), oldest first.
    pub async fn unreleased(&self) -> Result<Vec<u64>, StateError> {
        let rows = sqlx::query("SELECT id, stage FROM jobs WHERE released = 0 ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let mut ids = Vec::new();
        for row in rows {
            let stage: Stage = row.get::<String, _>(1).parse()?;
            if stage.is_final() {
                ids.push(
                    u64::try_from(row.get::<i64, _>(0))
                        .map_err(|e| StateError::Corrupt(format!("job id {e}")))?,
                );
            }
        }
        Ok(ids)
    }

    /// Records that nothing of job `id` is left on chain for the worker to release.
    pub async fn set_released(&self, id: u64) -> Result<(), StateError> {
        sqlx::query("UPDATE jobs SET released = 1, updated_at = ?2 WHERE id = ?1")
            .bind(job_key(id)?)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that this worker pinned `cid`, the `pin` of job `id` (no one had pinned it on
    /// its IPFS daemon), so that it unpins it when the job is released; before what needs it
    /// (an attestation, a claim's games) is relied on.
    pub async fn pinned(&self, id: u64, pin: Pin, cid: &str) -> Result<(), StateError> {
        let set = match pin {
            Pin::Output => "UPDATE jobs SET pinned = ?2, updated_at = ?3 WHERE id = ?1",
            Pin::Base => "UPDATE jobs SET base_pinned = ?2, updated_at = ?3 WHERE id = ?1",
        };
        sqlx::query(set).bind(job_key(id)?).bind(cid).bind(now()).execute(&self.pool).await?;
        Ok(())
    }

    /// Records a note on job `id` for a person (why it stopped), its stage unchanged.
    pub async fn note(&self, id: u64, note: &str) -> Result<(), StateError> {
        sqlx::query("UPDATE jobs SET note = ?2, updated_at = ?3 WHERE id = ?1")
            .bind(job_key(id)?)
            .bind(note)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records the output package of job `id` (at `path`) and the run published with it
    /// (its CID, and the run it was made from), and moves the job to [`Stage::Published`].
    pub async fn published(
        &self,
        id: u64,
        cid: &str,
        path: &Path,
        run: Option<(&str, &Path)>,
    ) -> Result<(), StateError> {
        let mut tx = self.pool.begin().await?;
        for (cid, path) in std::iter::once((cid, path)).chain(run) {
            sqlx::query("INSERT OR IGNORE INTO uploads (cid, job, path) VALUES (?1, ?2, ?3)")
                .bind(cid)
                .bind(job_key(id)?)
                .bind(path.to_string_lossy())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE jobs SET stage = 'published', output_cid = ?2, updated_at = ?3 WHERE id = ?1",
        )
        .bind(job_key(id)?)
        .bind(cid)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a finalized transaction of job `id` (with the planck it moved to the account,
    /// for a withdrawal).
    pub async fn transaction(
        &self,
        id: u64,
        what: &str,
        tx_hash: [u8; 32],
        block: u32,
        amount: Option<u128>,
    ) -> Result<(), StateError> {
        if self.abort_before.get().is_some_and(|kind| kind == what) {
            tracing::error!(target: "worker::state", job = id, what, block, "Aborting before recording the transaction (the crash test's hook)");
            std::process::abort();
        }
        sqlx::query(
            "INSERT INTO transactions (job, what, tx_hash, block, amount) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(job_key(id)?)
        .bind(what)
        .bind(&tx_hash[..])
        .bind(i64::from(block))
        .bind(amount.map(|a| a.to_string()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// What the worker added to IPFS for job `id`: each CID and the local path it was added
    /// from, in the order recorded.
    pub async fn uploads(&self, id: u64) -> Result<Vec<(String, String)>, StateError> {
        let rows = sqlx::query("SELECT cid, path FROM uploads WHERE job = ?1 ORDER BY rowid")
            .bind(job_key(id)?)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| (r.get::<String, _>(0), r.get::<String, _>(1))).collect())
    }

    /// The transactions of job `id` as `(what, block, amount)`, in the order recorded.
    pub async fn transactions(
        &self,
        id: u64,
    ) -> Result<Vec<(String, u32, Option<u128>)>, StateError> {
        let rows =
            sqlx::query("SELECT what, block, amount FROM transactions WHERE job = ?1 ORDER BY id")
                .bind(job_key(id)?)
                .fetch_all(&self.pool)
                .await?;
        let corrupt = |e: &dyn std::fmt::Display| StateError::Corrupt(e.to_string());
        rows.into_iter()
            .map(|r| {
                let block = u32::try_from(r.get::<i64, _>(1)).map_err(|e| corrupt(&e))?;
                let amount = r.get::<Option<String>, _>(2);
                let amount =
                    amount.map(|a| a.parse::<u128>()).transpose().map_err(|e| corrupt(&e))?;
                Ok((r.get::<String, _>(0), block, amount))
            })
            .collect()
    }
}

fn record(row: sqlx::sqlite::SqliteRow) -> Result<JobRecord, StateError> {
    let id = u64::try_from(row.get::<i64, _>(0)).map_err(|e| StateError::Corrupt(e.to_string()))?;
    let secret = row.get::<Option<Vec<u8>>, _>(5).map(|s| {
        <[u8; 32]>::try_from(s.as_slice())
            .map_err(|_| StateError::Corrupt("a secret of the wrong length".into()))
    });
    Ok(JobRecord {
        id,
        role: row.get(4),
        secret: secret.transpose()?,
        stage: row.get::<String, _>(1).parse()?,
        output_cid: row.get(2),
        note: row.get(3),
        pinned: row.get(6),
        base_pinned: row.get(7),
    })
}

/// SQLite integers are signed: a job id above `i64::MAX` cannot be stored.
fn job_key(id: u64) -> Result<i64, StateError> {
    i64::try_from(id).map_err(|_| StateError::Corrupt(format!("job id {id} is too large")))
}

fn now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| d.as_secs() as i64)
}
