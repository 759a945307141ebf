-- Which chain, market and account this state belongs to (issue 15): a state directory reused
-- against another devnet, market or key would resume jobs that are not its own.
CREATE TABLE binding (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    genesis BLOB NOT NULL,             -- the chain's genesis hash
    market BLOB NOT NULL,              -- the market contract's account
    account BLOB NOT NULL              -- the worker's account
);
