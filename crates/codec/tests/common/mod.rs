//! Shared helpers for the tests and the benchmark: the EDK2 reference codec
//! (via `tests/edk2_ref.py` and Python's `uefi_firmware`) and the corpus.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use optrom_codec::Format;

/// The EDK2 reference codec (a Python helper process).
pub struct Edk2 {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

pub fn helper_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/edk2_ref.py")
}

impl Edk2 {
    /// Start the helper. Panics with a clear message if Python or
    /// `uefi_firmware` is missing; returns None only if
    /// `OPTROM_SKIP_EXTERNAL=1`.
    pub fn start() -> Option<Edk2> {
        let ok = Command::new("python3")
            .args(["-c", "import uefi_firmware.efi_compressor"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        let what =
            "python3 with the `uefi_firmware` package (pip install uefi_firmware), for the checks against EDK2's codec";
        if !optrom_testsupport::needs("EXTERNAL", ok, what) {
            return None;
        }
        let mut child = Command::new("python3")
            .arg(helper_script())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot start python3 helper");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        Some(Edk2 { child, stdin, stdout })
    }

    /// Run an op; returns (median ns, result) or the error message.
    pub fn call(&mut self, op: u8, runs: u32, data: &[u8]) -> Result<(u64, Vec<u8>), String> {
        let mut req = vec![op];
        req.extend_from_slice(&runs.to_le_bytes());
        req.extend_from_slice(&(data.len() as u32).to_le_bytes());
        req.extend_from_slice(data);
        self.stdin.write_all(&req).expect("write to helper");
        self.stdin.flush().unwrap();
        let mut hdr = [0u8; 5];
        self.stdout.read_exact(&mut hdr).expect("read from helper");
        let n = u32::from_le_bytes(hdr[1..5].try_into().unwrap()) as usize;
        let mut payload = vec![0u8; n];
        self.stdout.read_exact(&mut payload).unwrap();
        if hdr[0] != 0 {
            return Err(String::from_utf8_lossy(&payload).into_owned());
        }
        let ns = u64::from_le_bytes(payload[..8].try_into().unwrap());
        Ok((ns, payload[8..].to_vec()))
    }

    pub fn compress(&mut self, f: Format, data: &[u8]) -> Vec<u8> {
        let op = if f == Format::Efi { b'c' } else { b'C' };
        self.call(op, 0, data).expect("EDK2 compress failed").1
    }

    pub fn decompress(&mut self, f: Format, data: &[u8]) -> Result<Vec<u8>, String> {
        let op = if f == Format::Efi { b'd' } else { b'D' };
        self.call(op, 0, data).map(|r| r.1)
    }
}

impl Drop for Edk2 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const ROMS: [&str; 8] = ["e1000", "e1000e", "eepro100", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3"];

fn u16le(b: &[u8], o: usize) -> usize {
    u16::from_le_bytes([b[o], b[o + 1]]) as usize
}
fn u32le(b: &[u8], o: usize) -> usize {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize
}

/// File size of a PE image from its section table.
fn pe_file_size(pe: &[u8]) -> usize {
    let lfanew = u32le(pe, 0x3C);
    let nsec = u16le(pe, lfanew + 6);
    let opt = u16le(pe, lfanew + 20);
    let sec = lfanew + 24 + opt;
    let mut end = u32le(pe, lfanew + 24 + 60); // SizeOfHeaders (same offset in PE32 and PE32+)
    for i in 0..nsec {
        let s = sec + i * 40;
        end = end.max(u32le(pe, s + 20) + u32le(pe, s + 16));
    }
    end.min(pe.len())
}

/// The EFI driver (PE) inside an iPXE option ROM.
fn efi_from_rom(rom: &[u8], edk2: &mut Edk2) -> Vec<u8> {
    let mut o = 0;
    loop {
        assert_eq!(&rom[o..o + 2], &[0x55, 0xAA], "bad ROM signature at {o:#x}");
        let pcir = o + u16le(rom, o + 0x18);
        assert_eq!(&rom[pcir..pcir + 4], b"PCIR");
        let len = u16le(rom, pcir + 0x10) * 512;
        let last = rom[pcir + 0x15] & 0x80 != 0;
        if rom[pcir + 0x14] == 3 {
            let img = &rom[o..o + len];
            let compressed = u16le(img, 0x0C) == 1;
            let off = u16le(img, 0x16);
            let payload = &img[off..];
            if compressed {
                let comp = u32le(payload, 0);
                return edk2.decompress(Format::Efi, &payload[..8 + comp]).expect("EfiDecompress of ROM payload");
            }
            return payload[..pe_file_size(payload)].to_vec();
        }
        assert!(!last, "no EFI image in ROM");
        o += len;
    }
}

/// Corpus: (name, PE image). Panics if a file is missing.
pub fn corpus(edk2: &mut Edk2) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for r in ROMS {
        let p = format!("/usr/lib/ipxe/qemu/efi-{r}.rom");
        let rom = std::fs::read(&p).unwrap_or_else(|e| {
            panic!("corpus file {p} missing ({e}); install Debian's ipxe-qemu or set OPTROM_SKIP_EXTERNAL=1")
        });
        v.push((format!("efi-{r}"), efi_from_rom(&rom, edk2)));
    }
    for f in ["ipxe.efi", "snponly.efi"] {
        let p = format!("/usr/lib/ipxe/{f}");
        let d = std::fs::read(&p).unwrap_or_else(|e| {
            panic!("corpus file {p} missing ({e}); install Debian's ipxe or set OPTROM_SKIP_EXTERNAL=1")
        });
        v.push((f.to_string(), d));
    }
    v
}
