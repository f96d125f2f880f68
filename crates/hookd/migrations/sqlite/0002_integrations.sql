-- Custom webhook integrations and their call log.
-- Timestamps are integer milliseconds since the Unix epoch.
--
-- Credentials are sealed (AES-256-GCM under the master key) in two independent blobs, one for the
-- custom headers and one for the auth, so a PATCH that replaces one never has to read, decrypt
-- and rewrite the other (no lost update between two concurrent PATCHes). Beside each blob sits
-- its public, write-only view: header names and auth type with `…Last4` hints, never a value.

CREATE TABLE integrations (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    mode            TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    name            TEXT NOT NULL,
    name_lower      TEXT NOT NULL,            -- Unicode-lowercased in Rust (SQLite's lower() is ASCII-only)
    url             TEXT NOT NULL,
    method          TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    timeout_ms      INTEGER NOT NULL,
    headers_sealed  BLOB NOT NULL,            -- sealed JSON object {name: value}
    headers_public  TEXT NOT NULL,            -- JSON object {name: {"valueLast4": ...}}
    auth_sealed     BLOB NOT NULL,            -- sealed JSON {"type": ..., credentials}
    auth_public     TEXT NOT NULL,            -- JSON {"type": ..., "...Last4": ...}
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    deleted_at      INTEGER                   -- set by DELETE (disconnect); the row stays for 410
);
-- Names are unique per workspace and mode, case-insensitively, among connected integrations only:
-- a disconnected integration's name may be reused.
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
    url             TEXT NOT NULL,            -- the final URL (integration URLs carry no userinfo)
    status          INTEGER,                  -- NULL when no response came back
    duration_ms     INTEGER NOT NULL,
    error_code      TEXT,                     -- upstream_error | upstream_timeout | url_not_allowed
    error           TEXT,
    request_body    TEXT NOT NULL,            -- first 4 KiB of the body sent
    response_body   TEXT NOT NULL,            -- first 4 KiB of the body received
    truncated       INTEGER NOT NULL,         -- the response was cut at 1 MiB
    created_at      INTEGER NOT NULL
);
CREATE INDEX integration_calls_by_integration ON integration_calls (workspace_id, mode, integration_id, id);
