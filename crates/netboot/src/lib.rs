//! The network half of optrom: the services a netboot client talks to. Today it holds the boot
//! policy ([`policy`]): the TOML boot configuration, rule selection, iPXE script rendering with
//! templates, and the Xen/multiboot checks; and the boot tracker behind the status page
//! ([`status`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod policy;
pub mod status;
