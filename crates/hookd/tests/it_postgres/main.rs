//! The end-to-end suite on PostgreSQL: the same modules as `tests/it/`, each test in a fresh
//! database created on `HOOKD_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`)
//! and dropped afterwards. Without a reachable server the suite skips with a printed reason,
//! except under CI, where that is a failure.

const BACKEND: harness::Backend = harness::Backend::Postgres;

include!("../it/modules.rs");
