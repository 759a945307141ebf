//! The verifier's side of a job: sign up before the result, spot-check it from the executor's
//! published run (or a run of its own), attest, reveal, or challenge a wrong segment at once
//! with a one-segment claim kept in the job's `claim.json`.

use super::{io, Inner, WorkerError};
use crate::spotcheck::SpotCheckError;
use crate::state::{Stage, StateError};
use iollm_chain::ChainError;
use iollm_content::ContentStore;
use iollm_types::market::{Job, JobState};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

impl<S: ContentStore + Send + Sync + 'static> Inner<S> {
    /// Verifier: signs up with the recorded secret; a refusal because it already did (the
    /// sign-up landed before a restart) counts as signed up.
    pub(super) async fn sign_up(&self, id: u64, secret: [u8; 32]) -> Result<(), WorkerError> {
        let me = self.signer.account_bytes();
        let commit = iollm_types::spotcheck::commitment::<iollm_compute::merkle::Sha>(&me, &secret);
        match self.market.sign_up(&self.signer, id, commit).await {
            Ok(call) => {
                tracing::info!(target: "worker::verifier", job = id, block = call.included.block, "Signed up");
                let included = call.included;
                self.state
                    .transaction(id, "sign_up", included.tx_hash, included.block, None)
                    .await?;
                Ok(self.state.set_stage(id, Stage::SignedUp, None).await?)
            }
            Err(ChainError::ContractRefused { message, .. })
                if message == iollm_types::market::Error::AlreadyActed.message() =>
            {
                Ok(self
                    .state
                    .set_stage(id, Stage::SignedUp, Some("signed up before a restart"))
                    .await?)
            }
            Err(ChainError::ContractRefused { message, .. }) => {
                Ok(self.state.set_stage(id, Stage::Lost, Some(&message)).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Verifier, signed up: waits for the result, then spot-checks it from the executor's
    /// published run — its trace and the checkpoints the draw names and the last, every byte
    /// checked against the CIDs and the trace against the committed roots — replaying one
    /// segment: it attests, reveals without a check (an output it refuses, or a fetch or check
    /// not done by the window's last blocks), or challenges that segment at once
    /// ([`Inner::challenge_segment`]). A run that is not published or not the committed one
    /// sends it to run the whole job itself ([`Stage::Running`]), to attest from or challenge
    /// with its own run.
    pub(super) async fn check_published(
        &self,
        id: u64,
        secret: [u8; 32],
        stop: &CancellationToken,
    ) -> Result<(), WorkerError> {
        let Some(result) = self.await_result(id, stop).await? else { return Ok(()) };
        // Revealed or challenged before a restart: carry on from there, fetching nothing.
        if let Some((stage, note)) = self.stage_on_chain(id, &self.chain_job(id).await?).await? {
            return Ok(self.state.set_stage(id, stage, Some(note)).await?);
        }
        if self.readable_claim(id).is_some() {
            // It stopped between keeping its claim and recording it: send that one.
            return Ok(self.state.set_stage(id, Stage::Challenging, None).await?);
        }
        let started = std::time::Instant::now();
        let dir = self.job_dir(id).join("published");
        let (market, store) = (&self.market, &self.store);
        let check = async {
            let trainer = self
                .fetch_published(id, &result, &secret, &dir)
                .await
                .map_err(|why| SpotCheckError::Run { path: dir.clone(), reason: why })?;
            crate::spotcheck::judge(market, store, id, &secret, &trainer, &dir).await
        };
        let Some(checked) = self.before_reveal_deadline(id, check).await else {
            let why = "the published run was not fetched and checked before the reveal window's last blocks";
            return self.reveal_unchecked(id, &secret, &why).await;
        };
        match checked {
            Ok(judged) => {
                let seconds = started.elapsed().as_secs_f64();
                tracing::info!(target: "worker::verifier", job = id, seconds, "Spot-checked from the published run (fetch and replay)");
                let how = " (replayed from the published run)";
                self.reveal_judged(id, &secret, judged, how).await
            }
            Err(SpotCheckError::Chain(e)) => Err(e.into()),
            // Its own IPFS daemon is away: nothing was sent, the loop tries again.
            Err(e @ SpotCheckError::Output(_)) => Err(e.into()),
            Err(SpotCheckError::WrongResult { segment, reached, committed, .. }) => {
                self.challenge_segment(id, &committed, segment, reached).await
            }
            Err(e) => {
                // Before training for it, what the output's smip.json alone says: an output
                // this worker would refuse anyway is refused now.
                let (cid, root) = (&result.output_cid, &result.trace_root);
                let manifest = async {
                    let artifact = self.chain_job(id).await?.artifact;
                    let checked = crate::output::check_manifest(store, cid, id, artifact, root);
                    Ok::<_, WorkerError>(checked.await)
                };
                match self.before_reveal_deadline(id, manifest).await {
                    None => {
                        let why = "the output's manifest was not checked before the reveal window's last blocks";
                        return self.reveal_unchecked(id, &secret, &why).await;
                    }
                    Some(Ok(Ok(_))) => {}
                    Some(Ok(Err(local))) if local.is_local() => {
                        return Err(SpotCheckError::Output(local).into());
                    }
                    Some(Ok(Err(refused))) => {
                        return self.reveal_unchecked(id, &secret, &refused).await
                    }
                    Some(Err(e)) => return Err(e),
                }
                tracing::warn!(target: "worker::verifier", job = id, why = %e, "The published run does not serve a spot check: running the job");
                // A claim kept from an attempt that never landed is not this job's story.
                match std::fs::remove_file(self.job_dir(id).join(CLAIM_FILE)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(io("removing a stale claim")(e));
                    }
                    _ => {}
                }
                let note = e.to_string();
                Ok(self.state.set_stage(id, Stage::Running, Some(&note)).await?)
            }
        }
    }

    /// Verifier, its replay of segment `segment` from the executor's published run (its
    /// checkpoints `committed`, checked against the trace root) reaching `reached`, not the
    /// committed next checkpoint: challenges at once with a one-segment claim
    /// ([`crate::player::segment_claim`]), without running the job. The claim is kept in the
    /// job's `claim.json` and the job recorded as challenging before it is sent
    /// ([`Inner::challenge`]), so a restart or a failed send sends and plays the same one.
    pub(super) async fn challenge_segment(
        &self,
        id: u64,
        committed: &[[u8; 32]],
        segment: u64,
        reached: [u8; 32],
    ) -> Result<(), WorkerError> {
        let h0 = self.job_h0(id).await?;
        let claim = crate::player::segment_claim(h0, committed, segment as usize, reached);
        write_claim(&self.job_dir(id), &claim)?;
        let note = format!("segment {segment} does not replay to its checkpoint: challenged it");
        tracing::info!(target: "worker::verifier", job = id, segment, "Challenging with a one-segment claim");
        self.state.set_stage(id, Stage::Challenging, Some(&note)).await?;
        self.challenge(id).await
    }

    /// The one-segment claim kept for job `id` (`claim.json`), if one can be used. A corrupt
    /// one ([`read_claim`]) is removed, so that the check is done again; one that cannot be
    /// read now (the disk failing) is left where it is. Either way the job goes on as if it
    /// had none, so a claim file never stands in the way of a reveal.
    pub(super) fn readable_claim(&self, id: u64) -> Option<Vec<[u8; 32]>> {
        let dir = self.job_dir(id);
        match read_claim(&dir) {
            Ok(kept) => kept,
            Err(e @ WorkerError::State(StateError::Corrupt(_))) => {
                tracing::warn!(target: "worker::verifier", job = id, error = %e, "The kept claim is corrupt: removing it, to check again");
                if let Err(e) = std::fs::remove_file(dir.join(CLAIM_FILE)) {
                    tracing::warn!(target: "worker::verifier", job = id, error = %e, "Cannot remove the corrupt claim");
                }
                None
            }
            Err(e) => {
                tracing::warn!(target: "worker::verifier", job = id, error = %e, "The kept claim cannot be read now");
                None
            }
        }
    }

    /// Verifier: reveals `secret` without a check (`why` it checked nothing: an output it
    /// refuses, the window closing): its bond back, no fee.
    async fn reveal_unchecked(
        &self,
        id: u64,
        secret: &[u8; 32],
        why: &(dyn std::fmt::Display + Sync),
    ) -> Result<(), WorkerError> {
        let call = match self.market.attest(&self.signer, id, *secret, &None).await {
            Ok(call) => call,
            Err(e) => return self.refused_reveal(id, e).await,
        };
        let included = call.included;
        self.state.transaction(id, "reveal", included.tx_hash, included.block, None).await?;
        let note = format!("revealed without a check: {why}");
        tracing::info!(target: "worker::verifier", job = id, %note, "Revealed without a check");
        Ok(self.state.set_stage(id, Stage::Checked, Some(&note)).await?)
    }

    /// Verifier: waits until job `id` has a result, and returns it (`None` if stopped first, or
    /// if the job expired without one, which is recorded as lost).
    pub(super) async fn await_result(
        &self,
        id: u64,
        stop: &CancellationToken,
    ) -> Result<Option<iollm_types::market::Commitment>, WorkerError> {
        let poll = Duration::from_millis(self.config.poll_ms);
        while !stop.is_cancelled() {
            match self.chain_job(id).await?.state {
                JobState::Open | JobState::Claimed => tokio::time::sleep(poll).await,
                JobState::Expired => {
                    let note = "expired without a result";
                    self.state.set_stage(id, Stage::Lost, Some(note)).await?;
                    return Ok(None);
                }
                _ => {
                    let result = self.market.result(id).await?;
                    return Ok(Some(result.ok_or(ChainError::MissingEvent("result"))?));
                }
            }
        }
        Ok(None)
    }

    /// Records a spot check's reveal: an attestation (`how` says from what run) is watched to
    /// its end ([`Stage::Attested`]), a reveal without a check is done.
    pub(super) async fn record_spot_check(
        &self,
        id: u64,
        call: &iollm_chain::contract::Executed<()>,
        found: crate::spotcheck::SpotCheck,
        how: &str,
    ) -> Result<(), WorkerError> {
        let (stage, note) = match found {
            crate::spotcheck::SpotCheck::Attested { segments } => {
                let segments = crate::spotcheck::segments_text(&segments);
                (Stage::Attested, format!("attested {segments}{how}"))
            }
            crate::spotcheck::SpotCheck::Revealed { segment } => (
                Stage::Checked,
                format!(
                    "revealed without a check (segment {segment}: the executor's check is wrong)"
                ),
            ),
            crate::spotcheck::SpotCheck::OutputRefused { segments, why, .. } => {
                let segments = crate::spotcheck::segments_text(&segments);
                (
                    Stage::Checked,
                    format!("revealed without a check (replayed {segments}, but {why})"),
                )
            }
        };
        tracing::info!(target: "worker::verifier", job = id, %note, "Checked");
        self.state
            .transaction(id, "attest", call.included.tx_hash, call.included.block, None)
            .await?;
        Ok(self.state.set_stage(id, stage, Some(&note)).await?)
    }

    /// Fetches into `dir` what a spot check of job `id`'s result needs from the executor's
    /// published run (named in the output package's `smip.json`): `trace.json`, the completion
    /// marker, the checkpoint that starts the segment `secret` draws and the last one (what
    /// the output must hold). Returns the job's
    /// trainer; a reason in words when anything is missing or malformed.
    pub(super) async fn fetch_published(
        &self,
        id: u64,
        result: &iollm_types::market::Commitment,
        secret: &[u8; 32],
        dir: &Path,
    ) -> Result<Arc<iollm_compute::Trainer>, String> {
        use iollm_content::{fetch_file_verified, parse_cid, resolve_path};
        let text = |e: &dyn std::fmt::Display| e.to_string();
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| text(&e))?;
        }
        std::fs::create_dir_all(dir.join("checkpoints")).map_err(|e| text(&e))?;
        let package = std::str::from_utf8(&result.output_cid).map_err(|e| text(&e))?;
        let package = parse_cid(package).map_err(|e| text(&e))?;
        let store = &self.store;
        let manifest_cid = resolve_path(store, &package, iollm_content::manifest::MANIFEST_FILE)
            .await
            .map_err(|e| text(&e))?;
        let manifest_path = dir.join("smip.json");
        let limit = iollm_content::manifest::MAX_MANIFEST_BYTES as u64;
        fetch_file_verified(store, &manifest_cid, &manifest_path, limit)
            .await
            .map_err(|e| text(&e))?;
        let manifest = std::fs::read(&manifest_path).map_err(|e| text(&e))?;
        let manifest = iollm_content::manifest::parse(&manifest).map_err(|e| text(&e))?;
        let run = manifest.provenance.and_then(|p| p.run).ok_or("the output names no run")?;
        let run = parse_cid(&run).map_err(|e| text(&e))?;
        for (file, limit) in [("trace.json", 16 << 20), (iollm_compute::train::COMPLETE_FILE, 4096)]
        {
            let cid = resolve_path(store, &run, file).await.map_err(|e| text(&e))?;
            fetch_file_verified(store, &cid, &dir.join(file), limit).await.map_err(|e| text(&e))?;
        }
        let trace = iollm_compute::read_trace(dir).map_err(|e| text(&e))?;
        let draw =
            iollm_types::spotcheck::draw::<iollm_compute::merkle::Sha>(secret, &result.trace_root);
        let n = trace.checks.len();
        let checked = iollm_types::spotcheck::checked_segments(&draw, n as u64);
        if checked.is_empty() {
            return Err("the published trace holds no checks".into());
        }
        let trainer = self.trainer(id).await.map_err(|e| text(&e))?;
        let limit = iollm_compute::estimate_memory(trainer.config()).saturating_add(1 << 20);
        // The checked segments' starts, and the last state the output must hold.
        for i in checked.iter().map(|&s| s as usize).chain([n]) {
            let path = iollm_compute::train::checkpoint_path(dir, i);
            let name = path.strip_prefix(dir).map_err(|e| text(&e))?;
            let name = name.to_string_lossy().into_owned();
            let cid = resolve_path(store, &run, &name).await.map_err(|e| text(&e))?;
            fetch_file_verified(store, &cid, &path, limit).await.map_err(|e| text(&e))?;
        }
        Ok(trainer)
    }

    /// Fetches every checkpoint of the executor's published run into `published/`, beside the
    /// trace its spot check fetched and checked against the committed root, and checks each
    /// against its committed hash: what a defence answers from without running the job. A
    /// reason in words when it cannot.
    pub(super) async fn fetch_all_published(&self, id: u64) -> Result<(), String> {
        use iollm_content::{fetch_file_verified, parse_cid, resolve_path};
        let text = |e: &dyn std::fmt::Display| e.to_string();
        let dir = self.job_dir(id).join("published");
        let trace = iollm_compute::read_trace(&dir).map_err(|e| text(&e))?;
        let manifest = std::fs::read(dir.join("smip.json")).map_err(|e| text(&e))?;
        let manifest = iollm_content::manifest::parse(&manifest).map_err(|e| text(&e))?;
        let run = manifest.provenance.and_then(|p| p.run).ok_or("the output names no run")?;
        let run = parse_cid(&run).map_err(|e| text(&e))?;
        let trainer = self.trainer(id).await.map_err(|e| text(&e))?;
        let limit = iollm_compute::estimate_memory(trainer.config()).saturating_add(1 << 20);
        for (i, hash) in trace.hashes.iter().enumerate() {
            let path = iollm_compute::train::checkpoint_path(&dir, i);
            if !path.exists() {
                let name = path.strip_prefix(&dir).map_err(|e| text(&e))?;
                let name = name.to_string_lossy();
                let cid = resolve_path(&self.store, &run, &name).await.map_err(|e| text(&e))?;
                fetch_file_verified(&self.store, &cid, &path, limit).await.map_err(|e| text(&e))?;
            }
            let (state, _) = trainer.load_checkpoint(&path).map_err(|e| text(&e))?;
            if iollm_compute::train::hex(&state.hash(&trainer.config_hash())) != *hash {
                return Err(format!("published checkpoint {i} is not the committed h_{i}"));
            }
        }
        Ok(())
    }

    /// Verifier, its own run of the job done: waits for the result, then spot-checks it from
    /// that run (attests, or reveals without a check when only the executor's checks are
    /// wrong) when it is the committed run, or moves on to challenge it when it is not.
    pub(super) async fn check(
        &self,
        id: u64,
        secret: [u8; 32],
        stop: &CancellationToken,
    ) -> Result<(), WorkerError> {
        let Some(result) = self.await_result(id, stop).await? else { return Ok(()) };
        let run = self.job_dir(id).join("run");
        let ours = iollm_compute::run_result(&run)?;
        if ours.trace_root != result.trace_root {
            tracing::info!(target: "worker::verifier", job = id, "The committed trace is not the job's run: challenging");
            return Ok(self.state.set_stage(id, Stage::Challenging, None).await?);
        }
        if ours.checks_root != result.checks_root {
            let call = match self.market.attest(&self.signer, id, secret, &None).await {
                Ok(call) => call,
                Err(e) => return self.refused_reveal(id, e).await,
            };
            self.state
                .transaction(id, "reveal", call.included.tx_hash, call.included.block, None)
                .await?;
            let note = "revealed without a check: the executor's checks are not the run's";
            return Ok(self.state.set_stage(id, Stage::Checked, Some(note)).await?);
        }
        let check = async {
            let trainer = self.trainer(id).await?;
            let (market, store) = (&self.market, &self.store);
            Ok::<_, WorkerError>(
                crate::spotcheck::judge(market, store, id, &secret, &trainer, &run).await?,
            )
        };
        let Some(checked) = self.before_reveal_deadline(id, check).await else {
            let why = "its replay was not done before the reveal window's last blocks";
            return self.reveal_unchecked(id, &secret, &why).await;
        };
        self.reveal_judged(id, &secret, checked?, "").await
    }

    /// Verifier, running the job itself (the published run unusable): trains it, and gives it
    /// up for a reveal without a check once the window is down to its last blocks (a run that
    /// cannot finish in time, a dataset no longer served), so that its bond is not lost to a
    /// job it cannot check. Its training, stopped, keeps its checkpoints. An accused attester
    /// without the published run trains the job to the end, then defends.
    pub(super) async fn run_for_check(
        &self,
        id: u64,
        secret: [u8; 32],
        stop: &CancellationToken,
    ) -> Result<(), WorkerError> {
        // Accused, without the executor's published run to defend from: its own run is what
        // it defends with, however long it takes (its reveal is long done).
        let job = self.chain_job(id).await?;
        let accused = self.our_sign_up(id, &job).await?;
        if matches!(accused, Some((_, iollm_types::market::Check::Accused { .. }))) {
            if self.train(id, stop).await? {
                self.state.set_stage(id, Stage::Defending, None).await?;
            }
            return Ok(());
        }
        let give_up = stop.child_token();
        match self.before_reveal_deadline(id, self.train(id, &give_up)).await {
            None => {
                give_up.cancel();
                let why =
                    "its own run of the job was not done before the reveal window's last blocks";
                self.reveal_unchecked(id, &secret, &why).await
            }
            Some(Ok(true)) => Ok(self.state.set_stage(id, Stage::Trained, None).await?),
            Some(Ok(false)) => Ok(()),
            Some(Err(e)) => Err(e),
        }
    }

    /// Reveals what a spot check decided (`how`: from what run) and records it
    /// ([`Inner::record_spot_check`]), the output it pinned recorded first (unpinned at
    /// release); a reveal refused or reverted goes by the chain ([`Inner::refused_reveal`]).
    async fn reveal_judged(
        &self,
        id: u64,
        secret: &[u8; 32],
        judged: crate::spotcheck::Judged,
        how: &str,
    ) -> Result<(), WorkerError> {
        if let crate::spotcheck::SpotCheck::OutputRefused { question: Some(q), why, .. } =
            &judged.found
        {
            return self.challenge_output(id, secret, *q, why).await;
        }
        if let Some(cid) = &judged.pinned {
            self.state.pinned(id, crate::state::Pin::Output, &cid.to_string()).await?;
        }
        match crate::spotcheck::reveal(&self.market, &self.signer, id, secret, judged).await {
            Ok((call, found)) => self.record_spot_check(id, &call, found, how).await,
            Err(e) => self.refused_reveal(id, e).await,
        }
    }

    /// Verifier, its segments replayed but the output package not the proven run, in a way
    /// the chain can decide (`why`): challenges the output with `question`, which the
    /// executor cannot answer, on its sign-up's bond, instead of revealing without a check.
    /// Refused (the window closed, the job ended, another's challenge landed first), it
    /// reveals without a check as before, so the bond is never lost to a failed challenge;
    /// any other failure is retried from the check.
    async fn challenge_output(
        &self,
        id: u64,
        secret: &[u8; 32],
        question: iollm_types::package::Question,
        why: &str,
    ) -> Result<(), WorkerError> {
        match self.market.challenge_output(&self.signer, id, question).await {
            Ok(call) => {
                let included = call.included;
                self.state
                    .transaction(id, "challenge_output", included.tx_hash, included.block, None)
                    .await?;
                let note = format!("challenged the output, asking for {question}: {why}");
                tracing::info!(target: "worker::verifier", job = id, index = call.value, %note, "Challenged the output");
                Ok(self.state.set_stage(id, Stage::Challenged, Some(&note)).await?)
            }
            Err(e @ (ChainError::ContractRefused { .. } | ChainError::Dispatch { .. })) => {
                tracing::warn!(target: "worker::verifier", job = id, error = %e, "Output challenge refused: revealing without a check");
                self.reveal_unchecked(id, secret, &why).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Verifier, a job whose `h_0` is not the initial state of its config and seed
    /// ([`Stage::Forged`], taken without a sign-up): waits for its result, then challenges its
    /// `h_0` on a bond from its pledge, and plays that initial game. A challenge of its own
    /// already on chain (sent before a restart) is played; refused (the window closed, the job
    /// ended, rejected by another's game), the job is given up, noted.
    pub(super) async fn challenge_forged(
        &self,
        id: u64,
        stop: &CancellationToken,
    ) -> Result<(), WorkerError> {
        if self.await_result(id, stop).await?.is_none() {
            return Ok(());
        }
        if self.our_challenge(id).await?.is_some() {
            let note = "challenged h_0 (before a restart)";
            return Ok(self.state.set_stage(id, Stage::Challenged, Some(note)).await?);
        }
        match self.market.challenge_initial(&self.signer, id).await {
            Ok(call) => {
                let included = call.included;
                self.state
                    .transaction(id, "challenge_initial", included.tx_hash, included.block, None)
                    .await?;
                let note =
                    "challenged h_0: it is not the initial state of the job's config and seed";
                tracing::info!(target: "worker::verifier", job = id, index = call.value, "Challenged h_0");
                Ok(self.state.set_stage(id, Stage::Challenged, Some(note)).await?)
            }
            Err(ChainError::ContractRefused { message, .. }) => {
                let note = format!("its h_0 is forged, but the challenge was refused: {message}");
                Ok(self.state.set_stage(id, Stage::Lost, Some(&note)).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `check` (which sends nothing), unless the reveal window of job `id` is down to its last
    /// blocks first ([`crate::spotcheck::window_closing`]): then `None`, and the verifier
    /// reveals without a check rather than miss its reveal and lose its bond, whatever made the
    /// check slow (an executor serving its run slowly, a slow replay, a window already closing
    /// at a restart). A check given up mid-replay stops the replay at its next step.
    async fn before_reveal_deadline<T>(
        &self,
        id: u64,
        check: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        // Already closing: not even started (a check that fails at once must not win).
        let margin = self.config.reveal_margin;
        if matches!(crate::spotcheck::window_closes_soon(&self.market, id, margin).await, Ok(true))
        {
            return None;
        }
        tokio::select! {
            checked = check => Some(checked),
            () = crate::spotcheck::window_closing(&self.market, id, margin) => None,
        }
    }

    /// This worker's sign-up on job `id`: its index and where its check stands.
    pub(super) async fn our_sign_up(
        &self,
        id: u64,
        job: &Job,
    ) -> Result<Option<(u8, iollm_types::market::Check)>, WorkerError> {
        for index in 0..job.sign_ups {
            if let Some(s) = self.market.sign_up_of(id, index).await? {
                if s.verifier == self.signer.account_bytes() {
                    return Ok(Some((index, s.check)));
                }
            }
        }
        Ok(None)
    }

    /// Verifier, attested: waits for the job to end. A job rejected with its attesters
    /// accused (the executor lost a game, perhaps thrown) is defended against every
    /// accusation ([`Inner::play_defence`]).
    pub(super) async fn watch_attested(
        &self,
        id: u64,
        stop: &CancellationToken,
    ) -> Result<(), WorkerError> {
        use iollm_types::market::Check;
        let poll = Duration::from_millis(self.config.poll_ms);
        while !stop.is_cancelled() {
            let job = self.chain_job(id).await?;
            if job.state == JobState::Submitted {
                tokio::time::sleep(poll).await;
                continue;
            }
            let check = self.our_sign_up(id, &job).await?.map(|(_, check)| check);
            if !matches!(check, Some(Check::Accused { .. })) {
                let note = format!("attested; the job ended {:?}", job.state);
                return Ok(self.state.set_stage(id, Stage::Checked, Some(&note)).await?);
            }
            return Ok(self.state.set_stage(id, Stage::Defending, None).await?);
        }
        Ok(())
    }

    /// Where this worker's sign-up for job `id` stands on chain once its secret is no longer
    /// only committed (revealed, attested or challenged, perhaps before a restart; since
    /// accused or settled): the stage it carries on at, with a note. `None` while committed.
    pub(super) async fn stage_on_chain(
        &self,
        id: u64,
        job: &Job,
    ) -> Result<Option<(Stage, &'static str)>, WorkerError> {
        use iollm_types::market::Check;
        Ok(match self.our_sign_up(id, job).await?.map(|(_, check)| check) {
            Some(Check::Committed) => None,
            // Attested: it still watches to defend what it attested.
            Some(Check::Checked { .. } | Check::Accused { .. }) => {
                Some((Stage::Attested, "attested (its reveal landed before a restart)"))
            }
            // Its game may be settled already: it still answers defences and frees its bond.
            Some(Check::Challenged) => Some((Stage::Challenged, "challenged (before a restart)")),
            Some(Check::Revealed | Check::Settled { .. }) | None => {
                Some((Stage::Checked, "revealed (before a restart)"))
            }
        })
    }

    /// A reveal (`attest`) or challenge that failed: refused at its dry-run, or reverted as it
    /// landed (a move of this worker's landed first, say before a restart). What the chain
    /// holds decides ([`Inner::stage_on_chain`]); still only committed while the job awaits
    /// checks, it reveals without a check (its bond back); refused otherwise (the window
    /// closed, the job ended) it is over, noted. Any other failure is retried.
    pub(super) async fn refused_reveal(
        &self,
        id: u64,
        error: ChainError,
    ) -> Result<(), WorkerError> {
        let refused = match &error {
            ChainError::ContractRefused { message, .. } => message.clone(),
            ChainError::Dispatch { .. } => error.to_string(),
            _ => return Err(error.into()),
        };
        let job = self.chain_job(id).await?;
        let (stage, note) = match self.stage_on_chain(id, &job).await? {
            Some((stage, note)) => (stage, note.to_owned()),
            // Reverted as it landed, and nothing of ours landed: try again.
            None if matches!(error, ChainError::Dispatch { .. }) => return Err(error.into()),
            None if job.state == JobState::Submitted => {
                // Its check or challenge was refused (say, a checks tree of another shape
                // than the job's): a reveal without one still brings the bond back.
                match self.market.attest(&self.signer, id, self.secret_of(id).await?, &None).await {
                    Ok(call) => {
                        let included = call.included;
                        self.state
                            .transaction(id, "reveal", included.tx_hash, included.block, None)
                            .await?;
                        (Stage::Checked, format!("{refused}; revealed without a check"))
                    }
                    Err(ChainError::ContractRefused { message, .. }) => (Stage::Lost, message),
                    Err(e) => return Err(e.into()),
                }
            }
            // Another's challenge rejected the result before this worker revealed: the
            // market ended its sign-up with the job, its bond back.
            None if job.state == JobState::Rejected => {
                (Stage::Checked, format!("{refused}: the job was rejected before its check"))
            }
            None => (Stage::Lost, refused),
        };
        Ok(self.state.set_stage(id, stage, Some(&note)).await?)
    }

    /// Verifier: the one-segment claim it challenged job `id` with, made again from the
    /// executor's published run by `trainer` (the same replay gives the same claim): what a
    /// worker whose `claim.json` was lost or corrupted plays, rather than lose its game.
    pub(super) async fn rebuild_claim(
        &self,
        id: u64,
        trainer: &Arc<iollm_compute::Trainer>,
    ) -> Result<Vec<[u8; 32]>, WorkerError> {
        let secret = self.secret_of(id).await?;
        let published = self.job_dir(id).join("published");
        let replayed =
            crate::spotcheck::replay_drawn(&self.market, id, &secret, trainer, &published).await?;
        let h0 = self.job_h0(id).await?;
        // The replays stop at the first segment that does not reach its checkpoint: the one
        // the challenge is about.
        let wrong = replayed.segments.last().ok_or_else(|| {
            StateError::Corrupt(format!("job {id}: no segment replayed for its claim"))
        })?;
        let reached = wrong.steps.last().copied().unwrap_or_default();
        Ok(crate::player::segment_claim(h0, &replayed.hashes, wrong.segment as usize, reached))
    }

    /// The `h_0` job `id`'s game spec commits: the first value of every claim about it.
    async fn job_h0(&self, id: u64) -> Result<[u8; 32], WorkerError> {
        let game = self.market.job_terms(id).await?.and_then(|t| t.game);
        Ok(game.map(|g| g.h0).ok_or_else(|| StateError::Corrupt(format!("job {id}: no game")))?)
    }

    /// The secret job `id`'s sign-up was made with.
    pub(super) async fn secret_of(&self, id: u64) -> Result<[u8; 32], WorkerError> {
        let secret = self.state.job(id).await?.and_then(|j| j.secret);
        Ok(secret.ok_or_else(|| StateError::Corrupt(format!("job {id}: no secret")))?)
    }
}

/// Where a verifier keeps the one-segment claim it challenged a job with, in the job's
/// directory (the trace's hashes in hex, as `trace.json` has them).
pub(super) const CLAIM_FILE: &str = "claim.json";

/// What `claim.json` holds: the claim (`h_0..h_n`, hex) and its Merkle root, so that a hash
/// changed on disk is found rather than played (and lost) as another story.
#[derive(serde::Serialize, serde::Deserialize)]
struct KeptClaim {
    root: String,
    claim: Vec<String>,
}

/// Writes a one-segment claim into job directory `dir` (whole and synced, or not at all).
pub(super) fn write_claim(dir: &Path, claim: &[[u8; 32]]) -> Result<(), WorkerError> {
    let hex = |h: &[u8; 32]| iollm_compute::train::hex(h);
    let kept = KeptClaim {
        root: hex(&iollm_compute::merkle::root(claim)),
        claim: claim.iter().map(hex).collect(),
    };
    let json = serde_json::to_vec(&kept).expect("strings serialise");
    let partial = dir.join(format!("{CLAIM_FILE}.partial"));
    std::fs::create_dir_all(dir).map_err(io("creating the job's directory"))?;
    let write = |json: &[u8]| {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&partial)?;
        file.write_all(json)?;
        file.sync_all()?;
        std::fs::rename(&partial, dir.join(CLAIM_FILE))?;
        // The rename itself, made durable.
        std::fs::File::open(dir)?.sync_all()
    };
    write(&json).map_err(io("writing the claim"))
}

/// The one-segment claim kept in job directory `dir`, if it challenged with one; a file that
/// does not parse, holds no checkpoint or does not hash to its root is corrupt
/// ([`StateError::Corrupt`]).
pub(super) fn read_claim(dir: &Path) -> Result<Option<Vec<[u8; 32]>>, WorkerError> {
    let file = dir.join(CLAIM_FILE);
    let text = match std::fs::read(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("reading the claim")(e)),
    };
    let corrupt =
        |why: &dyn std::fmt::Display| StateError::Corrupt(format!("{}: {why}", file.display()));
    let kept: KeptClaim = serde_json::from_slice(&text).map_err(|e| corrupt(&e))?;
    let parse = |h: &String| iollm_compute::train::parse_hash(h);
    let claim: Vec<[u8; 32]> = kept
        .claim
        .iter()
        .map(parse)
        .collect::<Option<_>>()
        .ok_or_else(|| corrupt(&"a bad hash"))?;
    let root = parse(&kept.root).ok_or_else(|| corrupt(&"a bad root"))?;
    if claim.is_empty() || iollm_compute::merkle::root(&claim) != root {
        return Err(corrupt(&"the claim is not the one kept (its root differs)").into());
    }
    Ok(Some(claim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_claim_reads_back_whole_and_a_corrupt_one_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("a directory");
        let job = dir.path().join("jobs/7");
        assert!(read_claim(&job).expect("no claim is no error").is_none());
        let claim: Vec<[u8; 32]> = (0..5u8).map(|i| [i; 32]).collect();
        write_claim(&job, &claim).expect("written");
        assert_eq!(read_claim(&job).expect("read"), Some(claim.clone()));
        // A write cut short by a crash leaves only its `.partial`: the kept claim stands.
        std::fs::write(job.join(format!("{CLAIM_FILE}.partial")), b"[\"ab").expect("written");
        assert_eq!(read_claim(&job).expect("read"), Some(claim));
        // One hash changed on disk (still a hash): caught by the root kept beside it.
        let text = std::fs::read_to_string(job.join(CLAIM_FILE)).expect("read");
        let flipped = text.replacen("0202", "0203", 1);
        assert_ne!(flipped, text);
        let empty = r#"{"root":"00","claim":[]}"#;
        for corrupt in [&b"[\"ab"[..], b"[\"zz\"]", b"{}", flipped.as_bytes(), empty.as_bytes()] {
            std::fs::write(job.join(CLAIM_FILE), corrupt).expect("written");
            let err = read_claim(&job).unwrap_err();
            assert!(
                matches!(&err, WorkerError::State(StateError::Corrupt(why)) if why.contains(CLAIM_FILE)),
                "{err}"
            );
        }
    }
}
