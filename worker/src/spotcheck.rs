//! A verifier's spot check (the market's commit–reveal checks): the segment its secret draws
//! from the committed trace and the last one, replayed from a run directory of the job, and
//! revealed with their steps roots when the replays match the executor's commitments and the
//! output package is the proven run ([`crate::output`]).

use iollm_chain::contract::Executed;
use iollm_chain::market::MarketClient;
use iollm_chain::{ChainError, Signer};
use iollm_compute::merkle::Sha;
use iollm_compute::Trainer;
use iollm_content::ContentStore;
use iollm_types::market::JobId;
use iollm_types::spotcheck;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What a spot check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpotCheck {
    /// The replays of `segments` (the drawn one, then the last) matched the executor's
    /// committed checks: attested.
    Attested {
        /// The segments replayed.
        segments: Vec<u64>,
    },
    /// A replay reached the committed checkpoint but not the committed check (the executor
    /// committed a wrong check): revealed without one (bond back, no fee).
    Revealed {
        /// The segment whose check is wrong.
        segment: u64,
    },
    /// The replays matched, but the output package is not the run the trace proves
    /// ([`crate::output::check_output`]): revealed without a check (bond back, no fee).
    OutputRefused {
        /// The segments replayed.
        segments: Vec<u64>,
        /// What is wrong with the output, in words.
        why: String,
        /// The output game's question that proves it on chain, if the chain can decide it
        /// ([`crate::output::OutputError::question`]).
        question: Option<iollm_types::package::Question>,
    },
}

/// Segments replayed, in words: "segment 3" or "segments 3 and 15".
pub fn segments_text(segments: &[u64]) -> String {
    match segments {
        [one] => format!("segment {one}"),
        [rest @ .., last] => {
            let rest: Vec<String> = rest.iter().map(u64::to_string).collect();
            format!("segments {} and {last}", rest.join(", "))
        }
        [] => "no segment".to_owned(),
    }
}

/// Why a spot check was not made.
#[derive(Debug, thiserror::Error)]
pub enum SpotCheckError {
    /// The job has no result yet.
    #[error("job {0} has no result to check yet")]
    NoResult(JobId),
    /// The run directory is not the committed run, or cannot be read.
    #[error("cannot use {path}: {reason}")]
    Run {
        /// The run directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The replay did not reach the committed checkpoint: the result is wrong.
    #[error(
        "job {job}'s result is wrong: a replay of segment {segment} does not reach its committed \
         checkpoint; challenge it with `iollm job challenge {job} --run YOUR_RUN` before the \
         window closes (a sign-up never revealed loses its bond)"
    )]
    WrongResult {
        /// The job.
        job: JobId,
        /// The segment replayed.
        segment: u64,
        /// The state root the replay reached instead of the committed checkpoint (what a
        /// one-segment claim, [`crate::player::segment_claim`], ends with).
        reached: [u8; 32],
        /// The executor's checkpoint hashes `h_0..h_n`, checked against its trace root (what
        /// the claim agrees with up to the segment).
        committed: Vec<[u8; 32]>,
    },
    /// The job's committed `h_0` is not the initial state of its config and seed (or base
    /// model): any result of it is wrong, and an attester of it would lose its bond.
    #[error(
        "job {0}'s h_0 is not the initial state of its config and seed (or base): do not attest it; \
         challenge it with `iollm job challenge-initial {0}` before the window closes"
    )]
    ForgedStart(JobId),
    /// The output package could not be checked for a reason of this machine's (its IPFS
    /// daemon unreachable): nothing was sent, try again.
    #[error("the output package cannot be checked: {0}")]
    Output(#[source] crate::output::OutputError),
    /// The job's initial state could not be worked out (its base model not fetched, or not
    /// one the referee can read): nothing was sent.
    #[error("job's initial state cannot be worked out: {0}")]
    Start(#[from] crate::job::JobSpecError),
    /// The chain refused or failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// The fewest blocks a verifier keeps for its reveal before the window closes (a worker's
/// `reveal_margin` may keep more): the reveal must land in a block no later than the window's
/// last, and a check still running then is given up.
pub const REVEAL_MARGIN: u32 = 2;

/// Whether job `job`'s reveal window is down to its last `margin` blocks, or over (the job no
/// longer submitted, or gone): too late to start a check, time to reveal.
pub async fn window_closes_soon(
    market: &MarketClient,
    job: JobId,
    margin: u32,
) -> Result<bool, ChainError> {
    let Some(j) = market.job(job).await? else { return Ok(true) };
    let closes = j.submitted_at.saturating_add(j.verification.challenge_window);
    let best = market.chain().best_block().await?;
    Ok(j.state != iollm_types::market::JobState::Submitted || best.saturating_add(margin) >= closes)
}

/// Resolves once [`window_closes_soon`]: a check still running then is given up, so that the
/// verifier reveals in time whatever the executor's content does (served slowly, say). The
/// chain away keeps it waiting.
pub async fn window_closing(market: &MarketClient, job: JobId, margin: u32) {
    while !matches!(window_closes_soon(market, job, margin).await, Ok(true)) {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// A verifier's replays of the segments it checks, with what they were checked against.
pub struct Replayed {
    /// The job's committed result.
    pub result: iollm_types::market::Commitment,
    /// The executor's checkpoint hashes `h_0..h_n`, checked against the committed trace root.
    pub hashes: Vec<[u8; 32]>,
    /// The executor's spot-check leaves, checked against the committed checks root.
    pub checks: Vec<[u8; 32]>,
    /// Each segment replayed, in [`spotcheck::checked_segments`] order (the drawn one, then the
    /// last), up to the first that does not reach the trace's next checkpoint.
    pub segments: Vec<SegmentReplay>,
}

/// One segment replayed.
pub struct SegmentReplay {
    /// The segment.
    pub segment: u64,
    /// The state root before and after each of its steps.
    pub steps: Vec<[u8; 32]>,
}

/// Sets its flag when dropped: what stops a replay whose caller no longer waits for it.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Replays the segments `secret` has checked for job `job`'s committed trace (the one it draws,
/// then the last: [`spotcheck::checked_segments`]), by `trainer` from the run directory `run`
/// (its `trace.json`, checked against the committed roots, and each segment's starting
/// checkpoint), stopping at the first that does not reach the trace's next checkpoint: what a
/// spot check judges, and what a verifier's one-segment claim is made from. The replays run on
/// a blocking thread, so the caller's runtime (a window's deadline, other jobs) goes on
/// meanwhile; dropped, this stops them at their next step.
pub async fn replay_drawn(
    market: &MarketClient,
    job: JobId,
    secret: &[u8; 32],
    trainer: &Arc<Trainer>,
    run: &Path,
) -> Result<Replayed, SpotCheckError> {
    let result = market.result(job).await?.ok_or(SpotCheckError::NoResult(job))?;
    let bad = |reason: String| SpotCheckError::Run { path: run.to_owned(), reason };
    let trace = iollm_compute::read_trace(run).map_err(|e| bad(e.to_string()))?;
    let parse = |hs: &[String]| {
        hs.iter()
            .map(|h| {
                iollm_compute::train::parse_hash(h).ok_or_else(|| bad(format!("bad hash {h:?}")))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let (hashes, checks) = (parse(&trace.hashes)?, parse(&trace.checks)?);
    // The market draws from the job's own count of segments: a trace of another shape (a
    // checks tree with extra leaves, say) would draw another segment than the contract does.
    let terms = market.job_terms(job).await?;
    let segments = terms.and_then(|t| t.game).map_or(1, |g| g.checkpoints as usize);
    if checks.len() != segments || hashes.len() != segments + 1 {
        return Err(bad(format!(
            "a trace of {} checkpoints and {} checks, not the job's {segments} segments",
            hashes.len(),
            checks.len()
        )));
    }
    if iollm_compute::merkle::root(&hashes) != result.trace_root
        || spotcheck::checks_root::<Sha>(&checks) != result.checks_root
    {
        return Err(bad(format!("not the run job {job} committed (trace or checks root differs)")));
    }
    let draw = spotcheck::draw::<Sha>(secret, &result.trace_root);
    let mut replayed = Vec::new();
    for segment in spotcheck::checked_segments(&draw, checks.len() as u64) {
        let i = segment as usize;
        let seg = iollm_compute::Segment::from_hashes(&result.trace_root, &hashes, i)
            .map_err(|e| bad(e.to_string()))?;
        let checkpoint = std::fs::read(iollm_compute::train::checkpoint_path(run, i))
            .map_err(|e| bad(format!("checkpoint {i}: {e}")))?;
        // Dropped before the replay ends (its caller gave up), the guard stops it at its next
        // step.
        let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
        let (replayer, stopped) = (Arc::clone(trainer), Arc::clone(&stop.0));
        let steps = tokio::task::spawn_blocking(move || {
            replayer.segment_step_roots_until(&seg, &checkpoint, &stopped)
        })
        .await
        .map_err(|e| bad(format!("the replay's thread: {e}")))?
        .map_err(|e| bad(e.to_string()))?;
        let reaches = steps.last() == hashes.get(i + 1);
        replayed.push(SegmentReplay { segment, steps });
        if !reaches {
            break;
        }
    }
    if replayed.is_empty() {
        return Err(bad("trace.json holds no checks".into()));
    }
    Ok(Replayed { result, hashes, checks, segments: replayed })
}

/// What the replays of a verifier's checked segments say of the executor's commitments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// A replay does not reach the trace's next checkpoint: the result is wrong; challenge it
    /// with a claim about `segment`, which the replay ended at `reached`.
    Wrong {
        /// The segment.
        segment: u64,
        /// The state root its replay reached.
        reached: [u8; 32],
    },
    /// Every replay reaches its checkpoint, but the executor's check of `segment` is not its
    /// steps root: reveal without a check.
    WrongCheck {
        /// The segment.
        segment: u64,
    },
    /// Every replay matches: attest with these checks (steps root and path, in order).
    Attest(Vec<spotcheck::SegmentCheck>),
}

/// Judges the replays `segments` against the executor's check leaves `checks` and checkpoint
/// hashes `hashes`, all of them before any reveal: a wrong result in any segment is a
/// [`Judgement::Wrong`] even when another segment's check is wrong, so decoy checks (wrong
/// leaves published for the other segments) cannot buy a cheat in the last segment a reveal
/// without a check.
pub fn judge_segments(
    segments: &[SegmentReplay],
    checks: &[[u8; 32]],
    hashes: &[[u8; 32]],
) -> Judgement {
    let judged: Vec<(u64, crate::Replay)> = segments
        .iter()
        .map(|s| {
            let i = s.segment as usize;
            let check = checks.get(i).copied().unwrap_or_default();
            (s.segment, crate::judge_replay(&s.steps, &check, hashes.get(i + 1)))
        })
        .collect();
    if let Some((s, _)) = segments.iter().zip(&judged).find(|(_, j)| j.1 == crate::Replay::Wrong) {
        let reached = s.steps.last().copied().unwrap_or_default();
        return Judgement::Wrong { segment: s.segment, reached };
    }
    let mut attest = Vec::new();
    for (segment, replay) in judged {
        match replay {
            crate::Replay::Matches(steps_root) => {
                let path = spotcheck::checks_path::<Sha>(checks, segment).unwrap_or_default();
                attest.push((steps_root, path));
            }
            _ => return Judgement::WrongCheck { segment },
        }
    }
    Judgement::Attest(attest)
}

/// What a spot check found, and the check it reveals with (its segment's steps root and that
/// leaf's path in the executor's checks tree) when it attests: decided, not yet sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// What it found.
    pub found: SpotCheck,
    /// The checks revealed with an attestation (one per segment replayed); `None` for a
    /// reveal without one.
    pub check: Option<Vec<spotcheck::SegmentCheck>>,
    /// The output package this check pinned to defend the attestation (unpinned when the
    /// job is released; [`crate::output::Kept`]).
    pub pinned: Option<iollm_content::Cid>,
}

/// Judges the segments `secret` checks for job `job`'s committed trace (the drawn one and the
/// last), replayed by `trainer`
/// (the job's config) from the run directory `run` (its `trace.json` and checkpoints, which
/// must be the ones committed on chain: the executor's, or the verifier's own run of the job):
/// an attestation when the replay matches the executor's check and the output package in
/// `store` holds the run's last state (`run` must hold the last checkpoint too); otherwise a
/// reveal without one. Nothing is sent ([`reveal`] sends it), so a caller may give it up at
/// any point. A replay that does not reach the committed checkpoint is refused with
/// [`SpotCheckError::WrongResult`]: challenge the result instead.
pub async fn judge<S: ContentStore>(
    market: &MarketClient,
    store: &S,
    job: JobId,
    secret: &[u8; 32],
    trainer: &Arc<Trainer>,
    run: &Path,
) -> Result<Judged, SpotCheckError> {
    let Replayed { result, hashes, checks, segments } =
        replay_drawn(market, job, secret, trainer, run).await?;
    let bad = |reason: String| SpotCheckError::Run { path: run.to_owned(), reason };
    let revealed = match judge_segments(&segments, &checks, &hashes) {
        Judgement::Wrong { segment, reached } => {
            return Err(SpotCheckError::WrongResult { job, segment, reached, committed: hashes })
        }
        Judgement::WrongCheck { segment } => {
            let found = SpotCheck::Revealed { segment };
            return Ok(Judged { found, check: None, pinned: None });
        }
        Judgement::Attest(checks) => checks,
    };
    let replayed: Vec<u64> = segments.iter().map(|s| s.segment).collect();
    // The last state, checked against the committed h_n: what the output must hold.
    let n = checks.len();
    let path = iollm_compute::train::checkpoint_path(run, n);
    let (last, _) = trainer.load_checkpoint(&path).map_err(|e| bad(e.to_string()))?;
    if last.hash(&trainer.config_hash()) != hashes[n] {
        return Err(bad(format!("checkpoint {n} is not the committed h_{n}")));
    }
    let artifact = market.job(job).await?.ok_or(SpotCheckError::NoResult(job))?.artifact;
    let trace_root = result.trace_root;
    let expected = crate::output::Expected { job, artifact, trace_root, trainer, last: &last };
    let (output, closing) = (&result.output_cid, window_closing(market, job, REVEAL_MARGIN));
    match crate::output::check_output_until(store, output, &expected, closing).await {
        Ok(kept) => Ok(Judged {
            found: SpotCheck::Attested { segments: replayed },
            check: Some(revealed),
            pinned: match kept {
                crate::output::Kept::Pinned(cid) => Some(cid),
                crate::output::Kept::AlreadyPinned => None,
            },
        }),
        Err(e) if e.is_local() => Err(SpotCheckError::Output(e)),
        Err(e) => {
            let (why, question) = (e.to_string(), e.question());
            let found = SpotCheck::OutputRefused { segments: replayed, why, question };
            Ok(Judged { found, check: None, pinned: None })
        }
    }
}

/// Sends what [`judge`] decided: the reveal of `secret`, with its check or without.
pub async fn reveal(
    market: &MarketClient,
    signer: &Signer,
    job: JobId,
    secret: &[u8; 32],
    judged: Judged,
) -> Result<(Executed<()>, SpotCheck), ChainError> {
    let call = market.attest(signer, job, *secret, &judged.check).await?;
    Ok((call, judged.found))
}

/// A spot check of job `job` from the run directory `run` (`iollm job attest`): refused for a
/// job whose `h_0` is not its seed's initial state (a worker never signs up for one), else
/// [`judge`], then [`reveal`].
pub async fn spot_check<S: ContentStore>(
    market: &MarketClient,
    store: &S,
    signer: &Signer,
    job: JobId,
    secret: &[u8; 32],
    trainer: &Arc<Trainer>,
    run: &Path,
) -> Result<(Executed<()>, SpotCheck), SpotCheckError> {
    if let Some(game) = market.job_terms(job).await?.and_then(|t| t.game) {
        match crate::initial_root(store, &game).await {
            Ok(root) if root == game.h0 => {}
            Ok(_) | Err(crate::job::JobSpecError::UnprovableBase { .. }) => {
                return Err(SpotCheckError::ForgedStart(job))
            }
            Err(e) => return Err(e.into()),
        }
    }
    let judged = judge(market, store, job, secret, trainer, run).await?;
    Ok(reveal(market, signer, job, secret, judged).await?)
}

#[cfg(test)]
mod tests {
    use super::segments_text;

    #[test]
    fn segments_read_as_words() {
        assert_eq!(segments_text(&[14]), "segment 14");
        assert_eq!(segments_text(&[3, 15]), "segments 3 and 15");
        assert_eq!(segments_text(&[1, 2, 3]), "segments 1, 2 and 3");
        assert_eq!(segments_text(&[]), "no segment");
    }
}
