//! The OpenAI-compatible HTTP API: `GET /v1/models`, `POST /v1/chat/completions`,
//! `POST /v1/completions` (each also as server-sent events ending in `data: [DONE]`),
//! `GET /health`, `GET /metrics`. Errors use OpenAI's shape
//! (`{"error": {"message", "type", "param", "code"}}`) and status codes.

use crate::chat::{ChatTemplate, Message};
use crate::engine::{Engine, Event, Finish, Job};
use crate::metrics::Metrics;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use iollm_compute::llama::Sampler;
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// Most stop sequences a request may give (OpenAI's limit).
const MAX_STOPS: usize = 4;
/// Tokens generated when a request names no `max_tokens` and the context does not bound it.
const DEFAULT_MAX_TOKENS: usize = 512;
/// Most tokens one reply may ask for, whatever the context (the toy GPT's window slides).
const MAX_REPLY_TOKENS: u64 = 16_384;

/// What the server serves.
pub struct Served {
    /// The model's name in the API (`model` of requests and replies).
    pub name: String,
    /// The decoding engine.
    pub engine: Engine,
    /// The chat template, for models that have one.
    pub chat: Option<ChatTemplate>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The address it listens on, once [`crate::serve`] bound it: requests may name it as
    /// their host, beside the loopback names.
    pub listen: std::sync::OnceLock<std::net::IpAddr>,
}

impl Served {
    /// Whether a request's `Host` names this server: `localhost`, a loopback address, or
    /// the address it listens on (any port).
    fn allows_host(&self, host: &str) -> bool {
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host.rsplit_once(':').map_or(host, |(name, _)| name),
        };
        if name.eq_ignore_ascii_case("localhost") {
            return true;
        }
        name.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || self.listen.get() == Some(&ip))
    }
}

/// The routes over `served`.
pub fn router(served: Arc<Served>) -> Router {
    Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/completions", post(completions))
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "no such endpoint (see /v1/models)", None)
        })
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&served), guard))
        .with_state(served)
}

/// Refuses what a web page the user happens to open could send to this loopback server: a
/// request naming another host (DNS rebinding) and a POST body not sent as JSON (a form or
/// `text/plain` request a browser sends cross-site without asking).
async fn guard(
    State(s): State<Arc<Served>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(refusal) = refusal(&s, &req) {
        return refusal.into_response();
    }
    next.run(req).await
}

/// Why [`guard`] refuses `req`, if it does.
fn refusal(s: &Served, req: &axum::extract::Request) -> Option<ApiError> {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(host) = header(header::HOST) {
        if !s.allows_host(host) {
            let msg = format!("this server answers requests for loopback hosts, not {host:?}");
            return Some(ApiError::new(StatusCode::FORBIDDEN, msg, None));
        }
    }
    if req.method() == axum::http::Method::POST
        && !header(header::CONTENT_TYPE).is_some_and(|t| t.starts_with("application/json"))
    {
        let msg = "send the request body as JSON (content-type: application/json)";
        return Some(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, msg, None));
    }
    None
}

/// An error in OpenAI's shape.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    param: Option<&'static str>,
    code: Option<&'static str>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        message: impl Into<String>,
        param: Option<&'static str>,
    ) -> ApiError {
        ApiError { status, message: message.into(), param, code: None }
    }

    fn bad(message: impl Into<String>, param: Option<&'static str>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message, param)
    }

    fn body(&self) -> Value {
        let kind =
            if self.status.is_server_error() { "server_error" } else { "invalid_request_error" };
        json!({"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

async fn models(State(s): State<Arc<Served>>) -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{"id": s.name, "object": "model", "created": 0, "owned_by": "iollm"}],
    }))
}

async fn metrics(State(s): State<Arc<Served>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        s.metrics.render(),
    )
}

/// `stop`: one string or a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

/// Message content: a string, or a list of parts of which only text parts are read.
#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
struct Part {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
struct ChatMessage {
    role: String,
    content: Option<Content>,
}

#[derive(Deserialize, Default)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// The sampling fields chat and completion requests share.
#[derive(Deserialize)]
struct Sampling {
    model: String,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<i64>,
    max_completion_tokens: Option<i64>,
    stop: Option<Stop>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    seed: Option<i64>,
    n: Option<i64>,
}

#[derive(Deserialize)]
struct ChatRequest {
    messages: Vec<ChatMessage>,
    #[serde(flatten)]
    sampling: Sampling,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Prompt {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct CompletionRequest {
    prompt: Prompt,
    #[serde(flatten)]
    sampling: Sampling,
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(format!("invalid request body: {e}"), None))
}

/// Which of the two APIs a reply is for.
#[derive(Clone, Copy)]
enum Kind {
    Chat,
    Text,
}

/// A request body, or why it could not be read (too large: 413) in OpenAI's shape.
type Body = Result<Bytes, axum::extract::rejection::BytesRejection>;

async fn chat_completions(State(s): State<Arc<Served>>, body: Body) -> Response {
    counted(&s, async { chat(&s, read(body)?).await }.await)
}

async fn completions(State(s): State<Arc<Served>>, body: Body) -> Response {
    counted(&s, async { text(&s, read(body)?).await }.await)
}

fn read(body: Body) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        ApiError::new(e.status(), format!("{}; send a smaller request", e.body_text()), None)
    })
}

/// The response, a refused request counted.
fn counted(s: &Served, r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(|e| {
        if e.status.is_client_error() {
            s.metrics.rejected.inc();
        }
        e.into_response()
    })
}

async fn chat(s: &Arc<Served>, body: Bytes) -> Result<Response, ApiError> {
    let req: ChatRequest = parse(&body)?;
    if s.chat.is_none() {
        return Err(ApiError::bad(
            "this model has no chat template: use /v1/completions",
            Some("messages"),
        ));
    }
    if req.messages.is_empty() {
        return Err(ApiError::bad("messages must not be empty", Some("messages")));
    }
    let messages: Vec<Message> = req
        .messages
        .into_iter()
        .map(|m| Message {
            // OpenAI's newer name for the system role.
            role: if m.role == "developer" { "system".into() } else { m.role },
            content: match m.content {
                None => String::new(),
                Some(Content::Text(t)) => t,
                Some(Content::Parts(parts)) => {
                    parts.into_iter().filter(|p| p.kind == "text").map(|p| p.text).collect()
                }
            },
        })
        .collect();
    // Rendering and tokenizing are bounded but not instant: off the async workers.
    let served = Arc::clone(s);
    let tokens = tokio::task::spawn_blocking(move || {
        let template = served.chat.as_ref().expect("checked above");
        template.tokens(&served.engine.tokenizer, &messages)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None))?
    .map_err(|e| ApiError::bad(e.to_string(), Some("messages")))?;
    start(s, tokens, req.sampling, Kind::Chat).await
}

async fn text(s: &Arc<Served>, body: Bytes) -> Result<Response, ApiError> {
    let req: CompletionRequest = parse(&body)?;
    let prompt = match req.prompt {
        Prompt::One(p) => p,
        Prompt::Many(mut v) if v.len() == 1 => v.remove(0),
        Prompt::Many(_) => {
            return Err(ApiError::bad("give one prompt per request", Some("prompt")));
        }
    };
    // A completion prompt is plain text: `<|im_start|>` in it is not a control token.
    let served = Arc::clone(s);
    let tokens =
        tokio::task::spawn_blocking(move || served.engine.tokenizer.encode(&prompt, false))
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None))?
            .map_err(|e| ApiError::bad(e.to_string(), Some("prompt")))?;
    start(s, tokens, req.sampling, Kind::Text).await
}

/// Validates the sampling fields, queues the job and answers (a whole reply or a stream).
async fn start(
    s: &Arc<Served>,
    prompt: Vec<u32>,
    p: Sampling,
    kind: Kind,
) -> Result<Response, ApiError> {
    let job = job(s, prompt, &p)?;
    let (tx, rx) = unbounded_channel();
    let prompt_tokens = job.0.len();
    s.metrics.requests.inc();
    s.metrics.prompt_tokens.inc_by(prompt_tokens as u64);
    let (prompt, max_tokens, stop, sampler, seed) = job;
    s.engine
        .submit(Job { prompt, max_tokens, stop, sampler, seed, events: tx })
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string(), None))?;
    let reply = Reply {
        id: format!(
            "{}-{}",
            if matches!(kind, Kind::Chat) { "chatcmpl" } else { "cmpl" },
            unique()
        ),
        created: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        model: s.name.clone(),
        kind,
    };
    if p.stream {
        let usage = p.stream_options.unwrap_or_default().include_usage;
        Ok(Sse::new(reply.stream(rx, usage)).keep_alive(KeepAlive::default()).into_response())
    } else {
        reply.whole(rx).await.map(|v| Json(v).into_response())
    }
}

type JobParts = (Vec<u32>, usize, Vec<String>, Sampler, u64);

fn job(s: &Served, prompt: Vec<u32>, p: &Sampling) -> Result<JobParts, ApiError> {
    if p.model != s.name {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!(
                "the model `{}` does not exist; this server serves `{}`",
                p.model, s.name
            ),
            param: Some("model"),
            code: Some("model_not_found"),
        });
    }
    if p.n.is_some_and(|n| n != 1) {
        return Err(ApiError::bad("n must be 1: one choice per request", Some("n")));
    }
    if prompt.is_empty() {
        return Err(ApiError::bad("the prompt is empty", Some("prompt")));
    }
    if let Some(t) = prompt.iter().find(|t| **t as usize >= s.engine.vocab) {
        return Err(ApiError::bad(
            format!("token {t} is outside the model's vocabulary"),
            Some("prompt"),
        ));
    }
    let context = s.engine.context;
    if prompt.len() >= context {
        return Err(ApiError::bad(
            format!("the prompt has {} tokens; this model's context is {context}", prompt.len()),
            Some("messages"),
        ));
    }
    let room = context - prompt.len();
    let max_tokens = match p.max_completion_tokens.or(p.max_tokens) {
        None => room.min(DEFAULT_MAX_TOKENS),
        Some(m) if m < 1 => return Err(ApiError::bad(format!("max_tokens is {m}; it must be at least 1"), Some("max_tokens"))),
        Some(m) if m as u64 > MAX_REPLY_TOKENS => {
            return Err(ApiError::bad(
                format!("max_tokens is {m}; this server generates at most {MAX_REPLY_TOKENS} tokens per reply"),
                Some("max_tokens"),
            ))
        }
        Some(m) if m as u64 > room as u64 => {
            return Err(ApiError::bad(
                format!(
                    "max_tokens is {m}, but this model's context of {context} tokens leaves {room} after the {}-token prompt",
                    prompt.len()
                ),
                Some("max_tokens"),
            ))
        }
        Some(m) => m as usize,
    };
    let stop = match &p.stop {
        None => Vec::new(),
        Some(Stop::One(t)) => vec![t.clone()],
        Some(Stop::Many(v)) => v.clone(),
    };
    if stop.len() > MAX_STOPS || stop.iter().any(|t| t.is_empty()) {
        return Err(ApiError::bad(
            format!("stop takes 1 to {MAX_STOPS} non-empty strings"),
            Some("stop"),
        ));
    }
    let temperature = p.temperature.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(ApiError::bad(
            format!("temperature is {temperature}; it must be in [0, 2]"),
            Some("temperature"),
        ));
    }
    let sampler = Sampler { temperature, top_p: p.top_p.unwrap_or(1.0) };
    sampler.validate().map_err(|e| ApiError::bad(e.to_string(), Some("top_p")))?;
    let seed = p.seed.map_or_else(unique, |s| s as u64);
    Ok((prompt, max_tokens, stop, sampler, seed))
}

/// A value that differs between calls (ids, and the seed of a request that names none).
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    now ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32)
}

/// What every reply object of one request shares.
struct Reply {
    id: String,
    created: u64,
    model: String,
    kind: Kind,
}

fn usage(prompt: usize, completion: usize) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

impl Reply {
    fn object(&self, stream: bool) -> &'static str {
        match (self.kind, stream) {
            (Kind::Chat, false) => "chat.completion",
            (Kind::Chat, true) => "chat.completion.chunk",
            (Kind::Text, _) => "text_completion",
        }
    }

    fn envelope(&self, stream: bool, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": self.object(stream),
            "created": self.created,
            "model": self.model,
            "system_fingerprint": iollm_compute::PROFILE,
            "choices": choices,
        })
    }

    fn choice(&self, text: Option<&str>, finish: Option<Finish>, stream: bool) -> Value {
        let finish = finish.map(Finish::as_str);
        match (self.kind, stream) {
            (Kind::Chat, false) => json!({
                "index": 0, "finish_reason": finish, "logprobs": null,
                "message": {"role": "assistant", "content": text.unwrap_or_default()},
            }),
            (Kind::Chat, true) => {
                let delta = match text {
                    Some(t) => json!({"content": t}),
                    None if finish.is_none() => json!({"role": "assistant", "content": ""}),
                    None => json!({}),
                };
                json!({"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null})
            }
            (Kind::Text, _) => json!({
                "index": 0, "text": text.unwrap_or_default(), "finish_reason": finish, "logprobs": null,
            }),
        }
    }

    async fn whole(self, mut rx: UnboundedReceiver<Event>) -> Result<Value, ApiError> {
        let mut text = String::new();
        while let Some(event) = rx.recv().await {
            match event {
                Event::Text(t) => text.push_str(&t),
                Event::Done { finish, prompt_tokens, completion_tokens } => {
                    let mut v = self
                        .envelope(false, json!([self.choice(Some(&text), Some(finish), false)]));
                    v["usage"] = usage(prompt_tokens, completion_tokens);
                    return Ok(v);
                }
                Event::Failed(e) => {
                    return Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e, None))
                }
            }
        }
        Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the engine stopped", None))
    }

    fn stream(
        self,
        rx: UnboundedReceiver<Event>,
        include_usage: bool,
    ) -> impl Stream<Item = Result<SseEvent, Infallible>> {
        let data = |v: Value| SseEvent::default().data(v.to_string());
        let opening = match self.kind {
            Kind::Chat => Some(data(self.envelope(true, json!([self.choice(None, None, true)])))),
            Kind::Text => None,
        };
        let body = stream::unfold((self, rx, false), move |(reply, mut rx, ended)| async move {
            if ended {
                return None;
            }
            let events = match rx.recv().await {
                Some(Event::Text(t)) => {
                    vec![data(reply.envelope(true, json!([reply.choice(Some(&t), None, true)])))]
                }
                Some(Event::Done { finish, prompt_tokens, completion_tokens }) => {
                    let mut last = vec![data(
                        reply.envelope(true, json!([reply.choice(None, Some(finish), true)])),
                    )];
                    if include_usage {
                        let mut v = reply.envelope(true, json!([]));
                        v["usage"] = usage(prompt_tokens, completion_tokens);
                        last.push(data(v));
                    }
                    last.push(SseEvent::default().data("[DONE]"));
                    return Some((stream::iter(last), (reply, rx, true)));
                }
                Some(Event::Failed(e)) => {
                    let err = ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e, None);
                    let last = vec![data(err.body()), SseEvent::default().data("[DONE]")];
                    return Some((stream::iter(last), (reply, rx, true)));
                }
                None => return None,
            };
            Some((stream::iter(events), (reply, rx, false)))
        });
        stream::iter(opening).chain(body.flatten()).map(Ok)
    }
}
