-- Integrations for agents (MCP): a description written for people and models, and the call
-- policy every caller is held to (see domain/integration/policy.rs).
ALTER TABLE integrations ADD COLUMN description TEXT;
-- JSON array of methods; NULL means "the configured method only" (and follows `method`).
ALTER TABLE integrations ADD COLUMN allowed_methods TEXT;
-- JSON array of path prefixes; empty: calls may not set a path.
ALTER TABLE integrations ADD COLUMN allowed_path_prefixes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE integrations ADD COLUMN allow_caller_headers INTEGER NOT NULL DEFAULT 0;
-- Through what each call was made: 'api' or 'mcp'.
ALTER TABLE integration_calls ADD COLUMN via TEXT NOT NULL DEFAULT 'api';
