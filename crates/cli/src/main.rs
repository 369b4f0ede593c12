//! `optrom`: inspect, check and build PCI option ROMs for QEMU's NICs. A thin
//! front end: argument parsing and output formatting over the `optrom` library.

mod check_cmd;
mod codec_cmd;
mod info_cmd;
mod ops_cmd;
mod output;
mod serve_cmd;
mod serve_policy;
mod set_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status: the ROMs are fine.
pub const EXIT_OK: u8 = 0;
/// Exit status: a ROM has errors.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status: an input could not be read or is not a ROM at all, or bad usage.
pub const EXIT_UNUSABLE: u8 = 2;

#[derive(Parser)]
#[command(name = "optrom", version, about = "Inspect, check and build PCI option ROMs for QEMU NICs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show every image, header, checksum and the ROM BAR size of ROM files.
    Info {
        /// ROM files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Machine-readable output (schema: docs/info.schema.json).
        #[arg(long)]
        json: bool,
    },
    /// Lint ROM files against SeaBIOS, EDK2 and QEMU rules. Exit 0 clean, 1 errors, 2 unreadable.
    Check {
        /// ROM files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// QEMU NIC model the ROM is for (e1000, virtio-net-pci, rtl8139, …), or auto: each
        /// file for the model QEMU loads it for by default (efi-e1000.rom: e1000).
        #[arg(long)]
        nic: Option<String>,
        /// Size budget the file must fit: 256K, 512KiB, 0x40000, 262144.
        #[arg(long, value_parser = parse_size_arg)]
        bucket: Option<u64>,
        /// Machine-readable output (schema: docs/check.schema.json).
        #[arg(long)]
        json: bool,
    },
    /// Compress a file into an EFI (v1) or Tiano (v2) stream.
    Compress {
        /// File to compress.
        input: PathBuf,
        /// Where to write the stream (atomically).
        output: PathBuf,
        /// Stream format: efi (what option ROMs use) or tiano.
        #[arg(long, default_value = "efi")]
        format: optrom_codec::Format,
        /// fast, default or best.
        #[arg(long, default_value = "default")]
        level: optrom_codec::Level,
        /// Let efi streams use match distances up to 16 KiB: EDK2's decoder accepts
        /// them, the specification does not. Never on by default.
        #[arg(long)]
        allow_16k_distances: bool,
    },
    /// Decompress an EFI (v1) or Tiano (v2) stream.
    Decompress {
        /// The compressed stream.
        input: PathBuf,
        /// Where to write the data (atomically).
        output: PathBuf,
        /// Stream format: efi or tiano.
        #[arg(long, default_value = "efi")]
        format: optrom_codec::Format,
        /// Refuse streams that declare more than this many bytes.
        #[arg(long, default_value = "64M", value_parser = optrom::size::parse_size)]
        limit: u64,
    },
    /// Build an EFI option ROM image from a PE/COFF EFI driver.
    Efirom(ops_cmd::EfiromArgs),
    /// Chain the images of several ROMs (or a split manifest) into one ROM.
    Combine {
        /// Input ROMs, in order; each may itself hold several images or padding.
        #[arg(required_unless_present = "manifest", conflicts_with = "manifest")]
        inputs: Vec<PathBuf>,
        /// A manifest written by `optrom split`.
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write each image (and each EFI image's decompressed driver) to its own file, with a manifest.
    Split {
        /// The ROM.
        rom: PathBuf,
        /// Output directory.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Patch the PCI IDs of images and fix their checksums.
    SetIds {
        /// The ROM.
        rom: PathBuf,
        /// Vendor ID, hex.
        #[arg(long, value_parser = ops_cmd::parse_id)]
        vendor: u16,
        /// Device ID, hex; repeat to rewrite the device list in place.
        #[arg(long = "device", required = true, value_parser = ops_cmd::parse_id)]
        devices: Vec<u16>,
        /// Only this image (index from `optrom info`).
        #[arg(long, conflicts_with = "all")]
        image: Option<usize>,
        /// Every image (the default).
        #[arg(long)]
        all: bool,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Build a whole ROM set from a TOML manifest (docs/manifest.md), with a size report.
    /// Exit 0 built, 1 over budget or (strict) check errors, 2 bad manifest or unreadable input.
    Pack {
        /// The manifest.
        manifest: PathBuf,
        /// Output directory.
        #[arg(short, long)]
        output: PathBuf,
        /// Also draw the size budget as an HTML page.
        #[arg(long)]
        report_html: Option<PathBuf>,
        /// Print the size report as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Fail when a built ROM has check errors (as `[set] strict = true`).
        #[arg(long)]
        strict: bool,
    },
    /// Predict whether guests running OLD ROMs migrate to a host with NEW ones (files or set directories).
    MigrateCheck {
        /// The ROM file or set directory running guests use.
        old: PathBuf,
        /// The ROM file or set directory of the new package.
        new: PathBuf,
        /// NIC model, when comparing two files with non-default names.
        #[arg(long)]
        nic: Option<String>,
        /// romsize= pinned on both sides.
        #[arg(long, value_parser = optrom::size::parse_size)]
        romsize: Option<u64>,
        /// romsize= on the OLD (source) side.
        #[arg(long, value_parser = optrom::size::parse_size)]
        old_romsize: Option<u64>,
        /// romsize= on the NEW (destination) side.
        #[arg(long, value_parser = optrom::size::parse_size)]
        new_romsize: Option<u64>,
        /// PCI address to name the RAM block with.
        #[arg(long, default_value = "0000:00:03.0")]
        pci_addr: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show which file QEMU loads as a NIC's ROM on a target, and whether it runs there.
    Resolve {
        /// QEMU target: x86_64, aarch64, riscv64, loongarch64.
        #[arg(long)]
        target: String,
        /// NIC model.
        #[arg(long)]
        nic: String,
        /// romfile= given on the command line (default: the model's).
        #[arg(long)]
        romfile: Option<String>,
        /// -L directories, in order.
        #[arg(short = 'L')]
        dash_l: Vec<PathBuf>,
        /// Firmware path (colon-separated), instead of the distribution's.
        #[arg(long)]
        firmware_path: Option<String>,
        /// Data directory, instead of the distribution's.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Default layout: debian or fedora.
        #[arg(long, default_value = "debian")]
        distro: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Make each image sum to zero again, in the checksum convention it uses.
    FixChecksum {
        /// The ROM.
        rom: PathBuf,
        /// Only this image (index from `optrom info`).
        #[arg(long)]
        image: Option<usize>,
        /// Which byte absorbs the difference: auto (byte 6 of iPXE legacy images,
        /// the free header byte of EFI images), ipxe-byte6, last-byte (of the
        /// Size512 span) or efi-header-byte.
        #[arg(long, default_value = "auto", value_parser = ops_cmd::parse_convention)]
        convention: ops_cmd::ConventionArg,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Pad a ROM to a size (or the next power of two) after its last image.
    Pad {
        /// The ROM.
        rom: PathBuf,
        /// 256K, 512KiB, 0x40000, 262144, or pow2.
        #[arg(long, value_parser = ops_cmd::parse_pad_target)]
        to: optrom::edit::PadTarget,
        /// Fill byte.
        #[arg(long, default_value = "0xff", value_parser = ops_cmd::parse_fill)]
        fill: u8,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Serve boot files over TFTP and HTTP (and DHCP) to netboot clients.
    Serve(serve_cmd::ServeArgs),
}

fn parse_size_arg(text: &str) -> Result<u64, String> {
    let size = optrom::size::parse_size(text)?;
    if !size.is_power_of_two() {
        return Err(format!("{size} is not a power of two; QEMU ROM BARs are powers of two"));
    }
    Ok(size)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Info { files, json } => info_cmd::run(&files, json),
        Command::Check { files, nic, bucket, json } => check_cmd::run(&files, nic.as_deref(), bucket, json),
        Command::Compress { input, output, format, level, allow_16k_distances } => {
            codec_cmd::compress(&input, &output, format, level, allow_16k_distances)
        }
        Command::Decompress { input, output, format, limit } => codec_cmd::decompress(&input, &output, format, limit),
        Command::Efirom(args) => ops_cmd::efirom(args),
        Command::Combine { inputs, manifest, output } => ops_cmd::combine(&inputs, manifest.as_deref(), &output),
        Command::Split { rom, output } => ops_cmd::split(&rom, &output),
        Command::SetIds { rom, vendor, devices, image, all: _, output } => {
            ops_cmd::set_ids(&rom, vendor, &devices, image, &output)
        }
        Command::Pad { rom, to, fill, output } => ops_cmd::pad(&rom, to, fill, &output),
        Command::Serve(args) => serve_cmd::run(args),
        Command::FixChecksum { rom, image, convention, output } => {
            ops_cmd::fix_checksum(&rom, image, convention.0, &output)
        }
        Command::Pack { manifest, output, report_html, json, strict } => {
            set_cmd::pack(&manifest, &output, report_html.as_deref(), json, strict)
        }
        Command::MigrateCheck { old, new, nic, romsize, old_romsize, new_romsize, pci_addr, json } => {
            set_cmd::migrate_check(set_cmd::MigrateArgs {
                old: &old,
                new: &new,
                nic: nic.as_deref(),
                sizes: optrom::migrate::RomSizes { old: old_romsize.or(romsize), new: new_romsize.or(romsize) },
                pci_addr: &pci_addr,
                json,
            })
        }
        Command::Resolve { target, nic, romfile, dash_l, firmware_path, data_dir, distro, json } => {
            set_cmd::resolve(set_cmd::ResolveArgs {
                target,
                nic,
                romfile,
                dash_l,
                firmware_path,
                data_dir,
                distro,
                json,
            })
        }
    };
    ExitCode::from(code)
}
