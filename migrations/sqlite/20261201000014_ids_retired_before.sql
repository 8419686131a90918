-- Migration 0013 keeps the ids removed from then on. Those removed before
-- it are known from the log, which names every document, participant and
-- agenda item ever added: new rows are numbered above them all.
INSERT INTO retired_ids (tbl, last)
SELECT 'documents', x FROM (SELECT MAX(x) AS x FROM (
    SELECT json_extract(body, '$.document.id') AS x FROM events WHERE kind IN ('document_added', 'document_updated')
    UNION ALL
    SELECT json_extract(body, '$.document') FROM events WHERE kind = 'document_removed'))
WHERE x IS NOT NULL
ON CONFLICT (tbl) DO UPDATE SET last = MAX(last, excluded.last);

INSERT INTO retired_ids (tbl, last)
SELECT 'participants', x FROM (SELECT MAX(x) AS x FROM (
    SELECT json_extract(body, '$.participant.id') AS x FROM events WHERE kind IN ('participant_added', 'participant_updated')
    UNION ALL
    SELECT json_extract(body, '$.participant') FROM events WHERE kind = 'participant_removed'))
WHERE x IS NOT NULL
ON CONFLICT (tbl) DO UPDATE SET last = MAX(last, excluded.last);

INSERT INTO retired_ids (tbl, last)
SELECT 'agenda_items', x FROM (SELECT MAX(x) AS x FROM (
    SELECT json_extract(body, '$.item.id') AS x FROM events WHERE kind IN ('item_added', 'item_updated')
    UNION ALL
    SELECT json_extract(body, '$.item') FROM events WHERE kind = 'item_removed'))
WHERE x IS NOT NULL
ON CONFLICT (tbl) DO UPDATE SET last = MAX(last, excluded.last);

-- An opinion whose document was removed before 0013, and whose id a later
-- upload took: 0013 took it for one on the later document. It is about a
-- removed document (0: no document has that id), and stays to itself.
UPDATE opinions SET about_document = 0
WHERE document_id IS NULL
  AND about_document IN (SELECT d.id FROM documents d WHERE julianday(d.uploaded_at) > julianday(opinions.at));

-- Copies stamped for participants removed before 0013: the next person
-- given that id would have been served them, with the removed one's name.
DELETE FROM reader_copies WHERE reader_kind = 'participant' AND reader NOT IN (SELECT id FROM participants);
