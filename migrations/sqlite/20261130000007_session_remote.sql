-- Whether a participant's session was opened from outside the room (a
-- member answering by written opinion): such a session never marks them
-- present, not even when the meeting opens.
ALTER TABLE sessions ADD COLUMN remote BOOLEAN NOT NULL DEFAULT 0;
