//! The status page as a browser renders it: headless Chromium loads the page and the test reads
//! the DOM it built.

use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use optrom_netboot::policy::{ClientArch, FirmwareClass, Mac};
use optrom_netboot::status::{BootTracker, Event, Step, render_html};

/// Chromium's DOM after loading `url`; `None` only when skipping is allowed
/// (`OPTROM_SKIP_CHROMIUM=1`, never under CI=true).
fn chromium_dom(url: &str) -> Option<String> {
    let run = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--dump-dom", url])
        .output();
    let what = match run {
        Ok(out) if out.status.success() => return Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => format!("a working chromium (it failed: {})", String::from_utf8_lossy(&out.stderr)),
        Err(e) => format!("chromium (apt-get install chromium: {e})"),
    };
    optrom_testsupport::needs("CHROMIUM", false, &what);
    None
}

#[test]
fn page_shows_each_client_step_and_failure() {
    let tracker = BootTracker::new();
    let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let booted: Mac = "52:54:00:12:34:56".parse().unwrap();
    let stuck: Mac = "52:54:00:ab:cd:ef".parse().unwrap();
    let ip = "10.0.0.50".parse().unwrap();
    tracker.record_at(
        booted,
        None,
        Event::Dhcp {
            uuid: Some("11111111-2222-3333-4444-555555555555".into()),
            arch: Some(ClientArch::Bios),
            firmware: Some(FirmwareClass::Ipxe),
            lease: Some(ip),
        },
        t0,
    );
    tracker.record_at(booted, Some(ip), Event::Script { decision: "menu `main`".into() }, t0 + Duration::from_secs(3));
    tracker.record_at(booted, Some(ip), Event::Kernel { path: "debian/vmlinuz".into() }, t0 + Duration::from_secs(5));
    tracker.record_at(
        stuck,
        None,
        Event::Dhcp { uuid: None, arch: Some(ClientArch::X64), firmware: Some(FirmwareClass::Pxe), lease: None },
        t0,
    );
    tracker.record_at(stuck, None, Event::ProxyDhcp, t0 + Duration::from_secs(1));
    tracker.record_at(
        stuck,
        None,
        Event::Failed { step: Step::BootFile, reason: "TFTP snponly.efi: <file not found>".into() },
        t0 + Duration::from_secs(2),
    );
    assert_eq!(tracker.mac_of(ip), Some(booted));

    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("status.html");
    std::fs::write(&page, render_html(&tracker.snapshot(), t0 + Duration::from_secs(6))).unwrap();
    let Some(dom) = chromium_dom(&format!("file://{}", page.display())) else { return };

    // Rows as the browser parsed them: one <tr> per client, cells in column order.
    let row = |id: &str| -> Vec<String> {
        let start = dom.find(&format!("<tr id=\"client-{id}\"")).unwrap_or_else(|| panic!("no row {id} in {dom}"));
        let end = start + dom[start..].find("</tr>").unwrap();
        dom[start..end]
            .split("<td")
            .skip(1)
            .map(|cell| {
                let text = &cell[cell.find('>').unwrap() + 1..];
                text.split('<').next().unwrap_or("").to_string() + &cell.matches("<li>").map(|_| "").collect::<String>()
            })
            .collect()
    };
    let booted_row = row("52-54-00-12-34-56");
    assert_eq!(booted_row[0], "52:54:00:12:34:56");
    assert_eq!(booted_row[1], "11111111-2222-3333-4444-555555555555");
    assert_eq!(booted_row[2], "bios");
    assert_eq!(booted_row[4], "10.0.0.50");
    assert_eq!(booted_row[5], "kernel fetched");
    // 1_700_000_005 s after the epoch is 22:13:25 UTC.
    assert_eq!(booted_row[10], "22:13:25 debian/vmlinuz");
    let stuck_row = row("52-54-00-ab-cd-ef");
    assert_eq!(stuck_row[5], "proxy/4011");
    assert!(dom.contains("22:13:22 boot file: TFTP snponly.efi: &lt;file not found&gt;"), "{dom}");
    // Most recently active first.
    assert!(dom.find("client-52-54-00-12-34-56").unwrap() < dom.find("client-52-54-00-ab-cd-ef").unwrap());
}
