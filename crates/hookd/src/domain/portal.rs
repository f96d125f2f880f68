//! Customer portal links: one-time sign-in tokens a host application hands to its own customer
//! (`POST /v1/portal-sessions`), and the scope the browser gets when it redeems one.
//!
//! A token is `hpt_` followed by 43 random base62 characters (≈256 bits). Like an API key, only
//! its SHA-256 is stored: the token has far more entropy than a password, so a slow hash buys
//! nothing, and the lookup by hash never compares the secret itself. A link is redeemed at most
//! once (the store marks it used in the same statement that reads it) and never after it
//! expires; the portal session it opens ends at the same time.

use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};

use super::ids::WorkspaceId;
use super::tenant::{Mode, Tenant};
use super::time::Timestamp;
use super::FieldError;

pub const TOKEN_PREFIX: &str = "hpt_";
const TOKEN_RANDOM_LEN: usize = 43;

/// `expiresInSecs` when omitted: an hour, long enough to open the link and look around.
pub const DEFAULT_EXPIRES_IN_SECS: u64 = 3600;
/// The shortest link: a minute, so a link survives being handed over.
pub const MIN_EXPIRES_IN_SECS: u64 = 60;
/// The longest link: seven days. A portal session is a bearer credential in a browser; a host
/// application that embeds the portal mints a fresh link per page view instead.
pub const MAX_EXPIRES_IN_SECS: u64 = 7 * 86_400;

/// What a portal session may see and do: one workspace and mode, optionally one project's
/// endpoints (and the events they receive), optionally without any change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortalScope {
    pub tenant: Tenant,
    /// The workspace's name, shown in the portal's header (read back on redemption).
    pub workspace_name: String,
    pub project_id: Option<String>,
    pub read_only: bool,
    /// When the link, and the session it opens, end.
    pub expires_at: Timestamp,
}

/// A new link as stored (only the hash of its token) and the token to put in the URL.
pub struct NewPortalLink {
    pub token: String,
    pub token_hash: String,
    pub scope: PortalScope,
    pub created_at: Timestamp,
}

impl NewPortalLink {
    pub fn generate(scope: PortalScope, created_at: Timestamp) -> Self {
        let random: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(TOKEN_RANDOM_LEN)
            .map(char::from)
            .collect();
        let token = format!("{TOKEN_PREFIX}{random}");
        Self {
            token_hash: hash_token(&token),
            token,
            scope,
            created_at,
        }
    }
}

/// Hex SHA-256 of a token, as stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `candidate` is shaped like a token, so a garbage path costs no database lookup.
pub fn looks_like_token(candidate: &str) -> bool {
    candidate.strip_prefix(TOKEN_PREFIX).is_some_and(|random| {
        random.len() == TOKEN_RANDOM_LEN && random.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// `expiresInSecs`: omitted means [`DEFAULT_EXPIRES_IN_SECS`]; otherwise
/// [`MIN_EXPIRES_IN_SECS`]–[`MAX_EXPIRES_IN_SECS`].
pub fn parse_expires_in(param: &str, raw: Option<u64>) -> Result<u64, FieldError> {
    match raw {
        None => Ok(DEFAULT_EXPIRES_IN_SECS),
        Some(secs) if (MIN_EXPIRES_IN_SECS..=MAX_EXPIRES_IN_SECS).contains(&secs) => Ok(secs),
        Some(_) => Err(FieldError::new(
            param,
            format!(
                "{param} must be a whole number of seconds from {MIN_EXPIRES_IN_SECS} to {MAX_EXPIRES_IN_SECS} (7 days)"
            ),
        )),
    }
}

/// When a link created at `now` for `expires_in_secs` expires, in whole seconds: the API states
/// times at second precision, so the stated expiry is the real one.
pub fn expiry(now: Timestamp, expires_in_secs: u64) -> Timestamp {
    let secs = i64::try_from(expires_in_secs).unwrap_or(i64::MAX / 1000);
    let millis = now.as_millis().saturating_add(secs.saturating_mul(1000));
    Timestamp::from_millis(millis - millis.rem_euclid(1000))
}

/// Rebuilds a scope read back from the store.
pub fn scope_from_parts(
    workspace_id: WorkspaceId,
    workspace_name: String,
    mode: Mode,
    project_id: Option<String>,
    read_only: bool,
    expires_at: Timestamp,
) -> PortalScope {
    PortalScope {
        tenant: Tenant { workspace_id, mode },
        workspace_name,
        project_id,
        read_only,
        expires_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_hashed() {
        let scope = scope_from_parts(
            WorkspaceId::generate(),
            "default".into(),
            Mode::Test,
            None,
            false,
            Timestamp::now(),
        );
        let a = NewPortalLink::generate(scope.clone(), Timestamp::now());
        let b = NewPortalLink::generate(scope, Timestamp::now());
        assert_ne!(a.token, b.token);
        assert!(looks_like_token(&a.token), "{}", a.token);
        assert_eq!(a.token_hash, hash_token(&a.token));
        assert_ne!(a.token_hash, a.token);
        for bad in [
            "",
            "hpt_",
            "hpt_short",
            &format!("hpt_{}", "-".repeat(43)),
            &a.token_hash,
        ] {
            assert!(!looks_like_token(bad), "{bad}");
        }
    }

    #[test]
    fn expiry_is_in_whole_seconds() {
        let now = Timestamp::from_millis(1_000_999);
        assert_eq!(expiry(now, 60).as_millis(), 1_060_000);
        assert_eq!(
            expiry(Timestamp::from_millis(5_000), 60).as_millis(),
            65_000
        );
    }

    #[test]
    fn expiry_bounds() {
        assert_eq!(parse_expires_in("expiresInSecs", None).unwrap(), 3600);
        assert_eq!(parse_expires_in("expiresInSecs", Some(60)).unwrap(), 60);
        assert_eq!(
            parse_expires_in("expiresInSecs", Some(604_800)).unwrap(),
            604_800
        );
        for bad in [0, 59, 604_801, u64::MAX] {
            assert_eq!(
                parse_expires_in("expiresInSecs", Some(bad))
                    .unwrap_err()
                    .param,
                "expiresInSecs"
            );
        }
    }
}
