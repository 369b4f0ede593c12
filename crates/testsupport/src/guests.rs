//! Guests booted by `optrom serve`, and the servers around them: `optrom serve` as a child
//! process that has printed its ports ([`Serve`]), x86_64 TCG guests whose serial console is
//! waited on, several at once ([`Guest`], [`wait_all`]), OVMF's arguments, and an NFSv3 server
//! ([`NfsServer`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::netns::{Netns, sh};
use crate::process::optrom_serve;
use crate::skip::{OVMF_CODE, OVMF_VARS};

/// `optrom serve …` as a child process in a namespace, its stderr (the log) in a file.
pub struct Serve {
    pub child: Child,
    pub log: PathBuf,
    /// The `SERVICE ADDRESS` lines it printed: service name → port.
    pub ports: Vec<(String, u16)>,
}

impl Serve {
    /// Starts `exe serve ARGS` in `ns` and waits until it has announced its services
    /// ([`optrom_serve`]).
    pub fn start(ns: &Netns, exe: &str, args: &[&str], log: &Path) -> Serve {
        let (child, ports) = optrom_serve(ns, exe, args, log);
        Serve { child, log: log.to_path_buf(), ports }
    }

    pub fn port(&self, name: &str) -> u16 {
        self.ports.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name} in {:?}", self.ports)).1
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        sh(&["kill", "-TERM", &self.child.id().to_string()]);
        self.child.wait().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// QEMU's OVMF arguments (q35, OVMF's code and a private copy of its variable store in `dir`).
pub fn ovmf_args(dir: &Path, name: &str) -> Vec<String> {
    let vars = dir.join(format!("{name}-vars.fd"));
    std::fs::copy(OVMF_VARS, &vars).unwrap();
    vec![
        "-machine".into(),
        "q35".into(),
        "-drive".into(),
        format!("if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}"),
        "-drive".into(),
        format!("if=pflash,format=raw,unit=1,file={}", vars.display()),
    ]
}

/// An x86_64 TCG guest in a namespace (`-accel tcg`: iPXE dies under KVM) with its serial
/// console in `DIR/NAME.serial`; killed on drop.
pub struct Guest {
    pub name: String,
    child: Child,
    serial: PathBuf,
    started: Instant,
}

impl Guest {
    /// Starts `qemu-system-x86_64` with `args` after the common ones (TCG, no display, no
    /// reboot, serial to the file).
    pub fn start(ns: &Netns, dir: &Path, name: &str, args: &[String]) -> Guest {
        let serial = dir.join(format!("{name}.serial"));
        let child = ns
            .command("qemu-system-x86_64")
            .args(["-accel", "tcg", "-cpu", "max", "-display", "none", "-vga", "none", "-monitor", "none"])
            .args(["-no-reboot", "-serial"])
            .arg(format!("file:{}", serial.display()))
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{name}.qemu-stderr"))).unwrap())
            .spawn()
            .unwrap();
        Guest { name: name.to_string(), child, serial, started: Instant::now() }
    }

    /// The serial console so far, `\r` removed.
    pub fn serial_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.serial).unwrap_or_default()).replace('\r', "")
    }

    /// Waits until `marker` is on the serial console; returns the console text and the time
    /// since the guest started. Panics (with the console and `context()`, e.g. the server log)
    /// after `timeout` or when QEMU exits first.
    pub fn wait_for(&mut self, marker: &str, timeout: Duration, context: impl Fn() -> String) -> (String, Duration) {
        loop {
            let text = self.serial_text();
            if text.contains(marker) {
                let took = self.started.elapsed();
                eprintln!("{}: {marker:?} after {:.1} s", self.name, took.as_secs_f64());
                return (text, took);
            }
            let exited = self.child.try_wait().unwrap();
            if exited.is_some() || self.started.elapsed() > timeout {
                let _ = self.child.kill();
                panic!(
                    "{}: {marker:?} not seen after {:?} (QEMU exit: {exited:?})\n--- serial\n{text}\n--- context\n{}",
                    self.name,
                    self.started.elapsed(),
                    context()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// Waits (each up to `timeout`), at the same time, until each guest shows `BOOT-TOKEN-<its token>` (each one is
/// stopped as soon as it does, so it frees its CPU for the others); the consoles, in order.
pub fn wait_all<const N: usize>(
    guests: [(Guest, &String); N],
    timeout: Duration,
    context: impl Fn() -> String + Sync,
) -> [String; N] {
    std::thread::scope(|s| {
        let context = &context;
        let waits = guests.map(|(mut guest, token)| {
            s.spawn(move || guest.wait_for(&format!("BOOT-TOKEN-{token}"), timeout, context).0)
        });
        waits.map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    })
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An NFSv3 server in `ns`: Debian's nfs-ganesha (userspace, VFS backend) exporting `export`
/// read-write without root squashing, with its own rpcbind. Both run in a private mount
/// namespace with an empty /run, so they never touch the host's rpcbind socket; both are
/// stopped on drop.
pub struct NfsServer {
    child: Child,
    pub log: PathBuf,
}

impl NfsServer {
    pub fn start(ns: &Netns, export: &Path, dir: &Path) -> NfsServer {
        let config = dir.join("ganesha.conf");
        let log = dir.join("ganesha.log");
        std::fs::write(
            &config,
            format!(
                "NFS_CORE_PARAM {{ Protocols = 3; Enable_NLM = false; Enable_RQUOTA = false; }}\n\
                 NFSV4 {{ Graceless = true; }}\n\
                 EXPORT {{ Export_Id = 1; Path = {export}; Pseudo = /export; Access_Type = RW; \
                 Squash = No_Root_Squash; Protocols = 3; Transports = TCP, UDP; SecType = sys; \
                 FSAL {{ Name = VFS; }} }}\n",
                export = export.display()
            ),
        )
        .unwrap();
        let script = format!(
            "mount -t tmpfs -o mode=0755 optrom-nfs-run /run || exit 1; rpcbind -f -w & r=$!; \
             trap 'kill $r $g; wait' TERM; while [ ! -S /run/rpcbind.sock ]; do sleep 0.1; done; \
             ganesha.nfsd -F -L {} -f {} -p {} & g=$!; wait $g",
            log.display(),
            config.display(),
            dir.join("ganesha.pid").display()
        );
        let child = ns
            .command("unshare")
            .args(["--mount", "sh", "-c", &script])
            .stdout(std::fs::File::create(dir.join("ganesha.out")).unwrap())
            .stderr(std::fs::File::create(dir.join("ganesha.err")).unwrap())
            .spawn()
            .unwrap();
        let server = NfsServer { child, log };
        let t = Instant::now();
        while !std::fs::read_to_string(&server.log).unwrap_or_default().contains("NFS SERVER INITIALIZED") {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "nfs-ganesha did not start:\n{}\n{}",
                std::fs::read_to_string(&server.log).unwrap_or_default(),
                std::fs::read_to_string(dir.join("ganesha.err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }
}

impl Drop for NfsServer {
    fn drop(&mut self) {
        // `ip netns exec` and unshare exec the shell, which stops and reaps both daemons (each
        // in the foreground: a daemonising rpcbind would escape it).
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).output();
        let _ = self.child.wait();
    }
}

/// The end-to-end tests' boot configuration: menu `main` (`title`) whose default item boots
/// Debian's kernel with the token initrd (`vmlinuz`, `token-initrd.gz` under `root`, the
/// directory [`crate::boot_packages`] fills), a Xen item (Debian's gzip'd Xen 4.17 for
/// multiboot, and its `xen.efi` too when `xen_efi`) with the dom0 kernel and that initrd, and
/// a rule that pins `xen_mac` to the Xen item; each prints its own token (`linux_token`,
/// `xen_token`) through the `token` variable.
pub fn linux_and_xen_menu(
    root: &Path,
    title: &str,
    linux_token: &str,
    xen_mac: &str,
    xen_token: &str,
    xen_efi: bool,
) -> String {
    let efi = if xen_efi { "efi = \"root/boot/xen-4.17-amd64.efi\"\n" } else { "" };
    format!(
        r#"
[server]
root = "{root}"
[menu.main]
title = "{title}"
items = ["debian", "local"]
default = "debian"
timeout = 2
[item.debian]
kind = "linux"
label = "Debian kernel + busybox"
kernel = "vmlinuz"
initrds = ["token-initrd.gz"]
args = "console=ttyS0 quiet token={{{{ token }}}}"
[item.xen]
kind = "xen"
hypervisor = "root/boot/xen-4.17-amd64.gz"
hypervisor_args = "dom0_mem=512M loglvl=all com1=115200,8n1 console=com1"
{efi}kernel = "vmlinuz"
args = "console=hvc0 earlyprintk=xen token={{{{ token }}}}"
modules = [{{ file = "token-initrd.gz" }}]
[item.local]
kind = "local"
[vars]
token = "{linux_token}"
[[rule]]
name = "xen-guest"
mac = "{xen_mac}"
item = "xen"
vars = {{ token = "{xen_token}" }}
"#,
        root = root.display()
    )
}
