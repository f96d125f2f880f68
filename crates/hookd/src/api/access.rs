//! The access log and the HTTP metrics: one `info` event and one histogram sample per request.
//!
//! The layer wraps each route (`Router::layer`), where axum's [`MatchedPath`] names the route
//! template (`/v1/webhook-endpoints/{id}`), never the raw path, so neither the log nor the
//! metric labels grow with ids. It runs inside the request span opened by the router's outer
//! trace layer, so the line also carries that span's `request_id` and, once the request is
//! authenticated, `workspace`, `mode` and `key_id` (recorded by `auth.rs`). A request no
//! route matched is logged with the route `unmatched`.
//!
//! Cost: a clock read at each end, an `Arc` clone for the template, one event (formatted only
//! if `info` is enabled for `hookd::access`) and a cached histogram handle.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;
use tower::{Layer, Service};

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessLogLayer;

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog { inner }
    }
}

#[derive(Clone, Debug)]
pub struct AccessLog<S> {
    inner: S,
}

impl<S> Service<Request> for AccessLog<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .cloned()
            .map(Route::Matched);
        let method = request.method().clone();
        Observed::new(
            self.inner.call(request),
            method,
            route.unwrap_or(Route::Fixed(UNMATCHED)),
        )
    }
}

/// A route template matched by the router, or a fixed label (`unmatched`).
#[derive(Clone, Debug)]
pub enum Route {
    Matched(MatchedPath),
    Fixed(&'static str),
}

impl Route {
    pub fn as_str(&self) -> &str {
        match self {
            Route::Matched(path) => path.as_str(),
            Route::Fixed(path) => path,
        }
    }
}

pin_project_lite::pin_project! {
    /// A response future that logs and measures the request when it completes.
    pub struct Observed<F> {
        #[pin]
        inner: F,
        method: Method,
        route: Route,
        started: Instant,
    }
}

impl<F> Observed<F> {
    pub fn new(inner: F, method: Method, route: Route) -> Self {
        Self {
            inner,
            method,
            route,
            started: Instant::now(),
        }
    }
}

impl<F> Future for Observed<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let response = match &result {
            Ok(response) => response,
            Err(never) => match *never {},
        };
        let elapsed = this.started.elapsed();
        let status = response.status().as_u16();
        let route = this.route.as_str();
        crate::telemetry::http_request_duration(route, status).record(elapsed.as_secs_f64());
        tracing::info!(
            target: "hookd::access",
            method = this.method.as_str(),
            route,
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
        Poll::Ready(result)
    }
}
