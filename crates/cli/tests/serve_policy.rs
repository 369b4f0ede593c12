//! `optrom serve` with a boot policy:
//! - `--check` and `--explain` print the decisions and fail on broken Xen entries;
//! - end to end in a network namespace with a tap: `optrom serve --dhcp full --config BOOT.toml`,
//!   a SeaBIOS guest with Debian's `pxe-virtio.rom` gets a lease, the menu's default item boots
//!   Debian's kernel with a busybox initrd that prints this run's token; the status page, loaded
//!   in headless Chromium meanwhile, shows the guest's MAC and "kernel fetched"; a second guest
//!   boots Debian's gzip'd Xen 4.17 (served decompressed) with the dom0 token on com1.
//!
//! Needs root, iproute2, QEMU, ipxe-qemu, chromium and the Debian packages from
//! scripts/fetch-boot-packages.sh; FAILS without them unless OPTROM_SKIP_NETNS=1 /
//! OPTROM_SKIP_QEMU=1 (never under CI=true).

#[path = "../../netboot/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn optrom(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_optrom")).arg("serve").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_and_explain() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["vmlinuz", "initrd"] {
        std::fs::write(dir.path().join(f), b"k").unwrap();
    }
    for i in 0..8 {
        std::fs::write(dir.path().join(format!("m{i}")), b"m").unwrap();
    }
    // An ELF file with a Multiboot header (magic, flags, checksum summing to 0) in its first 8 KiB.
    let mut xen = vec![0u8; 8192];
    xen[..4].copy_from_slice(b"\x7fELF");
    let (magic, flags) = (0x1BAD_B002u32, 0u32);
    xen[16..20].copy_from_slice(&magic.to_le_bytes());
    xen[20..24].copy_from_slice(&flags.to_le_bytes());
    xen[24..28].copy_from_slice(&0u32.wrapping_sub(magic).wrapping_sub(flags).to_le_bytes());
    std::fs::write(dir.path().join("xen"), &xen).unwrap();
    let config = dir.path().join("boot.toml");
    let write = |modules: usize, extra: &str| {
        let mods: Vec<String> = (0..modules).map(|i| format!("{{ file = \"m{i}\" }}")).collect();
        std::fs::write(
            &config,
            format!(
                "[boot_files]\nx64 = \"\"\narm64 = \"\"\nriscv64 = \"\"\nloong64 = \"\"\n[menu.main]\nitems = [\"xen\"]\n\
                 [item.xen]\nkind = \"xen\"\nhypervisor = \"xen\"\nkernel = \"vmlinuz\"\nmodules = [{}]\n{extra}\
                 [[rule]]\nname = \"node1\"\nmac = \"52:54:00:00:00:01\"\nitem = \"xen\"\n",
                mods.join(", ")
            ),
        )
        .unwrap();
    };
    let c = config.to_str().unwrap();
    write(7, "");
    let (rc, out, err) = optrom(&["--config", c, "--check"]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("== bios / pxe: TFTP undionly.kpxe") && out.contains("no problems found"), "{out}");
    assert!(out.contains("   | kernel http://255.255.255.255/xen\n"), "worst-case server address: {out}");
    write(8, "");
    let (rc, out, _) = optrom(&["--config", c, "--check"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("error: item `xen`: 9 multiboot modules"), "{out}");
    write(1, "args = \"root=/dev/nfs nfsroot=10.0.0.1:/srv\"\n");
    let (rc, out, _) = optrom(&["--config", c, "--check"]);
    assert_eq!(rc, 1);
    assert!(out.contains("error: item `xen`: the dom0 command line has root=/dev/nfs but no ip= setting"), "{out}");
    write(1, &format!("hypervisor_args = \"{}\"\n", "x".repeat(500)));
    let (rc, out, _) = optrom(&["--config", c, "--check"]);
    assert_eq!(rc, 1);
    assert!(out.contains("error: item `xen`: multiboot command lines take"), "{out}");

    write(1, "");
    let (rc, out, err) = optrom(&["--config", c, "--explain", "--mac", "52:54:00:00:00:01", "--arch", "bios"]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("rule: `node1` (matched on mac)") && out.contains("decision: item `xen`"), "{out}");
    assert!(out.contains("  | module http://255.255.255.255/vmlinuz\n"), "{out}");
    // The same machine as a UEFI client: refused, with the reason.
    let (rc, out, _) = optrom(&["--config", c, "--explain", "--mac", "52:54:00:00:00:01", "--arch", "x64"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("iPXE builds only for BIOS, and this client is x64 UEFI"), "{out}");

    // Quick modes.
    let k = dir.path().join("vmlinuz");
    let (rc, out, err) = optrom(&[
        "--kernel",
        k.to_str().unwrap(),
        "--initrd",
        dir.path().join("initrd").to_str().unwrap(),
        "--cmdline",
        "console=ttyS0",
        "--check",
    ]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("kernel http://255.255.255.255/quick/0/vmlinuz initrd=initrd console=ttyS0"), "{out}");
    let x = dir.path().join("xen");
    let module = format!("{} console=hvc0", k.display());
    let (rc, out, _) = optrom(&["--multiboot", x.to_str().unwrap(), "--module", &module, "--check"]);
    assert_eq!(rc, 1, "UEFI clients cannot multiboot: {out}");
    assert!(out.contains("module http://255.255.255.255/quick/1/vmlinuz console=hvc0"), "{out}");
    assert!(out.contains("error: menu `main` has nothing bootable for x64 clients"), "{out}");
    let (rc, _, err) = optrom(&["--module", "x", "--check"]);
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("--module needs --multiboot"), "{err}");
    let (rc, _, err) = optrom(&["--config", c, "--explain", "--mac", "zz", "--arch", "bios"]);
    assert_eq!(rc, 2);
    assert!(err.starts_with("optrom serve: --mac: invalid MAC address"), "{err}");
}

// ---------------------------------------------------------------------------------------------

/// `optrom serve …` in `ns`; returns the child and its HTTP port.
fn serve(ns: &Netns, args: &[&str], log: &Path) -> (Child, u16) {
    let (child, ports) = optrom_serve(ns, env!("CARGO_BIN_EXE_optrom"), args, log);
    let http = ports.iter().find(|(name, _)| name == "http");
    let http = http.unwrap_or_else(|| panic!("no http line: {}", std::fs::read_to_string(log).unwrap_or_default()));
    (child, http.1)
}

/// Runs a SeaBIOS + pxe-virtio.rom guest on `tap` until `token` shows on its serial console.
fn guest_until(ns: &Netns, dir: &Path, tap: &str, mac: &str, token: &str, log: &Path) -> String {
    let serial = dir.join(format!("{tap}.serial"));
    let sercon = seabios_sercon(dir);
    let rom = format!("virtio-net-pci,netdev=n0,mac={mac},disable-legacy=on,romfile={PXE_VIRTIO_ROM}");
    let mut qemu = qemu_on_tap(ns, tap, &serial)
        .args(["-cpu", "max", "-m", "1536", "-machine", "pc", "-boot", "order=n"])
        .arg("-fw_cfg")
        .arg(format!("name=etc/sercon-port,file={}", sercon.display()))
        .args(["-device", &rom])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let want = format!("BOOT-TOKEN-{token}");
    let text = wait_for_console(&serial, &[&want], Duration::from_secs(600), &mut qemu).unwrap_or_else(|miss| {
        panic!(
            "{want} not seen after {:?}\n--- serial\n{}\n--- serve\n{}",
            miss.elapsed,
            miss.text,
            std::fs::read_to_string(log).unwrap()
        )
    });
    eprintln!("{tap}: token after {:.1} s", t.elapsed().as_secs_f64());
    text
}

#[test]
fn serve_full_dhcp_boots_menu_default_linux_and_xen_with_status_page() {
    if !netns_available()
        || !needs(
            "QEMU",
            runs("qemu-system-x86_64") && runs("chromium") && Path::new(PXE_VIRTIO_ROM).is_file(),
            "qemu-system-x86_64, ipxe-qemu or chromium",
        )
    {
        return;
    }
    let cache = boot_packages();
    let dir = tempfile::tempdir().unwrap();
    let pid = std::process::id();
    let (linux_token, xen_token) = (format!("L{pid:x}"), format!("X{pid:x}"));
    let config = dir.path().join("boot.toml");
    std::fs::write(
        &config,
        linux_and_xen_menu(&cache, "optrom e2e", &linux_token, "52:54:00:82:00:02", &xen_token, false),
    )
    .unwrap();

    let lan = Netns::new("observe-pol-lan");
    bridge(&lan, "10.82.0.1");
    for tap in ["tap0", "tap1"] {
        add_tap(&lan, tap);
    }
    let log = dir.path().join("serve.log");
    let state = dir.path().join("state");
    let (server, http) = serve(
        &lan,
        &[
            "--dhcp",
            "full",
            "--interface",
            "br0",
            "--pool",
            "10.82.0.50-10.82.0.60",
            "--config",
            config.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "--http-port",
            "0",
            "--tftp-port",
            "0",
        ],
        &log,
    );

    let text = guest_until(&lan, dir.path(), "tap0", "52:54:00:82:00:01", &linux_token, &log);
    assert!(text.contains("optrom e2e") && text.contains("Debian kernel + busybox"), "the menu was shown: {text}");
    // The status page, as Chromium renders it.
    let dom = lan
        .command("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--dump-dom"])
        .arg(format!("http://10.82.0.1:{http}/"))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    let row_start =
        dom.find("<tr id=\"client-52-54-00-82-00-01\"").unwrap_or_else(|| panic!("no row for the guest: {dom}"));
    let row = &dom[row_start..row_start + dom[row_start..].find("</tr>").unwrap()];
    assert!(row.contains("<td class=\"mac\">52:54:00:82:00:01</td>"), "{row}");
    assert!(row.contains("<td class=\"reached\">kernel fetched</td>"), "{row}");
    assert!(row.contains("10.82.0.5"), "the lease address: {row}");

    let text = guest_until(&lan, dir.path(), "tap1", "52:54:00:82:00:02", &xen_token, &log);
    assert!(text.contains("Xen version 4.17"), "{text}");
    let serve_log = std::fs::read_to_string(&log).unwrap();
    assert!(
        serve_log.contains("path=\"/root/boot/xen-4.17-amd64.gz\"") && serve_log.contains("status=200"),
        "{serve_log}"
    );
    assert!(sigterm(server).success());
}
