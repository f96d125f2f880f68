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
