//! What the library's tests share: `optrom-testsupport`'s Debian package paths, the one rule
//! for external dependencies ([`needs`]) and its probes.
#![allow(dead_code)]

pub use optrom_testsupport::*;
