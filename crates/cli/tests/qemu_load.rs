//! `optrom qemu-args` / `optrom libvirt` against the real thing: QEMU starts
//! (stopped, `-S`, no firmware run) with exactly the emitted arguments for every
//! NIC model of a ROM set, in both set layouts, and its ROM RAM blocks (`info
//! ramblock`) and ROM BARs (QMP `query-pci`, BAR 6) have the size `optrom
//! migrate-check` predicts for that romsize; libvirt's own schema
//! (`virt-xml-validate`) accepts the emitted domain XML.
//!
//! Needs qemu-system-x86_64 (scripts/install-qemu.sh), Debian's ipxe-qemu and
//! libvirt-clients + libxml2-utils; fails without them unless OPTROM_SKIP_QEMU=1
//! (never under CI=true).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const QEMU: &str = "qemu-system-x86_64";
const QEMU_AA64: &str = "qemu-system-aarch64";
const DEBIAN_SET: &str = "/usr/lib/ipxe/qemu";

fn optrom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optrom")).args(args).output().expect("run optrom")
}

/// Whether `what` is there; when not: fail, or skip with OPTROM_SKIP_QEMU=1 outside CI.
fn present(ok: bool, what: &str) -> bool {
    optrom_testsupport::needs("QEMU", ok, what)
}

fn have_qemu() -> bool {
    present(
        Command::new(QEMU).arg("--version").output().is_ok_and(|o| o.status.success())
            && Path::new(DEBIAN_SET).join("efi-e1000.rom").is_file(),
        "qemu-system-x86_64 and Debian's ipxe-qemu",
    )
}

/// QEMU with a QMP socket; killed on drop.
struct Qemu {
    child: Child,
    qmp: BufReader<UnixStream>,
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Qemu {
    fn start(dir: &Path, qemu: &str, machine: &str, args: &[String]) -> Qemu {
        let sock = dir.join("qmp.sock");
        let mut child = Command::new(qemu)
            .args(["-accel", "tcg", "-machine", machine, "-m", "128", "-display", "none", "-nodefaults", "-S"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", sock.display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start qemu");
        let deadline = Instant::now() + Duration::from_secs(60);
        let stream = loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                panic!("QEMU refused the emitted arguments ({status}): {err}\nargs: {args:?}");
            }
            match UnixStream::connect(&sock) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => {
                    let _ = child.kill();
                    panic!("QMP socket never came up: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut q = Qemu { child, qmp: BufReader::new(stream) };
        q.read_reply(); // greeting
        q.execute(r#"{"execute":"qmp_capabilities"}"#);
        q
    }

    fn read_reply(&mut self) -> serde_json::Value {
        loop {
            let mut line = String::new();
            assert!(self.qmp.read_line(&mut line).unwrap() > 0, "QMP closed");
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if v.get("event").is_none() {
                return v;
            }
        }
    }

    fn execute(&mut self, command: &str) -> serde_json::Value {
        self.qmp.get_mut().write_all(command.as_bytes()).unwrap();
        self.qmp.get_mut().write_all(b"\n").unwrap();
        let reply = self.read_reply();
        assert!(reply.get("error").is_none(), "{command}: {reply}");
        reply["return"].clone()
    }
}

/// What migrate-check predicts for each model's ROM RAM block under `romsize`.
fn predicted(dir: &Path, romsize: u64) -> Vec<(String, u64)> {
    let d = dir.to_str().unwrap();
    let out = optrom(&["migrate-check", d, d, "--romsize", &romsize.to_string(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| Some((r["nic"].as_str()?.to_string(), r["new"]["ram_block_size"].as_u64()?)))
        .collect()
}

/// Start QEMU with the emitted arguments for every model of the set and check
/// every ROM RAM block and ROM BAR.
fn check_set(dir: &Path, expected_romsize: u64, layout: &str, target: &str) {
    let out = optrom(&["qemu-args", dir.to_str().unwrap(), "--target", target, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["plan"]["layout"], layout);
    assert_eq!(v["plan"]["romsize"], expected_romsize);
    let nics: Vec<String> =
        v["plan"]["nics"].as_array().unwrap().iter().map(|n| n["model"].as_str().unwrap().to_string()).collect();
    // Every model with a Debian ROM: the e1000 family, e1000e, rtl8139, ne2k_pci,
    // pcnet, virtio-net-pci, vmxnet3 and the 13 eepro100 variants.
    assert_eq!(nics.len(), 22, "{nics:?}");
    let mut args: Vec<String> = v["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
    if target != "x86_64" {
        // No SeaBIOS there, so no legacy-ID concern: every NIC names its file.
        assert!(args.iter().filter(|a| a.contains("romsize=")).all(|a| a.contains("romfile=")), "{args:?}");
    }
    // Name each device so QMP's answer can be matched to it.
    let mut n = 0;
    for i in 1..args.len() {
        if args[i - 1] == "-device" {
            args[i].push_str(&format!(",id=nic{n}"));
            n += 1;
        }
    }
    assert_eq!(n, nics.len());
    let work = tempfile::tempdir().unwrap();
    let (qemu, machine) = if target == "aarch64" { (QEMU_AA64, "virt") } else { (QEMU, "pc") };
    let mut qemu = Qemu::start(work.path(), qemu, machine, &args);
    let pci = qemu.execute(r#"{"execute":"query-pci"}"#);
    let blocks = qemu.execute(r#"{"execute":"human-monitor-command","arguments":{"command-line":"info ramblock"}}"#);
    let blocks = blocks.as_str().unwrap().to_string();
    let prediction = predicted(dir, expected_romsize);
    let devices = pci[0]["devices"].as_array().unwrap();
    for (i, model) in nics.iter().enumerate() {
        let dev = devices
            .iter()
            .find(|d| d["qdev_id"] == format!("nic{i}"))
            .unwrap_or_else(|| panic!("{model}: not in query-pci"));
        let bar6 = dev["regions"].as_array().unwrap().iter().find(|r| r["bar"] == 6).expect("ROM BAR");
        let predicted = prediction
            .iter()
            .find(|(m, _)| m == model)
            .map(|(_, s)| *s)
            .unwrap_or_else(|| panic!("{model}: no migrate-check row"));
        assert_eq!(bar6["size"].as_u64(), Some(predicted), "{model}: ROM BAR vs migrate-check");
        let slot = dev["slot"].as_u64().unwrap();
        let nic = optrom::nic::find(model).unwrap();
        let name = format!("0000:00:{slot:02x}.0/{}.rom", nic.ramblock_name);
        let line = blocks.lines().find(|l| l.split_whitespace().next() == Some(name.as_str()));
        let line = line.unwrap_or_else(|| panic!("{model}: no RAM block {name} in\n{blocks}"));
        // Columns: name, page size ("4 KiB"), then Offset, Used, Total, HVA in hex.
        let used = line.split_whitespace().filter(|t| t.starts_with("0x")).nth(1).unwrap();
        assert_eq!(u64::from_str_radix(used.trim_start_matches("0x"), 16).unwrap(), predicted, "{model}: {line}");
    }
}

fn copy_set(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(DEBIAN_SET).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "rom") {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn qemu_loads_every_nic_of_both_layouts_with_the_pinned_rom_bar() {
    if !have_qemu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // Combined layout: Debian's own directory, every ROM under 256 KiB.
    check_set(Path::new(DEBIAN_SET), 256 << 10, "combined", "x86_64");
    // Per-arch layout whose e1000 ROM grew past 256 KiB: every NIC is pinned to
    // 512 KiB, also those whose own file would give 256 KiB.
    let set = tmp.path().join("perarch");
    copy_set(&set.join("x86_64"));
    let big = set.join("x86_64/efi-e1000.rom");
    let out = optrom(&["pad", big.to_str().unwrap(), "--to", "300K", "-o", big.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    check_set(&set, 512 << 10, "per-arch", "x86_64");
}

/// The per-arch layout for another target: `DIR/aarch64/` is what `qemu-args
/// --target aarch64` loads, on qemu-system-aarch64's `virt` machine. (The BAR
/// depends only on file sizes; these are Debian's files under aarch64 names.)
#[test]
fn qemu_aarch64_loads_the_per_arch_directory() {
    let ok = Command::new(QEMU_AA64).arg("--version").output().is_ok_and(|o| o.status.success());
    if !have_qemu() || !present(ok, "qemu-system-aarch64 (scripts/install-qemu.sh)") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("set");
    copy_set(&set.join("aarch64"));
    copy_set(&set.join("x86_64"));
    let big = set.join("x86_64/efi-virtio.rom");
    // The x86_64 directory's bigger ROM sets the bucket for the whole set.
    let out = optrom(&["pad", big.to_str().unwrap(), "--to", "600K", "-o", big.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    check_set(&set, 1 << 20, "per-arch", "aarch64");
}

#[test]
fn bad_romsize_and_missing_rom_are_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("efi-e1000.rom"), vec![0u8; 200_000]).unwrap();
    let dir = tmp.path().to_str().unwrap();
    for (args, expect) in [
        (vec!["qemu-args", dir, "--romsize", "300000"], "romsize 300000: QEMU needs a power of two"),
        (vec!["qemu-args", dir, "--romsize", "128K"], "romsize 131072: the set's largest ROM is 200000 bytes"),
        (vec!["libvirt", dir, "--nic", "rtl8139"], "no efi-rtl8139.rom for rtl8139"),
        (vec!["qemu-args", dir, "--nic", "tulip"], "tulip has no option ROM in QEMU"),
        (vec!["qemu-args", dir, "--target", "mips"], "unknown target \"mips\""),
    ] {
        let out = optrom(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
}

#[test]
fn libvirt_schema_accepts_the_domain_xml() {
    let ok = Command::new("virt-xml-validate").arg("--help").output().is_ok()
        && Command::new("xmllint").arg("--version").output().is_ok();
    if !present(
        ok && Path::new(DEBIAN_SET).is_dir(),
        "virt-xml-validate (libvirt-clients), xmllint (libxml2-utils), ipxe-qemu",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = optrom(&["libvirt", DEBIAN_SET, "--name", "optrom-test"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(xml.contains("<rom file='/usr/lib/ipxe/qemu/efi-e1000.rom'/>"), "{xml}");
    assert!(xml.contains("<model type='virtio'/>"), "{xml}");
    assert!(xml.contains("<qemu:property name='romsize' type='unsigned' value='262144'/>"), "{xml}");
    assert!(xml.contains("<rom enabled='no'/>"), "the XML says how to switch the ROM off");
    // ne2k_pci's file needs QEMU's re-IDing: no <rom file>, found through -L.
    let ne2k = xml.split("<model type='ne2k_pci'/>").nth(1).unwrap().split("</interface>").next().unwrap();
    assert!(!ne2k.contains("<rom "), "{ne2k}");
    assert!(xml.contains("<qemu:arg value='-L'/>\n    <qemu:arg value='/usr/lib/ipxe/qemu'/>"), "{xml}");
    let file: PathBuf = tmp.path().join("domain.xml");
    std::fs::write(&file, &xml).unwrap();
    let v = Command::new("virt-xml-validate").arg(&file).arg("domain").output().unwrap();
    assert!(v.status.success(), "{}\n{}", String::from_utf8_lossy(&v.stdout), String::from_utf8_lossy(&v.stderr));
    // And libvirt's schema does reject a broken variant, so the check can fail.
    std::fs::write(&file, xml.replace("<rom file=", "<rom size='1' file=")).unwrap();
    let bad = Command::new("virt-xml-validate").arg(&file).arg("domain").output().unwrap();
    assert!(!bad.status.success(), "virt-xml-validate accepted an unknown <rom size=> attribute");
}

/// Serial console text of a SeaBIOS guest started with `args`, until `done`
/// matches a line or the timeout passes.
fn seabios_serial(args: &[String], done: &[&str], timeout: Duration) -> String {
    use std::sync::mpsc;
    let dir = tempfile::tempdir().unwrap();
    // SeaBIOS's serial console on 0x3f8 (qemu-testing.md §1a).
    let sercon = optrom_testsupport::seabios_sercon(dir.path());
    let mut child = Command::new(QEMU)
        .args(["-accel", "tcg", "-machine", "pc", "-m", "128", "-display", "none", "-vga", "none", "-nodefaults"])
        .args(["-serial", "stdio", "-monitor", "none", "-no-reboot", "-boot", "order=n,reboot-timeout=0"])
        .arg("-fw_cfg")
        .arg(format!("name=etc/sercon-port,file={}", sercon.display()))
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start qemu");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            if tx.send(String::from_utf8_lossy(&line).into_owned()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut text = String::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                text.push_str(&line);
                text.push('\n');
                if done.iter().any(|d| line.contains(d)) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    text
}

/// The emitted settings make SeaBIOS run the ROM even where the set's file is
/// built for other PCI IDs than the NIC (Debian's ne2k_pci ROM says 0000:0000,
/// its virtio ROM 1af4:1041): the NIC keeps its default romfile name, found
/// through -L, so QEMU re-IDs it. The same file given as romfile= is skipped.
#[test]
fn seabios_runs_roms_that_need_qemus_id_patching() {
    if !have_qemu() {
        return;
    }
    let banner = "iPXE (http://ipxe.org)";
    for model in ["ne2k_pci", "virtio-net-pci", "e1000-82545em"] {
        let out = optrom(&["qemu-args", DEBIAN_SET, "--nic", model, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let args: Vec<String> = v["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
        assert_eq!(args[0], "-L", "{model}: {args:?}");
        assert!(!args.iter().any(|a| a.contains("romfile=")), "{model}: {args:?}");
        let text = seabios_serial(&args, &[banner, "No bootable device"], Duration::from_secs(90));
        assert!(text.contains(banner), "{model}: SeaBIOS did not run the ROM:\n{text}");
    }
    // Control: Debian's ne2k_pci file as an explicit romfile= is not run.
    let explicit = vec![
        "-netdev".to_string(),
        "user,id=n0".to_string(),
        "-device".to_string(),
        format!("ne2k_pci,netdev=n0,romfile={DEBIAN_SET}/efi-ne2k_pci.rom"),
    ];
    let text = seabios_serial(&explicit, &[banner, "No bootable device"], Duration::from_secs(90));
    assert!(text.contains("No bootable device") && !text.contains(banner), "{text}");
}
