-- Payload filters and per-endpoint rate limits (docs/filters-and-rate-limits.md): an endpoint's
-- checked CEL filter source, and its rate in attempts per second.
ALTER TABLE endpoints ADD COLUMN filter TEXT;
ALTER TABLE endpoints ADD COLUMN rate_limit_per_sec BIGINT;
-- The next free attempt slot of each rate-limited endpoint, shared by every node and advanced
-- with a compare-and-swap whenever a node takes a slot. Pacing state only: unlogged (no WAL per
-- attempt); after a crash the table is empty and pacing simply starts again.
CREATE UNLOGGED TABLE endpoint_rate_slots (
    endpoint_id   TEXT PRIMARY KEY,
    next_free_us  BIGINT NOT NULL
);
