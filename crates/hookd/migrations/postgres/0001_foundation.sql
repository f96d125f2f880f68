-- Tenancy, endpoints, events, deliveries, attempts and idempotency keys.
-- Timestamps are BIGINT milliseconds since the Unix epoch (the same as on SQLite).

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    mode          TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    key_hash      TEXT NOT NULL UNIQUE,
    prefix        TEXT NOT NULL,
    last4         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);

CREATE TABLE endpoints (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id),
    mode             TEXT NOT NULL,
    name             TEXT NOT NULL,
    url              TEXT NOT NULL,
    events           JSONB NOT NULL,          -- array of event type names
    project_id       TEXT,
    is_active        BOOLEAN NOT NULL,
    disabled_reason  TEXT,
    signing_keys     BYTEA NOT NULL,          -- AES-256-GCM sealed JSON key ring
    secret_last4     TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    deleted_at       BIGINT,
    failing_since    BIGINT
);
CREATE INDEX endpoints_by_tenant ON endpoints (workspace_id, mode, id) WHERE deleted_at IS NULL;

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    mode            TEXT NOT NULL,
    type            TEXT NOT NULL,
    project_id      TEXT,
    data            TEXT NOT NULL,            -- the JSON object exactly as published
    created_at      BIGINT NOT NULL,
    delivery_count  BIGINT NOT NULL
);
CREATE INDEX events_by_tenant ON events (workspace_id, mode, id);

CREATE TABLE deliveries (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL,
    mode              TEXT NOT NULL,
    event_id          TEXT NOT NULL REFERENCES events (id),
    endpoint_id       TEXT NOT NULL REFERENCES endpoints (id),
    status            TEXT NOT NULL,
    attempt_count     BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT,
    last_status_code  BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    lease_owner       TEXT,
    lease_until       BIGINT
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_event ON deliveries (event_id, id);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, id);

CREATE TABLE attempts (
    id             TEXT PRIMARY KEY,
    delivery_id    TEXT NOT NULL REFERENCES deliveries (id),
    started_at     BIGINT NOT NULL,
    duration_ms    BIGINT NOT NULL,
    status_code    BIGINT,
    error          TEXT,
    response_body  TEXT NOT NULL
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, id);

CREATE TABLE idempotency_keys (
    workspace_id   TEXT NOT NULL,
    mode           TEXT NOT NULL,
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    status_code    BIGINT,
    response_body  TEXT,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, mode, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
