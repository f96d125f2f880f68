// The suite's modules, shared by the SQLite (`tests/it`) and PostgreSQL (`tests/it_postgres`)
// test binaries. Paths are relative to either binary's directory.

#[path = "../it/harness.rs"]
mod harness;

#[path = "../it/conventions.rs"]
mod conventions;

#[path = "../it/store_conformance.rs"]
mod store_conformance;
