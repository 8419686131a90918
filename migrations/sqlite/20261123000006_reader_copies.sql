-- Each reader's stamped copy of a restricted document (see
-- server/src/watermark.rs): made once per reader and version, at `made_at`
-- (the time printed on it), stored by its own SHA-256.
CREATE TABLE reader_copies (
    original TEXT NOT NULL,
    participant INTEGER NOT NULL,
    made_at TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (original, participant)
);
