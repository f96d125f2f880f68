//! The connect-time guard: resolves with the system resolver and passes on only the addresses
//! the policy allows, so a connector can never dial a refused address, whatever DNS answered at
//! create time. It plugs into both transports: hyper-util's connector (direct sends) and
//! reqwest's (through a proxy, where only the proxy's own name is resolved here).

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name as HyperName;

use super::policy::lookup;
use super::EgressPolicy;

type BoxError = Box<dyn StdError + Send + Sync>;

#[derive(Clone)]
pub(super) struct PolicyResolver {
    policy: Arc<EgressPolicy>,
    /// The proxy's host name, resolved without the policy: it is usually internal by design.
    proxy_host: Option<Arc<str>>,
}

impl PolicyResolver {
    pub(super) fn new(policy: Arc<EgressPolicy>, proxy_host: Option<String>) -> Self {
        Self {
            policy,
            proxy_host: proxy_host.map(Arc::from),
        }
    }

    /// The allowed addresses of `host`, with port 0 (the connector fills in the URL's port).
    fn resolve_allowed(
        &self,
        host: String,
    ) -> impl Future<Output = Result<std::vec::IntoIter<SocketAddr>, BoxError>> + Send + 'static
    {
        let policy = Arc::clone(&self.policy);
        let is_proxy = self
            .proxy_host
            .as_deref()
            .is_some_and(|proxy| proxy.eq_ignore_ascii_case(&host));
        async move {
            let resolved = lookup(&host)
                .await
                .map_err(|e| ResolveError::new(&host, e))?;
            let allowed: Vec<IpAddr> = if is_proxy {
                resolved
            } else {
                let (allowed, refused): (Vec<IpAddr>, Vec<IpAddr>) = resolved
                    .into_iter()
                    .partition(|ip| policy.blocked(*ip).is_none());
                if allowed.is_empty() {
                    let Some(&first) = refused.first() else {
                        let e = io::Error::new(io::ErrorKind::NotFound, "no addresses");
                        return Err(Box::new(ResolveError::new(&host, e)) as BoxError);
                    };
                    return Err(Box::new(policy.refuse_name(&host, first)) as BoxError);
                }
                allowed
            };
            let addrs: Vec<SocketAddr> = allowed
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            Ok(addrs.into_iter())
        }
    }
}

/// hyper-util's connector asks for names through `tower::Service`.
impl tower::Service<HyperName> for PolicyResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: HyperName) -> Self::Future {
        Box::pin(self.resolve_allowed(name.as_str().to_owned()))
    }
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolving = self.resolve_allowed(name.as_str().to_owned());
        Box::pin(async move {
            let addrs = resolving.await?;
            Ok(Box::new(addrs) as reqwest::dns::Addrs)
        })
    }
}

/// A DNS failure, kept as its own type so errors can be told from connection failures.
#[derive(Debug, thiserror::Error)]
#[error("could not resolve {host} ({source})")]
pub(super) struct ResolveError {
    host: String,
    source: io::Error,
}

impl ResolveError {
    pub(super) fn new(host: &str, source: io::Error) -> Self {
        Self {
            host: host.to_string(),
            source,
        }
    }
}
