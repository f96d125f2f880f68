//! The storage contract of customer portal links (implemented in `sqlite/portal.rs` and
//! `postgres/portal.rs`): a link is stored by the hash of its token and redeemed at most once.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::portal::{NewPortalLink, PortalScope};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;

/// Links expired longer ago than this are deleted when a new link is stored: nothing reads them
/// anymore, and the table stays as small as the links in use.
pub const KEEP_EXPIRED_MS: i64 = 86_400_000;

/// Customer portal links.
#[async_trait]
pub trait PortalStore: Send + Sync + 'static {
    /// Stores a new link of `link.scope.tenant` (and forgets links long expired).
    async fn insert_portal_link(&self, link: &NewPortalLink) -> StoreResult<()>;
    /// Redeems a link: marks it used and returns its scope, in one atomic statement, if it
    /// exists, was never used, has not expired at `now`, and its workspace still exists.
    /// Of two concurrent redemptions exactly one gets the scope.
    async fn redeem_portal_link(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<PortalScope>>;
    /// Whether the tenant knows `project_id`: an endpoint (not deleted) is scoped to it or an
    /// event was published with it. Projects have no table of their own; they exist through
    /// the objects that name them.
    async fn project_exists(&self, tenant: &Tenant, project_id: &str) -> StoreResult<bool>;
}
