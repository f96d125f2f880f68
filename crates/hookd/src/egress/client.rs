//! The shared reqwest client and the connect-time half of the policy.

use std::error::Error as StdError;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;
use url::{Host, Url};

use super::policy::{lookup, Target};
use super::{EgressError, EgressPolicy, OutboundRequest, OutboundResponse, Refusal};
use crate::config::Config;

const USER_AGENT: &str = concat!("hookd/", env!("CARGO_PKG_VERSION"));

/// The one outbound HTTP client. Cheap to clone: every clone shares one connection pool, so
/// repeated deliveries to an endpoint reuse kept-alive connections.
#[derive(Debug, Clone)]
pub struct EgressClient {
    http: reqwest::Client,
    policy: Arc<EgressPolicy>,
    /// With a proxy the proxy resolves destination names, so `send` checks them itself.
    proxied: bool,
}

impl EgressClient {
    /// Builds the client. `proxy` is `http://host:port` (or `https://…`); the proxy is the
    /// operator's own infrastructure, so its address is exempt from the policy.
    pub fn new(policy: EgressPolicy, proxy: Option<&str>) -> anyhow::Result<Self> {
        let policy = Arc::new(policy);
        let mut proxy_host = None;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(redirect::Policy::none())
            .referer(false)
            .user_agent(USER_AGENT)
            // Second line of defence behind the scheme check in `send`.
            .https_only(!policy.allow_http)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Duration::from_secs(60));
        builder = match proxy {
            Some(raw) => {
                let url = Url::parse(raw)
                    .with_context(|| "egress proxy (HOOKD_EGRESS_PROXY) is not a URL")?;
                if let Some(Host::Domain(name)) = url.host() {
                    proxy_host = Some(name.to_string());
                }
                let proxy = reqwest::Proxy::all(url)
                    .context("egress proxy (HOOKD_EGRESS_PROXY) is not usable as a proxy")?;
                builder.proxy(proxy)
            }
            // Explicitly: otherwise reqwest would pick up HTTP(S)_PROXY from the environment
            // and route around the operator's configuration.
            None => builder.no_proxy(),
        };
        let resolver = PolicyResolver {
            policy: Arc::clone(&policy),
            proxy_host,
        };
        let http = builder
            .dns_resolver(Arc::new(resolver))
            .build()
            .context("building the outbound HTTP client")?;
        Ok(Self {
            http,
            policy,
            proxied: proxy.is_some(),
        })
    }

    /// The client described by `egress_allow_http`, `egress_allow_nets` and `egress_proxy`.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let policy = EgressPolicy {
            allow_http: config.egress_allow_http,
            allow_nets: config.egress_allow_nets.clone(),
        };
        Self::new(policy, config.egress_proxy.as_deref())
    }

    /// The policy this client enforces, for create-time checks that must agree with it.
    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// Sends one request under the policy and the request's time and size bounds. Redirects are
    /// never followed: a 3xx is returned like any other status.
    // At debug level: a span per outbound request is measurable on the delivery hot path, and
    // the events inside it are debug-level too.
    #[tracing::instrument(
        level = "debug",
        skip_all,
        fields(method = %request.method, host = request.url.host_str().unwrap_or(""))
    )]
    pub async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, EgressError> {
        let started = Instant::now();
        let limit = request.timeout;
        // The one deadline: dropping the future on expiry closes the connection mid-flight.
        let result = match tokio::time::timeout(limit, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => Err(EgressError::Timeout(limit)),
        };
        let duration = started.elapsed();
        match &result {
            Ok(resp) => tracing::debug!(status = resp.status, ?duration, "outbound response"),
            Err(error) => tracing::debug!(%error, ?duration, "outbound request failed"),
        }
        result.map(|resp| OutboundResponse { duration, ..resp })
    }

    async fn exchange(&self, request: OutboundRequest) -> Result<OutboundResponse, EgressError> {
        let OutboundRequest {
            method,
            url,
            headers,
            body,
            max_response_bytes,
            ..
        } = request;
        match self.policy.target(&url)? {
            // hyper dials IP literals without asking the resolver, so check them here.
            Target::Ip(ip) => self.policy.check_literal(&url, ip)?,
            // Through a proxy the proxy resolves the name and our resolver never sees it, so
            // resolve it here and require every address to be allowed. Residual TOCTOU: the
            // proxy does its own look-up moments later, and a rebinding DNS server could answer
            // it differently; operators who need a hard guarantee should make the proxy refuse
            // internal destinations too. A name we cannot resolve is not sent (fail closed),
            // matching the direct path, where it fails to connect.
            Target::Name(name) if self.proxied => {
                let addrs = lookup(&name)
                    .await
                    .map_err(|e| EgressError::Connect(ResolveError::new(&name, e).to_string()))?;
                self.policy.check_resolved(&url, &addrs)?;
            }
            // Checked at connect time by `PolicyResolver`, on the addresses actually dialled.
            Target::Name(_) => {}
        }
        let mut response = self
            .http
            .request(method, url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let status = response.status().as_u16();
        let headers = std::mem::take(response.headers_mut());
        let (body, truncated) = read_capped(response, max_response_bytes).await?;
        Ok(OutboundResponse {
            status,
            headers,
            body,
            truncated,
            duration: Duration::ZERO,
        })
    }
}

/// Reads at most `max` body bytes chunk by chunk; a longer body is cut off and the rest never
/// read (dropping the response closes that connection instead of draining it).
async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<(Bytes, bool), EgressError> {
    let expected = response.content_length().unwrap_or(0);
    let capacity = usize::try_from(expected).unwrap_or(usize::MAX).min(max);
    let mut body = BytesMut::with_capacity(capacity.min(64 * 1024));
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
        let room = max - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body.freeze(), true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body.freeze(), false))
}

/// The connect-time guard: resolves with the system resolver and passes on only the addresses
/// the policy allows, so the connector can never dial a refused address, whatever DNS answered
/// at create time.
struct PolicyResolver {
    policy: Arc<EgressPolicy>,
    /// The proxy's host name, resolved without the policy: it is usually internal by design.
    proxy_host: Option<String>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        let is_proxy = self
            .proxy_host
            .as_deref()
            .is_some_and(|proxy| proxy.eq_ignore_ascii_case(&host));
        Box::pin(async move {
            let resolved = lookup(&host)
                .await
                .map_err(|e| ResolveError::new(&host, e))?;
            if is_proxy {
                return Ok(to_addrs(resolved));
            }
            let (allowed, refused): (Vec<IpAddr>, Vec<IpAddr>) = resolved
                .into_iter()
                .partition(|ip| policy.blocked(*ip).is_none());
            if allowed.is_empty() {
                let Some(&first) = refused.first() else {
                    let e = io::Error::new(io::ErrorKind::NotFound, "no addresses");
                    return Err(Box::new(ResolveError::new(&host, e)) as _);
                };
                return Err(Box::new(policy.refuse_name(&host, first)) as _);
            }
            Ok(to_addrs(allowed))
        })
    }
}

fn to_addrs(ips: Vec<IpAddr>) -> Addrs {
    // Port 0 is replaced by the URL's port (or the scheme's default) by the connector.
    Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)))
}

/// A DNS failure, kept as its own type so `classify` can tell it from a connection failure.
#[derive(Debug, thiserror::Error)]
#[error("could not resolve {host} ({source})")]
struct ResolveError {
    host: String,
    source: io::Error,
}

impl ResolveError {
    fn new(host: &str, source: io::Error) -> Self {
        Self {
            host: host.to_string(),
            source,
        }
    }
}

/// Turns reqwest's error (a chain of reqwest → hyper-util → hyper → io) into a short sentence:
/// our own refusal or DNS failure if it is in the chain, else a plain phrase for well-known
/// socket errors, else the innermost message.
fn classify(err: &reqwest::Error) -> EgressError {
    let mut phrase = None;
    let mut innermost = err.to_string();
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return EgressError::Refused(refusal.clone());
        }
        if let Some(dns) = e.downcast_ref::<ResolveError>() {
            return EgressError::Connect(dns.to_string());
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            phrase = phrase.or_else(|| io_phrase(io.kind()));
        }
        innermost = e.to_string();
        cause = e.source();
    }
    match phrase {
        Some(phrase) => EgressError::Connect(phrase.to_string()),
        None if err.is_connect() => EgressError::Connect(format!("could not connect: {innermost}")),
        None => EgressError::Protocol(format!("invalid or incomplete HTTP response ({innermost})")),
    }
}

fn io_phrase(kind: io::ErrorKind) -> Option<&'static str> {
    use io::ErrorKind::*;
    Some(match kind {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset by the server",
        ConnectionAborted => "connection aborted",
        BrokenPipe => "connection closed by the server while sending the request",
        NetworkUnreachable => "network unreachable",
        HostUnreachable => "host unreachable",
        AddrNotAvailable => "address not available",
        TimedOut => "connection timed out",
        _ => return None,
    })
}
