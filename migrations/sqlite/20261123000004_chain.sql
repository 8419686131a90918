-- A tamper-evident event log: each event row keeps the head of a hash chain
-- over the meeting's events up to it (SHA-256 of the previous head and the
-- event's JSON), and the meeting keeps the head and the last seq, updated in
-- the same transaction as each event. Rows written before this migration are
-- chained once at the next start-up.
ALTER TABLE events ADD COLUMN chain TEXT;
ALTER TABLE meetings ADD COLUMN head_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE meetings ADD COLUMN head TEXT NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000';
