//! The TFTP packet parser on arbitrary datagrams: never panics; whatever parses
//! emits to the same bytes' meaning (parse → emit → parse is the identity), and a
//! parsed read request negotiates without panicking.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use optrom_netboot::tftp::options::{Limits, negotiate};
use optrom_netboot::tftp::wire::Repr;

fuzz_target!(|data: &[u8]| {
    let Ok(repr) = Repr::parse_bytes(data) else { return };
    let emitted = repr.to_vec();
    assert_eq!(emitted.len(), repr.buffer_len());
    let again = Repr::parse_bytes(&emitted).expect("emitted packet parses");
    assert_eq!(again, repr);
    if let Repr::Read(request) = &repr {
        let limits = Limits {
            max_blksize: 1468,
            max_windowsize: 64,
            max_window_bytes: 256 * 1024,
            default_timeout: Duration::from_secs(1),
        };
        if let Ok(n) = negotiate(request, Some(12345), &limits) {
            assert!((8..=1468).contains(&n.blksize));
            assert!((1..=64).contains(&n.windowsize));
        }
    }
});
