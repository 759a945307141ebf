//! Benchmarks (not tests):
//! `cargo bench -p iollm-compute --bench compute [-- peak|matmul|matmul512|train|train-medium|replay|elementwise]`.
//!
//! 0. the measured fp32 FMA peak of a core; 1. matmul GFLOP/s at 512³ and at the example
//!    model's shapes (all three stored layouts), every SIMD level, 1 and all threads;
//! 2. training tokens/s of `examples/tiny.toml` (and of a 4×256 config, `train-medium`);
//! 3. cost of replaying one segment against the full run; 4. (`elementwise`) ns per element of
//!    the profile's scalar functions as the kernels run them (GELU forward and backward, causal
//!    softmax rows), one thread, every SIMD level. `IOLLM_THREADS` sets the threads.

use iollm_compute::kernels::{gemm, Simd, Stored};
use iollm_compute::{replay_segment, train, Runtime, TrainConfig};
use std::path::Path;
use std::time::Instant;

fn fill(n: usize) -> Vec<f32> {
    let mut r = iollm_compute::data::Rng::new(n as u64);
    (0..n).map(|_| r.next_f32() - 0.5).collect()
}

/// GFLOP/s of `gemm` with `A` and `B` stored as `la`, `lb`.
fn bench_gemm(
    (m, k, n): (usize, usize, usize),
    (la, lb): (Stored, Stored),
    simd: Simd,
    threads: usize,
) -> f64 {
    let (a, b) = (fill(m * k), fill(k * n));
    let mut c = vec![0.0; m * n];
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
    let flops = 2.0 * (m * k * n) as f64;
    pool.install(|| {
        gemm(&a, la, &b, lb, &mut c, m, k, n, simd, true);
        // Best of 30 short timings: the machine is shared, the best window is the kernel's speed.
        let reps = ((2e8 / flops) as usize).clamp(1, 2000);
        let mut best = f64::MAX;
        for _ in 0..30 {
            let t = Instant::now();
            for _ in 0..reps {
                gemm(&a, la, &b, lb, &mut c, m, k, n, simd, true);
            }
            best = best.min(t.elapsed().as_secs_f64() / reps as f64);
        }
        flops / best / 1e9
    })
}

/// Best of 30 timings of `f` run `reps` times, in ns per call divided by `per`.
fn best_ns(reps: usize, per: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::MAX;
    for _ in 0..30 {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    best * 1e9 / per as f64
}

/// ns per element of the kernels built on the profile's scalar functions, one thread.
fn bench_elementwise() {
    use iollm_compute::ops::{attention_softmax, gelu_chunk, gelu_grad_chunk};
    let x: Vec<f32> = fill(4096).iter().map(|v| v * 8.0).collect();
    let dy = fill(4096);
    let (mut y, mut dx) = (vec![0.0; 4096], vec![0.0; 4096]);
    let t = 64;
    let scores = fill(t * t);
    let mut p = scores.clone();
    println!("elementwise, ns per element, best of 30, one thread:");
    for simd in [Simd::Scalar, Simd::Avx2, Simd::Avx512] {
        if simd.clamp_to_cpu() != simd {
            continue;
        }
        let fwd = best_ns(200, x.len(), || gelu_chunk(simd, &x, &mut y));
        let bwd = best_ns(200, x.len(), || gelu_grad_chunk(simd, &x, &dy, &mut dx));
        let live = t * (t + 1) / 2;
        let soft = best_ns(200, live, || {
            p.copy_from_slice(&scores);
            attention_softmax(simd, &mut p, t, 0.125);
        });
        println!(
            "  {simd:?}: gelu {fwd:6.2}  gelu_grad {bwd:6.2}  causal softmax {t}x{t} {soft:6.2}"
        );
    }
}

/// This core's fp32 FMA throughput in GFLOP/s, measured: 12 independent chains of 512-bit FMAs
/// (more than latency × FMA units on current x86 cores: 4 × 2), 2·16 FLOP per FMA.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn fma_peak_per_core() -> Option<f64> {
    use std::arch::x86_64::*;
    #[target_feature(enable = "avx512f")]
    fn chains(iters: usize) -> f32 {
        let mut acc = [_mm512_set1_ps(0.0); 12];
        let (x, y) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, x, y);
            }
        }
        acc.iter().map(|a| _mm512_reduce_add_ps(*a)).sum()
    }
    if !std::is_x86_feature_detected!("avx512f") {
        return None;
    }
    // Best of many short windows: the machine is shared, the best window is the core's speed.
    let iters = 1_000_000;
    let mut best = f64::MAX;
    for _ in 0..100 {
        let t = Instant::now();
        // SAFETY: avx512f was detected above.
        std::hint::black_box(unsafe { chains(std::hint::black_box(iters)) });
        best = best.min(t.elapsed().as_secs_f64());
    }
    Some(iters as f64 * 12.0 * 32.0 / best / 1e9)
}

#[cfg(not(target_arch = "x86_64"))]
fn fma_peak_per_core() -> Option<f64> {
    None
}

const NN: (Stored, Stored) = (Stored::Normal, Stored::Normal);

/// What answering one round of a dispute game costs a side off chain, against replaying the
/// segment (`seg` seconds): level 1 reads its checkpoints; level 2 (the segment's per-step
/// roots) replays the segment once; level 3 replays the disputed step op by op from the no_std
/// definitions (`trace_step`, every op's output) and roots every op; level 4 builds the
/// disputed op's output tree (its widest); level 5 plays one element's chain (its longest).
fn bench_rounds(
    cfg: &TrainConfig,
    rt: &Runtime,
    segment: &iollm_compute::Segment,
    checkpoint: &Path,
    seg: f64,
) {
    let trainer = iollm_compute::Trainer::new(cfg, rt).expect("trainer");
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64()
    };
    let bytes = std::fs::read(checkpoint).expect("checkpoint");
    let level2 = time(&mut || {
        trainer.segment_step_roots(segment, &bytes).expect("step roots");
    });
    let (st, _) = trainer.load_checkpoint(checkpoint).expect("checkpoint");
    let mut trace = None;
    let level3 = time(&mut || {
        let t = trainer.trace_step(&st);
        t.level3();
        trace = Some(t);
    });
    let trace = trace.expect("traced");
    let ops = &trace.program().ops;
    let widest = (0..ops.len()).max_by_key(|&k| ops[k].len).expect("ops");
    let level4 = time(&mut || {
        trace.output_tree(widest);
    });
    let (k, e) = (0..ops.len())
        .flat_map(|k| (0..ops[k].len.min(64)).map(move |e| (k, e)))
        .max_by_key(|&(k, e)| ops[k].chain_len(e))
        .expect("elements");
    let level5 = time(&mut || {
        trace.chain(k, e);
    });
    println!("answering one round, as a fraction of replaying the segment ({seg:.2} s):");
    for (level, s) in [(2, level2), (3, level3), (4, level4), (5, level5)] {
        println!("  level {level}: {s:.4} s = {:.4}", s / seg);
    }
}

fn main() {
    let which: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let want = |w: &str| which.is_empty() || which.iter().any(|x| x == w);
    let asked = std::env::var("IOLLM_THREADS").ok().map(|v| v.parse().expect("IOLLM_THREADS"));
    let threads = iollm_compute::resolve_threads(asked).expect("threads");
    let cfg_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tiny.toml");
    let cfg = TrainConfig::from_file(&cfg_path).expect("example config");
    if want("peak") {
        match fma_peak_per_core() {
            Some(g) => println!(
                "fp32 FMA peak, measured: {g:.1} GFLOP/s per core, {:.1} GFLOP/s on {} cores",
                g * threads as f64,
                threads
            ),
            None => println!("fp32 FMA peak: no AVX-512 on this CPU, not measured"),
        }
    }
    if which.iter().any(|x| x == "elementwise") {
        bench_elementwise();
    }
    if which.iter().any(|x| x == "matmul512") {
        for th in [1, threads] {
            let g = bench_gemm((512, 512, 512), NN, Simd::detect(), th);
            println!("  512x512x512 {:?} threads={th}: {g:7.2} GFLOP/s", Simd::detect());
        }
    }
    if want("matmul") {
        let (b, t, c) = (cfg.train.batch_size, cfg.model.n_ctx, cfg.model.n_embd);
        let nt = b * t;
        let t = Stored::Transposed;
        let shapes = [
            ("512x512x512", (512, 512, 512), NN),
            ("qkv fwd", (nt, c, 3 * c), NN),
            ("mlp fc fwd", (nt, c, 4 * c), NN),
            ("mlp proj fwd", (nt, 4 * c, c), NN),
            ("lm head fwd", (nt, c, 256), (Stored::Normal, t)),
            ("mlp fc dX", (nt, 4 * c, c), (Stored::Normal, t)),
            ("mlp fc dW", (c, nt, 4 * c), (t, Stored::Normal)),
        ];
        println!("gemm (m x k x n, A·B, A·Bᵀ or Aᵀ·B as stored), GFLOP/s, best of 30:");
        for (name, (m, k, n), layouts) in shapes {
            for simd in [Simd::Scalar, Simd::Avx2, Simd::Avx512] {
                if simd.clamp_to_cpu() != simd {
                    continue;
                }
                for th in [1, threads] {
                    let g = bench_gemm((m, k, n), layouts, simd, th);
                    println!("  {name:14} {m:4}x{k:4}x{n:4} {simd:?} threads={th}: {g:7.2}");
                }
            }
        }
    }
    if which.iter().any(|x| x == "train-medium") {
        // A larger stated config, where matmuls dominate: 4 layers, width 256, context 128,
        // batch 8; 24 steps with checkpoints h_0, h_1 (step 12), h_2 (step 24). Timed like
        // scripts/bench-torch.py: the 20 steps after 4 warm-up steps, without the checkpoint
        // writes; the end-to-end rate (startup and checkpoints included) is printed too.
        let mut cfg = cfg.clone();
        cfg.model = iollm_compute::GptConfig { n_layer: 4, n_head: 4, n_embd: 256, n_ctx: 128 };
        cfg.train.batch_size = 8;
        cfg.train.steps = 24;
        cfg.train.checkpoint_every = 12;
        let warmup = 4;
        let dir = std::env::temp_dir().join(format!("iollm-bench-m-{}", std::process::id()));
        let (mut last, mut step_secs, mut timed) = (Instant::now(), 0.0, 0u64);
        let out = train(&cfg, &dir, &Runtime::new(threads), &mut |p| {
            let now = Instant::now();
            if p.checkpoint.is_none() && p.step > warmup {
                step_secs += (now - last).as_secs_f64();
                timed += 1;
            }
            last = now;
            iollm_compute::Flow::Continue(())
        })
        .expect("train");
        let tokens_per_step = (cfg.train.batch_size * cfg.model.n_ctx) as f64;
        let steps_rate = timed as f64 * tokens_per_step / step_secs;
        let params = iollm_compute::model::Layout::new(&cfg.model).total as f64;
        println!(
            "train 4x256 ctx128 batch8 threads={threads}: {steps_rate:.0} tokens/s over {timed} steps \
             after {warmup} warm-up steps (≈ {:.1} GFLOP/s at 6·params·tokens, {params} params)",
            6.0 * params * steps_rate / 1e9,
        );
        println!(
            "  end to end, startup and {} checkpoint writes included: {:.0} tokens/s",
            cfg.n_checkpoints() + 1,
            out.tokens_per_sec
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    if want("train") || want("replay") {
        let dir = std::env::temp_dir().join(format!("iollm-bench-{}", std::process::id()));
        let rt = Runtime::new(threads);
        let t = Instant::now();
        let out = train(&cfg, &dir, &rt, &mut iollm_compute::go_on).expect("train");
        let full = t.elapsed().as_secs_f64();
        println!(
            "train examples/tiny.toml threads={threads}: {:.0} tokens/s, {full:.2} s for {} steps, root {}",
            out.tokens_per_sec,
            cfg.train.steps,
            out.trace_root_hex()
        );
        if want("replay") {
            let bytes =
                std::fs::read(iollm_compute::train::checkpoint_path(&dir, 1)).expect("ckpt");
            let t = Instant::now();
            let segment = iollm_compute::Segment::from_hashes(&out.trace_root, &out.hashes, 1)
                .expect("segment 1 of the trace");
            let h = replay_segment(&cfg, &segment, &bytes, &rt).expect("replay");
            let seg = t.elapsed().as_secs_f64();
            assert_eq!(h, out.hashes[2], "replay must reproduce the trace");
            println!(
                "replay segment 1->2 ({} steps): {seg:.2} s = {:.1}% of the full run ({} segments)",
                cfg.train.checkpoint_every,
                100.0 * seg / full,
                cfg.n_checkpoints()
            );
            let path = iollm_compute::train::checkpoint_path(&dir, 1);
            bench_rounds(&cfg, &rt, &segment, &path, seg);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
