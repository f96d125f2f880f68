//! The end-to-end suite on SQLite: each test boots the real app on port 0 with a fresh database
//! file, drives it over HTTP, with real local receivers standing in for customers. The same
//! modules run on PostgreSQL from `tests/it_postgres/`.

const BACKEND: harness::Backend = harness::Backend::Sqlite;

include!("modules.rs");

// Backend-independent, so run once.
mod auth_throttle;
mod connections;
// An MCP client that runs as a process: `hookd mcp` over stdio (the Python SDK's tests are in
// `tests/python`).
mod mcp_stdio;
// The real binary on a SQLite data directory.
mod cli_backup;
mod durability;
mod json_logs;
mod oauth2_logs;
mod ordering_crash;
mod otlp;
// The operator's files under docs/: alert rules, dashboard, configuration reference.
mod ops_docs;
