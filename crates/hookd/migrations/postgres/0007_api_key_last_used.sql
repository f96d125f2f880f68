-- When a key last authenticated a request, shown in the dashboard's Settings → API keys. Written
-- at most once a minute per key and process (api/auth.rs `KeyUsage`): accurate to that minute.
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
