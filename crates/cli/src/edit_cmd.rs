//! `optrom efirom`, `combine`, `split`, `set-ids`, `pad`, `fix-checksum`: the
//! commands that write ROMs. Each reads its inputs, calls the library and
//! writes its outputs atomically.

use std::path::{Path, PathBuf};

use optrom::build::{EfiRomOptions, SubsystemChoice};
use optrom::checksum::Convention;
use optrom::edit::{self, ImageSelect, PadTarget};
use optrom::size::human;
use optrom_codec::Level;

use crate::output::{fail, fail_io, one_of, outln, read};
use crate::{EXIT_OK, EXIT_UNUSABLE};

fn write(path: &Path, bytes: &[u8]) -> u8 {
    if let Err(e) = optrom::fsio::write_atomic(path, bytes) {
        return fail_io(&e);
    }
    let images = match optrom_format::chain::walk(bytes).isa {
        Some(_) => 1,
        None => optrom::edit::input_images(bytes).map(|i| i.len()).unwrap_or(0),
    };
    outln!(
        "wrote {}: {} bytes, {images} image{}, ROM BAR {}",
        path.display(),
        bytes.len(),
        if images == 1 { "" } else { "s" },
        human(optrom::size::bar_size(bytes.len() as u64))
    );
    EXIT_OK
}

#[derive(clap::Args)]
pub struct EfiromArgs {
    /// The EFI driver (PE/COFF).
    pub driver: PathBuf,
    /// PCI vendor ID, hex (8086 or 0x8086).
    #[arg(long, value_parser = optrom::parse::hex_id)]
    pub vendor: u16,
    /// PCI device ID, hex; repeat for a PCI 3.0 device list.
    #[arg(long = "device", required = true, value_parser = optrom::parse::hex_id)]
    pub devices: Vec<u16>,
    /// 24-bit class code, hex.
    #[arg(long, default_value = "020000", value_parser = optrom::parse::class_code)]
    pub class: u32,
    /// Code revision.
    #[arg(long, default_value_t = 0)]
    pub revision: u16,
    /// EFI subsystem to declare: auto (the PE's), 11 or 12.
    #[arg(long, default_value = "auto")]
    pub subsystem: SubsystemChoice,
    /// Compression level: fast, default or best.
    #[arg(long, default_value_t, conflicts_with = "no_compress", value_parser = one_of::<Level>(&Level::NAMES))]
    pub level: Level,
    /// Store the driver uncompressed.
    #[arg(long)]
    pub no_compress: bool,
    /// Build even if the PE is an EFI application (firmware will not load it).
    #[arg(long)]
    pub allow_application: bool,
    /// Output file.
    #[arg(short, long)]
    pub output: PathBuf,
}

pub fn efirom(a: EfiromArgs) -> u8 {
    let driver = match read(&a.driver) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let opts = EfiRomOptions {
        vendor: a.vendor,
        devices: a.devices,
        class_code: a.class,
        revision: a.revision,
        subsystem: a.subsystem,
        compression: (!a.no_compress).then_some(a.level),
        allow_application: a.allow_application,
        last: true,
    };
    match optrom::build::efi_rom(&driver, &opts) {
        Ok(rom) => {
            outln!(
                "{}: {} {} driver, {} bytes -> {} payload bytes ({})",
                a.driver.display(),
                rom.pe.machine,
                rom.pe.subsystem,
                driver.len(),
                rom.payload_size,
                if rom.compressed { "EFI-compressed" } else { "stored uncompressed" }
            );
            write(&a.output, &rom.bytes)
        }
        Err(e) => fail(&a.driver, &e),
    }
}

pub fn combine(inputs: &[PathBuf], manifest: Option<&Path>, output: &Path) -> u8 {
    let rom = if let Some(manifest_path) = manifest {
        let text = match read(manifest_path) {
            Ok(t) => t,
            Err(code) => return code,
        };
        let parsed = match edit::parse_split_manifest(&text) {
            Ok(m) => m,
            Err(e) => return fail(manifest_path, &e),
        };
        let base = manifest_path.parent().unwrap_or(Path::new("."));
        match edit::combine_manifest(&parsed, |name| optrom::fsio::read(&base.join(name))) {
            Ok(rom) => rom,
            Err(e @ edit::EditError::Io(_)) => {
                eprintln!("optrom: {e}");
                return EXIT_UNUSABLE;
            }
            Err(e) => return fail(manifest_path, &e),
        }
    } else {
        let mut parts = Vec::new();
        for path in inputs {
            match read(path) {
                Ok(b) => parts.push(b),
                Err(code) => return code,
            }
        }
        // Check each input on its own first, so an error names the right file.
        for (path, part) in inputs.iter().zip(&parts) {
            if let Err(e) = edit::combine(&[part]) {
                return fail(path, &e);
            }
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        match edit::combine(&refs) {
            Ok(rom) => rom,
            Err(e) => return fail(output, &e),
        }
    };
    write(output, &rom)
}

pub fn split(input: &Path, dir: &Path) -> u8 {
    let rom = match read(input) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let (manifest, files) = match edit::split(&rom) {
        Ok(r) => r,
        Err(e) => return fail(input, &e),
    };
    let json = serde_json::to_string_pretty(&manifest).expect("manifest serializes") + "\n";
    let manifest_path = dir.join("manifest.json");
    let mut outputs: Vec<(PathBuf, &[u8])> = files.iter().map(|f| (dir.join(&f.name), f.bytes.as_slice())).collect();
    outputs.push((manifest_path.clone(), json.as_bytes()));
    if let Err(e) = optrom::fsio::write_all_atomic(&[dir], &outputs) {
        return fail_io(&e);
    }
    for (path, bytes) in &outputs[..files.len()] {
        outln!("wrote {}: {} bytes", path.display(), bytes.len());
    }
    outln!(
        "wrote {} ({} images); rebuild with: optrom combine --manifest {} -o OUT",
        manifest_path.display(),
        manifest.images.len(),
        manifest_path.display()
    );
    EXIT_OK
}

pub fn set_ids(input: &Path, vendor: u16, devices: &[u16], image: Option<usize>, output: &Path) -> u8 {
    let rom = match read(input) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let select = image.map_or(ImageSelect::All, ImageSelect::Index);
    match edit::set_ids(&rom, vendor, devices, select) {
        Ok(out) => write(output, &out),
        Err(e) => fail(input, &e),
    }
}

pub fn fix_checksum(input: &Path, image: Option<usize>, convention: Option<Convention>, output: &Path) -> u8 {
    let rom = match read(input) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let select = image.map_or(ImageSelect::All, ImageSelect::Index);
    match edit::fix_checksums(&rom, select, convention) {
        Ok((out, fixes)) => {
            for f in &fixes {
                match (f.byte, f.values) {
                    (Some(at), Some((old, new))) => outln!(
                        "image {}: summed to {:#04x}; byte {at:#x} ({}) {old:#04x} -> {new:#04x}",
                        f.image,
                        f.sum_before,
                        f.convention
                    ),
                    _ if f.convention == Convention::None => outln!(
                        "image {}: keeps no checksum (an EFI image without a free header byte, EDK2 checks none; or a code type no firmware sums)",
                        f.image
                    ),
                    _ => outln!("image {}: already sums to 0 ({}), unchanged", f.image, f.convention),
                }
            }
            write(output, &out)
        }
        Err(e) => fail(input, &e),
    }
}

pub fn pad(input: &Path, target: PadTarget, fill: u8, output: &Path) -> u8 {
    let rom = match read(input) {
        Ok(b) => b,
        Err(code) => return code,
    };
    match edit::pad(&rom, target, fill) {
        Ok(out) => write(output, &out),
        Err(e) => fail(input, &e),
    }
}
