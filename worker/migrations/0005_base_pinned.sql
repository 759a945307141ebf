-- The base model package a worker pinned for a job from a base model (nobody had pinned it on
-- its IPFS daemon before): an initial game of the job is answered with proofs of its blocks,
-- so they are kept while the job can be challenged, and unpinned when the job is released.
ALTER TABLE jobs ADD COLUMN base_pinned TEXT;
