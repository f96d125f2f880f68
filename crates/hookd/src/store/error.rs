//! The store's one error type, the same whichever database is behind it.
//!
//! Each backend maps its own driver's errors into these variants inside its module
//! (`sqlite/error.rs`, `postgres/error.rs`), so nothing above the store knows which driver
//! failed: the API only asks whether to answer 503 (try again) or 500. The driver's error stays
//! reachable as the `source()` of the chain, for the logs.

use std::sync::Arc;

/// A driver's error, shared: one failed group commit is the answer to every request in it.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database can't be reached or written right now (down, busy past the timeout, out
    /// of disk, the writer stopped): answered 503, worth retrying.
    #[error("the database is unavailable")]
    Unavailable(#[source] Cause),
    /// A uniqueness rule was violated (duplicate name, duplicate key).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A stored value could not be read back as the domain type it should be.
    #[error("stored row is malformed: {0}")]
    Corrupt(String),
    /// Any other database failure.
    #[error("database error")]
    Other(#[source] Cause),
}

impl StoreError {
    pub fn unavailable(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Arc::new(cause))
    }

    pub fn other(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Other(Arc::new(cause))
    }

    /// True when the database could not be reached at all (answer 503, not 500).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// The driver's error behind this one, if it is of type `E` (for a backend's own mapping,
    /// such as telling a unique violation apart).
    pub fn cause<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Self::Unavailable(cause) | Self::Other(cause) => cause.downcast_ref::<E>(),
            Self::Conflict(_) | Self::Corrupt(_) => None,
        }
    }
}

/// The writer or batcher that owns a backend's writes has stopped: nothing can be written.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the database writer has stopped")]
pub struct WriterStopped;

impl From<WriterStopped> for StoreError {
    fn from(stopped: WriterStopped) -> Self {
        Self::unavailable(stopped)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
