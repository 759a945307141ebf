-- Whether the worker has released what a finished job left on chain (its sign-up, its result,
-- its ledger entry: their storage deposits come back to it), so that it stops trying.
ALTER TABLE jobs ADD COLUMN released INTEGER NOT NULL DEFAULT 0;
