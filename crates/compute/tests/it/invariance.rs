//! Bit-reproducibility: threads, SIMD, resume, segment replay, golden trace root.

use crate::common::micro_config;
use iollm_compute::train::{checkpoint_path, hex};
use iollm_compute::{replay_segment, resume, train, Runtime, Segment, Simd};

fn run(threads: usize, simd: Simd) -> (tempfile::TempDir, iollm_compute::TrainOutcome) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = train(
        &micro_config(6, 2),
        dir.path(),
        &Runtime { threads, simd, backend: iollm_compute::Backend::Cpu },
        &mut iollm_compute::go_on,
    )
    .expect("train");
    (dir, out)
}

#[test]
fn threads_1_2_8_and_scalar_vs_simd_give_identical_hashes() {
    let (_d, base) = run(1, Simd::detect());
    for (threads, simd) in
        [(2, Simd::detect()), (8, Simd::detect()), (2, Simd::Scalar), (3, Simd::Avx2)]
    {
        let (_d, o) = run(threads, simd);
        assert_eq!(o.hashes, base.hashes, "threads={threads} simd={simd:?}");
        assert_eq!(o.trace_root, base.trace_root);
        assert_eq!(o.checks_root, base.checks_root);
    }
}

#[test]
fn golden_trace_root() {
    // Bump procedure: REPOPS.md §"Changing the numerics". Never edit this value alone.
    let (_d, o) = run(2, Simd::detect());
    assert_eq!(o.trace_root_hex(), GOLDEN_ROOT, "repops-v4 numerics changed: see REPOPS.md");
}

const GOLDEN_ROOT: &str = "ea207cb293e59017e870bddfb4f240f580a88eb753706cdfccd9ec9492bc2e0c";

#[test]
fn resume_and_segment_replay_reproduce_the_uninterrupted_run() {
    let cfg = micro_config(6, 2);
    let rt = Runtime::new(2);
    let (dir, full) = run(2, Simd::detect());
    // Resume in a fresh directory holding only checkpoints 0 and 1.
    let other = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(other.path().join("checkpoints")).expect("mkdir");
    for i in 0..=1 {
        std::fs::copy(checkpoint_path(dir.path(), i), checkpoint_path(other.path(), i))
            .expect("copy");
    }
    // Without the spot-check leaf files, the resumed run replays the done segment for them.
    let resumed = resume(&cfg, other.path(), 1, &rt, &mut iollm_compute::go_on).expect("resume");
    assert_eq!(resumed.hashes, full.hashes);
    assert_eq!(resumed.trace_root, full.trace_root);
    assert_eq!(resumed.checks_root, full.checks_root);
    // With them (a run killed after checkpoint 2), it reads them.
    let resumed = resume(&cfg, dir.path(), 2, &rt, &mut iollm_compute::go_on).expect("resume");
    assert_eq!(resumed.checks_root, full.checks_root);
    // A verifier replays each segment from its checkpoint file and the committed trace.
    for i in 0..cfg.n_checkpoints() {
        let bytes = std::fs::read(checkpoint_path(dir.path(), i)).expect("read");
        let seg = Segment::from_hashes(&full.trace_root, &full.hashes, i).expect("in the trace");
        let h = replay_segment(&cfg, &seg, &bytes, &Runtime::new(1)).expect("replay");
        assert_eq!(hex(&h), hex(&full.hashes[i + 1]), "segment {i}");
        assert!(iollm_compute::verify_segment(&cfg, &seg, &bytes, &rt).expect("verify"));
        // The checkpoint of another segment is not this segment's start.
        let other = std::fs::read(checkpoint_path(dir.path(), (i + 1) % cfg.n_checkpoints()))
            .expect("read");
        let e = iollm_compute::verify_segment(&cfg, &seg, &other, &rt).unwrap_err();
        assert!(
            matches!(e, iollm_compute::Error::StartNotInTrace { index, .. } if index == i),
            "{e}"
        );
    }
    let trace = iollm_compute::read_trace(dir.path()).expect("trace");
    assert_eq!(trace.root, full.trace_root_hex());
    assert_eq!(trace.hashes.len(), 4);
    // Spot checks: a replay of each segment yields the steps root whose leaf the run
    // committed, and no other segment's.
    assert_eq!(trace.checks.len(), 3);
    assert_eq!(trace.checks_root, full.checks_root_hex());
    let tr = iollm_compute::Trainer::new(&cfg, &rt).expect("trainer");
    for i in 0..cfg.n_checkpoints() {
        let bytes = std::fs::read(checkpoint_path(dir.path(), i)).expect("read");
        let seg = Segment::from_hashes(&full.trace_root, &full.hashes, i).expect("in the trace");
        let steps_root = tr.steps_root(&seg, &bytes).expect("steps root");
        let leaf = iollm_repops::commit::spotcheck_leaf::<iollm_compute::merkle::Sha>(&steps_root);
        assert_eq!(hex(&leaf), trace.checks[i], "segment {i}");
        assert_ne!(hex(&leaf), trace.checks[(i + 1) % 3]);
    }
}

#[test]
fn attention_softmax_equals_its_row_by_row_definition() {
    use iollm_compute::ops::attention_softmax;
    use iollm_compute::repops;
    for t in [1usize, 7, 8, 21, 64] {
        let mut scores = crate::common::fill(t * t, t as u64);
        // Zero maxima of both signs and ties, the cases where a max's order could show.
        for i in (0..t).step_by(3) {
            scores[i * t..=i * t + i].iter_mut().for_each(|v| *v = -v.abs());
            scores[i * t] = 0.0;
            if i > 0 {
                scores[i * t + i] = -0.0;
            }
        }
        let scale = repops::rsqrt(16.0);
        let mut want = scores.clone();
        for (i, row) in want.chunks_exact_mut(t).enumerate() {
            let mut m = f32::NEG_INFINITY;
            for v in row[..=i].iter_mut() {
                *v *= scale;
                m = m.max(*v);
            }
            let mut s = 0.0f32;
            for v in row[..=i].iter_mut() {
                *v = repops::exp(*v - m);
                s += *v;
            }
            row[..=i].iter_mut().for_each(|v| *v /= s);
            row[i + 1..].fill(0.0);
        }
        for simd in [Simd::Scalar, Simd::Avx2, Simd::Avx512] {
            let mut got = scores.clone();
            attention_softmax(simd, &mut got, t, scale);
            let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "t={t} {simd:?}");
        }
    }
}
