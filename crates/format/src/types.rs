//! Enumerated field values. Every enum keeps unknown values (`Other(raw)`), so a
//! value read from a ROM always converts back to the same raw number.

use core::fmt;

macro_rules! raw_enum {
    (
        $(#[$meta:meta])*
        $name:ident : $raw:ty { $( $(#[$vmeta:meta])* $variant:ident = $value:expr => $text:expr ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this crate has no name for, kept as read.
            Other($raw),
        }

        impl From<$raw> for $name {
            fn from(raw: $raw) -> Self {
                match raw {
                    $( $value => $name::$variant, )+
                    other => $name::Other(other),
                }
            }
        }

        impl From<$name> for $raw {
            fn from(value: $name) -> $raw {
                match value {
                    $( $name::$variant => $value, )+
                    $name::Other(raw) => raw,
                }
            }
        }

        impl $name {
            /// The conventional short name, `None` for values without one.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $( $name::$variant => Some($text), )+
                    $name::Other(_) => None,
                }
            }

            /// The raw field value.
            pub fn raw(self) -> $raw {
                self.into()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "{:#x}", self.raw()),
                }
            }
        }
    };
}

raw_enum! {
    /// PCIR code type: which firmware can run the image.
    CodeType: u8 {
        /// PC-AT compatible x86 (legacy BIOS).
        PcAt = 0x00 => "x86",
        /// IEEE 1275 Open Firmware.
        OpenFirmware = 0x01 => "openfirmware",
        /// HP PA-RISC.
        PaRisc = 0x02 => "pa-risc",
        /// UEFI.
        Efi = 0x03 => "efi",
    }
}

raw_enum! {
    /// PE/COFF machine type, as carried in the EFI image header and the PE header.
    Machine: u16 {
        /// 32-bit x86.
        Ia32 = 0x014C => "IA32",
        /// Itanium.
        Ia64 = 0x0200 => "IA64",
        /// EFI byte code.
        Ebc = 0x0EBC => "EBC",
        /// x86-64.
        X64 = 0x8664 => "X64",
        /// 32-bit ARM (Thumb mixed).
        Arm = 0x01C2 => "ARM",
        /// 64-bit ARM.
        Aa64 = 0xAA64 => "AA64",
        /// 32-bit RISC-V.
        RiscV32 = 0x5032 => "RISCV32",
        /// 64-bit RISC-V.
        RiscV64 = 0x5064 => "RISCV64",
        /// 128-bit RISC-V.
        RiscV128 = 0x5128 => "RISCV128",
        /// 32-bit LoongArch.
        LoongArch32 = 0x6232 => "LOONGARCH32",
        /// 64-bit LoongArch.
        LoongArch64 = 0x6264 => "LOONGARCH64",
    }
}

raw_enum! {
    /// EFI subsystem of the image.
    Subsystem: u16 {
        /// EFI application (firmware refuses these in option ROMs).
        Application = 10 => "application",
        /// Boot-service driver.
        BootServiceDriver = 11 => "boot-service-driver",
        /// Runtime driver.
        RuntimeDriver = 12 => "runtime-driver",
    }
}

raw_enum! {
    /// EFI image header compression type.
    Compression: u16 {
        /// Stored as is.
        None = 0 => "none",
        /// EFI (v1) compression.
        Efi = 1 => "efi",
    }
}
