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
pub mod portal;
pub mod route_table;
pub mod session;
pub mod signin;

use std::sync::Arc;

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;

use crate::api::AppState;
use session::Session;

/// The doors: the first page, signing in and out, redeeming a portal link.
mod doors {
    use super::{home, portal, signin};

    crate::dashboard::route_table::page_routes! {
        "/" => get(home),
        "/sign-in" => get(signin::show).post(signin::submit),
        "/sign-out" => post(signin::sign_out),
        portal::ROUTE => get(portal::redeem),
    }
}

/// The embedded assets, cached and without a session.
mod asset_routes {
    use super::assets;

    crate::dashboard::route_table::page_routes! {
        "/assets/{name}" => get(assets::serve),
    }
}

/// The dashboard's routes (merged into the API's router, outside the `/v1` pipeline).
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let routes = doors::routes()
        .merge(pages::routes())
        .layer(axum::middleware::from_fn_with_state(state, page_headers));
    // Assets are cached and carry no session: outside the page headers.
    routes.merge(asset_routes::routes())
}

/// Every method and path [`router`] serves, as data: for tests that must cover each route
/// (the isolation matrix) without a list of their own.
pub fn route_table() -> Vec<route_table::PageRoute> {
    [doors::ROUTES, &pages::route_table(), asset_routes::ROUTES].concat()
}

/// `GET /`: the first page this session may see.
async fn home(session: Session) -> Response {
    let target = layout::visible_nav(&session)
        .next()
        .map_or("/sign-in", |item| item.href);
    Redirect::to(target).into_response()
}

/// Headers of every page: never cached (they show tenant data), no script or style from
/// anywhere but here, no MIME sniffing, no referrer leaving the site, and no framing by other
/// sites, except the customer portal's pages by the origins configured for it (`portal.rs`).
async fn page_headers(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let portal = portal::is_portal_request(&state, request.uri().path(), request.headers());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CACHE_CONTROL, "no-store");
    let ancestors = if portal {
        portal::frame_ancestors(&state)
    } else {
        "'none'".to_string()
    };
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
    );
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "same-origin");
    if !portal {
        set(headers, header::X_FRAME_OPTIONS, "DENY");
    }
    response
}
