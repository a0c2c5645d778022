-- Consensus: the positions ledger, silence procedures, adoptions and named versions,
-- SQLite flavour. Keep in step with ../postgres/0003_consensus.sql: the same tables
-- and columns with the same meaning (times are unix ms, JSON is stored as TEXT).

-- Every position ever taken, append-only: rows are never updated nor deleted.
CREATE TABLE positions (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    draft_id    TEXT NOT NULL REFERENCES drafts (id),
    element_id  TEXT NOT NULL REFERENCES elements (id),
    entity_code TEXT NOT NULL REFERENCES entities (code),
    stance      TEXT NOT NULL
        CHECK (stance IN ('support', 'support_ad_ref', 'reservation', 'abstain', 'object')),
    note        TEXT NULL,
    -- proposed wording (objections)
    wording     TEXT NULL,
    -- lowercase hex SHA-256 of the element text the position was given on
    text_hash   TEXT NOT NULL,
    -- JSON array of the element document's hex heads the delegate read
    heads       TEXT NOT NULL,
    -- NULL: recorded by silence
    user_id     TEXT NULL,
    by_silence  BOOLEAN NOT NULL DEFAULT FALSE,
    at          BIGINT NOT NULL
);
CREATE INDEX positions_draft_seq ON positions (draft_id, seq);
CREATE INDEX positions_element_seq ON positions (element_id, seq);

-- Silence procedures; the text is locked while one is active.
CREATE TABLE silences (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    draft_id         TEXT NOT NULL REFERENCES drafts (id),
    element_id       TEXT NOT NULL REFERENCES elements (id),
    deadline         BIGINT NOT NULL,
    locked_text      TEXT NOT NULL,
    locked_text_hash TEXT NOT NULL,
    -- JSON array of hex heads
    locked_heads     TEXT NOT NULL,
    started_by       TEXT NOT NULL,
    started_at       BIGINT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('active', 'fired', 'broken', 'cancelled')),
    ended_at         BIGINT NULL,
    ended_by         TEXT NULL,
    reason           TEXT NULL
);
-- At most one active silence per element.
CREATE UNIQUE INDEX silences_one_active ON silences (element_id) WHERE state = 'active';
CREATE INDEX silences_state_deadline ON silences (state, deadline);
CREATE INDEX silences_draft ON silences (draft_id, id);

-- Element adoptions; reopening ends one (the row is kept).
CREATE TABLE adoptions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    draft_id    TEXT NOT NULL REFERENCES drafts (id),
    element_id  TEXT NOT NULL REFERENCES elements (id),
    text        TEXT NOT NULL,
    text_hash   TEXT NOT NULL,
    -- JSON array of hex heads
    heads       TEXT NOT NULL,
    adopted_by  TEXT NOT NULL,
    adopted_at  BIGINT NOT NULL,
    reopened_by TEXT NULL,
    reopened_at BIGINT NULL
);
-- At most one current (not reopened) adoption per element.
CREATE UNIQUE INDEX adoptions_one_current ON adoptions (element_id) WHERE reopened_at IS NULL;
CREATE INDEX adoptions_draft ON adoptions (draft_id, id);

-- Named versions of a draft.
CREATE TABLE versions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    draft_id   TEXT NOT NULL REFERENCES drafts (id),
    name       TEXT NOT NULL,
    -- JSON object: document id -> array of hex heads
    heads      TEXT NOT NULL,
    created_by TEXT NULL,
    created_at BIGINT NOT NULL,
    -- the version recorded when the draft was adopted
    final      BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (draft_id, name)
);

ALTER TABLE drafts ADD COLUMN adopted_at BIGINT NULL;
ALTER TABLE drafts ADD COLUMN adopted_by TEXT NULL;
