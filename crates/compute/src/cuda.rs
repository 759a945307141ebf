//! CUDA backend (feature `cuda`): the matmul kernel of `repops-v4` compiled with NVRTC.
//!
//! The kernel computes each output element as the same FMA chain as the CPU
//! ([`crate::kernels`]): ascending `k`, from `+0`, `__fmaf_rn` per step — shared-memory tiling only
//! changes where operands are read from. It is compiled with `--fmad=false --ftz=false
//! --prec-div=true --prec-sqrt=true` and no fast-math; there are no atomics and no cross-thread
//! reductions. The driver and NVRTC are loaded at run time (cudarc's dynamic loading), so this
//! builds on machines without CUDA; [`CudaBackend::new`] fails cleanly there.
//!
//! With `Backend::Cuda` every model matmul (linear layers, their gradients, the LM head) runs
//! here; attention's small per-head products and the elementwise ops stay on the CPU. A state hash
//! from a CUDA run must equal the CPU one (`tests/it/cuda.rs`). If the device fails mid-run,
//! [`crate::ops::Exec::gemm`] finishes the run on the CPU and reports the error
//! (`TrainOutcome::device_failure`).
//
// `unsafe` is allowed in this module because probing for the driver library and launching a
// kernel are `unsafe` in cudarc; each use states the invariant it relies on.
#![allow(unsafe_code)]

use crate::error::{Error, Result};
use crate::ops::MatmulDevice;
use cudarc::driver::{CudaContext, CudaFunction, CudaStream, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions};
use std::sync::Arc;

const TS: u32 = 16;

const SRC: &str = r#"
#define TS 16
extern "C" __global__ void repops_matmul(const float* __restrict__ a, const float* __restrict__ b,
                                         float* __restrict__ c, int m, int k, int n) {
    __shared__ float As[TS][TS];
    __shared__ float Bs[TS][TS];
    int tx = threadIdx.x, ty = threadIdx.y;
    int j = blockIdx.x * TS + tx;
    int i = blockIdx.y * TS + ty;
    float s = 0.0f;
    for (int p0 = 0; p0 < k; p0 += TS) {
        As[ty][tx] = (i < m && p0 + tx < k) ? a[(size_t)i * k + p0 + tx] : 0.0f;
        Bs[ty][tx] = (p0 + ty < k && j < n) ? b[(size_t)(p0 + ty) * n + j] : 0.0f;
        __syncthreads();
        int lim = min(TS, k - p0);
        for (int q = 0; q < lim; ++q) {
            s = __fmaf_rn(As[ty][q], Bs[q][tx], s);
        }
        __syncthreads();
    }
    if (i < m && j < n) {
        c[(size_t)i * n + j] = s;
    }
}
"#;

/// A CUDA device with the repops kernels loaded.
pub struct CudaBackend {
    stream: Arc<CudaStream>,
    matmul: CudaFunction,
}

impl std::fmt::Debug for CudaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CudaBackend")
    }
}

fn err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Cuda(format!("{what}: {e}"))
}

impl CudaBackend {
    /// Opens device `ordinal` and compiles the kernels. Fails (never panics) when no driver,
    /// NVRTC or device is present.
    pub fn new(ordinal: usize) -> Result<Arc<CudaBackend>> {
        // SAFETY: only tries to dlopen the driver library; no symbol is called.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(Error::Cuda("no CUDA driver (libcuda) on this machine".into()));
        }
        // SAFETY: as above, for libnvrtc.
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            return Err(Error::Cuda("no NVRTC library (libnvrtc) on this machine".into()));
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| err("open device", e))?;
        let opts = CompileOptions {
            ftz: Some(false),
            prec_sqrt: Some(true),
            prec_div: Some(true),
            fmad: Some(false),
            use_fast_math: Some(false),
            ..Default::default()
        };
        let ptx = compile_ptx_with_opts(SRC, opts).map_err(|e| err("NVRTC compile", e))?;
        let module = ctx.load_module(ptx).map_err(|e| err("load module", e))?;
        let matmul = module.load_function("repops_matmul").map_err(|e| err("load kernel", e))?;
        Ok(Arc::new(CudaBackend { stream: ctx.default_stream(), matmul }))
    }
}

impl MatmulDevice for CudaBackend {
    /// `c = a·b` on the device, same bits as [`crate::kernels::matmul`].
    fn matmul(
        &self,
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        m: usize,
        k: usize,
        n: usize,
    ) -> Result<()> {
        if m == 0 || n == 0 {
            return Ok(());
        }
        let dims = |v: usize| i32::try_from(v).map_err(|_| Error::Cuda("matrix too large".into()));
        let (mi, ki, ni) = (dims(m)?, dims(k)?, dims(n)?);
        let s = &self.stream;
        let da = s.memcpy_stod(a).map_err(|e| err("copy a", e))?;
        let db = s.memcpy_stod(b).map_err(|e| err("copy b", e))?;
        let mut dc = s.alloc_zeros::<f32>(m * n).map_err(|e| err("alloc c", e))?;
        let cfg = LaunchConfig {
            grid_dim: ((n as u32).div_ceil(TS), (m as u32).div_ceil(TS), 1),
            block_dim: (TS, TS, 1),
            shared_mem_bytes: 0,
        };
        let mut launch = s.launch_builder(&self.matmul);
        launch.arg(&da).arg(&db).arg(&mut dc).arg(&mi).arg(&ki).arg(&ni);
        // SAFETY: the kernel's signature is (const float*, const float*, float*, int, int, int),
        // matching the arguments; `da` holds m·k, `db` k·n and `dc` m·n floats, and the kernel
        // bounds-checks every index against m, k, n.
        unsafe { launch.launch(cfg) }.map_err(|e| err("launch", e))?;
        let out = s.memcpy_dtov(&dc).map_err(|e| err("copy c", e))?;
        c.copy_from_slice(&out);
        Ok(())
    }
}
