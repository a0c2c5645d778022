-- History kept as changes commit: per-change character counts, each document's heads after
-- every committed batch, and revisions (one user's run of changes on one element).
-- PostgreSQL flavour. Keep in step with ../sqlite/0004_history.sql: the same tables and
-- columns with the same meaning (times are unix ms, JSON is stored as TEXT).

-- Characters the change inserts into / deletes from the element text (NULL when not
-- counted: documents' initial changes, rows stored before this migration).
ALTER TABLE changes ADD COLUMN inserted BIGINT NULL;
ALTER TABLE changes ADD COLUMN deleted BIGINT NULL;

-- A document's heads once a batch is committed: "the document at time T" is the latest row
-- with committed_at <= T. Append-only.
CREATE TABLE doc_heads (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc_id       TEXT NOT NULL REFERENCES documents (id),
    -- the highest changes.seq of that document covered
    through_seq  BIGINT NOT NULL,
    committed_at BIGINT NOT NULL,
    -- JSON array of lowercase hex change hashes, sorted
    heads        TEXT NOT NULL
);
CREATE INDEX doc_heads_doc_time ON doc_heads (doc_id, committed_at, id);
CREATE INDEX doc_heads_doc_seq ON doc_heads (doc_id, through_seq, id);

-- One user's run of changes on one element, with no gap of REVISION_GAP_MS or more between
-- that user's own changes (whatever others committed in between).
CREATE TABLE revisions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    draft_id     TEXT NOT NULL REFERENCES drafts (id),
    doc_id       TEXT NOT NULL REFERENCES documents (id),
    element_id   TEXT NOT NULL REFERENCES elements (id),
    -- not a foreign key, like changes.user_id
    user_id      TEXT NOT NULL,
    entity_code  TEXT NULL,
    start_at     BIGINT NOT NULL,
    end_at       BIGINT NOT NULL,
    first_seq    BIGINT NOT NULL,
    last_seq     BIGINT NOT NULL,
    -- how many changes, characters inserted and deleted (this user's changes only)
    changes      BIGINT NOT NULL,
    inserted     BIGINT NOT NULL,
    deleted      BIGINT NOT NULL,
    -- JSON arrays of hex heads: the document before the revision's first batch ('[]' if
    -- unknown) and after its last batch (NULL if never given)
    before_heads TEXT NOT NULL,
    after_heads  TEXT NULL
);
CREATE INDEX revisions_draft_start ON revisions (draft_id, start_at, id);
CREATE INDEX revisions_doc_user ON revisions (doc_id, user_id, id);
CREATE INDEX revisions_draft_element_start ON revisions (draft_id, element_id, start_at, id);

-- The timeline and the ledger read by time.
CREATE INDEX events_draft_at ON events (draft_id, at, seq);
CREATE INDEX positions_draft_at ON positions (draft_id, at, seq);
