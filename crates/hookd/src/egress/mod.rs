//! Safe egress: the one outbound HTTP client behind every request hookd makes to the outside
//! world (webhook deliveries and custom-integration calls).
//!
//! hookd sends requests to URLs its users choose, so without care it is an SSRF gadget: a URL
//! (or a DNS name that changes its answer after it was checked) pointing at `127.0.0.1`, the
//! private network, or the cloud metadata service at `169.254.169.254` would let a tenant probe or
//! attack what sits behind hookd. This module owns every defence, in one place so no caller can
//! forget one:
//!
//! - **Policy on the resolved address, at connect time.** A custom resolver hands the connector
//!   only addresses the [`EgressPolicy`] allows, so the address that was checked is the address
//!   that is dialled: no DNS-rebinding window. IP literals never reach a resolver, so they are
//!   checked explicitly before sending.
//! - **No redirects.** A 3xx is returned as-is; following it would re-open every hole above.
//! - **Bounded time and size.** One timeout covers resolve + connect + headers + body, and the
//!   body is read incrementally up to a cap, never buffered whole.
//! - **Optional egress proxy**, so all traffic leaves from known IPs.
//!
//! [`EgressPolicy::check_destination`] is the create-time check the API runs on endpoint and
//! integration URLs; [`EgressClient::send`] is the only way to make an outbound request.

mod client;
mod policy;
#[cfg(test)]
mod props;
mod resolver;
#[cfg(test)]
mod tests;

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;
use url::Url;

pub use client::EgressClient;
pub use policy::{EgressPolicy, Refusal};

/// Response bodies beyond this are cut off unless the caller asks for more: attempt logs keep an
/// excerpt, not a download.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// One outgoing request, fully described up front so its time and size bounds can't be forgotten.
#[derive(Clone)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Covers everything: DNS, connect, TLS, sending, response headers and body.
    pub timeout: Duration,
    /// Body bytes kept; the rest is not read and the response is marked `truncated`.
    pub max_response_bytes: usize,
}

/// Without credentials: the URL's userinfo and query (which may hold a password or a secret
/// query value) are left out, header values marked sensitive print as such, the body as its size.
impl std::fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundRequest")
            .field("method", &self.method)
            .field("url", &crate::domain::redact::display_url(&self.url))
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

impl OutboundRequest {
    /// A request without headers or body, with a 15 s timeout and a
    /// [`DEFAULT_MAX_RESPONSE_BYTES`] cap; set the public fields to change them.
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            timeout: Duration::from_secs(15),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// What came back. Any status, including 3xx, is a response: interpreting it is the caller's job.
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// At most `max_response_bytes` of the body.
    pub body: Bytes,
    /// The body was longer than `max_response_bytes` and was cut off.
    pub truncated: bool,
    /// From the start of `send` until the body was read (or cut off).
    pub duration: Duration,
}

/// Why no response came back. `Display` is a short sentence fit for an attempt's `error` field.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EgressError {
    /// The egress policy forbids the destination (scheme or address).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The whole exchange did not finish within the request's timeout.
    #[error("timed out after {} ms", .0.as_millis())]
    Timeout(Duration),
    /// No usable connection: DNS failure, refused, reset, unreachable, TLS handshake failure.
    #[error("{0}")]
    Connect(String),
    /// The peer answered with something that is not a valid HTTP response.
    #[error("{0}")]
    Protocol(String),
}

impl EgressError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Refused(_))
    }
}
