//! SQLite's driver errors mapped to the backend-neutral [`StoreError`], and row access for the
//! writer thread's `rusqlite` rows and the readers' `sqlx` rows.
//!
//! The readers' `sqlx::Error`s are mapped with PostgreSQL's in `postgres/error.rs`: one driver,
//! one mapping (a type can only convert one way).

use crate::store::StoreError;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if unavailable(&e) {
            StoreError::unavailable(e)
        } else {
            StoreError::other(e)
        }
    }
}

/// SQLite failures that mean the file cannot be written right now (another process holds the
/// lock past the busy timeout, the disk or file is unusable), not that the request was wrong.
pub(super) fn unavailable(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode;
    matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
        )
    )
}

/// Maps a unique-constraint failure to `Conflict(what)`; any other error stays as it is.
pub(super) fn conflict_or(e: StoreError, what: &'static str) -> StoreError {
    match e.cause::<rusqlite::Error>() {
        Some(rusqlite::Error::SqliteFailure(failure, _))
            if matches!(
                failure.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ) =>
        {
            StoreError::Conflict(what)
        }
        _ => e,
    }
}

crate::impl_row_ext!(sqlx::sqlite::SqliteRow, |row, column| sqlx::Row::try_get(
    row, column
));
// Rows read by the SQLite writer thread.
crate::impl_row_ext!(rusqlite::Row<'_>, |row, column| row.get(column));

/// The group commit a write shared failed (or was rolled back by SQLite) after the write itself
/// succeeded: every write of the batch sees this, with the one cause behind it.
#[derive(Debug, thiserror::Error)]
#[error("the group commit failed")]
pub(super) struct GroupCommitFailed(#[source] pub(super) std::sync::Arc<rusqlite::Error>);

impl From<GroupCommitFailed> for StoreError {
    fn from(e: GroupCommitFailed) -> Self {
        if unavailable(&e.0) {
            StoreError::unavailable(e)
        } else {
            StoreError::other(e)
        }
    }
}
