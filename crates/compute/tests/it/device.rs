//! A matmul device that fails mid-run: the run continues on the CPU with the same numbers and
//! says what happened (the CUDA backend's failure path, testable without a GPU).

use crate::common::micro_config;
use iollm_compute::ops::{Exec, MatmulDevice};
use iollm_compute::train::Trainer;
use iollm_compute::{kernels, Error, Result, Runtime, Simd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Computes with the scalar CPU kernel for its first `works_for` calls, then fails every call.
#[derive(Debug)]
struct DyingDevice {
    works_for: usize,
    calls: AtomicUsize,
}

impl MatmulDevice for DyingDevice {
    fn matmul(
        &self,
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        m: usize,
        k: usize,
        n: usize,
    ) -> Result<()> {
        if self.calls.fetch_add(1, Ordering::SeqCst) >= self.works_for {
            c.fill(f32::NAN);
            return Err(Error::Cuda("device lost (test)".into()));
        }
        kernels::matmul(a, b, c, m, k, n, Simd::Scalar, false);
        Ok(())
    }
}

#[test]
fn a_device_failing_mid_run_moves_the_matmuls_to_the_cpu_without_changing_a_bit() {
    let cfg = micro_config(4, 2);
    let cpu = Trainer::new(&cfg, &Runtime::new(2)).expect("cpu trainer");
    let device = Arc::new(DyingDevice { works_for: 30, calls: AtomicUsize::new(0) });
    let flaky = Trainer::with_exec(&cfg, 2, Exec::with_device(Simd::detect(), device.clone()))
        .expect("device trainer");
    let (mut a, mut b) = (cpu.initial_state(), flaky.initial_state());
    for step in 0..4 {
        assert_eq!(cpu.step(&mut a).to_bits(), flaky.step(&mut b).to_bits(), "loss of step {step}");
        let (ha, hb) = (a.hash(&cpu.config_hash()), b.hash(&flaky.config_hash()));
        assert_eq!(ha, hb, "state after step {step}");
    }
    assert_eq!(cpu.device_failure(), None);
    let failure = flaky.device_failure().expect("the failure is reported");
    assert!(failure.contains("device lost (test)"), "{failure}");
    // The device did part of the run, then was not asked again after it failed.
    assert_eq!(device.calls.load(Ordering::SeqCst), 31);
}
