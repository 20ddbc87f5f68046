-- Every tag ever stored and every contract version ever applied: time travel reads a column
-- with the most protective label it has had.
CREATE TABLE tag_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    domain      TEXT NOT NULL,
    table_name  TEXT NOT NULL,
    column_name TEXT NOT NULL,
    source      TEXT NOT NULL,
    category    TEXT NOT NULL,
    sensitivity TEXT NOT NULL,
    confidence  REAL NOT NULL,
    evidence    TEXT NOT NULL DEFAULT '[]',
    reason      TEXT NOT NULL DEFAULT '',
    set_by      TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
INSERT INTO tag_history (domain, table_name, column_name, source, category, sensitivity,
                         confidence, evidence, reason, set_by, updated_at)
    SELECT domain, table_name, column_name, source, category, sensitivity, confidence, evidence,
           reason, set_by, updated_at FROM column_tags;

CREATE TABLE contract_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    domain        TEXT NOT NULL,
    product       TEXT NOT NULL,
    version       TEXT NOT NULL,
    contract_yaml TEXT NOT NULL,
    applied_at    TEXT NOT NULL
);
INSERT INTO contract_history (domain, product, version, contract_yaml, applied_at)
    SELECT domain, name, version, contract_yaml, updated_at FROM products;

-- The exact text of audited queries, which their public ledger entries hold only as a keyed
-- hash (literals are for those allowed to see them).
CREATE TABLE query_texts (
    sql_hmac   TEXT PRIMARY KEY,
    sql        TEXT NOT NULL,
    principal  TEXT NOT NULL,
    first_seen TEXT NOT NULL
);

-- What the ledger must record about a change, written in the change's own transaction and
-- removed once the entries are in the log; whatever a crash leaves here is finished on the next
-- open.
CREATE TABLE pending_entries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    intent        TEXT NOT NULL UNIQUE,
    payload       TEXT NOT NULL,
    log_size      INTEGER NOT NULL,
    pid           INTEGER NOT NULL,
    process_start INTEGER NOT NULL,
    created_at    TEXT NOT NULL
);

-- An ingest's own id (its Delta commit carries it) and a client's idempotency key.
ALTER TABLE ingests ADD COLUMN ingest_id TEXT;
ALTER TABLE ingests ADD COLUMN idempotency_key TEXT;
UPDATE ingests SET ingest_id = 'before-0003-' || id;
CREATE UNIQUE INDEX ingests_by_id ON ingests (ingest_id);
CREATE INDEX ingests_by_input ON ingests (domain, table_name, input_sha256);
