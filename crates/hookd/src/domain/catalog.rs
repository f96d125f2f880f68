//! The event catalog: the closed list of event types endpoints can subscribe to.
//!
//! The default list is the one in the reference API document; `hookd.toml` may add types
//! (`[[event_types]]`), never remove them, so a client written against the reference keeps working.

use serde::{Deserialize, Serialize};

use super::FieldError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventType {
    /// Dotted lowercase name, e.g. `post.created`.
    pub name: String,
    pub description: String,
}

const DEFAULT_TYPES: &[(&str, &str)] = &[
    ("note.created", "A note was created."),
    ("post.created", "A post was created."),
    ("post.updated", "A post was changed."),
    ("post.scheduled", "A post was scheduled for publication."),
    (
        "post.unscheduled",
        "A scheduled post was taken off the schedule.",
    ),
    ("source.created", "A source was added."),
    ("job.completed", "A background job finished successfully."),
    ("job.failed", "A background job failed."),
    (
        "knowledge.indexed",
        "Knowledge was indexed and is ready to use.",
    ),
];

#[derive(Clone, Debug)]
pub struct EventCatalog {
    types: Vec<EventType>,
}

impl EventCatalog {
    /// The reference catalog plus `extra` types from the configuration.
    pub fn with_extra(extra: &[EventType]) -> Result<Self, FieldError> {
        let mut types: Vec<EventType> = DEFAULT_TYPES
            .iter()
            .map(|(name, description)| EventType {
                name: (*name).to_string(),
                description: (*description).to_string(),
            })
            .collect();
        for (i, t) in extra.iter().enumerate() {
            let param = format!("event_types[{i}].name");
            if !is_valid_type_name(&t.name) {
                return Err(FieldError::new(
                    param,
                    format!(
                        "{:?} is not a valid event type: use lowercase dotted names like `invoice.paid`",
                        t.name
                    ),
                ));
            }
            if types.iter().any(|known| known.name == t.name)
                || super::operational::is_operational(&t.name)
            {
                return Err(FieldError::new(
                    param,
                    format!("{:?} is already in the catalog", t.name),
                ));
            }
            types.push(t.clone());
        }
        Ok(Self { types })
    }

    /// Adds hookd's operational event types (`endpoint.disabled`, `delivery.exhausted`) when
    /// `enabled`, so endpoints can subscribe to them (see `domain::operational`).
    pub fn with_operational(mut self, enabled: bool) -> Self {
        if enabled {
            self.types
                .extend(
                    super::operational::TYPES
                        .iter()
                        .map(|(name, description)| EventType {
                            name: (*name).to_string(),
                            description: (*description).to_string(),
                        }),
                );
        }
        self
    }

    /// Parses the type of an event a client publishes: any type of the catalog except the
    /// operational ones, which only hookd publishes.
    pub fn parse_publishable(&self, param: &str, raw: &str) -> Result<String, FieldError> {
        if super::operational::is_operational(raw) {
            return Err(FieldError::new(
                param,
                format!("{raw:?} is an operational event type: only hookd publishes it"),
            ));
        }
        self.parse_type(param, raw)
    }

    pub fn types(&self) -> &[EventType] {
        &self.types
    }

    pub fn contains(&self, name: &str) -> bool {
        self.types.iter().any(|t| t.name == name)
    }

    /// Parses a subscription list: at least one type, each known, duplicates removed (first
    /// occurrence kept).
    pub fn parse_subscription(
        &self,
        param: &str,
        raw: &[String],
    ) -> Result<Vec<String>, FieldError> {
        if raw.is_empty() {
            return Err(FieldError::new(
                param,
                format!("{param} must list at least one event type"),
            ));
        }
        let mut out: Vec<String> = Vec::with_capacity(raw.len());
        for (i, name) in raw.iter().enumerate() {
            if !self.contains(name) {
                return Err(FieldError::new(
                    format!("{param}[{i}]"),
                    format!(
                        "{:?} is not an event type; GET /v1/event-types lists them",
                        truncate(name)
                    ),
                ));
            }
            if !out.contains(name) {
                out.push(name.clone());
            }
        }
        Ok(out)
    }

    /// Parses the type of a published event.
    pub fn parse_type(&self, param: &str, raw: &str) -> Result<String, FieldError> {
        if self.contains(raw) {
            Ok(raw.to_string())
        } else {
            Err(FieldError::new(
                param,
                format!(
                    "{:?} is not an event type; GET /v1/event-types lists them",
                    truncate(raw)
                ),
            ))
        }
    }
}

fn truncate(raw: &str) -> String {
    raw.chars().take(64).collect()
}

fn is_valid_type_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    name.len() <= 64
        && parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalog_is_the_reference_list() {
        let c = EventCatalog::with_extra(&[]).unwrap();
        assert_eq!(c.types().len(), 9);
        assert!(c.contains("knowledge.indexed"));
        assert!(!c.contains("post.deleted"));
    }

    #[test]
    fn subscriptions_drop_duplicates_and_reject_unknown_names() {
        let c = EventCatalog::with_extra(&[]).unwrap();
        let raw = vec![
            "post.created".to_string(),
            "job.completed".into(),
            "post.created".into(),
        ];
        assert_eq!(
            c.parse_subscription("events", &raw).unwrap(),
            vec!["post.created", "job.completed"]
        );
        let err = c
            .parse_subscription("events", &["nope".to_string()])
            .unwrap_err();
        assert_eq!(err.param, "events[0]");
        assert_eq!(
            c.parse_subscription("events", &[]).unwrap_err().param,
            "events"
        );
    }

    #[test]
    fn config_can_extend_but_not_redefine() {
        let extra = EventType {
            name: "invoice.paid".into(),
            description: "Paid.".into(),
        };
        let c = EventCatalog::with_extra(std::slice::from_ref(&extra)).unwrap();
        assert!(c.contains("invoice.paid"));
        let dup = EventType {
            name: "post.created".into(),
            description: "x".into(),
        };
        assert!(EventCatalog::with_extra(&[dup]).is_err());
        let bad = EventType {
            name: "Invoice Paid".into(),
            description: "x".into(),
        };
        assert!(EventCatalog::with_extra(&[bad]).is_err());
        let reserved = EventType {
            name: "endpoint.disabled".into(),
            description: "x".into(),
        };
        assert!(EventCatalog::with_extra(&[reserved]).is_err());
    }

    #[test]
    fn operational_types_are_listed_only_when_on_and_never_publishable() {
        let off = EventCatalog::with_extra(&[])
            .unwrap()
            .with_operational(false);
        assert!(!off.contains("endpoint.disabled"));
        let on = EventCatalog::with_extra(&[])
            .unwrap()
            .with_operational(true);
        assert!(on.contains("endpoint.disabled") && on.contains("delivery.exhausted"));
        assert!(on
            .parse_subscription("events", &["delivery.exhausted".into()])
            .is_ok());
        assert!(on.parse_publishable("type", "delivery.exhausted").is_err());
        assert!(on.parse_publishable("type", "post.created").is_ok());
    }
}
