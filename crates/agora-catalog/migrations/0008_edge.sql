-- Edge agents. An agent is a principal of kind `edge` with the writer role in its domain; its
-- token opens nothing: each batch it sends is signed with its Ed25519 key, whose public half
-- is recorded here when the agent is registered. The batches it committed are ingests carrying
-- the idempotency key `edge/<agent>/<batch>`, which is how a retried batch is recognised.
CREATE TABLE edge_agents (
    name TEXT PRIMARY KEY REFERENCES principals(name) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    public_key TEXT NOT NULL,
    registered_by TEXT NOT NULL,
    registered_at TEXT NOT NULL
);
