-- Tenancy, endpoints, events, deliveries, attempts and idempotency keys.
-- Timestamps are integer milliseconds since the Unix epoch.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    mode          TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    key_hash      TEXT NOT NULL UNIQUE,
    prefix        TEXT NOT NULL,
    last4         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);

CREATE TABLE endpoints (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id),
    mode             TEXT NOT NULL,
    name             TEXT NOT NULL,
    url              TEXT NOT NULL,
    events           TEXT NOT NULL,           -- JSON array of event type names
    project_id       TEXT,
    is_active        INTEGER NOT NULL,
    disabled_reason  TEXT,
    signing_keys     BLOB NOT NULL,           -- AES-256-GCM sealed JSON list of secrets
    secret_last4     TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    deleted_at       INTEGER,
    failing_since    INTEGER                  -- first failure of the current failing streak
);
CREATE INDEX endpoints_by_tenant ON endpoints (workspace_id, mode, id) WHERE deleted_at IS NULL;

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    mode            TEXT NOT NULL,
    type            TEXT NOT NULL,
    project_id      TEXT,
    data            TEXT NOT NULL,            -- the JSON object as published
    created_at      INTEGER NOT NULL,
    delivery_count  INTEGER NOT NULL
);
CREATE INDEX events_by_tenant ON events (workspace_id, mode, id);

CREATE TABLE deliveries (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL,
    mode              TEXT NOT NULL,
    event_id          TEXT NOT NULL REFERENCES events (id),
    endpoint_id       TEXT NOT NULL REFERENCES endpoints (id),
    status            TEXT NOT NULL,          -- pending | succeeded | failed | cancelled
    attempt_count     INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER,
    last_status_code  INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    lease_owner       TEXT,                   -- node that holds the delivery in memory
    lease_until       INTEGER
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_event ON deliveries (event_id, id);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, id);

CREATE TABLE attempts (
    id             TEXT PRIMARY KEY,
    delivery_id    TEXT NOT NULL REFERENCES deliveries (id),
    started_at     INTEGER NOT NULL,
    duration_ms    INTEGER NOT NULL,
    status_code    INTEGER,
    error          TEXT,
    response_body  TEXT NOT NULL
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, id);

CREATE TABLE idempotency_keys (
    workspace_id   TEXT NOT NULL,
    mode           TEXT NOT NULL,
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    status_code    INTEGER,                   -- NULL while the first request is in flight
    response_body  TEXT,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, mode, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
