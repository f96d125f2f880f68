//! Typed, prefixed identifiers.
//!
//! Every object id is a type prefix (`whe_`, `evt_`, …) followed by a lowercase ULID: opaque to
//! clients, unique without coordination between nodes, and sortable by creation time, which is
//! what keyset pagination ("newest first, stable under concurrent inserts") relies on. Each kind
//! of id is its own type so a handler cannot pass an event id where an endpoint id is expected.

use std::fmt;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

#[cfg(test)]
mod props;

/// The id did not have the expected prefix or suffix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an id of the form {prefix}<26 characters>, got {got:?}")]
pub struct IdError {
    pub prefix: &'static str,
    pub got: String,
}

/// One process-wide monotonic generator: ids minted in the same millisecond still sort in the
/// order they were made.
static GENERATOR: Mutex<Option<ulid::Generator>> = Mutex::new(None);

fn next_ulid() -> ulid::Ulid {
    let mut guard = GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let generator = guard.get_or_insert_with(ulid::Generator::new);
    // The generator only fails when 2^80 ids are made in one millisecond; fall back to a fresh
    // random ULID rather than panic.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
}

/// `prefix` followed by a new lowercase ULID, written straight into one allocation (ids are
/// minted several times per event, so this stays off `format!`).
pub fn prefixed_ulid(prefix: &str) -> String {
    let mut buf = [0u8; ulid::ULID_LEN];
    let suffix = next_ulid().array_to_str(&mut buf);
    suffix.make_ascii_lowercase();
    let mut id = String::with_capacity(prefix.len() + ulid::ULID_LEN);
    id.push_str(prefix);
    id.push_str(suffix);
    id
}

/// A ULID exactly as this server writes one, up to case. The `ulid` crate also decodes 26
/// characters whose first is above `7` (more than 128 bits, the excess dropped), so
/// `a0aja00ja0aa0pa0a0aaa000ap` and `20aja00ja0aa0pa0a0aaa000ap` are one ULID: such aliases
/// are refused, so an id has one spelling (found by a property test).
fn is_canonical_ulid(suffix: &str) -> bool {
    suffix.len() == 26
        && ulid::Ulid::from_string(suffix)
            .is_ok_and(|ulid| ulid.to_string().eq_ignore_ascii_case(suffix))
}

/// The pattern of every id with `prefix`: the prefix and a canonical ULID (Crockford base32,
/// either case, the first character `0`–`7`), as `parse` accepts it. The OpenAPI document gives
/// it to path ids and cursors.
pub fn pattern(prefix: &str) -> String {
    format!("^{prefix}[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{{25}}$")
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(prefixed_ulid($prefix))
            }

            /// Parses an id as received from a client or read back from the database.
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                let err = || IdError { prefix: $prefix, got: raw.chars().take(80).collect() };
                let suffix = raw.strip_prefix($prefix).ok_or_else(err)?;
                if !is_canonical_ulid(suffix) {
                    return Err(err());
                }
                Ok(Self(raw.to_ascii_lowercase()))
            }

            /// The smallest id of this type minted at `at`: every id minted before `at` sorts
            /// below it, since ids sort by creation time. A range over ids stands for a range
            /// over time, served by the primary key (retention uses it).
            pub fn floor_at(at: super::time::Timestamp) -> Self {
                let millis = u64::try_from(at.as_millis()).unwrap_or(0);
                let ulid = ulid::Ulid::from_parts(millis, 0).to_string().to_ascii_lowercase();
                Self(format!("{}{ulid}", $prefix))
            }

            /// Wraps a value this process wrote to its own database earlier.
            #[allow(dead_code)]
            pub(crate) fn from_trusted(raw: String) -> Self {
                Self(raw)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(concat!("Identifier with the prefix `", $prefix, "`.")))
                    .pattern(Some(pattern($prefix)))
                    .examples([serde_json::json!(concat!($prefix, "01jc8z6f3v2m9q4w7x5y8z0a1b"))])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

typed_id!(/// A tenant.
    WorkspaceId, "ws_");
typed_id!(/// An API key (the record, not the secret).
    ApiKeyId, "key_");
typed_id!(/// A webhook endpoint.
    EndpointId, "whe_");
typed_id!(/// A published event; also the `webhook-id` of every delivery of it.
    EventId, "evt_");
typed_id!(/// One event's delivery to one endpoint.
    DeliveryId, "dlv_");
typed_id!(/// One HTTP attempt of a delivery.
    AttemptId, "att_");
typed_id!(/// A custom webhook integration.
    IntegrationId, "int_");
typed_id!(/// One call made through an integration.
    CallId, "call_");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_prefix_and_parse_back() {
        let id = EndpointId::generate();
        assert!(id.as_str().starts_with("whe_"));
        assert_eq!(id.as_str().len(), 4 + 26);
        assert_eq!(EndpointId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn ids_sort_in_creation_order() {
        let ids: Vec<EventId> = (0..1000).map(|_| EventId::generate()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn the_floor_of_an_instant_sorts_between_the_ids_before_and_after_it() {
        let before = EventId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let floor = EventId::floor_at(crate::domain::time::Timestamp::now());
        std::thread::sleep(std::time::Duration::from_millis(2));
        let after = EventId::generate();
        assert!(before < floor && floor < after, "{before} {floor} {after}");
        assert_eq!(EventId::parse(floor.as_str()).unwrap(), floor);
    }

    #[test]
    fn wrong_prefix_or_garbage_is_rejected() {
        let evt = EventId::generate();
        assert!(EndpointId::parse(evt.as_str()).is_err());
        assert!(EndpointId::parse("whe_").is_err());
        assert!(EndpointId::parse("whe_a1b2c3d4e5f6g7h8").is_err());
        assert!(EndpointId::parse("").is_err());
        assert!(EndpointId::parse("whe_01jc8z6f3v2m9q4w7x5y8z0a1b\n").is_err());
        // More than 128 bits: the ulid crate drops the excess, making an alias of another id.
        assert!(WorkspaceId::parse("ws_a0aja00ja0aa0pa0a0aaa000ap").is_err());
        assert!(WorkspaceId::parse("ws_80000000000000000000000000").is_err());
        assert!(WorkspaceId::parse("ws_7zzzzzzzzzzzzzzzzzzzzzzzzz").is_ok());
    }
}
