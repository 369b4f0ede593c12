//! The optrom library: every operation the `optrom` tool performs, as functions
//! that take bytes and options and return typed results. It sits between the
//! format layer (`optrom-format`, which knows the bytes) and the front ends (the
//! CLI, later the netboot server), which only parse arguments and print. Today it
//! inspects ROM files ([`mod@inspect`]), lints them against SeaBIOS, EDK2 and QEMU
//! ([`mod@check`]), knows QEMU's NIC models ([`nic`]) and the ROM BAR arithmetic
//! ([`size`]), builds EFI ROM images from PE drivers ([`build`]) and combines,
//! splits, re-IDs and pads ROM files ([`edit`]); ROM-set packing and migration checks
//! build on these. It identifies the code inside images and boot files — iPXE's
//! version, build, features, PCI drivers and EFI boot role, unpacking iPXE's LZMA
//! payload ([`identify`], [`ipxe_payload`]) — and writes the QEMU arguments and
//! libvirt XML that load a ROM set with a pinned ROM BAR ([`loadcfg`]).

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
pub mod migrate;
pub mod nic;
pub mod pack;
pub mod pe;
pub mod report;
pub mod resolve;
pub mod size;

pub use check::{CheckOptions, CheckReport, check};
pub use finding::{Finding, Severity};
pub use inspect::{NotARom, RomInfo, inspect};
