//! The step program (`iollm_repops::step`, the op list the dispute game bisects) against the
//! trainer's fast kernels: every step played op by op from the no_std definitions gives the
//! same state, bit for bit, as `Trainer::step` at every SIMD level and thread count.

use crate::common::micro_config;
use iollm_compute::train::{TrainConfig, Trainer};
use iollm_compute::{Runtime, Simd, TrainState};
use iollm_repops::step::Tensor;

fn bits(st: &TrainState) -> (Vec<u32>, [u32; 6]) {
    st.step_inputs()
}

/// Every SIMD level this CPU has, each at 1, 2 and 8 threads.
fn every_runtime() -> Vec<(usize, Simd)> {
    [Simd::Scalar, Simd::Avx2, Simd::Avx512]
        .into_iter()
        .filter(|s| s.clamp_to_cpu() == *s)
        .flat_map(|s| [1, 2, 8].map(|threads| (threads, s)))
        .collect()
}

/// Plays `steps` steps both ways from the initial state changed by `start`, comparing after
/// each.
fn check(
    cfg: &TrainConfig,
    steps: u64,
    runtimes: &[(usize, Simd)],
    start: impl Fn(&mut TrainState),
) {
    let reference = Trainer::new(cfg, &Runtime::new(1)).expect("trainer");
    let mut slow = reference.initial_state();
    start(&mut slow);
    let mut fast: Vec<(Trainer, TrainState)> = runtimes
        .iter()
        .map(|&(threads, simd)| {
            let ex = iollm_compute::ops::Exec::cpu(simd);
            let t = Trainer::with_exec(cfg, threads, ex).expect("trainer");
            (t, slow.clone())
        })
        .collect();
    for step in 0..steps {
        let trace = reference.trace_step(&slow);
        let (loss, next) = (trace.loss(), trace.next_state());
        // The root the referee derives from the program's outputs is the trainer's.
        let mut fast_next = slow.clone();
        reference.step(&mut fast_next);
        assert_eq!(
            trace.next_root(),
            fast_next.hash(&reference.config_hash()),
            "step {step}: root"
        );
        for (i, (t, st)) in fast.iter_mut().enumerate() {
            let fast_loss = t.step(st);
            assert_eq!(
                fast_loss.to_bits(),
                loss.to_bits(),
                "step {step}, runtime {:?}: loss",
                runtimes[i]
            );
            let (a, b) = (bits(st), bits(&next));
            assert_eq!(a.1, b.1, "step {step}, runtime {:?}: header", runtimes[i]);
            if let Some(e) = a.0.iter().zip(&b.0).position(|(x, y)| x != y) {
                panic!("step {step}, runtime {:?}: word {e} of params‖m‖v differs", runtimes[i]);
            }
        }
        slow = next;
    }
}

#[test]
fn the_step_program_gives_the_trainers_bits_on_a_two_layer_config_with_decay() {
    // 2 layers, 2 heads, a context of 16 (two causal groups of 8), weight decay, warm-up.
    let cfg = micro_config(4, 2);
    check(&cfg, 3, &every_runtime(), |_| {});
}

/// A diverged state: a NaN with a payload no operation makes in a position embedding (so only
/// some rows go NaN at first), a finite weight that overflows an attention score, and an
/// infinite token embedding. Its NaNs spread through the step's ops beside finite values;
/// the profile has one NaN, `0x7fc00000`, and every state, loss and op output must carry
/// exactly that one.
fn poison(st: &mut TrainState) {
    let (c, vocab) = (32, iollm_repops::step::VOCAB);
    st.params[vocab * c + 13 * c + 5] = f32::from_bits(0xffc0_0001);
    st.params[(vocab + 16) * c + 2 * c + 7] = 3.0e38;
    st.params[40 * c + 3] = f32::INFINITY;
}

#[test]
fn a_diverged_state_steps_to_the_programs_one_nan_on_every_runtime() {
    let cfg = micro_config(4, 2);
    check(&cfg, 3, &every_runtime(), poison);
    let t = Trainer::new(&cfg, &Runtime::new(2)).expect("trainer");
    let mut st = t.initial_state();
    poison(&mut st);
    let loss = t.step(&mut st);
    assert_eq!(loss.to_bits(), 0x7fc0_0000, "the loss is the profile's NaN");
    let (words, _) = st.step_inputs();
    // One NaN row reaches every weight's gradient: the whole state is NaN, in one encoding.
    assert!(words.iter().all(|w| *w == 0x7fc0_0000), "every word is the profile's NaN");
}

#[test]
fn the_step_program_gives_the_trainers_bits_on_tiny_toml() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tiny.toml");
    let cfg = TrainConfig::from_file(&path).expect("tiny.toml");
    check(&cfg, 2, &[(2, Simd::detect())], |_| {});
}

#[test]
fn every_op_of_a_step_has_the_same_bits_on_soft_floats() {
    // The referee recomputes an op's chain step with soft floats: every element of every op of a
    // step (after one step, so the moments are live) must match the hardware's.
    // A diverged state too: every NaN an op writes is the profile's one, on both.
    let cfg = micro_config(4, 2);
    let t = Trainer::new(&cfg, &Runtime::new(1)).expect("trainer");
    let mut st = t.initial_state();
    t.step(&mut st);
    let mut diverged = t.initial_state();
    poison(&mut diverged);
    for st in [st, diverged] {
        soft_floats_give_the_hardwares_bits(&t, &st);
    }
}

fn soft_floats_give_the_hardwares_bits(t: &Trainer, st: &TrainState) {
    let prog = t.step_program();
    let (words, header) = st.step_inputs();
    let corpus = t.corpus();
    let hard = iollm_repops::step::run::<f32>(&prog, &words, &header, corpus);
    let soft = iollm_repops::step::run::<iollm_repops::F32>(&prog, &words, &header, corpus);
    assert_eq!(hard.len(), prog.ops.len());
    for (i, (h, s)) in hard.iter().zip(&soft).enumerate() {
        assert_eq!(h.len(), prog.ops[i].len, "op {i}: length");
        if let Some(e) = h.iter().zip(s).position(|(a, b)| a != b) {
            panic!(
                "op {i} ({:?}), element {e}: {:#x} on f32, {:#x} soft",
                prog.ops[i].kind, h[e], s[e]
            );
        }
    }
    // Every chain value too (what the referee recomputes one of), for 16 elements of each op.
    let read = |t: Tensor, i: usize| match t {
        Tensor::State => words[i],
        Tensor::Header => header[i],
        Tensor::Corpus => u32::from(corpus[i]),
        Tensor::Op(k) => hard[k][i],
    };
    for (i, op) in prog.ops.iter().enumerate() {
        for e in (0..op.len).step_by(op.len.div_ceil(16)) {
            let mut acc = 0;
            for pos in 0..op.chain_len(e) {
                let on_f32 = op.chain_step::<f32>(e, pos, acc, &read);
                let on_soft = op.chain_step::<iollm_repops::F32>(e, pos, acc, &read);
                assert_eq!(on_f32, on_soft, "op {i} ({:?}), element {e}, step {pos}", op.kind);
                acc = on_f32;
            }
        }
    }
}

/// A dishonest trainer ([`Trainer::with_fault`]) alters exactly its fault's element at its
/// step, the same way in training and in the op-by-op trace a player proves from: its run is
/// the honest one up to the fault's step and the altered story after it, checkpoints and all.
#[test]
fn a_faulty_trainer_tells_one_consistent_altered_story() {
    use iollm_compute::game::Fault;
    let cfg = micro_config(12, 4);
    let every = cfg.train.checkpoint_every;
    let fault = Fault { step: every + 1, op: 14, element: 3, xor: 1 << 20 };
    let honest = Trainer::new(&cfg, &Runtime::new(1)).expect("trainer");
    let faulty = Trainer::new(&cfg, &Runtime::new(2)).expect("trainer").with_fault(fault);
    assert_eq!(faulty.fault(), Some(fault));
    // The step it alters, three ways: its fast step, its trace, and an honest trace altered by
    // hand as a player's cheat does.
    let mut st = honest.initial_state();
    while st.step < fault.step {
        honest.step(&mut st);
    }
    let by_hand = honest
        .trace_step_with(&st, |op, out| {
            if op == fault.op {
                out[fault.element] ^= fault.xor;
            }
        })
        .next_state();
    let mut stepped = st.clone();
    faulty.step(&mut stepped);
    assert_eq!(bits(&stepped), bits(&by_hand), "its step is the altered one");
    assert_eq!(bits(&faulty.trace_step(&st).next_state()), bits(&by_hand), "and so is its trace");
    let mut fair = st.clone();
    honest.step(&mut fair);
    assert_ne!(bits(&fair), bits(&by_hand), "the fault changes the state");

    // Its runs: the checkpoints before the fault's segment are the honest run's, those after
    // are not, and its segment replays (what a verifier of its own run would do) agree with it.
    let (a, b) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let fair_run = honest.train(a.path(), &mut iollm_compute::go_on).expect("trained");
    let faulty_run = faulty.train(b.path(), &mut iollm_compute::go_on).expect("trained");
    let split = (fault.step / every) as usize;
    assert_eq!(fair_run.hashes[..=split], faulty_run.hashes[..=split]);
    assert!(fair_run.hashes[split + 1..]
        .iter()
        .zip(&faulty_run.hashes[split + 1..])
        .all(|(x, y)| x != y));
}

#[test]
fn the_initial_state_is_the_referees_chunk_by_chunk_on_soft_floats() {
    use iollm_repops::{commit::CHUNK_WORDS, init, step::ParamLayout, F32};
    assert_eq!(init::SCALE, (0.02f32 * 3.0f32.sqrt()).to_bits());
    let cfg = micro_config(4, 2);
    let trainer = Trainer::new(&cfg, &Runtime::new(1)).expect("trainer");
    let st = trainer.initial_state();
    let layout = ParamLayout::new(&trainer.step_config());
    assert_eq!(layout.total, st.params.len());
    let (words, _) = bits(&st);
    for (c, expected) in words.chunks(CHUNK_WORDS).enumerate() {
        let chunk = init::chunk::<F32>(&layout, cfg.train.seed, c as u64);
        assert_eq!(chunk.as_deref(), Some(expected), "chunk {c}");
    }
    let header = init::header(trainer.config_hash(), cfg.train.seed, layout.total as u64);
    assert_eq!(header, st.header(&trainer.config_hash()));
}
