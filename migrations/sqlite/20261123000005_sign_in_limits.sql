-- Sign-in limits: consecutive wrong PINs per participant and the lock they
-- lead to (lifted by the chair or secretary, or a new PIN); revoked
-- sessions are kept (not deleted) so a revoked tablet learns it was revoked.
ALTER TABLE participants ADD COLUMN pin_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE participants ADD COLUMN pin_locked BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE sessions ADD COLUMN revoked_at TEXT;
