-- SQLite gives a new row the highest id + 1, so removing the newest
-- document, participant or agenda item handed its id to the next one: an
-- opinion on a removed restricted document then read as one on the new
-- (public) document and was quoted in the minutes, and a stamped copy kept
-- for a removed participant was served to the next person added, with the
-- removed person's name on it. The highest id a table ever gave is kept
-- here when its row is removed, and new rows are numbered above it.
CREATE TABLE retired_ids (
    tbl   TEXT    PRIMARY KEY,
    last  INTEGER NOT NULL
);
CREATE TRIGGER documents_retire_id AFTER DELETE ON documents BEGIN
    INSERT INTO retired_ids (tbl, last) VALUES ('documents', OLD.id)
        ON CONFLICT (tbl) DO UPDATE SET last = MAX(last, excluded.last);
END;
CREATE TRIGGER participants_retire_id AFTER DELETE ON participants BEGIN
    INSERT INTO retired_ids (tbl, last) VALUES ('participants', OLD.id)
        ON CONFLICT (tbl) DO UPDATE SET last = MAX(last, excluded.last);
END;
CREATE TRIGGER agenda_items_retire_id AFTER DELETE ON agenda_items BEGIN
    INSERT INTO retired_ids (tbl, last) VALUES ('agenda_items', OLD.id)
        ON CONFLICT (tbl) DO UPDATE SET last = MAX(last, excluded.last);
END;

-- The document an opinion was written on, kept when the document is removed
-- (document_id is set to NULL then): an opinion on a removed document stays
-- to itself in the minutes after a restart as it did before one. Opinions
-- written before take it from their event in the log.
ALTER TABLE opinions ADD COLUMN about_document INTEGER;
UPDATE opinions SET about_document = COALESCE(
    document_id,
    (SELECT json_extract(e.body, '$.opinion.document') FROM events e
      WHERE e.meeting_id = opinions.meeting_id AND e.kind = 'opinion_added'
        AND json_extract(e.body, '$.opinion.id') = opinions.id)
);
