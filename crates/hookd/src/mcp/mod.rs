//! The MCP server: every connected integration of a workspace is a tool an AI agent calls by
//! name, with credentials it never sees, plus generic tools over the rest of the API.
//!
//! - [`http`]: Streamable HTTP at `/mcp` on the API listener (Bearer API key).
//! - [`stdio`]: `hookd mcp`, which speaks MCP on stdin/stdout to a desktop agent and reaches a
//!   running server over its HTTP API (`HOOKD_API_URL`, `HOOKD_API_KEY`); it holds no database.
//! - [`server`]: the handler both serve; [`tools`]: the tool definitions; [`backend`]: how a
//!   tool reaches the REST API (every tool is REST requests made with the client's key, so auth,
//!   scoping, rate limits, validation, error codes, request ids and metrics are the API's own);
//!   [`results`]: tool results and errors; [`sessions`]: live sessions and `notifications/tools/list_changed`; [`raw_body`]: keeping
//!   the caller's bytes of a call's `body`.
//!
//! Built on the official Rust SDK, `rmcp`. See docs/mcp.md.

pub mod backend;
pub mod http;
pub mod raw_body;
pub mod results;
pub mod server;
pub mod sessions;
pub mod stdio;
pub mod tools;
