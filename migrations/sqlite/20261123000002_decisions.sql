-- Attendance and quorum, polls, written opinions, the speakers' list, room
-- displays.

ALTER TABLE participants ADD COLUMN attendance TEXT NOT NULL DEFAULT 'absent'
    CHECK (attendance IN ('absent', 'present', 'excused'));
ALTER TABLE participants ADD COLUMN excuse TEXT NOT NULL DEFAULT '';

ALTER TABLE meetings ADD COLUMN quorum_num INTEGER NOT NULL DEFAULT 1;
ALTER TABLE meetings ADD COLUMN quorum_den INTEGER NOT NULL DEFAULT 2;
ALTER TABLE meetings ADD COLUMN quorum_strict BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE meetings ADD COLUMN speech_limit_secs INTEGER NOT NULL DEFAULT 300;
-- The speakers' list of the current item: {"queue": [...], "floor": {...}}.
ALTER TABLE meetings ADD COLUMN speakers TEXT NOT NULL DEFAULT '{"queue":[],"floor":null}';

CREATE TABLE polls (
    id            INTEGER PRIMARY KEY,
    meeting_id    INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    item_id       INTEGER NOT NULL REFERENCES agenda_items (id),
    question      TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('yes_no', 'choice')),
    options       TEXT    NOT NULL,  -- JSON array of strings
    max_choices   INTEGER NOT NULL,
    secret        BOOLEAN NOT NULL,
    allow_change  BOOLEAN NOT NULL,
    rule          TEXT    NOT NULL,  -- JSON MajorityRule
    status        TEXT    NOT NULL CHECK (status IN ('draft', 'open', 'closed', 'cancelled')),
    hands         TEXT    NOT NULL DEFAULT '[]',
    -- Ballots the secretary entered for others (secret polls keep only this
    -- count, so that no ballot row says who entered it).
    secretary_entries INTEGER NOT NULL DEFAULT 0,
    result        TEXT,              -- JSON PollResult, fixed at close
    cancel_reason TEXT
);
CREATE INDEX polls_meeting ON polls (meeting_id);

-- Who has voted, in every poll: one row per voter, enforced here.
-- WITHOUT ROWID: rows are kept in key order, not in the order of voting.
CREATE TABLE poll_voters (
    poll_id         INTEGER NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    participant_id  INTEGER NOT NULL REFERENCES participants (id),
    PRIMARY KEY (poll_id, participant_id)
) WITHOUT ROWID;

-- Named polls: who chose what.
CREATE TABLE named_ballots (
    poll_id         INTEGER NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    participant_id  INTEGER NOT NULL REFERENCES participants (id),
    choices         TEXT    NOT NULL,  -- JSON array of option indexes
    by_secretary    BOOLEAN NOT NULL,
    PRIMARY KEY (poll_id, participant_id)
) WITHOUT ROWID;

-- Secret polls: only choices, under a random key, with no voter, no time and
-- no insertion order (WITHOUT ROWID keeps rows in the random key's order).
CREATE TABLE secret_ballots (
    token    BLOB    NOT NULL PRIMARY KEY,
    poll_id  INTEGER NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    choices  TEXT    NOT NULL
) WITHOUT ROWID;

CREATE TABLE opinions (
    id            INTEGER PRIMARY KEY,
    meeting_id    INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    item_id       INTEGER NOT NULL REFERENCES agenda_items (id) ON DELETE CASCADE,
    document_id   INTEGER REFERENCES documents (id) ON DELETE SET NULL,
    author_id     INTEGER NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    stance        TEXT    NOT NULL CHECK (stance IN ('agree', 'disagree', 'agree_with_comments', 'comment')),
    text          TEXT    NOT NULL,
    remote        BOOLEAN NOT NULL,
    at            TEXT    NOT NULL
);
CREATE INDEX opinions_meeting ON opinions (meeting_id);

CREATE TABLE opinion_requests (
    id          INTEGER PRIMARY KEY,
    meeting_id  INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    item_id     INTEGER NOT NULL REFERENCES agenda_items (id) ON DELETE CASCADE,
    deadline    TEXT    NOT NULL,
    asked_at    TEXT    NOT NULL
);

-- Room displays: a one-time code (hashed) is exchanged for a display session.
CREATE TABLE display_codes (
    code_hash   TEXT    PRIMARY KEY,
    meeting_id  INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    expires_at  TEXT    NOT NULL
);
CREATE TABLE display_sessions (
    token_hash  TEXT    PRIMARY KEY,
    meeting_id  INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    created_at  TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL
);
