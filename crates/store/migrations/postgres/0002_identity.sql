-- Identity, sessions, actor ownership and the procedural timeline, PostgreSQL flavour.
-- Keep in step with ../sqlite/0002_identity.sql: the same tables and columns with the
-- same meaning (BLOB = BYTEA, times are unix ms).

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('chair', 'delegate', 'reviewer')),
    entity_code TEXT REFERENCES entities (code),
    disabled    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL,
    -- a delegate speaks for an entity
    CHECK (role <> 'delegate' OR entity_code IS NOT NULL)
);

-- One-time tokens (only their hashes) that open a session: a first invitation or a new device.
CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    kind       TEXT NOT NULL CHECK (kind IN ('invite', 'device')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX invites_user ON invites (user_id);

CREATE TABLE sessions (
    token_hash     TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id),
    created_at     BIGINT NOT NULL,
    last_seen      BIGINT NOT NULL,
    -- sliding expiry, never beyond max_expires_at
    expires_at     BIGINT NOT NULL,
    max_expires_at BIGINT NOT NULL,
    revoked_at     BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- An Automerge actor id belongs to the first user who delivered a change from it.
-- user_id is not a foreign key: the server's own actor is recorded as 'server'.
CREATE TABLE actors (
    actor      BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL,
    first_seen BIGINT NOT NULL
);

-- A draft's procedural timeline (structure edits, ...). data is JSON text.
CREATE TABLE events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    draft_id    TEXT NOT NULL REFERENCES drafts (id),
    kind        TEXT NOT NULL,
    element_id  TEXT,
    user_id     TEXT,
    entity_code TEXT,
    data        TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX events_draft_seq ON events (draft_id, seq);

CREATE INDEX changes_committed ON changes (doc_id, committed_at);
