//! Option ROM wire format.
