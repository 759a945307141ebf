//! Benchmarks (not tests): `cargo bench -p iollm-compute --bench compute [-- matmul|train|replay]`.
//!
//! 1. matmul GFLOP/s at 512³ and at the example model's shapes, every SIMD level, 1 and all
//!    threads; 2. training tokens/s of `examples/tiny.toml`; 3. cost of replaying one segment
//!    against the full run. Set `IOLLM_THREADS` to pick the thread count.

use iollm_compute::kernels::{matmul, Simd};
use iollm_compute::{replay_segment, train, Runtime, TrainConfig};
use std::path::Path;
use std::time::Instant;

fn fill(n: usize) -> Vec<f32> {
    let mut r = iollm_compute::data::Rng::new(n as u64);
    (0..n).map(|_| r.next_f32() - 0.5).collect()
}

fn bench_matmul(m: usize, k: usize, n: usize, simd: Simd, threads: usize) -> f64 {
    let (a, b) = (fill(m * k), fill(k * n));
    let mut c = vec![0.0; m * n];
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
    let flops = 2.0 * (m * k * n) as f64;
    pool.install(|| {
        matmul(&a, &b, &mut c, m, k, n, simd, true);
        // Best of 30 short timings: the machine is shared, the best window is the kernel's speed.
        let reps = ((2e8 / flops) as usize).clamp(1, 2000);
        let mut best = f64::MAX;
        for _ in 0..30 {
            let t = Instant::now();
            for _ in 0..reps {
                matmul(&a, &b, &mut c, m, k, n, simd, true);
            }
            best = best.min(t.elapsed().as_secs_f64() / reps as f64);
        }
        flops / best / 1e9
    })
}

fn main() {
    let which: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let want = |w: &str| which.is_empty() || which.iter().any(|x| x == w);
    let threads = iollm_compute::resolve_threads(None).expect("threads");
    let cfg_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tiny.toml");
    let cfg = TrainConfig::from_file(&cfg_path).expect("example config");
    if which.iter().any(|x| x == "matmul512") {
        for th in [1, threads] {
            let g = bench_matmul(512, 512, 512, Simd::detect(), th);
            println!("  512x512x512 {:?} threads={th}: {g:7.2} GFLOP/s", Simd::detect());
        }
    }
    if want("matmul") {
        let (b, t, c) = (cfg.train.batch_size, cfg.model.n_ctx, cfg.model.n_embd);
        let nt = b * t;
        let shapes = [
            ("512x512x512", 512, 512, 512),
            ("qkv fwd", nt, c, 3 * c),
            ("mlp fc fwd", nt, c, 4 * c),
            ("mlp proj fwd", nt, 4 * c, c),
            ("lm head fwd", nt, c, 256),
            ("mlp fc dW", c, nt, 4 * c),
        ];
        println!("matmul (m x k x n), GFLOP/s, best of 30:");
        for (name, m, k, n) in shapes {
            for simd in [Simd::Scalar, Simd::Avx2, Simd::Avx512] {
                if simd.clamp_to_cpu() != simd {
                    continue;
                }
                for th in [1, threads] {
                    let g = bench_matmul(m, k, n, simd, th);
                    println!("  {name:14} {m:4}x{k:4}x{n:4} {simd:?} threads={th}: {g:7.2}");
                }
            }
        }
    }
    if want("train") || want("replay") {
        let dir = std::env::temp_dir().join(format!("iollm-bench-{}", std::process::id()));
        let rt = Runtime::new(threads);
        let t = Instant::now();
        let out = train(&cfg, &dir, &rt, &mut |_| {}).expect("train");
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
            let (i, h) = replay_segment(&cfg, &bytes, &rt).expect("replay");
            let seg = t.elapsed().as_secs_f64();
            assert_eq!(h, out.hashes[i], "replay must reproduce the trace");
            println!(
                "replay segment 1->2 ({} steps): {seg:.2} s = {:.1}% of the full run ({} segments)",
                cfg.train.checkpoint_every,
                100.0 * seg / full,
                cfg.n_checkpoints()
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
