//! `optrom`: inspect, check and build PCI option ROMs for QEMU's NICs. A thin
//! front end over the `optrom` library: each subcommand (declared in [`Command`],
//! its code in its own `*_cmd.rs` file) maps its arguments to library calls and
//! prints the result; every line to stdout goes through `output::outln!`, and every
//! failure maps to an exit status in one place (`output::exit_status`).

mod boot_test_cmd;
mod check_cmd;
mod codec_cmd;
mod completions_cmd;
mod edit_cmd;
mod identify_cmd;
mod info_cmd;
mod load_cmd;
mod man_cmd;
mod migrate_cmd;
mod output;
mod pack_cmd;
mod resolve_cmd;
mod serve_cmd;
mod serve_policy;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use output::one_of;

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
        nic: Option<optrom::nic::Selection>,
        /// Size budget the file must fit: 256K, 512KiB, 0x40000, 262144.
        #[arg(long, value_parser = optrom::parse::bucket)]
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
        #[arg(long, default_value = "efi", value_parser = one_of::<optrom_codec::Format>(&optrom_codec::Format::NAMES))]
        format: optrom_codec::Format,
        /// fast, default or best.
        #[arg(long, default_value_t, value_parser = one_of::<optrom_codec::Level>(&optrom_codec::Level::NAMES))]
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
        #[arg(long, default_value = "efi", value_parser = one_of::<optrom_codec::Format>(&optrom_codec::Format::NAMES))]
        format: optrom_codec::Format,
        /// Refuse streams that declare more than this many bytes.
        #[arg(long, default_value = "64M", value_parser = optrom::size::parse_size)]
        limit: u64,
    },
    /// Build an EFI option ROM image from a PE/COFF EFI driver.
    Efirom(edit_cmd::EfiromArgs),
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
        #[arg(long, value_parser = optrom::parse::hex_id)]
        vendor: u16,
        /// Device ID, hex; repeat to rewrite the device list in place.
        #[arg(long = "device", required = true, value_parser = optrom::parse::hex_id)]
        devices: Vec<u16>,
        /// Only this image (index from `optrom info`); without it, every image.
        #[arg(long)]
        image: Option<usize>,
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
        /// Compression level for EFI drivers built from PE files (fast, default,
        /// best), instead of the manifest's `[set] level`.
        #[arg(long, value_parser = one_of::<optrom_codec::Level>(&optrom_codec::Level::NAMES))]
        level: Option<optrom_codec::Level>,
    },
    /// Predict whether guests running OLD ROMs migrate to a host with NEW ones (files or set directories).
    MigrateCheck {
        /// The ROM file or set directory running guests use.
        old: PathBuf,
        /// The ROM file or set directory of the new package.
        new: PathBuf,
        /// NIC model, when comparing two files with non-default names.
        #[arg(long, value_parser = optrom::nic::lookup)]
        nic: Option<&'static optrom::nic::NicModel>,
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
        #[arg(long, value_parser = one_of::<optrom::pack::Target>(&optrom::pack::Target::NAMES))]
        target: optrom::pack::Target,
        /// NIC model.
        #[arg(long, value_parser = optrom::nic::lookup)]
        nic: &'static optrom::nic::NicModel,
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
        #[arg(long, default_value = "debian", value_parser = one_of::<optrom::resolve::Distro>(&optrom::resolve::Distro::NAMES))]
        distro: optrom::resolve::Distro,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print QEMU arguments that load a ROM set's files with the ROM BAR pinned to the set's bucket.
    QemuArgs(LoadArgs),
    /// Print libvirt domain XML that loads a ROM set's files with the ROM BAR pinned to the set's bucket.
    Libvirt {
        #[command(flatten)]
        load: LoadArgs,
        /// The domain name in the XML.
        #[arg(long, default_value = "optrom-guest")]
        name: String,
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
        #[arg(long, default_value = "auto", value_parser = one_of::<optrom::checksum::Requested>(&optrom::checksum::Requested::NAMES))]
        convention: optrom::checksum::Requested,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Boot every ROM of a set in real QEMU firmware (SeaBIOS, OVMF, AAVMF) and prove its
    /// driver moved packets. Exit 0 all as expected, 1 a case failed, 2 usage/setup error.
    BootTest(Box<boot_test_cmd::BootTestArgs>),
    /// Pad a ROM to a size (or the next power of two) after its last image.
    Pad {
        /// The ROM.
        rom: PathBuf,
        /// 256K, 512KiB, 0x40000, 262144, or pow2.
        #[arg(long)]
        to: optrom::edit::PadTarget,
        /// Fill byte.
        #[arg(long, default_value = "0xff", value_parser = optrom::parse::fill_byte)]
        fill: u8,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Print the shell completion script: bash, zsh, fish, elvish or powershell.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page optrom.1 (roff), or write it into a directory.
    Man {
        /// Write DIR/optrom.1 instead of printing it.
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
    },
    /// Serve boot files over TFTP and HTTP (and DHCP) to netboot clients.
    Serve(Box<serve_cmd::ServeArgs>),
}

/// Arguments shared by `qemu-args` and `libvirt`.
#[derive(clap::Args)]
struct LoadArgs {
    /// The ROM set directory (combined, or per-arch with a TARGET subdirectory).
    dir: PathBuf,
    /// QEMU target: x86_64, aarch64, riscv64, loongarch64.
    #[arg(long, default_value = "x86_64")]
    target: String,
    /// NIC model; repeat for several (default: every model whose ROM the set has).
    #[arg(long = "nic")]
    nics: Vec<String>,
    /// romsize= instead of the set's bucket (a power of two ≥ every ROM of the set).
    #[arg(long, value_parser = optrom::size::parse_size)]
    romsize: Option<u64>,
    /// Machine-readable output (qemu-args).
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Info { files, json } => info_cmd::run(&files, json),
        Command::Check { files, nic, bucket, json } => check_cmd::run(&files, nic, bucket, json),
        Command::Compress { input, output, format, level, allow_16k_distances } => {
            codec_cmd::compress(&input, &output, format, level, allow_16k_distances)
        }
        Command::Decompress { input, output, format, limit } => codec_cmd::decompress(&input, &output, format, limit),
        Command::Efirom(args) => edit_cmd::efirom(args),
        Command::Combine { inputs, manifest, output } => edit_cmd::combine(&inputs, manifest.as_deref(), &output),
        Command::Split { rom, output } => edit_cmd::split(&rom, &output),
        Command::SetIds { rom, vendor, devices, image, output } => {
            edit_cmd::set_ids(&rom, vendor, &devices, image, &output)
        }
        Command::BootTest(args) => boot_test_cmd::run(*args),
        Command::Pad { rom, to, fill, output } => edit_cmd::pad(&rom, to, fill, &output),
        Command::QemuArgs(a) => load_cmd::qemu_args(&a.dir, &a.target, &a.nics, a.romsize, a.json),
        Command::Libvirt { load: a, name } => load_cmd::libvirt(&a.dir, &a.target, &a.nics, a.romsize, &name),
        Command::Serve(args) => serve_cmd::run(*args),
        Command::FixChecksum { rom, image, convention, output } => {
            edit_cmd::fix_checksum(&rom, image, convention.convention(), &output)
        }
        Command::Pack { manifest, output, report_html, json, strict, level } => {
            pack_cmd::pack(&manifest, &output, report_html.as_deref(), json, strict, level)
        }
        Command::MigrateCheck { old, new, nic, romsize, old_romsize, new_romsize, pci_addr, json } => {
            migrate_cmd::migrate_check(migrate_cmd::MigrateArgs {
                old: &old,
                new: &new,
                nic,
                sizes: optrom::migrate::RomSizes { old: old_romsize.or(romsize), new: new_romsize.or(romsize) },
                pci_addr: &pci_addr,
                json,
            })
        }
        Command::Resolve { target, nic, romfile, dash_l, firmware_path, data_dir, distro, json } => {
            resolve_cmd::resolve(resolve_cmd::ResolveArgs {
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
        Command::Completions { shell } => completions_cmd::run(shell),
        Command::Man { output } => man_cmd::run(output.as_deref()),
    };
    // Output the reader never took (a closed pipe) does not change the status;
    // output that could not be written at all does.
    if output::finish_stdout() { ExitCode::from(code) } else { ExitCode::from(EXIT_UNUSABLE) }
}
