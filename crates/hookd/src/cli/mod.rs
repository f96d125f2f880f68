//! The command-line client over the HTTP API (`hookd endpoints|events|deliveries|replay|
//! integrations|call`) and the output and exit-code conventions every command shares.
//!
//! These commands talk to a running hookd exactly as a script would (see `client.rs`), so they
//! work against a remote server and go through the same auth, tenancy and validation as every
//! other caller. `main.rs` only parses; each `run` here does one command.
//!
//! Output: a table or a `field  value` listing for people on stdout; with `--json`, exactly one
//! JSON document on stdout — the API's object (`data` of a single-object answer) or the API's
//! list page (`{"data": [...], "hasMore", "nextCursor"}`), byte for byte as the API sent it.
//! Errors are one line on stderr: `error: <code>: <message>` for the API's errors.

pub mod backup;
pub mod database;
pub mod deliveries;
pub mod endpoint_auth;
pub mod endpoints;
pub mod events;
pub mod integrations;
pub mod output;

use std::fmt;

use clap::Args;

use crate::client::{ApiClient, DEFAULT_API_URL};

/// The exit codes, for `--help` and the README.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  refused: the API answered 4xx (not found, invalid, unauthorized…), an upstream or endpoint
     test answered non-2xx, or a database command failed
  2  usage: bad arguments or input, caught before anything was sent or changed (bad flags,
     --data that is not JSON or an unreadable @file, a bad --since, no API key, a missing --yes)
  3  unavailable: the server could not be reached or answered 5xx (worth retrying later)";

/// What a failure means to a script, as an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Refused = 1,
    Usage = 2,
    Unavailable = 3,
}

/// A failure with a known exit code and a one-line message. Any other error exits 1.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
}

impl CliError {
    pub fn api(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Refused,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Usage,
            message: message.into(),
        }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Unavailable,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// The exit code for an error: a [`CliError`]'s anywhere in the chain, else 1.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    error
        .chain()
        .find_map(|e| e.downcast_ref::<CliError>())
        .map_or(Exit::Refused as u8, |e| e.exit as u8)
}

/// Where the API is and how to print: shared by every API command (and accepted after any of
/// its subcommands).
#[derive(Args, Clone, Debug)]
pub struct ApiOptions {
    /// The hookd API's base URL.
    #[arg(long, global = true, env = "HOOKD_API_URL", value_name = "URL",
          default_value = DEFAULT_API_URL)]
    pub api_url: String,
    /// The API key (prefer the environment variable: arguments are visible to other users in
    /// the process list).
    #[arg(
        long,
        global = true,
        env = "HOOKD_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,
    /// Print the API's JSON (one document on stdout) instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

impl ApiOptions {
    pub fn client(&self) -> anyhow::Result<ApiClient> {
        ApiClient::connect(Some(&self.api_url), self.api_key.as_deref())
    }
}

/// `--limit` and `--cursor` of the list commands: one page of the API's list, as the API pages.
#[derive(Args, Clone, Debug)]
pub struct PageArgs {
    /// How many to show, 1–100.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub limit: u8,
    /// Continue after this id (the `nextCursor` a previous page printed).
    #[arg(long, value_name = "ID")]
    pub cursor: Option<String>,
}

impl PageArgs {
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = vec![("limit", self.limit.to_string())];
        if let Some(cursor) = &self.cursor {
            query.push(("cursor", cursor.clone()));
        }
        query
    }
}

/// An id typed on the command line, made safe to put in a URL path: ids are prefixed ULIDs, so
/// anything else is sent percent-encoded and the API answers 404 `not_found` for it.
pub fn path_id(raw: &str) -> String {
    // `.` stays encoded so `..` can never become a dot segment the URL parser resolves.
    const ID: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'_').remove(b'-');
    percent_encoding::utf8_percent_encode(raw, ID).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_come_from_the_error_chain() {
        let usage: anyhow::Error = CliError::usage("x").into();
        assert_eq!(exit_code(&usage), 2);
        let wrapped = anyhow::Error::from(CliError::unavailable("down")).context("listing");
        assert_eq!(exit_code(&wrapped), 3);
        assert_eq!(exit_code(&anyhow::anyhow!("plain")), 1);
    }

    #[test]
    fn ids_are_escaped_for_paths() {
        assert_eq!(path_id("whe_01abc"), "whe_01abc");
        assert_eq!(path_id("../x"), "%2E%2E%2Fx");
    }
}
