//! Receivers that misbehave at the TCP and HTTP level: each ends as a recorded failed attempt
//! within the timeout with a clear `error`, and a blackholed endpoint never slows a healthy one.
//!
//! These receivers are raw `TcpListener`s on 127.0.0.1 so they can do what no HTTP server would.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::delivery::{only_delivery, publish_type, wait_delivery};
use crate::harness::*;

/// The per-attempt timeout of these tests (the harness default).
const TIMEOUT_MS: i64 = 2_000;

/// A raw TCP receiver: every accepted connection is handed to `behave`.
struct Raw {
    url: String,
    connections: Arc<AtomicUsize>,
}

async fn raw<F, Fut>(behave: F) -> Raw
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    let behave = Arc::new(behave);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(behave(stream));
        }
    });
    Raw {
        url: format!("http://{addr}/hook"),
        connections,
    }
}

/// Reads one request (head and `Content-Length` body) so the client is waiting for the answer.
async fn read_request(stream: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = buf.len() - head_end;
    while have < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => have += n,
        }
    }
}

/// Points a fresh endpoint at `url`, publishes one event, and returns the delivery once its
/// first attempt is recorded, with that attempt. The schedule retries only after an hour, so
/// exactly one attempt is made.
async fn first_attempt(url: &str) -> (Value, Value) {
    let app = spawn_app_with(|c| c.retry_schedule = vec![3600]).await;
    app.create_endpoint(url, &["post.created"]).await;
    let started = Instant::now();
    let event = publish_type(&app, "post.created").await;
    let id = only_delivery(&app, event["id"].as_str().unwrap()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let delivery = wait_delivery(&app, &id, "attempted", |d| d["attemptCount"] == 1).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(TIMEOUT_MS as u64) + Duration::from_secs(5),
        "the attempt took {elapsed:?} to be recorded"
    );
    let attempt = delivery["attempts"][0].clone();
    let duration = attempt["durationMs"].as_i64().unwrap();
    assert!(
        duration <= TIMEOUT_MS + 1_000,
        "an attempt must end within the timeout: {attempt}"
    );
    (delivery, attempt)
}

/// Asserts a failed attempt without a status whose error mentions one of `words`.
fn assert_failed(delivery: &Value, attempt: &Value, words: &[&str]) {
    assert_eq!(
        delivery["status"], "pending",
        "failed, retry scheduled: {delivery:#}"
    );
    assert!(delivery["nextAttemptAt"].is_string(), "{delivery:#}");
    assert_eq!(attempt["statusCode"], Value::Null, "{attempt}");
    let error = attempt["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {attempt}"));
    println!(
        "recorded error: {error:?} after {} ms",
        attempt["durationMs"]
    );
    assert!(
        words.iter().any(|w| error.to_lowercase().contains(w)),
        "error {error:?} should mention one of {words:?}"
    );
}

#[suite_test]
async fn a_receiver_that_never_answers_times_out() {
    let receiver = raw(|mut stream| async move {
        read_request(&mut stream).await;
        std::future::pending::<()>().await;
        drop(stream);
    })
    .await;
    let (delivery, attempt) = first_attempt(&receiver.url).await;
    assert_failed(&delivery, &attempt, &["timed out"]);
    assert!(
        attempt["durationMs"].as_i64().unwrap() >= TIMEOUT_MS - 100,
        "{attempt}"
    );
}

#[suite_test]
async fn a_connection_reset_is_a_failed_attempt() {
    let receiver = raw(|mut stream| async move {
        read_request(&mut stream).await;
        // SO_LINGER 0: closing sends RST instead of FIN.
        stream.set_zero_linger().unwrap();
        drop(stream);
    })
    .await;
    let (delivery, attempt) = first_attempt(&receiver.url).await;
    assert_failed(&delivery, &attempt, &["connection reset"]);
}

#[suite_test]
async fn a_10_mb_answer_keeps_only_the_first_4_kib() {
    let receiver = raw(|mut stream| async move {
        read_request(&mut stream).await;
        let size = 10 * 1024 * 1024;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {size}\r\n\r\n"
        );
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let block = vec![b'x'; 64 * 1024];
        for _ in 0..size / block.len() {
            // The client stops reading after 4 KiB and closes: writing then fails, as it should.
            if stream.write_all(&block).await.is_err() {
                return;
            }
        }
    })
    .await;
    let (delivery, attempt) = first_attempt(&receiver.url).await;
    assert_eq!(attempt["statusCode"], 200, "{attempt}");
    let body = attempt["responseBody"].as_str().unwrap();
    assert_eq!(body.len(), 4096);
    assert!(body.bytes().all(|b| b == b'x'));
    assert_eq!(
        delivery["status"], "succeeded",
        "a 2xx is a success whatever the body's size: {delivery:#}"
    );
    assert_eq!(delivery["lastStatusCode"], 200);
}

#[suite_test]
async fn an_answer_that_is_not_http_is_a_failed_attempt() {
    let receiver = raw(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream
            .write_all(b"SSH-2.0-OpenSSH_9.6\r\nthis is not HTTP at all\r\n\r\n")
            .await;
        let _ = stream.shutdown().await;
    })
    .await;
    let (delivery, attempt) = first_attempt(&receiver.url).await;
    assert_failed(
        &delivery,
        &attempt,
        &["invalid or incomplete http response"],
    );
}

#[suite_test]
async fn a_redirect_to_a_private_address_is_a_failure_and_never_followed() {
    // Following this would leave loopback; the egress client never follows redirects.
    let receiver = raw(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream
            .write_all(
                b"HTTP/1.1 302 Found\r\nlocation: http://10.0.0.1/\r\ncontent-length: 5\r\n\r\nmoved",
            )
            .await;
    })
    .await;
    let (delivery, attempt) = first_attempt(&receiver.url).await;
    assert_eq!(
        delivery["status"], "pending",
        "a redirect is not a success: {delivery:#}"
    );
    assert_eq!(delivery["lastStatusCode"], 302);
    assert_eq!(attempt["statusCode"], 302);
    assert_eq!(attempt["responseBody"], "moved");
    let error = attempt["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{attempt}"));
    println!("recorded error: {error:?}");
    assert!(error.contains("redirect"), "{error}");
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 1);
}

#[suite_test]
async fn an_answer_dribbled_byte_by_byte_times_out() {
    let receiver = raw(|mut stream| async move {
        read_request(&mut stream).await;
        // Each byte arrives promptly, but the whole answer would take 20 s.
        for byte in
            b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        {
            if stream.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    let (delivery, attempt) = first_attempt(&receiver.url).await;
    assert_failed(&delivery, &attempt, &["timed out"]);
}

#[suite_test]
async fn a_blackholed_endpoint_does_not_slow_a_healthy_one() {
    const EVENTS: usize = 50;
    const SLOTS: usize = 3;
    let app = spawn_app_with(|c| {
        c.delivery_timeout_ms = 10_000;
        c.endpoint_max_in_flight = SLOTS;
    })
    .await;
    let blackhole = raw(|stream| async move {
        // Accept, never read, never answer.
        std::future::pending::<()>().await;
        drop(stream);
    })
    .await;
    let healthy = Receiver::start().await;
    let blackholed = app.create_endpoint(&blackhole.url, &["post.created"]).await;
    app.create_endpoint(&healthy.url, &["post.created"]).await;

    let started = Instant::now();
    for _ in 0..EVENTS {
        let event = publish_type(&app, "post.created").await;
        assert_eq!(event["deliveryCount"], 2);
    }
    // A bound, not a benchmark: far below the 10 s a blackholed attempt takes to time out.
    healthy.wait_for(EVENTS, Duration::from_secs(5)).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    // Meanwhile the blackhole holds exactly its own in-flight slots, none of them finished.
    let (_, list) = app
        .get_json(
            &app.live_key,
            &format!(
                "/v1/webhook-endpoints/{}/deliveries?limit=100",
                blackholed["id"].as_str().unwrap()
            ),
        )
        .await;
    let stuck = list["data"].as_array().unwrap();
    assert_eq!(stuck.len(), EVENTS);
    assert!(stuck.iter().all(|d| d["attemptCount"] == 0), "{list:#}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while blackhole.connections.load(Ordering::SeqCst) < SLOTS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let held = blackhole.connections.load(Ordering::SeqCst);
    assert_eq!(held, SLOTS, "{held} connections to the blackhole");
    println!("{EVENTS} healthy deliveries in {elapsed:?} while {held} attempts hang");
}
