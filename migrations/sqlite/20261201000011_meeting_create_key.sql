-- The key the secretary's form sent with "create this meeting": the same
-- request sent again (a second click after an answer lost on weak Wi-Fi)
-- finds the meeting the first one made instead of making a second one.
ALTER TABLE meetings ADD COLUMN create_key TEXT;
CREATE UNIQUE INDEX meetings_create_key ON meetings (create_key) WHERE create_key IS NOT NULL;
