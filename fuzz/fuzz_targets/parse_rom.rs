//! Any bytes through the whole inspection path and every edit operation
//! (the invariants are in `fuzz/checks/parse_rom.rs`, shared with the seed
//! regression tests), and (small inputs) through the code identification.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/parse_rom.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check(data));
