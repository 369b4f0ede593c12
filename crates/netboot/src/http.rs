//! The HTTP service (axum + tower-http): files under the root with HEAD,
//! Content-Length, a single `Range` (206, or 416 when unsatisfiable) and
//! keep-alive, confined exactly like TFTP ([`crate::confine`]); the content types
//! EDK2's HTTP boot uses to pick an image type; generated iPXE scripts from a
//! [`ScriptProvider`] the policy layer implements; and `GET /metrics`.
//!
//! Paths: `/metrics` and everything under `/_/` are the server's own; every other
//! path is a file under the root (a file named `metrics` at the top of the root is
//! therefore not reachable over HTTP).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceExt as _;
use tower_http::services::ServeFile;

use crate::config::ServeConfig;
use crate::confine::{ConfineError, Root};
use crate::server::{BindError, Context, MacAddr, Service, ServiceFuture, bind_tcp};

/// The request an iPXE script is generated for.
#[derive(Debug, Clone)]
pub struct ScriptRequest {
    /// Who asks.
    pub client: SocketAddr,
    /// The client's MAC, when DHCP has seen it.
    pub mac: Option<MacAddr>,
    /// The query parameters (`?mac=${mac}&arch=${buildarch}` …), in order.
    pub query: Vec<(String, String)>,
}

/// A policy's answer for a script request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptDecision {
    /// Serve this script (200, `text/plain`).
    Ready(String),
    /// The decision is still being computed: 503 with `Retry-After`, which iPXE
    /// honours by retrying after that many seconds.
    NotReady {
        /// When to ask again.
        retry_after: Duration,
    },
    /// Nothing for this client (404).
    NotFound,
}

/// Where generated iPXE scripts come from. Implementations answer from decisions
/// computed ahead of time: this is called on the request path and must not block.
pub trait ScriptProvider: Send + Sync + 'static {
    /// The script for this request.
    fn script(&self, request: &ScriptRequest) -> ScriptDecision;

    /// A file the provider serves instead of the root's (a hypervisor sent decompressed, a
    /// quick-mode file outside the root); `None`: the root's file, as usual.
    fn file(&self, _path: &str) -> Option<FileOverride> {
        None
    }

    /// Called after every file response (for the status page's boot steps).
    fn file_sent(&self, _client: SocketAddr, _mac: Option<MacAddr>, _path: &str, _status: u16) {}

    /// The HTML status page served at `GET /`, if the provider keeps one.
    fn status_page(&self) -> Option<String> {
        None
    }
}

/// What [`ScriptProvider::file`] serves in place of a file under the root.
#[derive(Debug, Clone)]
pub enum FileOverride {
    /// These bytes (sent with their exact Content-Length).
    Bytes(Arc<[u8]>),
    /// This file, wherever it is.
    Path(std::path::PathBuf),
}

/// The default policy: every client chains to one configured boot file.
#[derive(Debug, Clone, Default)]
pub struct ChainScript {
    /// A path under the root (served by this server) or a URL; None: no boot file.
    pub boot_file: Option<String>,
}

impl ScriptProvider for ChainScript {
    fn script(&self, _request: &ScriptRequest) -> ScriptDecision {
        ScriptDecision::Ready(match &self.boot_file {
            // A path is made absolute so iPXE resolves it against this server's
            // origin, not against /_/ where the script lives.
            Some(target) if target.contains("://") => format!("#!ipxe\nchain {target}\n"),
            Some(path) => format!("#!ipxe\nchain /{}\n", path.trim_start_matches('/')),
            None => "#!ipxe\necho optrom serve: no boot file configured (http.boot_file)\nexit 1\n".to_string(),
        })
    }
}

/// The content type for a file, by extension. EDK2's HTTP boot (HttpBootSupport.c)
/// picks the image type from `application/efi`, `application/vnd.efi-iso` and
/// `application/vnd.efi-img`; everything unknown is `application/octet-stream`.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("efi") => "application/efi",
        Some("iso") => "application/vnd.efi-iso",
        Some("img") => "application/vnd.efi-img",
        Some("ipxe" | "txt" | "cfg" | "conf") => "text/plain; charset=utf-8",
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[derive(Clone)]
struct AppState {
    root: Root,
    ctx: Context,
    scripts: Arc<dyn ScriptProvider>,
    chunk_size: usize,
}

/// The bound HTTP listener.
pub struct HttpService {
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    root: Root,
    scripts: Arc<dyn ScriptProvider>,
    chunk_size: usize,
}

impl HttpService {
    /// Bind the listener on `config`'s address, HTTP port and interface.
    pub async fn bind(
        config: &ServeConfig,
        root: Root,
        scripts: Arc<dyn ScriptProvider>,
    ) -> Result<HttpService, BindError> {
        let address = SocketAddr::new(config.bind_address(), config.http.port);
        let fail = |source| BindError::Socket { service: "http", address, interface: config.interface.clone(), source };
        let listener = bind_tcp(address, config.interface.as_deref()).map_err(fail)?;
        let local = listener.local_addr().map_err(fail)?;
        tracing::info!(service = "http", listen = %local, root = %root.dir().display(), "listening");
        Ok(HttpService { listener, local, root, scripts, chunk_size: config.http.chunk_size.max(4096) })
    }
}

/// The router, for tests and embedding.
fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/_/boot.ipxe", get(script))
        .route("/", get(status_page))
        .fallback(file)
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

impl Service for HttpService {
    fn name(&self) -> &'static str {
        "http"
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        Some(self.local)
    }

    fn run(self: Box<Self>, ctx: Context) -> ServiceFuture {
        Box::pin(async move {
            let state =
                AppState { root: self.root, ctx: ctx.clone(), scripts: self.scripts, chunk_size: self.chunk_size };
            let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
            let stopping = ctx.shutdown.clone();
            let serve =
                axum::serve(self.listener, app).with_graceful_shutdown(async move { stopping.stopping().await });
            tokio::select! {
                r = serve => r.map_err(|e| Box::new(e) as _),
                // Downloads still running at the end of the grace period are cut.
                () = ctx.shutdown.aborting() => Ok(()),
            }
        })
    }
}

/// One log line and the counters for every request.
async fn track(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let range = request.headers().get(header::RANGE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let length = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let metrics = &state.ctx.metrics.http;
    metrics.response(status);
    if method != Method::HEAD {
        metrics.bytes_sent.add(length);
    }
    tracing::info!(
        client = %peer,
        mac = state.ctx.clients.label(peer.ip()),
        method = %method,
        path,
        range = range.as_deref().unwrap_or("-"),
        status,
        bytes = length,
        elapsed_us = started.elapsed().as_micros() as u64,
        "http request"
    );
    response
}

async fn metrics(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.ctx.metrics.render()).into_response()
}

async fn script(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let request = ScriptRequest { client: peer, mac: state.ctx.clients.mac_of(peer.ip()), query };
    match state.scripts.script(&request) {
        ScriptDecision::Ready(text) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        ScriptDecision::NotReady { retry_after } => {
            state.ctx.metrics.http.scripts_not_ready.inc();
            let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, seconds.to_string())], "decision not ready\n")
                .into_response()
        }
        ScriptDecision::NotFound => (StatusCode::NOT_FOUND, "no script for this client\n").into_response(),
    }
}

async fn status_page(State(state): State<AppState>, request: Request) -> Response {
    match state.scripts.status_page() {
        Some(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        None => serve_file(State(state), request).await,
    }
}

async fn file(state: State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let response = serve_file(state.clone(), request).await;
    let mac = state.ctx.clients.mac_of(peer.ip());
    state.scripts.file_sent(peer, mac, &path, response.status().as_u16());
    response
}

async fn serve_file(State(state): State<AppState>, request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")], "").into_response();
    }
    let Ok(decoded) = percent_encoding::percent_decode_str(request.uri().path()).decode_utf8() else {
        return (StatusCode::BAD_REQUEST, "path is not UTF-8\n").into_response();
    };
    let path = match state.scripts.file(&decoded) {
        Some(FileOverride::Bytes(bytes)) => {
            let mime = content_type(Path::new(decoded.as_ref()));
            let body = if request.method() == Method::HEAD { Body::empty() } else { Body::from(bytes.to_vec()) };
            let mut response = Response::new(body);
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
            response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            return response;
        }
        Some(FileOverride::Path(p)) => Ok(p),
        None => state.root.resolve(&decoded),
    };
    let path = match path {
        Ok(p) => p,
        Err(e @ (ConfineError::Nul(_) | ConfineError::ParentComponent(_) | ConfineError::OutsideRoot { .. })) => {
            return (StatusCode::FORBIDDEN, format!("{e}\n")).into_response();
        }
        Err(e) => return (StatusCode::NOT_FOUND, format!("{e}\n")).into_response(),
    };
    let mime = content_type(&path);
    let served = ServeFile::new(&path).with_buf_chunk_size(state.chunk_size).oneshot(request).await;
    let mut response = match served {
        Ok(r) => r.map(Body::new),
        Err(never) => match never {},
    };
    if response.status().is_success() {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn efi_boot_types() {
        assert_eq!(content_type(Path::new("a/ipxe.efi")), "application/efi");
        assert_eq!(content_type(Path::new("BOOTX64.EFI")), "application/efi");
        assert_eq!(content_type(Path::new("d.iso")), "application/vnd.efi-iso");
        assert_eq!(content_type(Path::new("d.img")), "application/vnd.efi-img");
        assert_eq!(content_type(Path::new("undionly.kpxe")), "application/octet-stream");
    }

    #[test]
    fn default_script_chains_absolute() {
        let req = ScriptRequest { client: "127.0.0.1:1".parse().unwrap(), mac: None, query: vec![] };
        let s = ChainScript { boot_file: Some("ipxe.efi".into()) };
        assert_eq!(s.script(&req), ScriptDecision::Ready("#!ipxe\nchain /ipxe.efi\n".into()));
        let s = ChainScript { boot_file: Some("http://10.0.0.1/x.efi".into()) };
        assert_eq!(s.script(&req), ScriptDecision::Ready("#!ipxe\nchain http://10.0.0.1/x.efi\n".into()));
    }
}
