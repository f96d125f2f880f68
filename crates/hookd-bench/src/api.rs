//! A minimal client for the hookd API calls the harness makes: create and delete endpoints,
//! publish events. Also the one HTTP client configuration every load-generating part shares.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use hookd::domain::secret::SigningSecret;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde::Deserialize;
use url::Url;

/// An HTTP/1.1 client with keep-alive and room in its pool for every concurrent request, never
/// going through a proxy (the harness talks to loopback only).
pub fn http_client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(concurrency.max(64))
        .pool_idle_timeout(Duration::from_secs(90))
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")
}

/// The API of one hookd server (or of several nodes on one database, `--nodes`), authenticated
/// with one live key. Endpoints are managed on the first node; publishes go round-robin.
pub struct Api {
    client: reqwest::Client,
    /// `POST /v1/events` of every node.
    events_urls: Vec<Url>,
    next_node: AtomicUsize,
    endpoints_url: Url,
    auth: HeaderValue,
}

/// What one publish came to.
pub enum Published {
    /// 202 with this event id.
    Accepted(String),
    /// 429 or 503: try again after this long.
    RetryAfter(Duration),
    Failed(String),
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct CreatedEndpoint {
    id: String,
    secret: String,
}

impl Api {
    /// `bases`: every node's base URL, at least one.
    pub fn new(bases: &[Url], api_key: &str, concurrency: usize) -> anyhow::Result<Self> {
        let base = bases.first().context("no server to talk to")?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {api_key}"))
            .context("the API key cannot be sent in a header")?;
        auth.set_sensitive(true);
        Ok(Self {
            client: http_client(concurrency)?,
            // Relative, so a base URL's path prefix is kept (`cli::parse_base_url`).
            events_urls: bases
                .iter()
                .map(|b| b.join("v1/events"))
                .collect::<Result<_, _>>()?,
            next_node: AtomicUsize::new(0),
            endpoints_url: base.join("v1/webhook-endpoints")?,
            auth,
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Creates an endpoint for `post.created` events of `project_id`; returns its id and secret.
    pub async fn create_endpoint(
        &self,
        name: &str,
        url: &str,
        project_id: &str,
        filter: Option<&str>,
    ) -> anyhow::Result<(String, SigningSecret)> {
        let mut body = serde_json::json!({
            "name": name,
            "url": url,
            "events": [crate::body::EVENT_TYPE],
            "projectId": project_id,
        });
        if let Some(filter) = filter {
            body["filter"] = filter.into();
        }
        let response = self
            .client
            .post(self.endpoints_url.clone())
            .header(AUTHORIZATION, self.auth.clone())
            .json(&body)
            .send()
            .await
            .context("creating an endpoint")?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status != StatusCode::CREATED {
            let hint = if text.contains("url_not_allowed") {
                "\n(a --target server must allow plain-http loopback egress: \
                 HOOKD_EGRESS_ALLOW_HTTP=true HOOKD_EGRESS_ALLOW_NETS=127.0.0.0/8)"
            } else {
                ""
            };
            bail!("creating endpoint {url} answered {status}: {text}{hint}");
        }
        let created: Envelope<CreatedEndpoint> =
            serde_json::from_str(&text).context("reading the created endpoint")?;
        let secret = SigningSecret::parse(&created.data.secret).with_context(|| {
            format!(
                "the endpoint secret {:?} is not whsec_…",
                created.data.secret
            )
        })?;
        Ok((created.data.id, secret))
    }

    /// Deletes an endpoint (cancelling its pending deliveries); used on servers the harness did
    /// not start, to leave nothing behind.
    pub async fn delete_endpoint(&self, id: &str) -> anyhow::Result<()> {
        let url = format!("{}/{id}", self.endpoints_url);
        let response = self
            .client
            .delete(url)
            .header(AUTHORIZATION, self.auth.clone())
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("deleting endpoint {id} answered {}", response.status());
        }
        Ok(())
    }

    /// The next node's events URL, round-robin.
    fn events_url(&self) -> &Url {
        let n = self.next_node.fetch_add(1, Relaxed);
        &self.events_urls[n % self.events_urls.len()]
    }

    /// `POST /v1/events` with a ready body.
    pub async fn publish(&self, body: Bytes) -> Published {
        let sent = self
            .client
            .post(self.events_url().clone())
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return Published::Failed(format!("{e:#}")),
        };
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let secs = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                .unwrap_or(1);
            // Capped: the harness would rather measure the server than sleep through the run.
            return Published::RetryAfter(Duration::from_secs(secs).min(Duration::from_secs(1)));
        }
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return Published::Failed(format!("reading the answer: {e:#}")),
        };
        if status != StatusCode::ACCEPTED {
            return Published::Failed(format!(
                "{status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ));
        }
        match serde_json::from_slice::<Envelope<Created>>(&body) {
            Ok(created) => Published::Accepted(created.data.id),
            Err(e) => Published::Failed(format!("unreadable 202 answer: {e}")),
        }
    }
}
