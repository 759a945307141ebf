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
        base: None,
    }
}

/// A small Llama-shaped GGUF file with random weights (2 blocks, width 64, 4 heads over 2
/// key/value heads, SwiGLU 96, 256 tokens): attention and FFN matrices in Q4_1, the embedding
/// in Q8_0, norms in F32, as a real file mixes them. Small enough to carry to a GPU machine.
pub fn tiny_llama(seed: u64) -> Vec<u8> {
    let (dim, kv, hidden, vocab, layers) = (64u64, 32u64, 96u64, 256u64, 2);
    let mut rng = iollm_compute::data::Rng::new(seed);
    let mut byte = move || (rng.next_u64() >> 56) as u8;
    let f16 = |x: f32| half::f16::from_f32(x).to_le_bytes();
    let mut q4_1 = |values: u64| -> Vec<u8> {
        (0..values / 32)
            .flat_map(|_| {
                let mut b = [f16(0.02), f16(-0.16)].concat();
                b.extend((0..16).map(|_| byte()));
                b
            })
            .collect()
    };
    let mut tensors: Vec<(String, Vec<u64>, u32, Vec<u8>)> = Vec::new();
    let norm = |n: u64| (0..n).flat_map(|i| (1.0 + i as f32 / 256.0).to_le_bytes()).collect();
    for i in 0..layers {
        let name = |t: &str| format!("blk.{i}.{t}.weight");
        tensors.push((name("attn_norm"), vec![dim], 0, norm(dim)));
        for (t, k, n) in [
            ("attn_q", dim, dim),
            ("attn_k", dim, kv),
            ("attn_v", dim, kv),
            ("attn_output", dim, dim),
            ("ffn_gate", dim, hidden),
            ("ffn_up", dim, hidden),
            ("ffn_down", hidden, dim),
        ] {
            tensors.push((name(t), vec![k, n], 3, q4_1(k * n)));
        }
        tensors.push((name("ffn_norm"), vec![dim], 0, norm(dim)));
    }
    tensors.push(("output_norm.weight".into(), vec![dim], 0, norm(dim)));
    let mut rng = iollm_compute::data::Rng::new(seed ^ 1);
    let embed: Vec<u8> = (0..dim * vocab / 32)
        .flat_map(|_| {
            let mut b = f16(0.01).to_vec();
            b.extend((0..32).map(|_| (rng.next_u64() >> 56) as u8));
            b
        })
        .collect();
    tensors.push(("token_embd.weight".into(), vec![dim, vocab], 8, embed));

    let string = |b: &mut Vec<u8>, s: &str| {
        b.extend((s.len() as u64).to_le_bytes());
        b.extend(s.as_bytes());
    };
    let u32s = [
        ("llama.embedding_length", dim as u32),
        ("llama.block_count", layers as u32),
        ("llama.attention.head_count", 4),
        ("llama.attention.head_count_kv", 2),
        ("llama.feed_forward_length", hidden as u32),
        ("llama.context_length", 128),
    ];
    let f32s =
        [("llama.rope.freq_base", 10_000.0f32), ("llama.attention.layer_norm_rms_epsilon", 1e-5)];
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend((tensors.len() as u64).to_le_bytes());
    b.extend((1 + u32s.len() as u64 + f32s.len() as u64).to_le_bytes());
    string(&mut b, "general.architecture");
    b.extend(8u32.to_le_bytes());
    string(&mut b, "llama");
    for (k, v) in u32s {
        string(&mut b, k);
        b.extend(4u32.to_le_bytes());
        b.extend(v.to_le_bytes());
    }
    for (k, v) in f32s {
        string(&mut b, k);
        b.extend(6u32.to_le_bytes());
        b.extend(v.to_le_bytes());
    }
    let mut offset = 0u64;
    for (name, dims, kind, data) in &tensors {
        string(&mut b, name);
        b.extend((dims.len() as u32).to_le_bytes());
        for d in dims {
            b.extend(d.to_le_bytes());
        }
        b.extend(kind.to_le_bytes());
        b.extend(offset.to_le_bytes());
        offset += (data.len() as u64).div_ceil(32) * 32;
    }
    b.resize(b.len().div_ceil(32) * 32, 0);
    for (_, _, _, data) in &tensors {
        let at = b.len();
        b.extend(data);
        b.resize(at + data.len().div_ceil(32) * 32, 0);
    }
    b
}
