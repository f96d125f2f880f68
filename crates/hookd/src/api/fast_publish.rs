//! A direct path for the hottest request, `POST /v1/events` without an `Idempotency-Key`.
//!
//! Every request through the router pays for the route lookup and the boxed services and
//! futures of its layers. This layer sits inside the router's outer layers (request id, trace
//! span, panic catcher, body limit), so a publish still gets all of those, and answers the
//! publish itself through the same v1 pipeline the router runs (`pipeline::run`), with the
//! `events::publish` handler and its own extractors as the last step: nothing of the pipeline
//! is copied here. Whatever else arrives (another route, another method, any request with an
//! `Idempotency-Key`) goes to the router untouched. Kept for its measured gain (see
//! docs/performance.md).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequest, Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};
use tower::{Layer, Service};

use super::error::ApiError;
use super::{access, auth, events, extract::ApiJson, idempotency, pipeline, AppState};

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
        // Logged and measured like a routed request (see `access.rs`).
        let route = access::Route::Fixed(PATH);
        let answer = async move { Ok(publish(state, request).await) };
        Either::Left(Box::pin(access::Observed::new(answer, Method::POST, route)))
    }
}

/// Exactly the requests the router would send to `events::publish` with no idempotency work.
fn is_plain_publish(request: &Request) -> bool {
    request.method() == Method::POST
        && request.uri().path() == PATH
        && !request.headers().contains_key(idempotency::HEADER)
}

/// The v1 pipeline with the publish handler as its last step.
async fn publish(state: Arc<AppState>, request: Request) -> Response {
    pipeline::run(&state, request, |request| async {
        let authed = request.extensions().get::<auth::Authed>().cloned();
        let (Some(authed), body) = (authed, ApiJson::from_request(request, &()).await) else {
            // The pipeline authenticated the request before calling this step.
            return ApiError::Unauthorized("Authentication is required.".into()).into_response();
        };
        match body {
            Ok(body) => events::publish(State(Arc::clone(&state)), authed, body)
                .await
                .into_response(),
            Err(rejected) => rejected.into_response(),
        }
    })
    .await
}
