-- The worker's state: what it must know again after a crash (issue 15). Migrations run at
-- start (`State::open`); a migration once released is never edited, only followed by another.

-- The next finalized block the worker reads events from.
CREATE TABLE cursor (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    next_block INTEGER NOT NULL
);

-- Every job the worker decided to take (claim, or sign up to check), and how far it got.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,            -- the market's job id
    role TEXT NOT NULL,                -- executor, verifier
    secret BLOB,                       -- a verifier's spot-check secret, kept before signing up
    stage TEXT NOT NULL,               -- see `Stage`
    output_cid TEXT,                   -- the published output package, once published
    note TEXT,                         -- why it ended, for a person reading it
    updated_at INTEGER NOT NULL        -- unix seconds
);

-- Every transaction it saw finalized, and where.
CREATE TABLE transactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job INTEGER NOT NULL REFERENCES jobs(id),
    what TEXT NOT NULL,                -- claim, submit_result, finalize, withdraw, sign_up,
                                       -- attest, reveal, challenge
    tx_hash BLOB NOT NULL,
    block INTEGER NOT NULL,
    amount TEXT                        -- planck moved to the account (withdraw), in decimal
);

-- Every package it added to IPFS.
CREATE TABLE uploads (
    cid TEXT PRIMARY KEY,
    job INTEGER NOT NULL REFERENCES jobs(id),
    path TEXT NOT NULL
);
