-- Custom webhook integrations and their call log (the same shape as SQLite's
-- 0002_integrations.sql). Timestamps are BIGINT milliseconds since the Unix epoch.
--
-- Credentials are sealed (AES-256-GCM under the master key) in two independent blobs, one for the
-- custom headers and one for the auth, so a PATCH that replaces one never rewrites the other.
-- Beside each blob sits its public view: header names and auth type with `…Last4` hints.

CREATE TABLE integrations (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    mode            TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    name            TEXT NOT NULL,
    name_lower      TEXT NOT NULL,            -- Unicode-lowercased in Rust, like on SQLite
    url             TEXT NOT NULL,
    method          TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    timeout_ms      BIGINT NOT NULL,
    headers_sealed  BYTEA NOT NULL,           -- sealed JSON object {name: value}
    headers_public  TEXT NOT NULL,            -- JSON object {name: {"valueLast4": ...}}
    auth_sealed     BYTEA NOT NULL,           -- sealed JSON {"type": ..., credentials}
    auth_public     TEXT NOT NULL,            -- JSON {"type": ..., "...Last4": ...}
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    deleted_at      BIGINT                    -- set by DELETE (disconnect); the row stays for 410
);
-- Unique per workspace and mode, ignoring case, among connected integrations only.
CREATE UNIQUE INDEX integrations_name ON integrations (workspace_id, mode, name_lower)
    WHERE deleted_at IS NULL;
CREATE INDEX integrations_by_tenant ON integrations (workspace_id, mode, id);

CREATE TABLE integration_calls (
    id              TEXT PRIMARY KEY,
    integration_id  TEXT NOT NULL REFERENCES integrations (id),
    workspace_id    TEXT NOT NULL,
    mode            TEXT NOT NULL,
    api_key_id      TEXT NOT NULL,            -- who called
    method          TEXT NOT NULL,
    url             TEXT NOT NULL,
    status          BIGINT,                   -- NULL when no response came back
    duration_ms     BIGINT NOT NULL,
    error_code      TEXT,                     -- upstream_error | upstream_timeout | url_not_allowed
    error           TEXT,
    request_body    TEXT NOT NULL,            -- first 4 KiB of the body sent
    response_body   TEXT NOT NULL,            -- first 4 KiB of the body received
    truncated       BOOLEAN NOT NULL,         -- the response was cut at 1 MiB
    created_at      BIGINT NOT NULL
);
CREATE INDEX integration_calls_by_integration ON integration_calls (workspace_id, mode, integration_id, id);
