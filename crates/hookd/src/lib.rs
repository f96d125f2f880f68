//! hookd: a self-hosted webhook platform in one binary.
//!
//! Two jobs share this crate: outgoing **event webhooks** (publish an event, hookd signs and
//! delivers it to every subscribed endpoint, retries, logs every attempt, never loses one once
//! accepted) and **custom webhook integrations** (named outbound HTTP connections called by
//! scripts, the CLI and agents). `README.md` gives the tour and the design section explains why
//! the pieces are shaped as they are.
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod app;
pub mod cli;
pub mod client;
pub mod config;
pub mod crypto;
pub mod dashboard;
pub mod data_dir;
pub mod delivery;
pub mod domain;
pub mod egress;
pub mod http_server;
pub mod integrations;
pub mod listen;
pub mod maintenance;
pub mod mcp;
pub mod oauth2;
pub mod signing;
pub mod store;
pub mod telemetry;
