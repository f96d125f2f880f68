//! The floor: the cheapest possible "webhook server" built from the crates hookd uses, for the
//! harness to measure against. It accepts `POST /v1/webhook-endpoints` and `POST /v1/events`
//! like hookd and forwards each event, signed, to every endpoint — with no database, no
//! middleware, no retries and no durability. What it costs per delivery is what hookd's HTTP in
//! and HTTP out cost on this machine; everything hookd spends beyond it is its own work.
//!
//! ```text
//! cargo run --release -p hookd-bench --example floor -- 127.0.0.1:18555 &
//! target/release/hookd-bench --target http://127.0.0.1:18555 --api-key any --server-pid <pid>
//! ```
//!
//! It prints its pid on the first line. `FLOOR_CLIENT=reqwest` forwards with reqwest instead of
//! hyper-util's client (the comparison that decided hookd's direct transport).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use hookd::domain::ids::EventId;
use hookd::domain::secret::SigningSecret;
use hookd::domain::time::Timestamp;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::Semaphore;

/// Requests in flight to the receiver at once, like hookd's default `endpoint_max_in_flight`.
const IN_FLIGHT: usize = 64;

type HyperClient = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

enum Client {
    Hyper(Box<HyperClient>),
    Reqwest(reqwest::Client),
}

struct Floor {
    endpoints: RwLock<Vec<(http::Uri, SigningSecret)>>,
    client: Client,
    slots: Arc<Semaphore>,
}

#[derive(Deserialize)]
struct NewEndpoint {
    url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Publish {
    #[serde(rename = "type")]
    event_type: String,
    project_id: Option<String>,
    data: Box<RawValue>,
}

fn answer(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

async fn handle(
    floor: Arc<Floor>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let Ok(body) = request.into_body().collect().await.map(|b| b.to_bytes()) else {
        return Ok(answer(StatusCode::BAD_REQUEST, String::new()));
    };
    Ok(match (method, path.as_str()) {
        (Method::POST, "/v1/webhook-endpoints") => create_endpoint(&floor, &body),
        (Method::DELETE, p) if p.starts_with("/v1/webhook-endpoints/") => {
            floor
                .endpoints
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            answer(StatusCode::NO_CONTENT, String::new())
        }
        (Method::POST, "/v1/events") => publish(&floor, &body),
        _ => answer(StatusCode::NOT_FOUND, String::new()),
    })
}

fn create_endpoint(floor: &Floor, body: &[u8]) -> Response<Full<Bytes>> {
    let Some(url) = serde_json::from_slice::<NewEndpoint>(body)
        .ok()
        .and_then(|e| e.url.parse::<http::Uri>().ok())
    else {
        return answer(StatusCode::BAD_REQUEST, String::new());
    };
    let secret = SigningSecret::generate();
    let mut endpoints = floor.endpoints.write().unwrap_or_else(|p| p.into_inner());
    endpoints.push((url, secret.clone()));
    let created = serde_json::json!({
        "data": {"id": format!("ep_{}", endpoints.len()), "secret": secret.expose()}
    });
    answer(StatusCode::CREATED, created.to_string())
}

fn publish(floor: &Arc<Floor>, body: &[u8]) -> Response<Full<Bytes>> {
    let Ok(event) = serde_json::from_slice::<Publish>(body) else {
        return answer(StatusCode::BAD_REQUEST, String::new());
    };
    let id = EventId::generate();
    let payload = hookd::domain::payload::render(
        &id,
        &event.event_type,
        Timestamp::now(),
        event.project_id.as_deref(),
        &event.data,
    );
    let targets = floor
        .endpoints
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    for (url, secret) in targets {
        let (floor, payload, id) = (Arc::clone(floor), payload.clone(), id.clone());
        tokio::spawn(async move { forward(&floor, url, &secret, &id, payload).await });
    }
    let accepted = serde_json::json!({
        "data": {"id": id.as_str(), "type": event.event_type, "data": event.data}
    });
    answer(StatusCode::ACCEPTED, accepted.to_string())
}

async fn forward(floor: &Floor, url: http::Uri, secret: &SigningSecret, id: &EventId, body: Bytes) {
    let Ok(_slot) = floor.slots.acquire().await else {
        return;
    };
    let timestamp = Timestamp::now().as_unix_seconds();
    let signature =
        hookd::signing::sign(std::slice::from_ref(secret), id.as_str(), timestamp, &body);
    let headers = [
        ("content-type", "application/json".to_string()),
        ("webhook-id", id.as_str().to_string()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    match &floor.client {
        Client::Hyper(client) => {
            let mut request = Request::post(url);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let Ok(request) = request.body(Full::new(body)) else {
                return;
            };
            if let Ok(response) = client.request(request).await {
                let _ = response.into_body().collect().await;
            }
        }
        Client::Reqwest(client) => {
            let mut request = client.post(url.to_string()).body(body);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            if let Ok(response) = request.send().await {
                let _ = response.bytes().await;
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18555".into())
        .parse()?;
    let client = match std::env::var("FLOOR_CLIENT").as_deref() {
        Ok("reqwest") => Client::Reqwest(reqwest::Client::builder().no_proxy().build()?),
        _ => {
            let mut connector = HttpConnector::new();
            connector.set_nodelay(true);
            Client::Hyper(Box::new(
                hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector),
            ))
        }
    };
    let floor = Arc::new(Floor {
        endpoints: RwLock::new(Vec::new()),
        client,
        slots: Arc::new(Semaphore::new(IN_FLIGHT)),
    });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("{}", std::process::id());
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let floor = Arc::clone(&floor);
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(Arc::clone(&floor), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
