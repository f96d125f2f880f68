//! `GET /openapi.json`: an OpenAPI 3.1 document that lists exactly the routes the app serves,
//! and each of those routes really is served.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::harness::*;

/// Every route the app serves, written out by hand so a route added without documentation (or
/// documented but not served) fails here. `/openapi.json` itself is the document, not in it.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/readyz"),
    ("get", "/v1/event-types"),
    ("get", "/v1/webhook-endpoints"),
    ("post", "/v1/webhook-endpoints"),
    ("delete", "/v1/webhook-endpoints/{id}"),
    ("get", "/v1/webhook-endpoints/{id}"),
    ("patch", "/v1/webhook-endpoints/{id}"),
    ("post", "/v1/webhook-endpoints/{id}/rotate-secret"),
    ("post", "/v1/webhook-endpoints/{id}/test"),
    ("get", "/v1/webhook-endpoints/{id}/deliveries"),
    ("post", "/v1/webhook-endpoints/{id}/replay"),
    ("get", "/v1/events"),
    ("post", "/v1/events"),
    ("get", "/v1/events/{id}"),
    ("delete", "/v1/events/{id}"),
    ("post", "/v1/events/erase"),
    ("get", "/v1/events/{id}/deliveries"),
    ("get", "/v1/deliveries"),
    ("get", "/v1/deliveries/{id}"),
    ("post", "/v1/deliveries/{id}/retry"),
    ("get", "/v1/integrations"),
    ("post", "/v1/integrations"),
    ("delete", "/v1/integrations/{id}"),
    ("get", "/v1/integrations/{id}"),
    ("patch", "/v1/integrations/{id}"),
    ("get", "/v1/integrations/{id}/calls"),
    ("post", "/v1/integrations/{id}/calls"),
    ("post", "/v1/portal-sessions"),
];

const UNAUTHENTICATED: &[&str] = &["/healthz", "/metrics", "/readyz"];

async fn document(app: &TestApp) -> Value {
    let r = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    serde_json::from_str(&r.text().await.unwrap()).expect("the document is JSON")
}

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                out.insert((method.to_string(), path.clone()));
            }
        }
    }
    out
}

#[suite_test]
async fn the_document_is_openapi_3_1_and_lists_every_route() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(operations(&doc), expected);

    for (method, path) in ROUTES {
        let op = &doc["paths"][path][method];
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|code| code.starts_with('2')),
            "{method} {path} documents its success answer"
        );
        if path.contains("{id}") {
            let params = op["parameters"].as_array().expect("parameters");
            assert!(
                params
                    .iter()
                    .any(|p| p["name"] == "id" && p["in"] == "path"),
                "{method} {path} documents the id"
            );
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[suite_test]
async fn the_document_tells_which_routes_need_no_key() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    for (method, path) in ROUTES {
        let op = &doc["paths"][path][method];
        let security = op.get("security").or_else(|| doc.get("security"));
        let needs_key = security
            .and_then(Value::as_array)
            .is_some_and(|reqs| !reqs.is_empty() && reqs.iter().all(|r| r.get("bearer").is_some()));
        assert_eq!(
            needs_key,
            !UNAUTHENTICATED.contains(path),
            "{method} {path}: documented security {security:?}"
        );
    }
}

#[suite_test]
async fn every_documented_route_is_served() {
    let app = spawn_app().await;
    let created = app
        .create_endpoint("https://127.0.0.1:9/hook", &["post.created"])
        .await;
    let id = created["id"].as_str().unwrap();
    let (status, event) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &serde_json::json!({"type": "post.created", "data": {}}),
        )
        .await;
    assert_eq!(status, 202, "{event}");
    let event_id = event["data"]["id"].as_str().unwrap().to_string();
    let (_, deliveries) = app
        .get_json(&app.live_key, &format!("/v1/events/{event_id}/deliveries"))
        .await;
    let delivery_id = deliveries["data"][0]["id"].as_str().unwrap().to_string();
    let (status, integration) = app
        .post_json(
            &app.live_key,
            "/v1/integrations",
            &serde_json::json!({"name": "served", "url": "http://127.0.0.1:9/"}),
        )
        .await;
    assert_eq!(status, 201, "{integration}");
    let integration_id = integration["data"]["id"].as_str().unwrap().to_string();
    // DELETE last, so the other routes still find the endpoint.
    let mut routes = ROUTES.to_vec();
    routes.sort_by_key(|(method, _)| *method == "delete");
    for (method, path) in routes {
        let object_id = if path.starts_with("/v1/events/") {
            event_id.as_str()
        } else if path.starts_with("/v1/deliveries/") {
            delivery_id.as_str()
        } else if path.starts_with("/v1/integrations/") {
            integration_id.as_str()
        } else {
            id
        };
        let path = path.replace("{id}", object_id);
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
        let mut request = app.req(method.clone(), &path);
        if method == Method::POST || method == Method::PATCH {
            request = request.json(&serde_json::json!({}));
        }
        let status = request.send().await.unwrap().status().as_u16();
        assert!(
            ![404, 405, 500].contains(&status),
            "{method} {path} answered {status}"
        );
    }
}

#[suite_test]
async fn the_integration_call_policy_and_description_are_documented() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    for schema in ["Integration", "CreateIntegration", "UpdateIntegration"] {
        let properties = &schemas[schema]["properties"];
        for field in [
            "description",
            "allowedMethods",
            "allowedPathPrefixes",
            "allowCallerHeaders",
        ] {
            assert!(properties[field].is_object(), "{schema}.{field}");
        }
    }
    assert!(schemas["IntegrationCall"]["properties"]["via"].is_object());
    let call = &doc["paths"]["/v1/integrations/{id}/calls"]["post"]["responses"];
    assert!(call["403"]["description"]
        .as_str()
        .unwrap()
        .contains("call_not_allowed"));
    // MCP is JSON-RPC at `/mcp` (docs/mcp.md), not a REST route of this document.
    assert!(doc["paths"].get("/mcp").is_none());
}

/// Every `/v1` operation lists the answers the shared pipeline and extractors can give it, in
/// the one error shape, and the headers it takes and answers with: written once in
/// `api/openapi.rs`, so a new route cannot forget them; this fails if one does.
#[suite_test]
async fn every_operation_documents_the_pipeline_answers() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    for (method, path) in ROUTES.iter().filter(|(_, p)| p.starts_with("/v1/")) {
        let op = &doc["paths"][path][method];
        let writes = ["post", "patch", "delete"].contains(method);
        let reads_body = op.get("requestBody").is_some();
        let mut expected = vec!["400", "401", "413", "429", "503"];
        if path.contains("{id}") {
            expected.push("404");
        }
        if writes {
            expected.push("409");
        }
        if reads_body {
            expected.extend(["408", "415"]);
        }
        for status in expected {
            let response = &op["responses"][status];
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {path} documents {status} in the error shape"
            );
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{method} {path} {status} says when"
            );
        }
        for (status, response) in op["responses"].as_object().unwrap() {
            for header in ["X-Request-Id", "Scripe-Api-Version"] {
                assert_eq!(
                    response["headers"][header]["required"], true,
                    "{method} {path} {status} answers with {header}"
                );
            }
            if status == "429" {
                assert_eq!(response["headers"]["Retry-After"]["required"], true);
            }
        }
        let parameters = op["parameters"].as_array().expect("parameters");
        let header = |name: &str| {
            parameters
                .iter()
                .find(|p| p["name"] == name && p["in"] == "header")
        };
        let version = header("Scripe-Api-Version").unwrap_or_else(|| {
            panic!("{method} {path} takes Scripe-Api-Version");
        });
        assert_eq!(version["schema"]["enum"], serde_json::json!(["2026-08-01"]));
        match header("Idempotency-Key") {
            Some(key) => {
                assert!(writes, "{method} {path}: Idempotency-Key only on writes");
                assert_eq!(key["schema"]["pattern"], "^[A-Za-z0-9_-]{1,64}$");
                assert_eq!(key["schema"]["maxLength"], 64);
            }
            None => assert!(!writes, "{method} {path} takes Idempotency-Key"),
        }
        if reads_body {
            let body = &op["requestBody"]["content"]["application/json"]["schema"]["$ref"];
            let name = body.as_str().unwrap().rsplit('/').next().unwrap();
            assert_eq!(
                doc["components"]["schemas"][name]["additionalProperties"], false,
                "{method} {path}: unknown fields are refused, so the schema says so"
            );
        }
    }
}

/// The schemas carry the server's real constraints: what they allow, the server accepts.
#[suite_test]
async fn the_document_carries_the_real_constraints() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let (status, catalog) = app.get_json(&app.live_key, "/v1/event-types").await;
    assert_eq!(status, 200);
    let types: Vec<Value> = catalog["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["CreateEndpoint"]["properties"]["events"]["items"]["enum"],
        Value::Array(types.clone())
    );
    assert_eq!(
        schemas["CreateEndpoint"]["properties"]["events"]["minItems"],
        1
    );
    assert_eq!(
        schemas["TestEvent"]["properties"]["event"]["enum"],
        Value::Array(types.clone())
    );
    assert!(schemas["PublishEvent"]["properties"]["type"]["enum"]
        .as_array()
        .is_some_and(|e| !e.is_empty() && e.iter().all(|t| types.contains(t))));
    let name = &schemas["CreateEndpoint"]["properties"]["name"];
    assert_eq!(
        (&name["minLength"], &name["maxLength"]),
        (&1.into(), &128.into())
    );
    assert_eq!(
        schemas["CreateEndpoint"]["properties"]["url"]["maxLength"],
        1024
    );

    for (method, path) in ROUTES.iter().filter(|(_, p)| p.starts_with("/v1/")) {
        let op = &doc["paths"][path][method];
        for parameter in op["parameters"].as_array().unwrap() {
            let schema = &parameter["schema"];
            match parameter["name"].as_str().unwrap() {
                "limit" => {
                    assert_eq!(schema["type"], "integer", "{method} {path} limit");
                    assert_eq!(
                        (&schema["minimum"], &schema["maximum"]),
                        (&1.into(), &100.into())
                    );
                }
                "cursor" | "id" => assert!(
                    schema["pattern"]
                        .as_str()
                        .is_some_and(|p| p.contains("_[0-7][0-9A-H")),
                    "{method} {path} {}: an id pattern",
                    parameter["name"]
                ),
                _ => {}
            }
        }
    }

    // The patterns are the server's: a documented id shape is found (or 404), another is not.
    let endpoint = app
        .create_endpoint("https://127.0.0.1:9/hook", &["post.created"])
        .await;
    let id = endpoint["id"].as_str().unwrap();
    let pattern = doc["paths"]["/v1/webhook-endpoints/{id}"]["get"]["parameters"][0]["schema"]
        ["pattern"]
        .as_str()
        .unwrap();
    assert!(regex_lite_match(pattern, id), "{pattern} matches {id}");
    let (status, _) = app
        .get_json(&app.live_key, &format!("/v1/webhook-endpoints/{id}"))
        .await;
    assert_eq!(status, 200);
}

/// `^prefix[class]{26}$`, as the id patterns are written, checked without a regex engine.
fn regex_lite_match(pattern: &str, id: &str) -> bool {
    let prefix = pattern.trim_start_matches('^').split('[').next().unwrap();
    id.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 26
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() && !"ILOUilou".contains(c))
    })
}

/// The document's integers are JSON Schema's `integer`, which admits `60.0` and `6e1`: the server
/// takes them too (schemathesis found `expiresInSecs: 604.0` refused as "expected u64"); a
/// fraction is still a 400 naming the field.
#[suite_test]
async fn integer_fields_take_whole_numbers_however_written() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(
            &app.live_key,
            "/v1/webhook-endpoints",
            &serde_json::json!({"name": "n", "url": "https://hooks.example.com/x",
                "events": ["post.created"], "rateLimitPerSec": 5.0}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["rateLimitPerSec"], 5);
    let id = body["data"]["id"].as_str().unwrap();
    let (status, body) = app
        .patch_json(
            &app.live_key,
            &format!("/v1/webhook-endpoints/{id}"),
            &serde_json::json!({"rateLimitPerSec": 7e0}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["rateLimitPerSec"], 7);
    for (path, body, param) in [
        (
            "/v1/portal-sessions",
            serde_json::json!({"expiresInSecs": 3600.0}),
            "expiresInSecs",
        ),
        (
            "/v1/integrations",
            serde_json::json!({"name": "whole", "url": "https://api.example.com/x", "timeoutMs": 1000.0}),
            "timeoutMs",
        ),
    ] {
        let (status, answer) = app.post_json(&app.live_key, path, &body).await;
        assert_eq!(status, 201, "{path}: {answer}");
        let mut fraction = body.clone();
        fraction[param] = serde_json::json!(2.5);
        if let Some(name) = fraction.get_mut("name") {
            *name = "fraction".into();
        }
        let (status, answer) = app.post_json(&app.live_key, path, &fraction).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert_eq!(answer["error"]["param"], param, "{answer}");
    }
    let (status, answer) = app
        .post_json(
            &app.live_key,
            "/v1/webhook-endpoints",
            &serde_json::json!({"name": "n", "url": "https://hooks.example.com/x",
                "events": ["post.created"], "rateLimitPerSec": -1.0}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["param"], "rateLimitPerSec");
}
