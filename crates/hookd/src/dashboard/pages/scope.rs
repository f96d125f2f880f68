//! What a session may act on in the endpoint, delivery and event pages: any session acts as its
//! tenant through the API's handlers, and a portal session limited to a project sees only that
//! project's endpoints and the events they receive (anything else is a 404, like another
//! tenant's object).

use super::super::errors::{DashError, DashResult};
use super::super::session::Session;
use crate::api::auth::Authed;
use crate::domain::endpoint::Endpoint;
use crate::domain::ids::ApiKeyId;

/// The caller the API's handlers take. A portal session has no key; the handlers these pages
/// call read only the tenant (the key id serves the `/v1` pipeline's rate limit and logs, which
/// pages do not pass through), so it acts under a key id that names no key.
pub fn caller(session: &Session) -> Authed {
    session.scope.authed().unwrap_or_else(|| Authed {
        key_id: ApiKeyId::from_trusted("key_portal".to_string()),
        tenant: session.scope.tenant(),
    })
}

/// The project this session is limited to, if any.
pub fn project(session: &Session) -> Option<&str> {
    session.scope.project_id.as_deref()
}

/// Whether the session may see objects of `project_id` (an endpoint's scope, an event's).
pub fn sees_project(session: &Session, project_id: Option<&str>) -> bool {
    project(session).is_none_or(|mine| project_id == Some(mine))
}

/// The endpoint, or a 404 when it is outside the session's project.
pub fn visible(session: &Session, endpoint: Endpoint) -> DashResult<Endpoint> {
    if sees_project(session, endpoint.project_id.as_deref()) {
        Ok(endpoint)
    } else {
        Err(DashError::not_found())
    }
}
