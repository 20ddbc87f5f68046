-- The first version of the catalog: domains, principals, products and their tables, grants,
-- ingests, and a full-text index over products.
CREATE TABLE domains (
    name        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

CREATE TABLE principals (
    name       TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    is_admin   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE products (
    domain        TEXT NOT NULL REFERENCES domains(name),
    name          TEXT NOT NULL,
    contract_id   TEXT NOT NULL,
    version       TEXT NOT NULL,
    status        TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    contract_yaml TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (domain, name)
);

-- Table names are unique within a domain: the domain is the SQL schema.
CREATE TABLE product_tables (
    domain  TEXT NOT NULL,
    name    TEXT NOT NULL,
    product TEXT NOT NULL,
    PRIMARY KEY (domain, name),
    FOREIGN KEY (domain, product) REFERENCES products(domain, name)
);

CREATE TABLE grants (
    principal  TEXT NOT NULL REFERENCES principals(name),
    access     TEXT NOT NULL CHECK (access IN ('read', 'write')),
    domain     TEXT NOT NULL,
    product    TEXT NOT NULL,
    table_name TEXT NOT NULL DEFAULT '', -- '' means the whole product
    created_at TEXT NOT NULL,
    PRIMARY KEY (principal, access, domain, product, table_name)
);

CREATE TABLE ingests (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    domain            TEXT NOT NULL,
    product           TEXT NOT NULL,
    table_name        TEXT NOT NULL,
    table_version     INTEGER NOT NULL,
    rows_accepted     INTEGER NOT NULL,
    rows_quarantined  INTEGER NOT NULL,
    source            TEXT NOT NULL,
    input_sha256      TEXT NOT NULL,
    principal         TEXT NOT NULL,
    at                TEXT NOT NULL
);
CREATE INDEX ingests_by_table ON ingests(domain, table_name, id);

CREATE VIRTUAL TABLE product_search USING fts5(
    domain UNINDEXED,
    product UNINDEXED,
    name,
    description,
    columns,
    tags,
    tokenize = 'porter unicode61'
);
