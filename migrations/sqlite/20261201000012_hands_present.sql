-- The members present when a show of hands was counted (JSON ids): a vote's
-- quorum counts them though they left before its close, as it counts those
-- who voted by tablet. Empty for shows of hands counted before.
ALTER TABLE polls ADD COLUMN hands_present TEXT NOT NULL DEFAULT '[]';
