//! Serving under load: 8 clients at once on SmolLM2-135M-Instruct (scripts/setup.sh fetches it),
//! each asking for 64 tokens after a short prompt, for a few rounds; prints the aggregate
//! tokens/s, and the p50/p99 latency of a whole request and of its first token. The engine is
//! driven directly (no HTTP), at IOLLM_THREADS threads (default: all cores).
//!
//!   cargo bench -p iollm-serve --bench concurrent [-- ROUNDS]

use iollm_compute::llama::Sampler;
use iollm_serve::engine::{Event, Job};
use iollm_serve::Options;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let home = std::env::var_os("IOLLM_HOME").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".local/share/iollm")
    });
    let threads = std::env::var("IOLLM_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let rounds: usize = std::env::args().nth(1).and_then(|r| r.parse().ok()).unwrap_or(3);
    let options = Options { name: None, threads, max_batch: 8, ..Default::default() };
    let served = iollm_serve::load(&home.join("models/SmolLM2-135M-Instruct.Q4_1.gguf"), &options)
        .expect("run scripts/setup.sh first");
    let prompts = [
        "Once upon a time",
        "def fibonacci(n):",
        "The best thing about",
        "12345 + 678 =",
        "Hello",
        "In 1905, Einstein",
        "Rust is",
        "A list of fruits:",
    ];
    let (mut whole, mut first) = (Vec::new(), Vec::new());
    let (mut tokens, started) = (0usize, Instant::now());
    for _ in 0..rounds {
        let requests = prompts.iter().enumerate().map(|(i, p)| {
            let engine = served.engine.clone();
            let prompt = engine.tokenizer.encode(p, false).unwrap();
            async move {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let sampler = Sampler { temperature: 0.8, top_p: 0.95 };
                let t0 = Instant::now();
                engine
                    .submit(Job {
                        prompt,
                        max_tokens: 64,
                        stop: vec![],
                        sampler,
                        seed: i as u64,
                        events: tx,
                    })
                    .unwrap();
                let mut ttft = None;
                loop {
                    match rx.recv().await.expect("an event") {
                        Event::Text(_) => {
                            ttft.get_or_insert(t0.elapsed());
                        }
                        Event::Done { completion_tokens, .. } => {
                            return (t0.elapsed(), ttft.unwrap_or(t0.elapsed()), completion_tokens)
                        }
                        Event::Failed(e) => panic!("{e}"),
                    }
                }
            }
        });
        for (total, ttft, n) in futures_util::future::join_all(requests).await {
            whole.push(total);
            first.push(ttft);
            tokens += n;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let pct = |v: &mut Vec<Duration>, q: f64| {
        v.sort();
        v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1].as_secs_f64()
    };
    println!(
        "{{\"clients\": 8, \"threads\": {threads}, \"requests\": {}, \"aggregate_tokens_per_s\": {:.1}, \"latency_p50_s\": {:.3}, \"latency_p99_s\": {:.3}, \"ttft_p50_s\": {:.3}, \"ttft_p99_s\": {:.3}}}",
        whole.len(),
        tokens as f64 / elapsed,
        pct(&mut whole, 0.5),
        pct(&mut whole, 0.99),
        pct(&mut first, 0.5),
        pct(&mut first, 0.99)
    );
}
