//! Chain access for iollm (subxt): see the module docs.
