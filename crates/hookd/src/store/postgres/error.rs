//! `sqlx` driver errors mapped to the backend-neutral [`StoreError`], and row access for
//! PostgreSQL rows. The SQLite backend's readers go through `sqlx` too, and share this mapping.

use crate::store::StoreError;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if unavailable(&e) {
            StoreError::unavailable(e)
        } else {
            StoreError::other(e)
        }
    }
}

/// The database could not be reached: no pooled connection in time, a closed pool, a dropped
/// socket, or a server that is shutting down (it ends the statements in flight with an error of
/// its own rather than a dropped socket).
fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .is_some_and(|pg| is_connection_lost(pg.code())),
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs meaning the server went away or is not taking connections: the
/// connection exception class (08…), and admin shutdown, crash shutdown, cannot connect now.
fn is_connection_lost(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || matches!(sqlstate, "57P01" | "57P02" | "57P03")
}

/// Maps a unique-constraint failure to `Conflict(what)`, anything else as [`From`] does.
pub(super) fn conflict_or(e: sqlx::Error, what: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::from(e),
    }
}

crate::impl_row_ext!(sqlx::postgres::PgRow, |row, column| sqlx::Row::try_get(
    row, column
));
