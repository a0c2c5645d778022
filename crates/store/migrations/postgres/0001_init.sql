-- Accord storage schema, PostgreSQL flavour. Keep in step with ../sqlite/0001_init.sql:
-- the same tables and columns with the same meaning (BLOB = BYTEA, times are unix ms).
-- Positions are BIGINT here so that they decode as i64 like SQLite's INTEGER.

CREATE TABLE entities (
    code     TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    -- scenario order
    position BIGINT NOT NULL
);

CREATE TABLE drafts (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    preamble   TEXT NOT NULL,
    -- the draft's index document (a row of `documents`, inserted after the draft)
    index_doc  TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE draft_entities (
    draft_id    TEXT NOT NULL REFERENCES drafts (id),
    entity_code TEXT NOT NULL REFERENCES entities (code),
    PRIMARY KEY (draft_id, entity_code)
);

CREATE TABLE documents (
    -- automerge-repo DocumentId (bs58check)
    id         TEXT PRIMARY KEY,
    draft_id   TEXT NOT NULL REFERENCES drafts (id),
    kind       TEXT NOT NULL CHECK (kind IN ('index', 'element')),
    created_at BIGINT NOT NULL
);
CREATE INDEX documents_draft ON documents (draft_id);

CREATE TABLE elements (
    id       TEXT PRIMARY KEY,
    draft_id TEXT NOT NULL REFERENCES drafts (id),
    position BIGINT NOT NULL,
    label    TEXT NOT NULL,
    doc_id   TEXT NOT NULL UNIQUE REFERENCES documents (id),
    archived BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX elements_draft_position ON elements (draft_id, position);

-- Every Automerge change ever stored, with who delivered it. Never deleted.
CREATE TABLE changes (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc_id       TEXT NOT NULL REFERENCES documents (id),
    hash         BYTEA NOT NULL,
    data         BYTEA NOT NULL,
    peer_id      TEXT,
    conn_id      BIGINT,
    user_id      TEXT,
    entity_code  TEXT,
    committed_at BIGINT NOT NULL,
    UNIQUE (doc_id, hash)
);
CREATE INDEX changes_doc_seq ON changes (doc_id, seq);

-- One compacted Automerge::save() per document, covering its changes with seq <= through_seq.
CREATE TABLE snapshots (
    doc_id      TEXT PRIMARY KEY REFERENCES documents (id),
    data        BYTEA NOT NULL,
    through_seq BIGINT NOT NULL,
    saved_at    BIGINT NOT NULL
);

CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
