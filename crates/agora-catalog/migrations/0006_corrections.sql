-- Suggested corrections applied to product tables, one row per suggestion per application, so
-- that `agora quality revert` finds what an application changed and which version it made.
-- `record` is the mesh's description of the application (the fix, the version made, who
-- applied it; after a revert, who reverted it and the version that made).
CREATE TABLE corrections (
    application_id TEXT NOT NULL,
    suggestion_id TEXT NOT NULL,
    domain TEXT NOT NULL,
    table_name TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    reverted_at TEXT,
    record TEXT NOT NULL,
    PRIMARY KEY (application_id, suggestion_id)
);
CREATE INDEX corrections_by_suggestion ON corrections (suggestion_id);
CREATE INDEX corrections_by_table ON corrections (domain, table_name);
