//! hookd seen by official Python clients: the `standardwebhooks` package verifies our signatures
//! (`cross_language`) and the `mcp` SDK talks to our MCP server over both transports
//! (`mcp_python`). Each test boots hookd on a fresh SQLite database and runs the client as a
//! `python3` process.
//!
//! Like `tests/it_postgres` and `tests/browser`, this binary runs its tests with `libtest-mimic`,
//! so that on a machine without a package its tests are reported **ignored** with the reason
//! and the `pip install` command printed, not passed; under CI (`CI` set) the run fails instead,
//! because CI installs the packages. `main` probes each package once (an `import` in the
//! interpreter the tests use) before any test runs. The interpreter is `python3`, or the one
//! `HOOKD_TEST_PYTHON` names (e.g. a venv's `bin/python`, to run against other versions or to
//! see the report without a package).
//!
//! SQLite only: these tests check what a client outside Rust sees, which the storage backend
//! does not change; both backends' server behaviour is covered by `tests/it` and
//! `tests/it_postgres`. The tests are `#[suite_test]`s collected from `inventory`, as in
//! `tests/it_postgres`; this binary compiles only the two modules and the small shared files they
//! need, not the whole suite, so the inventory holds exactly their tests.
//!
//! To add a test: write a `#[suite_test]` in a module here; a new module also names the package
//! it needs in [`PACKAGES`] (a module missing there stops the run before any test).

use std::process::{Command, ExitCode};

use libtest_mimic::{Arguments, Completion, Trial};

const BACKEND: harness::Backend = harness::Backend::Sqlite;

#[path = "../it/fixtures.rs"]
mod fixtures;
#[path = "../it/harness.rs"]
mod harness;
#[path = "../it/upstream.rs"]
mod upstream;

mod cross_language;
mod mcp_python;

/// A Python package that some tests here need.
pub struct Package {
    /// Its name on PyPI.
    pub name: &'static str,
    /// A statement that succeeds only when the package is usable.
    pub import: &'static str,
    /// How to install it, pinned as `.ci/run` installs it.
    pub pip_install: &'static str,
}

/// The package each module's tests need, by module name.
const PACKAGES: &[(&str, &Package)] = &[
    ("cross_language", &cross_language::PACKAGE),
    ("mcp_python", &mcp_python::PACKAGE),
];

/// The Python interpreter the tests run: `HOOKD_TEST_PYTHON`, else `python3`.
pub fn python() -> Command {
    Command::new(std::env::var_os("HOOKD_TEST_PYTHON").unwrap_or_else(|| "python3".into()))
}

/// Whether `package` imports in [`python`]; the reason when it does not.
fn probe(package: &Package) -> Result<(), String> {
    match python().args(["-c", package.import]).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.trim().lines().last().unwrap_or("").to_string();
            Err(format!("`{}` failed: {last}", package.import))
        }
        Err(e) => Err(format!("cannot run {:?}: {e}", python().get_program())),
    }
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    // Per module: why its tests cannot run, if they cannot.
    let mut missing: Vec<(&str, String)> = Vec::new();
    if !args.list {
        for (module, package) in PACKAGES {
            let Err(reason) = probe(package) else {
                continue;
            };
            let message = format!(
                "the Python package `{}` is not available ({reason}); run `{}`",
                package.name, package.pip_install
            );
            if std::env::var_os("CI").is_some() {
                eprintln!("error: CI must run the Python client tests, but {message}");
                return ExitCode::FAILURE;
            }
            println!("skipping the tests in {module}: {message}");
            missing.push((module, message));
        }
    }
    let mut tests: Vec<&'static harness::SuiteTest> =
        inventory::iter::<harness::SuiteTest>.into_iter().collect();
    tests.sort_by_key(|test| test.full_name());
    let mut trials = Vec::new();
    for test in tests {
        let name = test.full_name();
        let module = name.split("::").next().unwrap_or_default();
        if !PACKAGES.iter().any(|(listed, _)| *listed == module) {
            eprintln!("error: {name}: its module `{module}` names no package in PACKAGES");
            return ExitCode::FAILURE;
        }
        let skip = missing
            .iter()
            .find(|(listed, _)| *listed == module)
            .map(|(_, reason)| reason.clone());
        trials.push(Trial::ignorable_test(name, move || {
            if let Some(reason) = skip {
                return Ok(Completion::Ignored {
                    reason: Some(reason),
                });
            }
            test.run_blocking();
            Ok(Completion::Completed)
        }));
    }
    libtest_mimic::run(&args, trials).exit_code()
}
