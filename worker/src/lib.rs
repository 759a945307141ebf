//! `iollm-worker`: the GPU provider's worker (issue 15). What exists so far is the part that
//! plays the dispute game ([`player`]): given where a game stands, the move its side makes,
//! answered from its own run of the job by replaying one step at a time. The daemon around it
//! (following finalized events, claiming, training, publishing, submitting, spot-checking,
//! surviving crashes) is to build.

pub mod player;
