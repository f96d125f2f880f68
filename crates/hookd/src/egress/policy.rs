//! The egress policy: which schemes and which addresses hookd may send requests to.
//!
//! This file is pure policy (plus the DNS look-up the create-time check needs); the client in
//! `client.rs` applies it at connect time. The rule is "public unicast only": anything that
//! reaches the machine itself, the private network around it, the cloud metadata service or a
//! reserved range is refused unless the operator allowlisted that network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ipnet::IpNet;
use url::{Host, Url};

use crate::domain::redact::display_url;

/// How long the create-time check waits for DNS. Short, because it runs inside an API request and
/// because an answer is optional: the connect-time check is the real guard.
const CREATE_TIME_DNS_TIMEOUT: Duration = Duration::from_secs(2);

/// Which destinations outgoing requests may reach. Built once from the configuration
/// (`egress_allow_http`, `egress_allow_nets`) and shared by the API's create-time checks and the
/// client's connect-time checks, so both always agree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Allow `http://` destinations (tests and local development); otherwise https only.
    pub allow_http: bool,
    /// Networks exempt from the internal-address block, e.g. `127.0.0.0/8` for local receivers.
    pub allow_nets: Vec<IpNet>,
}

/// Why a destination is not allowed. `reason` is a complete sentence meant for the API client
/// (400 `url_not_allowed`) or an attempt's `error` field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    pub reason: String,
}

impl Refusal {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// `subject` says how we came to `ip`: "10.0.0.1 is", "https://x/ resolves to 10.0.0.1,".
    fn address(subject: String, ip: IpAddr, class: Blocked) -> Self {
        Self::new(format!(
            "{subject} {}; hookd does not send requests to internal or reserved addresses \
             (allowlist the network with HOOKD_EGRESS_ALLOW_NETS if this is intended)",
            class.describe(ip)
        ))
    }
}

/// The host of a destination after parsing: an address we can check now, or a name that must be
/// resolved first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Ip(IpAddr),
    Name(String),
}

impl EgressPolicy {
    /// Checks one address: allowed when it is public unicast or inside `allow_nets`.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        match self.blocked(ip) {
            None => Ok(()),
            Some(class) => Err(Refusal::address(format!("{ip} is"), ip, class)),
        }
    }

    /// The create-time check (endpoint and integration URLs): the scheme rule, IP literals in any
    /// notation, and every address a name resolves to within ~2 s. A name that does not resolve
    /// (yet, or on a machine without DNS) is accepted: the connect-time check is the real guard.
    pub async fn check_destination(&self, url: &Url) -> Result<(), Refusal> {
        match self.target(url)? {
            Target::Ip(ip) => self.check_literal(url, ip),
            Target::Name(name) => {
                match tokio::time::timeout(CREATE_TIME_DNS_TIMEOUT, lookup(&name)).await {
                    Ok(Ok(addrs)) => self.check_resolved(url, &addrs),
                    Ok(Err(_)) | Err(_) => Ok(()),
                }
            }
        }
    }

    /// Applies the scheme rule and extracts the host. `url` has already normalised IPv4 written
    /// as an integer, in octal or in hex (`2130706433`, `0177.0.0.1`) into `Host::Ipv4`.
    pub(crate) fn target(&self, url: &Url) -> Result<Target, Refusal> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => {
                return Err(Refusal::new(format!(
                    "{} uses plain http; hookd only sends to https:// destinations \
                     (set HOOKD_EGRESS_ALLOW_HTTP=true to allow http)",
                    display_url(url)
                )))
            }
            other => {
                return Err(Refusal::new(format!(
                    "{} uses the unsupported scheme {other:?}; destinations must be \
                     https:// URLs",
                    display_url(url)
                )))
            }
        }
        match url.host() {
            Some(Host::Ipv4(ip)) => Ok(Target::Ip(ip.into())),
            Some(Host::Ipv6(ip)) => Ok(Target::Ip(ip.into())),
            // Belt and braces: should `url` ever leave something an IP parser accepts as a
            // domain, treat it as the literal that hyper will connect to without resolving.
            Some(Host::Domain(name)) => Ok(match name.parse::<IpAddr>() {
                Ok(ip) => Target::Ip(ip),
                Err(_) => Target::Name(name.to_string()),
            }),
            None => Err(Refusal::new(format!("{} has no host", display_url(url)))),
        }
    }

    pub(crate) fn check_literal(&self, url: &Url, ip: IpAddr) -> Result<(), Refusal> {
        match self.blocked(ip) {
            None => Ok(()),
            Some(class) => Err(Refusal::address(
                format!("{} points at {ip},", display_url(url)),
                ip,
                class,
            )),
        }
    }

    /// Every address must be allowed: a name that mixes public and internal answers is refused,
    /// because whoever connects next (a proxy, a later attempt) may pick the internal one.
    pub(crate) fn check_resolved(&self, url: &Url, addrs: &[IpAddr]) -> Result<(), Refusal> {
        for &ip in addrs {
            if let Some(class) = self.blocked(ip) {
                return Err(Refusal::address(
                    format!("{} resolves to {ip},", display_url(url)),
                    ip,
                    class,
                ));
            }
        }
        Ok(())
    }

    /// The refusal for a name none of whose addresses is allowed (used by the resolver, which
    /// knows the host but not the URL).
    pub(crate) fn refuse_name(&self, name: &str, ip: IpAddr) -> Refusal {
        let class = self.blocked(ip).unwrap_or(Blocked::Reserved);
        Refusal::address(format!("{name} resolves to {ip},"), ip, class)
    }

    /// `None` when `ip` may be contacted. The allowlist is matched against the address as written
    /// and in canonical form, so `127.0.0.0/8` also covers `::ffff:127.0.0.1`.
    pub(crate) fn blocked(&self, ip: IpAddr) -> Option<Blocked> {
        let canonical = ip.to_canonical();
        if self
            .allow_nets
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
        {
            return None;
        }
        match ip {
            IpAddr::V4(v4) => classify_v4(v4),
            IpAddr::V6(v6) => classify_v6(v6),
        }
    }
}

/// Resolves a host name with the system resolver (getaddrinfo on tokio's blocking pool).
pub(crate) async fn lookup(name: &str) -> std::io::Result<Vec<IpAddr>> {
    let addrs = tokio::net::lookup_host((name, 0)).await?;
    Ok(addrs.map(|addr| addr.ip()).collect())
}

/// Why an address is not public unicast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blocked {
    Loopback,
    Private,
    LinkLocal,
    SharedCgnat,
    Multicast,
    Unspecified,
    Broadcast,
    UniqueLocal,
    Documentation,
    Reserved,
}

impl Blocked {
    fn describe(self, ip: IpAddr) -> &'static str {
        match self {
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::LinkLocal
                if ip.to_canonical() == IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)) =>
            {
                "the link-local cloud metadata address"
            }
            Self::LinkLocal => "a link-local address",
            Self::SharedCgnat => "a carrier-grade NAT (100.64.0.0/10) address",
            Self::Multicast => "a multicast address",
            Self::Unspecified => "an unspecified (\"this host\") address",
            Self::Broadcast => "the broadcast address",
            Self::UniqueLocal => "a unique-local (private) IPv6 address",
            Self::Documentation => "a documentation address",
            Self::Reserved => "a reserved address",
        }
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Blocked> {
    let [a, b, c, _] = ip.octets();
    let class = match (a, b, c) {
        // 0.0.0.0/8: "this network"; Linux connects 0.0.0.0 to the local host.
        (0, _, _) => Blocked::Unspecified,
        (127, _, _) => Blocked::Loopback,
        (10, _, _) | (192, 168, _) => Blocked::Private,
        (172, _, _) if b & 0xf0 == 16 => Blocked::Private,
        (100, _, _) if b & 0xc0 == 64 => Blocked::SharedCgnat,
        (169, 254, _) => Blocked::LinkLocal,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Blocked::Documentation,
        // IETF protocol assignments, the deprecated 6to4 relay anycast, benchmarking.
        (192, 0, 0) | (192, 88, 99) => Blocked::Reserved,
        (198, _, _) if b & 0xfe == 18 => Blocked::Reserved,
        _ if ip.is_broadcast() => Blocked::Broadcast,
        (224..=239, _, _) => Blocked::Multicast,
        (240..=255, _, _) => Blocked::Reserved,
        _ => return None,
    };
    Some(class)
}

fn classify_v6(ip: Ipv6Addr) -> Option<Blocked> {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let class = if ip.is_unspecified() {
        Blocked::Unspecified
    } else if ip.is_loopback() {
        Blocked::Loopback
    } else if let Some(v4) = ip.to_ipv4_mapped() {
        // ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket.
        return classify_v4(v4);
    } else if s[..6] == [0; 6] {
        // ::a.b.c.d (IPv4-compatible) is deprecated; never a legitimate destination.
        classify_v4(embedded_v4(s[6], s[7])).unwrap_or(Blocked::Reserved)
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // Well-known NAT64 prefix: the gateway forwards to the embedded IPv4 address.
        return classify_v4(embedded_v4(s[6], s[7]));
    } else if s[0] == 0x2002 {
        // 6to4: the embedded IPv4 address is where the traffic ends up.
        return classify_v4(embedded_v4(s[1], s[2]));
    } else if ip.is_multicast() {
        Blocked::Multicast
    } else if s[0] & 0xffc0 == 0xfe80 {
        Blocked::LinkLocal
    } else if s[0] & 0xffc0 == 0xfec0 {
        Blocked::Private // deprecated site-local
    } else if s[0] & 0xfe00 == 0xfc00 {
        Blocked::UniqueLocal
    } else if (s[0], s[1]) == (0x2001, 0x0db8) || s[0] & 0xfff0 == 0x3ff0 {
        Blocked::Documentation // 2001:db8::/32 and 3fff::/20
    } else if s[0] & 0xe000 != 0x2000 {
        // Outside 2000::/3 nothing is global unicast (discard-only 100::/64, local-use NAT64
        // 64:ff9b:1::/48 and unassigned space included).
        Blocked::Reserved
    } else {
        return None;
    };
    Some(class)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(nets: &str) -> EgressPolicy {
        EgressPolicy {
            allow_http: false,
            allow_nets: nets
                .split(',')
                .filter(|n| !n.is_empty())
                .map(|n| n.parse().unwrap())
                .collect(),
        }
    }

    fn url(raw: &str) -> Url {
        Url::parse(raw).unwrap()
    }

    /// Each destination, the allowlist that exempts it, and the class named in the refusal.
    const MATRIX: &[(&str, &str, &str)] = &[
        ("https://127.0.0.1/", "127.0.0.0/8", "loopback"),
        ("https://10.0.0.1/", "10.0.0.0/8", "private"),
        ("https://172.16.0.1/", "172.16.0.0/12", "private"),
        ("https://192.168.1.1/", "192.168.0.0/16", "private"),
        (
            "https://169.254.169.254/latest/",
            "169.254.0.0/16",
            "metadata",
        ),
        ("https://100.64.0.1/", "100.64.0.0/10", "carrier-grade NAT"),
        ("https://0.0.0.0/", "0.0.0.0/8", "unspecified"),
        ("https://[::]/", "::/128", "unspecified"),
        ("https://[::1]/", "::1/128", "loopback"),
        ("https://[fc00::1]/", "fc00::/7", "unique-local"),
        ("https://[fe80::1]/", "fe80::/10", "link-local"),
        ("https://[::ffff:127.0.0.1]/", "127.0.0.0/8", "loopback"),
        ("https://[::ffff:a9fe:a9fe]/", "169.254.0.0/16", "metadata"),
        ("https://2130706433/", "127.0.0.0/8", "loopback"),
        ("https://0177.0.0.1/", "127.0.0.0/8", "loopback"),
        ("https://0x7f.1/", "127.0.0.0/8", "loopback"),
        ("https://127.1/", "127.0.0.0/8", "loopback"),
        ("https://224.0.0.1/", "224.0.0.0/4", "multicast"),
        (
            "https://255.255.255.255/",
            "255.255.255.255/32",
            "broadcast",
        ),
        ("https://[ff02::1]/", "ff00::/8", "multicast"),
        ("https://[::127.0.0.1]/", "::/96", "loopback"),
        ("https://[64:ff9b::a00:1]/", "64:ff9b::/96", "private"),
        ("https://[2002:c0a8:101::1]/", "2002::/16", "private"),
        ("https://192.0.2.1/", "192.0.2.0/24", "documentation"),
        ("https://localhost/", "127.0.0.0/8,::1/128", "loopback"),
    ];

    #[tokio::test]
    async fn create_time_check_refuses_internal_destinations_unless_allowlisted() {
        for &(raw, nets, class) in MATRIX {
            let err = policy("")
                .check_destination(&url(raw))
                .await
                .expect_err(raw);
            assert!(err.reason.contains(class), "{raw}: {err}");
            assert!(err.reason.contains("HOOKD_EGRESS_ALLOW_NETS"), "{err}");
            policy(nets)
                .check_destination(&url(raw))
                .await
                .unwrap_or_else(|e| panic!("{raw} with {nets}: {e}"));
        }
    }

    #[tokio::test]
    async fn refusal_names_the_url_and_the_address() {
        let err = policy("")
            .check_destination(&url("https://10.0.0.1/hook"))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "https://10.0.0.1/hook points at 10.0.0.1, a private address; hookd does not send \
             requests to internal or reserved addresses (allowlist the network with \
             HOOKD_EGRESS_ALLOW_NETS if this is intended)"
        );
        let err = policy("")
            .check_destination(&url("https://localhost:9000/"))
            .await
            .unwrap_err();
        assert!(
            err.reason
                .starts_with("https://localhost:9000/ resolves to 127.0.0.1, a loopback"),
            "{err}"
        );
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            policy("").check_ip(ip).unwrap_or_else(|e| panic!("{e}"));
        }
        let err = policy("")
            .check_ip("10.1.2.3".parse().unwrap())
            .unwrap_err();
        assert!(
            err.reason.starts_with("10.1.2.3 is a private address"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn scheme_rule() {
        let http = url("http://hooks.example.com/");
        let err = policy("").check_destination(&http).await.unwrap_err();
        assert!(err.reason.contains("HOOKD_EGRESS_ALLOW_HTTP"), "{err}");
        let lenient = EgressPolicy {
            allow_http: true,
            ..policy("")
        };
        lenient.check_destination(&http).await.unwrap();
        for raw in ["ftp://hooks.example.com/", "file:///etc/passwd"] {
            assert!(lenient.check_destination(&url(raw)).await.is_err(), "{raw}");
        }
    }

    #[tokio::test]
    async fn unresolvable_names_are_accepted_at_create_time() {
        for raw in [
            "https://hooks.example.com/webhooks",
            "https://no-such-host.invalid/",
        ] {
            policy("").check_destination(&url(raw)).await.unwrap();
        }
    }
}
