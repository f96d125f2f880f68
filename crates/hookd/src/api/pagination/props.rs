//! Property tests of `limit` and `cursor`: a page's `nextCursor` passed back is the cursor the
//! store continues after (encode → decode is the identity), `limit` is accepted exactly when it
//! is a whole number from 1 to [`MAX_LIMIT`], and garbage is a 400, never a panic.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use proptest::prelude::*;

use super::*;
use crate::domain::ids::{DeliveryId, EndpointId, EventId};

fn event_cursor(raw: &str) -> Result<String, crate::domain::ids::IdError> {
    EventId::parse(raw).map(|id| id.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_next_cursor_decodes_to_the_last_item(count in 1usize..30, has_more in any::<bool>()) {
        let items: Vec<EventId> = (0..count).map(|_| EventId::generate()).collect();
        let last = items.last().unwrap().clone();
        let list = List::from_page(Page { items, has_more }, |id| id.to_string());
        match list.next_cursor {
            Some(cursor) => {
                prop_assert!(has_more);
                let request = page_request(None, Some(&cursor), event_cursor).unwrap();
                prop_assert_eq!(request.cursor, Some(last.to_string()));
                // Each list decodes only its own type's cursors.
                let endpoints = page_request(None, Some(&cursor), |c| {
                    EndpointId::parse(c).map(|id| id.to_string())
                });
                prop_assert!(endpoints.is_err());
            }
            None => prop_assert!(!has_more),
        }
    }

    #[test]
    fn garbage_cursors_and_limits_are_a_400(
        limit in proptest::option::of(prop_oneof!["\\PC{0,12}", "[+-]?[0-9]{1,12}"]),
        cursor in proptest::option::of(prop_oneof!["\\PC{0,40}", "dlv_[0-9a-z]{20,30}"]),
    ) {
        let result = page_request(limit.as_deref(), cursor.as_deref(), |c| {
            DeliveryId::parse(c).map(|id| id.to_string())
        });
        let limit_ok = limit
            .as_deref()
            .is_none_or(|l| l.parse::<u32>().is_ok_and(|n| (1..=MAX_LIMIT).contains(&n)));
        let cursor_ok = cursor
            .as_deref()
            .is_none_or(|c| c.is_empty() || DeliveryId::parse(c).is_ok());
        match result {
            Ok(request) => {
                prop_assert!(limit_ok && cursor_ok);
                prop_assert!((1..=MAX_LIMIT).contains(&request.limit));
            }
            Err(err) => {
                prop_assert!(!(limit_ok && cursor_ok));
                prop_assert_eq!(err.into_response().status(), StatusCode::BAD_REQUEST);
            }
        }
    }

    #[test]
    fn booleans_are_true_or_false_only(raw in proptest::option::of("\\PC{0,8}")) {
        let parsed = parse_bool("enabled", raw.as_deref());
        match raw.as_deref() {
            None => prop_assert_eq!(parsed.ok(), Some(None)),
            Some("true") => prop_assert_eq!(parsed.ok(), Some(Some(true))),
            Some("false") => prop_assert_eq!(parsed.ok(), Some(Some(false))),
            Some(_) => prop_assert!(parsed.is_err()),
        }
    }
}
