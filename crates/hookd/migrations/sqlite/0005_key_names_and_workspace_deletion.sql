-- `hookd keys create --name`: a label people give a key, shown by `hookd keys list`.
ALTER TABLE api_keys ADD COLUMN name TEXT;
-- `hookd workspaces delete`: a workspace is soft-deleted (its keys revoked, its endpoints deleted);
-- the row stays so ids in the remaining data still resolve and the name is not reused.
ALTER TABLE workspaces ADD COLUMN deleted_at INTEGER;
