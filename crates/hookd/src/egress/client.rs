//! The one outbound client and the connect-time half of the policy.
//!
//! Direct sends (the common case) go through hyper-util's pooled client over rustls; through an
//! operator's proxy they go through reqwest, which speaks the proxy protocols (absolute-form
//! requests for http, CONNECT tunnels for https). Both dial only what [`PolicyResolver`]
//! allows. Why two: per delivery, reqwest's request and response wrappers cost about 10 µs of
//! CPU more than hyper-util's client (docs/performance.md), and deliveries are the hot path;
//! proxy support is what reqwest adds that we would otherwise write ourselves.

use std::error::Error as StdError;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::prelude::{Engine, BASE64_STANDARD};
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use percent_encoding::percent_decode_str;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, USER_AGENT};
use reqwest::redirect;
use reqwest::Method;
use url::{Host, Url};

use super::policy::{lookup, Target};
use super::resolver::{PolicyResolver, ResolveError};
use super::{EgressError, EgressPolicy, OutboundRequest, OutboundResponse, Refusal};
use crate::config::Config;

const AGENT: &str = concat!("hookd/", env!("CARGO_PKG_VERSION"));
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

type DirectClient =
    hyper_util::client::legacy::Client<HttpsConnector<HttpConnector<PolicyResolver>>, Full<Bytes>>;

// One per process, built once and only borrowed per request: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Transport {
    Direct(DirectClient),
    Proxied(reqwest::Client),
}

/// The one outbound HTTP client. Cheap to clone: every clone shares one connection pool, so
/// repeated deliveries to an endpoint reuse kept-alive connections.
#[derive(Debug, Clone)]
pub struct EgressClient {
    transport: Transport,
    policy: Arc<EgressPolicy>,
}

impl EgressClient {
    /// Builds the client. `proxy` is `http://host:port` (or `https://…`); the proxy is the
    /// operator's own infrastructure, so its address is exempt from the policy.
    pub fn new(policy: EgressPolicy, proxy: Option<&str>) -> anyhow::Result<Self> {
        let policy = Arc::new(policy);
        let transport = match proxy {
            None => Transport::Direct(direct_client(&policy)?),
            Some(raw) => Transport::Proxied(proxied_client(&policy, raw)?),
        };
        Ok(Self { transport, policy })
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
        let proxied = matches!(self.transport, Transport::Proxied(_));
        match self.policy.target(&request.url)? {
            // Connectors dial IP literals without asking the resolver, so check them here.
            Target::Ip(ip) => self.policy.check_literal(&request.url, ip)?,
            // Through a proxy the proxy resolves the name and our resolver never sees it, so
            // resolve it here and require every address to be allowed. Residual TOCTOU: the
            // proxy does its own look-up moments later, and a rebinding DNS server could answer
            // it differently; operators who need a hard guarantee should make the proxy refuse
            // internal destinations too. A name we cannot resolve is not sent (fail closed),
            // matching the direct path, where it fails to connect.
            Target::Name(name) if proxied => {
                let addrs = lookup(&name)
                    .await
                    .map_err(|e| EgressError::Connect(ResolveError::new(&name, e).to_string()))?;
                self.policy.check_resolved(&request.url, &addrs)?;
            }
            // Checked at connect time by `PolicyResolver`, on the addresses actually dialled.
            Target::Name(_) => {}
        }
        let max = request.max_response_bytes;
        match &self.transport {
            Transport::Direct(client) => {
                let response = client
                    .request(to_hyper(request)?)
                    .await
                    .map_err(|e| classify(&e, e.is_connect()))?;
                read_response(response, max).await
            }
            Transport::Proxied(client) => {
                let response = client
                    .request(request.method, request.url)
                    .headers(request.headers)
                    .body(request.body)
                    .send()
                    .await
                    .map_err(|e| classify(&e, e.is_connect()))?;
                read_response(http::Response::from(response), max).await
            }
        }
    }
}

/// hyper-util's pooled HTTP/1.1 client: the policy resolver, rustls with the webpki roots,
/// https only unless the policy allows http.
fn direct_client(policy: &Arc<EgressPolicy>) -> anyhow::Result<DirectClient> {
    let mut http = HttpConnector::new_with_resolver(PolicyResolver::new(Arc::clone(policy), None));
    // Schemes are the TLS layer's business (and the policy's, checked before sending).
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_keepalive(Some(TCP_KEEPALIVE));
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("configuring TLS for outbound requests")?
    .with_root_certificates(rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
    .with_no_client_auth();
    let tls = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
    // Second line of defence behind the scheme check in `exchange`.
    let tls = if policy.allow_http {
        tls.https_or_http()
    } else {
        tls.https_only()
    };
    let connector = tls.enable_http1().wrap_connector(http);
    Ok(
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .build(connector),
    )
}

/// reqwest through the operator's proxy.
fn proxied_client(policy: &Arc<EgressPolicy>, raw: &str) -> anyhow::Result<reqwest::Client> {
    let url = Url::parse(raw).with_context(|| "egress proxy (HOOKD_EGRESS_PROXY) is not a URL")?;
    let proxy_host = match url.host() {
        Some(Host::Domain(name)) => Some(name.to_string()),
        _ => None,
    };
    let proxy = reqwest::Proxy::all(url)
        .context("egress proxy (HOOKD_EGRESS_PROXY) is not usable as a proxy")?;
    reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(redirect::Policy::none())
        .referer(false)
        .user_agent(AGENT)
        // Second line of defence behind the scheme check in `exchange`.
        .https_only(!policy.allow_http)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .tcp_keepalive(TCP_KEEPALIVE)
        .proxy(proxy)
        .dns_resolver(Arc::new(PolicyResolver::new(
            Arc::clone(policy),
            proxy_host,
        )))
        .build()
        .context("building the outbound HTTP client")
}

/// The hyper request for `request`, with our `User-Agent` unless the caller set one.
fn to_hyper(mut request: OutboundRequest) -> Result<http::Request<Full<Bytes>>, EgressError> {
    // A user name or password in the URL becomes Basic authentication, as browsers, curl and
    // reqwest do; never sent as part of the URL.
    let credentials = take_credentials(&mut request.url);
    let uri: http::Uri = request.url.as_str().parse().map_err(|e| {
        EgressError::Refused(Refusal {
            reason: format!("the URL cannot be sent: {e}."),
        })
    })?;
    // hyper frames a non-empty body itself, but sends no length for an empty one; a POST, PUT or
    // PATCH without a length gets 411 from servers such as nginx.
    let says_empty = request.body.is_empty()
        && matches!(request.method, Method::POST | Method::PUT | Method::PATCH);
    let mut hyper_request = http::Request::new(Full::new(request.body));
    *hyper_request.method_mut() = request.method;
    *hyper_request.uri_mut() = uri;
    *hyper_request.headers_mut() = request.headers;
    let headers = hyper_request.headers_mut();
    headers
        .entry(USER_AGENT)
        .or_insert(HeaderValue::from_static(AGENT));
    if says_empty {
        headers
            .entry(CONTENT_LENGTH)
            .or_insert(HeaderValue::from_static("0"));
    }
    if let Some(credentials) = credentials {
        headers.entry(AUTHORIZATION).or_insert(credentials);
    }
    Ok(hyper_request)
}

/// Removes the user name and password from `url`; the `Authorization: Basic` value they make
/// (percent-decoded, marked sensitive), if there were any.
fn take_credentials(url: &mut Url) -> Option<HeaderValue> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |raw: &str| percent_decode_str(raw).decode_utf8_lossy().into_owned();
    let pair = format!(
        "{}:{}",
        decode(url.username()),
        decode(url.password().unwrap_or(""))
    );
    // Cannot fail for a URL with a host, which every outbound URL has.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let mut value =
        HeaderValue::from_str(&format!("Basic {}", BASE64_STANDARD.encode(pair))).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Status, headers and at most `max` body bytes, read frame by frame; a longer body is cut off
/// and the rest never read (dropping the response closes that connection instead of draining
/// it).
async fn read_response<B>(
    response: http::Response<B>,
    max: usize,
) -> Result<OutboundResponse, EgressError>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: StdError + Send + Sync + 'static,
{
    let (parts, mut body) = response.into_parts();
    let expected = http_body::Body::size_hint(&body).exact().unwrap_or(0);
    let capacity = usize::try_from(expected).unwrap_or(usize::MAX).min(max);
    let mut kept = BytesMut::with_capacity(capacity.min(64 * 1024));
    let mut truncated = false;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| classify(&e, false))?;
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        let room = max - kept.len();
        if chunk.len() > room {
            kept.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        kept.extend_from_slice(&chunk);
    }
    Ok(OutboundResponse {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: kept.freeze(),
        truncated,
        duration: Duration::ZERO,
    })
}

/// Turns a client error (a chain such as reqwest → hyper-util → hyper → io) into a short
/// sentence: our own refusal or DNS failure if it is in the chain, else a plain phrase for
/// well-known socket errors, else the innermost message. `is_connect`: no connection was made.
fn classify(err: &(dyn StdError + 'static), is_connect: bool) -> EgressError {
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
        None if is_connect => EgressError::Connect(format!("could not connect: {innermost}")),
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
