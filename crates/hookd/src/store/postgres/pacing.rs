//! The shared "next free slot" of rate-limited endpoints (`endpoint_rate_slots`), so every node
//! paces one endpoint against one limit.
//!
//! The slot rule is the domain's ([`rate_limit::take_slot`]); this file only makes taking a
//! slot atomic across nodes with a compare-and-swap: read the endpoint's next free slot, compute
//! the new one, and write it only if nobody moved it meanwhile, else read again.

use sqlx::PgPool;

use crate::domain::ids::EndpointId;
use crate::domain::rate_limit;
use crate::store::{StoreError, StoreResult};

/// Rounds of compare-and-swap before giving up (each lost round means another node took a slot).
const MAX_ROUNDS: usize = 64;

pub(super) async fn take_rate_slot(
    pool: &PgPool,
    endpoint_id: &EndpointId,
    rate_per_sec: u32,
    now_micros: i64,
) -> StoreResult<i64> {
    for _ in 0..MAX_ROUNDS {
        let current: Option<i64> = sqlx::query_scalar(
            "SELECT next_free_us FROM endpoint_rate_slots WHERE endpoint_id = $1",
        )
        .bind(endpoint_id.as_str())
        .fetch_optional(pool)
        .await?;
        let (slot, next) = rate_limit::take_slot(current, now_micros, rate_per_sec);
        let swapped =
            match current {
                None => sqlx::query(
                    "INSERT INTO endpoint_rate_slots (endpoint_id, next_free_us) VALUES ($1, $2) \
                 ON CONFLICT (endpoint_id) DO NOTHING",
                )
                .bind(endpoint_id.as_str())
                .bind(next)
                .execute(pool)
                .await?,
                Some(old) => {
                    sqlx::query(
                        "UPDATE endpoint_rate_slots SET next_free_us = $2 \
                 WHERE endpoint_id = $1 AND next_free_us = $3",
                    )
                    .bind(endpoint_id.as_str())
                    .bind(next)
                    .bind(old)
                    .execute(pool)
                    .await?
                }
            };
        if swapped.rows_affected() == 1 {
            return Ok(slot);
        }
    }
    // Busy, not broken: the caller waits an interval and goes on.
    Err(StoreError::unavailable(std::io::Error::other(format!(
        "could not take a rate slot of endpoint {endpoint_id} in {MAX_ROUNDS} rounds"
    ))))
}
