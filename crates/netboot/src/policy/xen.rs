//! Xen (and Linux-over-NFS) checks, and the transparent unpacking of gzip'd hypervisors.
//!
//! iPXE boots Xen through its Multiboot 1 loader (`src/arch/x86/image/multiboot.c`), which
//! exists only in PC BIOS builds, passes at most [`IPXE_MAX_MODULES`] modules, and writes the
//! command lines of the kernel and of every module into one [`IPXE_MULTIBOOT_CMDLINE_BYTES`]-byte
//! buffer, each as `"<image URI>"` or `"<image URI> <args>"` plus a NUL — overflow is cut off
//! silently. It also cannot boot a gzip'd hypervisor ("Exec format error", 2e008001).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// iPXE's `MAX_MODULES`: further images are dropped with only a debug message.
pub const IPXE_MAX_MODULES: usize = 8;
/// iPXE's `MB_MAX_CMDLINE`: one buffer for the kernel's and all modules' command lines.
pub const IPXE_MULTIBOOT_CMDLINE_BYTES: usize = 512;
/// The Multiboot 1 header magic (Multiboot Specification 0.6.96, §3.1.1).
const MULTIBOOT_HEADER_MAGIC: u32 = 0x1BAD_B002;
/// The header must lie within the first 8192 bytes, 4-byte aligned (same section).
const MULTIBOOT_SEARCH_BYTES: usize = 8192;
/// RFC 1952 §2.3.1: ID1 ID2.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The bytes one image takes in iPXE's multiboot command-line buffer: the URI, then `" " + args`
/// when the image has arguments (iPXE leaves the command line unset when none are given), then
/// a NUL.
pub fn multiboot_line_bytes(uri: &str, args: Option<&str>) -> usize {
    uri.len() + args.filter(|a| !a.is_empty()).map_or(0, |a| 1 + a.len()) + 1
}

/// What the first bytes of a file say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniff {
    /// Starts with the gzip magic (RFC 1952).
    pub gzip: bool,
    /// Loadable by iPXE's multiboot loader (after decompression for gzip files): see
    /// [`multiboot_loadable`].
    pub multiboot: bool,
}

/// Multiboot header flag bit 16: the header carries load addresses (a raw, non-ELF image).
const MULTIBOOT_AOUT_KLUDGE: u32 = 1 << 16;
/// The ELF identification magic (System V ABI, `e_ident[EI_MAG0..EI_MAG3]`).
const ELF_MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];

/// The flags of the first Multiboot 1 header (magic + flags + checksum summing to zero mod
/// 2^32, 4-byte aligned in the first 8 KiB), if there is one.
pub fn multiboot_header_flags(data: &[u8]) -> Option<u32> {
    let end = data.len().min(MULTIBOOT_SEARCH_BYTES);
    (0..end).step_by(4).find_map(|at| {
        let word = |i: usize| data.get(at + i..at + i + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        match (word(0), word(4), word(8)) {
            (Some(MULTIBOOT_HEADER_MAGIC), Some(flags), Some(sum))
                if MULTIBOOT_HEADER_MAGIC.wrapping_add(flags).wrapping_add(sum) == 0 =>
            {
                Some(flags)
            }
            _ => None,
        }
    })
}

/// True if iPXE's multiboot loader can load it: a Multiboot header, and either an ELF image
/// (tried first) or a header that gives raw load addresses. Xen's `xen.efi` has the header
/// but is a PE file, so it is not loadable this way.
pub fn multiboot_loadable(data: &[u8]) -> bool {
    match multiboot_header_flags(data) {
        Some(flags) => data.starts_with(&ELF_MAGIC) || flags & MULTIBOOT_AOUT_KLUDGE != 0,
        None => false,
    }
}

/// Reads the start of a file (decompressing gzip) and reports what it is.
pub fn sniff(path: &Path) -> std::io::Result<Sniff> {
    let mut file = std::fs::File::open(path)?;
    let mut head = Vec::new();
    (&mut file).take(2).read_to_end(&mut head)?;
    let gzip = head == GZIP_MAGIC;
    let file = std::fs::File::open(path)?;
    let mut start = Vec::with_capacity(MULTIBOOT_SEARCH_BYTES);
    if gzip {
        // A truncated or corrupt stream still yields what decompressed before the error.
        let _ = flate2::read::GzDecoder::new(file).take(MULTIBOOT_SEARCH_BYTES as u64).read_to_end(&mut start);
    } else {
        file.take(MULTIBOOT_SEARCH_BYTES as u64).read_to_end(&mut start)?;
    }
    Ok(Sniff { gzip, multiboot: multiboot_loadable(&start) })
}

/// Decompressed copies of gzip'd files, kept in memory and refreshed when the file changes, so
/// the HTTP server can send them with an exact `Content-Length`.
#[derive(Debug, Default)]
pub struct GunzipCache {
    entries: Mutex<HashMap<PathBuf, CachedFile>>,
}

/// A decompressed file and the modification time and size it was made from.
type CachedFile = (SystemTime, u64, Arc<[u8]>);

impl GunzipCache {
    /// The decompressed bytes of `path`; an error names the file.
    pub fn get(&self, path: &Path) -> Result<Arc<[u8]>, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let stamp = (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len());
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((time, len, data)) = entries.get(path)
            && (*time, *len) == stamp
        {
            return Ok(data.clone());
        }
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut out)
            .map_err(|e| format!("{}: not a valid gzip stream: {e}", path.display()))?;
        let data: Arc<[u8]> = out.into();
        entries.insert(path.to_path_buf(), (stamp.0, stamp.1, data.clone()));
        Ok(data)
    }
}

/// True if a kernel command line mounts its root over NFS.
pub fn wants_nfs_root(args: &str) -> bool {
    args.split_whitespace().any(|w| w == "root=/dev/nfs")
}

/// True if a command line configures the network for the kernel or initramfs (`ip=`).
pub fn has_ip_setting(args: &str) -> bool {
    args.split_whitespace().any(|w| w.starts_with("ip="))
}

/// True if the command line's `nfsroot=[SERVER:]PATH[,OPTIONS]` (the kernel's nfsroot.rst
/// syntax) asks for NFS over UDP: option `udp` or `proto=udp`.
pub fn nfs_root_over_udp(args: &str) -> bool {
    args.split_whitespace()
        .filter_map(|w| w.strip_prefix("nfsroot="))
        .any(|v| v.split(',').skip(1).any(|o| o == "udp" || o == "proto=udp"))
}

#[cfg(test)]
mod nfs_tests {
    use super::nfs_root_over_udp;

    #[test]
    fn nfsroot_options_name_the_transport() {
        assert!(nfs_root_over_udp("root=/dev/nfs nfsroot=10.0.0.1:/srv/nfs/debian,vers=3,udp ip=dhcp"));
        assert!(nfs_root_over_udp("nfsroot=/srv,proto=udp"));
        assert!(!nfs_root_over_udp("nfsroot=10.0.0.1:/srv/nfs/debian,vers=3,tcp"));
        // A path that merely contains "udp" is no option.
        assert!(!nfs_root_over_udp("nfsroot=10.0.0.1:/srv/udp"));
        assert!(!nfs_root_over_udp("root=/dev/nfs ip=dhcp udp"));
    }
}
