//! A direct path for the hottest request, `POST /v1/events` without an `Idempotency-Key`.
//!
//! Every request through the router pays for the route lookup and, per `v1` middleware, a
//! clone of the boxed service below it and a boxed future. Skipping those saved 2.4 % of the
//! server's instructions per event (callgrind) and about 6 % of its CPU time per delivery in
//! the burst benchmark (README, Performance). This layer sits
//! inside the router's outer layers (request id, trace span, panic catcher, body limit), so a
//! publish still gets all of those, and answers the publish itself by calling the same pieces
//! the router would, in the same order: version negotiation, authentication and rate limiting,
//! then the `events::publish` handler with its own extractors. Whatever else arrives (another
//! route, another method, any request with an `Idempotency-Key`) goes to the router untouched.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequest, Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};
use tower::{Layer, Service};

use super::{auth, events, extract::ApiJson, idempotency, version, AppState};

const PATH: &str = "/v1/events";

/// Wraps the router; see the module docs.
#[derive(Clone)]
pub struct FastPublishLayer {
    state: Arc<AppState>,
}

impl FastPublishLayer {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for FastPublishLayer {
    type Service = FastPublish<S>;

    fn layer(&self, router: S) -> Self::Service {
        FastPublish {
            router,
            state: Arc::clone(&self.state),
        }
    }
}

#[derive(Clone)]
pub struct FastPublish<S> {
    router: S,
    state: Arc<AppState>,
}

impl<S> Service<Request> for FastPublish<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<BoxFuture<'static, Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.router.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if !is_plain_publish(&request) {
            return Either::Right(self.router.call(request));
        }
        let state = Arc::clone(&self.state);
        Either::Left(Box::pin(async move { Ok(publish(state, request).await) }))
    }
}

/// Exactly the requests the router would send to `events::publish` with no idempotency work.
fn is_plain_publish(request: &Request) -> bool {
    request.method() == Method::POST
        && request.uri().path() == PATH
        && !request.headers().contains_key(idempotency::HEADER)
}

/// What the `v1` middlewares and the handler do for a publish, in their order.
async fn publish(state: Arc<AppState>, request: Request) -> Response {
    let version = match version::resolve(request.headers()) {
        Ok(version) => version,
        Err(unsupported) => return version::refuse(unsupported),
    };
    let response = match auth::authenticate_headers(&state, request.headers()).await {
        Ok(authed) => match ApiJson::from_request(request, &()).await {
            Ok(body) => events::publish(State(state), authed, body)
                .await
                .into_response(),
            Err(rejected) => rejected.into_response(),
        },
        Err(refused) => refused.into_response(),
    };
    version::with_version(response, version)
}
