//! `optrom serve` end to end on loopback, against real clients: curl and atftp
//! (TFTP, RFC 7440 windows), tftp-hpa's `tftp` (octet and netascii), curl (HTTP),
//! plus a raw UDP client that replays EDK2's size probe byte for byte. Expected
//! values come from the files on disk and the RFCs, never from the server.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// True when `name` is installed; otherwise fails the test, unless
/// OPTROM_SKIP_EXTERNAL=1 (and not CI=true), which prints SKIPPED and returns false.
fn tool(name: &str, package: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    optrom_testsupport::needs("EXTERNAL", found, &format!("{name} (Debian package {package})"))
}

/// Deterministic pseudo-random bytes (xorshift64*), so a corrupted or shifted
/// block cannot go unnoticed.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

struct Served {
    child: Option<Child>,
    tftp: SocketAddr,
    http: SocketAddr,
    dir: tempfile::TempDir,
}

impl Served {
    /// Start `optrom serve` on 127.0.0.1 with free ports, serving `<tmp>/root`,
    /// after `populate` has filled the root.
    fn start(extra: &[&str], populate: impl FnOnce(&Path)) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        populate(&root);
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_optrom"))
            .args(["serve", "--dhcp", "off", "--address", "127.0.0.1", "--tftp-port", "0", "--http-port", "0"])
            .arg("--root")
            .arg(&root)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start optrom serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut addr = |service: &str| -> SocketAddr {
            let line = lines.next().unwrap_or_else(|| panic!("server ended before announcing {service}")).unwrap();
            let (name, a) = line.split_once(' ').unwrap();
            assert_eq!(name, service, "{line}");
            a.parse().unwrap()
        };
        let tftp = addr("tftp");
        let http = addr("http");
        Served { child: Some(child), tftp, http, dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap()
    }

    fn host(&self) -> String {
        self.tftp.ip().to_string()
    }

    fn port(&self) -> String {
        self.tftp.port().to_string()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGTERM, then wait (bounded) for the exit status.
    fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn metrics(&self) -> String {
        let out = run(Command::new("curl").args(["-sS", &format!("http://{}/metrics", self.http)]));
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn metric(text: &str, sample: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{sample} not in metrics:\n{text}"))
        .parse()
        .unwrap()
}

fn write(root: &Path, name: &str, bytes: &[u8]) {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn tftp_curl_blksizes_are_byte_identical() {
    if !tool("curl", "curl") {
        return;
    }
    let data = pattern(1_000_003, 1);
    let s = Served::start(&[], |root| write(root, "boot/f.bin", &data));
    for blksize in [512, 1428, 1468, 8192] {
        let out = s.out(&format!("curl-{blksize}"));
        let o = run(Command::new("curl")
            .args(["-sS", "--tftp-blksize", &blksize.to_string(), "-o"])
            .arg(&out)
            .arg(format!("tftp://{}/boot/f.bin", s.tftp)));
        assert!(o.status.success(), "blksize {blksize}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(std::fs::read(&out).unwrap() == data, "blksize {blksize}: content differs");
        // curl sends tsize 0, blksize N, timeout 6: all three are acknowledged.
        let oack = format!("oack=tsize={},blksize={blksize},timeout=6", data.len());
        assert!(s.log().contains(&oack), "no `{oack}` in the log:\n{}", s.log());
    }
}

#[test]
fn tftp_atftp_windowsizes_are_byte_identical() {
    if !tool("atftp", "atftp") {
        return;
    }
    let data = pattern(3_000_001, 2);
    let s = Served::start(&[], |root| write(root, "f.bin", &data));
    for windowsize in [1, 8, 16, 64] {
        let out = s.out(&format!("atftp-{windowsize}"));
        let o = run(Command::new("atftp")
            .args([
                "--option",
                &format!("windowsize {windowsize}"),
                "--option",
                "blksize 1468",
                "-g",
                "-r",
                "f.bin",
                "-l",
            ])
            .arg(&out)
            .args([&s.host(), &s.port()]));
        assert!(o.status.success(), "windowsize {windowsize}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(std::fs::read(&out).unwrap() == data, "windowsize {windowsize}: content differs");
        let oack = format!("oack=blksize=1468,windowsize={windowsize}");
        assert!(s.log().contains(&oack), "no `{oack}` in the log");
    }
}

#[test]
fn tftp_tsize_reports_the_file_size() {
    if !tool("atftp", "atftp") {
        return;
    }
    let data = pattern(123_457, 3);
    let s = Served::start(&[], |root| write(root, "f.bin", &data));
    let o = run(Command::new("atftp")
        .args(["--trace", "--option", "tsize 0", "-g", "-r", "f.bin", "-l"])
        .arg(s.out("t"))
        .args([&s.host(), &s.port()]));
    let text = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{text}");
    let size = std::fs::metadata(s.root().join("f.bin")).unwrap().len();
    assert!(text.contains(&format!("received OACK <tsize: {size}")), "{text}");
}

#[test]
fn tftp_40_mib_at_512_byte_blocks_rolls_over() {
    if !tool("curl", "curl") {
        return;
    }
    let len = 40 << 20;
    let data = pattern(len, 4);
    let s = Served::start(&[], |root| write(root, "big.bin", &data));
    let out = s.out("big");
    // curl's default request: blksize 512, so 81,920 full blocks: past 65535.
    let o = run(Command::new("curl").args(["-sS", "-o"]).arg(&out).arg(format!("tftp://{}/big.bin", s.tftp)));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&out).unwrap() == data, "40 MiB download differs");
    // RFC 1350: a size that is a multiple of 512 ends with an empty block.
    let blocks = len / 512 + 1;
    assert!(s.log().contains(&format!("blocks={blocks}")), "{}", s.log());
}

#[test]
fn tftp_hpa_client_octet_and_netascii() {
    if !tool("tftp", "tftp-hpa") {
        return;
    }
    let data = pattern(200_000, 5);
    let text = b"first line\nsecond line\r\nthird\rline\n".to_vec();
    let s = Served::start(&[], |root| {
        write(root, "f.bin", &data);
        write(root, "notes.txt", &text);
    });
    let get = |mode: &str, name: &str, local: &Path| {
        let o = run(Command::new("tftp").args(["-m", mode, &s.host(), &s.port(), "-c", "get", name]).arg(local));
        assert!(o.status.success() && o.stderr.is_empty(), "{mode}: {}", String::from_utf8_lossy(&o.stderr));
    };
    get("binary", "f.bin", &s.out("hpa.bin"));
    assert!(std::fs::read(s.out("hpa.bin")).unwrap() == data);
    // netascii: LF goes out as CR LF and CR as CR NUL; tftp-hpa converts back.
    get("ascii", "notes.txt", &s.out("hpa.txt"));
    assert_eq!(std::fs::read(s.out("hpa.txt")).unwrap(), text);
    assert!(s.log().contains("mode=\"netascii\""));
}

/// Every way out of the root, each through a real client; none returns the secret.
#[test]
fn tftp_every_traversal_form_is_refused() {
    if !tool("atftp", "atftp") {
        return;
    }
    let s = Served::start(&[], |root| {
        write(root, "f.bin", b"inside");
        write(root, "sub/file", b"nested");
        let outside = root.parent().unwrap().join("secret.txt");
        std::fs::write(&outside, b"SECRET").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("escape-link")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("etc-link")).unwrap();
    });
    let secret_abs = s.dir.path().join("secret.txt").display().to_string();
    let get = |name: &str| -> (bool, Vec<u8>, String) {
        let local = s.out("got");
        let _ = std::fs::remove_file(&local);
        let o = run(Command::new("atftp").args(["-g", "-r", name, "-l"]).arg(&local).args([&s.host(), &s.port()]));
        let content = std::fs::read(&local).unwrap_or_default();
        (o.status.success(), content, String::from_utf8_lossy(&o.stderr).into_owned())
    };
    for name in [
        "../secret.txt",
        "sub/../../secret.txt",
        "..\\secret.txt",
        "sub\\..\\..\\secret.txt",
        "escape-link",
        "etc-link/passwd",
    ] {
        let (ok, content, stderr) = get(name);
        assert!(!ok && !content.starts_with(b"SECRET") && !content.starts_with(b"root:"), "{name}: served");
        assert!(stderr.contains("error received from server"), "{name}: no TFTP ERROR: {stderr}");
    }
    // An absolute path is looked up under the root: the host file is not found there.
    let (ok, content, stderr) = get(&secret_abs);
    assert!(!ok && content.is_empty() && stderr.contains("not found"), "{secret_abs}: {stderr}");
    // Mapped, not refused: a leading slash and backslash separators.
    assert_eq!(get("/f.bin").1, b"inside");
    assert_eq!(get("sub\\file").1, b"nested");
    // A NUL cannot be inside a TFTP string: it ends the file name, and what follows
    // becomes the mode, which is refused.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    sock.send_to(b"\x00\x01f.bin\x00../secret.txt\x00octet\x00", s.tftp).unwrap();
    let mut buf = [0u8; 600];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..2], &[0, 5], "expected ERROR, got {:?}", &buf[..n]);
    let log = s.log();
    assert!(log.contains("has a `..` component") && log.contains("outside the root"), "{log}");
}

#[test]
fn tftp_write_requests_are_refused() {
    if !tool("curl", "curl") || !tool("atftp", "atftp") {
        return;
    }
    let s = Served::start(&[], |root| write(root, "f.bin", b"x"));
    let upload = s.out("upload.bin");
    std::fs::write(&upload, b"payload").unwrap();
    let o = run(Command::new("curl").args(["-sS", "-T"]).arg(&upload).arg(format!("tftp://{}/up.bin", s.tftp)));
    assert!(!o.status.success(), "curl upload succeeded");
    let o = run(Command::new("atftp").args(["-p", "-l"]).arg(&upload).args(["-r", "up2.bin", &s.host(), &s.port()]));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("read-only"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!s.root().join("up.bin").exists() && !s.root().join("up2.bin").exists());
    assert_eq!(metric(&s.metrics(), "optrom_tftp_write_requests_total"), 2);
}

/// Receive one datagram, with the sender.
fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 70000];
    let (n, from) = sock.recv_from(&mut buf).expect("no answer from the server");
    buf.truncate(n);
    (buf, from)
}

fn rrq(name: &str, options: &[(&str, &str)]) -> Vec<u8> {
    let mut p = vec![0, 1];
    for s in [name, "octet"].into_iter().chain(options.iter().flat_map(|(a, b)| [*a, *b])) {
        p.extend_from_slice(s.as_bytes());
        p.push(0);
    }
    p
}

/// EDK2's sequence as captured (netboot.md Appendix A run B): a `tsize` probe
/// abandoned with ERROR 8 after the OACK, then the download from a new port with
/// `blksize 1468 windowsize 4`, ACKing each window's last block. A retransmitted
/// RRQ in between is ignored, not served twice.
#[test]
fn tftp_edk2_probe_then_windowed_download() {
    if !tool("curl", "curl") {
        return;
    }
    let data = pattern(850_528, 6); // the size of Debian's ipxe.efi in the capture
    let s = Served::start(&[], |root| write(root, "ipxe.efi", &data));
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    probe.send_to(&rrq("ipxe.efi", &[("tsize", "0"), ("blksize", "1468"), ("windowsize", "4")]), s.tftp).unwrap();
    let (oack, tid) = recv(&probe);
    assert_ne!(tid, s.tftp, "the answer must come from a new transfer ID");
    assert_eq!(oack, b"\x00\x06tsize\x00850528\x00blksize\x001468\x00windowsize\x004\x00");
    probe.send_to(b"\x00\x05\x00\x08User aborted the transfer\x00", tid).unwrap();

    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let request = rrq("ipxe.efi", &[("blksize", "1468"), ("windowsize", "4")]);
    sock.send_to(&request, s.tftp).unwrap();
    sock.send_to(&request, s.tftp).unwrap(); // a retransmitted RRQ
    let (oack, tid) = recv(&sock);
    assert_eq!(oack, b"\x00\x06blksize\x001468\x00windowsize\x004\x00");
    sock.send_to(&[0, 4, 0, 0], tid).unwrap();
    let mut got = Vec::new();
    let mut expected_block: u16 = 1;
    loop {
        let (packet, from) = recv(&sock);
        assert_eq!(from, tid);
        assert_eq!(&packet[..2], &[0, 3], "not DATA: {:?}", &packet[..packet.len().min(40)]);
        let block = u16::from_be_bytes([packet[2], packet[3]]);
        assert_eq!(block, expected_block, "out of order");
        got.extend_from_slice(&packet[4..]);
        let last = packet.len() - 4 < 1468;
        if last || block % 4 == 0 {
            sock.send_to(&[0, 4, packet[2], packet[3]], tid).unwrap();
        }
        if last {
            break;
        }
        expected_block = expected_block.wrapping_add(1);
    }
    assert!(got == data, "windowed download differs");
    // Nothing else may arrive: the duplicate RRQ started no second transfer.
    sock.set_read_timeout(Some(Duration::from_millis(1500))).unwrap();
    let mut buf = [0u8; 100];
    assert!(sock.recv_from(&mut buf).is_err(), "a second transfer answered the duplicate RRQ");
    let m = s.metrics();
    assert_eq!(metric(&m, "optrom_tftp_transfers_total{outcome=\"probe\"}"), 1);
    assert_eq!(metric(&m, "optrom_tftp_transfers_total{outcome=\"complete\"}"), 1);
    assert_eq!(metric(&m, "optrom_tftp_transfers_total{outcome=\"client_abort\"}"), 0);
    assert_eq!(metric(&m, "optrom_tftp_duplicate_requests_total"), 1);
    assert_eq!(metric(&m, "optrom_tftp_bytes_sent_total"), data.len() as u64);
    assert!(s.log().contains("tftp size probe answered"));
}

#[test]
fn tftp_lost_acks_are_retransmitted() {
    let data = pattern(5000, 7);
    let s = Served::start(&[], |root| write(root, "f.bin", &data));
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    sock.send_to(&rrq("f.bin", &[]), s.tftp).unwrap();
    let (first, tid) = recv(&sock);
    // Say nothing: the server must send DATA 1 again after its timeout.
    let (again, _) = recv(&sock);
    assert_eq!(first, again);
    assert_eq!(&first[..4], &[0, 3, 0, 1]);
    sock.send_to(&[0, 5, 0, 0, b'x', 0], tid).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(metric(&s.metrics(), "optrom_tftp_retransmissions_total") >= 1);
}

#[test]
fn http_files_head_range_types_and_confinement() {
    if !tool("curl", "curl") {
        return;
    }
    let data = pattern(70_000, 8);
    let s = Served::start(&["--boot-file", "ipxe.efi"], |root| {
        write(root, "ipxe.efi", &data);
        write(root, "undionly.kpxe", b"kpxe");
        write(root, "sub/d.iso", b"iso");
        let outside = root.parent().unwrap().join("secret.txt");
        std::fs::write(&outside, b"SECRET").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("escape-link")).unwrap();
    });
    let url = |path: &str| format!("http://{}{path}", s.http);
    let curl = |args: &[&str]| -> (String, Vec<u8>) {
        let o = run(Command::new("curl").args(["-sS", "--path-as-is", "-D", "-", "-o"]).arg(s.out("body")).args(args));
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        (String::from_utf8_lossy(&o.stdout).to_ascii_lowercase(), std::fs::read(s.out("body")).unwrap_or_default())
    };
    // HEAD: the headers of a GET, no body.
    let (head, body) = curl(&["-I", &url("/ipxe.efi")]);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains(&format!("content-length: {}\r\n", data.len())), "{head}");
    assert!(head.contains("content-type: application/efi\r\n"), "{head}");
    assert!(body.starts_with(b"HTTP/1.1 200"), "curl -I writes the headers, nothing else");
    let o =
        run(Command::new("curl").args(["-sS", "-I", "-o", "/dev/null", "-w", "%{size_download}", &url("/ipxe.efi")]));
    assert_eq!(o.stdout, b"0", "HEAD carried a body");
    // GET whole file, content types.
    let (h, body) = curl(&[&url("/ipxe.efi")]);
    assert!(h.starts_with("http/1.1 200") && body == data);
    assert!(curl(&[&url("/undionly.kpxe")]).0.contains("content-type: application/octet-stream\r\n"));
    assert!(curl(&[&url("/sub/d.iso")]).0.contains("content-type: application/vnd.efi-iso\r\n"));
    // Range: exact bytes, and 416 when unsatisfiable.
    let (h, body) = curl(&["-r", "1000-1999", &url("/ipxe.efi")]);
    assert!(h.starts_with("http/1.1 206"), "{h}");
    assert!(h.contains(&format!("content-range: bytes 1000-1999/{}\r\n", data.len())), "{h}");
    assert_eq!(body, &data[1000..2000]);
    let (h, body) = curl(&["-r", "69990-", &url("/ipxe.efi")]);
    assert!(h.starts_with("http/1.1 206") && body == data[69990..]);
    let (h, _) = curl(&["-r", "80000-80010", &url("/ipxe.efi")]);
    assert!(h.starts_with("http/1.1 416"), "{h}");
    // Traversal: every form is 403 (or 404 for an absolute host path under the root).
    for path in [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/ipxe.efi%00.txt",
        "/escape-link",
    ] {
        let (h, body) = curl(&[&url(path)]);
        assert!(h.starts_with("http/1.1 403"), "{path}: {h}");
        assert!(!body.starts_with(b"SECRET"), "{path}: served the secret");
    }
    let abs = format!("/{}", s.dir.path().join("secret.txt").display());
    assert!(curl(&[&url(&abs)]).0.starts_with("http/1.1 404"));
    assert!(curl(&[&url("/sub%5cd.iso")]).0.starts_with("http/1.1 200"), "backslash maps to /");
    // Keep-alive: two requests in one curl run share the connection.
    let o = run(Command::new("curl").args([
        "-sv",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        &url("/ipxe.efi"),
        &url("/undionly.kpxe"),
    ]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Re-using existing connection"));
    // The default script chains to the boot file.
    let (h, body) = curl(&[&url("/_/boot.ipxe?mac=52-54-00-12-34-56")]);
    assert!(h.starts_with("http/1.1 200"));
    assert_eq!(body, b"#!ipxe\nchain /ipxe.efi\n");
    // Metrics count what was served.
    let m = s.metrics();
    assert!(metric(&m, "optrom_http_responses_total{class=\"2xx\"}") >= 8);
    assert!(metric(&m, "optrom_http_responses_total{class=\"4xx\"}") >= 8);
    assert!(m.contains("# TYPE optrom_tftp_transfers_total counter"));
}

/// Peak resident memory of a process, from /proc (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn tftp_200_concurrent_downloads_with_bounded_memory() {
    if !tool("curl", "curl") {
        return;
    }
    let data = pattern(5 << 20, 9);
    let s = Served::start(&[], |root| write(root, "f5m.bin", &data));
    let started = Instant::now();
    let clients: Vec<Child> = (0..200)
        .map(|i| {
            Command::new("curl")
                .args(["-sS", "--tftp-blksize", "1468", "--max-time", "600", "-o"])
                .arg(s.out(&format!("c{i}")))
                .arg(format!("tftp://{}/f5m.bin", s.tftp))
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "client {i}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let elapsed = started.elapsed();
    for i in 0..200 {
        assert!(std::fs::read(s.out(&format!("c{i}"))).unwrap() == data, "client {i}: content differs");
    }
    let rss = peak_rss_kib(s.pid());
    eprintln!("200 × 5 MiB over TFTP in {:.1} s; server peak RSS {} KiB", elapsed.as_secs_f64(), rss);
    assert_eq!(metric(&s.metrics(), "optrom_tftp_transfers_total{outcome=\"complete\"}"), 200);
    // Each transfer holds one read chunk plus its window; 200 of them stay far
    // below 200 copies of the file (1000 MiB).
    assert!(rss < 256 * 1024, "peak RSS {rss} KiB");
}

#[test]
fn sigterm_mid_transfer_aborts_it_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, "shutdown_grace_secs = 1\n[tftp]\ntimeout_ms = 200\nretries = 100\n").unwrap();
    let mut s =
        Served::start(&["--config", config.to_str().unwrap()], |root| write(root, "f.bin", &pattern(100_000, 10)));
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    sock.send_to(&rrq("f.bin", &[]), s.tftp).unwrap();
    let (first, _) = recv(&sock);
    assert_eq!(&first[..4], &[0, 3, 0, 1]);
    // Never ACK; ask the server to stop. After the 1 s grace it aborts the transfer.
    let status = s.stop();
    assert_eq!(status.code(), Some(0), "{}", s.log());
    // Queued: DATA 1 retransmissions, then the ERROR that ends the transfer.
    sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut last = Vec::new();
    let mut buf = [0u8; 600];
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        last = buf[..n].to_vec();
    }
    assert_eq!(&last[..4], &[0, 5, 0, 0], "the client was not told: {last:?}");
    let log = s.log();
    assert!(log.contains("grace period over") && log.contains("outcome=\"shutdown\""), "{log}");
}

#[test]
fn bad_config_and_dhcp_without_an_address_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[tftp]\nblocksize = 1468\n").unwrap();
    let o = run(Command::new(env!("CARGO_BIN_EXE_optrom")).args(["serve", "--config", config.to_str().unwrap()]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("bad.toml") && err.contains("blocksize") && err.trim().lines().count() == 1, "{err}");
    let o = run(Command::new(env!("CARGO_BIN_EXE_optrom")).args([
        "serve",
        "--dhcp",
        "proxy",
        "--tftp-port",
        "0",
        "--http-port",
        "0",
    ]));
    assert_eq!(o.status.code(), Some(2));
    // DHCP needs to know the address clients boot from.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--interface") && err.trim().lines().count() == 1, "{err}");
    let o = run(Command::new(env!("CARGO_BIN_EXE_optrom")).args(["serve", "--dhcp", "off", "--root", "/no/such/dir"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/no/such/dir"));
}
