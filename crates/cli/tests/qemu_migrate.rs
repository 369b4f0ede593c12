//! Real QEMU agrees with optrom: the ROM RAM block has the size `optrom info`
//! reports, and live migration between two local QEMU processes completes or
//! fails exactly as `optrom migrate-check` predicts, with QEMU's own error text.

use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{E1000, optrom};

const QEMU: &str = "qemu-system-x86_64";

fn have_qemu() -> bool {
    common::have_debian() && common::have_qemu()
}

/// A QEMU process with an HMP monitor on a unix socket; killed on drop.
struct Vm {
    child: Child,
    monitor: BufReader<UnixStream>,
}

impl Vm {
    fn start(dir: &Path, name: &str, rom: &Path, extra: &[&str]) -> Vm {
        let sock = dir.join(format!("{name}.sock"));
        let mut child = Command::new(QEMU)
            .args([
                "-accel",
                "tcg",
                "-machine",
                "pc",
                "-m",
                "128",
                "-display",
                "none",
                "-vga",
                "none",
                "-nodefaults",
                "-S",
            ])
            .arg("-monitor")
            .arg(format!("unix:{},server=on,wait=off", sock.display()))
            .args(["-netdev", "user,id=n0,restrict=on", "-device"])
            .arg(format!("e1000,netdev=n0,addr=03.0,romfile={}", rom.display()))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start qemu");
        let deadline = Instant::now() + Duration::from_secs(20);
        let stream = loop {
            match UnixStream::connect(&sock) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => {
                    let _ = child.kill();
                    panic!("QEMU monitor {} never came up: {e}", sock.display())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut vm = Vm { child, monitor: BufReader::new(stream) };
        vm.read_prompt();
        vm
    }

    fn read_prompt(&mut self) -> String {
        let mut out = Vec::new();
        let mut byte = [0u8; 1];
        while !out.ends_with(b"(qemu) ") {
            match self.monitor.read(&mut byte) {
                Ok(1) => out.push(byte[0]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn hmp(&mut self, command: &str) -> String {
        self.try_hmp(command).unwrap_or_else(|| panic!("QEMU monitor closed before `{command}`"))
    }

    /// As [`Vm::hmp`], `None` when the monitor is gone (QEMU exited).
    fn try_hmp(&mut self, command: &str) -> Option<String> {
        self.monitor.get_mut().write_all(format!("{command}\n").as_bytes()).ok()?;
        let answer = self.read_prompt();
        answer.ends_with("(qemu) ").then_some(answer)
    }

    /// Kill QEMU and return what it printed on stderr.
    fn finish(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut err = String::new();
        if let Some(mut s) = self.child.stderr.take() {
            let _ = s.read_to_string(&mut err);
        }
        err
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The size of the ROM RAM block, from `info ramblock`.
fn ramblock_size(vm: &mut Vm, block: &str) -> u64 {
    let out = vm.hmp("info ramblock");
    let line = out.lines().find(|l| l.contains(block)).unwrap_or_else(|| panic!("no {block} in:\n{out}"));
    let used = line.split_whitespace().filter(|w| w.starts_with("0x")).nth(1).unwrap_or_else(|| panic!("{line}"));
    u64::from_str_radix(used.trim_start_matches("0x"), 16).unwrap()
}

fn bar_from_optrom(rom: &Path) -> u64 {
    let out = optrom(&["info", "--json", rom.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["files"][0]["bar_size"].as_u64().unwrap()
}

fn padded(dir: &Path, name: &str, bytes: u64) -> PathBuf {
    let out = dir.join(name);
    let o = optrom(&["pad", E1000, "--to", &bytes.to_string(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

#[test]
fn ramblock_size_matches_optrom() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, size, bar) in [("under.rom", 262144 - 512, 0x40000), ("over.rom", 262144 + 512, 0x80000)] {
        let rom = padded(dir.path(), name, size);
        assert_eq!(bar_from_optrom(&rom), bar, "{name}");
        let mut vm = Vm::start(dir.path(), name, &rom, &[]);
        assert_eq!(ramblock_size(&mut vm, "0000:00:03.0/e1000.rom"), bar, "{name}: QEMU's RAM block");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Migrate from a VM with `src` to one with `dst`; returns (completed, destination stderr).
fn migrate(dir: &Path, src: &Path, dst: &Path, extra: &[&str]) -> (bool, String) {
    let port = free_port();
    let incoming = format!("tcp:127.0.0.1:{port}");
    let dest = Vm::start(dir, "dst", dst, &[extra, &["-incoming", &incoming]].concat());
    let mut source = Vm::start(dir, "src", src, extra);
    source.hmp(&format!("migrate -d {incoming}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let info = source.hmp("info migrate");
        let status = info
            .lines()
            .find_map(|l| l.trim().strip_prefix("Status:").or_else(|| l.trim().strip_prefix("Migration status:")))
            .map(|s| s.trim().to_string());
        match status.as_deref() {
            Some(s) if s.starts_with("completed") || s.starts_with("failed") => break s.to_string(),
            _ if Instant::now() > deadline => panic!("migration did not finish:\n{info}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let mut dest = dest;
    let completed = status.starts_with("completed") && destination_runs(&mut dest);
    drop(source);
    let err = dest.finish();
    (completed, err)
}

/// Whether an `info status` answer says the destination has finished loading
/// the migration stream: paused or running, and no longer `(inmigrate)`, which
/// QEMU shows while it is still receiving.
fn finished_loading(info_status: &str) -> bool {
    let Some(status) = info_status.lines().find_map(|l| l.trim().strip_prefix("VM status:")) else {
        return false;
    };
    let status = status.trim();
    !status.contains("inmigrate") && (status.starts_with("paused") || status.starts_with("running"))
}

/// Wait until the destination has loaded the whole stream, then `cont` it and
/// require that it runs: only then has the migration really succeeded.
fn destination_runs(dest: &mut Vm) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let Some(status) = dest.try_hmp("info status") else { return false };
        if finished_loading(&status) {
            break;
        }
        if !status.contains("inmigrate") || Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if dest.try_hmp("cont").is_none() {
        return false;
    }
    dest.try_hmp("info status").is_some_and(|s| s.contains("VM status: running"))
}

#[test]
fn destination_status_inmigrate_is_not_loaded() {
    assert!(!finished_loading("VM status: paused (inmigrate)\r\n(qemu) "));
    assert!(!finished_loading("(qemu) "));
    assert!(finished_loading("info status\r\nVM status: paused\r\n(qemu) "));
    assert!(finished_loading("VM status: running\r\n"));
}

#[test]
fn migration_matches_migrate_check() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let under = padded(dir.path(), "under.rom", 262144 - 512);
    let over = padded(dir.path(), "over.rom", 262144 + 512);
    let original = PathBuf::from(E1000);

    // Same bucket: optrom predicts success, QEMU migrates.
    let predicted = optrom(&[
        "migrate-check",
        "--nic",
        "e1000",
        "--pci-addr",
        "0000:00:03.0",
        under.to_str().unwrap(),
        original.to_str().unwrap(),
    ]);
    assert_eq!(predicted.status.code(), Some(0), "{}", String::from_utf8_lossy(&predicted.stdout));
    let (completed, err) = migrate(dir.path(), &under, &original, &[]);
    assert!(completed, "same-bucket migration failed:\n{err}");

    // Different buckets: optrom predicts the exact QEMU error.
    let predicted = optrom(&[
        "migrate-check",
        "--json",
        "--nic",
        "e1000",
        "--pci-addr",
        "0000:00:03.0",
        under.to_str().unwrap(),
        over.to_str().unwrap(),
    ]);
    assert_eq!(predicted.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&predicted.stdout).unwrap();
    let expected = v["rows"][0]["qemu_error"].as_str().unwrap().to_string();
    assert_eq!(expected, "Size mismatch: 0000:00:03.0/e1000.rom: 0x40000 != 0x80000: Invalid argument");
    let (completed, err) = migrate(dir.path(), &under, &over, &[]);
    assert!(!completed, "cross-bucket migration must fail");
    assert!(err.contains(&format!("qemu-system-x86_64: {expected}")), "QEMU said:\n{err}");

    // The fix optrom suggests (pin romsize on both sides) makes it migrate.
    let pinned = optrom(&[
        "migrate-check",
        "--romsize",
        "512K",
        "--nic",
        "e1000",
        under.to_str().unwrap(),
        over.to_str().unwrap(),
    ]);
    assert_eq!(pinned.status.code(), Some(0));
    let (completed, err) = migrate(dir.path(), &under, &over, &["-global", "e1000.romsize=524288"]);
    assert!(completed, "romsize-pinned migration failed:\n{err}");
}
