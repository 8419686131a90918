-- The minutes: the secretary's text per section, members' comments, and
-- every signed version (its files live in DATA_DIR/minutes/<meeting>/).

CREATE TABLE minutes (
    meeting_id  INTEGER PRIMARY KEY REFERENCES meetings (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('draft', 'in_review', 'approved', 'signed')),
    number      TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE minutes_sections (
    meeting_id  INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    section     TEXT    NOT NULL,  -- JSON SectionKey
    text        TEXT    NOT NULL,
    PRIMARY KEY (meeting_id, section)
);

CREATE TABLE minutes_comments (
    id          INTEGER PRIMARY KEY,
    meeting_id  INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    section     TEXT    NOT NULL,
    author_id   INTEGER NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    text        TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    at          TEXT    NOT NULL
);

CREATE TABLE minutes_versions (
    meeting_id  INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    log_head    TEXT    NOT NULL,
    log_seq     INTEGER NOT NULL,
    files       TEXT    NOT NULL,  -- JSON [{name, sha256}]
    signed_at   TEXT    NOT NULL,
    PRIMARY KEY (meeting_id, version)
);
