-- Events, deliveries and attempts stored in their primary key's order (WITHOUT ROWID).
--
-- Every published event writes these three tables. As rowid tables each of them kept its rows in
-- one B-tree and its TEXT primary key in another, plus secondary indexes: eleven B-trees took an
-- insert per event, and each one's newest page was written to the WAL on every commit. Clustered
-- on their keys they need six:
--   events      keyed (workspace_id, mode, id): the tenant's listing order, so the former
--               events_by_tenant index is the table itself; every read names the tenant.
--   deliveries  keyed by id, with its three indexes; its event reference now names the tenant
--               too, so a delivery cannot point at another tenant's event.
--   attempts    keyed (delivery_id, id): they are only ever read per delivery, in id order,
--               so the former attempts_by_delivery index is the table itself.
--
-- The tables are rebuilt in one transaction: new tables are filled first, the old ones dropped
-- children first (so no foreign key is ever left dangling), then the new ones take the old names
-- (renaming rewrites the foreign keys that point at them).

CREATE TABLE events_new (
    id              TEXT NOT NULL,
    workspace_id    TEXT NOT NULL,
    mode            TEXT NOT NULL,
    type            TEXT NOT NULL,
    project_id      TEXT,
    data            TEXT NOT NULL,            -- the JSON object as published
    created_at      INTEGER NOT NULL,
    delivery_count  INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, mode, id)
) WITHOUT ROWID;
INSERT INTO events_new (id, workspace_id, mode, type, project_id, data, created_at, delivery_count)
    SELECT id, workspace_id, mode, type, project_id, data, created_at, delivery_count FROM events;

CREATE TABLE deliveries_new (
    id                TEXT NOT NULL PRIMARY KEY,
    workspace_id      TEXT NOT NULL,
    mode              TEXT NOT NULL,
    event_id          TEXT NOT NULL,
    endpoint_id       TEXT NOT NULL REFERENCES endpoints (id),
    status            TEXT NOT NULL,          -- pending | succeeded | failed | cancelled
    attempt_count     INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER,
    last_status_code  INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    lease_owner       TEXT,                   -- node that holds the delivery in memory
    lease_until       INTEGER,
    FOREIGN KEY (workspace_id, mode, event_id) REFERENCES events_new (workspace_id, mode, id)
) WITHOUT ROWID;
INSERT INTO deliveries_new (id, workspace_id, mode, event_id, endpoint_id, status, attempt_count,
        next_attempt_at, last_status_code, created_at, updated_at, lease_owner, lease_until)
    SELECT id, workspace_id, mode, event_id, endpoint_id, status, attempt_count,
        next_attempt_at, last_status_code, created_at, updated_at, lease_owner, lease_until
    FROM deliveries;

CREATE TABLE attempts_new (
    id             TEXT NOT NULL,
    delivery_id    TEXT NOT NULL REFERENCES deliveries_new (id),
    started_at     INTEGER NOT NULL,
    duration_ms    INTEGER NOT NULL,
    status_code    INTEGER,
    error          TEXT,
    response_body  TEXT NOT NULL,
    PRIMARY KEY (delivery_id, id)
) WITHOUT ROWID;
INSERT INTO attempts_new (id, delivery_id, started_at, duration_ms, status_code, error, response_body)
    SELECT id, delivery_id, started_at, duration_ms, status_code, error, response_body FROM attempts;

DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE events;

ALTER TABLE events_new RENAME TO events;
ALTER TABLE deliveries_new RENAME TO deliveries;
ALTER TABLE attempts_new RENAME TO attempts;

CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_event ON deliveries (event_id, id);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, id);
