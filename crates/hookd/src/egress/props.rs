//! Property tests of the egress policy against URLs as an attacker would write them.
//!
//! The oracle is the list of forbidden networks below, written out independently of
//! `classify_v4`/`classify_v6`: an address drawn from one of them, spelled in any notation the
//! `url` crate (WHATWG) or a lenient resolver understands — decimal, octal, hex, shortened
//! forms, full-width digits, percent-encoding, IPv4-mapped, -compatible, NAT64, 6to4, with
//! userinfo and ports — must never be allowed, and must be allowed once its network is
//! allowlisted. An address outside every listed network must be allowed in every spelling, so
//! the oracle and the policy cannot drift apart silently.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use url::Url;

use super::policy::Target;
use super::EgressPolicy;

/// Every IPv4 network hookd must not reach unless allowlisted (RFC 6890 and friends).
const FORBIDDEN_V4: &[(&str, &str)] = &[
    ("0.0.0.0/8", "unspecified"),
    ("127.0.0.0/8", "loopback"),
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("169.254.0.0/16", "link-local"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),
    ("198.18.0.0/15", "reserved"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
];

/// IPv6 networks that are forbidden whatever they embed.
const FORBIDDEN_V6: &[&str] = &[
    "::/128",
    "::1/128",
    "fe80::/10",
    "fec0::/10",
    "fc00::/7",
    "ff00::/8",
    "2001:db8::/32",
    "3fff::/20",
    "100::/64",
];

fn v4_nets() -> Vec<Ipv4Net> {
    FORBIDDEN_V4
        .iter()
        .map(|(net, _)| net.parse().unwrap())
        .collect()
}

fn v6_nets() -> Vec<Ipv6Net> {
    FORBIDDEN_V6
        .iter()
        .map(|net| net.parse().unwrap())
        .collect()
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    v4_nets().iter().any(|net| net.contains(&ip))
}

/// A random address inside `net`.
fn in_v4(net: Ipv4Net, bits: u32) -> Ipv4Addr {
    let host = if net.prefix_len() == 0 {
        bits
    } else {
        bits & !u32::from(net.netmask())
    };
    Ipv4Addr::from(u32::from(net.network()) | host)
}

fn in_v6(net: Ipv6Net, bits: u128) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(net.network()) | (bits & !u128::from(net.netmask())))
}

fn blocked_v4() -> impl Strategy<Value = Ipv4Addr> {
    (0..FORBIDDEN_V4.len(), any::<u32>()).prop_map(|(i, bits)| in_v4(v4_nets()[i], bits))
}

fn public_v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>()
        .prop_map(Ipv4Addr::from)
        .prop_filter("outside every forbidden network", |ip| !forbidden_v4(*ip))
}

/// One number written in decimal, octal (leading zero) or hex (`0x`/`0X`, any case), with
/// extra leading zeros where the radix allows them.
fn number(value: u32) -> impl Strategy<Value = String> {
    (0..3u8, 0..3usize, any::<bool>()).prop_map(move |(radix, zeros, upper)| match radix {
        0 => value.to_string(),
        1 => format!("0{}{value:o}", "0".repeat(zeros)),
        _ => {
            let digits = format!("{}{value:x}", "0".repeat(zeros));
            if upper {
                format!("0X{}", digits.to_uppercase())
            } else {
                format!("0x{digits}")
            }
        }
    })
}

/// An IPv4 address in one of the forms inet_aton and the WHATWG URL parser accept: four, three,
/// two parts or one number, each part in any radix; sometimes with a trailing dot.
fn v4_text(ip: Ipv4Addr) -> impl Strategy<Value = String> {
    let [a, b, c, d] = ip.octets().map(u32::from);
    let whole = u32::from(ip);
    let parts: Vec<u32> = vec![a, b, c, d];
    let forms = prop_oneof![
        parts
            .into_iter()
            .map(number)
            .collect::<Vec<_>>()
            .prop_map(|p| p.join(".")),
        (number(a), number(b), number((c << 8) | d)).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        (number(a), number(whole & 0xff_ffff)).prop_map(|(a, b)| format!("{a}.{b}")),
        number(whole),
    ];
    (forms, proptest::bool::weighted(0.1)).prop_map(
        |(text, dot)| {
            if dot {
                text + "."
            } else {
                text
            }
        },
    )
}

/// Rewrites a host the way IDNA maps it back: full-width digits, letters and dots, the
/// ideographic full stop, or percent-encoding of some characters.
fn disguise(host: String) -> impl Strategy<Value = String> {
    let len = host.chars().count();
    (0..4u8, proptest::collection::vec(any::<bool>(), len..=len)).prop_map(move |(how, pick)| {
        host.chars()
            .zip(pick)
            .map(|(ch, picked)| match (how, picked) {
                (1, true) if ch.is_ascii_alphanumeric() => {
                    char::from_u32(u32::from(ch) - 0x21 + 0xff01)
                        .unwrap()
                        .to_string()
                }
                (1, true) if ch == '.' => "．".to_string(),
                (2, true) if ch == '.' => "。".to_string(),
                (3, true) if ch.is_ascii_alphanumeric() || ch == '.' => {
                    format!("%{:02X}", u32::from(ch))
                }
                _ => ch.to_string(),
            })
            .collect()
    })
}

fn blocked_v6() -> impl Strategy<Value = Ipv6Addr> {
    let own =
        (0..FORBIDDEN_V6.len(), any::<u128>()).prop_map(|(i, bits)| in_v6(v6_nets()[i], bits));
    let embedding = |prefix: u128| {
        blocked_v4().prop_map(move |v4| Ipv6Addr::from(prefix | u128::from(u32::from(v4))))
    };
    prop_oneof![
        own,
        embedding(0xffff << 32),      // ::ffff:a.b.c.d
        embedding(0),                 // ::a.b.c.d
        embedding(0x0064_ff9b << 96), // 64:ff9b::a.b.c.d
        (blocked_v4(), any::<u128>()).prop_map(|(v4, low)| {
            // 2002:AABB:CCDD::/48 (6to4)
            let high = (0x2002u128 << 112) | (u128::from(u32::from(v4)) << 80);
            Ipv6Addr::from(high | (low & ((1 << 80) - 1)))
        }),
    ]
}

/// An IPv6 address as written in a URL: compressed, every group written out with leading
/// zeros, any case, or with its last 32 bits as a dotted quad.
fn v6_text(ip: Ipv6Addr) -> impl Strategy<Value = String> {
    (0..3u8, any::<bool>()).prop_map(move |(form, upper)| {
        let s = ip.segments();
        let text = match form {
            0 => ip.to_string(),
            1 => s
                .iter()
                .map(|g| format!("{g:04x}"))
                .collect::<Vec<_>>()
                .join(":"),
            _ => {
                let head = s[..6]
                    .iter()
                    .map(|g| format!("{g:x}"))
                    .collect::<Vec<_>>()
                    .join(":");
                let [_, _, _, _, _, _, hi, lo] = s;
                format!("{head}:{}.{}.{}.{}", hi >> 8, hi & 0xff, lo >> 8, lo & 0xff)
            }
        };
        if upper {
            text.to_uppercase()
        } else {
            text
        }
    })
}

/// `scheme://[userinfo@]host[:port]/path` around a host text.
fn url_around(host: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    let scheme = prop_oneof![Just("https"), Just("HTTPS"), Just("http"), Just("HtTp")];
    let userinfo = prop_oneof![
        Just(String::new()),
        Just("user:pass@".to_string()),
        Just("hooks.example.com@".to_string()),
        "[a-z0-9:%.]{0,12}@",
    ];
    let port = prop_oneof![
        Just(String::new()),
        Just(":443".to_string()),
        any::<u16>().prop_map(|p| format!(":{p}")),
    ];
    let path = prop_oneof![Just("/"), Just(""), Just("/hook?x=1#f"), Just("/..%2f")];
    (scheme, userinfo, host, port, path)
        .prop_map(|(scheme, user, host, port, path)| format!("{scheme}://{user}{host}{port}{path}"))
}

fn lenient() -> EgressPolicy {
    EgressPolicy {
        allow_http: true,
        allow_nets: Vec::new(),
    }
}

/// The create-time check without DNS: what a URL's host is, then the literal check.
fn verdict(policy: &EgressPolicy, url: &Url) -> Result<Option<IpAddr>, String> {
    match policy.target(url).map_err(|r| r.reason)? {
        Target::Ip(ip) => policy
            .check_literal(url, ip)
            .map(|()| Some(ip))
            .map_err(|r| r.reason),
        Target::Name(_) => Ok(None),
    }
}

/// A forbidden address in any spelling: the URL does not parse, or its host is that very
/// address and it is refused. Never a name left for DNS, never allowed.
fn assert_refused(raw: &str, expected: IpAddr) -> Result<(), TestCaseError> {
    let Ok(url) = Url::parse(raw) else {
        return Ok(());
    };
    match lenient().target(&url) {
        Ok(Target::Ip(ip)) => {
            prop_assert_eq!(ip.to_canonical(), expected.to_canonical(), "{}", raw);
            let err = lenient().check_literal(&url, ip).unwrap_err();
            prop_assert!(err.reason.contains("HOOKD_EGRESS_ALLOW_NETS"), "{}", err);
        }
        Ok(Target::Name(name)) => {
            return Err(TestCaseError::fail(format!(
                "{raw} left {name:?} to DNS instead of refusing {expected}"
            )))
        }
        Err(refusal) => prop_assert!(false, "{raw}: refused for another reason: {refusal}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_forbidden_ipv4_address_is_refused_in_every_notation(
        (ip, raw) in blocked_v4().prop_flat_map(|ip| {
            (Just(ip), url_around(v4_text(ip).prop_flat_map(disguise)))
        })
    ) {
        assert_refused(&raw, IpAddr::V4(ip))?;
    }

    #[test]
    fn a_forbidden_ipv6_address_is_refused_in_every_notation(
        (ip, raw) in blocked_v6().prop_flat_map(|ip| {
            (Just(ip), url_around(v6_text(ip).prop_map(|t| format!("[{t}]"))))
        })
    ) {
        assert_refused(&raw, IpAddr::V6(ip))?;
    }

    /// The policy allows exactly what the oracle allows: a public IPv4 address passes in every
    /// notation, and as an IPv4-mapped IPv6 address.
    #[test]
    fn a_public_ipv4_address_is_allowed_in_every_notation(
        (ip, raw) in public_v4().prop_flat_map(|ip| (Just(ip), url_around(v4_text(ip))))
    ) {
        if let Ok(url) = Url::parse(&raw) {
            prop_assert_eq!(verdict(&lenient(), &url), Ok(Some(IpAddr::V4(ip))), "{}", raw);
        }
        let mapped = IpAddr::V6(ip.to_ipv6_mapped());
        prop_assert_eq!(lenient().check_ip(mapped), Ok(()));
    }

    /// Allowlisting the forbidden network an address comes from lets it through, however it
    /// is written, also as an IPv4-mapped IPv6 address.
    #[test]
    fn an_allowlisted_network_is_reachable(
        (i, bits, form) in (0..FORBIDDEN_V4.len(), any::<u32>(), 0..2u8)
    ) {
        let net = v4_nets()[i];
        let ip = in_v4(net, bits);
        let policy = EgressPolicy { allow_http: false, allow_nets: vec![IpNet::V4(net)] };
        let host = match form {
            0 => ip.to_string(),
            _ => format!("[::ffff:{ip}]"),
        };
        let url = Url::parse(&format!("https://{host}/")).unwrap();
        prop_assert!(verdict(&policy, &url).is_ok(), "{} with {}", url, net);
        // Other forbidden networks stay forbidden.
        let other = in_v4(v4_nets()[(i + 1) % FORBIDDEN_V4.len()], bits);
        if !net.contains(&other) {
            prop_assert!(policy.check_ip(IpAddr::V4(other)).is_err(), "{} with {}", other, net);
        }
    }

    /// A name that resolves to several addresses is refused if any of them is forbidden.
    #[test]
    fn resolved_addresses_are_refused_if_any_is_forbidden(
        public in proptest::collection::vec(public_v4(), 0..4),
        blocked in proptest::option::of(blocked_v4()),
        at in any::<prop::sample::Index>(),
    ) {
        let mut addrs: Vec<IpAddr> = public.into_iter().map(IpAddr::V4).collect();
        if let Some(ip) = blocked {
            addrs.insert(at.index(addrs.len() + 1), IpAddr::V4(ip));
        }
        let url = Url::parse("https://hooks.example.com/").unwrap();
        let result = lenient().check_resolved(&url, &addrs);
        prop_assert_eq!(result.is_err(), blocked.is_some(), "{:?}", addrs);
    }

    /// Whatever the text, parsing and checking it returns an answer, and only http(s) URLs with
    /// a host can pass.
    #[test]
    fn arbitrary_urls_never_panic(raw in prop_oneof![
        "\\PC{0,80}",
        "https?://[\\[\\]0-9a-fA-FxX.:%@/]{0,40}",
        "[a-z]{1,6}:[/\\\\]{0,3}\\PC{0,40}",
    ]) {
        if let Ok(url) = Url::parse(&raw) {
            let strict = EgressPolicy::default();
            if verdict(&strict, &url).is_ok() {
                prop_assert_eq!(url.scheme(), "https");
                prop_assert!(url.host().is_some());
            }
            let _ = verdict(&lenient(), &url);
        }
    }
}

/// A forbidden IPv6 network's own address (not an embedding) as the oracle sees it, for the
/// examples below.
fn forbidden_v6(ip: Ipv6Addr) -> bool {
    v6_nets().iter().any(|net| net.contains(&ip))
}

#[test]
fn the_oracle_and_the_policy_agree_on_the_boundaries() {
    for net in v4_nets() {
        for ip in [net.network(), net.broadcast()] {
            assert!(lenient().check_ip(IpAddr::V4(ip)).is_err(), "{ip} in {net}");
        }
        let below = u32::from(net.network()).wrapping_sub(1);
        let above = u32::from(net.broadcast()).wrapping_add(1);
        for ip in [below, above].map(Ipv4Addr::from) {
            assert_eq!(
                lenient().check_ip(IpAddr::V4(ip)).is_err(),
                forbidden_v4(ip),
                "{ip} next to {net}"
            );
        }
    }
    for net in v6_nets() {
        assert!(forbidden_v6(net.network()));
        assert!(
            lenient().check_ip(IpAddr::V6(net.network())).is_err(),
            "{net}"
        );
        assert!(
            lenient().check_ip(IpAddr::V6(net.broadcast())).is_err(),
            "{net}"
        );
    }
}
