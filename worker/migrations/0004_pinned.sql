-- An output package a verifier pinned to defend its attestation (nobody had pinned it on its
-- IPFS daemon before), unpinned when the job is released: a pin found already there (its
-- executor's, on a daemon they share) is not the verifier's to remove, so it is not recorded.
ALTER TABLE jobs ADD COLUMN pinned TEXT;
