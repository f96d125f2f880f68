-- Ordered delivery per key (docs/ordering.md).
--
-- An event may carry an ordering key; each of its deliveries copies it with its place in the
-- key's order on its endpoint (`ordering_seq`, 1, 2, … in publish order). Among the pending
-- deliveries of one key on one endpoint only the first in that order is scheduled; the others
-- wait with `next_attempt_at` NULL until it finishes.
--
-- Both indexes are partial: deliveries without a key (the common case) are in neither, so the
-- unordered publish path writes no extra index entry.
ALTER TABLE events ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN ordering_seq INTEGER;
-- The last place taken in a key's order, at publish.
CREATE INDEX deliveries_by_key ON deliveries (endpoint_id, ordering_key, ordering_seq)
    WHERE ordering_key IS NOT NULL;
-- A key's pending deliveries in order: its head, and what waits behind it.
CREATE INDEX deliveries_pending_by_key ON deliveries (endpoint_id, ordering_key, ordering_seq)
    WHERE ordering_key IS NOT NULL AND status = 'pending';
