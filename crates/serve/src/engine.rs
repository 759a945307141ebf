//! The decoding loop: one thread owns the model and runs every active request in one batch per
//! step (continuous batching: a request joins at the next step and leaves when done, without
//! waiting for the others). A step feeds each new request its whole prompt and each running
//! one its last token, in one forward pass; the model's numerics make every row depend on its
//! own sequence only, so a request gets the same tokens alone or among others.

use crate::metrics::Metrics;
use crate::tokenizer::{Detokenizer, Tokenizer};
use crate::Error;
use iollm_compute::data::Rng;
use iollm_compute::llama::{KvCache, Llama, Piece, Sampler};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;

/// What a model the engine runs can be.
pub enum Runner {
    /// A Llama-family model from a GGUF file.
    Llama(Llama),
    /// The toy byte-level GPT (its context slides: no cache, the whole window each step).
    Gpt(iollm_compute::Model),
}

impl Runner {
    /// Tokens in the model's vocabulary.
    pub fn vocab(&self) -> usize {
        match self {
            Runner::Llama(m) => m.config.vocab,
            Runner::Gpt(_) => iollm_compute::model::VOCAB,
        }
    }

    /// Longest sequence (prompt and reply) a request may reach.
    pub fn context(&self) -> usize {
        match self {
            Runner::Llama(m) => m.config.context,
            // The window slides, so replies may run past it; prompts are cut to it.
            Runner::Gpt(_) => usize::MAX,
        }
    }

    /// Next-token logits of every sequence after its pending tokens (the whole batch at once).
    fn step(&self, seqs: &mut [&mut Sequence]) -> Result<Vec<Vec<f32>>, Error> {
        match self {
            Runner::Llama(m) => {
                let mut pieces: Vec<Piece> = seqs
                    .iter_mut()
                    .map(|s| {
                        let Sequence { cache, tokens, fed, .. } = &mut **s;
                        Piece { cache, tokens: &tokens[*fed..] }
                    })
                    .collect();
                let out = m.forward(&mut pieces, false).map_err(|e| Error::Model(e.to_string()))?;
                Ok(out.into_iter().map(|mut l| l.remove(0)).collect())
            }
            Runner::Gpt(m) => {
                let n_ctx = m.config.n_ctx;
                let windows: Vec<Vec<u8>> = seqs
                    .iter()
                    .map(|s| {
                        s.tokens[s.tokens.len().saturating_sub(n_ctx)..]
                            .iter()
                            .map(|t| *t as u8)
                            .collect()
                    })
                    .collect();
                let refs: Vec<&[u8]> = windows.iter().map(|w| w.as_slice()).collect();
                m.last_logits(&refs).map_err(|e| Error::Model(e.to_string()))
            }
        }
    }
}

/// Why a reply ended (OpenAI's `finish_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// The model ended its turn, or a stop sequence appeared.
    Stop,
    /// `max_tokens` or the context was reached.
    Length,
}

impl Finish {
    /// OpenAI's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
        }
    }
}

/// What the engine tells a request's handler.
#[derive(Debug, PartialEq)]
pub enum Event {
    /// More text of the reply.
    Text(String),
    /// The reply is complete.
    Done {
        /// Why.
        finish: Finish,
        /// Tokens of the prompt.
        prompt_tokens: usize,
        /// Tokens generated.
        completion_tokens: usize,
    },
    /// The model failed; the reply ends here.
    Failed(String),
}

/// A request as the engine takes it.
pub struct Job {
    /// Prompt tokens (at least one).
    pub prompt: Vec<u32>,
    /// Most tokens to generate (at least one).
    pub max_tokens: usize,
    /// Texts that end the reply where they first appear (not included).
    pub stop: Vec<String>,
    /// How tokens are picked.
    pub sampler: Sampler,
    /// Seed of the sampling stream.
    pub seed: u64,
    /// Where events go; dropping the receiver cancels the request.
    pub events: UnboundedSender<Event>,
}

/// A request being decoded.
struct Sequence {
    job: Job,
    tokens: Vec<u32>,
    fed: usize,
    cache: KvCache,
    rng: Rng,
    generated: usize,
    detok: Detokenizer,
    /// Text decoded but not sent (it could be the start of a stop sequence).
    held: String,
    started: Instant,
    first: bool,
}

/// Why a job was not queued.
#[derive(Debug, thiserror::Error)]
pub enum Busy {
    /// As many requests wait as the queue holds.
    #[error("the server is busy: {0} requests are waiting; try again shortly")]
    Full(usize),
    /// The engine thread has stopped.
    #[error("the engine has stopped")]
    Stopped,
}

/// Handle to the engine thread.
#[derive(Clone)]
pub struct Engine {
    jobs: mpsc::SyncSender<Job>,
    max_queue: usize,
    /// The model's tokenizer.
    pub tokenizer: Arc<Tokenizer>,
    /// Longest sequence a request may reach.
    pub context: usize,
    /// Tokens in the model's vocabulary.
    pub vocab: usize,
    metrics: Arc<Metrics>,
}

impl Engine {
    /// Starts the engine thread over `runner`; at most `max_batch` requests decode together
    /// and at most `max_queue` wait for a place (more are refused, not buffered).
    pub fn start(
        runner: Runner,
        tokenizer: Tokenizer,
        max_batch: usize,
        max_queue: usize,
        metrics: Arc<Metrics>,
    ) -> Engine {
        // A queue of 0 would be a rendezvous: requests refused whenever the engine is busy.
        let max_queue = max_queue.max(1);
        let (jobs, rx) = mpsc::sync_channel(max_queue);
        let tokenizer = Arc::new(tokenizer);
        let (context, vocab) = (runner.context(), runner.vocab());
        let (tk, m) = (tokenizer.clone(), metrics.clone());
        std::thread::Builder::new()
            .name("iollm-engine".into())
            .spawn(move || run(runner, &tk, rx, max_batch.max(1), &m))
            .expect("spawn the engine thread");
        Engine { jobs, max_queue, tokenizer, context, vocab, metrics }
    }

    /// Queues a job, or refuses it when the queue is full or the engine has stopped.
    pub fn submit(&self, job: Job) -> Result<(), Busy> {
        self.metrics.queue_depth.inc();
        self.jobs.try_send(job).map_err(|e| {
            self.metrics.queue_depth.dec();
            match e {
                mpsc::TrySendError::Full(_) => Busy::Full(self.max_queue),
                mpsc::TrySendError::Disconnected(_) => Busy::Stopped,
            }
        })
    }
}

fn run(
    runner: Runner,
    tokenizer: &Tokenizer,
    jobs: mpsc::Receiver<Job>,
    max_batch: usize,
    metrics: &Metrics,
) {
    let mut active: Vec<Sequence> = Vec::new();
    loop {
        // Jobs wait in the bounded channel until there is room: idle, block for one.
        let mut next = if active.is_empty() {
            match jobs.recv() {
                Ok(job) => Some(job),
                Err(_) => return,
            }
        } else {
            None
        };
        while active.len() < max_batch {
            let Some(job) = next.take().or_else(|| jobs.try_recv().ok()) else { break };
            metrics.queue_depth.dec();
            if job.events.is_closed() {
                continue;
            }
            let seed = job.seed;
            active.push(Sequence {
                tokens: job.prompt.clone(),
                job,
                fed: 0,
                cache: match &runner {
                    Runner::Llama(m) => m.cache(),
                    Runner::Gpt(_) => KvCache::default(),
                },
                rng: Rng::new(seed),
                generated: 0,
                detok: Detokenizer::default(),
                held: String::new(),
                started: Instant::now(),
                first: true,
            });
        }
        // A client that went away frees its slot before the step.
        active.retain(|s| !s.job.events.is_closed());
        if active.is_empty() {
            continue;
        }
        metrics.batch_size.set(active.len() as i64);
        if active.len() > 1 {
            metrics.batched_steps.inc();
        }
        let t0 = Instant::now();
        let mut refs: Vec<&mut Sequence> = active.iter_mut().collect();
        let logits = match runner.step(&mut refs) {
            Ok(l) => l,
            Err(e) => {
                for s in active.drain(..) {
                    let _ = s.job.events.send(Event::Failed(e.to_string()));
                }
                continue;
            }
        };
        let new_tokens = active.len() as u64;
        let mut done = Vec::new();
        for (i, (s, l)) in active.iter_mut().zip(&logits).enumerate() {
            s.fed = s.tokens.len();
            if let Some(finish) = advance(s, l, tokenizer, runner.context(), metrics) {
                let _ = s.job.events.send(Event::Done {
                    finish,
                    prompt_tokens: s.job.prompt.len(),
                    completion_tokens: s.generated,
                });
                done.push(i);
            }
        }
        for i in done.into_iter().rev() {
            active.swap_remove(i);
        }
        metrics.generated_tokens.inc_by(new_tokens);
        let secs = t0.elapsed().as_secs_f64();
        if secs > 0.0 {
            metrics.tokens_per_second.set(new_tokens as f64 / secs);
        }
    }
}

/// Picks one token for `s` from its logits and sends what text it completes; `Some` when the
/// reply ends.
fn advance(
    s: &mut Sequence,
    logits: &[f32],
    tokenizer: &Tokenizer,
    context: usize,
    metrics: &Metrics,
) -> Option<Finish> {
    let next = s.job.sampler.pick(logits, &mut s.rng);
    s.generated += 1;
    if s.first {
        s.first = false;
        metrics.time_to_first_token.observe(s.started.elapsed().as_secs_f64());
    }
    let mut end = None;
    if tokenizer.is_control(next) {
        end = Some(Finish::Stop);
    } else {
        s.tokens.push(next);
        match s.detok.push(tokenizer, next) {
            Ok(piece) => s.held.push_str(&piece),
            Err(e) => {
                let _ = s.job.events.send(Event::Failed(e.to_string()));
                return Some(Finish::Stop);
            }
        }
        if s.generated >= s.job.max_tokens || s.tokens.len() >= context {
            end = Some(Finish::Length);
        }
    }
    if end.is_some() {
        // What the detokenizer still holds is part of the reply, and may complete a stop.
        s.held.push_str(&s.detok.finish());
    }
    if let Some(at) = s.job.stop.iter().filter_map(|stop| s.held.find(stop.as_str())).min() {
        s.held.truncate(at);
        end = Some(Finish::Stop);
    }
    if end.is_some() {
        flush(s);
        return end;
    }
    // Send all but what could still become a stop sequence.
    let keep = s.job.stop.iter().map(|t| t.len().saturating_sub(1)).max().unwrap_or(0);
    let mut cut = s.held.len().saturating_sub(keep);
    while !s.held.is_char_boundary(cut) {
        cut -= 1;
    }
    if cut > 0 {
        let rest = s.held.split_off(cut);
        let text = std::mem::replace(&mut s.held, rest);
        let _ = s.job.events.send(Event::Text(text));
    }
    None
}

fn flush(s: &mut Sequence) {
    if !s.held.is_empty() {
        let _ = s.job.events.send(Event::Text(std::mem::take(&mut s.held)));
    }
}
