-- A counter that moves with every change to an existing API key, in the same transaction.
--
-- Each server caches the keys it has authenticated (store/sqlite/key_cache.rs) and must refuse a
-- revoked key from the very next request, also when the revocation came from another process
-- (`hookd keys revoke`). The cache drops everything when it sees this generation change. The
-- triggers bump it inside the transaction that revokes (or deletes, or otherwise changes) a key,
-- so no such change can ever be committed without it, whichever code or tool made it. Inserting a
-- key needs no bump: unknown keys are never cached.

CREATE TABLE api_key_generation (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  INTEGER NOT NULL
);
INSERT INTO api_key_generation (id, generation) VALUES (1, 0);

CREATE TRIGGER api_keys_changed AFTER UPDATE ON api_keys
BEGIN
    UPDATE api_key_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys
BEGIN
    UPDATE api_key_generation SET generation = generation + 1 WHERE id = 1;
END;
