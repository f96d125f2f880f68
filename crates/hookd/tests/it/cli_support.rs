//! Running the real `hookd` binary in the CLI tests: against a test server's API (with a key),
//! or against its database (with its URL and master key), in an empty working directory and
//! with no `HOOKD_*` variable inherited from the environment.

#![allow(dead_code)]

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use tokio::process::Command;

use crate::harness::TestApp;

/// What one run of the binary did.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts exit 0 and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code,
            Some(0),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Asserts exit 0 and parses stdout as exactly one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }

    /// Asserts a failure with `code`, reported as one line `error: …` on stderr containing
    /// `needle`, and nothing on stdout.
    pub fn fails(&self, code: i32, needle: &str) {
        assert_eq!(
            self.code,
            Some(code),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr:\n{}", self.stderr);
        assert!(lines[0].starts_with("error: "), "{}", self.stderr);
        assert!(lines[0].contains(needle), "{needle:?} in {}", self.stderr);
        assert_eq!(self.stdout, "", "nothing on stdout");
    }
}

/// A `hookd` command with a clean environment in `dir`.
pub fn command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookd"));
    for (name, _) in std::env::vars() {
        if name.starts_with("HOOKD_") || name.to_ascii_lowercase().ends_with("_proxy") {
            command.env_remove(name);
        }
    }
    command
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs `command` to the end (async, so the test's runtime keeps serving the API meanwhile).
pub async fn finish(mut command: Command) -> Run {
    Run::from(command.output().await.expect("run hookd"))
}

/// `hookd <args>` against `app`'s API with `key` (none: no key at all).
pub async fn api(app: &TestApp, key: Option<&str>, args: &[&str]) -> Run {
    api_at(&app.base_url, key, args).await
}

/// `hookd <args>` against the API at `url`.
pub async fn api_at(url: &str, key: Option<&str>, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut command = command(dir.path());
    command.args(args).env("HOOKD_API_URL", url);
    if let Some(key) = key {
        command.env("HOOKD_API_KEY", key);
    }
    finish(command).await
}

/// `hookd <args>` against `app`'s database, as an operator on the server's machine would.
pub async fn db(app: &TestApp, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut command = command(dir.path());
    command
        .args(args)
        .env("HOOKD_DATABASE_URL", &app.config.database_url)
        .env("HOOKD_MASTER_KEY", "11".repeat(32));
    finish(command).await
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Reads a starting `hookd serve`'s standard output up to its "listening" line, and keeps
/// draining the rest (a closed pipe would fail the server's next print): the live key a first
/// start prints, and the server's base URL.
pub async fn read_banner(stdout: tokio::process::ChildStdout) -> (Option<String>, String) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let (mut key, mut base_url) = (None, None);
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(k) = line.trim().strip_prefix("live: ") {
            key = Some(k.to_string());
        }
        if let Some(url) = line.strip_prefix("hookd listening on ") {
            base_url = Some(url.to_string());
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (
        key,
        base_url.expect("hookd serve printed no \"listening\" line"),
    )
}
