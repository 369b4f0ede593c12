//! The harness against real QEMU: QEMU's own failures are errors (not "did not
//! boot"), and a guest whose owner panics is killed and its directory removed.
//!
//! Needs qemu-system-x86_64 and SeaBIOS (scripts/install-qemu.sh); FAILS without
//! them unless OPTROM_SKIP_QEMU=1 (never under CI=true).

use std::path::PathBuf;
use std::time::Duration;

use optrom_qemu::{Firmware, Guest, GuestSpec, Network, NicSpec, Outcome, QemuError, RomChoice, UserNet, Watch};

fn qemu_present() -> bool {
    optrom_testsupport::have_qemu()
}

fn seabios_with_rom(rom: RomChoice) -> GuestSpec {
    let mut spec = GuestSpec::new(Firmware::SeaBios);
    spec.nic = Some(NicSpec {
        model: "e1000".into(),
        properties: vec![],
        rom,
        mac: None,
        boot_first: true,
        network: Network::User(UserNet::default()),
    });
    spec
}

fn wait(guest: &mut Guest, marker: &str) -> Result<Outcome, QemuError> {
    guest.wait_for(&Watch { all: vec![marker.into()], timeout: Duration::from_secs(120), ..Watch::default() })
}

#[test]
fn qemu_failures_are_errors_not_outcomes() {
    if !qemu_present() {
        return;
    }
    // An option QEMU does not know.
    let mut spec = GuestSpec::new(Firmware::SeaBios);
    spec.extra_args.push("-no-such-option".into());
    let mut guest = Guest::start(&spec).unwrap();
    match wait(&mut guest, "never") {
        Err(QemuError::Failed { stderr, .. }) => assert!(stderr.contains("no-such-option"), "{stderr}"),
        other => panic!("{other:?}"),
    }
    // A ROM file that is not there.
    let mut guest = Guest::start(&seabios_with_rom(RomChoice::File("/nonexistent/x.rom".into()))).unwrap();
    match wait(&mut guest, "never") {
        Err(QemuError::Failed { stderr, .. }) => assert!(stderr.contains("romfile"), "{stderr}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn seabios_banner_then_no_bootable_device_without_a_rom() {
    if !qemu_present() {
        return;
    }
    let mut guest = Guest::start(&seabios_with_rom(RomChoice::Empty)).unwrap();
    assert!(matches!(wait(&mut guest, "SeaBIOS (version").unwrap(), Outcome::Seen(_)));
    // With no ROM SeaBIOS finds nothing to boot, resets, and -no-reboot ends QEMU normally.
    let end =
        guest.wait_for(&Watch { all: vec!["never".into()], timeout: Duration::from_secs(120), ..Watch::default() });
    assert!(matches!(end, Ok(Outcome::Exited(_))), "{end:?}");
    let console = guest.console();
    assert!(console.contains("No bootable device"), "{}", console.text());
    assert!(!console.contains("iPXE"), "{}", console.text());
    assert!(console.lines().windows(2).all(|w| w[0].at <= w[1].at), "time stamps are monotonic");
}

#[test]
fn a_panicking_owner_leaves_no_qemu_and_no_directory() {
    if !qemu_present() {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel::<(u32, PathBuf)>();
    let owner = std::thread::spawn(move || {
        let mut guest = Guest::start(&seabios_with_rom(RomChoice::Empty)).unwrap();
        assert!(matches!(wait(&mut guest, "SeaBIOS").unwrap(), Outcome::Seen(_)));
        tx.send((guest.pid(), guest.work_path().to_path_buf())).unwrap();
        panic!("the test's owner thread panics with a guest running");
    });
    assert!(owner.join().is_err());
    let (pid, work) = rx.recv().unwrap();
    assert!(!PathBuf::from(format!("/proc/{pid}")).exists(), "QEMU {pid} still runs");
    assert!(!work.exists(), "{} left behind", work.display());
}
