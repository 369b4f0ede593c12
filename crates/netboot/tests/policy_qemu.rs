//! The policy's scripts and files, booted by real iPXE in QEMU (TCG, SeaBIOS + Debian's
//! `pxe-virtio.rom`, whose PCI ID is the modern virtio-net 1af4:1041, hence `disable-legacy=on`): QEMU's user-mode network hands iPXE the script URL by DHCP, and a small
//! HTTP front end in this test answers from [`Policy::answer`] and [`Policy::resolve_file`] (the
//! same calls the server's HTTP service makes). Proves that the rendered menus are valid iPXE,
//! that the default item boots Debian's real kernel with a busybox initrd that prints this run's
//! token, and that Debian's gzip'd Xen hypervisor boots when served decompressed, with dom0
//! printing the token on Xen's console.
//!
//! Needs QEMU, Debian's ipxe-qemu ROMs and the Debian packages from
//! scripts/fetch-boot-packages.sh; skips only with `OPTROM_SKIP_QEMU=1` (never under CI=true).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use optrom_netboot::policy::{Answer, BootConfig, Policy, ServerUrls};
use tokio::io::AsyncReadExt;

use common::boot_packages;

const ROM: &str = "/usr/lib/ipxe/qemu/pxe-virtio.rom";

fn skip(why: &str) -> bool {
    let allowed =
        std::env::var("OPTROM_SKIP_QEMU").is_ok_and(|v| v == "1") && !std::env::var("CI").is_ok_and(|v| v == "true");
    if allowed {
        eprintln!("SKIPPED: OPTROM_SKIP_QEMU=1 ({why})");
    }
    allowed
}

async fn handle(
    State(policy): State<Arc<Policy>>,
    Query(query): Query<Vec<(String, String)>>,
    request: Request,
) -> Response {
    let base =
        format!("http://{}", request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("10.0.2.2"));
    let path = request.uri().path().to_string();
    if path == "/_/boot.ipxe" {
        let text = match policy.answer(&query, &ServerUrls::new(&base)) {
            Answer::Bootstrap(s) | Answer::XenCfg(s) => s,
            Answer::Script { decision, .. } => decision.script.clone(),
            Answer::Invalid { script, reason } => {
                eprintln!("bad request: {reason}");
                script
            }
        };
        return text.into_response();
    }
    let Some(file) = policy.resolve_file(&path) else { return StatusCode::NOT_FOUND.into_response() };
    let bytes = if file.gunzip {
        policy.gunzipped(&file).unwrap().to_vec()
    } else {
        let mut data = Vec::new();
        tokio::fs::File::open(&file.path).await.unwrap().read_to_end(&mut data).await.unwrap();
        data
    };
    // A full body: axum sends Content-Length, which iPXE needs to go fast.
    Response::new(Body::from(bytes))
}

async fn serve(policy: Policy) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(handle).with_state(Arc::new(policy));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Boots a SeaBIOS + iPXE guest whose DHCP (QEMU user networking) points at `script_url`;
/// returns the serial output once `token` appears (or panics with the log after the timeout).
async fn boot_until(port: u16, token: &str, name: &str) -> String {
    let device = format!("virtio-net-pci,netdev=n0,disable-legacy=on,romfile={ROM}");
    boot_with(port, token, name, &["-machine", "pc", "-device", &device, "-boot", "n"]).await
}

/// Like [`boot_until`] with other firmware and NIC arguments.
async fn boot_with(port: u16, token: &str, name: &str, machine: &[&str]) -> String {
    let log = std::env::temp_dir().join(format!("optrom-policy-qemu-{name}-{}.log", std::process::id()));
    // In QEMU's user network the host's 127.0.0.1 is 10.0.2.2.
    let netdev = format!("user,id=n0,bootfile=http://10.0.2.2:{port}/_/boot.ipxe");
    let mut child = tokio::process::Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-cpu", "max", "-m", "1536", "-nographic", "-no-reboot"])
        .args(["-netdev", &netdev])
        .args(machine)
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .args(["-monitor", "none", "-display", "none"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("qemu-system-x86_64 (apt-get install qemu-system-x86)");
    let start = Instant::now();
    let want = format!("BOOT-TOKEN-{token}");
    loop {
        let text = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
        if text.contains(&want) {
            eprintln!("{name}: token after {:.1} s", start.elapsed().as_secs_f64());
            let _ = child.kill().await;
            let _ = std::fs::remove_file(&log);
            return text;
        }
        if text.contains("No bootable device") {
            let _ = child.kill().await;
            panic!("{name}: the guest found nothing to boot; serial log:\n{text}");
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{name}: QEMU exited ({status}) before the token; serial log:\n{text}");
        }
        if start.elapsed() > Duration::from_secs(600) {
            let _ = child.kill().await;
            panic!("{name}: no {want} after 600 s; serial log:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn token() -> String {
    format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
    )
}

fn write_config(dir: &Path, cache: &Path, body: &str) -> Policy {
    let text = format!("[server]\nroot = \"{}\"\n{body}", cache.display());
    let path = dir.join("boot.toml");
    std::fs::write(&path, text).unwrap();
    Policy::new(BootConfig::load(&path).unwrap_or_else(|e| panic!("{e}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bios_ipxe_menu_default_boots_debian_kernel_and_xen() {
    if (!Path::new(ROM).exists() || Command::new("qemu-system-x86_64").arg("--version").output().is_err())
        && skip("QEMU or Debian's ipxe-qemu is missing")
    {
        return;
    }
    let cache = boot_packages();
    let dir = tempfile::tempdir().unwrap();

    // Linux: a menu whose default boots after the timeout; a broken Xen item beside it is greyed
    // out, which must not stop iPXE from running the menu.
    let linux_token = token();
    let linux = write_config(
        dir.path(),
        &cache,
        &format!(
            r#"
[menu.main]
title = "optrom test menu"
items = ["debian", "local"]
default = "debian"
timeout = 2
[item.debian]
kind = "linux"
label = "Debian 12 kernel + busybox"
kernel = "vmlinuz"
initrds = ["token-initrd.gz"]
args = "console=ttyS0 quiet token={{{{ vars.token }}}}"
[item.local]
kind = "local"
[vars]
token = "{linux_token}"
"#
        ),
    );
    let d = linux.explain(
        &optrom_netboot::policy::ClientFacts::anonymous(
            optrom_netboot::policy::ClientArch::Bios,
            optrom_netboot::policy::FirmwareClass::Ipxe,
        ),
        &ServerUrls::new("http://10.0.2.2:1"),
    );
    assert!(d.findings.is_empty(), "{:?}", d.findings);
    let addr = serve(linux).await;

    // Xen: Debian's gzip'd hypervisor, served decompressed; dom0 + initrd as modules.
    let xen_token = token() + "x";
    let xen = write_config(
        dir.path(),
        &cache,
        &format!(
            r#"
[menu.main]
items = ["xen"]
default = "xen"
timeout = 0
[item.xen]
kind = "xen"
hypervisor = "root/boot/xen-4.17-amd64.gz"
hypervisor_args = "dom0_mem=512M loglvl=all com1=115200,8n1 console=com1"
kernel = "vmlinuz"
args = "console=hvc0 earlyprintk=xen token={xen_token}"
modules = [{{ file = "token-initrd.gz" }}]
"#
        ),
    );
    let xen_addr = serve(xen).await;

    let (linux_log, xen_log) =
        tokio::join!(boot_until(addr.port(), &linux_token, "linux"), boot_until(xen_addr.port(), &xen_token, "xen"));
    // iPXE drew the rendered menu (its title and item), then booted the default on timeout.
    assert!(linux_log.contains("optrom test menu") && linux_log.contains("Debian 12 kernel + busybox"), "{linux_log}");
    assert!(xen_log.contains("Xen version 4.17"), "Xen's banner on com1:\n{xen_log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovmf_client_gets_xen_efi_for_the_same_xen_menu() {
    let code = "/usr/share/OVMF/OVMF_CODE_4M.fd";
    if (!Path::new(code).exists() || Command::new("qemu-system-x86_64").arg("--version").output().is_err())
        && skip("QEMU or OVMF is missing")
    {
        return;
    }
    let cache = boot_packages();
    let dir = tempfile::tempdir().unwrap();
    let vars = dir.path().join("vars.fd");
    std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars).unwrap();
    let xen_token = token() + "e";
    let policy = write_config(
        dir.path(),
        &cache,
        &format!(
            r#"
[menu.main]
items = ["xen"]
default = "xen"
timeout = 0
[item.xen]
kind = "xen"
hypervisor = "root/boot/xen-4.17-amd64.gz"
hypervisor_args = "dom0_mem=512M loglvl=all com1=115200,8n1 console=com1"
efi = "root/boot/xen-4.17-amd64.efi"
kernel = "vmlinuz"
args = "console=hvc0 earlyprintk=xen token={xen_token}"
modules = [{{ file = "token-initrd.gz" }}]
"#
        ),
    );
    let addr = serve(policy).await;
    let code_arg = format!("if=pflash,format=raw,unit=0,readonly=on,file={code}");
    let vars_arg = format!("if=pflash,format=raw,unit=1,file={}", vars.display());
    let log = boot_with(
        addr.port(),
        &xen_token,
        "ovmf-xen",
        &["-machine", "q35", "-drive", &code_arg, "-drive", &vars_arg, "-device", "virtio-net-pci,netdev=n0"],
    )
    .await;
    assert!(log.contains("Xen version 4.17"), "{log}");
}
