-- Principals over their life: disabled without being forgotten, and tokens that expire.
ALTER TABLE principals ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE principals ADD COLUMN token_expires_at TEXT;
