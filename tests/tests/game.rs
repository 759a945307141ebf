//! The dispute game's first two levels played on a real training run, off chain: the trace's
//! checkpoints (`h_0..h_n`), then the steps of the disputed segment (`iollm_compute`'s
//! per-step state roots), each bisected by `iollm_types::bisection` exactly as the contract will
//! run it. An executor that altered one weight in one step is narrowed to that step, and the
//! step's recomputation (here the trainer; on chain, the levels below and the referee) proves the
//! challenger right; an honest executor wins against a lying challenger. No chain involved: this
//! checks that the commitments the trainer produces are the ones the game needs.

use iollm_compute::train::{checkpoint_path, Segment};
use iollm_compute::{train, Runtime, TrainConfig, Trainer};
use iollm_types::bisection::{Bisection, Side, Value, Verdict};
use std::path::Path;

const CONFIG: &str = r#"
[model]
n_layer = 2
n_head = 2
n_embd = 32
n_ctx = 16

[train]
seed = 11
steps = 16
batch_size = 4
checkpoint_every = 8

[optimizer]
lr = 0.003
beta1 = 0.9
beta2 = 0.99
eps = 1e-8
weight_decay = 0.01
warmup_steps = 2

[data]
kind = "arithmetic"
lines = 300
"#;

/// The step at which the cheater alters one weight (in segment 1: steps 8..16).
const CHEAT_AFTER_STEP: u64 = 11;

/// One side's story of the run: its trace (h_0..h_n) and its per-step roots of segment 1.
struct Story {
    trace: Vec<Value>,
    steps: Vec<Value>,
}

fn honest(cfg: &TrainConfig, dir: &Path, rt: &Runtime) -> Story {
    let run = train(cfg, dir, rt, &mut iollm_compute::go_on).expect("train");
    let tr = Trainer::new(cfg, rt).expect("trainer");
    let seg = Segment::from_hashes(&run.trace_root, &run.hashes, 1).expect("segment 1");
    let start = std::fs::read(checkpoint_path(dir, 1)).expect("checkpoint 1");
    let steps = tr.segment_step_roots(&seg, &start).expect("step roots");
    assert_eq!((steps[0], steps[8]), (run.hashes[1], run.hashes[2]), "the segment's ends");
    Story { trace: run.hashes, steps }
}

/// The same run, but one weight flipped after step 11: roots equal up to step 10.
fn cheat(cfg: &TrainConfig, dir: &Path, rt: &Runtime, honest: &Story) -> Story {
    let tr = Trainer::new(cfg, rt).expect("trainer");
    let (mut st, h1) = tr.load_checkpoint(&checkpoint_path(dir, 1)).expect("checkpoint 1");
    let ch = tr.config_hash();
    let mut steps = vec![h1];
    while st.step < 16 {
        tr.step(&mut st);
        if st.step == CHEAT_AFTER_STEP {
            st.params[17] = f32::from_bits(st.params[17].to_bits() ^ 1);
        }
        steps.push(st.hash(&ch));
    }
    let mut trace = honest.trace.clone();
    trace[2] = steps[8];
    Story { trace, steps }
}

/// Bisects `executor`'s against `challenger`'s sequence; returns the narrowed bisection.
fn bisect(executor: &[Value], challenger: &[Value]) -> Bisection {
    let n = (executor.len() - 1) as u32;
    let claims = [executor[n as usize], challenger[n as usize]];
    let mut b = Bisection::open(n, executor[0], claims, 100, 0).expect("a disagreement");
    let mut now = 0;
    while let Some(mid) = b.midpoint() {
        now += 1;
        b.reveal(Side::Executor, executor[mid as usize], now).expect("in time");
        b.reveal(Side::Challenger, challenger[mid as usize], now).expect("in time");
    }
    assert!(b.rounds <= Bisection::max_rounds(n));
    b
}

/// The referee at step level: recomputes the one disputed step from the agreed state.
fn recompute(
    cfg: &TrainConfig,
    dir: &Path,
    rt: &Runtime,
    agreed_step: u32,
    agreed: &Value,
) -> Value {
    let tr = Trainer::new(cfg, rt).expect("trainer");
    let (mut st, _) = tr.load_checkpoint(&checkpoint_path(dir, 1)).expect("checkpoint 1");
    while st.step < 8 + u64::from(agreed_step) {
        tr.step(&mut st);
    }
    assert_eq!(&st.hash(&tr.config_hash()), agreed, "the agreed state is the honest one");
    tr.step(&mut st);
    st.hash(&tr.config_hash())
}

#[test]
fn the_game_narrows_a_cheat_to_its_step_and_the_honest_side_wins_both_ways() {
    let cfg = TrainConfig::from_toml_str(CONFIG, Path::new(".")).expect("config");
    let rt = Runtime::new(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let good = honest(&cfg, dir.path(), &rt);
    let bad = cheat(&cfg, dir.path(), &rt, &good);

    for (executor, challenger, winner) in
        [(&bad, &good, Verdict::Challenger), (&good, &bad, Verdict::Executor)]
    {
        // Level 1: the trace. They agree on h_1, dispute h_2: segment 1.
        let level1 = bisect(&executor.trace, &challenger.trace);
        assert_eq!((level1.lo, level1.hi, level1.agreed), (1, 2, good.trace[1]));
        // Level 2: the steps of segment 1, opened at the agreed h_1.
        assert_eq!((executor.steps[0], challenger.steps[0]), (level1.agreed, level1.agreed));
        let level2 = bisect(&executor.steps, &challenger.steps);
        let cheated = (CHEAT_AFTER_STEP - 8) as u32;
        assert_eq!((level2.lo, level2.hi), (cheated - 1, cheated), "narrowed to the cheated step");
        let truth = recompute(&cfg, dir.path(), &rt, level2.lo, &level2.agreed);
        assert_eq!(level2.verdict(&truth), Some(winner));
    }
}
