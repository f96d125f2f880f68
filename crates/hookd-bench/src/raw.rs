//! The raw limit: what this machine does when the harness's own client POSTs delivery-shaped
//! requests straight to the receiver, with no hookd in between.
//!
//! Each request is what hookd would send: a body rendered by hookd's own payload function
//! (same size), signed per request with hookd's signer, with the same headers, over a
//! keep-alive pool at the publish concurrency; the receiver verifies it exactly as it verifies
//! a real delivery. `raw_rps` is the ceiling `delivery_rps` is compared with.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookd::domain::ids::EventId;
use hookd::domain::time::Timestamp;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, USER_AGENT};

use crate::api::http_client;
use crate::body;
use crate::ledger::Ledger;

pub struct Outcome {
    pub requests: u64,
    pub failed: u64,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Progress of the phase, for the display.
pub type Done = Arc<AtomicU64>;

pub async fn run(
    receiver: SocketAddr,
    ledger: Arc<Ledger>,
    requests: usize,
    concurrency: usize,
    data_bytes: usize,
    project_id: &str,
    done: Done,
) -> anyhow::Result<Outcome> {
    let client = http_client(concurrency)?;
    let url = format!("http://{receiver}/raw");
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let project_id: Arc<str> = project_id.into();
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency.min(requests))
        .map(|_| {
            let (client, url, ledger) = (client.clone(), url.clone(), Arc::clone(&ledger));
            let (next, failed, done) = (Arc::clone(&next), Arc::clone(&failed), Arc::clone(&done));
            let project_id = Arc::clone(&project_id);
            tokio::spawn(async move {
                loop {
                    let seq = next.fetch_add(1, Relaxed);
                    if seq >= requests {
                        return;
                    }
                    let id = EventId::generate();
                    let body = body::delivery_body(&id, seq, data_bytes, &project_id);
                    let headers = signed_headers(ledger.raw_secret(), &id, &body);
                    let ok = match client.post(&url).headers(headers).body(body).send().await {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if ok {
                        done.fetch_add(1, Relaxed);
                    } else {
                        failed.fetch_add(1, Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    let elapsed = start.elapsed();
    Ok(Outcome {
        requests: done.load(Relaxed),
        failed: failed.load(Relaxed),
        elapsed,
    })
}

/// The headers hookd's sender puts on a delivery.
fn signed_headers(
    secret: &hookd::domain::secret::SigningSecret,
    id: &EventId,
    body: &[u8],
) -> HeaderMap {
    let timestamp = Timestamp::now().as_unix_seconds();
    let signature =
        hookd::signing::sign(std::slice::from_ref(secret), id.as_str(), timestamp, body);
    let mut headers = HeaderMap::with_capacity(5);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("hookd/", env!("CARGO_PKG_VERSION"))),
    );
    headers.insert(
        "webhook-id",
        HeaderValue::from_str(id.as_str()).expect("event ids are header-safe"),
    );
    headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
    headers.insert(
        "webhook-signature",
        HeaderValue::try_from(signature).expect("signatures are base64"),
    );
    headers
}
