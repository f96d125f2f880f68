// The suite's modules, shared by the SQLite (`tests/it`) and PostgreSQL (`tests/it_postgres`)
// test binaries. Paths are relative to either binary's directory.

#[path = "../it/cluster.rs"]
mod cluster;
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
#[path = "../it/conventions.rs"]
mod conventions;
#[path = "../it/cross_node.rs"]
mod cross_node;
#[path = "../it/delivery/mod.rs"]
mod delivery;
#[path = "../it/endpoints.rs"]
mod endpoints;
#[path = "../it/erasure.rs"]
mod erasure;
#[path = "../it/hostile.rs"]
mod hostile;
#[path = "../it/idempotency.rs"]
mod idempotency;
#[path = "../it/isolation.rs"]
mod isolation;
#[path = "../it/listing.rs"]
mod listing;
#[path = "../it/openapi.rs"]
mod openapi;
#[path = "../it/pg_restart.rs"]
mod pg_restart;
#[path = "../it/protocol.rs"]
mod protocol;
#[path = "../it/retention.rs"]
mod retention;
#[path = "../it/scale_out.rs"]
mod scale_out;
#[path = "../it/store_conformance.rs"]
mod store_conformance;

// --- integrations ---
#[path = "../it/cli_call.rs"]
mod cli_call;
#[path = "../it/integration_calls.rs"]
mod integration_calls;
#[path = "../it/integration_safety.rs"]
mod integration_safety;
#[path = "../it/integrations.rs"]
mod integrations;
#[path = "../it/store_conformance_integrations.rs"]
mod store_conformance_integrations;
#[path = "../it/upstream.rs"]
mod upstream;
