//! QEMU's emulated NIC models: PCI IDs as the guest sees them, the ROM file QEMU
//! loads by default (`hw/net/*.c` class init in QEMU's sources)
//! and the name of the ROM's RAM block, which is the device's vmstate name when it
//! has one (all e1000 variants share `e1000`, ne2k_pci is `ne2000`) and its type
//! name otherwise — read off QEMU 10.0 with `info ramblock`. Kept as data so later
//! QEMU versions only add rows.

use serde::Serialize;

/// One `-device` model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NicModel {
    /// The `-device` name.
    pub model: &'static str,
    /// Other names users type for it.
    pub aliases: &'static [&'static str],
    /// Vendor ID in config space.
    pub vendor: u16,
    /// Device ID in config space.
    pub device: u16,
    /// The default `romfile`, `None` when QEMU loads no ROM.
    pub romfile: Option<&'static str>,
    /// The QOM type name the ROM RAM block is named after (`<pci-path>/<name>.rom`).
    pub ramblock_name: &'static str,
}

macro_rules! nic {
    ($model:expr, [$($alias:expr),*], $vendor:expr, $device:expr, $rom:expr, $ram:expr) => {
        NicModel { model: $model, aliases: &[$($alias),*], vendor: $vendor, device: $device, romfile: $rom, ramblock_name: $ram }
    };
}

/// Every NIC model QEMU emulates on PCI.
pub static NIC_MODELS: &[NicModel] = &[
    nic!("e1000", ["e1000-82540em"], 0x8086, 0x100E, Some("efi-e1000.rom"), "e1000"),
    nic!("e1000-82544gc", [], 0x8086, 0x100C, Some("efi-e1000.rom"), "e1000"),
    nic!("e1000-82545em", [], 0x8086, 0x100F, Some("efi-e1000.rom"), "e1000"),
    nic!("e1000e", [], 0x8086, 0x10D3, Some("efi-e1000e.rom"), "e1000e"),
    nic!("igb", [], 0x8086, 0x10C9, None, "igb"),
    nic!("rtl8139", [], 0x10EC, 0x8139, Some("efi-rtl8139.rom"), "rtl8139"),
    nic!("ne2k_pci", ["ne2k-pci"], 0x10EC, 0x8029, Some("efi-ne2k_pci.rom"), "ne2000"),
    nic!("pcnet", [], 0x1022, 0x2000, Some("efi-pcnet.rom"), "pcnet"),
    nic!(
        "virtio-net-pci",
        ["virtio", "virtio-net", "virtio-net-pci-transitional"],
        0x1AF4,
        0x1000,
        Some("efi-virtio.rom"),
        "virtio-net-pci"
    ),
    nic!("virtio-net-pci-non-transitional", [], 0x1AF4, 0x1041, None, "virtio-net-pci-non-transitional"),
    nic!("vmxnet3", [], 0x15AD, 0x07B0, Some("efi-vmxnet3.rom"), "vmxnet3"),
    nic!("i82550", ["eepro100"], 0x8086, 0x1209, Some("pxe-eepro100.rom"), "i82550"),
    nic!("i82551", [], 0x8086, 0x1209, Some("pxe-eepro100.rom"), "i82551"),
    nic!("i82559er", [], 0x8086, 0x1209, Some("pxe-eepro100.rom"), "i82559er"),
    nic!("i82562", [], 0x8086, 0x1209, Some("pxe-eepro100.rom"), "i82562"),
    nic!("i82557a", [], 0x8086, 0x1229, Some("pxe-eepro100.rom"), "i82557a"),
    nic!("i82557b", [], 0x8086, 0x1229, Some("pxe-eepro100.rom"), "i82557b"),
    nic!("i82557c", [], 0x8086, 0x1229, Some("pxe-eepro100.rom"), "i82557c"),
    nic!("i82558a", [], 0x8086, 0x1229, Some("pxe-eepro100.rom"), "i82558a"),
    nic!("i82558b", [], 0x8086, 0x1229, Some("pxe-eepro100.rom"), "i82558b"),
    nic!("i82559a", [], 0x8086, 0x1229, Some("pxe-eepro100.rom"), "i82559a"),
    nic!("i82559b", [], 0x8086, 0x1229, Some("pxe-eepro100.rom"), "i82559b"),
    nic!("i82559c", [], 0x8086, 0x1229, Some("pxe-eepro100.rom"), "i82559c"),
    nic!("i82801", [], 0x8086, 0x2449, Some("pxe-eepro100.rom"), "i82801"),
    nic!("tulip", [], 0x1011, 0x0019, None, "tulip"),
    nic!("rocker", [], 0x1B36, 0x0006, None, "rocker"),
    nic!("sungem", [], 0x106B, 0x0021, None, "sungem"),
];

/// Find a model by its `-device` name or an alias, ignoring case.
pub fn find(name: &str) -> Option<&'static NicModel> {
    NIC_MODELS
        .iter()
        .find(|m| m.model.eq_ignore_ascii_case(name) || m.aliases.iter().any(|a| a.eq_ignore_ascii_case(name)))
}

/// The NIC models whose default romfile is `name`. A `pxe-<nic>.rom` that is no
/// model's default is the legacy-only ROM QEMU's compat properties load for old
/// machine types (≤ 1.4) instead of `efi-<nic>.rom`: it maps to those models.
pub fn models_for(name: &str) -> Vec<&'static NicModel> {
    let direct: Vec<_> = NIC_MODELS.iter().filter(|m| m.romfile == Some(name)).collect();
    if !direct.is_empty() {
        return direct;
    }
    match name.strip_prefix("pxe-") {
        Some(rest) => {
            let efi = format!("efi-{rest}");
            NIC_MODELS.iter().filter(|m| m.romfile == Some(efi.as_str())).collect()
        }
        None => direct,
    }
}

/// The model QEMU loads `file_name` for by default (`efi-e1000.rom`: e1000),
/// if any: what `--nic auto` means for one file.
pub fn default_for_file(file_name: &str) -> Option<&'static NicModel> {
    models_for(file_name).into_iter().find(|m| m.romfile == Some(file_name))
}

/// Find a model by name, or say which names exist.
pub fn lookup(name: &str) -> Result<&'static NicModel, String> {
    find(name).ok_or_else(|| format!("unknown NIC model {name:?}; known models: {}", names().join(", ")))
}

/// What a `--nic` option names: one model, or `auto` (each file for the model
/// that loads it by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// This model for every file.
    Model(&'static NicModel),
    /// Each file for [`default_for_file`].
    Auto,
}

impl Selection {
    /// The model a file named `file_name` is checked for.
    pub fn model_for(self, file_name: Option<&str>) -> Option<&'static NicModel> {
        match self {
            Selection::Model(m) => Some(m),
            Selection::Auto => file_name.and_then(default_for_file),
        }
    }
}

impl std::str::FromStr for Selection {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        if name == "auto" {
            return Ok(Selection::Auto);
        }
        find(name)
            .map(Selection::Model)
            .ok_or_else(|| format!("unknown NIC model {name:?}; known models: auto, {}", names().join(", ")))
    }
}

/// Every accepted name, for error messages.
pub fn names() -> Vec<&'static str> {
    NIC_MODELS.iter().map(|m| m.model).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup() {
        assert_eq!(find("E1000").unwrap().device, 0x100E);
        assert_eq!(find("virtio").unwrap().model, "virtio-net-pci");
        assert_eq!(find("eepro100").unwrap().romfile, Some("pxe-eepro100.rom"));
        assert!(find("nonsense").is_none());
        let mut seen = std::collections::HashSet::new();
        for m in NIC_MODELS {
            assert!(seen.insert(m.model), "duplicate {}", m.model);
            for a in m.aliases {
                assert!(seen.insert(a), "duplicate alias {a}");
            }
        }
    }
}
