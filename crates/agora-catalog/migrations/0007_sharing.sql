-- Delta Sharing. A recipient is a principal of kind `recipient`: its token reads its share
-- through the sharing protocol and opens nothing else. A share holds tables of any domain, each
-- added by its domain's owner or the administrator; a revoked share keeps its rows (the ledger
-- names them) and opens nothing. A shared table may be restricted to the rows a condition on its
-- columns selects (`partition_filter`), on top of the recipient's own row filters.
ALTER TABLE principals ADD COLUMN kind TEXT NOT NULL DEFAULT 'user';
CREATE TABLE shares (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    recipient TEXT NOT NULL UNIQUE REFERENCES principals(name) ON DELETE CASCADE,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE share_tables (
    share TEXT NOT NULL REFERENCES shares(name) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    table_name TEXT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    as_of_version INTEGER,
    history INTEGER NOT NULL,
    partition_filter TEXT,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (share, domain, table_name)
);
