//! Calling custom webhook integrations.
//!
//! The records and input parsing live in [`crate::domain::integration`]; this module does the
//! calling: [`target`] builds the URL of a call without letting `path` or `query` leave the
//! integration's URL, [`call`] assembles the request (custom headers, per-call headers, auth,
//! body), sends it through the one egress client and writes the call log, and [`response`] turns
//! the upstream's answer into the API's `CallResult`.

pub mod call;
pub mod response;
pub mod target;
