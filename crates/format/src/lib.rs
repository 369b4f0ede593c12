//! Byte-exact views and owned representations of the structures inside a PCI
//! expansion ("option") ROM: the image chain, the PC-AT legacy header, the PCI Data
//! Structure (PCIR, revisions 0 and 3 with the device list), the EFI image header,
//! the PnP expansion header, the PXE UNDI ROM ID and iPXE's own header.
//!
//! The layout follows smoltcp's `wire` module: each structure has a zero-copy view
//! (`Pcir<T: AsRef<[u8]>>` and friends) whose `new_checked` constructor proves the
//! buffer is long enough, so every field accessor afterwards is infallible and
//! never panics; and an owned `…Repr` with `parse` and `emit` that round-trips
//! every byte of the structure, reserved bytes included. [`chain`] walks the image
//! chain of a whole ROM file and reports malformed input as an [`Error`] that names
//! the offset and the field. Nothing here allocates except the `Repr`s that carry
//! lists (device IDs), and nothing uses more of `std` than its `Error` trait.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Declare a zero-copy view over a fixed-size structure at the start of a buffer:
/// the struct, `new_unchecked`, `new_checked` (which proves the buffer holds `$len`
/// bytes, so every accessor after it is infallible) and `into_inner`.
macro_rules! view {
    ($(#[$meta:meta])* $name:ident, $len:expr, $what:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// Wrap without checking; accessors panic on a short buffer.
            pub fn new_unchecked(buffer: T) -> Self {
                $name { buffer }
            }

            /// Wrap, checking the buffer holds every fixed field.
            pub fn new_checked(buffer: T) -> crate::Result<Self> {
                crate::error::need(buffer.as_ref(), $len, $what)?;
                Ok($name { buffer })
            }

            /// The wrapped buffer.
            pub fn into_inner(self) -> T {
                self.buffer
            }

            fn b(&self) -> &[u8] {
                self.buffer.as_ref()
            }
        }
    };
}

pub mod chain;
pub mod efi;
mod error;
mod field;
pub mod ipxe;
pub mod legacy;
pub mod pcir;
pub mod pnp;
pub mod types;
pub mod undi;

pub use chain::{Chain, ImageRef};
pub use efi::{EfiHeader, EfiHeaderRepr};
pub use error::{Error, ErrorKind, Result};
pub use ipxe::{IpxeHeader, IpxeHeaderRepr};
pub use legacy::{LegacyHeader, LegacyHeaderRepr};
pub use pcir::{Pcir, PcirRepr};
pub use pnp::{PnpHeader, PnpHeaderRepr};
pub use types::{CodeType, Compression, Machine, Subsystem};
pub use undi::{UndiRomId, UndiRomIdRepr};

/// `0xAA55`, the signature at offset 0 of every image (bytes `55 AA`).
pub const ROM_SIGNATURE: u16 = 0xAA55;

/// Images are laid out and measured in 512-byte blocks.
pub const BLOCK: usize = 512;

/// The 8-bit sum of `bytes`; an image whose checksum is valid sums to 0.
pub fn byte_sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |acc, b| acc.wrapping_add(*b))
}
