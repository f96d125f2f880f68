//! Optional OpenTelemetry traces, exported over OTLP/HTTP (protobuf) when `otlp_endpoint`
//! (`HOOKD_OTLP_ENDPOINT`) is set. Unset, no exporter, no OpenTelemetry layer and no extra span
//! exists: [`enabled`] is one relaxed atomic load on the paths that would create spans.
//!
//! What is traced: every API request (the `request` span of the router), a publish (`publish`,
//! inside its request) and every delivery attempt (`attempt`). An attempt runs later, on the
//! delivery engine, in a trace of its own, so instead of a parent it carries a span **link** to
//! the publish that created its delivery: in a trace viewer, the publish's trace shows "linked
//! from" its attempts, and each attempt links back to the publish. The link travels in memory
//! with the delivery job ([`TraceLink`]); retries claimed later from the database (and attempts
//! of work taken over from another node) have no link, since the context is not stored.
//!
//! Spans are batched (OpenTelemetry's batch processor, on a thread of its own with a blocking
//! HTTP client, so no request waits for the collector); `OTEL_BSP_*` variables tune it.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use opentelemetry::trace::{SpanContext, TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::store::DeliveryJob;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether traces are exported (an OTLP endpoint is configured and the exporter started).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// A publish's span, to link its deliveries' attempts to.
#[derive(Clone, Debug)]
pub struct TraceLink(SpanContext);

/// Flushes and stops the exporter when dropped (at the end of `hookd serve`).
pub struct TracesGuard {
    provider: SdkTracerProvider,
}

impl Drop for TracesGuard {
    fn drop(&mut self) {
        ENABLED.store(false, Ordering::Relaxed);
        if let Err(e) = self.provider.shutdown() {
            eprintln!("hookd: flushing traces at exit failed: {e}");
        }
    }
}

/// Builds the OTLP exporter for `endpoint` (the collector's base URL; `/v1/traces` is
/// appended) and the tracing layer that feeds it.
pub fn layer<S>(
    endpoint: &str,
) -> anyhow::Result<(
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>,
    TracesGuard,
)>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .build()
        .context("building the OTLP trace exporter (HOOKD_OTLP_ENDPOINT)")?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("hookd").build())
        .build();
    let tracer = provider.tracer("hookd");
    ENABLED.store(true, Ordering::Relaxed);
    Ok((
        tracing_opentelemetry::layer().with_tracer(tracer),
        TracesGuard { provider },
    ))
}

/// The span of one publish (disabled when traces are off).
pub fn publish_span(event_type: &str) -> tracing::Span {
    if !enabled() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        "publish",
        r#type = event_type,
        event = tracing::field::Empty
    )
}

/// What to link later work to `span` with (`None` when traces are off).
pub fn link_to(span: &tracing::Span) -> Option<TraceLink> {
    if !enabled() || span.is_none() {
        return None;
    }
    let context = span.context().span().span_context().clone();
    context.is_valid().then_some(TraceLink(context))
}

/// The span of one attempt of `job`, linked to its publish when the job came from one
/// (disabled when traces are off).
pub fn attempt_span(job: &DeliveryJob) -> tracing::Span {
    if !enabled() {
        return tracing::Span::none();
    }
    // A root span: the attempt is its own unit of work, linked rather than parented.
    let span = tracing::info_span!(
        parent: None,
        "attempt",
        delivery = job.delivery_id.as_str(),
        endpoint = job.endpoint_id.as_str(),
        event = job.event_id.as_str(),
        attempt = job.attempt_count + 1
    );
    if let Some(TraceLink(publish)) = &job.link {
        span.add_link(publish.clone());
    }
    span
}
