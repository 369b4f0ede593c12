//! QEMU TCG guests on a tap, and their serial console.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::netns::Netns;

/// `qemu-system-x86_64` in `ns`: TCG (iPXE dies under KVM), no display, VGA or monitor, no
/// reboot, COM1 into the file `serial`, netdev `n0` on the tap `tap`. The caller adds machine,
/// firmware and NIC (`-device …,netdev=n0`).
pub fn qemu_on_tap(ns: &Netns, tap: &str, serial: &Path) -> Command {
    let mut c = ns.command("qemu-system-x86_64");
    c.args(["-accel", "tcg", "-display", "none", "-vga", "none", "-monitor", "none", "-no-reboot", "-serial"])
        .arg(format!("file:{}", serial.display()))
        .args(["-netdev", &format!("tap,id=n0,ifname={tap},script=no,downscript=no")]);
    c
}

/// `dir/sercon-port.bin`: for `-fw_cfg name=etc/sercon-port,file=…`, which makes SeaBIOS
/// mirror its text output to COM1 (port 0x3f8).
pub fn seabios_sercon(dir: &Path) -> PathBuf {
    let sercon = dir.join("sercon-port.bin");
    std::fs::write(&sercon, [0xf8, 0x03]).unwrap();
    sercon
}

/// The serial console file's text so far (lossy UTF-8, without carriage returns).
pub fn console_text(serial: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(serial).unwrap_or_default()).replace('\r', "")
}

/// Whether every marker is in `text`, each after the one before.
pub fn markers_in_order(text: &str, markers: &[&str]) -> bool {
    let mut at = 0;
    markers.iter().all(|m| match text[at..].find(m) {
        Some(i) => {
            at += i + m.len();
            true
        }
        None => false,
    })
}

/// What the console held when [`wait_for_console`] gave up.
#[derive(Debug)]
pub struct ConsoleMiss {
    /// The console text.
    pub text: String,
    /// How long it waited.
    pub elapsed: Duration,
    /// QEMU's exit status if it exited first (else the timeout ran out).
    pub exited: Option<ExitStatus>,
}

/// Polls the console file `serial` of `qemu` until every marker is there in order (returns the
/// text), until `timeout` or until QEMU exits ([`ConsoleMiss`]). QEMU is killed and reaped
/// either way.
pub fn wait_for_console(
    serial: &Path,
    markers: &[&str],
    timeout: Duration,
    qemu: &mut Child,
) -> Result<String, ConsoleMiss> {
    let t = Instant::now();
    let result = loop {
        let text = console_text(serial);
        if markers_in_order(&text, markers) {
            break Ok(text);
        }
        let exited = qemu.try_wait().unwrap();
        if t.elapsed() > timeout || exited.is_some() {
            break Err(ConsoleMiss { text, elapsed: t.elapsed(), exited });
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let _ = qemu.kill();
    let _ = qemu.wait();
    result
}
