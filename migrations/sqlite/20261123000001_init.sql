-- Gavel's store, SQLite dialect. Kept close to portable SQL so that the
-- PostgreSQL dialect (migrations/postgres, a later issue) differs only in
-- types. Times are RFC 3339 text in UTC.

-- Server-level accounts: the administrator and the secretaries.
CREATE TABLE staff (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    is_admin      BOOLEAN NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    TEXT    NOT NULL
);

CREATE TABLE meetings (
    id            INTEGER PRIMARY KEY,
    title         TEXT    NOT NULL,
    organisation  TEXT    NOT NULL,
    place         TEXT    NOT NULL,
    starts_at     TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('draft', 'open', 'closed')),
    current_item  INTEGER,
    is_demo       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TEXT    NOT NULL
);

CREATE TABLE participants (
    id            INTEGER PRIMARY KEY,
    meeting_id    INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    position      TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('chair', 'secretary', 'delegate', 'observer')),
    member        BOOLEAN NOT NULL,
    voting        BOOLEAN NOT NULL,
    pin_hash      TEXT    NOT NULL,
    added_at      TEXT    NOT NULL
);
CREATE INDEX participants_meeting ON participants (meeting_id);

CREATE TABLE agenda_items (
    id            INTEGER PRIMARY KEY,
    meeting_id    INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    title         TEXT    NOT NULL,
    presenter     TEXT    NOT NULL,
    summary       TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'current', 'done'))
);
CREATE INDEX agenda_items_meeting ON agenda_items (meeting_id, position);

-- Document content lives in DATA_DIR/documents/<sha256>; this is its metadata.
CREATE TABLE documents (
    id              INTEGER PRIMARY KEY,
    meeting_id      INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    item_id         INTEGER NOT NULL REFERENCES agenda_items (id) ON DELETE CASCADE,
    title           TEXT    NOT NULL,
    file_name       TEXT    NOT NULL,
    size            INTEGER NOT NULL,
    sha256          TEXT    NOT NULL,
    confidentiality TEXT    NOT NULL CHECK (confidentiality IN ('public', 'members', 'named', 'secret')),
    uploaded_at     TEXT    NOT NULL
);
CREATE INDEX documents_item ON documents (item_id);

CREATE TABLE document_readers (
    document_id     INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    participant_id  INTEGER NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    PRIMARY KEY (document_id, participant_id)
);

-- The event log: the audit trail, and what reconnecting clients replay.
CREATE TABLE events (
    meeting_id  INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL CHECK (seq > 0),
    at          TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    PRIMARY KEY (meeting_id, seq)
);

-- Idempotency: a repeated key returns the first result.
CREATE TABLE commands (
    meeting_id  INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    key         TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    last_seq    INTEGER,
    result      TEXT    NOT NULL,
    PRIMARY KEY (meeting_id, key)
);

-- Sign-in sessions; only the SHA-256 of each token is kept.
CREATE TABLE sessions (
    token_hash      TEXT    PRIMARY KEY,
    staff_id        INTEGER REFERENCES staff (id) ON DELETE CASCADE,
    participant_id  INTEGER REFERENCES participants (id) ON DELETE CASCADE,
    created_at      TEXT    NOT NULL,
    expires_at      TEXT    NOT NULL,
    CHECK ((staff_id IS NULL) <> (participant_id IS NULL))
);
