//! `--prefill N`: N historical events, each with one delivery and one attempt, written straight
//! into the database of the server under test before the measured phase, so a run measures hookd
//! on a database that has grown rather than on an empty one.
//!
//! When: after the server has started (it creates the schema, the workspace and the run's
//! endpoints through its own migrations and API) and before the first publish; the server is
//! running but idle meanwhile. The history belongs to the run's tenant and project and its
//! deliveries go to the run's own endpoints, round-robin, so the indexes the hot path touches
//! (`deliveries_by_endpoint`, the tenant's event and delivery listings) carry the whole history.
//!
//! Shape of each historical event `n` (1..=N), as hookd itself would have stored it:
//! - ids in hookd's format (`evt_`/`dlv_`/`att_` + a lowercase ULID) whose time part is the
//!   event's creation time, so they sort by time like real ids (and below every id the run
//!   mints); the 80-bit random part is 45 random bits fixed per prefill followed by `n`, so the
//!   ids of one prefill are distinct and two prefills do not collide;
//! - creation times spread evenly over the last [`WINDOW_MS`] (25 days), inside the default
//!   30-day retention, so the retention job has nothing to remove during the run;
//! - `data` of `--data-bytes` bytes (`{"history":n,"pad":"xxx…"}`), the run's event type;
//! - delivery `succeeded` after one attempt, status 200, an empty response body (what the
//!   harness's receiver answers), a duration of a few milliseconds.
//!
//! The rows are made by the database itself, set-based, in transactions of [`BATCH`] events:
//! `generate_series` on PostgreSQL, a recursive CTE on SQLite, with the ULIDs encoded in SQL
//! ([`ulid_sql`]), each computed once per event for its three rows ([`statements`]). The
//! prefill's own connection skips the foreign-key checks (the rows are consistent by
//! construction; the tests check it) and does not wait for each commit's flush. Afterwards
//! PostgreSQL gets a `VACUUM ANALYZE` of the three tables (what autovacuum would have done to a
//! database that grew over weeks, so it does not start in the middle of the measurement) and a
//! `CHECKPOINT` (so the prefill's dirty pages are not written out during it), and SQLite a WAL
//! checkpoint (the prefill's WAL would otherwise be folded back during the run).

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use hookd::domain::ids::EndpointId;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

use crate::body::EVENT_TYPE;
use crate::cli::Backend;
use crate::progress::Display;

/// How far back the history reaches: inside the default retention (30 days).
pub const WINDOW_MS: i64 = 25 * 86_400_000;
/// The newest historical event is this much older than the start of the prefill.
const NEWEST_AGE_MS: i64 = 60_000;
/// Events per transaction: large enough that per-statement overhead vanishes, small enough
/// that a batch holds SQLite's write lock for well under a second.
pub const BATCH: u64 = 50_000;
/// At most this many (the ids' counter has 35 bits; this is plenty for any benchmark).
pub const MAX_PREFILL: u64 = 100_000_000;

/// Crockford's base32 alphabet, lowercase: the digits of hookd's ids.
const ALPHABET: &str = "0123456789abcdefghjkmnpqrstvwxyz";

/// What to write, and where.
pub struct Prefill<'a> {
    pub backend: Backend,
    pub database_url: &'a str,
    /// The run's endpoints: the historical deliveries go to them round-robin.
    pub endpoint_ids: &'a [String],
    pub project_id: &'a str,
    pub events: u64,
    pub data_bytes: usize,
}

/// The fixed parts of every statement of one prefill.
#[derive(Clone, Debug)]
struct Shape {
    backend: Backend,
    total: u64,
    /// Creation time of event 1 (ms since the epoch); event `total` is `span_ms` later.
    start_ms: i64,
    span_ms: i64,
    /// The first 9 characters (45 bits) of every id's random part.
    random: String,
    endpoint_ids: Vec<String>,
    /// `x`s in each event's `data`.
    pad: usize,
}

/// Inserts the history; returns how long it took.
pub async fn run(display: &Display, prefill: &Prefill<'_>) -> anyhow::Result<Duration> {
    ensure!(
        !prefill.endpoint_ids.is_empty(),
        "prefill needs an endpoint"
    );
    for id in prefill.endpoint_ids {
        // They are written into the SQL as literals: only well-formed ids get there.
        EndpointId::parse(id).context("an endpoint id to prefill for")?;
    }
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("the clock is before 1970")?
            .as_millis(),
    )?;
    let shape = Shape {
        backend: prefill.backend,
        total: prefill.events,
        start_ms: now_ms - NEWEST_AGE_MS - WINDOW_MS,
        span_ms: WINDOW_MS,
        random: random_part(),
        endpoint_ids: prefill.endpoint_ids.to_vec(),
        pad: pad_for(prefill.events, prefill.data_bytes),
    };
    let started = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&done);
    let bar = display.track("prefill", prefill.events, move || counter.load(Relaxed));
    let result = fill(display, prefill, &shape, &done, started).await;
    bar.finish(done.load(Relaxed));
    result.map(|()| started.elapsed())
}

/// A connection of its own to the server's database.
enum Conn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl Conn {
    async fn open(backend: Backend, url: &str) -> anyhow::Result<Self> {
        Ok(match backend {
            Backend::Postgres => {
                let mut conn = PgConnection::connect(url)
                    .await
                    .context("connecting to the server's database to prefill it")?;
                // Losing the prefill in a crash costs nothing; waiting for each commit's flush
                // would.
                sqlx::raw_sql("SET synchronous_commit = off")
                    .execute(&mut conn)
                    .await?;
                // Skips the foreign-key checks (triggers) for this session only: the rows are
                // consistent by construction (the tests check it) and the checks were 40 % of
                // the prefill's time. Needs a superuser; without one the checks just run.
                let _ = sqlx::raw_sql("SET session_replication_role = replica")
                    .execute(&mut conn)
                    .await;
                Conn::Pg(conn)
            }
            Backend::Sqlite => Conn::Sqlite(
                SqliteConnectOptions::from_str(url)
                    .context("the server's SQLite database URL")?
                    .busy_timeout(Duration::from_secs(30))
                    // As on PostgreSQL: consistent by construction, and checked by the tests.
                    .foreign_keys(false)
                    // The server's own connections keep FULL; the prefill's commits need not
                    // wait for a flush each (the checkpoint at the end writes them out).
                    .synchronous(SqliteSynchronous::Normal)
                    .connect()
                    .await
                    .context("opening the server's SQLite database to prefill it")?,
            ),
        })
    }

    /// The tenant (workspace id, mode) of an endpoint, read from its row.
    async fn tenant_of(&mut self, endpoint: &str) -> anyhow::Result<(String, String)> {
        let found = match self {
            Conn::Pg(conn) => {
                sqlx::query_as("SELECT workspace_id, mode FROM endpoints WHERE id = $1")
                    .bind(endpoint)
                    .fetch_one(conn)
                    .await
            }
            Conn::Sqlite(conn) => {
                sqlx::query_as("SELECT workspace_id, mode FROM endpoints WHERE id = ?1")
                    .bind(endpoint)
                    .fetch_one(conn)
                    .await
            }
        };
        found.with_context(|| format!("reading endpoint {endpoint}'s workspace"))
    }

    /// Runs the statements in one transaction, each with the first `binds` of `params`.
    async fn batch(&mut self, statements: &[Statement], params: &[String]) -> anyhow::Result<()> {
        match self {
            Conn::Pg(conn) => {
                let mut tx = conn.begin().await?;
                for statement in statements {
                    // Each batch's SQL is new (its range is written in), so none is kept prepared.
                    let mut query = sqlx::query(&statement.sql).persistent(false);
                    for value in &params[..statement.binds] {
                        query = query.bind(value);
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            Conn::Sqlite(conn) => {
                let mut tx = conn.begin().await?;
                for statement in statements {
                    // Each batch's SQL is new (its range is written in), so none is kept prepared.
                    let mut query = sqlx::query(&statement.sql).persistent(false);
                    for value in &params[..statement.binds] {
                        query = query.bind(value);
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Leaves the database as a long-lived one would be (see the module doc).
    async fn settle(&mut self, display: &Display) -> anyhow::Result<()> {
        match self {
            Conn::Pg(conn) => {
                display.note("prefill: VACUUM ANALYZE events, deliveries, attempts");
                sqlx::raw_sql("VACUUM ANALYZE events, deliveries, attempts")
                    .execute(&mut *conn)
                    .await
                    .context("vacuuming the prefilled tables")?;
                // The prefill leaves gigabytes of dirty pages and WAL: without a checkpoint now,
                // the next one writes them out during the measurement (seen: a steady p99 of
                // 30 ms instead of 12). Needs superuser or `pg_checkpoint`; without either
                // the run goes on and says so.
                display.note("prefill: CHECKPOINT");
                if let Err(e) = sqlx::raw_sql("CHECKPOINT").execute(&mut *conn).await {
                    display.note(&format!(
                        "prefill: CHECKPOINT refused ({e}); the next checkpoint may fall in the measurement"
                    ));
                }
            }
            Conn::Sqlite(conn) => {
                sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(conn)
                    .await
                    .context("checkpointing the prefill's WAL")?;
            }
        }
        Ok(())
    }

    async fn close(self) {
        let _ = match self {
            Conn::Pg(conn) => conn.close().await,
            Conn::Sqlite(conn) => conn.close().await,
        };
    }
}

/// Runs the batches in order, one transaction each, counting progress in `done` and noting
/// every tenth of the way on stderr (the bar is hidden when stderr is not a terminal).
async fn fill(
    display: &Display,
    prefill: &Prefill<'_>,
    shape: &Shape,
    done: &AtomicU64,
    started: Instant,
) -> anyhow::Result<()> {
    let mut conn = Conn::open(shape.backend, prefill.database_url).await?;
    let (workspace, mode) = conn.tenant_of(&shape.endpoint_ids[0]).await?;
    let params = [
        workspace,
        mode,
        prefill.project_id.to_string(),
        "x".repeat(shape.pad),
    ];
    let mut lo = 1;
    let mut next_note = shape.total.div_ceil(10);
    while lo <= shape.total {
        let hi = (lo + BATCH - 1).min(shape.total);
        conn.batch(&statements(shape, lo, hi), &params)
            .await
            .with_context(|| format!("prefilling events {lo}..={hi}"))?;
        done.store(hi, Relaxed);
        if hi >= next_note || hi == shape.total {
            display.note(&format!(
                "prefill: {hi} of {} events in {:.1}s",
                shape.total,
                started.elapsed().as_secs_f64()
            ));
            next_note = hi + shape.total.div_ceil(10);
        }
        lo = hi + 1;
    }
    conn.settle(display).await?;
    conn.close().await;
    Ok(())
}

/// 45 random bits as 9 base32 digits.
fn random_part() -> String {
    let bits: u64 = rand::random::<u64>() >> 19;
    (0..9)
        .map(|i| {
            let digit = (bits >> (40 - 5 * i)) & 31;
            ALPHABET.as_bytes()[digit as usize] as char
        })
        .collect()
}

/// The `x`s that make `{"history":N,"pad":"…"}` `data_bytes` long for the longest N.
fn pad_for(total: u64, data_bytes: usize) -> usize {
    let fixed = data_json(total, "").len();
    data_bytes.saturating_sub(fixed)
}

/// Event `n`'s `data` (the SQL below builds the same string).
fn data_json(n: u64, pad: &str) -> String {
    format!("{{\"history\":{n},\"pad\":\"{pad}\"}}")
}

/// SQL for the 26-character lowercase ULID with time part `ms` and random part `random` (9
/// digits) followed by `n` in 7 digits: `ms` and `n` are integer SQL expressions.
fn ulid_sql(ms: &str, n: &str, random: &str) -> String {
    let digit = |value: &str, shift: u32| {
        format!("substr('{ALPHABET}', CAST((({value} >> {shift}) & 31) + 1 AS INTEGER), 1)")
    };
    let mut parts: Vec<String> = (0..10).map(|i| digit(ms, 45 - 5 * i)).collect();
    parts.push(format!("'{random}'"));
    parts.extend((0..7).map(|i| digit(n, 30 - 5 * i)));
    parts.join(" || ")
}

/// The ULID [`ulid_sql`] makes, computed here (for the tests).
#[cfg(test)]
fn ulid_of(ms: i64, n: u64, random: &str) -> String {
    let digit = |value: u64, shift: u32| ALPHABET.as_bytes()[((value >> shift) & 31) as usize];
    let mut out: Vec<u8> = (0..10).map(|i| digit(ms as u64, 45 - 5 * i)).collect();
    out.extend_from_slice(random.as_bytes());
    out.extend((0..7).map(|i| digit(n, 30 - 5 * i)));
    String::from_utf8(out).expect("base32 digits are ASCII")
}

/// One statement of a batch, and how many of the parameters (workspace id, mode, project id,
/// pad string, in that order) it takes.
struct Statement {
    sql: String,
    binds: usize,
}

/// The statements of the batch of events `lo..=hi`, in order. Each event's id (and the time
/// and duration derived from `n`) is computed once and used for all three rows: on PostgreSQL
/// in one statement whose data-modifying CTEs write the three tables, on SQLite (which has no
/// such CTEs) through a temporary table the three inserts read.
fn statements(shape: &Shape, lo: u64, hi: u64) -> Vec<Statement> {
    let p = |i: u32| match shape.backend {
        Backend::Postgres => format!("${i}"),
        Backend::Sqlite => format!("?{i}"),
    };
    let (ws, mode, project, pad) = (p(1), p(2), p(3), p(4));
    // Event n's time: n = 1 at the start of the window, n = total at its end.
    let last = shape.total.saturating_sub(1).max(1);
    let (start, span) = (shape.start_ms, shape.span_ms);
    let ulid = ulid_sql("ms", "n", &shape.random);
    let count = shape.endpoint_ids.len();
    let endpoint = if count == 1 {
        format!("'{}'", shape.endpoint_ids[0])
    } else {
        let arms: String = shape
            .endpoint_ids
            .iter()
            .enumerate()
            .map(|(i, id)| format!(" WHEN {i} THEN '{id}'"))
            .collect();
        format!("CASE n % {count}{arms} END")
    };
    let events = format!(
        "INSERT INTO events (id, workspace_id, mode, type, project_id, data, created_at, \
         delivery_count) \
         SELECT 'evt_' || u, {ws}, {mode}, '{EVENT_TYPE}', {project}, \
         '{{\"history\":' || n || ',\"pad\":\"' || {pad} || '\"}}', ms, 1 FROM v"
    );
    let deliveries = format!(
        "INSERT INTO deliveries (id, workspace_id, mode, event_id, endpoint_id, status, \
         attempt_count, next_attempt_at, last_status_code, created_at, updated_at) \
         SELECT 'dlv_' || u, {ws}, {mode}, 'evt_' || u, {endpoint}, 'succeeded', 1, NULL, 200, \
         ms, ms + dur FROM v"
    );
    let attempts = "INSERT INTO attempts (id, delivery_id, started_at, duration_ms, status_code, \
         error, response_body) \
         SELECT 'att_' || u, 'dlv_' || u, ms, dur, 200, NULL, '' FROM v";
    match shape.backend {
        Backend::Postgres => vec![Statement {
            binds: 4,
            sql: format!(
                "WITH v (n, ms, u, dur) AS MATERIALIZED ( \
                   SELECT n, ms, {ulid}, 2 + n % 17 FROM ( \
                     SELECT n, {start} + (n - 1) * {span} / {last} AS ms \
                     FROM generate_series({lo}::bigint, {hi}::bigint) AS g (n)) t), \
                 e AS ({events}), \
                 d AS ({deliveries}) \
                 {attempts}"
            ),
        }],
        Backend::Sqlite => vec![
            Statement {
                binds: 0,
                sql: format!(
                    "CREATE TEMP TABLE v AS \
                     WITH RECURSIVE s (n) AS (SELECT {lo} UNION ALL SELECT n + 1 FROM s WHERE n < {hi}), \
                       t (n, ms) AS (SELECT n, {start} + (n - 1) * {span} / {last} FROM s) \
                     SELECT n, ms, {ulid} AS u, 2 + n % 17 AS dur FROM t"
                ),
            },
            Statement { binds: 4, sql: events },
            Statement { binds: 2, sql: deliveries },
            Statement { binds: 0, sql: attempts.to_string() },
            Statement { binds: 0, sql: "DROP TABLE temp.v".to_string() },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookd::domain::ids::EventId;
    use hookd::domain::time::Timestamp;
    use sqlx::Row;

    #[test]
    fn ids_are_hookd_ids_of_their_creation_time() {
        let random = random_part();
        assert_eq!(random.len(), 9);
        for (ms, n) in [
            (0, 1),
            (1_764_900_000_123, 5_000_000),
            ((1 << 48) - 1, (1 << 35) - 1),
        ] {
            let id = format!("evt_{}", ulid_of(ms, n, &random));
            let parsed = EventId::parse(&id).expect("a well-formed event id");
            assert_eq!(parsed.as_str(), id);
            // Sorts with the ids hookd mints in the same millisecond.
            assert!(EventId::floor_at(Timestamp::from_millis(ms)).as_str() <= id.as_str());
            if ms < (1 << 48) - 1 {
                assert!(id.as_str() < EventId::floor_at(Timestamp::from_millis(ms + 1)).as_str());
            }
        }
        // Later events sort later; distinct events of one millisecond stay distinct.
        assert!(ulid_of(10, 1, &random) < ulid_of(11, 0, &random));
        assert!(ulid_of(10, 1, &random) < ulid_of(10, 2, &random));
    }

    #[tokio::test]
    async fn the_sql_encodes_ids_as_the_rust_does() {
        let random = random_part();
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        for (ms, n) in [
            (0_i64, 1_i64),
            (1_764_900_000_123, 4_999_999),
            (1 << 47, 31),
        ] {
            let sql = format!("SELECT {}", ulid_sql("?1", "?2", &random));
            let got: String = sqlx::query_scalar(&sql)
                .bind(ms)
                .bind(n)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(got, ulid_of(ms, n as u64, &random), "ms {ms}, n {n}");
        }
    }

    #[test]
    fn data_is_padded_to_the_requested_size() {
        let pad = pad_for(5_000_000, 256);
        assert_eq!(data_json(5_000_000, &"x".repeat(pad)).len(), 256);
        assert_eq!(pad_for(5_000_000, 3), 0);
    }

    #[test]
    fn endpoints_are_taken_round_robin_and_batches_cover_the_range() {
        let shape = Shape {
            backend: Backend::Postgres,
            total: 10,
            start_ms: 0,
            span_ms: 9,
            random: "000000000".into(),
            endpoint_ids: vec!["whe_a".into(), "whe_b".into()],
            pad: 0,
        };
        let pg = statements(&shape, 3, 7);
        assert_eq!(pg.len(), 1);
        assert!(pg[0].sql.contains("generate_series(3::bigint, 7::bigint)"));
        assert!(pg[0].sql.contains("$4") && pg[0].binds == 4);
        assert!(pg[0]
            .sql
            .contains("CASE n % 2 WHEN 0 THEN 'whe_a' WHEN 1 THEN 'whe_b' END"));
        let sqlite = statements(
            &Shape {
                backend: Backend::Sqlite,
                ..shape
            },
            1,
            5,
        );
        assert!(sqlite[0]
            .sql
            .contains("SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 5"));
        // Each statement takes exactly the parameters it names.
        for statement in &sqlite {
            for i in 1..=4 {
                let named = statement.sql.contains(&format!("?{i}"));
                assert_eq!(named, i <= statement.binds, "?{i} in {}", statement.sql);
            }
            assert!(!statement.sql.contains('$'));
        }
    }

    /// A workspace and an endpoint, as hookd would have made them (the seal is not read here).
    async fn tenant_rows(conn: &mut Conn) -> String {
        let endpoint = EndpointId::generate().as_str().to_string();
        let (workspace, now) = ("ws_01jc8z6f3v2m9q4w7x5y8z0a1b", 1_i64);
        let (insert_ws, insert_ep) = (
            "INSERT INTO workspaces (id, name, created_at) VALUES ($1, 'bench', $2)",
            "INSERT INTO endpoints (id, workspace_id, mode, name, url, events, project_id, \
             is_active, signing_keys, secret_last4, created_at, updated_at) \
             VALUES ($1, $2, 'live', 'e', 'http://127.0.0.1:9/', '[]', 'p', TRUE, $3, 'abcd', $4, $4)",
        );
        match conn {
            Conn::Pg(c) => {
                sqlx::query(insert_ws)
                    .bind(workspace)
                    .bind(now)
                    .execute(&mut *c)
                    .await
                    .unwrap();
                sqlx::query(&insert_ep.replace("'[]'", "'[]'::jsonb"))
                    .bind(&endpoint)
                    .bind(workspace)
                    .bind(vec![0_u8])
                    .bind(now)
                    .execute(&mut *c)
                    .await
                    .unwrap();
            }
            Conn::Sqlite(c) => {
                let (insert_ws, insert_ep) =
                    (insert_ws.replace('$', "?"), insert_ep.replace('$', "?"));
                sqlx::query(&insert_ws)
                    .bind(workspace)
                    .bind(now)
                    .execute(&mut *c)
                    .await
                    .unwrap();
                sqlx::query(&insert_ep)
                    .bind(&endpoint)
                    .bind(workspace)
                    .bind(vec![0_u8])
                    .bind(now)
                    .execute(&mut *c)
                    .await
                    .unwrap();
            }
        }
        endpoint
    }

    /// Prefills 1,000 events into a database migrated by hookd itself, then checks what a
    /// reader of that database sees.
    async fn prefill_end_to_end(backend: Backend, url: String) {
        let url = url.as_str();
        let mut conn = Conn::open(backend, url).await.unwrap();
        let endpoint = tenant_rows(&mut conn).await;
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let took = run(
            &Display::new(),
            &Prefill {
                backend,
                database_url: url,
                endpoint_ids: std::slice::from_ref(&endpoint),
                project_id: "p",
                events: 1000,
                data_bytes: 300,
            },
        )
        .await
        .unwrap();
        assert!(took > Duration::ZERO);
        let sql =
            "SELECT e.id, e.created_at, e.data, e.project_id, d.id, d.status, d.endpoint_id, \
                   a.id, a.status_code \
                   FROM events e JOIN deliveries d ON d.event_id = e.id \
                   JOIN attempts a ON a.delivery_id = d.id ORDER BY e.id";
        let rows: Vec<Joined> = match &mut conn {
            Conn::Pg(c) => sqlx::query(sql)
                .fetch_all(&mut *c)
                .await
                .unwrap()
                .iter()
                .map(row_of)
                .collect(),
            Conn::Sqlite(c) => sqlx::query(sql)
                .fetch_all(&mut *c)
                .await
                .unwrap()
                .iter()
                .map(row_of)
                .collect(),
        };
        assert_eq!(rows.len(), 1000);
        // Nothing outside that join: every delivery and attempt belongs to a stored event.
        for table in ["events", "deliveries", "attempts"] {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let n: i64 = match &mut conn {
                Conn::Pg(c) => sqlx::query_scalar(&sql).fetch_one(&mut *c).await.unwrap(),
                Conn::Sqlite(c) => sqlx::query_scalar(&sql).fetch_one(&mut *c).await.unwrap(),
            };
            assert_eq!(n, 1000, "{table}");
        }
        let mut previous = 0;
        for (event, at, data, project, delivery, status, to, attempt, code) in &rows {
            EventId::parse(event).unwrap();
            assert_eq!(&delivery[4..], &event[4..]);
            assert_eq!(&attempt[4..], &event[4..]);
            assert!(*at >= previous, "ids sort by creation time");
            previous = *at;
            // --data-bytes for the largest `n`; shorter numbers leave it a few bytes short.
            assert!((297..=300).contains(&data.len()), "{data}");
            serde_json::from_str::<serde_json::Value>(data).unwrap();
            assert_eq!(
                (project.as_str(), status.as_str(), to, *code),
                ("p", "succeeded", &endpoint, 200)
            );
        }
        assert_eq!(rows[999].2.len(), 300);
        let (first, last) = (rows[0].1, rows[999].1);
        assert!(first >= started - NEWEST_AGE_MS - WINDOW_MS - 1000);
        assert!(last <= started - NEWEST_AGE_MS + 1000 && last - first > WINDOW_MS - 1000);
        conn.close().await;
    }

    trait AnyRow {
        fn text(&self, i: usize) -> String;
        fn int(&self, i: usize) -> i64;
    }
    impl AnyRow for sqlx::postgres::PgRow {
        fn text(&self, i: usize) -> String {
            self.get(i)
        }
        fn int(&self, i: usize) -> i64 {
            self.get(i)
        }
    }
    impl AnyRow for sqlx::sqlite::SqliteRow {
        fn text(&self, i: usize) -> String {
            self.get(i)
        }
        fn int(&self, i: usize) -> i64 {
            self.get(i)
        }
    }
    /// Event id, creation time, data, project; delivery id, status, endpoint; attempt id and
    /// status code.
    type Joined = (
        String,
        i64,
        String,
        String,
        String,
        String,
        String,
        String,
        i64,
    );

    fn row_of(r: &impl AnyRow) -> Joined {
        (
            r.text(0),
            r.int(1),
            r.text(2),
            r.text(3),
            r.text(4),
            r.text(5),
            r.text(6),
            r.text(7),
            r.int(8),
        )
    }

    #[tokio::test]
    async fn prefill_on_sqlite_writes_history_a_reader_sees() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookd.db");
        // hookd's own migrations make the schema.
        drop(
            hookd::store::sqlite::SqliteStore::open(&path, 2)
                .await
                .unwrap(),
        );
        prefill_end_to_end(Backend::Sqlite, format!("sqlite://{}", path.display())).await;
    }

    #[tokio::test]
    async fn prefill_on_postgres_writes_history_a_reader_sees() {
        let admin = std::env::var("HOOKD_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let db = crate::postgres::TempDatabase::create(&admin).await.unwrap();
        let store = hookd::store::postgres::PostgresStore::open(&db.url, 2).await;
        let outcome = match store {
            Ok(store) => {
                drop(store);
                // On a thread of its own, so a failed assertion still drops the database below.
                let url = db.url.clone();
                std::thread::spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime")
                        .block_on(prefill_end_to_end(Backend::Postgres, url))
                })
                .join()
            }
            Err(e) => panic!("migrating {}: {e:#}", db.url),
        };
        db.drop_database().await.unwrap();
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}
