//! The dashboard: server-rendered pages at `/` on the API listener, over the same domain and
//! store code as the API (pages call the API's handlers and domain functions; nothing is
//! validated twice).
//!
//! Shape: [`maud`] templates compiled into the binary, a small hand-written stylesheet and htmx,
//! all embedded (`assets.rs`); a sealed session cookie (`session.rs`); a CSRF token on every
//! state-changing form (`csrf.rs`); one module per page group under `pages/`. Every response
//! carries a strict Content-Security-Policy: scripts and styles only from this server. See
//! `docs/dashboard.md` for the decisions and for how to add a page.

pub mod assets;
pub mod csrf;
pub mod errors;
pub mod layout;
pub mod pages;
pub mod session;
pub mod signin;

use std::sync::Arc;

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api::AppState;
use session::Session;

/// The dashboard's routes (merged into the API's router, outside the `/v1` pipeline).
pub fn router() -> Router<Arc<AppState>> {
    let routes = Router::new()
        .route("/", get(home))
        .route("/sign-in", get(signin::show).post(signin::submit))
        .route("/sign-out", post(signin::sign_out))
        .merge(pages::routes())
        .layer(axum::middleware::map_response(page_headers));
    // Assets are cached and carry no session: outside the page headers.
    routes.route("/assets/{name}", get(assets::serve))
}

/// `GET /`: the first page this session may see.
async fn home(session: Session) -> Response {
    let target = layout::visible_nav(&session)
        .next()
        .map_or("/sign-in", |item| item.href);
    Redirect::to(target).into_response()
}

/// Headers of every page: never cached (they show tenant data), no framing by other sites, no
/// script or style from anywhere but here, no MIME sniffing, no referrer leaving the site.
async fn page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CACHE_CONTROL, "no-store");
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    response
}
