//! Arbitrary serial bytes, cut into arbitrary chunks, through the guest console
//! cleaner: must never panic, must keep no control character, and the result must
//! not depend on where the chunks were cut.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use optrom_qemu::Console;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else { return };
    let mut whole = Console::new();
    whole.feed(bytes, Duration::ZERO);
    let mut pieces = Console::new();
    let step = usize::from(cut).max(1);
    for (i, chunk) in bytes.chunks(step).enumerate() {
        pieces.feed(chunk, Duration::from_millis(i as u64));
    }
    assert_eq!(whole.text(), pieces.text());
    assert!(!whole.text().chars().any(|c| c.is_control() && c != '\n'));
    for line in pieces.lines() {
        assert!(!line.text.trim().is_empty());
        assert!(whole.contains(&line.text));
    }
});
