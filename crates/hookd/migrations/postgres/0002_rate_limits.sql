-- Per-API-key rate limiting shared by every node (GCRA: one "theoretical arrival time" per key).
CREATE TABLE rate_limits (
    key_id  TEXT PRIMARY KEY,
    tat     BIGINT NOT NULL       -- milliseconds since the Unix epoch
);
