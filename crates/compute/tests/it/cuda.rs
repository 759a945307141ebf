//! CPU vs CUDA: identical state roots, matmul bits and Llama logits. These need a GPU, so the normal suite
//! ignores them (with that reason); `scripts/cuda-tests.sh` runs them with the `cuda` feature on a
//! machine with one, and there a missing GPU, driver or feature fails them: they never pass by
//! skipping.

use crate::common::micro_config;
use iollm_compute::{train, Backend, Runtime, Simd};

#[test]
#[ignore = "needs a GPU: scripts/cuda-tests.sh runs it"]
fn cuda_training_matches_cpu_bit_for_bit() {
    let gpu = Runtime { threads: 2, simd: Simd::detect(), backend: Backend::Cuda { device: 0 } };
    if let Err(e) = gpu.exec() {
        panic!("the CUDA backend is unavailable: {e}");
    }
    let cfg = micro_config(6, 2);
    let (a, b) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let cpu = train(&cfg, a.path(), &Runtime::new(2), &mut iollm_compute::go_on).expect("cpu run");
    let cuda = train(&cfg, b.path(), &gpu, &mut iollm_compute::go_on).expect("cuda run");
    // A device failure would have moved the run to the CPU: then this compared CPU with CPU.
    assert_eq!(cuda.device_failure, None, "the GPU failed during the run");
    assert_eq!(cuda.hashes, cpu.hashes, "CUDA and CPU state hashes differ");
}

#[cfg(feature = "cuda")]
#[test]
#[ignore = "needs a GPU: scripts/cuda-tests.sh runs it"]
fn cuda_matmul_matches_cpu_kernel() {
    use iollm_compute::ops::MatmulDevice;
    let gpu = iollm_compute::cuda::CudaBackend::new(0).expect("a usable GPU");
    for &(m, k, n) in &[(1, 1, 1), (17, 33, 65), (512, 512, 512), (64, 1000, 7)] {
        let a = crate::common::fill(m * k, 1);
        let b = crate::common::fill(k * n, 2);
        let mut want = vec![0.0; m * n];
        iollm_compute::kernels::matmul(&a, &b, &mut want, m, k, n, Simd::detect(), false);
        let mut got = vec![0.0; m * n];
        gpu.matmul(&a, &b, &mut got, m, k, n).expect("gpu matmul");
        assert!(got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()), "{m}x{k}x{n}");
    }
}

#[test]
#[ignore = "needs a GPU: scripts/cuda-tests.sh runs it"]
fn cuda_llama_logits_match_cpu_bit_for_bit() {
    use iollm_compute::gguf::Gguf;
    use iollm_compute::llama::{Llama, Piece};
    // A random model with real GGUF blocks: small enough to go to the GPU machine with the
    // tree (the real SmolLM2 file is 98 MB). 40 tokens: the prefill's matmuls run on the GPU.
    let g = Gguf::parse(crate::common::tiny_llama(3)).expect("the file parses");
    let gpu = Runtime { threads: 2, simd: Simd::detect(), backend: Backend::Cuda { device: 0 } };
    let on_gpu = Llama::from_gguf(&g, &gpu).unwrap_or_else(|e| panic!("{e}"));
    let on_cpu = Llama::from_gguf(&g, &Runtime::new(2)).expect("cpu model");
    let tokens: Vec<u32> = (0..40).map(|i| (i * 37 % 256) as u32).collect();
    let logits = |m: &Llama| -> Vec<u32> {
        let mut cache = m.cache();
        let out = m.forward(&mut [Piece { cache: &mut cache, tokens: &tokens }], true).unwrap();
        out.into_iter().flatten().flatten().map(f32::to_bits).collect()
    };
    let (gpu_bits, cpu_bits) = (logits(&on_gpu), logits(&on_cpu));
    assert_eq!(on_gpu.device_failure(), None, "the GPU failed during the forward pass");
    assert_eq!(gpu_bits, cpu_bits, "CUDA and CPU logits differ");
}
