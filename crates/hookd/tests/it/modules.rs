// The suite's modules, shared by the SQLite (`tests/it`) and PostgreSQL (`tests/it_postgres`)
// test binaries. Paths are relative to either binary's directory.

#[path = "../it/harness.rs"]
mod harness;

#[path = "../it/conventions.rs"]
mod conventions;

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
#[path = "../it/upstream.rs"]
mod upstream;
#[path = "../it/store_conformance_integrations.rs"]
mod store_conformance_integrations;
