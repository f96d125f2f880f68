//! Logging, metrics and (optionally) traces.
//!
//! - Logs go to stderr (so commands printing data, like `hookd keys create`, keep stdout
//!   clean), as text or as one JSON object per line ([`json`]). What an operator follows at the
//!   default level: one access line per request (`api/access.rs`), one line per endpoint
//!   disabled, per delivery exhausted and per failed integration call, and each error once, by
//!   the layer that handles it (the store's batch machinery only logs at debug).
//! - Metrics: the Prometheus recorder and every family's description ([`metrics`]).

pub mod json;
mod metrics;

use std::io::IsTerminal;

use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub use self::metrics::{
    hot, http_request_duration, metrics_handle, metrics_upkeep, status_class, Family, HotMetrics,
    Kind, FAMILIES,
};

/// The filter when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Installs the global tracing subscriber (`RUST_LOG` filters; default [`DEFAULT_FILTER`]).
/// Colours only when stderr is a terminal: a log file or collector gets plain text, and no
/// request pays for escape codes nobody sees (the request span's fields are formatted when it
/// opens).
pub fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(json::JsonLines)
            .try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
