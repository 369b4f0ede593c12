//! The platforms a ROM set targets: EFI architectures ([`Arch`], as a manifest
//! names them) and QEMU system emulators ([`Target`]), and which runs which.

use serde::{Deserialize, Serialize};

use optrom_format::Machine;

/// An EFI architecture a manifest can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// x86-64.
    X64,
    /// 32-bit x86.
    Ia32,
    /// 64-bit ARM.
    Aa64,
    /// 64-bit RISC-V.
    Riscv64,
    /// 64-bit LoongArch.
    Loongarch64,
}

impl Arch {
    /// The PE machine of this architecture.
    pub fn machine(self) -> Machine {
        match self {
            Arch::X64 => Machine::X64,
            Arch::Ia32 => Machine::Ia32,
            Arch::Aa64 => Machine::Aa64,
            Arch::Riscv64 => Machine::RiscV64,
            Arch::Loongarch64 => Machine::LoongArch64,
        }
    }

    /// The QEMU target (`qemu-system-<target>`) that runs this architecture's firmware.
    pub fn target(self) -> Target {
        match self {
            Arch::X64 | Arch::Ia32 => Target::X86_64,
            Arch::Aa64 => Target::Aarch64,
            Arch::Riscv64 => Target::Riscv64,
            Arch::Loongarch64 => Target::Loongarch64,
        }
    }

    /// The manifest name.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X64 => "x64",
            Arch::Ia32 => "ia32",
            Arch::Aa64 => "aa64",
            Arch::Riscv64 => "riscv64",
            Arch::Loongarch64 => "loongarch64",
        }
    }
}

/// A QEMU system emulator target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// `qemu-system-x86_64`: legacy BIOS (SeaBIOS) and x64/ia32 UEFI (OVMF).
    #[serde(rename = "x86_64")]
    X86_64,
    /// `qemu-system-aarch64`: AAVMF.
    Aarch64,
    /// `qemu-system-riscv64`.
    Riscv64,
    /// `qemu-system-loongarch64`.
    Loongarch64,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 4] = [Target::X86_64, Target::Aarch64, Target::Riscv64, Target::Loongarch64];

    /// The directory / command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Target::X86_64 => "x86_64",
            Target::Aarch64 => "aarch64",
            Target::Riscv64 => "riscv64",
            Target::Loongarch64 => "loongarch64",
        }
    }

    /// Whether firmware on this target runs legacy x86 images.
    pub fn runs_legacy(self) -> bool {
        self == Target::X86_64
    }

    /// The EFI machines this target's firmware loads.
    pub fn machines(self) -> &'static [Machine] {
        match self {
            Target::X86_64 => &[Machine::X64, Machine::Ia32],
            Target::Aarch64 => &[Machine::Aa64],
            Target::Riscv64 => &[Machine::RiscV64],
            Target::Loongarch64 => &[Machine::LoongArch64],
        }
    }

    /// Every target's name.
    pub const NAMES: [&'static str; 4] = ["x86_64", "aarch64", "riscv64", "loongarch64"];

    /// Parse a target name.
    pub fn parse(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Target::parse(name)
            .ok_or_else(|| format!("unknown target {name:?}; use x86_64, aarch64, riscv64 or loongarch64"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_name_parses_back() {
        assert_eq!(Target::ALL.map(Target::name), Target::NAMES);
        for name in Target::NAMES {
            assert_eq!(name.parse::<Target>().map(Target::name), Ok(name));
        }
        assert!("mips".parse::<Target>().is_err());
    }
}
