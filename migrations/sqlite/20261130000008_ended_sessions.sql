-- Sessions of participants who were removed from their meeting. The
-- sessions themselves go with the participant (ON DELETE CASCADE); their
-- hashes stay here so that a tablet coming back is told its session was
-- revoked, and deletes the documents it kept, instead of being told only
-- to sign in again.
CREATE TABLE ended_sessions (
    token_hash  TEXT PRIMARY KEY,
    ended_at    TEXT NOT NULL
);
