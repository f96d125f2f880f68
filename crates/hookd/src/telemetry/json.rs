//! The JSON log line: one object per event, every field at the top level.
//!
//! tracing-subscriber's own JSON format nests the event's fields under `fields` and the spans'
//! under `span`/`spans`, and records an error as one string. An operator's query wants
//! `request_id`, `workspace`, `delivery`… at the top of every line, whichever span or event
//! carried them, and an error's causes as a list. So this formatter merges the fields of every
//! span in scope (outermost first) and then the event's own (which win), and an error recorded
//! as `error = &e as &dyn Error` becomes `"error": "<its message>"` plus `"causes": [...]`, the
//! messages of its `source()` chain.
//!
//! Only used with `HOOKD_LOG_FORMAT=json`; spans keep their fields as JSON text
//! (`JsonFields`), parsed back here per event.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// See the module docs.
pub struct JsonLines;

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() else {
                    continue;
                };
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields) {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut FieldVisitor(&mut line));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Collects an event's fields into the line.
struct FieldVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for FieldVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut causes = Vec::new();
        let mut source = value.source();
        while let Some(cause) = source {
            causes.push(Value::String(cause.to_string()));
            source = cause.source();
        }
        let causes_key = if field.name() == "error" {
            "causes".to_string()
        } else {
            format!("{}.causes", field.name())
        };
        self.0.insert(field.name().into(), value.to_string().into());
        self.0.insert(causes_key, Value::Array(causes));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn span_and_event_fields_are_top_level_and_causes_an_array() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields::new())
            .event_format(JsonLines)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                request_id = "req_1",
                workspace = tracing::field::Empty
            );
            span.record("workspace", "ws_1");
            let _entered = span.enter();
            let error = Outer(std::io::Error::other("inner"));
            tracing::error!(
                delivery = "dlv_1",
                error = &error as &dyn std::error::Error,
                "it failed"
            );
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["request_id"], "req_1", "{line}");
        assert_eq!(line["workspace"], "ws_1", "{line}");
        assert_eq!(line["delivery"], "dlv_1", "{line}");
        assert_eq!(line["message"], "it failed", "{line}");
        assert_eq!(line["level"], "ERROR", "{line}");
        assert_eq!(line["error"], "outer", "{line}");
        assert_eq!(line["causes"], serde_json::json!(["inner"]), "{line}");
    }
}
