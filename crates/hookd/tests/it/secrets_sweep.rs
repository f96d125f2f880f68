//! The secrets sweep: the real binary, with every log line at trace level captured as JSON, runs
//! a whole scenario — endpoints with a URL password, secret query parameters and OAuth2 (a real
//! local token server), created and rotated with idempotency keys (so answers holding a secret
//! are stored), a URL changed, deliveries to real loopback receivers with failures,
//! retries and a 401 that refreshes the token, integrations with every auth type against a real
//! upstream (successes, an error status, a closed port, a 401 that refreshes, a caller's header,
//! a URL with credentials refused), a portal session, the dashboard (an API key created and a
//! secret rotated there, each shown once on the page that answers), and MCP (an agent passing a
//! header to an integration). Every secret and credential introduced on the way is collected,
//! then searched for — whole and as a distinctive 12-character piece — in the logs, `/metrics`,
//! every API answer except the one place a secret is legitimately shown once (the signing secret
//! in the endpoint's create and rotate answers, the portal link in its create answer; SPEC.md
//! has no route that reads a signing secret back), the dashboard's pages, MCP's answers, and the
//! raw database (SQLite: every file of the data directory, the database, its WAL and
//! shared-memory file; PostgreSQL: every column of every table read as text or bytes, and every
//! row as text). A finding names the secret and where it was, never the haystack.
//!
//! It found the MCP library logging whole tool calls (an agent's header included) at debug and
//! trace; hookd now holds that library at `info` (`telemetry/mod.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::{json, Value};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::harness::*;
use crate::mcp_support;
use crate::upstream::{self, Upstream};

/// A random, distinctive secret: `label` and 32 hex characters.
fn fresh(label: &str) -> String {
    format!("{label}{}", hex::encode(rand::random::<[u8; 16]>()))
}

/// Every secret of the scenario, as the byte strings that must not be found: each whole, and a
/// 12-character piece from its middle (so a secret cut, wrapped or re-encoded around its middle
/// is still caught).
#[derive(Default)]
struct Secrets(Vec<(String, Vec<u8>)>);

impl Secrets {
    fn add(&mut self, what: &str, value: &str) {
        assert!(value.len() >= 16, "{what} is too short to search for");
        self.0.push((what.to_string(), value.as_bytes().to_vec()));
        let start = value.len() / 2 - 6;
        self.0.push((
            format!("{what} (its middle 12 characters)"),
            value.as_bytes()[start..start + 12].to_vec(),
        ));
    }

    /// A secret in a binary form (a key's raw bytes), searched for whole.
    fn add_bytes(&mut self, what: &str, value: Vec<u8>) {
        self.0.push((what.to_string(), value));
    }

    /// HTTP basic credentials as they travel: `Basic base64(user:password)`.
    fn add_basic(&mut self, what: &str, user: &str, password: &str) {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.add(&format!("{what} (base64 user:password)"), &encoded);
    }
}

/// One place searched: what it is, and its bytes.
struct Haystack {
    place: String,
    bytes: Vec<u8>,
}

#[derive(Default)]
struct Haystacks(Vec<Haystack>);

impl Haystacks {
    fn add(&mut self, place: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.0.push(Haystack {
            place: place.into(),
            bytes: bytes.into(),
        });
    }

    fn json(&mut self, place: impl Into<String>, value: &Value) {
        self.add(place, value.to_string());
    }
}

/// Every (secret, place) where a secret was found: `"<secret> at byte N of <place>"`. Only the
/// names and the offset, never the haystack (which would print the secret again).
fn findings(secrets: &Secrets, haystacks: &Haystacks) -> Vec<String> {
    let mut found = Vec::new();
    for haystack in &haystacks.0 {
        for (what, needle) in &secrets.0 {
            if let Some(at) = haystack
                .bytes
                .windows(needle.len())
                .position(|w| w == needle.as_slice())
            {
                found.push(format!("{what} at byte {at} of {}", haystack.place));
            }
        }
    }
    found
}

/// The real `hookd serve` with trace-level JSON logs on the test's database.
struct Served {
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: tokio::task::JoinHandle<()>,
    base_url: String,
    live_key: String,
    test_key: String,
}

async fn serve(database: &TestDatabase, master_key: &str) -> Served {
    let mut command = crate::cli_support::command(database.dir.path());
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("HOOKD_DATABASE_URL", &database.url)
        .env("HOOKD_MASTER_KEY", master_key)
        .env("HOOKD_LOG_FORMAT", "json")
        .env("RUST_LOG", "trace")
        .env("HOOKD_EGRESS_ALLOW_HTTP", "true")
        .env("HOOKD_EGRESS_ALLOW_NETS", "127.0.0.0/8")
        .env("HOOKD_RETRY_SCHEDULE", "1,1,1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start hookd");
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let sink = Arc::clone(&lines);
    let reader = tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });
    // The first start prints both keys of workspace `default`, then the address.
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut live_key, mut test_key, mut base_url) = (None, None, None);
    while let Some(line) = stdout.next_line().await.unwrap() {
        let line = line.trim();
        if let Some(key) = line.strip_prefix("live: ") {
            live_key = Some(key.to_string());
        } else if let Some(key) = line.strip_prefix("test: ") {
            test_key = Some(key.to_string());
        } else if let Some(url) = line.strip_prefix("hookd listening on ") {
            base_url = Some(url.to_string());
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    Served {
        child,
        lines,
        reader,
        base_url: base_url.expect("a \"listening\" line"),
        live_key: live_key.expect("the first start prints a live key"),
        test_key: test_key.expect("the first start prints a test key"),
    }
}

/// A client that does not follow redirects, so each answer is seen as sent.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The API as one key sees it; every answer is kept as a haystack unless taken as legitimate.
struct Api<'a> {
    base_url: &'a str,
    key: &'a str,
    http: reqwest::Client,
}

impl Api<'_> {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Answer {
        self.send_with(method, path, body, None).await
    }

    async fn send_with(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base_url))
            .bearer_auth(self.key);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let (status, body) = into_parts(request.send().await.unwrap()).await;
        Answer {
            place: format!("the answer to {method} {path}"),
            status,
            body,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(&body)).await
    }

    /// A POST with an `Idempotency-Key`: its answer is stored for replays.
    async fn post_once(&self, path: &str, body: Value, key: &str) -> Answer {
        self.send_with(reqwest::Method::POST, path, Some(&body), Some(key))
            .await
    }

    async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::PATCH, path, Some(&body)).await
    }
}

struct Answer {
    place: String,
    status: StatusCode,
    body: Value,
}

impl Answer {
    /// Asserts the status and keeps the answer for the sweep.
    fn expect(self, status: u16, haystacks: &mut Haystacks) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}: {}",
            self.place,
            self.body
        );
        haystacks.json(&self.place, &self.body);
        self.body
    }

    /// Asserts the status; the answer legitimately shows `data.<field>` once: it is swept
    /// without that field.
    fn expect_showing(self, status: u16, field: &str, haystacks: &mut Haystacks) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}: {}",
            self.place,
            self.body
        );
        let mut rest = self.body.clone();
        rest["data"]
            .as_object_mut()
            .expect("an object answer")
            .remove(field)
            .unwrap_or_else(|| panic!("{} shows no {field}", self.place));
        haystacks.json(format!("{} (without data.{field})", self.place), &rest);
        self.body
    }
}

fn id(answer: &Value) -> String {
    answer["data"]["id"].as_str().expect("an id").to_string()
}

/// A token server issuing a new random access token per request, each recorded.
async fn token_server() -> (Upstream, Arc<Mutex<Vec<String>>>) {
    let issued: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&issued);
    let server = Upstream::start(move |_| {
        let token = fresh("at_");
        record.lock().unwrap().push(token.clone());
        axum::Json(json!({"access_token": token, "token_type": "bearer", "expires_in": 3600}))
            .into_response()
    })
    .await;
    (server, issued)
}

/// An upstream answering 401 to its first request and 200 `{"ok": true}` after.
async fn unauthorized_once() -> Upstream {
    let count = Arc::new(AtomicUsize::new(0));
    Upstream::start(move |_| {
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            (StatusCode::UNAUTHORIZED, "token expired").into_response()
        } else {
            axum::Json(json!({"ok": true})).into_response()
        }
    })
    .await
}

/// Every column of every table of the PostgreSQL database, read as text (bytea as its bytes),
/// and every row as text: what a dump of a stolen database shows.
async fn postgres_contents(url: &str, haystacks: &mut Haystacks) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT c.table_schema::text, c.table_name::text, c.column_name::text, c.data_type::text
         FROM information_schema.columns c
         JOIN information_schema.tables t
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE t.table_type = 'BASE TABLE'
           AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
         ORDER BY 1, 2, 3",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(!columns.is_empty(), "no table found in {url}");
    let mut tables = Vec::new();
    for (schema, table, column, data_type) in &columns {
        let from = format!("\"{schema}\".\"{table}\"");
        let place = format!("PostgreSQL column {schema}.{table}.{column}");
        let mut bytes = Vec::new();
        if data_type == "bytea" {
            let values: Vec<Option<Vec<u8>>> =
                sqlx::query_scalar(&format!("SELECT \"{column}\" FROM {from}"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            values.into_iter().flatten().for_each(|v| {
                bytes.extend(v);
                bytes.push(b'\n');
            });
        } else {
            let values: Vec<Option<String>> =
                sqlx::query_scalar(&format!("SELECT \"{column}\"::text FROM {from}"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            values.into_iter().flatten().for_each(|v| {
                bytes.extend(v.into_bytes());
                bytes.push(b'\n');
            });
        }
        haystacks.add(place, bytes);
        if !tables.contains(&from) {
            tables.push(from);
        }
    }
    for from in tables {
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM {from} t"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        haystacks.add(format!("PostgreSQL rows of {from}"), rows.join("\n"));
    }
}

#[suite_test]
async fn no_secret_appears_in_logs_metrics_answers_pages_or_the_database() {
    let database = TestDatabase::create().await;
    let master_key = hex::encode(rand::random::<[u8; 32]>());
    let mut server = serve(&database, &master_key).await;
    let base_url = server.base_url.clone();
    let live = Api {
        base_url: &base_url,
        key: &server.live_key,
        http: client(),
    };
    let test = Api {
        base_url: &base_url,
        key: &server.test_key,
        http: client(),
    };
    let mut secrets = Secrets::default();
    let mut haystacks = Haystacks::default();
    secrets.add("the live API key", &server.live_key);
    secrets.add("the test API key", &server.test_key);
    secrets.add("the master key", &master_key);
    secrets.add_bytes("the master key's bytes", hex::decode(&master_key).unwrap());

    // --- Endpoints ---------------------------------------------------------------------------
    // A: a URL password and a secret query parameter; fails twice, then succeeds.
    let receiver_a = Receiver::scripted(|n| {
        if n < 2 {
            (500, "down".into())
        } else {
            (200, "ok".into())
        }
    })
    .await;
    let (password_a, token_a) = (fresh("pwA"), fresh("qpA"));
    secrets.add("endpoint A's URL password", &password_a);
    secrets.add("endpoint A's secret query parameter", &token_a);
    secrets.add_basic("endpoint A's URL credentials", "ada", &password_a);
    let url_a = receiver_a
        .url
        .replacen("http://", &format!("http://ada:{password_a}@"), 1)
        + &format!("?token={token_a}&plain=1");
    // B: plain, rotated, sent a test event.
    let receiver_b = Receiver::start().await;
    // C: OAuth2 against the token server; its receiver answers the first token 401.
    let (tokens, issued) = token_server().await;
    let receiver_c = unauthorized_once().await;
    let endpoint_client_secret = fresh("csE");
    secrets.add("endpoint C's OAuth2 client secret", &endpoint_client_secret);
    secrets.add_basic(
        "endpoint C's OAuth2 client credentials",
        "hookd-endpoint",
        &endpoint_client_secret,
    );
    // D: a closed port, with a password and a secret query parameter: every attempt fails.
    let (password_d, token_d) = (fresh("pwD"), fresh("qpD"));
    secrets.add("endpoint D's URL password", &password_d);
    secrets.add("endpoint D's secret query parameter", &token_d);
    let url_d =
        upstream::closed()
            .await
            .replacen("http://", &format!("http://bob:{password_d}@"), 1)
            + &format!("/hook?sig={token_d}");

    let mut endpoints = Vec::new();
    for (name, body) in [
        (
            "A",
            json!({"name": "A", "url": url_a, "events": ["post.created"],
                   "secretQueryParams": ["token"]}),
        ),
        (
            "B",
            json!({"name": "B", "url": receiver_b.url, "events": ["post.created"]}),
        ),
        (
            "C",
            json!({"name": "C", "url": receiver_c.url("/hook"), "events": ["post.created"],
                   "auth": {"type": "oauth2_client_credentials", "tokenUrl": tokens.url("/token"),
                            "clientId": "hookd-endpoint", "clientSecret": endpoint_client_secret}}),
        ),
        (
            "D",
            json!({"name": "D", "url": url_d, "events": ["post.created"],
                   "secretQueryParams": ["sig"]}),
        ),
    ] {
        // With an idempotency key, so the answer with the secret is stored for replays.
        let created = live
            .post_once("/v1/webhook-endpoints", body, &format!("create-{name}"))
            .await
            .expect_showing(201, "secret", &mut haystacks);
        let secret = created["data"]["secret"].as_str().unwrap();
        secrets.add(&format!("endpoint {name}'s signing secret"), secret);
        secrets.add_bytes(
            &format!("endpoint {name}'s signing key bytes"),
            base64::engine::general_purpose::STANDARD
                .decode(secret.trim_start_matches("whsec_"))
                .unwrap(),
        );
        endpoints.push(id(&created));
    }
    let test_mode = test
        .post(
            "/v1/webhook-endpoints",
            json!({"name": "T", "url": receiver_b.url, "events": ["job.failed"]}),
        )
        .await
        .expect_showing(201, "secret", &mut haystacks);
    secrets.add(
        "the test-mode endpoint's signing secret",
        test_mode["data"]["secret"].as_str().unwrap(),
    );
    let endpoint_b = format!("/v1/webhook-endpoints/{}", endpoints[1]);
    let rotated = live
        .post_once(
            &format!("{endpoint_b}/rotate-secret"),
            json!({}),
            "rotate-B",
        )
        .await
        .expect_showing(200, "secret", &mut haystacks);
    secrets.add(
        "endpoint B's rotated signing secret",
        rotated["data"]["secret"].as_str().unwrap(),
    );
    live.patch(
        &format!("/v1/webhook-endpoints/{}", endpoints[0]),
        json!({"name": "A renamed"}),
    )
    .await
    .expect(200, &mut haystacks);
    let sent = live
        .post(
            &format!("{endpoint_b}/test"),
            json!({"event": "post.created"}),
        )
        .await
        .expect(200, &mut haystacks);
    assert_eq!(sent["data"]["statusCode"], 200, "{sent}");

    // --- Events and deliveries ---------------------------------------------------------------
    let event = live
        .post(
            "/v1/events",
            json!({"type": "post.created", "data": {"postId": "p_1"}}),
        )
        .await
        .expect(202, &mut haystacks);
    let event_id = id(&event);
    let deliveries = eventually(Duration::from_secs(60), || async {
        let answer = live.get(&format!("/v1/events/{event_id}/deliveries")).await;
        let list = answer.body["data"].as_array().cloned().unwrap_or_default();
        (list.len() == 4 && list.iter().all(|d| d["status"] != "pending")).then_some(list)
    })
    .await;
    for delivery in &deliveries {
        let endpoint = delivery["endpointId"].as_str().unwrap();
        let want = if endpoint == endpoints[3] {
            "failed"
        } else {
            "succeeded"
        };
        assert_eq!(delivery["status"], want, "{delivery}");
    }
    // What the receivers got shows the credentials were used.
    let got_a = receiver_a.received();
    assert_eq!(got_a.len(), 3, "two failures, then success");
    let basic_a = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("ada:{password_a}"))
    );
    for got in &got_a {
        assert_eq!(got.headers["authorization"], basic_a.as_str());
        assert_eq!(
            got.query.as_deref(),
            Some(format!("token={token_a}&plain=1").as_str())
        );
    }
    assert_eq!(receiver_c.count(), 2, "a 401, then the refreshed token");
    let issued_to_endpoint = issued.lock().unwrap().clone();
    assert_eq!(issued_to_endpoint.len(), 2, "{issued_to_endpoint:?}");
    assert_eq!(
        receiver_c.last().header("authorization"),
        Some(format!("Bearer {}", issued_to_endpoint[1]).as_str())
    );
    let failed_d = deliveries
        .iter()
        .find(|d| d["endpointId"] == endpoints[3].as_str())
        .unwrap();
    live.post(
        &format!("/v1/deliveries/{}/retry", failed_d["id"].as_str().unwrap()),
        json!({}),
    )
    .await
    .expect(202, &mut haystacks);
    // A new password and query secret for D, sent as a whole URL again.
    let (password_d2, token_d2) = (fresh("pwD2"), fresh("qpD2"));
    secrets.add("endpoint D's second URL password", &password_d2);
    secrets.add("endpoint D's second secret query parameter", &token_d2);
    let patched = live
        .patch(
            &format!("/v1/webhook-endpoints/{}", endpoints[3]),
            json!({"url": url_d.replace(&password_d, &password_d2).replace(&token_d, &token_d2)}),
        )
        .await
        .expect(200, &mut haystacks);
    assert_eq!(
        patched["data"]["secretQueryParams"],
        json!(["sig"]),
        "{patched}"
    );

    // --- Integrations, with every auth type, and calls -----------------------------------------
    let api = Upstream::start(|seen| {
        if seen.path.ends_with("/fail") {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": "boom"})),
            )
                .into_response()
        } else {
            axum::Json(json!({"ok": true})).into_response()
        }
    })
    .await;
    let oauth_api = unauthorized_once().await;
    let static_header = fresh("hdr");
    let bearer = fresh("tokB");
    let header_value = fresh("keyH");
    let caller_header = fresh("callerH");
    let (basic_user, basic_password) = (fresh("user"), fresh("pwBasic"));
    let integration_client_secret = fresh("csI");
    let closed_token = fresh("tokClosed");
    let url_password = fresh("pwUrl");
    let new_bearer = fresh("tokNew");
    secrets.add("an integration's configured header value", &static_header);
    secrets.add("the bearer integration's token", &bearer);
    secrets.add("the header integration's value", &header_value);
    secrets.add("a caller's header on a call", &caller_header);
    let agent_header = fresh("agentH");
    secrets.add("an agent's header on an MCP tool call", &agent_header);
    secrets.add("the basic integration's user name", &basic_user);
    secrets.add("the basic integration's password", &basic_password);
    secrets.add_basic(
        "the basic integration's credentials",
        &basic_user,
        &basic_password,
    );
    secrets.add(
        "the OAuth2 integration's client secret",
        &integration_client_secret,
    );
    secrets.add_basic(
        "the OAuth2 integration's client credentials",
        "hookd-integration",
        &integration_client_secret,
    );
    secrets.add("the closed integration's token", &closed_token);
    secrets.add("a password in an integration URL", &url_password);
    secrets.add("the bearer integration's replaced token", &new_bearer);
    let integration_query = fresh("qpI");
    secrets.add(
        "the bearer integration's secret query parameter",
        &integration_query,
    );

    let mut integrations = Vec::new();
    for body in [
        json!({"name": "Plain API", "url": api.url("/plain"), "auth": {"type": "none"},
               "allowedPathPrefixes": ["/"],
               "headers": {"X-Static-Secret": static_header}}),
        json!({"name": "Bearer API",
               "url": format!("{}?apiKey={integration_query}&v=1", api.url("/bearer")),
               "secretQueryParams": ["apiKey"],
               "auth": {"type": "bearer", "token": bearer}}),
        json!({"name": "Header API", "url": api.url("/header"), "allowCallerHeaders": true,
               "auth": {"type": "header", "name": "X-API-Key", "value": header_value}}),
        json!({"name": "Basic API", "url": api.url("/basic"),
               "auth": {"type": "basic", "username": basic_user, "password": basic_password}}),
        json!({"name": "OAuth API", "url": oauth_api.url("/api"),
               "auth": {"type": "oauth2_client_credentials", "tokenUrl": tokens.url("/token"),
                        "clientId": "hookd-integration",
                        "clientSecret": integration_client_secret}}),
        json!({"name": "Closed API", "url": format!("{}/api", upstream::closed().await),
               "auth": {"type": "bearer", "token": closed_token}}),
    ] {
        // Integration credentials are write-only from the start: the create answer is swept.
        let created = live
            .post("/v1/integrations", body)
            .await
            .expect(201, &mut haystacks);
        integrations.push(id(&created));
    }
    // Credentials in an integration's URL are refused, and the refusal does not repeat them.
    let refused = live
        .post(
            "/v1/integrations",
            json!({"name": "In URL",
                   "url": api.url("/x").replacen("http://", &format!("http://u:{url_password}@"), 1)}),
        )
        .await
        .expect(400, &mut haystacks);
    assert_eq!(refused["error"]["param"], "url", "{refused}");
    live.patch(
        &format!("/v1/integrations/{}", integrations[1]),
        json!({"description": "Reports", "auth": {"type": "bearer", "token": new_bearer}}),
    )
    .await
    .expect(200, &mut haystacks);

    let calls = |n: usize| format!("/v1/integrations/{}/calls", integrations[n]);
    for (n, body, status) in [
        (0, json!({"path": "/ok", "body": {"n": 1}}), 200),
        (0, json!({"path": "/fail"}), 200),
        (1, json!({}), 200),
        (
            2,
            json!({"headers": {"X-Caller-Token": caller_header}}),
            200,
        ),
        (3, json!({}), 200),
        (4, json!({}), 200),
        (5, json!({}), 502),
    ] {
        live.post(&calls(n), body)
            .await
            .expect(status, &mut haystacks);
    }
    // The upstreams got the credentials.
    let seen = api.seen();
    let header_of = |prefix: &str, name: &str| {
        seen.iter()
            .find(|s| s.path.starts_with(prefix))
            .and_then(|s| s.header(name).map(str::to_string))
    };
    assert_eq!(
        header_of("/plain", "x-static-secret").as_deref(),
        Some(static_header.as_str())
    );
    assert_eq!(
        seen.iter()
            .find(|s| s.path.starts_with("/bearer"))
            .and_then(|s| s.query.clone()),
        Some(format!("apiKey={integration_query}&v=1")),
        "the upstream got the secret query parameter"
    );
    assert_eq!(
        header_of("/bearer", "authorization"),
        Some(format!("Bearer {new_bearer}"))
    );
    assert_eq!(
        header_of("/header", "x-api-key").as_deref(),
        Some(header_value.as_str())
    );
    assert_eq!(
        header_of("/header", "x-caller-token").as_deref(),
        Some(caller_header.as_str())
    );
    assert_eq!(
        header_of("/basic", "authorization"),
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{basic_user}:{basic_password}"))
        ))
    );
    assert_eq!(oauth_api.count(), 2, "a 401, then the refreshed token");
    let all_issued = issued.lock().unwrap().clone();
    assert_eq!(all_issued.len(), 4, "{all_issued:?}");
    for (n, token) in all_issued.iter().enumerate() {
        secrets.add(&format!("OAuth2 access token #{}", n + 1), token);
    }

    // --- Portal, dashboard ----------------------------------------------------------------------
    let browser = client();
    let portal = live
        .post("/v1/portal-sessions", json!({"readOnly": true}))
        .await
        .expect_showing(201, "url", &mut haystacks);
    let link = portal["data"]["url"].as_str().unwrap().to_string();
    secrets.add(
        "the portal link's token",
        link.rsplit('/').next().expect("a token in the link"),
    );
    let redeemed = browser.get(&link).send().await.unwrap();
    assert_eq!(redeemed.status(), StatusCode::SEE_OTHER);
    let portal_cookie = session_cookie(&redeemed);
    secrets.add(
        "the portal's session cookie",
        portal_cookie.split_once('=').unwrap().1,
    );
    let signed_in = browser
        .post(format!("{base_url}/sign-in"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("api_key", &server.live_key)]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed_in.headers()[LOCATION], "/");
    let dashboard_cookie = session_cookie(&signed_in);
    secrets.add(
        "the dashboard's session cookie",
        dashboard_cookie.split_once('=').unwrap().1,
    );
    // Two dashboard actions show a secret once, on the page they answer: a new API key, and a
    // signing secret rotated again.
    let keys_page = browser
        .get(format!("{base_url}/settings/api-keys"))
        .header(COOKIE, dashboard_cookie.as_str())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = keys_page
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF field")
        .to_string();
    for (path, fields, prefix, what) in [
        (
            "/settings/api-keys".to_string(),
            vec![("name", "sweep"), ("_csrf", csrf.as_str())],
            "scripe_sk_live_",
            "the API key created in the dashboard",
        ),
        (
            format!("/endpoints/{}/rotate-secret", endpoints[1]),
            vec![("_csrf", csrf.as_str())],
            "whsec_",
            "endpoint B's signing secret rotated in the dashboard",
        ),
    ] {
        let response = browser
            .post(format!("{base_url}{path}"))
            .header(COOKIE, dashboard_cookie.as_str())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&fields).unwrap())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        let html = response.text().await.unwrap();
        let at = html
            .find(prefix)
            .unwrap_or_else(|| panic!("{path} shows no {prefix}…"));
        let shown: String = html[at + prefix.len()..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        assert!(shown.len() >= 32, "{path} shows a whole secret once");
        secrets.add(what, &format!("{prefix}{shown}"));
    }
    let delivery_ids: Vec<&str> = deliveries
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    let mut pages = vec![
        "/endpoints".to_string(),
        "/events".to_string(),
        format!("/events/{event_id}"),
        "/settings/integrations".to_string(),
        "/settings/api-keys".to_string(),
    ];
    let mut portal_pages = vec!["/endpoints".to_string()];
    for endpoint in &endpoints {
        pages.push(format!("/endpoints/{endpoint}"));
        pages.push(format!("/endpoints/{endpoint}/edit"));
        portal_pages.push(format!("/endpoints/{endpoint}"));
    }
    for integration in &integrations {
        pages.push(format!("/settings/integrations/{integration}"));
        pages.push(format!("/settings/integrations/{integration}/edit"));
    }
    pages.extend(delivery_ids.iter().map(|d| format!("/deliveries/{d}")));
    for (who, cookie, pages) in [
        ("dashboard", &dashboard_cookie, &pages[..]),
        ("portal", &portal_cookie, &portal_pages[..]),
    ] {
        for page in pages {
            let response = browser
                .get(format!("{base_url}{page}"))
                .header(COOKIE, cookie.as_str())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{who} page {page}");
            haystacks.add(
                format!("the {who} page {page}"),
                response.text().await.unwrap(),
            );
        }
    }

    // --- MCP ------------------------------------------------------------------------------------
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{base_url}/mcp"))
            .auth_header(server.live_key.clone()),
    );
    let mcp = mcp_support::Watcher::default()
        .serve(transport)
        .await
        .expect("MCP initialize");
    let tools = mcp_support::tools(&mcp).await;
    haystacks.add("MCP tools/list", serde_json::to_string(&tools).unwrap());
    for (tool, arguments) in [
        ("list_webhook_endpoints", json!({})),
        ("list_integrations", json!({})),
        ("get_delivery", json!({"id": delivery_ids[0]})),
        ("call_integration", json!({"integration": "Bearer API"})),
        (
            "header_api",
            json!({"headers": {"X-Caller-Token": agent_header}}),
        ),
        ("basic_api", json!({})),
        ("oauth_api", json!({})),
        ("closed_api", json!({})),
    ] {
        let result = mcp_support::call(&mcp, tool, arguments).await;
        if tool != "closed_api" {
            mcp_support::ok_json(&result);
        }
        haystacks.add(
            format!("MCP tools/call {tool}"),
            serde_json::to_string(&result).unwrap(),
        );
    }
    mcp.cancel().await.unwrap();
    assert!(
        api.seen()
            .iter()
            .any(|s| s.header("x-caller-token") == Some(agent_header.as_str())),
        "the agent's header reached the upstream"
    );

    // --- Every read of every object ------------------------------------------------------------
    let mut reads = vec![
        "/v1/webhook-endpoints".to_string(),
        "/v1/events".to_string(),
        format!("/v1/events/{event_id}"),
        format!("/v1/events/{event_id}/deliveries"),
        "/v1/deliveries".to_string(),
        "/v1/integrations".to_string(),
        "/v1/event-types".to_string(),
    ];
    for endpoint in &endpoints {
        reads.push(format!("/v1/webhook-endpoints/{endpoint}"));
        reads.push(format!("/v1/webhook-endpoints/{endpoint}/deliveries"));
    }
    for integration in &integrations {
        reads.push(format!("/v1/integrations/{integration}"));
        reads.push(format!("/v1/integrations/{integration}/calls"));
    }
    reads.extend(delivery_ids.iter().map(|d| format!("/v1/deliveries/{d}")));
    // Every delivery, the test send's included.
    let all_deliveries = live.get("/v1/deliveries?limit=100").await;
    for delivery in all_deliveries.body["data"].as_array().unwrap() {
        reads.push(format!(
            "/v1/deliveries/{}",
            delivery["id"].as_str().unwrap()
        ));
    }
    for path in &reads {
        live.get(path).await.expect(200, &mut haystacks);
    }
    for path in [
        "/v1/webhook-endpoints",
        &format!("/v1/webhook-endpoints/{}", id(&test_mode)),
    ] {
        test.get(path).await.expect(200, &mut haystacks);
    }
    let metrics = client()
        .get(format!("{base_url}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    haystacks.add("/metrics", metrics.text().await.unwrap());

    // --- The logs, then the database --------------------------------------------------------
    server.child.kill().await.unwrap();
    server.child.wait().await.unwrap();
    (&mut server.reader).await.unwrap();
    let lines = server.lines.lock().unwrap().join("\n");
    assert!(
        lines.contains("\"level\":\"TRACE\"") && lines.contains("delivery exhausted"),
        "trace-level JSON logs of the whole scenario were captured"
    );
    haystacks.add("the server's logs (stderr)", lines);

    match crate::BACKEND {
        Backend::Sqlite => {
            let mut files = 0;
            for entry in std::fs::read_dir(database.dir.path()).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    files += 1;
                    haystacks.add(
                        format!("the data directory's file {}", path.display()),
                        std::fs::read(&path).unwrap(),
                    );
                }
            }
            assert!(files >= 2, "the database and its WAL are searched");
        }
        Backend::Postgres => postgres_contents(&database.url, &mut haystacks).await,
    }

    // The search finds what is there: each endpoint's signing secret is in its create answer.
    let mut shown = Haystacks::default();
    shown.json("the rotate answer", &rotated);
    assert!(
        findings(&secrets, &shown)
            .iter()
            .any(|f| f.starts_with("endpoint B's rotated signing secret at")),
        "the sweep finds a secret where it is"
    );
    let found = findings(&secrets, &haystacks);
    assert!(
        found.is_empty(),
        "{} secret(s) found where none may be, over {} places searched:\n{}",
        found.len(),
        haystacks.0.len(),
        found.join("\n")
    );
}

/// The `name=value` of an answer's session cookie.
fn session_cookie(response: &reqwest::Response) -> String {
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(set_cookie.starts_with("hookd_session="), "{set_cookie}");
    set_cookie.split(';').next().unwrap().to_string()
}
