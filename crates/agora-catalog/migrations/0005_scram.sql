-- SCRAM-SHA-256 verifiers of principals' tokens (as PostgreSQL keeps them), for Postgres logins
-- that do not send the token itself. Principals created before have none until their next
-- token rotation, and log in with the token as a cleartext password meanwhile.
ALTER TABLE principals ADD COLUMN scram_verifier TEXT;
