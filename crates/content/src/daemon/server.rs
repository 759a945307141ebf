//! Binding, serving and shutting down; the router.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use super::repo::Repo;
use super::{add, handlers, TARGET};
use crate::error::{Error, Result};

/// How to run the daemon.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Repo directory (created if missing).
    pub repo: PathBuf,
    /// API listen address; must be a loopback address (port 0 picks a free port).
    pub api: SocketAddr,
    /// Bounds on what one client may hold.
    pub limits: Limits,
}

impl DaemonConfig {
    /// A config with the default [`Limits`].
    pub fn new(repo: impl Into<PathBuf>, api: SocketAddr) -> Self {
        Self { repo: repo.into(), api, limits: Limits::default() }
    }
}

/// Bounds that keep slow or hostile clients from holding the daemon.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// Longest an upload's body may send nothing.
    pub body_idle_timeout: Duration,
    /// Largest header block of one multipart part (its file name included).
    pub part_header_bytes: usize,
    /// Uploads (`add`) served at once; more are answered 503.
    pub max_uploads: usize,
    /// How long shutdown waits for requests in flight before dropping them.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
            part_header_bytes: 16 * 1024,
            max_uploads: 64,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub(super) struct AppState {
    pub(super) repo: Arc<Repo>,
    pub(super) limits: Limits,
    pub(super) uploads: Arc<tokio::sync::Semaphore>,
    /// Cancelled at shutdown: long walks stop.
    pub(super) shutdown: CancellationToken,
}

impl axum::extract::FromRef<AppState> for Arc<Repo> {
    fn from_ref(s: &AppState) -> Self {
        s.repo.clone()
    }
}

/// A bound, not yet serving daemon: learn its address, then [`Daemon::run`] it.
#[derive(Debug)]
pub struct Daemon {
    listener: tokio::net::TcpListener,
    repo: Arc<Repo>,
    limits: Limits,
}

impl Daemon {
    /// Opens the repo and binds the API address (loopback only).
    pub async fn bind(config: DaemonConfig) -> Result<Self> {
        if !config.api.ip().is_loopback() {
            return Err(Error::NotLoopback { addr: config.api });
        }
        let repo = tokio::task::spawn_blocking(move || Repo::open(config.repo))
            .await
            .map_err(|e| Error::Api(e.to_string()))??;
        let listener = tokio::net::TcpListener::bind(config.api)
            .await
            .map_err(|e| Error::io(format!("bind {}", config.api), e))?;
        Ok(Self { listener, repo: Arc::new(repo), limits: config.limits })
    }

    /// The bound API address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| unreachable!("bound listener"))
    }

    /// The API URL (`http://127.0.0.1:PORT`), what `IOLLM_IPFS_API` takes.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.local_addr())
    }

    /// The repo this daemon serves.
    pub fn repo(&self) -> Arc<Repo> {
        self.repo.clone()
    }

    /// Serves until `shutdown` is cancelled. Each connection gets [`Limits::header_timeout`]
    /// to send its headers; at shutdown, idle connections close at once, requests in flight
    /// get [`Limits::shutdown_grace`] (walks and `cat` stop at once), and whatever is left —
    /// a stalled upload — is dropped.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let addr = self.local_addr();
        let limits = self.limits;
        tracing::info!(target: TARGET, %addr, repo = %self.repo.path.display(), "IPFS daemon listening");
        let router = app(self.repo, addr, limits, shutdown.clone());
        let mut conns = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let svc = hyper_util::service::TowerToHyperService::new(router.clone());
                        conns.spawn(serve_connection(stream, svc, limits, shutdown.clone(), peer));
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little, keep serving.
                        tracing::warn!(target: TARGET, error = %e, "Accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        drop(self.listener);
        let open = conns.len();
        let drained = tokio::time::timeout(limits.shutdown_grace, async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(target: TARGET, open, left = conns.len(), "Dropping connections still open after the shutdown grace");
            conns.shutdown().await;
        }
        tracing::info!(target: TARGET, "IPFS daemon stopped");
        Ok(())
    }
}

/// One HTTP/1 connection, with a header timeout; closes gracefully when `shutdown` fires.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    svc: hyper_util::service::TowerToHyperService<Router>,
    limits: Limits,
    shutdown: CancellationToken,
    peer: SocketAddr,
) {
    let io = hyper_util::rt::TokioIo::new(stream);
    let conn = hyper1::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(io, svc);
    let mut conn = std::pin::pin!(conn);
    let res = tokio::select! {
        r = conn.as_mut() => r,
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = res {
        tracing::debug!(target: TARGET, %peer, error = %e, "Connection ended with an error");
    }
}

/// Binds and serves until `shutdown` is cancelled (`iollm ipfs daemon`).
pub async fn serve(config: DaemonConfig, shutdown: CancellationToken) -> Result<()> {
    Daemon::bind(config).await?.run(shutdown).await
}

/// The router (tests may call it without a socket). `api` is the address it is served on;
/// cancelling `shutdown` stops the walks requests started.
/// A request's `Host` must be a loopback address or `localhost` (any port, so local tunnels and
/// proxies work; a DNS-rebinding page's `Host` is its own name), and a browser's `Origin` or
/// `Referer`, when sent, must be the daemon's own address (`api`, or `localhost` on its port);
/// anything else is answered 403, as Kubo does for origins, so a web page cannot drive the node.
pub fn app(
    repo: Arc<Repo>,
    api: SocketAddr,
    limits: Limits,
    shutdown: CancellationToken,
) -> Router {
    let uploads = Arc::new(tokio::sync::Semaphore::new(limits.max_uploads.max(1)));
    let state = AppState { repo, limits, uploads, shutdown };
    Router::new()
        .route("/api/v0/add", post(add::add))
        .route("/api/v0/cat", post(handlers::cat))
        .route("/api/v0/pin/add", post(handlers::pin_add))
        .route("/api/v0/pin/ls", post(handlers::pin_ls))
        .route("/api/v0/pin/rm", post(handlers::pin_rm))
        .route("/api/v0/block/get", post(handlers::block_get))
        .route("/api/v0/block/stat", post(handlers::block_stat))
        .route("/api/v0/id", post(handlers::id))
        .route("/api/v0/version", post(handlers::version))
        .route("/api/v0/repo/stat", post(handlers::repo_stat))
        .route("/api/v0/ls", post(handlers::ls))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(Arc::new(allowed_hosts(api)), same_origin))
        .with_state(state)
}

/// The `host:port` spellings of the daemon's own address.
fn allowed_hosts(api: SocketAddr) -> Vec<String> {
    let port = api.port();
    let mut hosts = vec![api.to_string(), format!("localhost:{port}")];
    if api.ip().is_loopback() {
        hosts.extend([format!("127.0.0.1:{port}"), format!("[::1]:{port}")]);
    }
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Whether a `Host` header names a loopback address or `localhost` (with or without a port).
fn loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((n, port)) if !n.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses (403) a request whose `Host`, `Origin` or `Referer` is not the daemon's own.
async fn same_origin(
    axum::extract::State(hosts): axum::extract::State<Arc<Vec<String>>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header::{HOST, ORIGIN, REFERER};
    let h = req.headers();
    let own = |host: &str| hosts.iter().any(|a| a.eq_ignore_ascii_case(host));
    let text =
        |name| h.get(name).map(|v: &axum::http::HeaderValue| v.to_str().unwrap_or("<not text>"));
    let from_own = |url: &str| {
        url.strip_prefix("http://")
            .map(|rest| rest.split('/').next().unwrap_or_default())
            .is_some_and(own)
    };
    let refused = match (text(HOST), text(ORIGIN), text(REFERER)) {
        (Some(host), _, _) if !loopback_host(host) => Some(("Host", host.to_owned())),
        (_, Some(origin), _) if !from_own(origin) => Some(("Origin", origin.to_owned())),
        (_, None, Some(referer)) if !from_own(referer) => Some(("Referer", referer.to_owned())),
        _ => None,
    };
    if let Some((header, value)) = refused {
        tracing::warn!(target: TARGET, header, value = %value, path = %req.uri().path(), "Refused a request from another origin");
        return ApiError::forbidden().into_response();
    }
    next.run(req).await
}
