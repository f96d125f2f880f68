//! OAuth2 client credentials at send time: fetch a token (RFC 6749 §4.4) through the egress
//! client, cache it per credential ([`TokenCache`]), send `Authorization: Bearer <token>`, and on
//! a 401 refresh it once and send once more ([`send_authorized`]). Webhook deliveries and
//! integration calls both go through here; the configuration and its parsing live in
//! [`crate::domain::oauth2`].

mod cache;
pub mod token;

use std::time::Duration;

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

/// Sends `request` as is without `auth`, else through [`send_authorized`]: the one way deliveries
/// and integration calls go out.
pub async fn send(
    egress: &EgressClient,
    auth: Option<(&TokenCache, &ClientCredentials)>,
    request: OutboundRequest,
) -> Result<OutboundResponse, AuthorizedError> {
    match auth {
        None => Ok(egress.send(request).await?),
        Some((tokens, credentials)) => send_authorized(egress, tokens, credentials, request).await,
    }
}

/// Sends `request` with a bearer token for `credentials`. When the answer is 401, the token is
/// dropped, a new one fetched and the request sent once more with it; that second answer is
/// final, whatever it is.
pub async fn send_authorized(
    egress: &EgressClient,
    tokens: &TokenCache,
    credentials: &ClientCredentials,
    request: OutboundRequest,
) -> Result<OutboundResponse, AuthorizedError> {
    let token_timeout = token_timeout(request.timeout);
    let token = tokens.token(credentials, token_timeout).await?;
    let answer = egress.send(with_token(request.clone(), &token)).await?;
    if answer.status != 401 {
        return Ok(answer);
    }
    tokens.reject(credentials, &token);
    let fresh = tokens.token(credentials, token_timeout).await?;
    Ok(egress.send(with_token(request, &fresh)).await?)
}

fn with_token(mut request: OutboundRequest, token: &HeaderValue) -> OutboundRequest {
    request.headers.insert(AUTHORIZATION, token.clone());
    request
}
