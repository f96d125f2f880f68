//! The client against real loopback servers: well-behaved, hostile, and a forward proxy.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use url::Url;

use super::*;
use crate::config::Config;

/// Slack on top of a configured timeout before a test calls it a hang (2-core CI machines).
const SLACK: Duration = Duration::from_secs(5);

fn client(nets: &str) -> EgressClient {
    EgressClient::new(policy(nets), None).unwrap()
}

fn policy(nets: &str) -> EgressPolicy {
    EgressPolicy {
        allow_http: true,
        allow_nets: nets
            .split(',')
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().unwrap())
            .collect(),
    }
}

fn get(url: &str, timeout: Duration) -> OutboundRequest {
    OutboundRequest {
        timeout,
        ..OutboundRequest::new(Method::GET, Url::parse(url).unwrap())
    }
}

/// Binds `bind` (port 0) and runs `handle` on every accepted connection.
async fn serve<F, Fut>(bind: &str, handle: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    serve_on(TcpListener::bind(bind).await.unwrap(), handle)
}

fn serve_on<F, Fut>(listener: TcpListener, handle: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream));
        }
    });
    addr
}

/// Reads one request head and its `content-length` body; `None` once the client hangs up.
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end + 4]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            let mut have = buf.len() - (end + 4);
            while have < length {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => have += n,
                }
            }
            return Some(head);
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A keep-alive server answering every request with 200 and the request head as the body.
async fn echo(mut stream: TcpStream) {
    while let Some(head) = read_request(&mut stream).await {
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{head}",
            head.len()
        );
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// A server that answers every connection with `reply` and then holds the connection open.
async fn answer_with(reply: &'static [u8]) -> SocketAddr {
    serve("127.0.0.1:0", move |mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream.write_all(reply).await;
        let _ = stream.read(&mut [0u8; 1]).await;
    })
    .await
}

#[tokio::test]
async fn connect_time_check_refuses_loopback_in_every_spelling_unless_allowlisted() {
    let v4 = serve("127.0.0.1:0", echo).await.port();
    let mut cases = vec![
        (format!("http://127.0.0.1:{v4}/"), "127.0.0.0/8"),
        (format!("http://2130706433:{v4}/"), "127.0.0.0/8"),
        (format!("http://0177.0.0.1:{v4}/"), "127.0.0.0/8"),
        (format!("http://localhost:{v4}/"), "127.0.0.0/8"),
        (format!("http://[::ffff:127.0.0.1]:{v4}/"), "127.0.0.0/8"),
    ];
    // Machines without IPv6 loopback skip the [::1] case.
    if let Ok(listener) = TcpListener::bind("[::1]:0").await {
        let v6 = serve_on(listener, echo).port();
        cases.push((format!("http://[::1]:{v6}/"), "::1/128"));
    }
    for (url, nets) in cases {
        let err = client("")
            .send(get(&url, Duration::from_secs(5)))
            .await
            .unwrap_err();
        assert!(err.is_refused(), "{url}: {err}");
        assert!(err.to_string().contains("loopback"), "{url}: {err}");
        let resp = client(nets)
            .send(get(&url, Duration::from_secs(5)))
            .await
            .unwrap_or_else(|e| panic!("{url} with {nets}: {e}"));
        assert_eq!(resp.status, 200, "{url}");
    }
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_by_the_resolver() {
    let port = serve("127.0.0.1:0", echo).await.port();
    let err = client("")
        .send(get(&format!("http://localhost:{port}/"), SLACK))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("localhost resolves to 127.0.0.1, a loopback address;"),
        "{err}"
    );
}

#[tokio::test]
async fn connect_time_check_refuses_internal_networks_unless_allowlisted() {
    let cases = [
        ("http://10.0.0.1/", "10.0.0.0/8"),
        ("http://172.16.0.1/", "172.16.0.0/12"),
        ("http://192.168.1.1/", "192.168.0.0/16"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.0.0/16"),
        ("http://100.64.0.1/", "100.64.0.0/10"),
        ("http://0.0.0.0/", "0.0.0.0/8"),
        ("http://[::]/", "::/128"),
        ("http://[fc00::1]/", "fc00::/7"),
        ("http://[fe80::1]/", "fe80::/10"),
    ];
    for (url, _) in cases {
        let err = client("").send(get(url, SLACK)).await.unwrap_err();
        assert!(err.is_refused(), "{url}: {err}");
    }
    // Allowlisted, the policy lets them through. Only the policy is asked: this suite never
    // sends a packet to anything but loopback (the connect-time allow path is proven against
    // real loopback servers above).
    for (url, nets) in cases {
        let url = Url::parse(url).unwrap();
        let host = url
            .host_str()
            .unwrap()
            .trim_matches(|c| c == '[' || c == ']');
        let ip: std::net::IpAddr = host.parse().unwrap();
        assert!(policy(nets).check_ip(ip).is_ok(), "{url} with {nets}");
    }
}

#[tokio::test]
async fn scheme_rule_applies_at_send_time() {
    let port = serve("127.0.0.1:0", echo).await.port();
    let https_only = EgressPolicy {
        allow_http: false,
        ..policy("127.0.0.0/8")
    };
    let err = EgressClient::new(https_only, None)
        .unwrap()
        .send(get(&format!("http://127.0.0.1:{port}/"), SLACK))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HOOKD_EGRESS_ALLOW_HTTP"), "{err}");
}

#[tokio::test]
async fn posts_and_reads_the_response_over_one_kept_alive_connection() {
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    let addr = serve("127.0.0.1:0", move |stream| {
        counter.fetch_add(1, Ordering::SeqCst);
        echo(stream)
    })
    .await;
    let client = client("127.0.0.0/8");
    for _ in 0..2 {
        let mut request = get(&format!("http://{addr}/hook"), SLACK);
        request.method = Method::POST;
        request.body = bytes::Bytes::from_static(b"{\"type\":\"ping\"}");
        let resp = client.clone().send(request).await.unwrap();
        assert_eq!(resp.status, 200);
        assert!(!resp.truncated);
        let echoed = String::from_utf8(resp.body.to_vec()).unwrap();
        assert!(echoed.starts_with("post /hook http/1.1"), "{echoed}");
        let ua = format!("user-agent: hookd/{}", env!("CARGO_PKG_VERSION"));
        assert!(echoed.contains(&ua), "{echoed}");
        assert!(echoed.contains("content-length: 15"), "{echoed}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    let addr = serve("127.0.0.1:0", move |mut stream| {
        let counter = Arc::clone(&counter);
        async move {
            while read_request(&mut stream).await.is_some() {
                counter.fetch_add(1, Ordering::SeqCst);
                let reply = "HTTP/1.1 302 Found\r\nlocation: http://10.0.0.1/\r\n\
                             content-length: 0\r\n\r\n";
                let _ = stream.write_all(reply.as_bytes()).await;
            }
        }
    })
    .await;
    // Even with 10/8 allowlisted, nothing follows the Location header.
    let resp = client("127.0.0.0/8,10.0.0.0/8")
        .send(get(&format!("http://{addr}/"), SLACK))
        .await
        .unwrap();
    assert_eq!(resp.status, 302);
    assert_eq!(resp.headers["location"], "http://10.0.0.1/");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let addr = answer_with(b"").await;
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let err = client("127.0.0.0/8")
        .send(get(&format!("http://{addr}/"), timeout))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(err.to_string(), "timed out after 300 ms");
    assert!(started.elapsed() < timeout + SLACK);
}

/// A server that sends `prefix`, then one byte of `drip` every 100 ms until the client leaves.
async fn dribbler(prefix: &'static [u8], drip: u8) -> SocketAddr {
    serve("127.0.0.1:0", move |mut stream| async move {
        read_request(&mut stream).await;
        if stream.write_all(prefix).await.is_err() {
            return;
        }
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            if stream.write_all(&[drip]).await.is_err() {
                return;
            }
        }
    })
    .await
}

#[tokio::test]
async fn the_timeout_covers_slow_headers_and_slow_bodies() {
    let slow_headers = dribbler(b"HTTP/1.1 200 OK\r\nx-slow: ", b'a').await;
    let slow_body = dribbler(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n", b'a').await;
    for addr in [slow_headers, slow_body] {
        let timeout = Duration::from_millis(700);
        let started = Instant::now();
        let err = client("127.0.0.0/8")
            .send(get(&format!("http://{addr}/"), timeout))
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert!(started.elapsed() < timeout + SLACK);
    }
}

#[tokio::test]
async fn a_reset_connection_is_a_clear_connection_error() {
    let addr = serve("127.0.0.1:0", |mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream.set_zero_linger();
        drop(stream); // RST instead of FIN
    })
    .await;
    let err = client("127.0.0.0/8")
        .send(get(&format!("http://{addr}/"), SLACK))
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::Connect(_)), "{err:?}");
    assert_eq!(err.to_string(), "connection reset by the server");
}

#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = client("127.0.0.0/8")
        .send(get(&format!("http://{addr}/"), SLACK))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "connection refused", "{err:?}");
}

#[tokio::test]
async fn garbage_instead_of_http_is_a_protocol_error() {
    let addr = answer_with(b"SSH-2.0-OpenSSH_9.6\r\nthis is not http at all\r\n\r\n").await;
    let err = client("127.0.0.0/8")
        .send(get(&format!("http://{addr}/"), SLACK))
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::Protocol(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("invalid or incomplete HTTP response ("),
        "{err}"
    );
}

#[tokio::test]
async fn a_huge_body_is_cut_off_at_the_cap() {
    const TEN_MB: usize = 10 * 1024 * 1024;
    let addr = serve("127.0.0.1:0", |mut stream| async move {
        read_request(&mut stream).await;
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {TEN_MB}\r\n\r\n");
        let _ = stream.write_all(head.as_bytes()).await;
        let block = vec![b'x'; 64 * 1024];
        for _ in 0..TEN_MB / block.len() {
            if stream.write_all(&block).await.is_err() {
                return; // the client stopped reading and hung up, as it should
            }
        }
    })
    .await;
    let mut request = get(&format!("http://{addr}/"), Duration::from_secs(10));
    request.max_response_bytes = 100_000;
    let resp = client("127.0.0.0/8").send(request).await.unwrap();
    assert_eq!(resp.status, 200);
    assert!(resp.truncated);
    assert_eq!(resp.body.len(), 100_000);
    assert!(resp.body.iter().all(|&b| b == b'x'));
}

/// A forward proxy that records each request line and answers itself.
async fn recording_proxy() -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let (seen, lines) = mpsc::unbounded_channel();
    let addr = serve("127.0.0.1:0", move |mut stream| {
        let seen = seen.clone();
        async move {
            while let Some(head) = read_request(&mut stream).await {
                let line = head.lines().next().unwrap_or_default().to_string();
                let connect = line.starts_with("connect ");
                let _ = seen.send(line);
                let reply: &[u8] = if connect {
                    b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n"
                } else {
                    b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nproxied"
                };
                let _ = stream.write_all(reply).await;
            }
        }
    })
    .await;
    (addr, lines)
}

#[tokio::test]
async fn with_a_proxy_all_traffic_goes_through_it() {
    let (proxy, mut lines) = recording_proxy().await;
    // The proxy is named `localhost` so the resolver sees it, and nothing is allowlisted: the
    // proxy's own (loopback) address must still be reachable.
    let proxy_url = format!("http://localhost:{}", proxy.port());
    let client = EgressClient::new(policy(""), Some(&proxy_url)).unwrap();

    let resp = client
        .send(get("http://93.184.216.34/hook?a=1", SLACK))
        .await
        .unwrap();
    assert_eq!((resp.status, &resp.body[..]), (200, &b"proxied"[..]));
    assert_eq!(
        lines.recv().await.unwrap(),
        "get http://93.184.216.34/hook?a=1 http/1.1"
    );

    // https is tunnelled with CONNECT (also by an https-only client, although the proxy itself
    // speaks plain http); this proxy declines, which is an error for the caller.
    let https_only = EgressPolicy {
        allow_http: false,
        ..policy("")
    };
    let err = EgressClient::new(https_only, Some(&proxy_url))
        .unwrap()
        .send(get("https://93.184.216.34/hook", SLACK))
        .await
        .unwrap_err();
    assert!(!err.is_refused(), "{err}");
    assert_eq!(
        lines.recv().await.unwrap(),
        "connect 93.184.216.34:443 http/1.1"
    );
}

#[tokio::test]
async fn with_a_proxy_internal_destinations_are_refused_before_reaching_it() {
    let (proxy, mut lines) = recording_proxy().await;
    let client = EgressClient::new(policy(""), Some(&format!("http://{proxy}"))).unwrap();
    for url in [
        "http://10.0.0.1/",
        "http://[::ffff:169.254.169.254]/",
        "http://localhost:9/", // resolved by us, since the proxy would resolve it otherwise
    ] {
        let err = client.send(get(url, SLACK)).await.unwrap_err();
        assert!(err.is_refused(), "{url}: {err}");
    }
    // An allowed request afterwards is the first thing the proxy ever sees.
    client
        .send(get("http://93.184.216.34/", SLACK))
        .await
        .unwrap();
    assert_eq!(
        lines.recv().await.unwrap(),
        "get http://93.184.216.34/ http/1.1"
    );
}

#[tokio::test]
async fn from_config_reads_the_egress_settings() {
    let config = Config {
        egress_allow_http: true,
        egress_allow_nets: vec!["127.0.0.0/8".parse().unwrap()],
        ..Config::default()
    };
    let client = EgressClient::from_config(&config).unwrap();
    assert_eq!(client.policy(), &policy("127.0.0.0/8"));
    let port = serve("127.0.0.1:0", echo).await.port();
    let resp = client
        .send(get(&format!("http://localhost:{port}/"), SLACK))
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert!(EgressClient::from_config(&Config::default()).is_ok());
}

#[tokio::test]
async fn https_speaks_tls_and_a_server_without_it_is_a_connection_error() {
    // A plain-HTTP server on the other end: the client must open with a TLS ClientHello (the
    // server sees bytes that are not an HTTP request line) and report a failed connection.
    let (seen_tx, mut seen) = mpsc::unbounded_channel::<Vec<u8>>();
    let addr = serve("127.0.0.1:0", move |mut stream| {
        let seen_tx = seen_tx.clone();
        async move {
            let mut first = vec![0u8; 5];
            if stream.read_exact(&mut first).await.is_ok() {
                let _ = seen_tx.send(first);
            }
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    })
    .await;
    let err = client("127.0.0.0/8")
        .send(get(&format!("https://{addr}/"), SLACK))
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::Connect(_)), "{err:?}");
    assert!(err.to_string().starts_with("could not connect: "), "{err}");
    let first = seen.recv().await.unwrap();
    // A TLS record: handshake (22), version 3.x.
    assert_eq!(&first[..2], &[22, 3], "{first:?}");
}

#[tokio::test]
async fn an_empty_post_still_says_its_length_and_a_get_sends_none() {
    // Servers such as nginx answer 411 to a POST without a length; a GET has no body to frame.
    let addr = serve("127.0.0.1:0", echo).await;
    let client = client("127.0.0.0/8");
    let mut post = get(&format!("http://{addr}/hook"), SLACK);
    post.method = Method::POST;
    let echoed = client.send(post).await.unwrap().body;
    let echoed = String::from_utf8(echoed.to_vec()).unwrap();
    assert!(echoed.contains("content-length: 0"), "{echoed}");
    let echoed = client
        .send(get(&format!("http://{addr}/hook"), SLACK))
        .await
        .unwrap()
        .body;
    let echoed = String::from_utf8(echoed.to_vec()).unwrap();
    assert!(echoed.starts_with("get /hook http/1.1"), "{echoed}");
    assert!(!echoed.contains("content-length"), "{echoed}");
    assert!(!echoed.contains("transfer-encoding"), "{echoed}");
}

#[tokio::test]
async fn credentials_in_the_url_become_basic_auth_and_leave_the_url() {
    let addr = serve("127.0.0.1:0", echo).await;
    let client = client("127.0.0.0/8");
    let url = format!("http://us%40er:p%3Ass@{addr}/hook");
    let echoed = client.send(get(&url, SLACK)).await.unwrap().body;
    let echoed = String::from_utf8(echoed.to_vec()).unwrap();
    // base64("us@er:p:ss") is dXNAZXI6cDpzcw==; the echo server lowercases the head.
    assert!(
        echoed.contains("authorization: basic dxnazxi6cdpzcw=="),
        "{echoed}"
    );
    assert!(echoed.starts_with("get /hook http/1.1"), "{echoed}");
    assert!(!echoed.contains("us%40er"), "{echoed}");
    // A header the caller set wins over the URL's credentials.
    let mut request = get(&url, SLACK);
    request
        .headers
        .insert("authorization", "Bearer own".parse().unwrap());
    let echoed = client.send(request).await.unwrap().body;
    let echoed = String::from_utf8(echoed.to_vec()).unwrap();
    assert!(echoed.contains("authorization: bearer own"), "{echoed}");
    assert!(!echoed.contains("basic"), "{echoed}");
}
