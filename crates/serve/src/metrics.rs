//! Prometheus metrics of the server (`GET /metrics`, OpenMetrics text), through the official
//! Rust client `prometheus-client`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// Completion requests accepted.
    pub requests: Counter,
    /// Requests refused (bad input, unknown model).
    pub rejected: Counter,
    /// Prompt tokens taken in.
    pub prompt_tokens: Counter,
    /// Tokens generated.
    pub generated_tokens: Counter,
    /// Requests waiting for a place in the batch.
    pub queue_depth: Gauge,
    /// Requests in the last decoding step.
    pub batch_size: Gauge,
    /// Decoding steps that ran more than one request together.
    pub batched_steps: Counter,
    /// Tokens per second of the last decoding step (all requests together).
    pub tokens_per_second: Gauge<f64, AtomicU64>,
    /// Seconds from a request's arrival at the engine to its first token.
    pub time_to_first_token: Histogram,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("iollm_serve");
        let m = Metrics {
            requests: Counter::default(),
            rejected: Counter::default(),
            prompt_tokens: Counter::default(),
            generated_tokens: Counter::default(),
            queue_depth: Gauge::default(),
            batch_size: Gauge::default(),
            batched_steps: Counter::default(),
            tokens_per_second: Gauge::default(),
            time_to_first_token: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            registry: Registry::default(),
        };
        registry.register("requests", "Completion requests accepted", m.requests.clone());
        registry.register("rejected", "Requests refused", m.rejected.clone());
        registry.register("prompt_tokens", "Prompt tokens taken in", m.prompt_tokens.clone());
        registry.register("generated_tokens", "Tokens generated", m.generated_tokens.clone());
        registry.register("queue_depth", "Requests waiting for the batch", m.queue_depth.clone());
        registry.register("batch_size", "Requests in the last decoding step", m.batch_size.clone());
        registry.register(
            "batched_steps",
            "Decoding steps that ran more than one request together",
            m.batched_steps.clone(),
        );
        registry.register(
            "tokens_per_second",
            "Tokens per second of the last decoding step",
            m.tokens_per_second.clone(),
        );
        registry.register(
            "time_to_first_token_seconds",
            "Seconds from a request reaching the engine to its first token",
            m.time_to_first_token.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
