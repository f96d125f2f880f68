//! The one typed configuration.
//!
//! Layers, later wins: compiled-in defaults (documented in `hookd.example.toml`) → an optional
//! `hookd.toml` (or the file named by `--config`) → `HOOKD_*` environment variables. The result is
//! validated once at start-up; a bad value is a clear error naming the key, never a panic.

pub mod reference;

#[cfg(test)]
mod props;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::catalog::EventType;

/// A value that must never be printed: `Debug` shows `"***"`.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the API.
    pub listen: SocketAddr,
    /// `sqlite://path` or `postgres://…`.
    pub database_url: String,
    /// 64 hex characters; encrypts secrets at rest. Generated into the data dir for SQLite.
    pub master_key: Option<Secret>,
    /// Allow plain-http destinations for deliveries and integrations.
    pub egress_allow_http: bool,
    /// Networks exempt from the private-address block (comma-separated in the environment).
    #[serde(deserialize_with = "list_or_csv")]
    pub egress_allow_nets: Vec<IpNet>,
    /// `http://host:port` proxy for every outbound request.
    pub egress_proxy: Option<String>,
    /// Seconds to wait before each retry; its length is the number of retries.
    #[serde(deserialize_with = "list_or_csv")]
    pub retry_schedule: Vec<u64>,
    /// Per-attempt timeout of a delivery.
    pub delivery_timeout_ms: u64,
    /// How long a rotated-out secret keeps signing alongside the new one.
    pub rotation_grace_secs: u64,
    pub log_format: LogFormat,
    /// Largest request body the API accepts (413 above it; at once for a declared
    /// `Content-Length` over it).
    pub max_body_bytes: usize,
    /// The byte budget of a list page of events: a page stops early (with `hasMore`) once its
    /// events' data reaches it, so a list request's memory is bounded whatever `limit` says.
    pub list_page_max_bytes: usize,
    /// How long a client may take to send a request's headers, from its first byte.
    pub http_header_timeout_ms: u64,
    /// How long a connection may sit idle (no request in progress, none begun) before it is
    /// closed; also how long a write to a client that stopped reading may stall.
    pub http_idle_timeout_ms: u64,
    /// How long a client may take to send a whole request body.
    pub http_body_timeout_ms: u64,
    /// Open connections at most; more wait in the listen backlog until one closes.
    pub http_max_connections: usize,
    /// Requests per second allowed per API key (429 above it), and the burst on top.
    pub rate_limit_per_sec: u32,
    pub rate_limit_burst: u32,
    /// Failed authentications from one address (IPv6: one /64) within the window after which
    /// its requests get 429 until the window ends.
    pub auth_failure_limit: u32,
    pub auth_failure_window_secs: u64,
    /// Concurrent attempts to one endpoint.
    pub endpoint_max_in_flight: usize,
    /// Concurrent attempts over all endpoints (bounds sockets and memory).
    pub global_max_in_flight: usize,
    /// An endpoint failing for this long (and at least `auto_disable_min_failures` exhausted
    /// deliveries) is disabled with reason `failing`.
    pub auto_disable_after_secs: u64,
    pub auto_disable_min_failures: u32,
    /// Lifetime of an idempotency key.
    pub idempotency_ttl_secs: u64,
    /// Connections in the database pool (PostgreSQL; readers on SQLite).
    pub database_max_connections: u32,
    /// Extra event types on top of the reference catalog.
    pub event_types: Vec<EventType>,
    /// Publish hookd's own `endpoint.disabled` and `delivery.exhausted` events into the
    /// workspace concerned (see `domain::operational`).
    pub operational_events: bool,
    /// OTLP/HTTP endpoint to export traces to, e.g. `http://otel-collector:4318`; unset: no
    /// traces (and no tracing cost).
    pub otlp_endpoint: Option<String>,
    /// How long events (with their deliveries and attempts) and integration calls are kept; a
    /// pending delivery and its event are kept whatever their age (see `maintenance`).
    pub retention: HumanDuration,
    /// How often the retention job runs.
    pub retention_interval_ms: u64,
    /// The address people and browsers use to reach this server, e.g.
    /// `https://hooks.example.com` (behind a TLS-terminating proxy). It decides whether the
    /// dashboard's session cookie is `Secure`, and is the base of links hookd hands out.
    pub public_url: Option<String>,
    /// How long a dashboard sign-in lasts.
    pub dashboard_session_ttl: HumanDuration,
    /// Origins allowed to show the customer portal in an `<iframe>` (CSP `frame-ancestors`),
    /// e.g. `https://app.example.com`; empty: the portal is not framed by other sites.
    #[serde(deserialize_with = "list_or_csv")]
    pub portal_frame_ancestors: Vec<String>,
}

/// A duration written for people (`30d`, `12h`, `90s`, `1h 30m`), read with `humantime`. A bare
/// number is refused: `90` could mean seconds or days, and guessing wrong deletes data.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl std::fmt::Debug for HumanDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(f64),
        }
        let text = match Raw::deserialize(deserializer)? {
            Raw::Text(text) => text,
            Raw::Number(n) => {
                return Err(serde::de::Error::custom(format!(
                    "{n} has no unit: write a duration such as 30d, 12h or 90s"
                )))
            }
        };
        let duration = humantime::parse_duration(text.trim()).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration ({e}): write one such as 30d, 12h or 90s"
            ))
        })?;
        Ok(Self(duration))
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://./hookd-data/hookd.db".to_string(),
            master_key: None,
            egress_allow_http: false,
            egress_allow_nets: Vec::new(),
            egress_proxy: None,
            retry_schedule: vec![5, 300, 1800, 7200, 18000, 36000, 36000],
            delivery_timeout_ms: 15_000,
            rotation_grace_secs: 86_400,
            log_format: LogFormat::Text,
            max_body_bytes: 1024 * 1024,
            list_page_max_bytes: crate::store::page::DEFAULT_PAGE_MAX_BYTES,
            http_header_timeout_ms: 10_000,
            http_idle_timeout_ms: 60_000,
            http_body_timeout_ms: 30_000,
            http_max_connections: 4096,
            rate_limit_per_sec: 1000,
            rate_limit_burst: 2000,
            auth_failure_limit: 20,
            auth_failure_window_secs: 60,
            endpoint_max_in_flight: 64,
            global_max_in_flight: 512,
            auto_disable_after_secs: 5 * 86_400,
            auto_disable_min_failures: 15,
            idempotency_ttl_secs: 86_400,
            database_max_connections: 8,
            event_types: Vec::new(),
            operational_events: false,
            otlp_endpoint: None,
            retention: HumanDuration(Duration::from_secs(30 * 86_400)),
            retention_interval_ms: 60_000,
            public_url: None,
            dashboard_session_ttl: HumanDuration(Duration::from_secs(12 * 3600)),
            portal_frame_ancestors: Vec::new(),
        }
    }
}

/// Environment variables that share the `HOOKD_` prefix but belong to the CLI client, not the
/// server configuration.
const CLIENT_ONLY_ENV: &[&str] = &["api_url", "api_key", "oauth2_client_secret"];

impl Config {
    /// Loads defaults → file → environment. `file` is `--config`; without it `./hookd.toml` is
    /// read when present.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    bail!("config file {} does not exist", path.display());
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None => figment = figment.merge(Toml::file("hookd.toml")),
        }
        let env = Env::prefixed("HOOKD_").ignore(CLIENT_ONLY_ENV);
        Self::extract(figment.merge(env))
    }

    /// Builds a config from TOML text alone (used by tests and `--config` validation).
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        Self::extract(
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text)),
        )
    }

    fn extract(figment: Figment) -> anyhow::Result<Self> {
        let config: Config = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {}", describe(e)))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        let is_sqlite = self.database_url.starts_with("sqlite:");
        let is_postgres = self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://");
        if !is_sqlite && !is_postgres {
            bail!("database_url (HOOKD_DATABASE_URL) must start with sqlite:// or postgres://");
        }
        if let Some(key) = &self.master_key {
            parse_master_key(&key.0).context("master_key (HOOKD_MASTER_KEY)")?;
        } else if is_postgres {
            bail!(
                "master_key (HOOKD_MASTER_KEY) is required with PostgreSQL: set it to 64 hex \
                 characters, the same on every node (e.g. `openssl rand -hex 32`)"
            );
        }
        if self.retry_schedule.is_empty() {
            bail!(
                "retry_schedule (HOOKD_RETRY_SCHEDULE) needs at least one delay, e.g. 5,300,1800"
            );
        }
        if self.retry_schedule.iter().any(|s| *s > 7 * 86_400) {
            bail!(
                "retry_schedule (HOOKD_RETRY_SCHEDULE): each delay must be at most 604800 seconds"
            );
        }
        if !(100..=300_000).contains(&self.delivery_timeout_ms) {
            bail!("delivery_timeout_ms (HOOKD_DELIVERY_TIMEOUT_MS) must be between 100 and 300000");
        }
        if let Some(proxy) = &self.egress_proxy {
            let url = url::Url::parse(proxy).with_context(|| {
                format!("egress_proxy (HOOKD_EGRESS_PROXY) {proxy:?} is not a URL")
            })?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                bail!("egress_proxy (HOOKD_EGRESS_PROXY) must look like http://host:port");
            }
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.max_body_bytes) {
            bail!("max_body_bytes (HOOKD_MAX_BODY_BYTES) must be between 1024 and 67108864");
        }
        if !(64 * 1024..=256 * 1024 * 1024).contains(&self.list_page_max_bytes) {
            bail!("list_page_max_bytes (HOOKD_LIST_PAGE_MAX_BYTES) must be between 65536 and 268435456");
        }
        for (key, value) in [
            ("http_header_timeout_ms", self.http_header_timeout_ms),
            ("http_idle_timeout_ms", self.http_idle_timeout_ms),
            ("http_body_timeout_ms", self.http_body_timeout_ms),
        ] {
            if !(100..=3_600_000).contains(&value) {
                bail!(
                    "{key} (HOOKD_{}) must be between 100 and 3600000",
                    key.to_ascii_uppercase()
                );
            }
        }
        if !(1..=1_000_000).contains(&self.http_max_connections) {
            bail!(
                "http_max_connections (HOOKD_HTTP_MAX_CONNECTIONS) must be between 1 and 1000000"
            );
        }
        if self.rate_limit_per_sec == 0 || self.rate_limit_burst == 0 {
            bail!("rate_limit_per_sec and rate_limit_burst must be at least 1");
        }
        if self.auth_failure_limit == 0 {
            bail!("auth_failure_limit (HOOKD_AUTH_FAILURE_LIMIT) must be at least 1");
        }
        if !(1..=86_400).contains(&self.auth_failure_window_secs) {
            bail!("auth_failure_window_secs (HOOKD_AUTH_FAILURE_WINDOW_SECS) must be between 1 and 86400");
        }
        if self.endpoint_max_in_flight == 0 || self.global_max_in_flight == 0 {
            bail!("endpoint_max_in_flight and global_max_in_flight must be at least 1");
        }
        if self.database_max_connections == 0 {
            bail!("database_max_connections (HOOKD_DATABASE_MAX_CONNECTIONS) must be at least 1");
        }
        if let Some(public_url) = &self.public_url {
            let url = url::Url::parse(public_url).with_context(|| {
                format!("public_url (HOOKD_PUBLIC_URL) {public_url:?} is not a URL")
            })?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                bail!("public_url (HOOKD_PUBLIC_URL) must look like https://hooks.example.com");
            }
        }
        let ttl = self.dashboard_session_ttl.0;
        if ttl < Duration::from_secs(1) || ttl > Duration::from_secs(30 * 86_400) {
            bail!("dashboard_session_ttl (HOOKD_DASHBOARD_SESSION_TTL) must be between 1s and 30d");
        }
        for origin in &self.portal_frame_ancestors {
            let url = url::Url::parse(origin).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.path() == "/"
                    && u.query().is_none()
                    && u.username().is_empty()
            });
            if url.is_none() || origin.contains(['*', ';', ' ', '\'', '#', ',']) {
                bail!(
                    "portal_frame_ancestors (HOOKD_PORTAL_FRAME_ANCESTORS): {origin:?} is not an origin such as https://app.example.com"
                );
            }
        }
        if let Some(endpoint) = &self.otlp_endpoint {
            let url = url::Url::parse(endpoint).with_context(|| {
                format!("otlp_endpoint (HOOKD_OTLP_ENDPOINT) {endpoint:?} is not a URL")
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                bail!("otlp_endpoint (HOOKD_OTLP_ENDPOINT) must be an http:// or https:// URL");
            }
        }
        if self.retention.0.is_zero() {
            bail!("retention (HOOKD_RETENTION) must be longer than zero, e.g. 30d");
        }
        if self.retention.0 > Duration::from_secs(100 * 365 * 86_400) {
            bail!("retention (HOOKD_RETENTION) must be at most 100 years");
        }
        if !(100..=86_400_000).contains(&self.retention_interval_ms) {
            bail!(
                "retention_interval_ms (HOOKD_RETENTION_INTERVAL_MS) must be between 100 and 86400000"
            );
        }
        crate::domain::catalog::EventCatalog::with_extra(&self.event_types)
            .map_err(|e| anyhow::anyhow!("event_types: {}", e.message))?;
        Ok(())
    }

    /// The directory that holds the SQLite database and the generated master key.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.database_url.strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or(rest);
        Some(PathBuf::from(path))
    }

    pub fn is_postgres(&self) -> bool {
        !self.database_url.starts_with("sqlite:")
    }
}

/// Decodes a 64-hex-character master key.
pub fn parse_master_key(raw: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(raw.trim()).context("must be 64 hex characters")?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("must be 64 hex characters (32 bytes)"))
}

/// Every problem figment found, each naming its key as both the file and the environment
/// spell it: `retention (HOOKD_RETENTION): "forever" is not a duration …`.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = e.metadata.as_ref().map(|m| m.name.to_string());
            match (key.is_empty(), source) {
                (false, _) => format!(
                    "{key} (HOOKD_{}): {}",
                    key.to_ascii_uppercase().replace('.', "_"),
                    e.kind
                ),
                (true, Some(source)) => format!("{} (in {source})", e.kind),
                (true, None) => e.kind.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Accepts a TOML list or a comma-separated string (the environment's only way to say a list).
fn list_or_csv<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr + Deserialize<'de>,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw<T> {
        List(Vec<T>),
        Text(String),
        One(u64),
    }
    match Raw::<T>::deserialize(deserializer)? {
        Raw::List(items) => Ok(items),
        Raw::One(n) => n
            .to_string()
            .parse()
            .map(|v| vec![v])
            .map_err(serde::de::Error::custom),
        Raw::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_spec() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            c.retry_schedule,
            vec![5, 300, 1800, 7200, 18000, 36000, 36000]
        );
        assert_eq!(
            c.sqlite_path().unwrap(),
            PathBuf::from("./hookd-data/hookd.db")
        );
    }

    #[test]
    fn lists_come_as_toml_arrays_or_csv_strings() {
        let c =
            Config::from_toml("retry_schedule = \"1, 2,3\"\negress_allow_nets = [\"127.0.0.0/8\"]")
                .unwrap();
        assert_eq!(c.retry_schedule, vec![1, 2, 3]);
        assert_eq!(c.egress_allow_nets.len(), 1);
        let c = Config::from_toml("egress_allow_nets = \"127.0.0.0/8,::1/128\"").unwrap();
        assert_eq!(c.egress_allow_nets.len(), 2);
    }

    #[test]
    fn bad_values_are_errors_naming_the_key() {
        let err = Config::from_toml("listen = \"nope\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen"), "{err}");
        let err = Config::from_toml("retry_schedule = \"1,x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("retry_schedule"), "{err}");
        let err = Config::from_toml("egress_allow_nets = \"10.0.0.0/33\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("egress_allow_nets"), "{err}");
        let err = Config::from_toml("master_key = \"abc\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("HOOKD_MASTER_KEY"), "{err}");
        let err = Config::from_toml("lisen = \"127.0.0.1:1\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
        let err = Config::from_toml("database_url = \"postgres://localhost/x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("required with PostgreSQL"), "{err}");
        let err = Config::from_toml("retry_schedule = []")
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least one"), "{err}");
        assert!(Config::from_toml("this is [ not toml").is_err());
        for (toml, key) in [
            ("http_idle_timeout_ms = 0", "HOOKD_HTTP_IDLE_TIMEOUT_MS"),
            (
                "http_header_timeout_ms = 99",
                "HOOKD_HTTP_HEADER_TIMEOUT_MS",
            ),
            (
                "http_body_timeout_ms = 3600001",
                "HOOKD_HTTP_BODY_TIMEOUT_MS",
            ),
            ("http_max_connections = 0", "HOOKD_HTTP_MAX_CONNECTIONS"),
            ("auth_failure_limit = 0", "HOOKD_AUTH_FAILURE_LIMIT"),
            (
                "auth_failure_window_secs = 0",
                "HOOKD_AUTH_FAILURE_WINDOW_SECS",
            ),
            ("list_page_max_bytes = 10", "HOOKD_LIST_PAGE_MAX_BYTES"),
        ] {
            let err = Config::from_toml(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }

    // figment's Jail returns its own (large) error type; these are tests.
    #[allow(clippy::result_large_err)]
    #[test]
    fn retention_is_a_human_duration() {
        assert_eq!(
            Config::default().retention.0,
            Duration::from_secs(30 * 86_400)
        );
        for (text, secs) in [
            ("30d", 30 * 86_400),
            ("12h", 43_200),
            ("90s", 90),
            ("1h 30m", 5400),
        ] {
            let c = Config::from_toml(&format!("retention = \"{text}\"")).unwrap();
            assert_eq!(c.retention.0, Duration::from_secs(secs), "{text}");
        }
        // What the environment gives figment: HOOKD_RETENTION=12h arrives as a string.
        figment::Jail::expect_with(|jail| {
            jail.set_env("HOOKD_RETENTION", "12h");
            let c = Config::load(None).unwrap();
            assert_eq!(c.retention.0, Duration::from_secs(43_200));
            Ok(())
        });
    }

    #[allow(clippy::result_large_err)]
    #[test]
    fn bad_retentions_are_errors_naming_the_key() {
        for bad in [
            "\"0\"",
            "0",
            "\"0s\"",
            "\"-1d\"",
            "\"1y2\"",
            "\"forever\"",
            "\"\"",
            "30",
        ] {
            let err = Config::from_toml(&format!("retention = {bad}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("retention"), "{bad}: {err}");
        }
        for bad in ["0", "-1d", "1y2", "forever", ""] {
            figment::Jail::expect_with(|jail| {
                jail.set_env("HOOKD_RETENTION", bad);
                let err = Config::load(None).unwrap_err().to_string();
                assert!(
                    err.contains("retention (HOOKD_RETENTION)"),
                    "{bad:?}: {err}"
                );
                Ok(())
            });
        }
        let err = Config::from_toml("retention_interval_ms = 0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("HOOKD_RETENTION_INTERVAL_MS"), "{err}");
    }

    #[test]
    fn secrets_never_print() {
        let c = Config::from_toml(&format!("master_key = \"{}\"", "ab".repeat(32))).unwrap();
        assert!(!format!("{c:?}").contains("abab"));
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    /// The documented example must stay loadable and equal to the compiled-in defaults.
    #[test]
    fn example_config_matches_the_defaults() {
        let text = include_str!("../../../hookd.example.toml");
        let parsed = Config::from_toml(text).unwrap();
        let defaults = Config::default();
        assert_eq!(format!("{parsed:?}"), format!("{defaults:?}"));
    }
}
