//! The end-to-end suite on PostgreSQL: the same modules as `tests/it/`, each test in a fresh
//! database created on `HOOKD_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`)
//! and dropped afterwards, plus the modules that only mean something on PostgreSQL (several
//! servers or processes on one database, a database restart).
//!
//! **Without a reachable server the tests are reported as ignored, not passed.** The standard
//! test harness decides "ignored" at compile time only (`#[ignore]`), so this binary has
//! `harness = false` and runs its tests with `libtest-mimic`, which takes the same command line
//! and prints the same report. Before any test runs, `main` checks once that the server takes a
//! connection. If it does not, it prints why, and every test is reported `ignored` with that
//! reason, except under CI (`CI` set), where the run fails at once: CI must run this suite.
//!
//! Alternatives weighed: a build script probing the server would bake a compile-time answer
//! into a cached binary; a test that returns early is reported as passed; `process::exit(0)`
//! from inside a test (the former way) reported nothing at all. The cost of this design is that
//! the runner has to find the tests itself: every test in the shared modules is marked
//! `#[suite_test]` (the `hookd-test-macros` crate), which makes it a `#[tokio::test]` for
//! `tests/it` and also registers it with `inventory` for this runner, so no list is kept by hand
//! and none can fall out of date. Tests print straight to the terminal (libtest-mimic does not
//! capture output).

use std::process::ExitCode;

use libtest_mimic::{Arguments, Completion, Trial};

const BACKEND: harness::Backend = harness::Backend::Postgres;

include!("../it/modules.rs");

// PostgreSQL only.
mod cluster;
mod cross_node;
mod ordering_cluster;
mod pg_restart;
mod result_plans;
mod scale_out;
mod shared_rate_limit;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let unreachable = if args.list {
        None
    } else {
        match harness::probe_postgres() {
            Ok(()) => None,
            Err(reason) if std::env::var_os("CI").is_some() => {
                eprintln!("error: CI must run the PostgreSQL suite, but {reason}");
                return ExitCode::FAILURE;
            }
            Err(reason) => {
                println!(
                    "skipping the PostgreSQL suite: {reason}; set HOOKD_TEST_POSTGRES_URL to a server that takes connections"
                );
                Some(reason)
            }
        }
    };
    let mut tests: Vec<&'static harness::SuiteTest> =
        inventory::iter::<harness::SuiteTest>.into_iter().collect();
    tests.sort_by_key(|test| test.full_name());
    let trials = tests
        .into_iter()
        .map(|test| {
            let skip = unreachable
                .as_ref()
                .map(|_| "no PostgreSQL server reachable");
            Trial::ignorable_test(test.full_name(), move || {
                if let Some(reason) = skip {
                    return Ok(Completion::Ignored {
                        reason: Some(reason.to_string()),
                    });
                }
                test.run_blocking();
                Ok(Completion::Completed)
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
