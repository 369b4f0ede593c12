//! Confinement of requested paths to the served root, shared by TFTP and HTTP so
//! both protocols refuse exactly the same escapes.
//!
//! The rules, in order (each has a test):
//! 1. A NUL byte anywhere is refused (C-string truncation tricks).
//! 2. Backslashes are mapped to `/`: Windows clients (and some PXE stacks) send
//!    `boot\bcd`; dnsmasq does the same mapping.
//! 3. A leading `/` is mapped to the root, not to the host's `/`: iPXE and EDK2 send
//!    names without one, pxelinux and GRUB send `/pxelinux.cfg/…`, and HTTP paths
//!    always start with one; tftpd-hpa's `--secure` treats them the same way.
//! 4. Empty and `.` components are dropped; any `..` component is refused, even one
//!    that would stay inside the root (dnsmasq refuses them too; no boot file
//!    needs one).
//! 5. The joined path is resolved with every symlink followed and must still lie
//!    under the (resolved) root: a symlink may point anywhere inside the root, never
//!    outside.
//! 6. Only regular files are served.

use std::io;
use std::path::{Component, Path, PathBuf};

/// Why a requested path was not served.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    /// The name holds a NUL byte.
    #[error("file name {0:?} contains a NUL byte")]
    Nul(String),
    /// The name has a `..` component.
    #[error("file name {0:?} has a `..` component")]
    ParentComponent(String),
    /// The name is empty after mapping (`/`, `.`, ``).
    #[error("file name {0:?} names no file")]
    Empty(String),
    /// The name resolves (through a symlink) to a place outside the root.
    #[error("file name {requested:?} resolves to {resolved}, outside the root")]
    OutsideRoot {
        /// As requested.
        requested: String,
        /// Where it leads.
        resolved: PathBuf,
    },
    /// No such file (or an unreadable path component).
    #[error("file {0:?} not found")]
    NotFound(String),
    /// The name is a directory or another non-regular file.
    #[error("{0:?} is not a regular file")]
    NotAFile(String),
}

impl ConfineError {
    /// True for the refusals that are attempts to leave the root (as opposed to a
    /// missing file): TFTP answers them with "access violation", HTTP with 403.
    pub fn is_refusal(&self) -> bool {
        matches!(self, ConfineError::Nul(_) | ConfineError::ParentComponent(_) | ConfineError::OutsideRoot { .. })
    }
}

/// The directory served, resolved once at start.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    /// Resolve `dir` (symlinks followed) and check it is a directory.
    pub fn new(dir: &Path) -> io::Result<Root> {
        let resolved =
            dir.canonicalize().map_err(|e| io::Error::new(e.kind(), format!("root {}: {e}", dir.display())))?;
        if !resolved.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("root {}: not a directory", dir.display()),
            ));
        }
        Ok(Root { dir: resolved })
    }

    /// The resolved root directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Map a requested name (TFTP file name or decoded HTTP path) to a regular file
    /// under the root, by the rules in the module documentation.
    pub fn resolve(&self, requested: &str) -> Result<PathBuf, ConfineError> {
        let relative = map_name(requested)?;
        let joined = self.dir.join(&relative);
        let resolved = match joined.canonicalize() {
            Ok(p) => p,
            Err(_) => return Err(ConfineError::NotFound(requested.to_string())),
        };
        if !resolved.starts_with(&self.dir) {
            return Err(ConfineError::OutsideRoot { requested: requested.to_string(), resolved });
        }
        match resolved.metadata() {
            Ok(m) if m.is_file() => Ok(resolved),
            Ok(_) => Err(ConfineError::NotAFile(requested.to_string())),
            Err(_) => Err(ConfineError::NotFound(requested.to_string())),
        }
    }
}

/// Rules 1–4: the name as a relative path of normal components.
pub fn map_name(requested: &str) -> Result<PathBuf, ConfineError> {
    if requested.contains('\0') {
        return Err(ConfineError::Nul(requested.to_string()));
    }
    let slashed = requested.replace('\\', "/");
    let mut relative = PathBuf::new();
    for part in slashed.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(ConfineError::ParentComponent(requested.to_string())),
            _ => {
                // A single split part can still parse as something other than a normal
                // component (e.g. a Windows prefix on Windows); accept only Normal.
                let mut components = Path::new(part).components();
                match (components.next(), components.next()) {
                    (Some(Component::Normal(c)), None) => relative.push(c),
                    _ => return Err(ConfineError::ParentComponent(requested.to_string())),
                }
            }
        }
    }
    if relative.as_os_str().is_empty() {
        return Err(ConfineError::Empty(requested.to_string()));
    }
    Ok(relative)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    struct Fixture {
        _tmp: tempfile::TempDir,
        root: Root,
    }

    /// root/ipxe.efi, root/sub/file, root/inside-link -> sub/file,
    /// root/escape-link -> ../outside.txt, root/dir-escape -> / (both outside).
    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let root_dir = tmp.path().join("root");
        fs::create_dir_all(root_dir.join("sub")).unwrap();
        fs::write(root_dir.join("ipxe.efi"), b"efi").unwrap();
        fs::write(root_dir.join("sub/file"), b"sub").unwrap();
        fs::write(tmp.path().join("outside.txt"), b"secret").unwrap();
        std::os::unix::fs::symlink("sub/file", root_dir.join("inside-link")).unwrap();
        std::os::unix::fs::symlink("../outside.txt", root_dir.join("escape-link")).unwrap();
        std::os::unix::fs::symlink("/", root_dir.join("dir-escape")).unwrap();
        let root = Root::new(&root_dir).unwrap();
        Fixture { _tmp: tmp, root }
    }

    #[test]
    fn plain_and_nested_names_resolve() {
        let f = fixture();
        assert_eq!(f.root.resolve("ipxe.efi").unwrap(), f.root.dir().join("ipxe.efi"));
        assert_eq!(f.root.resolve("sub/file").unwrap(), f.root.dir().join("sub/file"));
        assert_eq!(f.root.resolve("./sub//file").unwrap(), f.root.dir().join("sub/file"));
    }

    #[test]
    fn leading_slash_maps_to_root() {
        let f = fixture();
        assert_eq!(f.root.resolve("/ipxe.efi").unwrap(), f.root.dir().join("ipxe.efi"));
        // An absolute host path is looked up under the root, never on the host.
        assert!(matches!(f.root.resolve("/etc/passwd"), Err(ConfineError::NotFound(_))));
    }

    #[test]
    fn parent_components_are_refused() {
        let f = fixture();
        for name in ["../outside.txt", "sub/../../outside.txt", "sub/../ipxe.efi", "..", "/../outside.txt"] {
            let e = f.root.resolve(name).unwrap_err();
            assert!(matches!(e, ConfineError::ParentComponent(_)), "{name}: {e}");
            assert!(e.is_refusal());
        }
    }

    #[test]
    fn backslashes_are_mapped_then_confined() {
        let f = fixture();
        assert_eq!(f.root.resolve("sub\\file").unwrap(), f.root.dir().join("sub/file"));
        assert_eq!(f.root.resolve("\\ipxe.efi").unwrap(), f.root.dir().join("ipxe.efi"));
        assert!(matches!(f.root.resolve("..\\outside.txt"), Err(ConfineError::ParentComponent(_))));
        assert!(matches!(f.root.resolve("sub\\..\\..\\outside.txt"), Err(ConfineError::ParentComponent(_))));
    }

    #[test]
    fn nul_is_refused() {
        let f = fixture();
        let e = f.root.resolve("ipxe.efi\0.txt").unwrap_err();
        assert!(matches!(e, ConfineError::Nul(_)) && e.is_refusal());
    }

    #[test]
    fn symlinks_inside_are_followed_and_outside_refused() {
        let f = fixture();
        assert_eq!(f.root.resolve("inside-link").unwrap(), f.root.dir().join("sub/file"));
        let e = f.root.resolve("escape-link").unwrap_err();
        assert!(matches!(e, ConfineError::OutsideRoot { .. }) && e.is_refusal(), "{e}");
        let e = f.root.resolve("dir-escape/etc/passwd").unwrap_err();
        assert!(matches!(e, ConfineError::OutsideRoot { .. }), "{e}");
    }

    #[test]
    fn directories_and_empty_names_are_not_files() {
        let f = fixture();
        assert!(matches!(f.root.resolve("sub"), Err(ConfineError::NotAFile(_))));
        assert!(matches!(f.root.resolve("/"), Err(ConfineError::Empty(_))));
        assert!(matches!(f.root.resolve("."), Err(ConfineError::Empty(_))));
    }
}
