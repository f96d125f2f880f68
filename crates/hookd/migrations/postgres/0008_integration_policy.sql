-- Integrations for agents (MCP): the same columns as SQLite's 0008_integration_policy.sql.
ALTER TABLE integrations ADD COLUMN description TEXT;
-- JSON array of methods; NULL means "the configured method only" (and follows `method`).
ALTER TABLE integrations ADD COLUMN allowed_methods TEXT;
-- JSON array of path prefixes; empty: calls may not set a path.
ALTER TABLE integrations ADD COLUMN allowed_path_prefixes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE integrations ADD COLUMN allow_caller_headers BOOLEAN NOT NULL DEFAULT FALSE;
-- Through what each call was made: 'api' or 'mcp'.
ALTER TABLE integration_calls ADD COLUMN via TEXT NOT NULL DEFAULT 'api';
