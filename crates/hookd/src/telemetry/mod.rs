//! Logging, metrics and (optionally) traces.
//!
//! - Logs go to stderr (so commands printing data, like `hookd keys create`, keep stdout
//!   clean), as text or as one JSON object per line ([`json`]). What an operator follows at the
//!   default level: one access line per request (`api/access.rs`), one line per endpoint
//!   disabled, per delivery exhausted and per failed integration call, and each error once, by
//!   the layer that handles it (the store's batch machinery only logs at debug).
//! - Metrics: the Prometheus recorder and every family's description (`metrics.rs`).
//! - Traces: optional, over OTLP ([`traces`]).

pub mod json;
mod metrics;
pub mod traces;

use std::io::IsTerminal;

use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

pub use self::metrics::{
    hot, http_request_duration, metrics_handle, metrics_upkeep, status_class, Family, HotMetrics,
    Kind, FAMILIES,
};

/// The filter when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Added to every filter, whatever `RUST_LOG` says. The MCP library logs each JSON-RPC message
/// whole at debug and trace: a tool call's arguments (headers an agent passes to an integration,
/// which may be credentials) and its result. So the library is held at `info` (replacing any
/// `rmcp=…` directive: a secret must not reach the logs at any level); what an operator needs is
/// logged by hookd itself (the access line of each `/mcp` request; an integration call's log and
/// its failure line). Found by the secrets sweep (`tests/it/secrets_sweep.rs`).
const FORCED_DIRECTIVES: [&str; 1] = ["rmcp=info"];

/// `RUST_LOG` (else [`DEFAULT_FILTER`]) with [`FORCED_DIRECTIVES`] added.
fn env_filter() -> EnvFilter {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    FORCED_DIRECTIVES.iter().fold(filter, |filter, directive| {
        filter.add_directive(directive.parse().expect("a valid directive"))
    })
}

/// Installs the global tracing subscriber for `hookd serve`: logs as `config.log_format` says,
/// plus OTLP traces when `config.otlp_endpoint` is set. Keep the returned guard until the
/// server stopped: dropping it flushes the traces.
pub fn init(config: &Config) -> anyhow::Result<Option<traces::TracesGuard>> {
    install(config.log_format, config.otlp_endpoint.as_deref())
}

/// Installs the global tracing subscriber, logs only (`RUST_LOG` filters; default
/// [`DEFAULT_FILTER`]).
pub fn init_logging(format: LogFormat) {
    let _ = install(format, None);
}

type Base = tracing_subscriber::layer::Layered<EnvFilter, tracing_subscriber::Registry>;

/// Colours only when stderr is a terminal: a log file or collector gets plain text, and no
/// request pays for escape codes nobody sees (the request span's fields are formatted when it
/// opens).
fn install(
    format: LogFormat,
    otlp_endpoint: Option<&str>,
) -> anyhow::Result<Option<traces::TracesGuard>> {
    use tracing_subscriber::prelude::*;
    let filter = env_filter();
    let logs: Box<dyn tracing_subscriber::Layer<Base> + Send + Sync> = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .fmt_fields(JsonFields::new())
            .event_format(json::JsonLines)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let (otel, guard) = match otlp_endpoint {
        Some(endpoint) => {
            let (layer, guard) = traces::layer(endpoint)?;
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(otel)
        .try_init();
    Ok(guard)
}
