//! One QEMU guest: its command line, its process and its serial console.
//!
//! Every guest gets a private temporary directory (the writable UEFI variable store
//! copy, SeaBIOS's sercon blob, whatever the caller puts there, e.g. a TFTP root)
//! and runs in its own process group with `PR_SET_PDEATHSIG`, so QEMU dies with the
//! thread that started it. Dropping a [`Guest`] kills its process group and removes
//! the directory, which covers every exit path that unwinds (return, `?`, panic, an
//! interrupt seen by [`Guest::wait_for`]). A directory left by a process that was
//! killed outright is removed by the next [`Guest::start`] (its `owner.pid` is dead).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::console::Console;
use crate::interrupt;

/// A QEMU machine type, which fixes the `qemu-system-*` binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Machine {
    /// x86_64 `pc` (i440FX).
    Pc,
    /// x86_64 `q35`.
    Q35,
    /// aarch64 `virt`.
    Virt,
    /// riscv64 `virt`.
    #[serde(rename = "riscv64-virt")]
    Riscv64Virt,
    /// loongarch64 `virt`.
    #[serde(rename = "loongarch64-virt")]
    Loongarch64Virt,
}

impl Machine {
    /// Every machine, in report order.
    pub const ALL: [Machine; 5] =
        [Machine::Pc, Machine::Q35, Machine::Virt, Machine::Riscv64Virt, Machine::Loongarch64Virt];

    /// `-machine` name.
    pub fn name(self) -> &'static str {
        match self {
            Machine::Pc => "pc",
            Machine::Q35 => "q35",
            Machine::Virt | Machine::Riscv64Virt | Machine::Loongarch64Virt => "virt",
        }
    }

    /// The name reports and `--target` use: the `-machine` name, prefixed with the
    /// architecture where several targets share it (`virt` alone is aarch64's).
    pub fn label(self) -> &'static str {
        match self {
            Machine::Riscv64Virt => "riscv64-virt",
            Machine::Loongarch64Virt => "loongarch64-virt",
            other => other.name(),
        }
    }

    /// The QEMU target architecture.
    pub fn arch(self) -> &'static str {
        match self {
            Machine::Pc | Machine::Q35 => "x86_64",
            Machine::Virt => "aarch64",
            Machine::Riscv64Virt => "riscv64",
            Machine::Loongarch64Virt => "loongarch64",
        }
    }

    /// The emulator binary.
    pub fn qemu_binary(self) -> &'static str {
        match self {
            Machine::Pc | Machine::Q35 => "qemu-system-x86_64",
            Machine::Virt => "qemu-system-aarch64",
            Machine::Riscv64Virt => "qemu-system-riscv64",
            Machine::Loongarch64Virt => "qemu-system-loongarch64",
        }
    }

    /// Parse a [`Machine::label`] (`pc`, `q35`, `virt`, `riscv64-virt`,
    /// `loongarch64-virt`) or `i440fx`.
    pub fn parse(name: &str) -> Option<Machine> {
        match name {
            "i440fx" => Some(Machine::Pc),
            _ => Machine::ALL.into_iter().find(|m| m.label() == name),
        }
    }
}

/// The guest firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// SeaBIOS (legacy BIOS), QEMU's default on x86.
    SeaBios,
    /// OVMF (EDK2 for x86_64).
    Ovmf,
    /// AAVMF (EDK2 for aarch64).
    Aavmf,
    /// EDK2 for the riscv64 `virt` machine (Debian trixie's `qemu-efi-riscv64`).
    #[serde(rename = "riscv64-edk2")]
    Riscv64Edk2,
    /// EDK2 for the loongarch64 `virt` machine (Debian trixie's `qemu-efi-loongarch64`).
    #[serde(rename = "loongarch64-edk2")]
    Loongarch64Edk2,
}

impl Firmware {
    /// Every firmware, in report order.
    pub const ALL: [Firmware; 5] =
        [Firmware::SeaBios, Firmware::Ovmf, Firmware::Aavmf, Firmware::Riscv64Edk2, Firmware::Loongarch64Edk2];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Firmware::SeaBios => "seabios",
            Firmware::Ovmf => "ovmf",
            Firmware::Aavmf => "aavmf",
            Firmware::Riscv64Edk2 => "riscv64-edk2",
            Firmware::Loongarch64Edk2 => "loongarch64-edk2",
        }
    }

    /// Parse `seabios`, `ovmf`, `aavmf`, `riscv64-edk2`, `loongarch64-edk2`.
    pub fn parse(name: &str) -> Option<Firmware> {
        Firmware::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The machine this firmware runs on unless told otherwise.
    pub fn default_machine(self) -> Machine {
        match self {
            Firmware::SeaBios => Machine::Pc,
            Firmware::Ovmf => Machine::Q35,
            Firmware::Aavmf => Machine::Virt,
            Firmware::Riscv64Edk2 => Machine::Riscv64Virt,
            Firmware::Loongarch64Edk2 => Machine::Loongarch64Virt,
        }
    }

    /// Whether the firmware runs on `machine`.
    pub fn runs_on(self, machine: Machine) -> bool {
        machine.arch() == self.default_machine().arch()
    }

    /// Guest RAM: what each firmware was proved with (docs/architectures.md for riscv64 and loongarch64).
    pub fn memory_mib(self) -> u32 {
        match self {
            Firmware::SeaBios => 256,
            Firmware::Ovmf | Firmware::Aavmf => 512,
            Firmware::Riscv64Edk2 => 1024,
            Firmware::Loongarch64Edk2 => 2048,
        }
    }

    /// Whether this is UEFI firmware (it has a shell one can type at).
    pub fn is_uefi(self) -> bool {
        self != Firmware::SeaBios
    }
}

/// Where the firmware images are. [`FirmwarePaths::default`] is Debian's layout
/// (packages `ovmf`, `qemu-efi-aarch64`; SeaBIOS is QEMU's built-in default). The
/// riscv64 and loongarch64 images (trixie's `qemu-efi-riscv64`, `qemu-efi-loongarch64`;
/// bookworm has none) are taken from the system when installed there, else from the
/// tree `scripts/fetch-testdata.sh` unpacks ([`testdata_root`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirmwarePaths {
    /// OVMF code (read-only pflash unit 0).
    pub ovmf_code: PathBuf,
    /// OVMF variable store template; each guest gets a fresh writable copy.
    pub ovmf_vars: PathBuf,
    /// AAVMF code.
    pub aavmf_code: PathBuf,
    /// AAVMF variable store template.
    pub aavmf_vars: PathBuf,
    /// RISC-V EDK2 code (`RISCV_VIRT_CODE.fd`).
    pub riscv64_code: PathBuf,
    /// RISC-V EDK2 variable store template (`RISCV_VIRT_VARS.fd`).
    pub riscv64_vars: PathBuf,
    /// LoongArch EDK2 code (`QEMU_EFI.fd`).
    pub loongarch64_code: PathBuf,
    /// LoongArch EDK2 variable store template (`QEMU_VARS.fd`).
    pub loongarch64_vars: PathBuf,
    /// A SeaBIOS image for `-bios`; `None` uses QEMU's default.
    pub seabios: Option<PathBuf>,
}

/// Debian's paths of the riscv64 and loongarch64 firmware (code, vars template).
const RISCV64_EDK2: (&str, &str) =
    ("/usr/share/qemu-efi-riscv64/RISCV_VIRT_CODE.fd", "/usr/share/qemu-efi-riscv64/RISCV_VIRT_VARS.fd");
const LOONGARCH64_EDK2: (&str, &str) =
    ("/usr/share/qemu-efi-loongarch64/QEMU_EFI.fd", "/usr/share/qemu-efi-loongarch64/QEMU_VARS.fd");

/// The directory `scripts/fetch-testdata.sh` unpacks Debian trixie's packages into:
/// `$OPTROM_CACHE/trixie/root`, where `OPTROM_CACHE` defaults to
/// `$XDG_CACHE_HOME/optrom`, then `~/.cache/optrom` (the script's own rule).
pub fn testdata_root() -> Option<PathBuf> {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let cache = env("OPTROM_CACHE")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("optrom")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/optrom")))?;
    Some(cache.join("trixie/root"))
}

/// A Debian firmware pair: the system's when its code image is installed, else the
/// fetched test data's when there, else the system's (so errors name Debian's path).
fn system_or_testdata((code, vars): (&str, &str)) -> (PathBuf, PathBuf) {
    let system = (PathBuf::from(code), PathBuf::from(vars));
    if system.0.is_file() {
        return system;
    }
    match testdata_root() {
        Some(root) if root.join(&code[1..]).is_file() => (root.join(&code[1..]), root.join(&vars[1..])),
        _ => system,
    }
}

impl Default for FirmwarePaths {
    fn default() -> Self {
        let (riscv64_code, riscv64_vars) = system_or_testdata(RISCV64_EDK2);
        let (loongarch64_code, loongarch64_vars) = system_or_testdata(LOONGARCH64_EDK2);
        FirmwarePaths {
            ovmf_code: "/usr/share/OVMF/OVMF_CODE_4M.fd".into(),
            ovmf_vars: "/usr/share/OVMF/OVMF_VARS_4M.fd".into(),
            aavmf_code: "/usr/share/AAVMF/AAVMF_CODE.fd".into(),
            aavmf_vars: "/usr/share/AAVMF/AAVMF_VARS.fd".into(),
            riscv64_code,
            riscv64_vars,
            loongarch64_code,
            loongarch64_vars,
            seabios: None,
        }
    }
}

impl FirmwarePaths {
    /// The (code, vars template) pair of a UEFI firmware.
    pub fn pflash(&self, firmware: Firmware) -> Option<(&Path, &Path)> {
        match firmware {
            Firmware::SeaBios => None,
            Firmware::Ovmf => Some((&self.ovmf_code, &self.ovmf_vars)),
            Firmware::Aavmf => Some((&self.aavmf_code, &self.aavmf_vars)),
            Firmware::Riscv64Edk2 => Some((&self.riscv64_code, &self.riscv64_vars)),
            Firmware::Loongarch64Edk2 => Some((&self.loongarch64_code, &self.loongarch64_vars)),
        }
    }

    /// The files `firmware` needs that are missing, with the package that has them.
    pub fn missing(&self, firmware: Firmware) -> Option<String> {
        let files: Vec<&Path> = match firmware {
            Firmware::SeaBios => self.seabios.iter().map(PathBuf::as_path).collect(),
            _ => {
                let (code, vars) = self.pflash(firmware).expect("UEFI firmware");
                vec![code, vars]
            }
        };
        let missing: Vec<String> = files.iter().filter(|p| !p.is_file()).map(|p| p.display().to_string()).collect();
        if missing.is_empty() {
            return None;
        }
        let package = match firmware {
            Firmware::SeaBios => "seabios",
            Firmware::Ovmf => "ovmf",
            Firmware::Aavmf => "qemu-efi-aarch64",
            Firmware::Riscv64Edk2 => "qemu-efi-riscv64 from trixie; or run scripts/fetch-testdata.sh",
            Firmware::Loongarch64Edk2 => "qemu-efi-loongarch64 from trixie; or run scripts/fetch-testdata.sh",
        };
        Some(format!("{} firmware not found: {} (Debian package {package})", firmware.name(), missing.join(", ")))
    }
}

/// The accelerator. TCG is the default because iPXE dies under KVM on nested
/// hosts (a KVM emulation failure), see the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// Software emulation.
    #[default]
    Tcg,
    /// Hardware virtualisation.
    Kvm,
}

impl Accel {
    /// `-accel` name.
    pub fn name(self) -> &'static str {
        match self {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        }
    }
}

/// QEMU user-mode networking (slirp): DHCP, DNS and TFTP built into QEMU, guest
/// at 10.0.2.15, host side 10.0.2.2. Always `restrict=on`: the guest reaches
/// nothing outside QEMU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserNet {
    /// Directory slirp serves over TFTP.
    pub tftp: Option<PathBuf>,
    /// DHCP boot file name (option 67) slirp offers.
    pub bootfile: Option<String>,
    /// Offer IPv6 (router advertisements). iPXE finishes "Configuring" sooner with
    /// them than waiting for IPv6 autoconfiguration to time out.
    pub ipv6: bool,
}

/// How the guest's NIC is connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// User-mode networking.
    User(UserNet),
    /// A tap device the caller created (and removes), e.g. inside a network
    /// namespace where the caller's DHCP/TFTP/HTTP server listens.
    Tap {
        /// The tap interface name.
        ifname: String,
        /// Run QEMU inside this network namespace (`ip netns exec NAME`).
        netns: Option<String>,
    },
}

/// Which ROM the NIC gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RomChoice {
    /// QEMU's default romfile for the model.
    Default,
    /// `romfile=`: no ROM at all.
    Empty,
    /// This file (passed by absolute path, so no file in QEMU's working directory
    /// or search path can stand in for it).
    File(PathBuf),
}

/// The guest's one NIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicSpec {
    /// `-device` model, e.g. `e1000`, `virtio-net-pci`.
    pub model: String,
    /// Extra device properties, e.g. `("disable-legacy", "on")`.
    pub properties: Vec<(String, String)>,
    /// The ROM.
    pub rom: RomChoice,
    /// MAC address; QEMU's default (52:54:00:12:34:56) when `None`.
    pub mac: Option<String>,
    /// `bootindex=0`: the firmware boots from this NIC first.
    pub boot_first: bool,
    /// How it is connected.
    pub network: Network,
}

/// Everything needed to start a guest.
#[derive(Debug, Clone)]
pub struct GuestSpec {
    /// Machine type.
    pub machine: Machine,
    /// Firmware.
    pub firmware: Firmware,
    /// Firmware image locations.
    pub firmware_paths: FirmwarePaths,
    /// Accelerator.
    pub accel: Accel,
    /// Guest RAM in MiB.
    pub memory_mib: u32,
    /// The NIC, if any.
    pub nic: Option<NicSpec>,
    /// The emulator; `machine.qemu_binary()` from `PATH` when `None`.
    pub qemu: Option<PathBuf>,
    /// Arguments appended to the command line.
    pub extra_args: Vec<OsString>,
    /// Keep QEMU's default devices (VGA, floppy, CD-ROM, …). Off by default: the
    /// firmware then has less to initialise and nothing else to boot from.
    pub default_devices: bool,
}

impl GuestSpec {
    /// A guest with `firmware` on its default machine, no NIC, TCG, Debian's firmware paths.
    pub fn new(firmware: Firmware) -> GuestSpec {
        GuestSpec {
            machine: firmware.default_machine(),
            firmware,
            firmware_paths: FirmwarePaths::default(),
            accel: Accel::Tcg,
            memory_mib: firmware.memory_mib(),
            nic: None,
            qemu: None,
            extra_args: Vec::new(),
            default_devices: false,
        }
    }

    /// The emulator to run.
    pub fn qemu_path(&self) -> PathBuf {
        self.qemu.clone().unwrap_or_else(|| self.machine.qemu_binary().into())
    }

    /// The full command line, program first, for a guest whose private directory is
    /// `work` (firmware variable copies and the sercon blob go there; this writes them).
    pub fn command_line(&self, work: &Path) -> Result<Vec<OsString>, QemuError> {
        if !self.firmware.runs_on(self.machine) {
            return Err(QemuError::Setup(format!(
                "{} does not run on machine {} ({})",
                self.firmware.name(),
                self.machine.label(),
                self.machine.arch()
            )));
        }
        if let Some(missing) = self.firmware_paths.missing(self.firmware) {
            return Err(QemuError::Setup(missing));
        }
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
        if let Some(Network::Tap { netns: Some(ns), .. }) = self.nic.as_ref().map(|n| &n.network) {
            push(&["ip", "netns", "exec", ns]);
        }
        args.push(self.qemu_path().into());
        let memory = self.memory_mib.to_string();
        // -nodefaults: no default NIC, VGA, floppy, CD-ROM, parallel port or monitor —
        // less to initialise, nothing else to boot from, nothing but the test's NIC.
        let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
        if !self.default_devices {
            push(&["-nodefaults"]);
        }
        push(&["-no-user-config", "-accel", self.accel.name(), "-machine", self.machine.name()]);
        push(&["-m", &memory, "-smp", "1", "-display", "none", "-serial", "stdio", "-monitor", "none"]);
        // A guest reset or poweroff ends QEMU instead of booting again.
        push(&["-no-reboot"]);
        if self.machine == Machine::Virt {
            push(&["-cpu", "cortex-a57"]);
        }
        if matches!(self.machine, Machine::Riscv64Virt | Machine::Loongarch64Virt) {
            // These EDK2 builds get EFI_RNG_PROTOCOL only from VirtioRngDxe, and their
            // network stack's depex needs it (docs/architectures.md): without an RNG
            // device they never create a network boot option.
            push(&["-device", "virtio-rng-pci"]);
        }
        match self.firmware {
            Firmware::SeaBios => {
                // SeaBIOS prints through int10h; with no VGA, "sercon" mirrors that text
                // screen to COM1 (I/O port 0x3f8), which QEMU names via fw_cfg.
                let sercon = work.join("sercon-port.bin");
                write_file(&sercon, &[0xf8, 0x03])?;
                args.push("-fw_cfg".into());
                args.push(join_os("name=etc/sercon-port,file=", escape_path(&sercon)));
                // Network first; when every entry failed, reboot at once (-no-reboot: exit).
                args.extend(["-boot".into(), "order=n,reboot-timeout=0".into()]);
                if let Some(bios) = &self.firmware_paths.seabios {
                    args.extend(["-bios".into(), bios.clone().into_os_string()]);
                }
            }
            _ => {
                let (code, template) = self.firmware_paths.pflash(self.firmware).expect("UEFI firmware");
                let vars = work.join("VARS.fd");
                std::fs::copy(template, &vars).map_err(|e| {
                    QemuError::Setup(format!("cannot copy {} to {}: {e}", template.display(), vars.display()))
                })?;
                args.push("-drive".into());
                args.push(join_os("if=pflash,format=raw,unit=0,readonly=on,file=", escape_path(code)));
                args.push("-drive".into());
                args.push(join_os("if=pflash,format=raw,unit=1,file=", escape_path(&vars)));
                // No 5 s boot-menu countdown.
                args.extend(["-boot".into(), "menu=on,splash-time=0".into()]);
            }
        }
        if let Some(nic) = &self.nic {
            let netdev = match &nic.network {
                Network::User(user) => {
                    let mut s = OsString::from("user,id=n0,restrict=on");
                    if !user.ipv6 {
                        s.push(",ipv6=off");
                    }
                    if let Some(dir) = &user.tftp {
                        s.push(",tftp=");
                        s.push(escape_path(dir));
                    }
                    if let Some(file) = &user.bootfile {
                        s.push(",bootfile=");
                        s.push(file.replace(',', ",,"));
                    }
                    s
                }
                Network::Tap { ifname, .. } => {
                    OsString::from(format!("tap,id=n0,ifname={},script=no,downscript=no", ifname.replace(',', ",,")))
                }
            };
            args.extend(["-netdev".into(), netdev]);
            let mut device = OsString::from(format!("{},netdev=n0", nic.model));
            for (key, value) in &nic.properties {
                device.push(format!(",{key}={value}"));
            }
            if let Some(mac) = &nic.mac {
                device.push(format!(",mac={mac}"));
            }
            match &nic.rom {
                RomChoice::Default => {}
                RomChoice::Empty => device.push(",romfile="),
                RomChoice::File(path) => {
                    let absolute = std::path::absolute(path).map_err(|e| {
                        QemuError::Setup(format!("{}: cannot make the path absolute: {e}", path.display()))
                    })?;
                    device.push(",romfile=");
                    device.push(escape_path(&absolute));
                }
            }
            if nic.boot_first {
                device.push(",bootindex=0");
            }
            args.extend(["-device".into(), device]);
        }
        args.extend(self.extra_args.iter().cloned());
        Ok(args)
    }
}

fn join_os(prefix: &str, value: impl AsRef<std::ffi::OsStr>) -> OsString {
    let mut s = OsString::from(prefix);
    s.push(value);
    s
}

/// QEMU option values end at a comma; a literal comma is written twice.
fn escape_path(path: &Path) -> OsString {
    let text = path.as_os_str().to_string_lossy();
    if text.contains(',') { OsString::from(text.replace(',', ",,")) } else { path.as_os_str().to_owned() }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), QemuError> {
    std::fs::write(path, bytes).map_err(|e| QemuError::Setup(format!("cannot write {}: {e}", path.display())))
}

/// Why a guest could not be run to an outcome. None of these means "the guest did
/// not boot": that is an [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QemuError {
    /// Missing emulator or firmware, an unwritable temporary directory, a bad spec.
    #[error("{0}")]
    Setup(String),
    /// QEMU itself failed: a bad option, an unreadable ROM file, …
    #[error("QEMU failed ({status}): {stderr}")]
    Failed {
        /// How it exited.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// SIGINT, SIGTERM or SIGHUP arrived (after [`interrupt::install`]).
    #[error("interrupted by signal {0}")]
    Interrupted(i32),
}

/// What to wait for on the console.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    /// All of these must appear (in any order).
    pub all: Vec<String>,
    /// Stop as soon as one of these appears.
    pub fail_on: Vec<String>,
    /// Stop as soon as this text has appeared more than this many times (a new
    /// shell prompt after a typed command: its output is complete).
    pub more_than: Option<(String, usize)>,
    /// Give up after this long (counted from the call).
    pub timeout: Duration,
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every wanted marker appeared; time since QEMU started.
    Seen(Duration),
    /// A fail marker appeared.
    FailMarker(String, Duration),
    /// The time was up.
    Timeout(Duration),
    /// QEMU exited normally (the guest reset or powered off; with `-no-reboot`
    /// SeaBIOS's "no bootable device" reset ends up here).
    Exited(Duration),
}

struct Shared {
    console: Console,
    stdout_closed: bool,
    stderr: String,
}

/// A running guest. Dropping it kills QEMU and removes its temporary directory.
pub struct Guest {
    child: Child,
    stdin: Option<ChildStdin>,
    shared: Arc<(Mutex<Shared>, Condvar)>,
    readers: Vec<JoinHandle<()>>,
    work: WorkDir,
    started: Instant,
    command: Vec<String>,
    exited: Option<ExitStatus>,
}

impl std::fmt::Debug for Guest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest").field("pid", &self.child.id()).field("work", &self.work.path).finish()
    }
}

/// Prepare the private directory of a guest that is about to start: the caller may
/// put files there (a TFTP root) before [`Guest::start_in`].
pub fn work_dir() -> Result<WorkDir, QemuError> {
    WorkDir::create()
}

impl Guest {
    /// Start a guest in a fresh private directory.
    pub fn start(spec: &GuestSpec) -> Result<Guest, QemuError> {
        Guest::start_in(spec, WorkDir::create()?)
    }

    /// Start a guest in `work` (from [`work_dir`]), which it then owns.
    pub fn start_in(spec: &GuestSpec, work: WorkDir) -> Result<Guest, QemuError> {
        if let Some(signum) = interrupt::requested() {
            return Err(QemuError::Interrupted(signum));
        }
        let args = spec.command_line(&work.path)?;
        let command: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let mut cmd = Command::new(&args[0]);
        cmd.args(&args[1..])
            .current_dir(&work.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a terminal's Ctrl-C reaches only us, and we kill
            // the whole group (QEMU and anything it forked).
            .process_group(0);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: between fork and exec only async-signal-safe calls (prctl, getppid, _exit).
        unsafe {
            cmd.pre_exec(move || {
                // Die with the thread that started us; if the parent is already gone, do not run.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|e| {
            QemuError::Setup(format!("cannot run {}: {e} (install QEMU: scripts/install-qemu.sh)", command[0]))
        })?;
        let shared = Arc::new((
            Mutex::new(Shared { console: Console::new(), stdout_closed: false, stderr: String::new() }),
            Condvar::new(),
        ));
        let mut readers = Vec::new();
        if let Some(mut out) = child.stdout.take() {
            let shared = Arc::clone(&shared);
            readers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    let n = out.read(&mut buf).unwrap_or(0);
                    let (lock, cond) = &*shared;
                    let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
                    if n == 0 {
                        s.stdout_closed = true;
                        cond.notify_all();
                        return;
                    }
                    s.console.feed(&buf[..n], started.elapsed());
                    cond.notify_all();
                }
            }));
        }
        if let Some(mut err) = child.stderr.take() {
            let shared = Arc::clone(&shared);
            readers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = err.read(&mut buf) {
                    let (lock, _) = &*shared;
                    let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
                    s.stderr.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }));
        }
        let stdin = child.stdin.take();
        Ok(Guest { child, stdin, shared, readers, work, started, command, exited: None })
    }

    /// QEMU's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The command line QEMU was started with.
    pub fn command(&self) -> &[String] {
        &self.command
    }

    /// The guest's private directory.
    pub fn work_path(&self) -> &Path {
        &self.work.path
    }

    /// Time since QEMU started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// A snapshot of the console.
    pub fn console(&self) -> Console {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner()).console.clone()
    }

    /// QEMU's stderr so far, without its harmless fw_cfg naming warning.
    pub fn stderr(&self) -> String {
        let s = self.shared.0.lock().unwrap_or_else(|e| e.into_inner()).stderr.clone();
        s.lines()
            .filter(|l| !l.contains("should be prefixed with \"opt/\"") && !l.contains("terminating on signal"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Type `bytes` on the serial console.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let stdin = self.stdin.as_mut().ok_or_else(|| std::io::Error::other("stdin closed"))?;
        stdin.write_all(bytes)?;
        stdin.flush()
    }

    /// Wait until every `watch.all` marker is on the console, a `watch.fail_on`
    /// marker appears, QEMU exits or the time is up. A non-zero exit of QEMU is
    /// [`QemuError::Failed`]; a signal caught by [`interrupt`] is
    /// [`QemuError::Interrupted`].
    pub fn wait_for(&mut self, watch: &Watch) -> Result<Outcome, QemuError> {
        let deadline = Instant::now() + watch.timeout;
        loop {
            {
                let (lock, cond) = &*self.shared;
                let s = lock.lock().unwrap_or_else(|e| e.into_inner());
                if watch.all.iter().all(|m| s.console.contains(m)) && !watch.all.is_empty() {
                    return Ok(Outcome::Seen(self.started.elapsed()));
                }
                if let Some(m) = watch.fail_on.iter().find(|m| s.console.contains(m)) {
                    return Ok(Outcome::FailMarker(m.clone(), self.started.elapsed()));
                }
                if let Some((m, n)) = &watch.more_than
                    && s.console.count(m) > *n
                {
                    return Ok(Outcome::FailMarker(m.clone(), self.started.elapsed()));
                }
                if !s.stdout_closed {
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(Outcome::Timeout(self.started.elapsed()));
                    }
                    if let Some(signum) = interrupt::requested() {
                        return Err(QemuError::Interrupted(signum));
                    }
                    // Wake on new output, and at least every 100 ms to see signals.
                    let wait = (deadline - now).min(Duration::from_millis(100));
                    drop(cond.wait_timeout(s, wait).unwrap_or_else(|e| e.into_inner()));
                    continue;
                }
            }
            // stdout closed: QEMU is exiting. Collect its status and stderr.
            let status = self.reap()?;
            for reader in self.readers.drain(..) {
                let _ = reader.join();
            }
            if status.success() {
                return Ok(Outcome::Exited(self.started.elapsed()));
            }
            return Err(QemuError::Failed { status: status.to_string(), stderr: self.stderr() });
        }
    }

    fn reap(&mut self) -> Result<ExitStatus, QemuError> {
        if let Some(status) = self.exited {
            return Ok(status);
        }
        let status = self.child.wait().map_err(|e| QemuError::Setup(format!("waiting for QEMU: {e}")))?;
        self.exited = Some(status);
        Ok(status)
    }

    /// Kill QEMU now (its whole process group) and wait for it.
    pub fn kill(&mut self) {
        if self.exited.is_some() {
            return;
        }
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child's process group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        if let Ok(status) = self.child.wait() {
            self.exited = Some(status);
        }
        self.stdin = None;
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        self.kill();
        // `work` is dropped after this, removing the directory.
    }
}

static WORK_COUNTER: AtomicU64 = AtomicU64::new(0);
static STALE_SWEEP: Once = Once::new();

/// Name prefix of guest directories in the system temporary directory.
pub const WORK_PREFIX: &str = "optrom-qemu.";

/// A guest's private temporary directory; removed when dropped.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    fn create() -> Result<WorkDir, QemuError> {
        let base = std::env::temp_dir();
        STALE_SWEEP.call_once(|| remove_stale_work_dirs(&base));
        let n = WORK_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = base.join(format!("{WORK_PREFIX}{}.{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path); // a dead process with our pid left it
        let mut builder = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&path).map_err(|e| QemuError::Setup(format!("cannot create {}: {e}", path.display())))?;
        let dir = WorkDir { path };
        write_file(&dir.path.join("owner.pid"), std::process::id().to_string().as_bytes())?;
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Remove guest directories whose owning process is gone (it was SIGKILLed).
fn remove_stale_work_dirs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(WORK_PREFIX) {
            continue;
        }
        let Ok(pid) = std::fs::read_to_string(entry.path().join("owner.pid")) else { continue };
        let Ok(pid) = pid.trim().parse::<libc::pid_t>() else { continue };
        // SAFETY: signal 0 only checks whether the process exists.
        let alive =
            unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(spec: &GuestSpec, work: &Path) -> Vec<String> {
        spec.command_line(work).unwrap().into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn seabios_guest_with_user_networking() {
        let work = tempdir();
        let mut spec = GuestSpec::new(Firmware::SeaBios);
        spec.nic = Some(NicSpec {
            model: "e1000".into(),
            properties: vec![],
            rom: RomChoice::File("/roms/a,b.rom".into()),
            mac: None,
            boot_first: true,
            network: Network::User(UserNet {
                tftp: Some("/srv/t".into()),
                bootfile: Some("boot.ipxe".into()),
                ipv6: false,
            }),
        });
        let a = args(&spec, &work.path).join(" ");
        assert!(a.starts_with("qemu-system-x86_64 -nodefaults -no-user-config -accel tcg -machine pc -m 256 "), "{a}");
        assert!(a.contains("-netdev user,id=n0,restrict=on,ipv6=off,tftp=/srv/t,bootfile=boot.ipxe"), "{a}");
        assert!(a.contains("-device e1000,netdev=n0,romfile=/roms/a,,b.rom,bootindex=0"), "{a}");
        assert!(a.contains("-boot order=n,reboot-timeout=0"), "{a}");
        assert_eq!(std::fs::read(work.path.join("sercon-port.bin")).unwrap(), [0xf8, 0x03]);
    }

    #[test]
    fn ovmf_guest_on_a_tap_in_a_namespace() {
        let work = tempdir();
        let template = work.path.join("template.fd");
        std::fs::write(&template, b"vars").unwrap();
        let mut spec = GuestSpec::new(Firmware::Ovmf);
        spec.firmware_paths.ovmf_vars = template;
        spec.firmware_paths.ovmf_code = "/proc/self/exe".into(); // any existing file
        spec.nic = Some(NicSpec {
            model: "virtio-net-pci".into(),
            properties: vec![("disable-legacy".into(), "on".into())],
            rom: RomChoice::Empty,
            mac: Some("52:54:00:77:00:01".into()),
            boot_first: false,
            network: Network::Tap { ifname: "tap0".into(), netns: Some("nbtest".into()) },
        });
        let a = args(&spec, &work.path).join(" ");
        assert!(a.starts_with("ip netns exec nbtest qemu-system-x86_64 "), "{a}");
        assert!(a.contains("-machine q35"), "{a}");
        assert!(a.contains("-netdev tap,id=n0,ifname=tap0,script=no,downscript=no"), "{a}");
        assert!(a.contains("-device virtio-net-pci,netdev=n0,disable-legacy=on,mac=52:54:00:77:00:01,romfile="), "{a}");
        assert!(
            a.contains(&format!("if=pflash,format=raw,unit=1,file={}", work.path.join("VARS.fd").display())),
            "{a}"
        );
        // A fresh writable copy of the template.
        assert_eq!(std::fs::read(work.path.join("VARS.fd")).unwrap(), b"vars");
    }

    #[test]
    fn firmware_on_the_wrong_machine_and_missing_firmware_are_setup_errors() {
        let work = tempdir();
        let mut spec = GuestSpec::new(Firmware::Aavmf);
        spec.machine = Machine::Q35;
        assert!(matches!(spec.command_line(&work.path), Err(QemuError::Setup(m)) if m.contains("does not run on")));
        let mut spec = GuestSpec::new(Firmware::Ovmf);
        spec.firmware_paths.ovmf_code = "/nonexistent/OVMF_CODE.fd".into();
        assert!(matches!(spec.command_line(&work.path), Err(QemuError::Setup(m)) if m.contains("Debian package ovmf")));
    }

    #[test]
    fn riscv64_and_loongarch64_guests_get_virt_pflash_and_an_rng() {
        let work = tempdir();
        let template = work.path.join("template.fd");
        std::fs::write(&template, b"vars").unwrap();
        for (fw, binary, memory) in [
            (Firmware::Riscv64Edk2, "qemu-system-riscv64", "1024"),
            (Firmware::Loongarch64Edk2, "qemu-system-loongarch64", "2048"),
        ] {
            let mut spec = GuestSpec::new(fw);
            spec.firmware_paths.riscv64_code = "/proc/self/exe".into();
            spec.firmware_paths.riscv64_vars = template.clone();
            spec.firmware_paths.loongarch64_code = "/proc/self/exe".into();
            spec.firmware_paths.loongarch64_vars = template.clone();
            let a = args(&spec, &work.path).join(" ");
            assert!(a.starts_with(&format!("{binary} -nodefaults ")), "{a}");
            assert!(a.contains(&format!("-machine virt -m {memory} ")), "{a}");
            assert!(a.contains("-device virtio-rng-pci"), "{a}");
            assert!(a.contains("if=pflash,format=raw,unit=0,readonly=on,file=/proc/self/exe"), "{a}");
            assert!(!a.contains("-cpu cortex-a57"), "{a}");
            // The same machine name, told apart by architecture.
            assert_eq!(Machine::parse(spec.machine.label()), Some(spec.machine));
            assert!(fw.runs_on(spec.machine) && !fw.runs_on(Machine::Virt));
        }
        assert_eq!(Firmware::parse("riscv64-edk2"), Some(Firmware::Riscv64Edk2));
        assert_eq!(Machine::parse("virt"), Some(Machine::Virt));
        let mut spec = GuestSpec::new(Firmware::Riscv64Edk2);
        spec.firmware_paths.riscv64_code = "/nonexistent/RISCV_VIRT_CODE.fd".into();
        assert!(
            matches!(spec.command_line(&work.path), Err(QemuError::Setup(m)) if m.contains("scripts/fetch-testdata.sh"))
        );
    }

    fn tempdir() -> WorkDir {
        WorkDir::create().unwrap()
    }
}
