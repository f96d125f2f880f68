-- What the dashboard and its API need (issue 24).
--
-- Endpoints get a description and metadata (a JSON object of string → string, bounded by the
-- domain, kept as text so both backends share one row mapping), for the people and systems that
-- manage them; neither affects delivery.
ALTER TABLE endpoints ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';

-- A test send (`POST /v1/webhook-endpoints/{id}/test`) is kept: its sample event, left out of the
-- event list (nobody published it), and its delivery, in the endpoint's log.
ALTER TABLE events ADD COLUMN is_test BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE deliveries ADD COLUMN is_test BOOLEAN NOT NULL DEFAULT FALSE;

-- `GET /v1/deliveries` lists a tenant's deliveries newest first (keyset on id).
CREATE INDEX deliveries_by_tenant ON deliveries (workspace_id, mode, id);

-- One-time sign-in links of the customer portal (`POST /v1/portal-sessions`). Only the SHA-256
-- of the token is kept; `used_at` is set once, by the redemption that wins.
CREATE TABLE portal_sessions (
    token_hash    TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    mode          TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    project_id    TEXT,
    read_only     BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);
CREATE INDEX portal_sessions_by_expiry ON portal_sessions (expires_at);
