//! hookd's HTTP listener: an accept loop over hyper's HTTP/1 connection driver with the bounds
//! that stop a client from hoarding connections (every one documented with its config key in
//! `docs/security-limits.md`):
//!
//! - at most `http_max_connections` open connections: at the cap the loop stops accepting, so
//!   new connections wait in the kernel's listen backlog until one closes — logged (at most every
//!   [`CAP_LOG_EVERY`]) and counted, so an operator whose health checks stall sees why;
//! - an idle keep-alive timeout and a header read timeout (`clock.rs`);
//! - a deadline on the whole request body (`body.rs`).
//!
//! (A declared `Content-Length` over `max_body_bytes` is refused by the v1 pipeline, where the
//! answer gets every header an API answer has: `api/pipeline.rs`.)
//!
//! axum's `serve` has none of these knobs (it hands hyper the socket as is), hence this loop; it
//! keeps what `serve` did: `TCP_NODELAY`, the peer address as `ConnectInfo` for the handlers, and
//! a graceful shutdown that stops accepting, closes idle connections and lets requests in flight
//! finish.

mod body;
mod clock;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::Config;
pub use body::{is_body_timeout, BodyTimedOut};
use clock::{ActiveRequest, Activity, ClockedIo, Timeouts};

/// How often, at most, reaching the connection cap is logged (it is counted every time).
pub const CAP_LOG_EVERY: Duration = Duration::from_secs(10);

/// The bounds the listener enforces (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(config: &Config) -> Self {
        Self {
            header_timeout: Duration::from_millis(config.http_header_timeout_ms),
            idle_timeout: Duration::from_millis(config.http_idle_timeout_ms),
            body_timeout: Duration::from_millis(config.http_body_timeout_ms),
            max_connections: config.http_max_connections,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and waits for the
/// open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(());
    let connections = TaskTracker::new();
    let mut last_cap_log: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                at_cap(&limits, &mut last_cap_log);
                tokio::select! {
                    () = &mut shutdown => break,
                    permit = Arc::clone(&slots).acquire_owned() => {
                        permit.expect("the semaphore is never closed")
                    }
                }
            }
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        connections.spawn(connection(
            stream,
            peer,
            app.clone(),
            limits,
            stopping.clone(),
            permit,
        ));
    }
    drop(listener);
    drop(stop);
    connections.close();
    connections.wait().await;
}

fn at_cap(limits: &Limits, last_log: &mut Option<Instant>) {
    metrics::counter!("hookd_http_connection_cap_reached_total").increment(1);
    if last_log.is_none_or(|at| at.elapsed() >= CAP_LOG_EVERY) {
        *last_log = Some(Instant::now());
        tracing::warn!(
            max_connections = limits.max_connections,
            "at the open-connection cap (http_max_connections): new connections wait until one \
             closes"
        );
    }
}

/// Out of file descriptors and the like: wait a moment rather than spin (as axum's `serve`
/// and hyper's examples do); connections closing will free what is missing.
async fn accept_failed(error: &std::io::Error) {
    tracing::warn!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    mut stopping: watch::Receiver<()>,
    _slot: OwnedSemaphorePermit,
) {
    // Answers go out the moment they are written, never held back by Nagle's algorithm
    // behind an unacknowledged segment. A default for latency, not a throughput gain: burst
    // 40k, three interleaved pairs, no change.
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
    }
    let open = metrics::gauge!("hookd_http_connections_open");
    open.increment(1.0);
    let activity = Activity::default();
    let timeouts = Timeouts {
        idle: limits.idle_timeout,
        header: limits.header_timeout,
    };
    let io = TokioIo::new(ClockedIo::new(stream, activity.clone(), timeouts));
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        // Counted now, synchronously, so the clock sees the request as started the moment
        // hyper hands it over.
        let active = activity.begin();
        handle(request, app.clone(), peer, limits, active)
    });
    // The header timer is the clock's (hyper's would also run while the connection is idle).
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.header_read_timeout(None);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = stopping.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, %peer, "connection ended with an error");
    }
    open.decrement(1.0);
}

async fn handle(
    request: Request<Incoming>,
    app: Router,
    peer: SocketAddr,
    limits: Limits,
    active: ActiveRequest,
) -> Result<Response<ActiveBody>, Infallible> {
    let (mut parts, incoming) = request.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    let body = Body::new(body::DeadlineBody::new(incoming, limits.body_timeout));
    let response = match app.oneshot(Request::from_parts(parts, body)).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    Ok(response.map(|body| ActiveBody::new(body, active)))
}

pin_project_lite::pin_project! {
    /// An answer's body that keeps its request counted as in progress until it is written.
    pub struct ActiveBody {
        #[pin]
        inner: Body,
        active: ActiveRequest,
    }
}

impl ActiveBody {
    fn new(inner: Body, active: ActiveRequest) -> Self {
        Self { inner, active }
    }
}

impl http_body::Body for ActiveBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, axum::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
