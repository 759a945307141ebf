//! Inference: logits and text generation, batch-invariant.
//!
//! Every op computes each row independently and each attention row only over earlier positions,
//! so a prompt's logits are the same bits whatever batch it sits in, at whatever index, and
//! however much right-padding its neighbours force on it.

use crate::data::Rng;
use crate::error::{Error, Result};
use crate::io;
use crate::model::{self, GptConfig, Layout, VOCAB};
use crate::ops::{self, Exec};
use crate::train::Runtime;
use std::path::Path;

/// A loaded model.
pub struct Model {
    /// Shape.
    pub config: GptConfig,
    /// Weights in layout order.
    pub params: Vec<f32>,
    layout: Layout,
    ex: Exec,
    pool: rayon::ThreadPool,
}

/// How to pick the next token.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampling {
    /// Arg-max (lowest byte on ties).
    Greedy,
    /// Sampling at `temperature` from a SplitMix64 stream seeded with `seed`.
    Seeded {
        /// Seed.
        seed: u64,
        /// Temperature (> 0); logits are divided by it.
        temperature: f32,
    },
}

impl Model {
    /// Wraps weights; fails if their count does not match `config`.
    pub fn new(config: GptConfig, params: Vec<f32>, rt: &Runtime) -> Result<Model> {
        config.validate()?;
        let layout = Layout::new(&config);
        if params.len() != layout.total {
            return Err(Error::InvalidInput(format!(
                "{} weights given, the config needs {}",
                params.len(),
                layout.total
            )));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(rt.threads.max(1))
            .build()
            .map_err(|e| Error::InvalidConfig(format!("cannot start threads: {e}")))?;
        Ok(Model { config, params, layout, ex: rt.exec()?, pool })
    }

    /// Loads `config.json` + `model.safetensors` from a directory.
    pub fn load(dir: &Path, rt: &Runtime) -> Result<Model> {
        let (cfg, params) = io::load_model(dir)?;
        Model::new(cfg, params, rt)
    }

    /// Saves `config.json` + `model.safetensors` into a directory (atomically per file).
    pub fn save(&self, dir: &Path) -> Result<()> {
        io::save_model(dir, &self.config, &self.params).map(|_| ())
    }

    /// Next-token logits (256 each) after the last byte of every prompt. Prompts may differ in
    /// length; each must hold 1..=n_ctx bytes.
    pub fn last_logits(&self, prompts: &[&[u8]]) -> Result<Vec<Vec<f32>>> {
        if prompts.is_empty() {
            return Ok(Vec::new());
        }
        let t = prompts.iter().map(|p| p.len()).max().unwrap_or(0);
        for p in prompts {
            if p.is_empty() || p.len() > self.config.n_ctx {
                return Err(Error::InvalidInput(format!(
                    "a prompt has {} bytes; it must have 1..={} (the model's context)",
                    p.len(),
                    self.config.n_ctx
                )));
            }
        }
        let mut tokens = vec![0u8; prompts.len() * t];
        for (i, p) in prompts.iter().enumerate() {
            tokens[i * t..i * t + p.len()].copy_from_slice(p);
        }
        let fw = ops::install_hot(&self.pool, || {
            model::forward(
                &self.ex,
                &self.config,
                &self.layout,
                &self.params,
                &tokens,
                prompts.len(),
                t,
            )
        });
        Ok(prompts
            .iter()
            .enumerate()
            .map(|(i, p)| fw.logits[(i * t + p.len() - 1) * VOCAB..][..VOCAB].to_vec())
            .collect())
    }

    /// Appends up to `max_new` bytes to `prompt` (the context slides over the last n_ctx).
    pub fn generate(&self, prompt: &[u8], max_new: usize, sampling: Sampling) -> Result<Vec<u8>> {
        if prompt.is_empty() {
            return Err(Error::InvalidInput("the prompt is empty".into()));
        }
        if let Sampling::Seeded { temperature, .. } = sampling {
            if !(temperature.is_finite() && temperature > 0.0) {
                return Err(Error::InvalidInput("temperature must be a positive number".into()));
            }
        }
        let mut rng = match sampling {
            Sampling::Seeded { seed, .. } => Rng::new(seed),
            Sampling::Greedy => Rng::new(0),
        };
        let mut out = prompt.to_vec();
        for _ in 0..max_new {
            let ctx = &out[out.len().saturating_sub(self.config.n_ctx)..];
            let logits = self.last_logits(&[ctx])?.remove(0);
            let next = match sampling {
                Sampling::Greedy => argmax(&logits),
                Sampling::Seeded { temperature, .. } => {
                    let scaled: Vec<f32> = logits.iter().map(|l| l / temperature).collect();
                    let probs = ops::softmax(&scaled);
                    let u = rng.next_f32();
                    let mut acc = 0.0f32;
                    let mut pick = VOCAB - 1;
                    for (i, p) in probs.iter().enumerate() {
                        acc += p;
                        if u < acc {
                            pick = i;
                            break;
                        }
                    }
                    pick
                }
            };
            out.push(next as u8);
        }
        Ok(out)
    }
}

/// Index of the largest value (first on ties).
pub fn argmax(x: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in x.iter().enumerate() {
        if *v > x[best] {
            best = i;
        }
    }
    best
}
