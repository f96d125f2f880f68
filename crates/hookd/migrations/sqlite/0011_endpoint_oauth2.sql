-- Optional OAuth2 client-credentials auth of webhook endpoints (docs/oauth2.md).
-- auth_sealed: the AES-256-GCM sealed configuration (client secret included); empty = no auth.
-- auth_public: its write-only JSON view (`clientSecretLast4`), NULL = no auth.
ALTER TABLE endpoints ADD COLUMN auth_sealed BLOB NOT NULL DEFAULT x'';
ALTER TABLE endpoints ADD COLUMN auth_public TEXT;
