//! hookd: a self-hosted webhook platform in one binary.
//!
//! Two jobs share this crate: outgoing **event webhooks** (publish an event, hookd signs and
//! delivers it to every subscribed endpoint, retries, logs every attempt, never loses one once
//! accepted) and **custom webhook integrations** (named outbound HTTP connections called by
//! scripts, the CLI and agents). See `README.md` for the tour and `ARCHITECTURE.md` for why the
//! pieces are shaped as they are.
#![forbid(unsafe_code)]

pub mod config;
pub mod crypto;
pub mod domain;
pub mod store;
