-- Amendments, their sponsors and objections, comments, and each element's editing mode.
-- SQLite flavour. Keep in step with ../postgres/0006_amendments.sql: the same tables and
-- columns with the same meaning (times are unix ms, JSON is stored as TEXT).

-- `open`: delegates type into the element directly; `amendments`: only chairs do, delegates
-- propose amendments.
ALTER TABLE elements ADD COLUMN mode TEXT NOT NULL DEFAULT 'open'
    CHECK (mode IN ('open', 'amendments'));

-- A proposal, on behalf of an entity, to replace a passage of an element's text (an empty
-- passage inserts, an empty text deletes). The passage is anchored by Automerge cursors (in
-- their text form) so it follows the text as others edit around it: for a passage, its
-- first and last characters; for an insertion point, the characters either side of it
-- ('s' and 'e' at the ends of the text). `state` is what people decided; whether an open
-- amendment's passage has changed since (a conflict) is read from the document.
CREATE TABLE amendments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    draft_id        TEXT NOT NULL REFERENCES drafts (id),
    element_id      TEXT NOT NULL REFERENCES elements (id),
    entity_code     TEXT NOT NULL REFERENCES entities (code),
    -- the proposer (not a foreign key, like changes.user_id)
    user_id         TEXT NOT NULL,
    original        TEXT NOT NULL,
    start_cursor    TEXT NOT NULL,
    end_cursor      TEXT NOT NULL,
    -- JSON array of the element document's hex heads the passage was read at
    heads           TEXT NOT NULL,
    text            TEXT NOT NULL,
    reason          TEXT NOT NULL,
    state           TEXT NOT NULL
        CHECK (state IN ('open', 'accepted', 'rejected', 'withdrawn')),
    created_at      BIGINT NOT NULL,
    -- last re-anchored (or created)
    anchored_at     BIGINT NOT NULL,
    decided_at      BIGINT NULL,
    decided_by      TEXT NULL,
    decision_reason TEXT NULL,
    -- hex hash of the change that applied an accepted amendment
    applied_change  TEXT NULL
);
CREATE INDEX amendments_draft ON amendments (draft_id, id);
CREATE INDEX amendments_element ON amendments (element_id, id);

-- Entities sponsoring an amendment, the proposing entity first. Withdrawing a sponsorship
-- deletes its row (the timeline keeps it).
CREATE TABLE amendment_sponsors (
    amendment_id BIGINT NOT NULL REFERENCES amendments (id),
    entity_code  TEXT NOT NULL REFERENCES entities (code),
    user_id      TEXT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (amendment_id, entity_code)
);

-- Entities objecting to an amendment, with their reason (the latest counts).
CREATE TABLE amendment_objections (
    amendment_id BIGINT NOT NULL REFERENCES amendments (id),
    entity_code  TEXT NOT NULL REFERENCES entities (code),
    user_id      TEXT NOT NULL,
    reason       TEXT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (amendment_id, entity_code)
);

-- Comments: a thread per element (a top-level comment and its replies), optionally anchored
-- to a passage like an amendment. `mentions` is a JSON object {"entities": [codes],
-- "users": [ids]} read from the text when it was written.
CREATE TABLE comments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    draft_id     TEXT NOT NULL REFERENCES drafts (id),
    element_id   TEXT NOT NULL REFERENCES elements (id),
    user_id      TEXT NOT NULL,
    entity_code  TEXT NULL,
    text         TEXT NOT NULL,
    reply_to     BIGINT NULL REFERENCES comments (id),
    original     TEXT NULL,
    start_cursor TEXT NULL,
    end_cursor   TEXT NULL,
    heads        TEXT NULL,
    mentions     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    resolved_at  BIGINT NULL,
    resolved_by  TEXT NULL
);
CREATE INDEX comments_draft ON comments (draft_id, id);
CREATE INDEX comments_element ON comments (element_id, id);
