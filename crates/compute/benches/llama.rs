//! Llama inference speed on SmolLM2-135M-Instruct (Q4_1 GGUF, fetched by scripts/setup.sh):
//! prefill tokens/s of a 512-token prompt (its time is the time to first token) and decode
//! tokens/s after it, at IOLLM_THREADS threads (default: all cores). Prints one JSON line per
//! round so scripts/bench-llama.sh can set it beside llama.cpp.
//!
//!   cargo bench -p iollm-compute --bench llama [-- ROUNDS]

use iollm_compute::data::Rng;
use iollm_compute::llama::{Llama, Piece, Sampler};
use iollm_compute::Runtime;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let home = std::env::var_os("IOLLM_HOME").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".local/share/iollm")
    });
    let path = home.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let threads = std::env::var("IOLLM_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let rounds: usize = std::env::args().nth(1).and_then(|r| r.parse().ok()).unwrap_or(1);
    let (prompt_len, decode) = (512, 64);
    let model = Llama::load(&path, &Runtime::new(threads)).expect("run scripts/setup.sh first");
    // Ordinary text-like ids (the prompt's content does not change the work).
    let prompt: Vec<u32> = (0..prompt_len as u32).map(|i| 200 + (i * 7919) % 40_000).collect();
    for _ in 0..rounds {
        let mut cache = model.cache();
        let t0 = Instant::now();
        let logits =
            model.forward(&mut [Piece { cache: &mut cache, tokens: &prompt }], false).unwrap();
        let prefill = t0.elapsed().as_secs_f64();
        let mut next = Sampler::GREEDY.pick(&logits[0][0], &mut Rng::new(0));
        let t1 = Instant::now();
        for _ in 0..decode {
            let l =
                model.forward(&mut [Piece { cache: &mut cache, tokens: &[next] }], false).unwrap();
            next = Sampler::GREEDY.pick(&l[0][0], &mut Rng::new(0));
        }
        let decoding = t1.elapsed().as_secs_f64();
        println!(
            "{{\"engine\": \"iollm\", \"threads\": {threads}, \"prefill_tokens_per_s\": {:.1}, \"ttft_s\": {prefill:.3}, \"decode_tokens_per_s\": {:.1}}}",
            prompt_len as f64 / prefill,
            decode as f64 / decoding
        );
    }
}
