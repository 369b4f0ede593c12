//! Xen over PXE + NFS, end to end: `optrom serve --dhcp full` with the example
//! `examples/netboot/xen-nfs.toml` (only its paths and addresses changed), a SeaBIOS guest with
//! Debian's `pxe-virtio.rom` gets the menu, whose default item boots Debian's Xen 4.17 (served
//! decompressed) with Debian's dom0 kernel and an initrd that loads Debian's NFS and virtio
//! modules, gets an address by DHCP and switches to the root that nfs-ganesha in the test
//! network exports (NFSv3 over TCP, as the example's `nfsroot=…,vers=3,tcp` says: Debian's kernel has
//! no NFS over UDP). The token is
//! only in a file on that NFS root; dom0 prints it on Xen's console and writes a file back.
//!
//! Needs root, iproute2, QEMU, ipxe-qemu, nfs-ganesha, nfs-ganesha-vfs, rpcbind and the Debian
//! packages from scripts/fetch-boot-packages.sh; FAILS without them unless OPTROM_SKIP_NETNS=1 /
//! OPTROM_SKIP_QEMU=1 (never under CI=true).

#[path = "../../netboot/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

const PXE_VIRTIO_ROM: &str = "/usr/lib/ipxe/qemu/pxe-virtio.rom";

#[test]
fn xen_dom0_boots_from_an_nfs_root_with_the_example_menu() {
    if !netns_available() {
        return;
    }
    let ganesha = Path::new("/usr/bin/ganesha.nfsd").is_file() && Path::new("/usr/sbin/rpcbind").is_file();
    if !require(
        runs("qemu-system-x86_64") && Path::new(PXE_VIRTIO_ROM).is_file() && ganesha,
        "OPTROM_SKIP_QEMU",
        "qemu-system-x86_64, ipxe-qemu, nfs-ganesha, nfs-ganesha-vfs and rpcbind are needed",
    ) {
        return;
    }
    let cache = boot_packages();
    let dir = scratch("serve-nfs");
    let token = format!("NFS{}", token());

    // The boot root in the example's layout.
    let root = dir.join("netboot");
    std::fs::create_dir_all(root.join("xen")).unwrap();
    std::fs::create_dir_all(root.join("debian")).unwrap();
    std::os::unix::fs::symlink(cache.join("root/boot/xen-4.17-amd64.gz"), root.join("xen/xen-4.17-amd64.gz")).unwrap();
    std::os::unix::fs::symlink(cache.join("vmlinuz"), root.join("debian/vmlinuz")).unwrap();
    let modules = std::fs::read_dir(cache.join("root/lib/modules")).unwrap().next().unwrap().unwrap().path();
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/make-nfs-initrd.sh"))
        .arg(cache.join("root/bin/busybox"))
        .arg(&modules)
        .arg(root.join("debian/initrd.img"))
        .output()
        .unwrap();
    assert!(out.status.success(), "make-nfs-initrd.sh: {}", String::from_utf8_lossy(&out.stderr));

    // The NFS root: busybox and an /init that prints the token it reads over NFS and writes back.
    let export = dir.join("export");
    for d in ["bin", "proc", "dev", "sys"] {
        std::fs::create_dir_all(export.join(d)).unwrap();
    }
    std::fs::copy(cache.join("root/bin/busybox"), export.join("bin/busybox")).unwrap();
    std::fs::write(export.join("token"), format!("{token}\n")).unwrap();
    write_exec(
        &export.join("init"),
        "#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\n\
         echo \"nfs root: $(/bin/busybox grep ' / ' /proc/mounts)\"\n\
         /bin/busybox cat /proc/cmdline > /written-by-dom0\n\
         echo \"BOOT-TOKEN-$(/bin/busybox cat /token)\"\n/bin/busybox sync\n/bin/busybox sleep 1\n\
         /bin/busybox poweroff -f\n",
    );

    let example = std::fs::read_to_string(repo_root().join("examples/netboot/xen-nfs.toml")).unwrap();
    let config = dir.join("xen-nfs.toml");
    let replaced = example
        .replace("root = \"/srv/netboot\"", &format!("root = \"{}\"", root.display()))
        .replace("nfs_server = \"10.0.0.1\"", "nfs_server = \"10.84.0.1\"")
        .replace("nfs_export = \"/srv/nfs/debian\"", &format!("nfs_export = \"{}\"", export.display()));
    assert_eq!(replaced.matches("10.84.0.1").count(), 1, "the example's layout changed: {example}");
    std::fs::write(&config, replaced).unwrap();

    let lan = Netns::new("observe-nfs-lan");
    bridge(&lan, "10.84.0.1");
    lan.ip(&["tuntap", "add", "dev", "tap0", "mode", "tap"]);
    lan.ip(&["link", "set", "tap0", "master", "br0", "up"]);
    let nfs = NfsServer::start(&lan, &export, &dir);
    let state = dir.join("state");
    let args = [
        "--dhcp",
        "full",
        "--interface",
        "br0",
        "--pool",
        "10.84.0.50-10.84.0.60",
        "--config",
        config.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--http-port",
        "0",
        "--tftp-port",
        "0",
    ];
    let server = Serve::start(&lan, env!("CARGO_BIN_EXE_optrom"), &args, &dir.join("serve.log"));
    let sercon = dir.join("sercon-port.bin");
    std::fs::write(&sercon, [0xf8, 0x03]).unwrap(); // SeaBIOS: mirror text output to COM1
    let guest_args: Vec<String> = [
        "-machine",
        "pc",
        "-m",
        "1536",
        "-boot",
        "order=n",
        "-fw_cfg",
        &format!("name=etc/sercon-port,file={}", sercon.display()),
        "-netdev",
        "tap,id=n0,ifname=tap0,script=no,downscript=no",
        "-device",
        &format!("virtio-net-pci,netdev=n0,mac=52:54:00:84:00:01,disable-legacy=on,romfile={PXE_VIRTIO_ROM}"),
    ]
    .map(String::from)
    .to_vec();
    let guest = Guest::start(&lan, &dir, "xen-nfs", &guest_args);
    let [text] = wait_all([(guest, &token)], Duration::from_secs(900), || {
        format!("{}\n--- ganesha\n{}", server.log_text(), std::fs::read_to_string(&nfs.log).unwrap_or_default())
    });

    assert!(text.contains("Xen over NFS") && text.contains("Xen 4.17 + Debian dom0 (NFS root)"), "the menu: {text}");
    assert!(text.contains("(XEN) Xen version 4.17"), "{text}");
    let mount = text.lines().find(|l| l.starts_with("nfs root: ")).unwrap_or_else(|| panic!("{text}"));
    assert!(
        mount.contains(&format!("10.84.0.1:{} / nfs ", export.display()))
            && mount.contains("vers=3")
            && mount.contains("proto=tcp"),
        "dom0's root is the export, NFSv3 over TCP: {mount}"
    );
    let written = std::fs::read_to_string(export.join("written-by-dom0")).unwrap();
    assert!(
        written.contains("root=/dev/nfs") && written.contains(&format!("nfsroot=10.84.0.1:{}", export.display())),
        "{written}"
    );
    let log = server.log_text();
    assert!(log.contains("path=\"/xen/xen-4.17-amd64.gz\" range=\"-\" status=200"), "{log}");
    assert!(server.stop().success());
    drop(nfs);
}
