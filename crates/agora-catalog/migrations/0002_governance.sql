-- Governance: principals' clearance and attributes, column classification tags, policies.
ALTER TABLE principals ADD COLUMN clearance TEXT NOT NULL DEFAULT 'internal';
-- A JSON object of attribute name to value, e.g. {"region":"EU"}.
ALTER TABLE principals ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';

-- One row per column and source: the classifier's latest decision ('auto') and an owner's
-- ('override'), which wins and which no automatic run touches.
CREATE TABLE column_tags (
    domain      TEXT NOT NULL,
    table_name  TEXT NOT NULL,
    column_name TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('auto', 'override')),
    category    TEXT NOT NULL,
    sensitivity TEXT NOT NULL,
    confidence  REAL NOT NULL,
    evidence    TEXT NOT NULL DEFAULT '[]', -- JSON: detectors that fired and on what share
    reason      TEXT NOT NULL DEFAULT '',
    set_by      TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (domain, table_name, column_name, source)
);

-- The applied policy documents: scope '' is the global policy, otherwise a domain's.
CREATE TABLE policies (
    scope      TEXT PRIMARY KEY,
    document   TEXT NOT NULL,
    applied_by TEXT NOT NULL,
    applied_at TEXT NOT NULL
);

-- Search also matches the categories found in a product's columns ("email", "iban", …).
CREATE VIRTUAL TABLE product_search_v2 USING fts5(
    domain UNINDEXED,
    product UNINDEXED,
    name,
    description,
    columns,
    tags,
    classifications,
    tokenize = 'porter unicode61'
);
INSERT INTO product_search_v2 (domain, product, name, description, columns, tags, classifications)
    SELECT domain, product, name, description, columns, tags, '' FROM product_search;
DROP TABLE product_search;
ALTER TABLE product_search_v2 RENAME TO product_search;
