//! The configuration reference (`docs/configuration.md`), generated from the typed [`Config`]:
//! the keys and their defaults come from serialising `Config::default()`, the meanings from
//! [`MEANINGS`]. A key added to `Config` without a meaning here fails [`render`]'s test, and the
//! file falls out of date with any change, which the end-to-end suite's `ops_docs` test
//! catches; regenerate with `UPDATE_DOCS=1 cargo test -p hookd --test it ops_docs`.

use serde_json::Value;

use super::Config;

/// Every key in the order the reference lists them, with what it means.
pub const MEANINGS: &[(&str, &str)] = &[
    ("listen", "Address of the API and dashboard (`hookd serve --listen` overrides it)."),
    ("database_url", "`sqlite://path` (embedded, one server per file) or `postgres://…` (any number of servers)."),
    ("master_key", "64 hex characters that encrypt secrets at rest. Unset with SQLite: generated into the data directory as `master.key` (mode 0600); required with PostgreSQL, the same on every node."),
    ("egress_allow_http", "Allow plain-http destinations for deliveries and integration calls."),
    ("egress_allow_nets", "CIDRs exempt from the private-network block, e.g. `127.0.0.0/8,::1/128` (comma-separated in the environment)."),
    ("egress_proxy", "`http://host:port` proxy for every outbound request."),
    ("retry_schedule", "Seconds to wait before each retry; its length is the number of retries (comma-separated in the environment)."),
    ("delivery_timeout_ms", "Per-attempt timeout of a delivery (100–300000)."),
    ("rotation_grace_secs", "How long a rotated-out signing secret keeps signing alongside the new one."),
    ("auto_disable_after_secs", "An endpoint failing for this long (with enough exhausted deliveries) is disabled with reason `failing`."),
    ("auto_disable_min_failures", "Exhausted deliveries needed in that window before auto-disabling."),
    ("endpoint_max_in_flight", "Concurrent attempts to one endpoint."),
    ("global_max_in_flight", "Concurrent attempts over all endpoints (bounds sockets and memory)."),
    ("max_body_bytes", "Largest request body the API accepts (413 above it; at once, before reading the body, when the declared `Content-Length` is over it)."),
    ("list_page_max_bytes", "Byte budget of a page of `GET /v1/events`: the page stops early, with `hasMore: true` and a `nextCursor`, once its events reach it (it always holds at least one), so a list request's memory stays bounded whatever `limit` says."),
    ("http_header_timeout_ms", "How long a client may take to send a request's headers, counted from their first byte; then the connection is closed (slowloris)."),
    ("http_idle_timeout_ms", "How long a connection may stay idle (no request in progress or begun, a new one included) before it is closed; also how long a write to a client that stopped reading may stall."),
    ("http_body_timeout_ms", "How long a client may take to send a whole request body (408 `request_timeout` after it, however steadily it trickles)."),
    ("http_max_connections", "Open connections at most; at the cap new ones wait in the listen backlog until one closes (logged, and counted in `hookd_http_connection_cap_reached_total`). Keep the process's file-descriptor limit above it."),
    ("rate_limit_per_sec", "Requests per second allowed per API key (429 above it)."),
    ("rate_limit_burst", "Requests an API key may send at once on top of the rate."),
    ("auth_failure_limit", "Failed authentications (401s) from one source address (IPv6: one /64) within `auth_failure_window_secs` after which every request from it gets 429 `rate_limited` with `Retry-After` until the window ends."),
    ("auth_failure_window_secs", "The window of `auth_failure_limit`, in seconds."),
    ("idempotency_ttl_secs", "How long an `Idempotency-Key` is remembered."),
    ("database_max_connections", "Connections in the database pool (PostgreSQL; the reader pool on SQLite)."),
    ("log_format", "`text` or `json` (one object per line, ids as top-level fields, error causes as an array)."),
    ("operational_events", "Publish hookd's own `endpoint.disabled` and `delivery.exhausted` events into the workspace concerned, so endpoints can subscribe to them."),
    ("otlp_endpoint", "OTLP/HTTP collector to export traces to, e.g. `http://otel-collector:4318` (`/v1/traces` is appended). Unset: no traces, no cost."),
    ("retention", "How long events (with their deliveries and attempts) and integration calls are kept, as a duration with a unit (`30d`, `12h`, `90s`); a pending delivery and its event are kept whatever their age."),
    ("retention_interval_ms", "How often the retention job runs (100 ms to 24 h)."),
    ("public_url", "The address browsers use to reach this server, e.g. `https://hooks.example.com` behind a TLS-terminating proxy. An `https://` URL makes the dashboard's session cookie `Secure`; it is also the base of links hookd hands out. Unset: links use the request's `Host`, and the cookie is not `Secure`."),
    ("dashboard_session_ttl", "How long a dashboard sign-in lasts, as a duration (`12h`, `30m`; 1s to 30d). Revoking the key signed in with ends its sessions at once."),
    ("portal_frame_ancestors", "Origins allowed to show the customer portal in an `<iframe>`, e.g. `https://app.example.com` (comma-separated in the environment): the portal's Content-Security-Policy `frame-ancestors`. Empty: no other site may frame it. Pages of sessions signed in with an API key are never framed. Cross-site framing also needs an `https://` `public_url` (docs/dashboard.md)."),
    ("event_types", "Extra event types on top of the reference catalog: `[[event_types]]` tables with `name` and `description` (file only)."),
];

/// The environment variable of `key`.
pub fn env_var(key: &str) -> String {
    format!("HOOKD_{}", key.to_ascii_uppercase())
}

fn default_text(value: &Value) -> String {
    match value {
        Value::Null => "unset".to_string(),
        Value::String(s) => format!("`{s}`"),
        Value::Array(items) if items.is_empty() => "empty".to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect();
            format!("`{}`", parts.join(","))
        }
        other => format!("`{other}`"),
    }
}

/// The whole reference as Markdown.
pub fn render() -> String {
    let defaults = serde_json::to_value(Config::default()).expect("the config serialises");
    let mut out = String::from(
        "# Configuration reference\n\n\
         <!-- Generated from the typed config (crates/hookd/src/config/reference.rs); do not edit.\n     \
         Regenerate: UPDATE_DOCS=1 cargo test -p hookd --test it ops_docs -->\n\n\
         Layers, later wins: compiled-in defaults → `hookd.toml` in the working directory (or the file \
         given with `--config`) → `HOOKD_*` environment variables. Bad values stop the start-up with an \
         error naming the key. `hookd.example.toml` lists every key with its default.\n\n\
         | key | environment variable | default | meaning |\n|---|---|---|---|\n",
    );
    for (key, meaning) in MEANINGS {
        let default = defaults
            .get(*key)
            .map_or_else(|| "unset".to_string(), default_text);
        out.push_str(&format!(
            "| `{key}` | `{}` | {default} | {meaning} |\n",
            env_var(key)
        ));
    }
    out.push_str(
        "\nLogging verbosity follows `RUST_LOG` (default `info,sqlx=warn`), e.g. \
         `RUST_LOG=info,hookd::access=warn` drops the access lines. One directive is always \
         added: `rmcp=info` (the MCP library's debug lines carry whole tool calls, whose \
         arguments may hold credentials; see [security-limits.md](security-limits.md)).\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_key_has_a_meaning_and_no_meaning_is_stale() {
        let defaults = serde_json::to_value(Config::default()).unwrap();
        let mut keys: Vec<&str> = defaults
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut documented: Vec<&str> = MEANINGS.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        documented.sort_unstable();
        assert_eq!(keys, documented, "update config::reference::MEANINGS");
    }

    #[test]
    fn defaults_are_rendered_from_the_config() {
        let text = render();
        assert!(
            text.contains("| `listen` | `HOOKD_LISTEN` | `127.0.0.1:8080` |"),
            "{text}"
        );
        assert!(
            text.contains("`5,300,1800,7200,18000,36000,36000`"),
            "{text}"
        );
        assert!(
            text.contains("| `otlp_endpoint` | `HOOKD_OTLP_ENDPOINT` | unset |"),
            "{text}"
        );
    }
}
