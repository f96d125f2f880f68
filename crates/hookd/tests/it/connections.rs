//! Hostile clients at the connection level, with raw TCP sockets: idle connections and
//! slowloris headers are closed after their timeouts, a slow body gets 408, a huge declared
//! `Content-Length` gets 413 at once, and under a crowd of such connections (more than the
//! connection cap) a normal client is still answered. The limits are scaled down by config.

use std::time::{Duration, Instant};

use hookd::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;

/// Short timeouts, so the tests take a second, not a minute.
fn short(config: &mut Config) {
    config.http_idle_timeout_ms = 400;
    config.http_header_timeout_ms = 400;
    config.http_body_timeout_ms = 400;
}

async fn connect(app: &TestApp) -> TcpStream {
    let addr = app.base_url.trim_start_matches("http://");
    TcpStream::connect(addr).await.unwrap()
}

/// Reads until the server closes the connection (EOF or reset) and returns what it sent; fails
/// the test if it is still open after `within`.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> String {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(within, async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&received).into_owned();
    assert!(
        closed.is_ok(),
        "still open after {within:?}; received {text:?}"
    );
    text
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|c| {
        short(c);
        c.http_header_timeout_ms = 5_000;
    })
    .await;

    // A connection that never sends anything.
    let started = Instant::now();
    let mut silent = connect(&app).await;
    assert_eq!(
        read_until_closed(&mut silent, Duration::from_secs(3)).await,
        ""
    );
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "{:?}",
        started.elapsed()
    );

    // A kept-alive connection after its answer.
    let mut kept = connect(&app).await;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answered = read_until_closed(&mut kept, Duration::from_secs(3)).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
}

#[tokio::test]
async fn a_connection_in_use_is_not_closed_by_the_idle_timeout() {
    let app = spawn_app_with(short).await;
    let mut stream = connect(&app).await;
    // Several requests, each after a pause shorter than the idle timeout, on one connection.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    }
}

#[tokio::test]
async fn slowloris_headers_are_closed_after_the_header_timeout() {
    let app = spawn_app_with(|c| {
        short(c);
        c.http_idle_timeout_ms = 30_000;
    })
    .await;
    let stream = connect(&app).await;
    let (mut read, mut write) = stream.into_split();
    // One byte every 50 ms: the connection is never idle, its head never complete.
    let trickle = tokio::spawn(async move {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let started = Instant::now();
    let mut chunk = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(3), read.read(&mut chunk)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the head must be cut off: {closed:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(350));
    trickle.abort();
}

#[tokio::test]
async fn a_slow_body_is_answered_408() {
    let app = spawn_app_with(short).await;
    let mut stream = connect(&app).await;
    let body = br#"{"type": "post.created", "data": {}}"#;
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        app.live_key,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for byte in body {
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut received = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), read.read_to_end(&mut received)).await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains(r#""code":"request_timeout""#), "{text}");
    trickle.abort();
    let (_, events) = app.get_json(&app.live_key, "/v1/events").await;
    assert_eq!(
        events["data"],
        serde_json::json!([]),
        "nothing was published"
    );
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_at_once() {
    let app = spawn_app().await;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n",
        app.live_key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // No byte of the body is sent: the answer comes from the declared length alone.
    let started = Instant::now();
    let text = read_until_closed(&mut stream, Duration::from_secs(2)).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains(r#""code":"payload_too_large""#), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("x-request-id: req_"),
        "{text}"
    );

    // Just under the limit is read as usual (and refused for what it is: not JSON).
    let limit = app.config.max_body_bytes;
    let r = app
        .req(reqwest::Method::POST, "/v1/events")
        .header("content-type", "application/json")
        .body(vec![b' '; limit])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_crowd_of_idle_and_slowloris_connections_a_client_is_still_answered() {
    let app = spawn_app_with(|c| {
        short(c);
        c.http_max_connections = 20;
    })
    .await;
    // More hoarders than the cap: 20 idle and 10 slowloris connections.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(connect(&app).await);
    }
    let mut slow = Vec::new();
    for _ in 0..10 {
        let addr = app.base_url.trim_start_matches("http://").to_string();
        slow.push(tokio::spawn(async move {
            let Ok(mut stream) = TcpStream::connect(addr).await else {
                return;
            };
            for byte in b"GET / HTTP/1.1\r\nX-A: ".iter().cycle() {
                if stream.write_all(&[*byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        app.client.get(app.url("/healthz")).send(),
    )
    .await
    .expect("answered while the hoarders time out")
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains("hookd_http_connection_cap_reached_total"),
        "reaching the cap is counted"
    );
    assert!(metrics.contains("hookd_http_connections_closed_total{reason=\"idle_timeout\"}"));
    slow.iter().for_each(tokio::task::JoinHandle::abort);
    drop(idle);
}
