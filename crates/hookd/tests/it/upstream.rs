//! Real loopback upstreams standing in for the internal APIs that integrations call: each records
//! every request it gets (method, path, query, headers, body) and answers as the test scripts it.
//! Also an upstream that accepts connections and never answers, and a port nobody listens on.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One request an upstream received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the upstream got a JSON body")
    }
}

type Script = dyn Fn(&Seen) -> Response + Send + Sync;

#[derive(Clone)]
pub struct Upstream {
    /// `http://127.0.0.1:<port>`
    pub origin: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    /// An upstream answering every request with `script(request)`.
    pub async fn start(script: impl Fn(&Seen) -> Response + Send + Sync + 'static) -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let record = Arc::clone(&seen);
        let app = axum::Router::new().fallback(move |request: Request| {
            let (record, script) = (Arc::clone(&record), Arc::clone(&script));
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 16 * 1024 * 1024)
                    .await
                    .unwrap_or_default();
                let seen = Seen {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_string(),
                    query: parts.uri.query().map(str::to_string),
                    headers: parts.headers,
                    body,
                };
                let response = script(&seen);
                record.lock().unwrap().push(seen);
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            origin: format!("http://{addr}"),
            seen,
        }
    }

    /// Answers every request with `status` and this JSON.
    pub async fn json(status: u16, body: Value) -> Self {
        Self::start(move |_| {
            (
                StatusCode::from_u16(status).unwrap(),
                axum::Json(body.clone()),
            )
                .into_response()
        })
        .await
    }

    /// Answers 200 with `{"method", "path", "query", "body"}` describing the request.
    pub async fn echo() -> Self {
        Self::start(|seen| {
            let body = serde_json::from_slice::<Value>(&seen.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&seen.body).into()));
            axum::Json(serde_json::json!({
                "method": seen.method, "path": seen.path, "query": seen.query, "body": body
            }))
            .into_response()
        })
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn last(&self) -> Seen {
        self.seen().pop().expect("the upstream got no request")
    }
}

/// A response with exactly these headers and body bytes.
pub fn raw(status: u16, headers: &[(&str, &str)], body: impl Into<Body>) -> Response {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body.into()).unwrap()
}

/// A TCP server that accepts connections and reads, but never answers.
pub async fn silent() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}")
}

/// An origin on a loopback port nobody listens on (connection refused).
pub async fn closed() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
