//! `optrom serve` booting UEFI guests (OVMF, QEMU TCG) end to end in network namespaces:
//! - `--dhcp full --config BOOT.toml`, OVMF with Debian's `efi-virtio.rom` (iPXE's EFI build in
//!   the NIC ROM): one guest gets a lease and the menu, whose default item boots Debian's real
//!   kernel with the token initrd; a second guest, pinned by a rule to the Xen item that BIOS
//!   clients boot by multiboot, gets Xen's EFI loader (`xen.efi` + a generated `xen.cfg`) and
//!   dom0 prints its token on com1 — and the server says, in its log and on the status page, why
//!   that client took the EFI path. Both guests boot at the same time.
//! - `--dhcp proxy` next to dnsmasq as the network's DHCP server, Linux quick mode
//!   (`--kernel/--initrd/--cmdline`): OVMF with no NIC ROM (EDK2's own virtio-net driver) takes
//!   the port-4011 path, loads `snponly.efi` from optrom's TFTP, and that iPXE is recognised as
//!   ours (it gets the script URL, not the boot file again) and boots the kernel to the token.
//!
//! Needs root, iproute2, dnsmasq, curl, qemu-system-x86_64, OVMF, ipxe-qemu, ipxe and the Debian
//! packages from scripts/fetch-boot-packages.sh; FAILS without them unless OPTROM_SKIP_NETNS=1 /
//! OPTROM_SKIP_QEMU=1 (never under CI=true).

#[path = "../../netboot/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

const EFI_VIRTIO_ROM: &str = "/usr/lib/ipxe/qemu/efi-virtio.rom";
const SNPONLY: &str = "/usr/lib/ipxe/snponly.efi";
/// OVMF TCG boots take 15–40 s on an idle machine; CI runs several guests on 2 shared cores.
const GUEST_TIMEOUT: Duration = Duration::from_secs(900);

fn optrom() -> &'static str {
    env!("CARGO_BIN_EXE_optrom")
}

fn prerequisites() -> bool {
    if !netns_available() {
        return false;
    }
    let files = [OVMF_CODE, OVMF_VARS, EFI_VIRTIO_ROM, SNPONLY].iter().all(|f| Path::new(f).is_file());
    require(
        runs("qemu-system-x86_64") && runs("dnsmasq") && runs("curl") && files,
        "OPTROM_SKIP_QEMU",
        "qemu-system-x86_64, dnsmasq, curl, OVMF, ipxe-qemu and ipxe are needed",
    )
}

#[test]
fn full_dhcp_efi_rom_boots_menu_linux_and_xen_efi() {
    if !prerequisites() {
        return;
    }
    let cache = boot_packages();
    let dir = scratch("serve-uefi-full");
    let (linux_token, xen_token) = (format!("UL{}", token()), format!("UX{}", token()));
    let (linux_mac, xen_mac) = ("52:54:00:83:00:01", "52:54:00:83:00:02");
    // The Xen item is the one serve_policy.rs boots on BIOS by multiboot, plus `efi`.
    let config = dir.join("boot.toml");
    std::fs::write(&config, linux_and_xen_menu(&cache, "optrom uefi e2e", &linux_token, xen_mac, &xen_token, true))
        .unwrap();
    let c = config.to_str().unwrap();

    // What the operator sees before any machine boots: the EFI path, and why.
    let explain = std::process::Command::new(optrom())
        .args(["serve", "--config", c, "--explain", "--mac", xen_mac, "--arch", "x64"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.status.success(), "{text}{}", String::from_utf8_lossy(&explain.stderr));
    assert!(text.contains("rule: `xen-guest` (matched on mac)"), "{text}");
    assert!(
        text.contains("x64 UEFI clients boot Xen's EFI loader root/boot/xen-4.17-amd64.efi (no multiboot on UEFI)"),
        "{text}"
    );
    assert!(text.contains("chain --name xen.efi ") && !text.contains("| kernel "), "no multiboot: {text}");

    let lan = Netns::new("observe-uefi-lan");
    bridge(&lan, "10.83.0.1");
    for tap in ["tap0", "tap1"] {
        lan.ip(&["tuntap", "add", "dev", tap, "mode", "tap"]);
        lan.ip(&["link", "set", tap, "master", "br0", "up"]);
    }
    let state = dir.join("state");
    let args = [
        "--dhcp",
        "full",
        "--interface",
        "br0",
        "--pool",
        "10.83.0.50-10.83.0.60",
        "--config",
        c,
        "--state-dir",
        state.to_str().unwrap(),
        "--http-port",
        "0",
        "--tftp-port",
        "0",
    ];
    let server = Serve::start(&lan, optrom(), &args, &dir.join("serve.log"));
    let guest = |name: &str, tap: &str, mac: &str| {
        let mut a = ovmf_args(&dir, name);
        a.extend(
            ["-m", "1536", "-netdev", &format!("tap,id=n0,ifname={tap},script=no,downscript=no")].map(String::from),
        );
        a.extend(["-device".into(), format!("virtio-net-pci,netdev=n0,mac={mac},romfile={EFI_VIRTIO_ROM}")]);
        Guest::start(&lan, &dir, name, &a)
    };
    // Independent guests, booted at the same time.
    let linux = guest("linux", "tap0", linux_mac);
    let xen = guest("xen", "tap1", xen_mac);
    let [linux_text, xen_text] =
        wait_all([(linux, &linux_token), (xen, &xen_token)], GUEST_TIMEOUT, || server.log_text());

    // The ROM's iPXE (its own virtio-net driver, not OVMF's SNP) drew the menu.
    assert!(linux_text.contains(&format!("net0: {linux_mac} using virtio-net on")), "{linux_text}");
    assert!(linux_text.contains("optrom uefi e2e") && linux_text.contains("Debian kernel + busybox"), "{linux_text}");
    assert!(!linux_text.contains(&format!("BOOT-TOKEN-{xen_token}")), "{linux_text}");
    // Xen's EFI loader read the generated xen.cfg; no multiboot.
    assert!(xen_text.contains(&format!("net0: {xen_mac} using virtio-net on")), "{xen_text}");
    assert!(xen_text.contains("EFI loader") && xen_text.contains("Using configuration file 'xen.cfg'"), "{xen_text}");
    assert!(xen_text.contains("(XEN) Xen version 4.17") && xen_text.contains("(XEN) Bootloader: EFI"), "{xen_text}");
    let log = server.log_text();
    // DHCP classified both as x64 iPXE (user class iPXE, option 93 = 7) and leased from the pool.
    for mac in [linux_mac, xen_mac] {
        assert!(log.contains(&format!("mac={mac}")) && log.contains("firmware=Ipxe arch=Some(7)"), "{mac}: {log}");
    }
    let decision = |mac: &str| {
        log.lines()
            .find(|l| l.contains("boot decision") && l.contains(&format!("mac=\"{mac}\"")))
            .unwrap_or_else(|| panic!("no boot decision for {mac}: {log}"))
            .to_string()
    };
    let linux_decision = decision(linux_mac);
    assert!(linux_decision.contains("arch=x64") && linux_decision.contains("decision=menu `main`"), "{linux_decision}");
    let xen_decision = decision(xen_mac);
    assert!(
        xen_decision.contains("rule=\"xen-guest\"")
            && xen_decision.contains("decision=item `xen`; note: item `xen`: x64 UEFI clients boot Xen's EFI loader"),
        "the server says why it chose the EFI path: {xen_decision}"
    );
    assert!(log.contains("xen.cfg served for Xen's EFI loader"), "{log}");
    assert!(log.contains("path=\"/root/boot/xen-4.17-amd64.efi\" range=\"-\" status=200"), "{log}");
    assert!(!log.contains("path=\"/root/boot/xen-4.17-amd64.gz\""), "no multiboot hypervisor for UEFI: {log}");
    assert!(log.contains("path=\"/vmlinuz\" range=\"-\" status=200"), "{log}");

    // The status page says it too, next to the step the guest reached.
    let page =
        lan.command("curl").args(["-sf", &format!("http://10.83.0.1:{}/", server.port("http"))]).output().unwrap();
    let page = String::from_utf8_lossy(&page.stdout);
    let row_start = page
        .find(&format!("<tr id=\"client-{}\"", xen_mac.replace(':', "-")))
        .unwrap_or_else(|| panic!("no row for the Xen guest: {page}"));
    let row = &page[row_start..row_start + page[row_start..].find("</tr>").unwrap()];
    assert!(row.contains("<td class=\"reached\">kernel fetched</td>"), "{row}");
    assert!(row.contains("x64 UEFI clients boot Xen&#39;s EFI loader"), "{row}");
    assert!(server.stop().success());
}

#[test]
fn proxy_dhcp_ovmf_without_rom_chains_snponly_to_quick_linux() {
    if !prerequisites() {
        return;
    }
    let cache = boot_packages();
    let dir = scratch("serve-uefi-proxy");
    let token = format!("UP{}", token());
    let net = "10.83.1";
    let (lan, _router) = proxy_lan("observe-uefi-p", net, "02:00:00:83:01:02", "fd83:1::", &dir);

    let kernel = cache.join("vmlinuz");
    let initrd = cache.join("token-initrd.gz");
    let cmdline = format!("console=ttyS0 quiet token={token}");
    let state = dir.join("state");
    let args = [
        "--dhcp",
        "proxy",
        "--interface",
        "br0",
        "--root",
        "/usr/lib/ipxe",
        "--state-dir",
        state.to_str().unwrap(),
        "--kernel",
        kernel.to_str().unwrap(),
        "--initrd",
        initrd.to_str().unwrap(),
        "--cmdline",
        &cmdline,
    ];
    let server = Serve::start(&lan, optrom(), &args, &dir.join("serve.log"));
    assert_eq!((server.port("tftp"), server.port("http"), server.port("dhcp")), (69, 80, 67));
    let mut a = ovmf_args(&dir, "ovmf");
    a.extend(["-m", "1024", "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"].map(String::from));
    a.extend(["-device", "virtio-net-pci,netdev=n0,mac=52:54:00:83:01:07,romfile="].map(String::from));
    let mut guest = Guest::start(&lan, &dir, "ovmf", &a);
    let (text, _) = guest.wait_for(&format!("BOOT-TOKEN-{token}"), GUEST_TIMEOUT, || server.log_text());
    drop(guest);

    // EDK2's PXE (not a ROM's iPXE) fetched snponly.efi, whose iPXE then booted the kernel.
    assert!(
        text.contains("NBP filename is snponly.efi") && text.contains("NBP file downloaded successfully"),
        "{text}"
    );
    assert!(text.contains("net0: 52:54:00:83:01:07 using SNP on"), "snponly.efi drives EDK2's NIC: {text}");
    let log = server.log_text();
    let mac = "mac=52:54:00:83:01:07";
    assert!(log.contains("boot server ack") && log.contains("file=snponly.efi"), "the 4011 path: {log}");
    assert!(log.contains("tftp transfer complete"), "{log}");
    // The second DHCP round comes from that iPXE: recognised, it gets the script URL.
    let ipxe_offer = log
        .lines()
        .find(|l| l.contains("proxy offer") && l.contains(mac) && l.contains("firmware=Ipxe"))
        .unwrap_or_else(|| panic!("no proxy offer to the served iPXE: {log}"));
    assert!(ipxe_offer.contains(&format!("file=\"http://{net}.1/_/boot.ipxe\"")), "{ipxe_offer}");
    assert!(!log.contains("file=snponly.efi style=\"http\""), "no chain loop: {log}");
    let decision = log
        .lines()
        .find(|l| l.contains("boot decision") && l.contains("mac=\"52:54:00:83:01:07\""))
        .unwrap_or_else(|| panic!("no boot decision: {log}"));
    assert!(decision.contains("arch=x64") && decision.contains("firmware=ipxe"), "{decision}");
    assert!(log.contains("path=\"/quick/0/vmlinuz\" range=\"-\" status=200"), "{log}");
    assert!(log.contains("path=\"/quick/1/token-initrd.gz\" range=\"-\" status=200"), "{log}");
    assert!(server.stop().success());
}
