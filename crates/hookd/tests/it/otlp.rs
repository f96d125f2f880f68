//! Traces over OTLP/HTTP with the real binary: a stand-in collector (an axum route decoding
//! `POST /v1/traces` protobuf with `opentelemetry-proto`) receives the publish span and the
//! delivery attempt's span, which carries a link to the publish.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Value};
use tokio::process::Command;

use crate::harness::*;

/// Starts the collector; every span it received.
async fn collector() -> (String, Arc<Mutex<Vec<Span>>>) {
    let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
    let sink = Arc::clone(&spans);
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| async move {
            let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
            let mut sink = sink.lock().unwrap();
            for resource in request.resource_spans {
                for scope in resource.scope_spans {
                    sink.extend(scope.spans);
                }
            }
            (
                [("content-type", "application/x-protobuf")],
                Vec::<u8>::new(),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), spans)
}

#[tokio::test]
async fn an_attempt_span_links_to_the_publish_span() {
    let (endpoint, spans) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookd"));
    for (name, _) in std::env::vars() {
        if name.starts_with("HOOKD_")
            || name.starts_with("OTEL_")
            || name.to_ascii_lowercase().ends_with("_proxy")
        {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env(
            "HOOKD_DATABASE_URL",
            format!("sqlite://{}/hookd.db", dir.path().display()),
        )
        .env("HOOKD_OTLP_ENDPOINT", &endpoint)
        .env("HOOKD_EGRESS_ALLOW_HTTP", "true")
        .env("HOOKD_EGRESS_ALLOW_NETS", "127.0.0.0/8")
        // Export every 100 ms rather than every 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("NO_PROXY", "127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start hookd");
    let (key, base_url) = crate::cli_support::read_banner(child.stdout.take().unwrap()).await;
    let key = key.expect("first start prints a key");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let receiver = Receiver::start().await;
    let created = client
        .post(format!("{base_url}/v1/webhook-endpoints"))
        .bearer_auth(&key)
        .json(&json!({"name": "r", "url": receiver.url, "events": ["post.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let published: Value = client
        .post(format!("{base_url}/v1/events"))
        .bearer_auth(&key)
        .json(&json!({"type": "post.created", "data": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event_id = published["data"]["id"].as_str().unwrap().to_string();
    receiver.wait_for(1, Duration::from_secs(10)).await;

    let (publish, attempt) = eventually(Duration::from_secs(20), || {
        let spans = spans.lock().unwrap().clone();
        async move {
            let publish = spans.iter().find(|s| s.name == "publish")?.clone();
            let attempt = spans.iter().find(|s| s.name == "attempt")?.clone();
            Some((publish, attempt))
        }
    })
    .await;
    let has_event = |span: &Span| {
        span.attributes
            .iter()
            .any(|a| a.key == "event" && format!("{:?}", a.value).contains(&event_id))
    };
    assert!(has_event(&publish), "{publish:?}");
    assert!(has_event(&attempt), "{attempt:?}");
    assert_eq!(attempt.links.len(), 1, "{attempt:?}");
    assert_eq!(attempt.links[0].span_id, publish.span_id);
    assert_eq!(attempt.links[0].trace_id, publish.trace_id);
    assert_ne!(
        attempt.trace_id, publish.trace_id,
        "the attempt is a trace of its own"
    );
    // The publish ran inside its request's span.
    let request = spans
        .lock()
        .unwrap()
        .iter()
        .find(|s| s.span_id == publish.parent_span_id)
        .cloned();
    assert_eq!(request.map(|s| s.name), Some("request".to_string()));
    child.kill().await.unwrap();
}
