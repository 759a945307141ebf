//! Shared helpers.

use iollm_compute::data::DataConfig;
use iollm_compute::optim::AdamW;
use iollm_compute::train::TrainSection;
use iollm_compute::{GptConfig, TrainConfig};

/// Pseudo-random values in [-1, 1).
pub fn fill(n: usize, seed: u64) -> Vec<f32> {
    let mut r = iollm_compute::data::Rng::new(seed);
    (0..n).map(|_| r.next_f32() * 2.0 - 1.0).collect()
}

/// A very small config for invariance tests.
pub fn micro_config(steps: u64, every: u64) -> TrainConfig {
    TrainConfig {
        model: GptConfig { n_layer: 2, n_head: 2, n_embd: 32, n_ctx: 16 },
        train: TrainSection { seed: 7, steps, batch_size: 4, checkpoint_every: every },
        optimizer: AdamW {
            lr: 3e-3,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.01,
            warmup_steps: 2,
        },
        data: DataConfig::Arithmetic { lines: 500 },
    }
}
