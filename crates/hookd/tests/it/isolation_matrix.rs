//! The isolation matrix, generated from the route lists rather than written route by route, so a
//! route added tomorrow is covered without anyone remembering to add it:
//!
//! - **REST**: every operation of the server's own `/openapi.json` whose path takes an id, called
//!   on workspace A's objects with workspace B's key and with A's key of the other mode, answers
//!   404 `not_found` exactly as for an id that never existed, and changes nothing (A's objects
//!   read back the same; A's receiver and integration upstream get no request); a revoked key
//!   gets 401 `unauthorized`.
//! - **Dashboard**: every route of `hookd::dashboard::route_table()` that takes an id, with the
//!   sessions of B and of A's other mode: a 404 page and no change; a revoked key's session is
//!   sent to sign-in on every route; a read-only portal session has every POST refused (403).
//! - **MCP**: every generic tool that takes an id, listed and called by B (and A's other mode)
//!   with A's ids: tool error `not_found`, no change; A's per-integration tool is never listed
//!   for them; a revoked key is refused with 401 at the HTTP layer.
//!
//! The lists of operations, routes and tools come from the server; what the tests hold are only
//! what cannot be derived (which object an id names, a valid body). An operation, route or tool
//! with an id and no entry fails the test as "not covered" instead of being skipped.

use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::fixtures::*;
use crate::harness::*;
use crate::mcp_support;

/// The objects of workspace A (live) that foreign callers aim at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Endpoint,
    Event,
    Delivery,
    Integration,
    ApiKey,
}

/// The project A's endpoint and event belong to.
const PROJECT: &str = "proj_matrix_a";
/// A's integration, and the MCP tool it gets.
const INTEGRATION_NAME: &str = "Matrix upstream";
const INTEGRATION_TOOL: &str = "matrix_upstream";
const INTEGRATION_NAME_IN_PATH: &str = "Matrix%20upstream";

/// Workspace A's objects and the keys that must not reach them.
struct World {
    app: TestApp,
    /// A's endpoint points here: a request arriving after setup is a leak.
    receiver: Receiver,
    /// A's integration calls this: a request arriving after setup is a leak.
    upstream: Receiver,
    /// Workspace B's live and test keys.
    b_live: String,
    b_test: String,
    /// A live key of A, revoked before the matrix runs.
    revoked: String,
    endpoint: String,
    event: String,
    delivery: String,
    integration: String,
    /// An unrevoked live key of A that the dashboard's revoke action aims at.
    spare_key: String,
}

impl World {
    fn id(&self, target: Target) -> &str {
        match target {
            Target::Endpoint => &self.endpoint,
            Target::Event => &self.event,
            Target::Delivery => &self.delivery,
            Target::Integration => &self.integration,
            Target::ApiKey => &self.spare_key,
        }
    }

    /// The id of `target`'s type that never existed.
    fn missing(&self, target: Target) -> String {
        let id = self.id(target);
        let prefix = &id[..id.find('_').unwrap() + 1];
        format!("{prefix}01jc8z6f3v2m9q4w7x5y8z0a1b")
    }
}

/// Boots one app and gives workspace A an endpoint with a delivered event, an integration with a
/// logged call, and keys; B gets keys of both modes.
async fn world() -> World {
    // The matrix makes many refused requests with a revoked key on purpose: not an attack.
    let app = spawn_app_with(|c| c.auth_failure_limit = 100_000).await;
    let receiver = Receiver::start().await;
    let upstream = Receiver::start().await;
    let a = app.live_key.clone();
    let (status, body) = app
        .post_json(
            &a,
            ENDPOINTS,
            &json!({"name": "A", "url": receiver.url, "events": ["post.created"],
                    "projectId": PROJECT}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let endpoint = body["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .post_json(
            &a,
            "/v1/events",
            &json!({"type": "post.created", "projectId": PROJECT, "data": {"n": 1}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let event = body["data"]["id"].as_str().unwrap().to_string();
    receiver.wait_for(1, Duration::from_secs(10)).await;
    let delivery = eventually(Duration::from_secs(10), || async {
        let (_, body) = app
            .get_json(&a, &format!("/v1/events/{event}/deliveries"))
            .await;
        let delivery = &body["data"][0];
        (delivery["status"] == "succeeded").then(|| delivery["id"].as_str().unwrap().to_string())
    })
    .await;
    let (status, body) = app
        .post_json(
            &a,
            "/v1/integrations",
            &json!({"name": INTEGRATION_NAME, "url": upstream.url}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let integration = body["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .post_json(
            &a,
            &format!("/v1/integrations/{integration}/calls"),
            &json!({"body": {"n": 1}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(upstream.count(), 1);

    let (b_live, b_test) = app.new_workspace("b").await;
    let (revoked_record, revoked) = live_key_of_a(&app).await;
    hookd::admin::revoke_key(&app.store, revoked_record.as_str())
        .await
        .unwrap();
    let (spare_key, _) = live_key_of_a(&app).await;
    World {
        app,
        receiver,
        upstream,
        b_live,
        b_test,
        revoked,
        endpoint,
        event,
        delivery,
        integration,
        spare_key,
    }
}

/// A new live key of workspace A: its id and the key.
async fn live_key_of_a(app: &TestApp) -> (String, String) {
    let (record, key) = hookd::admin::create_key(
        &app.store,
        hookd::admin::DEFAULT_WORKSPACE,
        hookd::domain::tenant::Mode::Live,
    )
    .await
    .unwrap();
    (record.id.as_str().to_string(), key)
}

/// Everything of A a foreign request could change, as A reads it, and what A's receiver and
/// upstream got. Equal before and after a request: the request changed nothing.
async fn snapshot(w: &World) -> Value {
    let a = &w.app.live_key;
    let mut reads = serde_json::Map::new();
    for path in [
        format!("{ENDPOINTS}/{}", w.endpoint),
        format!("{ENDPOINTS}/{}/deliveries", w.endpoint),
        format!("{ENDPOINTS}?limit=100"),
        format!("/v1/events/{}", w.event),
        format!("/v1/events/{}/deliveries", w.event),
        "/v1/events?limit=100".to_string(),
        format!("/v1/deliveries/{}", w.delivery),
        format!("/v1/integrations/{}", w.integration),
        format!("/v1/integrations/{}/calls", w.integration),
        "/v1/integrations?limit=100".to_string(),
    ] {
        let (status, body) = w.app.get_json(a, &path).await;
        reads.insert(path, json!({"status": status.as_u16(), "body": body}));
    }
    let keys: Vec<Value> = w
        .app
        .store
        .list_api_keys(None)
        .await
        .unwrap()
        .iter()
        .map(|k| json!([k.id.as_str(), k.revoked_at.is_some()]))
        .collect();
    json!({
        "reads": reads,
        "keys": keys,
        "receiver": w.receiver.count(),
        "upstream": w.upstream.count(),
    })
}

/// Asserts nothing of A changed since `before`, naming the request and what it changed.
async fn assert_unchanged(w: &World, before: &Value, what: &str) {
    let after = snapshot(w).await;
    let mut changes = Vec::new();
    differences("", before, &after, &mut changes);
    assert!(
        changes.is_empty(),
        "{what} changed workspace A's data:\n{}",
        changes.join("\n")
    );
}

/// Where `after` differs from `before`, one line a differing leaf.
fn differences(at: &str, before: &Value, after: &Value, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for key in b.keys().chain(a.keys().filter(|k| !b.contains_key(*k))) {
                let missing = Value::Null;
                let (b, a) = (
                    b.get(key).unwrap_or(&missing),
                    a.get(key).unwrap_or(&missing),
                );
                differences(&format!("{at}/{key}"), b, a, out);
            }
        }
        (Value::Array(b), Value::Array(a)) if b.len() == a.len() => {
            for (i, (b, a)) in b.iter().zip(a).enumerate() {
                differences(&format!("{at}/{i}"), b, a, out);
            }
        }
        _ if before != after => out.push(format!("{at}: {before} → {after}")),
        _ => {}
    }
}

// --- REST ------------------------------------------------------------------------------------

/// What the test must be told about an operation with an id: which of A's objects the id names
/// and a valid body (what cannot be read from the document). Keyed by `METHOD /path`.
fn rest_entry(operation: &str) -> Option<(Target, Option<Value>)> {
    let entry = match operation {
        "GET /v1/webhook-endpoints/{id}" | "DELETE /v1/webhook-endpoints/{id}" => {
            (Target::Endpoint, None)
        }
        "PATCH /v1/webhook-endpoints/{id}" => (
            Target::Endpoint,
            Some(json!({"name": "hijacked", "isActive": false})),
        ),
        "POST /v1/webhook-endpoints/{id}/rotate-secret" => (Target::Endpoint, Some(json!({}))),
        "POST /v1/webhook-endpoints/{id}/test" => {
            (Target::Endpoint, Some(json!({"event": "post.created"})))
        }
        "GET /v1/webhook-endpoints/{id}/deliveries" => (Target::Endpoint, None),
        "POST /v1/webhook-endpoints/{id}/replay" => (
            Target::Endpoint,
            Some(json!({"since": "2020-01-01T00:00:00Z", "status": "failed"})),
        ),
        "GET /v1/events/{id}" | "DELETE /v1/events/{id}" | "GET /v1/events/{id}/deliveries" => {
            (Target::Event, None)
        }
        "GET /v1/deliveries/{id}" => (Target::Delivery, None),
        "POST /v1/deliveries/{id}/retry" => (Target::Delivery, Some(json!({}))),
        "GET /v1/integrations/{id}"
        | "DELETE /v1/integrations/{id}"
        | "GET /v1/integrations/{id}/calls" => (Target::Integration, None),
        "PATCH /v1/integrations/{id}" => (
            Target::Integration,
            Some(json!({"name": "hijacked", "url": "http://127.0.0.1:9/x"})),
        ),
        "POST /v1/integrations/{id}/calls" => (
            Target::Integration,
            Some(json!({"body": {"hijacked": true}})),
        ),
        _ => return None,
    };
    Some(entry)
}

/// `METHOD /path` of every operation in the document whose path takes a parameter.
async fn operations_with_an_id(app: &TestApp) -> Vec<String> {
    let document: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = document["paths"]
        .as_object()
        .expect("paths in /openapi.json");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "put", "post", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let takes_path_parameter = operation["parameters"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["in"] == "path"));
            if takes_path_parameter || path.contains('{') {
                operations.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(
        operations.len() >= 10,
        "the document lists too few operations with an id: {operations:?}"
    );
    operations
}

/// Sends one operation with `id` in place of the path's parameter.
async fn call_rest(
    app: &TestApp,
    key: &str,
    operation: &str,
    id: &str,
    body: &Option<Value>,
) -> (StatusCode, Value) {
    let (method, path) = operation.split_once(' ').unwrap();
    let path = path.replace("{id}", id);
    assert!(
        !path.contains('{'),
        "{operation}: an unknown path parameter"
    );
    let mut request = app
        .client
        .request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(&path),
        )
        .bearer_auth(key);
    if let Some(body) = body {
        request = request.json(body);
    }
    into_parts(request.send().await.unwrap()).await
}

#[suite_test]
async fn every_rest_operation_with_an_id_hides_workspace_a_from_other_workspaces_modes_and_revoked_keys(
) {
    let w = world().await;
    let operations = operations_with_an_id(&w.app).await;
    let uncovered: Vec<&String> = operations
        .iter()
        .filter(|op| rest_entry(op).is_none())
        .collect();
    assert!(
        uncovered.is_empty(),
        "operation {uncovered:?} is not covered: add it to rest_entry in isolation_matrix.rs"
    );

    let before = snapshot(&w).await;
    let foreign = [
        ("workspace B's live key", &w.b_live),
        ("workspace B's test key", &w.b_test),
        ("A's test key", &w.app.test_key),
    ];
    for operation in &operations {
        let (target, body) = rest_entry(operation).unwrap();
        let id = w.id(target);
        for (who, key) in foreign {
            let (status, answer) = call_rest(&w.app, key, operation, id, &body).await;
            assert_eq!(status, 404, "{operation} with {who}: {answer}");
            assert_error(status, &answer, 404, "not_found", None);
            // Indistinguishable from an id that never existed.
            let missing = w.missing(target);
            let (_, never) = call_rest(&w.app, key, operation, &missing, &body).await;
            assert_eq!(
                answer.to_string().replace(id, "<id>"),
                never.to_string().replace(&missing, "<id>"),
                "{operation} with {who}: another tenant's object answers unlike a missing one"
            );
            assert_unchanged(&w, &before, &format!("{operation} with {who}")).await;
            if target == Target::Integration {
                // Integrations are also known by name: A's name is nobody else's either.
                let (status, answer) =
                    call_rest(&w.app, key, operation, INTEGRATION_NAME_IN_PATH, &body).await;
                assert_error(status, &answer, 404, "not_found", None);
                assert_unchanged(&w, &before, &format!("{operation} by name with {who}")).await;
            }
        }
        let (status, answer) = call_rest(&w.app, &w.revoked, operation, id, &body).await;
        assert_error(status, &answer, 401, "unauthorized", None);
        assert_unchanged(&w, &before, &format!("{operation} with a revoked key")).await;
    }

    // An id in a body rather than a path: erasing A's project from B or the other mode erases
    // nothing of A's.
    for key in [&w.b_live, &w.app.test_key] {
        let (status, answer) = w
            .app
            .post_json(key, "/v1/events/erase", &json!({"projectId": PROJECT}))
            .await;
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["data"]["erased"], 0, "{answer}");
        assert_unchanged(&w, &before, "POST /v1/events/erase of A's project").await;
    }
}

// --- Dashboard -------------------------------------------------------------------------------

/// Routes of the dashboard that are outside the matrix, and why.
const DASHBOARD_EXEMPT: &[(&str, &str)] = &[
    ("POST /sign-in", "opens a session; takes no id"),
    (
        "POST /sign-out",
        "ends the caller's own session; allowed to every session, read-only ones included",
    ),
    (
        "GET /portal/{token}",
        "a one-time link token, not an object (tests/it/portal_door.rs)",
    ),
    ("GET /assets/{name}", "embedded files, no tenant data"),
];

/// A form's fields, without the CSRF token.
type Form = Vec<(&'static str, String)>;

/// What the test must be told about a dashboard route: the object its id names (none for
/// routes without one) and valid form fields (what cannot be read from the route table).
/// Keyed by `METHOD /path`; every route with an id and every POST needs one.
fn dashboard_entry(route: &str) -> Option<(Option<Target>, Form)> {
    let endpoint_fields = vec![
        ("name", "hijacked".to_string()),
        ("url", URL.to_string()),
        ("events", "post.created".to_string()),
    ];
    let integration_fields = vec![
        ("name", "hijacked".to_string()),
        ("url", "http://127.0.0.1:9/x".to_string()),
        ("method", "POST".to_string()),
        ("auth_type", "none".to_string()),
        ("content_type", "application/json".to_string()),
        ("timeout_ms", "10000".to_string()),
    ];
    let entry = match route {
        "GET /endpoints/{id}"
        | "GET /endpoints/{id}/edit"
        | "GET /endpoints/{id}/delete"
        | "POST /endpoints/{id}/rotate-secret"
        | "POST /endpoints/{id}/delete" => (Some(Target::Endpoint), vec![]),
        "POST /endpoints/{id}/active" => (Some(Target::Endpoint), vec![("active", "false".into())]),
        "POST /endpoints/{id}/test" => (
            Some(Target::Endpoint),
            vec![("test-event", "post.created".into())],
        ),
        "POST /endpoints/{id}/replay" => (Some(Target::Endpoint), vec![("since", "24h".into())]),
        "POST /endpoints/{id}/edit" => (Some(Target::Endpoint), endpoint_fields),
        "POST /endpoints" => (None, endpoint_fields),
        "GET /deliveries/{id}" | "POST /deliveries/{id}/retry" => (Some(Target::Delivery), vec![]),
        "GET /events/{id}" => (Some(Target::Event), vec![]),
        "GET /settings/integrations/{id}"
        | "GET /settings/integrations/{id}/edit"
        | "GET /settings/integrations/{id}/disconnect"
        | "POST /settings/integrations/{id}/disconnect" => (Some(Target::Integration), vec![]),
        "POST /settings/integrations/{id}/edit" => (Some(Target::Integration), integration_fields),
        "POST /settings/integrations/{id}/try" => (
            Some(Target::Integration),
            vec![("try_method", "POST".into()), ("try_body", "{}".into())],
        ),
        "POST /settings/integrations/new" => (None, integration_fields),
        "GET /settings/api-keys/{id}/revoke" | "POST /settings/api-keys/{id}/revoke" => {
            (Some(Target::ApiKey), vec![])
        }
        "POST /settings/api-keys" => (None, vec![("name", "hijacked".into())]),
        _ => return None,
    };
    Some(entry)
}

/// A route of the matrix with the path its id fills.
struct DashboardCase {
    route: String,
    method: Method,
    path: String,
    target: Option<Target>,
    fields: Form,
}

/// Every dashboard route taking an id or changing state, from the server's route table.
fn dashboard_cases(w: &World) -> Vec<DashboardCase> {
    let table = hookd::dashboard::route_table();
    assert!(table.len() >= 20, "a short route table: {table:?}");
    let mut cases = Vec::new();
    let mut uncovered = Vec::new();
    for route in table {
        let key = format!("{} {}", route.method, route.path);
        if DASHBOARD_EXEMPT.iter().any(|(exempt, _)| *exempt == key) {
            continue;
        }
        let needs_entry = route.path.contains('{') || route.method != "GET";
        match dashboard_entry(&key) {
            Some((target, fields)) => cases.push(DashboardCase {
                path: match target {
                    Some(target) => route.path.replace("{id}", w.id(target)),
                    None => route.path.to_string(),
                },
                method: Method::from_bytes(route.method.as_bytes()).unwrap(),
                route: key,
                target,
                fields,
            }),
            None if needs_entry => uncovered.push(key),
            None => {}
        }
    }
    assert!(
        uncovered.is_empty(),
        "dashboard route {uncovered:?} is not covered: add it to dashboard_entry (or \
         DASHBOARD_EXEMPT, with the reason) in isolation_matrix.rs"
    );
    for case in &cases {
        assert!(
            !case.path.contains('{'),
            "{}: unknown parameter",
            case.route
        );
    }
    cases
}

/// A client that shows redirects instead of following them.
fn page_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A dashboard session: its cookie (`name=value`) and its CSRF token.
struct PageSession {
    cookie: String,
    csrf: String,
}

impl PageSession {
    async fn sign_in(app: &TestApp, key: &str) -> Self {
        let response = page_client()
            .post(app.url("/sign-in"))
            .form(&[("api_key", key)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        Self::from_cookie(app, set_cookie(&response)).await
    }

    /// Opens a portal link made by A's live key with `body`.
    async fn portal(app: &TestApp, body: Value) -> Self {
        let (status, answer) = app
            .post_json(&app.live_key, "/v1/portal-sessions", &body)
            .await;
        assert_eq!(status, 201, "{answer}");
        let response = page_client()
            .get(answer["data"]["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        Self::from_cookie(app, set_cookie(&response)).await
    }

    /// The CSRF token is read from the endpoints page (its sign-out form carries one).
    async fn from_cookie(app: &TestApp, cookie: String) -> Self {
        let html = page_client()
            .get(app.url("/endpoints"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let at = html.find("name=\"_csrf\" value=\"").expect("a CSRF field") + 20;
        let csrf = html[at..].split('"').next().unwrap().to_string();
        Self { cookie, csrf }
    }

    async fn send(&self, app: &TestApp, case: &DashboardCase) -> reqwest::Response {
        let request = page_client()
            .request(case.method.clone(), app.url(&case.path))
            .header(COOKIE, &self.cookie);
        let request = if case.method == Method::POST {
            let mut form = vec![("_csrf", self.csrf.clone())];
            form.extend(case.fields.iter().cloned());
            request.form(&form)
        } else {
            request
        };
        request.send().await.unwrap()
    }
}

fn set_cookie(response: &reqwest::Response) -> String {
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

#[suite_test]
async fn every_dashboard_route_with_an_id_hides_workspace_a_and_read_only_portals_change_nothing() {
    let w = world().await;
    let cases = dashboard_cases(&w);
    let before = snapshot(&w).await;

    // Another workspace, and A's other mode: a 404 page for every route with an id.
    for (who, key) in [
        ("workspace B", &w.b_live),
        ("workspace B's test mode", &w.b_test),
        ("A's test mode", &w.app.test_key),
    ] {
        let session = PageSession::sign_in(&w.app, key).await;
        for case in cases.iter().filter(|c| c.target.is_some()) {
            let response = session.send(&w.app, case).await;
            assert_eq!(
                response.status(),
                StatusCode::NOT_FOUND,
                "{} as {who}: {}",
                case.route,
                response.text().await.unwrap()
            );
            assert_unchanged(&w, &before, &format!("{} as {who}", case.route)).await;
        }
    }

    // A read-only portal of A: every POST refused, nothing changes.
    let read_only = PageSession::portal(&w.app, json!({"readOnly": true})).await;
    for case in cases.iter().filter(|c| c.method == Method::POST) {
        let response = read_only.send(&w.app, case).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{} in a read-only portal: {}",
            case.route,
            response.text().await.unwrap()
        );
        assert_unchanged(
            &w,
            &before,
            &format!("{} in a read-only portal", case.route),
        )
        .await;
    }

    // A session whose key is revoked afterwards: sign-in at once, on every route.
    let (key_id, key) = live_key_of_a(&w.app).await;
    let session = PageSession::sign_in(&w.app, &key).await;
    hookd::admin::revoke_key(&w.app.store, &key_id)
        .await
        .unwrap();
    let before = snapshot(&w).await;
    for case in &cases {
        let response = session.send(&w.app, case).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{} with a revoked key's session",
            case.route
        );
        let location = response.headers()[LOCATION].to_str().unwrap();
        assert!(
            location.starts_with("/sign-in"),
            "{}: {location}",
            case.route
        );
        assert_unchanged(
            &w,
            &before,
            &format!("{} with a revoked key's session", case.route),
        )
        .await;
    }
}

// --- MCP -------------------------------------------------------------------------------------

/// How a tool argument that names an object is filled with A's objects, by argument name: the
/// values to try and what must happen. Only what the tool's schema cannot say.
enum Aim {
    /// Each value names an object of A: tool error `not_found`.
    NotFound(Vec<String>),
    /// A value the caller scopes to itself (a project name): the call works, A sees nothing.
    OwnScope(String),
}

fn mcp_aim(w: &World, tool: &str, argument: &str) -> Option<Aim> {
    let aim = match (tool, argument) {
        (_, "id") if tool.contains("delivery") => Aim::NotFound(vec![w.delivery.clone()]),
        ("call_integration", "integration") => Aim::NotFound(vec![
            w.integration.clone(),
            INTEGRATION_NAME.to_string(),
            INTEGRATION_TOOL.to_string(),
        ]),
        ("publish_event", "projectId") => Aim::OwnScope(PROJECT.to_string()),
        _ => return None,
    };
    Some(aim)
}

/// Whether a tool's argument names an object: `id`, `…Id`, `integration`, or a prefixed-id
/// pattern (`^dlv_…`).
fn names_an_object(name: &str, schema: &Value) -> bool {
    let prefixed_id = |pattern: &str| {
        pattern.strip_prefix('^').is_some_and(|rest| {
            let prefix = rest.split('_').next().unwrap_or_default();
            rest.contains('_')
                && !prefix.is_empty()
                && prefix.bytes().all(|b| b.is_ascii_lowercase())
        })
    };
    name == "id"
        || name.ends_with("Id")
        || name == "integration"
        || schema["pattern"].as_str().is_some_and(prefixed_id)
}

/// The arguments a tool needs besides the aimed one (what its schema requires).
fn other_required(tool: &str) -> Value {
    match tool {
        "publish_event" => json!({"type": "post.created", "data": {"n": 2}}),
        _ => json!({}),
    }
}

#[suite_test]
async fn every_mcp_tool_taking_an_id_hides_workspace_a_and_revoked_keys_are_refused() {
    let w = world().await;
    let before = snapshot(&w).await;
    let mut uncovered = Vec::new();
    let mut aimed = 0;
    for (who, key) in [
        ("workspace B", &w.b_live),
        ("workspace B's test mode", &w.b_test),
        ("A's test mode", &w.app.test_key),
    ] {
        let (client, _) = mcp_support::connect(&w.app, key).await;
        let tools = mcp_support::tools(&client).await;
        let names = mcp_support::names(&tools);
        assert!(
            !names.iter().any(|n| n == INTEGRATION_TOOL),
            "{who} is offered A's integration tool: {names:?}"
        );
        for name in &names {
            assert!(
                hookd::mcp::tools::GENERIC.contains(&name.as_str()),
                "{who} has no integrations, yet is offered {name}"
            );
        }
        // Nor can A's tool be called by its name without being listed.
        let direct = client
            .call_tool(rmcp::model::CallToolRequestParams::new(INTEGRATION_TOOL))
            .await;
        assert!(
            direct.as_ref().map_or(true, |r| r.is_error == Some(true)),
            "{who} called A's integration tool: {direct:?}"
        );
        assert_unchanged(&w, &before, &format!("{INTEGRATION_TOOL} as {who}")).await;
        for tool in &tools {
            let properties = tool.input_schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for (argument, schema) in &properties {
                if !names_an_object(argument, schema) {
                    continue;
                }
                let Some(aim) = mcp_aim(&w, &tool.name, argument) else {
                    uncovered.push(format!("{}({argument})", tool.name));
                    continue;
                };
                let what = format!("{}({argument}) as {who}", tool.name);
                let mut arguments = other_required(&tool.name);
                match aim {
                    Aim::NotFound(values) => {
                        for value in values {
                            arguments[argument.as_str()] = json!(value);
                            let result =
                                mcp_support::call(&client, &tool.name, arguments.clone()).await;
                            mcp_support::assert_tool_error(&result, "not_found", None);
                            aimed += 1;
                            assert_unchanged(&w, &before, &format!("{what} = {value}")).await;
                        }
                    }
                    Aim::OwnScope(value) => {
                        arguments[argument.as_str()] = json!(value);
                        let result = mcp_support::call(&client, &tool.name, arguments).await;
                        mcp_support::ok_json(&result);
                        assert_unchanged(&w, &before, &what).await;
                    }
                }
            }
        }
        client.cancel().await.unwrap();
    }
    uncovered.sort();
    uncovered.dedup();
    assert!(
        uncovered.is_empty(),
        "MCP tool {uncovered:?} is not covered: add it to mcp_aim in isolation_matrix.rs"
    );
    assert!(aimed >= 12, "too few tool calls aimed at A: {aimed}");

    // A revoked key: 401 at the HTTP layer, for a new session and for one opened before.
    let (key_id, key) = live_key_of_a(&w.app).await;
    let open = mcp_support::RawSession::open(&w.app, &key).await;
    hookd::admin::revoke_key(&w.app.store, &key_id)
        .await
        .unwrap();
    let before = snapshot(&w).await;
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let (refused, _) = open.post(list).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(refused.message["error"]["code"], "unauthorized");
    let call = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"retry_delivery","arguments":{{"id":"{}"}}}}}}"#,
        w.delivery
    );
    let (refused, _) = open.post(call).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    for revoked in [&key, &w.revoked] {
        assert!(mcp_support::try_connect(&w.app, revoked).await.is_err());
    }
    assert_unchanged(&w, &before, "MCP with a revoked key").await;
}
