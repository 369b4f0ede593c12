//! `optrom serve --dhcp full` network-boots arm64, riscv64 and loongarch64 UEFI guests, each
//! on a tap in a network namespace, all three at once (QEMU TCG):
//! - arm64: AAVMF's own PXE (virtio-net-pci, no ROM) → TFTP `ipxe-arm64.efi` (trixie) → iPXE
//!   asks again as iPXE and gets the script → the Linux quick mode (`--kernel`, `--initrd`,
//!   `--cmdline`) boots Debian's arm64 kernel with a busybox initrd that prints this run's
//!   token on ttyAMA0;
//! - riscv64 and loongarch64: trixie's EDK2 (with the virtio-rng device their network stack
//!   needs, docs/architectures.md) → TFTP `ipxe-riscv64.efi` / `ipxe-loong64.efi` → iPXE
//!   fetches its script, which prints a token assembled from an iPXE variable at run time
//!   (the script text never holds the printed line) with `${platform} ${buildarch}`.
//!
//! The server's side is asserted too: the firmware's DHCP request classified by option 93
//! (11, 27, 39), the boot file sent by TFTP under Debian's name, and the status page's row
//! for each guest (arch, boot file, script).
//!
//! Needs root, iproute2, curl, qemu-system-{aarch64,riscv64,loongarch64}, qemu-efi-aarch64
//! and Debian trixie's test data (scripts/fetch-testdata.sh); FAILS without them unless
//! OPTROM_SKIP_NETNS=1 / OPTROM_SKIP_QEMU=1 / OPTROM_SKIP_TESTDATA=1 (never under CI=true).

#[path = "../../netboot/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use optrom_qemu::{Firmware, Guest, GuestSpec, Network, NicSpec, Outcome, RomChoice, Watch};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Trixie's unpacked packages (iPXE builds, EDK2 firmware, arm64 kernel and busybox).
fn trixie_root() -> Option<PathBuf> {
    let out = Command::new("bash").arg(repo().join("scripts/fetch-testdata.sh")).output().unwrap();
    let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let ok = out.status.success() && root.join("usr/lib/ipxe/ipxe-arm64.efi").is_file();
    if !ok {
        eprintln!("fetch-testdata.sh: {}", String::from_utf8_lossy(&out.stderr));
    }
    require(ok, "OPTROM_SKIP_TESTDATA", "Debian trixie's test data (scripts/fetch-testdata.sh)").then_some(root)
}

fn arm64_kernel(root: &Path) -> PathBuf {
    let boot = root.join("boot");
    std::fs::read_dir(&boot)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-")))
        .unwrap_or_else(|| panic!("no vmlinuz-* in {}", boot.display()))
}

/// A guest of `firmware` whose only NIC is a ROM-less virtio-net-pci (the firmware's own
/// VirtioNetDxe drives it) on `tap` in `ns`.
fn guest_spec(firmware: Firmware, ns: &Netns, tap: &str, mac: &str) -> GuestSpec {
    let mut spec = GuestSpec::new(firmware);
    spec.memory_mib = spec.memory_mib.max(1024);
    spec.nic = Some(NicSpec {
        model: "virtio-net-pci".into(),
        properties: Vec::new(),
        rom: RomChoice::Empty,
        mac: Some(mac.into()),
        // No bootindex: with `bootindex=0` on the NIC, trixie's RISC-V EDK2 created no network
        // boot option and went straight to its shell (docs/architectures.md); fresh VARS and
        // one NIC make PXEv4 the first boot option on every firmware here anyway.
        boot_first: false,
        network: Network::Tap { ifname: tap.into(), netns: Some(ns.0.clone()) },
    });
    spec
}

/// One guest's run: its console when `marker` appeared, and after how long.
struct Run {
    label: &'static str,
    console: String,
    seen: Duration,
}

fn run_until(label: &'static str, spec: &GuestSpec, marker: &str, serve_log: &Path) -> Run {
    let mut guest = Guest::start(spec).unwrap_or_else(|e| panic!("{label}: {e}"));
    let watch = Watch { all: vec![marker.to_string()], timeout: Duration::from_secs(1200), ..Watch::default() };
    let outcome = guest.wait_for(&watch);
    let console = guest.console().text().to_string();
    guest.kill();
    match outcome {
        Ok(Outcome::Seen(seen)) => {
            eprintln!("{label}: {marker} after {:.1} s", seen.as_secs_f64());
            Run { label, console, seen }
        }
        other => panic!(
            "{label}: {marker} not seen: {other:?}\n--- console\n{console}\n--- serve log\n{}",
            std::fs::read_to_string(serve_log).unwrap_or_default()
        ),
    }
}

/// A bridge `br0` at `addr` in a fresh namespace, with one tap per name enslaved to it.
fn lan(name: &str, addr: &str, taps: &[&str]) -> Netns {
    let ns = Netns::new(name);
    bridge(&ns, addr);
    for tap in taps {
        ns.ip(&["tuntap", "add", "dev", tap, "mode", "tap"]);
        ns.ip(&["link", "set", tap, "master", "br0", "up"]);
    }
    ns
}

/// The status page's row for `mac`, as `curl` gets it inside `ns`.
fn status_row(ns: &Netns, addr: &str, http: u16, mac: &str) -> String {
    let out = ns.command("curl").args(["-sf", &format!("http://{addr}:{http}/")]).output().unwrap();
    let page = String::from_utf8_lossy(&out.stdout).into_owned();
    let id = format!("<tr id=\"client-{}\"", mac.replace(':', "-"));
    let start = page.find(&id).unwrap_or_else(|| panic!("no row for {mac} on the status page: {page}"));
    page[start..start + page[start..].find("</tr>").unwrap()].to_string()
}

/// The server log's `dhcp` lines for `mac`.
fn dhcp_lines<'a>(log: &'a str, mac: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains(&format!("::service: dhcp mac={mac} "))).collect()
}

#[test]
fn serve_full_dhcp_network_boots_arm64_riscv64_and_loongarch64_uefi_guests() {
    let have = |bin: &str| Command::new(bin).arg("--version").output().is_ok_and(|o| o.status.success());
    let qemus = ["qemu-system-aarch64", "qemu-system-riscv64", "qemu-system-loongarch64"];
    let curl = Command::new("curl").arg("--version").output().is_ok_and(|o| o.status.success());
    if !netns_available()
        || !require(
            qemus.iter().all(|q| have(q)) && curl && Path::new("/usr/share/AAVMF/AAVMF_CODE.fd").is_file(),
            "OPTROM_SKIP_QEMU",
            "qemu-system-{aarch64,riscv64,loongarch64}, qemu-efi-aarch64 and curl are needed (scripts/install-qemu.sh)",
        )
    {
        return;
    }
    let Some(trixie) = trixie_root() else { return };
    let ipxe_dir = trixie.join("usr/lib/ipxe");
    let dir = tempfile::tempdir().unwrap();
    let pid = std::process::id();
    let (linux_token, ipxe_token) = (format!("A{pid:x}"), format!("R{pid:x}"));

    // The arm64 initrd: trixie's static arm64 busybox (never run on this host).
    let initrd = dir.path().join("token-initrd-arm64.gz");
    let out = Command::new("bash")
        .arg(repo().join("scripts/make-token-initrd.sh"))
        .arg(trixie.join("usr/bin/busybox"))
        .arg(&initrd)
        .output()
        .unwrap();
    assert!(out.status.success(), "make-token-initrd.sh: {}", String::from_utf8_lossy(&out.stderr));

    // arm64: the Linux quick mode.
    let linux_lan = lan("optrom-arch-linux", "10.83.0.1", &["tap0"]);
    let linux_log = dir.path().join("serve-linux.log");
    let cmdline = format!("console=ttyAMA0 token={linux_token}");
    let kernel = arm64_kernel(&trixie);
    let (linux_server, linux_ports) = optrom_serve(
        &linux_lan,
        env!("CARGO_BIN_EXE_optrom"),
        &[
            "--dhcp",
            "full",
            "--interface",
            "br0",
            "--pool",
            "10.83.0.50-10.83.0.60",
            "--root",
            ipxe_dir.to_str().unwrap(),
            "--kernel",
            kernel.to_str().unwrap(),
            "--initrd",
            initrd.to_str().unwrap(),
            "--cmdline",
            &cmdline,
            "--state-dir",
            dir.path().join("state-linux").to_str().unwrap(),
            "--tftp-port",
            "69",
            "--http-port",
            "0",
        ],
        &linux_log,
    );

    // riscv64 and loongarch64: a boot config whose one item is a script. `${p}` is expanded
    // by iPXE, so "optrom-net-<token>" appears only when iPXE ran the script.
    let config = dir.path().join("boot.toml");
    std::fs::write(
        &config,
        format!(
            "[menu.main]\ntitle = \"optrom arch\"\nitems = [\"proof\"]\ndefault = \"proof\"\n\
             timeout = 0\n[item.proof]\nkind = \"script\"\nlabel = \"iPXE proof\"\n\
             script = \"set p optrom-net\\necho ${{p}}-{ipxe_token} ${{platform}} ${{buildarch}}\\nexit\"\n"
        ),
    )
    .unwrap();
    let ipxe_lan = lan("optrom-arch-ipxe", "10.84.0.1", &["tap0", "tap1"]);
    let ipxe_log = dir.path().join("serve-ipxe.log");
    let (ipxe_server, ipxe_ports) = optrom_serve(
        &ipxe_lan,
        env!("CARGO_BIN_EXE_optrom"),
        &[
            "--dhcp",
            "full",
            "--interface",
            "br0",
            "--pool",
            "10.84.0.50-10.84.0.60",
            "--root",
            ipxe_dir.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--state-dir",
            dir.path().join("state-ipxe").to_str().unwrap(),
            "--tftp-port",
            "69",
            "--http-port",
            "0",
        ],
        &ipxe_log,
    );

    let (arm_mac, rv_mac, la_mac) = ("52:54:00:83:00:01", "52:54:00:84:00:01", "52:54:00:84:00:02");
    let arm = guest_spec(Firmware::Aavmf, &linux_lan, "tap0", arm_mac);
    let rv = guest_spec(Firmware::Riscv64Edk2, &ipxe_lan, "tap0", rv_mac);
    let la = guest_spec(Firmware::Loongarch64Edk2, &ipxe_lan, "tap1", la_mac);
    let arm_marker = format!("BOOT-TOKEN-{linux_token}");
    let rv_marker = format!("optrom-net-{ipxe_token} efi riscv64");
    let la_marker = format!("optrom-net-{ipxe_token} efi loong64");
    // Each guest is started and watched by its own thread (QEMU dies with the thread that
    // started it), all three at once.
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles = [
            s.spawn(|| run_until("arm64", &arm, &arm_marker, &linux_log)),
            s.spawn(|| run_until("riscv64", &rv, &rv_marker, &ipxe_log)),
            s.spawn(|| run_until("loongarch64", &la, &la_marker, &ipxe_log)),
        ];
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    for run in &runs {
        eprintln!("{}: {:.1} s from QEMU's start to the token", run.label, run.seen.as_secs_f64());
    }

    // The arm64 guest really ran Debian's kernel from our initrd.
    let arm_console = &runs[0].console;
    assert!(arm_console.contains("Linux version ") && arm_console.contains("aarch64"), "{arm_console}");
    // Each iPXE came from the firmware's PXE: the firmware's download, then iPXE's banner.
    for run in &runs {
        let text = &run.console;
        let downloaded = text.find("NBP file downloaded successfully");
        let banner = text.find("Open Source Network Boot Firmware");
        assert!(
            matches!((downloaded, banner), (Some(d), Some(b)) if d < b),
            "{}: no firmware download followed by iPXE's banner: {text}",
            run.label
        );
    }

    let linux_text = std::fs::read_to_string(&linux_log).unwrap();
    let ipxe_text = std::fs::read_to_string(&ipxe_log).unwrap();
    for (log, mac, code, arch, boot_file, addr, http) in [
        (&linux_text, arm_mac, 11, "arm64", "ipxe-arm64.efi", "10.83.0.1", port(&linux_ports, "http")),
        (&ipxe_text, rv_mac, 27, "riscv64", "ipxe-riscv64.efi", "10.84.0.1", port(&ipxe_ports, "http")),
        (&ipxe_text, la_mac, 39, "loong64", "ipxe-loong64.efi", "10.84.0.1", port(&ipxe_ports, "http")),
    ] {
        // The firmware's request: PXE, option 93 = this architecture's UEFI code; then
        // iPXE's own request, classified as iPXE.
        let lines = dhcp_lines(log, mac);
        assert!(
            lines.iter().any(|l| l.contains("firmware=Pxe") && l.contains(&format!("arch=Some({code})"))),
            "{arch}: no PXE request with option 93 = {code} in {lines:#?}"
        );
        assert!(lines.iter().any(|l| l.contains("firmware=Ipxe")), "{arch}: iPXE never asked: {lines:#?}");
        // The boot file under Debian's name, sent in full over TFTP to this guest.
        assert!(
            log.lines().any(|l| l.contains("tftp transfer complete")
                && l.contains(&format!("mac=\"{mac}\""))
                && l.contains(&format!("file={boot_file} "))),
            "{arch}: no complete TFTP transfer of {boot_file}:\n{log}"
        );
        let row = status_row(if code == 11 { &linux_lan } else { &ipxe_lan }, addr, http, mac);
        assert!(row.contains(&format!("<td>{arch}</td>")), "{arch}: {row}");
        assert!(row.contains(boot_file), "{arch}: boot file step: {row}");
        let reached = if code == 11 { "kernel fetched" } else { "iPXE script" };
        assert!(row.contains(&format!("<td class=\"reached\">{reached}</td>")), "{arch}: {row}");
    }
    assert!(sigterm(linux_server).success());
    assert!(sigterm(ipxe_server).success());
}
