//! The trainer's output and the verifier's input against hostile use (issue 17 items 14–16).

use iollm_compute::train::{checkpoint_path, stopped_path, COMPLETE_FILE};
use iollm_compute::{
    estimate_memory, replay_segment, resume_latest, train, verify_segment, Error, Runtime, Segment,
    TrainState, Trainer,
};

use crate::common::micro_config;

/// A checkpoint with one weight changed and re-sealed with its own (valid) state root.
fn forge(bytes: &[u8]) -> Vec<u8> {
    let (mut st, config_hash, _) = TrainState::decode_checkpoint(bytes).expect("honest");
    let at = st.params.len() / 2;
    st.params[at] = f32::from_bits(st.params[at].to_bits() ^ 1);
    let mut f = st.encode(&config_hash);
    f.extend_from_slice(&st.hash(&config_hash));
    f
}

/// Item 14: a forged, re-sealed checkpoint replays only if it is the committed `h_i`, which
/// it is not; and a claim that names the forged hashes does not prove into the committed root.
#[test]
fn a_forged_start_checkpoint_is_refused() {
    let cfg = micro_config(6, 2);
    let rt = Runtime::new(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let run = train(&cfg, dir.path(), &rt, &mut iollm_compute::go_on).expect("train");
    let honest = std::fs::read(checkpoint_path(dir.path(), 1)).expect("read");
    let forged = forge(&honest);
    let tr = Trainer::new(&cfg, &rt).expect("trainer");
    // The forgery loads (its checksum is valid): the old API replayed it.
    let (_, forged_h) = tr
        .load_checkpoint(&{
            let p = dir.path().join("forged.bin");
            std::fs::write(&p, &forged).expect("write");
            p
        })
        .expect("a re-sealed checkpoint decodes");

    let seg = Segment::from_hashes(&run.trace_root, &run.hashes, 1).expect("segment");
    let e = verify_segment(&cfg, &seg, &forged, &rt).unwrap_err();
    assert!(matches!(e, Error::StartNotInTrace { index: 1, .. }), "{e}");
    // The dispute game's per-step roots start from the committed h_i just the same.
    let e = tr.segment_step_roots(&seg, &forged).unwrap_err();
    assert!(matches!(e, Error::StartNotInTrace { index: 1, .. }), "{e}");
    let other = Segment::from_hashes(&run.trace_root, &run.hashes, 2).expect("segment 2");
    let e = tr.segment_step_roots(&other, &honest).unwrap_err();
    assert!(matches!(e, Error::StartNotInTrace { index: 2, .. }), "{e}");
    assert!(verify_segment(&cfg, &seg, &honest, &rt).expect("honest segment"));

    // The forger's own segment: h_1 = forged hash, h_2 = what the forgery replays to.
    let mut hashes = run.hashes.clone();
    hashes[1] = forged_h;
    let e = Segment::from_hashes(&run.trace_root, &hashes, 1).unwrap_err();
    assert!(matches!(e, Error::NotInTrace { index: 1, .. }), "{e}");
    // Proofs from the forged list against the committed root do not verify either.
    let claim = Segment::new(
        run.trace_root,
        1,
        (forged_h, iollm_compute::merkle::proof(&hashes, 1).expect("proof")),
        (hashes[2], iollm_compute::merkle::proof(&hashes, 2).expect("proof")),
    );
    let e = replay_segment(&cfg, &claim, &forged, &rt).unwrap_err();
    assert!(matches!(e, Error::NotInTrace { index: 1, .. }), "{e}");
    // A valid proof of h_2 presented as h_1 (another position) is refused too.
    let shifted = Segment::new(
        run.trace_root,
        1,
        (run.hashes[2], iollm_compute::merkle::proof(&run.hashes, 2).expect("proof")),
        (run.hashes[2], iollm_compute::merkle::proof(&run.hashes, 2).expect("proof")),
    );
    assert!(matches!(replay_segment(&cfg, &shifted, &honest, &rt), Err(Error::NotInTrace { .. })));
}

/// Item 15: `train` refuses a non-empty `--out` (no silent overwrite, no mixing of runs);
/// the completion marker is written last and removed first by a resume; `resume_latest`
/// continues from the last good checkpoint and reaches the uninterrupted run's root.
#[test]
fn out_is_never_clobbered_or_mixed_and_resume_continues() {
    let cfg = micro_config(6, 2);
    let rt = Runtime::new(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let full = train(&cfg, dir.path(), &rt, &mut iollm_compute::go_on).expect("train");
    assert!(dir.path().join(COMPLETE_FILE).is_file());
    let model = std::fs::read(dir.path().join("model.safetensors")).expect("model");

    // A second run into the same directory (here a shorter one) is refused, nothing touched.
    let shorter = micro_config(4, 2);
    let e = train(&shorter, dir.path(), &rt, &mut iollm_compute::go_on).unwrap_err();
    assert!(matches!(&e, Error::OutputNotEmpty { path } if path == dir.path()), "{e}");
    assert_eq!(std::fs::read(dir.path().join("model.safetensors")).expect("model"), model);

    // What `kill -9` mid-run leaves: checkpoint 2 damaged, the trace and marker of before.
    // Resuming removes the marker first, continues from checkpoint 1 and finishes the run.
    let p2 = checkpoint_path(dir.path(), 2);
    std::fs::write(&p2, b"partial").expect("write");
    let mut seen_marker_during_run = false;
    let out = resume_latest(&cfg, dir.path(), &rt, &mut |_| {
        seen_marker_during_run |= dir.path().join(COMPLETE_FILE).exists();
        iollm_compute::Flow::Continue(())
    })
    .expect("resume");
    assert!(!seen_marker_during_run, "the marker is gone while the run is unfinished");
    assert_eq!(out.hashes, full.hashes);
    assert_eq!(out.trace_root, full.trace_root);
    let marker = std::fs::read_to_string(dir.path().join(COMPLETE_FILE)).expect("marker");
    assert_eq!(marker.trim(), full.trace_root_hex());

    // Checkpoints past a run's end (left by a longer run with this config's prefix) go.
    // So does a half-written checkpoint a killed run left under its temporary name.
    std::fs::copy(checkpoint_path(dir.path(), 3), checkpoint_path(dir.path(), 9)).expect("copy");
    let torn = dir.path().join("checkpoints/.ckpt-000003.bin.tmp-4242-0");
    std::fs::write(&torn, b"half a checkpoint").expect("write");
    resume_latest(&cfg, dir.path(), &rt, &mut iollm_compute::go_on).expect("resume");
    assert!(!checkpoint_path(dir.path(), 9).exists());
    assert!(!torn.exists());

    // Nothing to resume from: another config's checkpoints.
    let mut other = cfg.clone();
    other.train.seed = 1;
    let e = resume_latest(&other, dir.path(), &rt, &mut iollm_compute::go_on).unwrap_err();
    assert!(matches!(e, Error::NothingToResume { .. }), "{e}");
}

/// Item 16: the config (n_embd 2048, n_ctx 1024, batch 1024) passes validation but
/// needs far more memory than any machine here; it is refused with the figures before anything
/// is written.
#[test]
fn a_config_that_cannot_fit_in_memory_is_refused_up_front() {
    let mut cfg = micro_config(2, 1);
    cfg.model.n_embd = 2048;
    cfg.model.n_head = 16;
    cfg.model.n_ctx = 1024;
    cfg.model.n_layer = 1;
    cfg.train.batch_size = 1024;
    cfg.validate().expect("passes validation");
    assert!(estimate_memory(&cfg) > 64 << 30, "{}", estimate_memory(&cfg));
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let e = train(&cfg, &out, &Runtime::new(1), &mut iollm_compute::go_on).unwrap_err();
    match e {
        Error::InsufficientMemory { needed, available } => {
            assert_eq!(needed, estimate_memory(&cfg));
            assert!(available < needed);
        }
        other => panic!("expected InsufficientMemory, got {other}"),
    }
    assert!(!out.exists(), "nothing written");
    // The estimate of a small config is small (and covers its working set).
    let small = micro_config(2, 1);
    assert!(estimate_memory(&small) < 64 << 20, "{}", estimate_memory(&small));
}

/// The progress callback stops a run (a worker told to exit): the run ends with
/// `Error::Stopped`, no completion marker, its checkpoints so far intact, and the state it
/// stopped at between checkpoints kept; resuming goes on from that step to the trace of an
/// uninterrupted run. A kept state that is damaged, stale or of another segment is ignored.
#[test]
fn a_run_stopped_by_its_callback_resumes_to_the_same_trace() {
    let cfg = micro_config(6, 2);
    let rt = Runtime::new(1);
    let whole = tempfile::tempdir().expect("tempdir");
    let full = train(&cfg, whole.path(), &rt, &mut iollm_compute::go_on).expect("train");
    // A run stopped after step `at` (before any checkpoint that step ends).
    let stop_at = |at: u64| {
        let dir = tempfile::tempdir().expect("tempdir");
        let err =
            train(&cfg, dir.path(), &rt, &mut |p| match p.step >= at && p.checkpoint.is_none() {
                true => iollm_compute::Flow::Break(()),
                false => iollm_compute::Flow::Continue(()),
            })
            .unwrap_err();
        assert!(matches!(err, Error::Stopped { step } if step == at), "{err}");
        assert!(!dir.path().join(COMPLETE_FILE).exists(), "a stopped run is not finished");
        dir
    };
    // Resumes the run in `dir`: its trace root and the steps it trained.
    let resume = |dir: &std::path::Path| {
        let mut trained = Vec::new();
        let out = resume_latest(&cfg, dir, &rt, &mut |p| {
            if p.checkpoint.is_none() {
                trained.push(p.step);
            }
            iollm_compute::Flow::Continue(())
        })
        .expect("resume");
        assert!(!stopped_path(dir).exists(), "removed once used or of no use");
        (out.trace_root, trained)
    };
    // Mid-segment, at a segment's last step (its checkpoint not yet written), at the last step.
    for (at, left) in [(3, vec![4, 5, 6]), (4, vec![5, 6]), (6, vec![])] {
        let dir = stop_at(at);
        assert!(stopped_path(dir.path()).exists(), "the state at step {at} is kept");
        assert!(!checkpoint_path(dir.path(), at.div_ceil(2) as usize).exists());
        assert_eq!(resume(dir.path()), (full.trace_root, left), "on from step {at}");
    }

    let dir = stop_at(3);
    let kept = std::fs::read(stopped_path(dir.path())).expect("read");
    let damaged = {
        let mut d = kept.clone();
        d[40] ^= 1;
        d
    };
    let wrong_segment = {
        // Checkpoint 0's hash as its first root: the roots do not start at checkpoint 1.
        let mut w = kept.clone();
        w[4..36].copy_from_slice(&full.hashes[0]);
        let body = w.len() - 32;
        let sum = <sha2::Sha256 as sha2::Digest>::digest(&w[..body]);
        w[body..].copy_from_slice(&sum);
        w
    };
    for bad in [damaged, wrong_segment] {
        std::fs::write(stopped_path(dir.path()), &bad).expect("write");
        assert_eq!(resume(dir.path()), (full.trace_root, vec![3, 4, 5, 6]), "from checkpoint 1");
        std::fs::remove_file(dir.path().join(COMPLETE_FILE)).expect("unfinish");
        std::fs::remove_file(checkpoint_path(dir.path(), 2)).expect("back to checkpoint 1");
    }
    // Stale: a crash after checkpoint 2 was written and before the state at step 3 was removed.
    std::fs::write(stopped_path(dir.path()), &kept).expect("write");
    let h2 = std::fs::read(checkpoint_path(whole.path(), 2)).expect("read");
    std::fs::write(checkpoint_path(dir.path(), 2), h2).expect("write");
    std::fs::remove_file(checkpoint_path(dir.path(), 3)).expect("not yet written");
    assert_eq!(resume(dir.path()), (full.trace_root, vec![5, 6]), "from checkpoint 2");
    // Stale beside the last checkpoint (nothing left to train): removed all the same.
    std::fs::write(stopped_path(dir.path()), &kept).expect("write");
    std::fs::remove_file(dir.path().join(COMPLETE_FILE)).expect("unfinish");
    assert_eq!(resume(dir.path()), (full.trace_root, vec![]), "from checkpoint 3");
}

/// A replay whose caller gave up (its `stop` set) ends at its next step with `Stopped`, and
/// one left alone gives every root of the segment.
#[test]
fn a_replay_stops_when_its_caller_gives_up() {
    use std::sync::atomic::AtomicBool;
    let cfg = micro_config(6, 2);
    let rt = Runtime::new(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let run = train(&cfg, dir.path(), &rt, &mut iollm_compute::go_on).expect("train");
    let start = std::fs::read(checkpoint_path(dir.path(), 1)).expect("read");
    let tr = Trainer::new(&cfg, &rt).expect("trainer");
    let seg = Segment::from_hashes(&run.trace_root, &run.hashes, 1).expect("segment");
    let e = tr.segment_step_roots_until(&seg, &start, &AtomicBool::new(true)).unwrap_err();
    assert!(matches!(e, Error::Stopped { step: 2 }), "{e}");
    let roots = tr.segment_step_roots_until(&seg, &start, &AtomicBool::new(false)).expect("all");
    assert_eq!((roots.len(), roots[0], roots[2]), (3, run.hashes[1], run.hashes[2]));
}
