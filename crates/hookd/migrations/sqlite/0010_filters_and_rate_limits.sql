-- Payload filters and per-endpoint rate limits (docs/filters-and-rate-limits.md): an endpoint's
-- checked CEL filter source, and its rate in attempts per second. SQLite runs one node, so the
-- pacing state of a limited endpoint lives in that node's memory.
ALTER TABLE endpoints ADD COLUMN filter TEXT;
ALTER TABLE endpoints ADD COLUMN rate_limit_per_sec INTEGER;
