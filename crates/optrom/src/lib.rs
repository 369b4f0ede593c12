//! The optrom library: every operation the `optrom` tool performs, as functions
//! that take bytes and options and return typed results, between the format
//! layer (`optrom-format`, which knows the bytes; `optrom-codec`, the EFI
//! compressor) and the front ends, which only parse arguments and print. Today it
//! inspects ROM files ([`mod@inspect`]) and lints them against SeaBIOS, EDK2 and
//! QEMU ([`mod@check`]); keeps checksums in each image's convention through one
//! engine ([`checksum`]); builds EFI ROM images from PE drivers ([`build`], PE
//! facts in [`pe`]); combines, splits, re-IDs, pads and re-sums ROM files
//! ([`edit`]); packs whole ROM sets from a typed manifest ([`manifest`], [`pack`],
//! [`platform`], drawn by [`html`]); predicts live migration ([`migrate`]) and
//! QEMU's romfile search ([`resolve`]); knows QEMU's NIC models ([`nic`]) and the
//! ROM BAR arithmetic ([`size`]); parses the values users type ([`parse`]); reads
//! inputs bounded and writes outputs all or nothing ([`fsio`]); and classifies
//! every failure as findings or unusable input ([`outcome`]).
//! It also identifies the code inside images and boot files — iPXE's version, build,
//! features, PCI drivers and EFI boot role, unpacking iPXE's LZMA payload
//! ([`identify`], [`ipxe_payload`]) — and writes the QEMU arguments and libvirt XML
//! that load a ROM set with a pinned ROM BAR ([`loadcfg`]).

#![forbid(unsafe_code)]

pub mod build;
pub mod check;
pub mod checksum;
pub mod edit;
pub mod finding;
pub mod fsio;
pub mod html;
pub mod identify;
pub mod inspect;
pub mod ipxe_payload;
pub mod loadcfg;
pub mod manifest;
pub mod migrate;
pub mod nic;
pub mod outcome;
pub mod pack;
pub mod parse;
pub mod pe;
pub mod platform;
pub mod resolve;
pub mod serialize;
pub mod size;
#[cfg(test)]
mod testing;

pub use check::{CheckOptions, CheckReport, check};
pub use finding::{Finding, Severity};
pub use inspect::{NotARom, RomInfo, inspect};

/// The serialization helpers under their old name (`report`), for code written
/// before the rename to [`serialize`].
#[doc(hidden)]
pub use serialize as report;
