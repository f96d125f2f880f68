//! OAuth2 client credentials at send time: fetch a token (RFC 6749 §4.4) through the egress
//! client, cache it per credential ([`TokenCache`]), send `Authorization: Bearer <token>`, and on
//! a 401 refresh it once and send once more ([`send_authorized`]). Webhook deliveries and
//! integration calls both go through here; the configuration and its parsing live in
//! [`crate::domain::oauth2`].

mod cache;
pub mod token;

use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, AUTHORIZATION};

pub use cache::TokenCache;
pub use token::TokenError;

use crate::crypto::{Cipher, DecryptError};
use crate::domain::oauth2::ClientCredentials;
use crate::egress::{EgressClient, EgressError, OutboundRequest, OutboundResponse};

/// The longest a token request may take (less when the request it is for has a shorter timeout).
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an authorized request got no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthorizedError {
    /// No token: the token endpoint failed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The request itself got no answer.
    #[error(transparent)]
    Egress(#[from] EgressError),
}

/// Opens an endpoint's sealed auth: `None` when it has none (the column is empty).
pub fn open_endpoint_auth(
    cipher: &Cipher,
    sealed: &[u8],
) -> Result<Option<ClientCredentials>, DecryptError> {
    if sealed.is_empty() {
        return Ok(None);
    }
    cipher.open_json(sealed).map(Some)
}

/// The timeout of a token request made for a request with `timeout`.
pub fn token_timeout(timeout: Duration) -> Duration {
    timeout.min(TOKEN_TIMEOUT)
}

/// How a request gets its bearer token.
#[derive(Clone, Copy, Debug)]
pub struct Auth<'a> {
    pub tokens: &'a TokenCache,
    pub credentials: &'a ClientCredentials,
    /// The retry after a 401 is made only if it can finish (a token request and the request,
    /// each within its timeout) by then: a delivery's lease must cover it, or another node could
    /// be sending the same delivery meanwhile. `None`: no such bound (integration calls).
    pub retry_by: Option<Instant>,
}

/// Sends `request` as is without `auth`, else through [`send_authorized`]: the one way deliveries
/// and integration calls go out.
pub async fn send(
    egress: &EgressClient,
    auth: Option<Auth<'_>>,
    request: OutboundRequest,
) -> Result<OutboundResponse, AuthorizedError> {
    match auth {
        None => Ok(egress.send(request).await?),
        Some(auth) => send_authorized(egress, auth, request).await,
    }
}

/// Sends `request` with a bearer token. When the answer is 401, the token is dropped, a new one
/// fetched and the request sent once more with it (if `auth.retry_by` leaves time); that second
/// answer is final, whatever it is.
pub async fn send_authorized(
    egress: &EgressClient,
    auth: Auth<'_>,
    request: OutboundRequest,
) -> Result<OutboundResponse, AuthorizedError> {
    let Auth {
        tokens,
        credentials,
        retry_by,
    } = auth;
    let token_timeout = token_timeout(request.timeout);
    let token = tokens.token(credentials, token_timeout).await?;
    let answer = egress.send(with_token(request.clone(), &token)).await?;
    if answer.status != 401 {
        return Ok(answer);
    }
    tokens.reject(credentials, &token);
    let retry_ends = Instant::now() + token_timeout + request.timeout;
    if retry_by.is_some_and(|by| retry_ends > by) {
        return Ok(answer);
    }
    let fresh = tokens.token(credentials, token_timeout).await?;
    Ok(egress.send(with_token(request, &fresh)).await?)
}

fn with_token(mut request: OutboundRequest, token: &HeaderValue) -> OutboundRequest {
    request.headers.insert(AUTHORIZATION, token.clone());
    request
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use axum::response::IntoResponse;

    use super::*;
    use crate::egress::EgressPolicy;

    /// A loopback server: `/token` issues `tok-N`, everything else answers 401. Counts both.
    async fn server() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let (tokens, requests) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (t, r) = (Arc::clone(&tokens), Arc::clone(&requests));
        let app =
            axum::Router::new()
                .route(
                    "/token",
                    axum::routing::post(move || {
                        let n = t.fetch_add(1, Ordering::SeqCst) + 1;
                        async move {
                            axum::Json(serde_json::json!({"access_token": format!("tok-{n}")}))
                        }
                    }),
                )
                .fallback(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                    async { axum::http::StatusCode::UNAUTHORIZED.into_response() }
                });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), tokens, requests)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_401_is_retried_once_and_only_within_the_bound() {
        let (origin, token_hits, api_hits) = server().await;
        let egress = EgressClient::new(
            EgressPolicy {
                allow_http: true,
                allow_nets: vec!["127.0.0.0/8".parse().unwrap()],
            },
            None,
        )
        .unwrap();
        let tokens = TokenCache::new(egress.clone());
        let credentials = ClientCredentials {
            token_url: format!("{origin}/token"),
            client_id: "id".into(),
            client_secret: "secret".into(),
            scope: None,
            audience: None,
        };
        let request = || {
            let mut r = OutboundRequest::new(
                reqwest::Method::POST,
                url::Url::parse(&format!("{origin}/api")).unwrap(),
            );
            r.timeout = Duration::from_secs(5);
            r
        };
        let auth = |retry_by| Auth {
            tokens: &tokens,
            credentials: &credentials,
            retry_by,
        };
        // Unbounded: the 401 gets one retry with a fresh token, and the second 401 is final.
        let answer = send(&egress, Some(auth(None)), request()).await.unwrap();
        assert_eq!(answer.status, 401);
        assert_eq!(api_hits.load(Ordering::SeqCst), 2);
        assert_eq!(token_hits.load(Ordering::SeqCst), 2);
        // No time left for a retry: the first 401 is the answer.
        let now = Some(Instant::now());
        let answer = send(&egress, Some(auth(now)), request()).await.unwrap();
        assert_eq!(answer.status, 401);
        assert_eq!(api_hits.load(Ordering::SeqCst), 3);
        assert_eq!(token_hits.load(Ordering::SeqCst), 2);
    }
}
