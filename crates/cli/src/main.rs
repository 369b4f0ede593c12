//! `optrom`: inspect, check and build PCI option ROMs for QEMU's NICs. A thin
//! front end: argument parsing and output formatting over the `optrom` library.

mod check_cmd;
mod codec_cmd;
mod info_cmd;
mod output;

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
        /// QEMU NIC model the ROM is for (e1000, virtio-net-pci, rtl8139, …).
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
    };
    ExitCode::from(code)
}
