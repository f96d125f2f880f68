// The suite's modules, shared by the SQLite (`tests/it`) and PostgreSQL (`tests/it_postgres`)
// test binaries. Paths are relative to either binary's directory. A test that only means
// something on one backend lives in a module of that binary alone (see its `main.rs`), so the
// other binary never reports it as passed. Tests here are marked `#[suite_test]`.

#[path = "../it/fixtures.rs"]
mod fixtures;
#[path = "../it/harness.rs"]
mod harness;

#[path = "../it/at_rest.rs"]
mod at_rest;
#[path = "../it/auth.rs"]
mod auth;
#[path = "../it/bad_input.rs"]
mod bad_input;
#[path = "../it/bad_requests.rs"]
mod bad_requests;
#[path = "../it/cli_admin.rs"]
mod cli_admin;
#[path = "../it/cli_endpoints.rs"]
mod cli_endpoints;
#[path = "../it/cli_events.rs"]
mod cli_events;
#[path = "../it/cli_support.rs"]
mod cli_support;
#[path = "../it/conventions.rs"]
mod conventions;
#[path = "../it/dashboard.rs"]
mod dashboard;
#[path = "../it/dashboard_api.rs"]
mod dashboard_api;
#[path = "../it/dashboard_pages.rs"]
mod dashboard_pages;
#[path = "../it/delivery/mod.rs"]
mod delivery;
#[path = "../it/endpoints.rs"]
mod endpoints;
#[path = "../it/erasure.rs"]
mod erasure;
#[path = "../it/filters.rs"]
mod filters;
#[path = "../it/hostile.rs"]
mod hostile;
#[path = "../it/idempotency.rs"]
mod idempotency;
#[path = "../it/isolation.rs"]
mod isolation;
#[path = "../it/isolation_matrix.rs"]
mod isolation_matrix;
#[path = "../it/list_budget.rs"]
mod list_budget;
#[path = "../it/listing.rs"]
mod listing;
#[path = "../it/mcp.rs"]
mod mcp;
#[path = "../it/mcp_support.rs"]
mod mcp_support;
#[path = "../it/oauth2.rs"]
mod oauth2;
#[path = "../it/openapi.rs"]
mod openapi;
#[path = "../it/ordering.rs"]
mod ordering;
#[path = "../it/portal_door.rs"]
mod portal_door;
#[path = "../it/portal_sessions.rs"]
mod portal_sessions;
#[path = "../it/protocol.rs"]
mod protocol;
#[path = "../it/rate_limits.rs"]
mod rate_limits;
#[path = "../it/retention.rs"]
mod retention;
#[path = "../it/secrets_sweep.rs"]
mod secrets_sweep;
#[path = "../it/store_conformance.rs"]
mod store_conformance;
#[path = "../it/url_credentials.rs"]
mod url_credentials;

// --- integrations ---
#[path = "../it/cli_call.rs"]
mod cli_call;
#[path = "../it/integration_calls.rs"]
mod integration_calls;
#[path = "../it/integration_safety.rs"]
mod integration_safety;
#[path = "../it/integrations.rs"]
mod integrations;
#[path = "../it/operations.rs"]
mod operations;
#[path = "../it/store_conformance_integrations.rs"]
mod store_conformance_integrations;
#[path = "../it/upstream.rs"]
mod upstream;
