//! The executor's side of a job: claim, train, publish the run and the output package, submit,
//! defend the result in every game about it, finalize and withdraw.

use super::{io, Inner, Kit, WorkerError};
use crate::state::Stage;
use iollm_chain::ChainError;
use iollm_content::manifest::{
    Accelerator, CidOptions, Format, Interface, Manifest, Parent, Provenance, Relation, Runtime,
    WeightFormat,
};
use iollm_content::{AddOptions, ContentStore};
use iollm_types::market::{Job, JobState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

impl<S: ContentStore + Send + Sync + 'static> Inner<S> {
    /// Claims, unless the chain shows the claim already landed (a restart) or someone else's did.
    pub(super) async fn claim(&self, id: u64) -> Result<(), WorkerError> {
        let job = self.chain_job(id).await?;
        if self.mine(&job) {
            return Ok(self.state.set_stage(id, Stage::Claimed, None).await?);
        }
        if job.state != JobState::Open {
            return Ok(self.state.set_stage(id, Stage::Lost, Some("claimed by another")).await?);
        }
        match self.market.claim(&self.signer, id).await {
            Ok(call) => {
                tracing::info!(target: "worker::executor", job = id, block = call.included.block, "Claimed");
                self.state
                    .transaction(id, "claim", call.included.tx_hash, call.included.block, None)
                    .await?;
                Ok(self.state.set_stage(id, Stage::Claimed, None).await?)
            }
            // Another provider was faster (refused at the dry-run, or reverted when its claim
            // landed first), or the job changed: normal, not an error. A refusal of a job still
            // open (its capacity, collateral or deadline rule this worker out) is final too:
            // retrying it would only hold a slot.
            Err(e) => {
                let job = self.chain_job(id).await?;
                if self.mine(&job) {
                    return Ok(self.state.set_stage(id, Stage::Claimed, None).await?);
                }
                if let (JobState::Open, ChainError::ContractRefused { message, .. }) =
                    (job.state, &e)
                {
                    tracing::warn!(target: "worker::executor", job = id, why = %message, "Claim refused");
                    return Ok(self.state.set_stage(id, Stage::Lost, Some(message)).await?);
                }
                if job.state == JobState::Open {
                    return Err(e.into());
                }
                tracing::info!(target: "worker::executor", job = id, why = %e, "Lost the claim");
                let note = format!("claimed by another: {e}");
                Ok(self.state.set_stage(id, Stage::Lost, Some(&note)).await?)
            }
        }
    }

    /// Trains the job's spec into its run directory, from the last checkpoint if a run is
    /// there, on a blocking thread, progress in the log; `false` when `stop` stopped it (its
    /// checkpoints, and the state of the step it stopped at, stay for the next start).
    pub(super) async fn train(
        &self,
        id: u64,
        stop: &CancellationToken,
    ) -> Result<bool, WorkerError> {
        let dir = self.job_dir(id);
        let run = dir.join("run");
        if iollm_compute::run_result(&run).is_ok() {
            return Ok(true);
        }
        // The spec and dataset, fetched again (every byte checked) into a fresh `data/`.
        let data = dir.join("data");
        if data.exists() {
            std::fs::remove_dir_all(&data).map_err(io("clearing the dataset directory"))?;
        }
        let cfg = crate::job::config_of_job(&self.market, &self.store, id, &data).await?;
        let trainer = self.trainer_of(&cfg)?;
        let started = run.join("checkpoints").is_dir();
        let (stop, metrics) = (stop.clone(), Arc::clone(&self.metrics));
        let (span, started_at) = (tracing::Span::current(), std::time::Instant::now());
        let trained = tokio::task::spawn_blocking(move || {
            let _job = span.enter();
            let mut log = |p: &iollm_compute::Progress| {
                metrics.steps.inc();
                metrics.tokens_per_second.set(p.tokens_per_sec);
                if let Some((checkpoint, _)) = p.checkpoint {
                    tracing::info!(target: "worker::executor", job = id, step = p.step, of = p.total_steps, checkpoint, loss = p.loss, "Training");
                }
                if stop.is_cancelled() {
                    iollm_compute::Flow::Break(())
                } else {
                    iollm_compute::Flow::Continue(())
                }
            };
            if started {
                trainer.resume_latest(&run, &mut log)
            } else {
                trainer.train(&run, &mut log)
            }
        })
        .await
        .map_err(|e| WorkerError::Io {
            what: "the training thread".into(),
            source: std::io::Error::other(e),
        })?;
        match trained {
            Ok(outcome) => {
                let (seconds, tokens_per_sec) =
                    (started_at.elapsed().as_secs_f64(), outcome.tokens_per_sec);
                tracing::info!(target: "worker::executor", job = id, trace_root = %outcome.trace_root_hex(), seconds, tokens_per_sec, "Trained");
                Ok(true)
            }
            Err(iollm_compute::Error::Stopped { step }) => {
                tracing::info!(target: "worker::executor", job = id, step, "Training stopped; it resumes at the next start");
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Builds job `id`'s output package from its run and adds it to IPFS
    /// ([`publish_output`]); what it added, and the output's directory.
    pub(super) async fn publish(&self, id: u64) -> Result<(Uploaded, PathBuf), WorkerError> {
        let dir = self.job_dir(id);
        let fetched = tempfile::tempdir_in(&dir).map_err(io("creating a temporary directory"))?;
        let cfg = crate::job::config_of_job(&self.market, &self.store, id, fetched.path()).await?;
        let output = Output {
            job: id,
            artifact: self.chain_job(id).await?.artifact,
            license: self.config.output_license.clone(),
            created_by: self.signer.account().to_string(),
            memory_bytes: iollm_compute::estimate_memory(&cfg),
        };
        let out = dir.join("output");
        let uploaded = publish_output(&self.store, &output, &dir.join("run"), &out).await?;
        Ok((uploaded, out))
    }

    /// Submits the result, unless the chain shows it landed already (`unsure`: a restart
    /// found the submission in flight).
    pub(super) async fn submit(&self, id: u64, cid: &str, unsure: bool) -> Result<(), WorkerError> {
        let job = self.chain_job(id).await?;
        if unsure && job.state != JobState::Claimed {
            // Its submission landed before a restart (the job may even be final by now).
            let stage = match (self.mine(&job), job.state) {
                (true, JobState::Submitted) => Stage::Submitted,
                (true, JobState::Finalized) => Stage::Finalized,
                _ => Stage::Lost,
            };
            return Ok(self
                .state
                .set_stage(id, stage, Some("found on chain after a restart"))
                .await?);
        }
        if job.state != JobState::Claimed || !self.mine(&job) {
            return Ok(self
                .state
                .set_stage(id, Stage::Lost, Some("no longer claimed by this worker"))
                .await?);
        }
        let game = self
            .market
            .job_terms(id)
            .await?
            .and_then(|t| t.game)
            .ok_or(crate::job::JobSpecError::NoSpec(id))?;
        let (commitment, last) = crate::submission(&self.job_dir(id).join("run"), &game, cid, 0)?;
        self.state.set_stage(id, Stage::Submitting, None).await?;
        let call = match self.market.submit_result(&self.signer, id, &commitment, Some(&last)).await
        {
            Ok(call) => call,
            // Refused at the dry-run (nothing sent): its submit-by block passed, say. Final.
            Err(ChainError::ContractRefused { message, .. }) => {
                return Ok(self.state.set_stage(id, Stage::Lost, Some(&message)).await?);
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(target: "worker::executor", job = id, block = call.included.block, "Submitted");
        self.state
            .transaction(id, "submit_result", call.included.tx_hash, call.included.block, None)
            .await?;
        Ok(self.state.set_stage(id, Stage::Submitted, None).await?)
    }

    /// Defends the result until it is final: plays the executor's side of every game about
    /// it ([`Inner::defend`]); once the challenge window has closed and no game is open,
    /// finalizes (when configured to; else waits for someone to). A job finalized by someone
    /// else, or rejected, ends here too.
    pub(super) async fn conclude(
        &self,
        id: u64,
        stop: &CancellationToken,
    ) -> Result<(), WorkerError> {
        let poll = Duration::from_millis(self.config.poll_ms);
        let mut kit = Kit::default();
        while !stop.is_cancelled() {
            let job = self.chain_job(id).await?;
            match job.state {
                JobState::Finalized => {
                    return Ok(self.state.set_stage(id, Stage::Finalized, None).await?)
                }
                JobState::Rejected | JobState::Expired => {
                    return Ok(self
                        .state
                        .set_stage(id, Stage::Lost, Some("rejected or expired"))
                        .await?)
                }
                _ => {}
            }
            if job.open_games > 0 {
                self.defend_result(id, &job, &mut kit).await?;
            }
            let closes = job.submitted_at.saturating_add(job.verification.challenge_window);
            let open = job.open_games > 0 || self.conn.chain.best_block().await? <= closes;
            if self.config.finalize && !open {
                match self.market.finalize(&self.signer, id).await {
                    Ok(call) => {
                        tracing::info!(target: "worker::executor", job = id, block = call.included.block, "Finalized");
                        self.state
                            .transaction(
                                id,
                                "finalize",
                                call.included.tx_hash,
                                call.included.block,
                                None,
                            )
                            .await?;
                        if self.config.withdraw {
                            self.withdraw(id).await?;
                        }
                        return Ok(self.state.set_stage(id, Stage::Finalized, None).await?);
                    }
                    Err(ChainError::ContractRefused { message, .. }) => {
                        tracing::debug!(target: "worker::executor", job = id, why = %message, "Not final yet");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            tokio::time::sleep(poll).await;
        }
        Ok(())
    }

    /// Withdraws the account's market balance after job `id` (nothing to withdraw is fine).
    /// A crash before it leaves the balance in the market, where the next job's withdrawal (or
    /// `iollm withdraw`) takes it.
    pub(super) async fn withdraw(&self, id: u64) -> Result<(), WorkerError> {
        match self.market.withdraw(&self.signer).await {
            Ok(call) => {
                tracing::info!(target: "worker::executor", job = id, amount = call.value, "Withdrew");
                let included = call.included;
                let amount = Some(call.value);
                Ok(self
                    .state
                    .transaction(id, "withdraw", included.tx_hash, included.block, amount)
                    .await?)
            }
            Err(ChainError::ContractRefused { message, .. }) => {
                tracing::info!(target: "worker::executor", job = id, why = %message, "Nothing withdrawn");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// One round of defence: in each unsettled game about job `id`, the moves the executor's
    /// side owes now, from the run the job's spec defines (recomputed step by step, its
    /// trainer built once); a decided game is settled (by whoever comes first: a refusal
    /// because another settled it is fine).
    pub(super) async fn defend_result(
        &self,
        id: u64,
        job: &Job,
        kit: &mut Kit,
    ) -> Result<(), WorkerError> {
        let dispute = self.conn.dispute()?;
        for index in 0..job.challenges {
            let Some(challenge) = self.market.game_of(id, index).await? else { continue };
            let Some(game) = dispute.game(challenge.game).await? else { continue };
            // Decided (a late side's game is decided when it is settled, by whoever settles).
            if self.is_over(challenge.game, Some(&game), 0) {
                match self.market.settle_challenge(&self.signer, id, index).await {
                    Ok(_) => {
                        tracing::info!(target: "worker::executor", job = id, index, "Settled a decided game")
                    }
                    Err(ChainError::ContractRefused { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                continue;
            }
            self.play_side(id, challenge.game, kit).await?;
        }
        Ok(())
    }
}

/// What an executor's output package says of itself besides its run.
pub struct Output {
    /// The market job it is the output of.
    pub job: u64,
    /// The artifact the job works for: the output's parent (a fine-tune of it), as the
    /// registry requires of a job's output.
    pub artifact: u64,
    /// Its licence (SPDX).
    pub license: String,
    /// Who made it (the executor's account).
    pub created_by: String,
    /// The memory a runtime needs to load it.
    pub memory_bytes: u64,
}

/// What [`publish_output`] added to IPFS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// The output package's CID: what the result names.
    pub output: String,
    /// The published run's CID, when it could be published.
    pub run: Option<String>,
}

/// Builds an executor's output package in `out` from its finished run in `run` — the
/// weights, their config and an SMIP manifest naming the job, its artifact as parent, the
/// run's trace root and the published run — and adds it to `store`. The run (its
/// `trace.json` and checkpoints, never the steps roots a spot check must replay to know) is
/// published first, best effort: without it verifiers run the job themselves, nothing is lost.
pub async fn publish_output<S: ContentStore>(
    store: &S,
    output: &Output,
    run: &Path,
    out: &Path,
) -> Result<Uploaded, WorkerError> {
    let id = output.job;
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(io("clearing the output directory"))?;
    }
    std::fs::create_dir_all(out).map_err(io("creating the output directory"))?;
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(run.join(file), out.join(file)).map_err(io(format!("copying {file}")))?;
    }
    let result = iollm_compute::run_result(run)?;
    let options = iollm_artifacts::package_options();
    let staging = out
        .with_file_name(format!("{}-run", out.file_name().unwrap_or_default().to_string_lossy()));
    let published_run = match publish_run(store, run, &staging, &options).await {
        Ok(cid) => Some(cid.to_string()),
        Err(e) => {
            tracing::warn!(target: "worker::executor", job = id, why = %e, "The run could not be published: verifiers will run the job themselves");
            None
        }
    };
    let manifest = Manifest {
        smip_version: 1,
        name: format!("iollm-job-{id}"),
        version: "1.0.0".into(),
        description: Some(format!(
            "The output of market job {id}, trained on reproducible numerics."
        )),
        license: output.license.clone(),
        format: Format {
            weights: WeightFormat::Safetensors,
            architecture: "iollm-gpt".into(),
            parameters: None,
        },
        cid_options: CidOptions::from_add_options(&options),
        files: Vec::new(),
        parents: vec![Parent {
            id: Some(output.artifact),
            cid: None,
            relation: Relation::Finetune,
        }],
        provenance: Some(Provenance {
            job_id: Some(id),
            trace_root: Some(iollm_compute::train::hex(&result.trace_root)),
            created_by: Some(output.created_by.clone()),
            run: published_run.clone(),
        }),
        runtime: Runtime {
            name: "iollm".into(),
            version: ">=0.1".into(),
            memory_bytes: output.memory_bytes,
            accelerator: Accelerator::Cpu,
        },
        interfaces: vec![Interface::Completion],
        evaluations: Vec::new(),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| WorkerError::Io {
        what: "writing smip.json".into(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(out.join("smip.json"), json).map_err(io("writing smip.json"))?;
    let package = iollm_artifacts::add_package::<iollm_content::Manifest, _>(store, out).await?;
    tracing::info!(target: "worker::executor", job = id, package = %package.package_cid, "Published the output");
    Ok(Uploaded { output: package.package_cid.to_string(), run: published_run })
}

/// Publishes what a verifier replays a segment from: the run's `trace.json` and its
/// checkpoints, as a directory staged in `staging` (removed after). Returns its CID.
pub(super) async fn publish_run<S: ContentStore>(
    store: &S,
    run: &Path,
    staging: &Path,
    options: &AddOptions,
) -> Result<iollm_content::Cid, WorkerError> {
    if staging.exists() {
        std::fs::remove_dir_all(staging).map_err(io("clearing the published run"))?;
    }
    let checkpoints = staging.join("checkpoints");
    std::fs::create_dir_all(&checkpoints).map_err(io("staging the published run"))?;
    for file in ["trace.json", iollm_compute::train::COMPLETE_FILE] {
        std::fs::copy(run.join(file), staging.join(file)).map_err(io(format!("staging {file}")))?;
    }
    let trace = iollm_compute::read_trace(run)?;
    for i in 0..trace.hashes.len() {
        let from = iollm_compute::train::checkpoint_path(run, i);
        let to = iollm_compute::train::checkpoint_path(staging, i);
        if from.exists() {
            std::fs::hard_link(&from, &to)
                .or_else(|_| std::fs::copy(&from, &to).map(|_| ()))
                .map_err(io(format!("staging checkpoint {i}")))?;
        }
    }
    let added = store.put_dir(staging, options).await;
    std::fs::remove_dir_all(staging).map_err(io("removing the staged run"))?;
    let added = added?;
    tracing::info!(target: "worker::executor", run = %added.cid, "Published the run's trace and checkpoints");
    Ok(added.cid)
}
