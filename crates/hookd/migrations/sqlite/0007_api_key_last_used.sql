-- When a key last authenticated a request, shown in the dashboard's Settings → API keys. Written
-- at most once a minute per key and process (api/auth.rs `KeyUsage`): accurate to that minute.
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;

-- Recording a use must not empty every server's key cache (0004): the generation moves only on
-- changes that matter to authentication, no longer on every update of a key's row.
DROP TRIGGER api_keys_changed;
CREATE TRIGGER api_keys_changed AFTER UPDATE OF id, workspace_id, mode, key_hash, revoked_at ON api_keys
BEGIN
    UPDATE api_key_generation SET generation = generation + 1 WHERE id = 1;
END;
