-- Staff accounts (the secretary's office, the administrator) read
-- restricted documents as copies stamped with their own name too, as
-- participants do: a copy that leaves the room names its reader, whoever
-- it was. Readers are now a kind and an id.
CREATE TABLE reader_copies_by_reader (
    original TEXT NOT NULL,
    reader_kind TEXT NOT NULL CHECK (reader_kind IN ('participant', 'staff')),
    reader INTEGER NOT NULL,
    made_at TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (original, reader_kind, reader)
);
INSERT INTO reader_copies_by_reader (original, reader_kind, reader, made_at, sha256, size)
    SELECT original, 'participant', participant, made_at, sha256, size FROM reader_copies;
DROP TABLE reader_copies;
ALTER TABLE reader_copies_by_reader RENAME TO reader_copies;
