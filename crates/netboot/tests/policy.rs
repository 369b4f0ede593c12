//! Boot policy: config errors with positions, rule precedence, templates with every iPXE
//! variable, iPXE script shape, the Xen checks, one-shot boots, quick modes.
//!
//! Expected numbers come from iPXE's multiboot accounting worked out by hand in the comments
//! (multiboot.c: each image takes `URI`, then `" " + args` if it has arguments, then a NUL, in one
//! 512-byte buffer; at most 8 modules), and files are compressed with the system `gzip`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use optrom_netboot::policy::{
    BootConfig, BootStep, ClientArch, ClientFacts, FirmwareClass, IPXE_VARIABLES, Policy, ServerUrls, Severity,
    SqliteOnceStore, Target, bootstrap_script, quick,
};

const BASE: &str = "http://10.0.0.1:8080";

fn urls() -> ServerUrls {
    ServerUrls::new(BASE)
}

/// A file iPXE's multiboot loader accepts, by the Multiboot specification (§3.1.1): an ELF file
/// (`\x7fELF`) with the header magic 0x1BADB002, flags, and a checksum making the three words
/// sum to zero, within the first 8 KiB.
fn multiboot_image() -> Vec<u8> {
    let magic: u32 = 0x1BAD_B002;
    let flags: u32 = 0x0000_0003;
    let checksum = 0u32.wrapping_sub(magic).wrapping_sub(flags);
    let mut data = vec![0u8; 4096];
    data[..4].copy_from_slice(b"\x7fELF");
    for (at, word) in [(64, magic), (68, flags), (72, checksum)] {
        data[at..at + 4].copy_from_slice(&word.to_le_bytes());
    }
    data.extend((0..20000u32).map(|i| (i * 7 % 251) as u8));
    data
}

struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new() -> Root {
        let root = Root { dir: tempfile::tempdir().unwrap() };
        for f in ["vmlinuz", "initrd", "debian/vmlinuz", "debian/initrd.img", "xen.efi"] {
            root.write(f, b"not a real kernel");
        }
        for i in 0..9 {
            root.write(&format!("m{i}"), b"module");
        }
        root.write("xen", &multiboot_image());
        root.write("xen-plain.gz", &multiboot_image());
        let status = Command::new("gzip").arg("-f").arg(root.path().join("xen-plain.gz")).status().expect("gzip");
        assert!(status.success());
        std::fs::rename(root.path().join("xen-plain.gz.gz"), root.path().join("xen.gz")).unwrap();
        root
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, data: &[u8]) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    fn policy(&self, toml: &str) -> Policy {
        let path = self.path().join("boot.toml");
        std::fs::write(&path, toml).unwrap();
        Policy::new(BootConfig::load(&path).unwrap_or_else(|e| panic!("{e}")))
    }
}

fn ipxe(arch: ClientArch, mac: &str) -> ClientFacts {
    ClientFacts { mac: Some(mac.parse().unwrap()), ..ClientFacts::anonymous(arch, FirmwareClass::Ipxe) }
}

fn errors(decision: &optrom_netboot::policy::ScriptDecision) -> Vec<String> {
    decision.findings.iter().filter(|f| f.severity == Severity::Error).map(|f| f.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Config errors: `FILE: line L, column C: what`.

#[test]
fn config_errors_name_file_line_and_column() {
    let cases: &[(&str, &str, &str)] = &[
        // (config, expected "line L, column C", message fragment)
        (
            "[menu.main]\nitems = [\"a\"]\n\n[item.a]\nkind = \"linux\"\nkernal = \"x\"\n",
            "line 6, column 1",
            "unknown field `kernal`",
        ),
        ("[menu.main]\nitems = [\"a\", \"b\"]\n[item.a]\nkind = \"local\"\n", "line 2, column 15", "no item `b`"),
        (
            "[menu.main]\nitems = [\"a\"]\n[item.a]\nkind = \"local\"\n[[rule]]\nmac = \"52:54:00:zz:00:01\"\nitem = \"a\"\n",
            "line 6, column 7",
            "invalid MAC address",
        ),
        ("[menu.main]\nitems = [\"a\"]\n[item.a]\nkind = \"lnux\"\n", "line 4, column 8", "unknown variant `lnux`"),
        (
            "[menu.main]\nitems = [\"a\"]\ndefault = \"b\"\n[item.a]\nkind = \"local\"\n",
            "line 3, column 11",
            "default `b` is not one of its items",
        ),
        ("[menu.main]\nitems = [\"a\"]\n[item.a]\nkind = \"linux\"\n", "line 3, column 1", "missing `kernel`"),
        (
            "[menu.main]\nitems = [\"a\"]\n[item.a]\nkind = \"linux\"\nkernel = \"k\"\nargs = \"{{ oops \"\n",
            "line 3, column 1",
            "template syntax error",
        ),
        (
            "[menu.main]\nitems = [\"a\"]\n[item.a]\nkind = \"local\"\n[[rule]]\narch = \"sparc\"\nitem = \"a\"\n",
            "line 6, column 8",
            "unknown architecture \"sparc\"",
        ),
        (
            "[menu.main]\nitems = [\"a\"]\n[item.a]\nkind = \"local\"\n[[rule]]\nlabel = \"x\"\nitem = \"a\"\nonce = true\n",
            "line 5, column 1",
            "`once` needs `mac` or `uuid`",
        ),
        (
            "[vars]\nmac = \"x\"\n[menu.main]\nitems = [\"a\"]\n[item.a]\nkind = \"local\"\n",
            "",
            "would hide the built-in template variable",
        ),
        (
            "[menu.main]\nitems = [\"a\"]\n[item.a]\nkind = \"local\"\nurl = \"http://x\"\n",
            "line 3, column 1",
            "`url` does not apply to kind local",
        ),
    ];
    for (text, at, fragment) in cases {
        let err = BootConfig::parse("t.toml", text).expect_err(text).to_string();
        assert!(err.starts_with("t.toml: "), "{err}");
        assert!(err.contains(at), "expected {at:?} in {err:?}");
        assert!(err.contains(fragment), "expected {fragment:?} in {err:?}");
        assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    }
}

#[test]
fn examples_load_and_check_structurally() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/netboot");
    for name in ["xen-nfs.toml", "debian-installer.toml", "multiarch.toml"] {
        let config = BootConfig::load(&dir.join(name)).unwrap_or_else(|e| panic!("{e}"));
        assert!(!config.menus.is_empty(), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Boot files and the loop-free chain step.

#[test]
fn boot_files_per_class_and_architecture() {
    let root = Root::new();
    let policy =
        root.policy("[menu.main]\nitems = [\"l\"]\n[item.l]\nkind = \"local\"\n[boot_files]\nx64 = \"ipxe.efi\"\n");
    let step = |arch, firmware| policy.boot_file(&ClientFacts::anonymous(arch, firmware), &urls());
    // Debian's iPXE names for each firmware.
    assert_eq!(step(ClientArch::Bios, FirmwareClass::Pxe), BootStep::Tftp("undionly.kpxe".into()));
    assert_eq!(step(ClientArch::X64, FirmwareClass::Pxe), BootStep::Tftp("ipxe.efi".into()));
    assert_eq!(step(ClientArch::Arm64, FirmwareClass::Pxe), BootStep::Tftp("ipxe-arm64.efi".into()));
    assert_eq!(step(ClientArch::RiscV64, FirmwareClass::Pxe), BootStep::Tftp("ipxe-riscv64.efi".into()));
    assert_eq!(step(ClientArch::Loong64, FirmwareClass::Pxe), BootStep::Tftp("ipxe-loong64.efi".into()));
    // UEFI HTTP boot: the EFI file by URL.
    assert_eq!(step(ClientArch::X64, FirmwareClass::HttpBoot), BootStep::Url(format!("{BASE}/ipxe.efi")));
    assert_eq!(step(ClientArch::Arm64, FirmwareClass::HttpBoot), BootStep::Url(format!("{BASE}/ipxe-arm64.efi")));
    // Any iPXE, on any architecture, gets the script — never a boot file again.
    for arch in ClientArch::ALL {
        assert_eq!(step(arch, FirmwareClass::Ipxe), BootStep::Url(format!("{BASE}/_/boot.ipxe")));
    }
    assert!(
        matches!(step(ClientArch::Arm32, FirmwareClass::Pxe), BootStep::Ignore(r) if r.contains("no boot file for arm32"))
    );
}

#[test]
fn option_93_codes_map_to_architectures() {
    // IANA "Processor Architecture Types" (RFC 4578 + erratum 4624: 7 is x64 UEFI).
    let table = [
        (0, ClientArch::Bios, false),
        (6, ClientArch::Ia32, false),
        (7, ClientArch::X64, false),
        (9, ClientArch::X64, false),
        (10, ClientArch::Arm32, false),
        (11, ClientArch::Arm64, false),
        (16, ClientArch::X64, true),
        (19, ClientArch::Arm64, true),
        (27, ClientArch::RiscV64, false),
        (39, ClientArch::Loong64, false),
        (40, ClientArch::Loong64, true),
    ];
    for (code, arch, http) in table {
        assert_eq!(ClientArch::from_dhcp_code(code), Some((arch, http)), "code {code}");
    }
    assert_eq!(ClientArch::from_dhcp_code(2), None);
}

#[test]
fn bootstrap_chains_back_with_every_ipxe_variable() {
    let script = bootstrap_script(&format!("{BASE}/_/boot.ipxe"));
    assert!(script.starts_with("#!ipxe\n"));
    // iPXE setting names (ipxe.org/cfg), as the bootstrap must ask for them.
    for setting in [
        "${mac}",
        "${uuid}",
        "${buildarch}",
        "${platform}",
        "${serial:uristring}",
        "${manufacturer:uristring}",
        "${product:uristring}",
        "${asset:uristring}",
        "${busid}",
        "${hostname:uristring}",
        "${next-server}",
    ] {
        assert!(script.contains(setting), "{setting} missing in {script}");
    }
    assert!(script.contains(&format!("chain --autofree {BASE}/_/boot.ipxe?mac=${{mac}}&")));
}

#[test]
fn ipxe_query_parses_into_facts() {
    let q = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    assert_eq!(ClientFacts::from_ipxe_query(&q(&[])).unwrap(), None);
    let facts = ClientFacts::from_ipxe_query(&q(&[
        ("mac", "52:54:00:12:34:56"),
        ("platform", "pcbios"),
        ("buildarch", "i386"),
        ("uuid", "11111111-2222-3333-4444-555555555555"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(facts.arch, ClientArch::Bios);
    assert_eq!(facts.firmware, FirmwareClass::Ipxe);
    assert_eq!(facts.mac.unwrap().to_string(), "52:54:00:12:34:56");
    let efi =
        ClientFacts::from_ipxe_query(&q(&[("mac", "52-54-00-12-34-56"), ("platform", "efi"), ("buildarch", "x86_64")]))
            .unwrap()
            .unwrap();
    assert_eq!(efi.arch, ClientArch::X64);
    let bad =
        ClientFacts::from_ipxe_query(&q(&[("mac", "zz"), ("platform", "efi"), ("buildarch", "x86_64")])).unwrap_err();
    assert!(bad.contains("query field mac"), "{bad}");
}

// ---------------------------------------------------------------------------------------------
// Rules: most specific wins; ties go to the earlier rule.

#[test]
fn rule_precedence_table() {
    let root = Root::new();
    let mut toml = String::from("default = \"main\"\n[item.l]\nkind = \"local\"\n");
    for m in ["main", "any_ipxe", "x64", "rack", "rack_second", "host", "by_uuid", "by_mac", "mac_bios", "label_x64"] {
        toml.push_str(&format!("[menu.{m}]\nitems = [\"l\"]\n"));
    }
    for (name, sel) in [
        ("any_ipxe", "firmware = \"ipxe\""),
        ("x64", "arch = \"x64\""),
        ("rack", "label = \"rack\""),
        ("rack_second", "label = \"rack\""),
        ("label_x64", "label = \"rack\"\narch = \"x64\""),
        ("host", "hostname = \"h1\""),
        ("by_uuid", "uuid = \"11111111-2222-3333-4444-555555555555\""),
        ("by_mac", "mac = \"52:54:00:00:00:01\""),
        ("mac_bios", "mac = \"52:54:00:00:00:01\"\narch = \"bios\""),
    ] {
        toml.push_str(&format!("[[rule]]\nname = \"{name}\"\n{sel}\nmenu = \"{name}\"\n"));
    }
    toml.push_str("[[machine]]\nmac = \"52:54:00:00:00:02\"\nlabels = [\"rack\"]\n");
    toml.push_str("[[machine]]\nmac = \"52:54:00:00:00:03\"\nlabels = [\"rack\"]\nhostname = \"h1\"\n");
    toml.push_str("[[machine]]\nuuid = \"11111111-2222-3333-4444-555555555555\"\nlabels = [\"rack\"]\n");
    let policy = root.policy(&toml);
    let uuid = "11111111-2222-3333-4444-555555555555";
    let table: &[(&str, ClientArch, Option<&str>, FirmwareClass, &str)] = &[
        // (mac, arch, uuid, class, expected rule)
        ("52:54:00:00:00:09", ClientArch::Bios, None, FirmwareClass::Ipxe, "any_ipxe"),
        ("52:54:00:00:00:09", ClientArch::X64, None, FirmwareClass::Ipxe, "x64"),
        ("52:54:00:00:00:02", ClientArch::Bios, None, FirmwareClass::Ipxe, "rack"), // label beats firmware; first of equal labels
        ("52:54:00:00:00:02", ClientArch::X64, None, FirmwareClass::Ipxe, "label_x64"), // label+arch beats label
        ("52:54:00:00:00:03", ClientArch::X64, None, FirmwareClass::Ipxe, "host"),  // hostname beats label+arch
        ("52:54:00:00:00:09", ClientArch::X64, Some(uuid), FirmwareClass::Ipxe, "by_uuid"), // uuid beats hostname/label
        ("52:54:00:00:00:01", ClientArch::X64, Some(uuid), FirmwareClass::Ipxe, "by_uuid"), // mac and uuid rank equal; by_uuid is written first
        ("52:54:00:00:00:01", ClientArch::Bios, None, FirmwareClass::Ipxe, "mac_bios"),     // mac+arch beats mac
    ];
    for (mac, arch, uuid, class, expected) in table {
        let facts = ClientFacts {
            mac: Some(mac.parse().unwrap()),
            uuid: uuid.map(|u| u.parse().unwrap()),
            ..ClientFacts::anonymous(*arch, *class)
        };
        let d = policy.explain(&facts, &urls());
        let got = d.rule.as_ref().map(|(n, _)| n.as_str()).unwrap_or("none");
        assert_eq!(got, *expected, "{mac} {arch} {uuid:?}: {}", d.explain());
        assert_eq!(d.target, Target::Menu(expected.to_string()));
    }
    // A PXE firmware request does not match the ipxe-only catch-all: default menu.
    let d = policy.explain(&ClientFacts::anonymous(ClientArch::Bios, FirmwareClass::Pxe), &urls());
    assert_eq!(d.rule, None);
    assert_eq!(d.target, Target::Menu("main".into()));
}

#[test]
fn explain_names_rule_and_losers() {
    let root = Root::new();
    let policy = root.policy(
        "[menu.main]\nitems=[\"l\"]\n[item.l]\nkind=\"local\"\n[[rule]]\nname=\"all-x64\"\narch=\"x64\"\nitem=\"l\"\n\
         [[rule]]\nname=\"node\"\nmac=\"52:54:00:00:00:01\"\nitem=\"l\"\n",
    );
    let d = policy.explain(&ipxe(ClientArch::X64, "52:54:00:00:00:01"), &urls());
    let text = d.explain();
    assert!(text.contains("rule: `node` (matched on mac)"), "{text}");
    assert!(text.contains("also matched, less specific or later: `all-x64`"), "{text}");
    assert!(text.contains("decision: item `l`"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Scripts and templates.

#[test]
fn menu_script_has_ipxe_syntax() {
    let root = Root::new();
    let policy = root.policy(
        r#"
[menu.main]
title = "Boot menu"
items = ["deb", "tools", "local"]
default = "deb"
timeout = 5
[menu.tools]
items = ["sh", "xyz"]
[item.deb]
kind = "linux"
label = "Debian"
kernel = "debian/vmlinuz"
initrds = ["debian/initrd.img"]
args = "console=ttyS0"
[item.tools]
kind = "submenu"
menu = "tools"
[item.sh]
kind = "shell"
[item.xyz]
kind = "chain"
url = "http://boot.netboot.xyz/"
[item.local]
kind = "local"
"#,
    );
    let bios = policy.script(&ipxe(ClientArch::Bios, "52:54:00:00:00:01"), &urls()).script;
    for line in [
        "#!ipxe",
        ":m_main",
        "menu Boot menu",
        "item i_deb Debian",
        "item m_tools tools >",
        "item i_local Boot from the next device",
        "choose --timeout 5000 --default i_deb optrom_choice || goto optrom_exit",
        "goto ${optrom_choice}",
        ":m_tools",
        "choose optrom_choice || goto optrom_exit",
        ":i_deb",
        "imgfree",
        "kernel http://10.0.0.1:8080/debian/vmlinuz console=ttyS0",
        "initrd http://10.0.0.1:8080/debian/initrd.img",
        "boot || goto optrom_failed",
        "chain --autofree http://boot.netboot.xyz/ || goto optrom_failed",
        ":i_local",
        "exit",
        ":i_sh",
        "shell",
    ] {
        assert!(bios.lines().any(|l| l == line), "missing {line:?} in\n{bios}");
    }
    // imgfree comes right before the kernel, so stray images never become modules.
    let lines: Vec<&str> = bios.lines().collect();
    let k = lines.iter().position(|l| l.starts_with("kernel ")).unwrap();
    assert_eq!(lines[k - 1], "imgfree");
    // Every goto target exists as a label.
    for l in &lines {
        if let Some(target) = l.strip_prefix("goto ").or_else(|| l.split(" || goto ").nth(1)) {
            if target.starts_with("${") {
                continue;
            }
            assert!(lines.contains(&format!(":{target}").as_str()), "no label {target} in\n{bios}");
        }
    }
    // EFI: the kernel's EFI stub gets initrd= naming the image.
    let efi = policy.script(&ipxe(ClientArch::X64, "52:54:00:00:00:01"), &urls()).script;
    assert!(efi.contains("kernel http://10.0.0.1:8080/debian/vmlinuz initrd=initrd.img console=ttyS0\n"), "{efi}");
}

#[test]
fn templates_see_every_ipxe_variable_and_machine_vars() {
    let root = Root::new();
    let mut script = String::new();
    for v in IPXE_VARIABLES {
        script.push_str(&format!("echo {v}=[{{{{ {v} }}}}]\n"));
    }
    script.push_str(
        "echo site=[{{ site }}] export=[{{ vars.export }}] arch=[{{ arch }}] server=[{{ server }}] item=[{{ item }}]\n",
    );
    let policy = root.policy(&format!(
        "[vars]\nsite = \"lab\"\nexport = \"/srv/all\"\n[menu.main]\nitems = [\"s\"]\n[item.s]\nkind = \"script\"\nscript = '''\n{script}'''\n\
         [[machine]]\nmac = \"52:54:00:12:34:56\"\nhostname = \"node1\"\nvars = {{ export = \"/srv/node1\" }}\n\
         [[rule]]\nmac = \"52:54:00:12:34:56\"\nitem = \"s\"\n"
    ));
    // What an iPXE client reports through the bootstrap chain, one distinct value per variable.
    let mut query: Vec<(String, String)> = IPXE_VARIABLES.iter().map(|v| (v.to_string(), format!("V-{v}"))).collect();
    for (k, v) in query.iter_mut() {
        match k.as_str() {
            "mac" => *v = "52:54:00:12:34:56".into(),
            "uuid" => *v = "11111111-2222-3333-4444-555555555555".into(),
            "platform" => *v = "efi".into(),
            "buildarch" => *v = "x86_64".into(),
            _ => {}
        }
    }
    let facts = ClientFacts::from_ipxe_query(&query).unwrap().unwrap();
    let d = policy.script(&facts, &urls());
    assert!(errors(&d).is_empty(), "{:?}", d.findings);
    for (k, v) in &query {
        // The inventory's hostname wins over the one the client reported.
        let v = if k == "hostname" { "node1" } else { v.as_str() };
        assert!(d.script.contains(&format!("echo {k}=[{v}]")), "{k} missing in\n{}", d.script);
    }
    assert!(
        d.script.contains(&format!("echo site=[lab] export=[/srv/node1] arch=[x64] server=[{BASE}] item=[s]")),
        "{}",
        d.script
    );

    // An undefined variable is an error naming the item, not an empty string.
    let policy = root.policy("[menu.main]\nitems = [\"k\"]\n[item.k]\nkind = \"linux\"\nkernel = \"vmlinuz\"\nargs = \"root={{ rootdev }}\"\n");
    let d = policy.explain(&ipxe(ClientArch::Bios, "52:54:00:00:00:01"), &urls());
    let errs = errors(&d);
    assert!(errs.iter().any(|e| e.contains("item `k`: args: template error") && e.contains("undefined")), "{errs:?}");
}

#[test]
fn missing_files_are_named() {
    let root = Root::new();
    let policy = root.policy("[menu.main]\nitems = [\"k\"]\n[item.k]\nkind = \"linux\"\nkernel = \"nope/vmlinuz\"\n");
    let errs = errors(&policy.explain(&ipxe(ClientArch::Bios, "52:54:00:00:00:01"), &urls()));
    assert!(errs.iter().any(|e| e.starts_with("error: item `k`: kernel nope/vmlinuz not found")), "{errs:?}");
}

// ---------------------------------------------------------------------------------------------
// Xen checks, each as iPXE's multiboot loader would fail.

fn xen_config(hv: &str, hv_args: &str, dom0_args: &str, modules: usize, extra: &str) -> String {
    let mods: Vec<String> = (0..modules).map(|i| format!("{{ file = \"m{i}\" }}")).collect();
    format!(
        "[menu.main]\nitems = [\"xen\"]\n[item.xen]\nkind = \"xen\"\nhypervisor = \"{hv}\"\nhypervisor_args = \"{hv_args}\"\n\
         kernel = \"vmlinuz\"\nargs = \"{dom0_args}\"\nmodules = [{}]\n{extra}",
        mods.join(", ")
    )
}

#[test]
fn xen_checks_table() {
    let root = Root::new();
    let a = |n: usize| "a".repeat(n);
    // URIs: "http://10.0.0.1:8080/xen" = 24 bytes, ".../vmlinuz" = 28, ".../m0" = 23.
    // Bytes = (24 + 1 + A + 1) + (28 + 1 + B + 1) + (23 + 1) = A + B + 80 with one module.
    let cases: Vec<(&str, String, ClientArch, Option<&str>)> = vec![
        ("fits exactly 512", xen_config("xen", &a(200), &a(232), 1, ""), ClientArch::Bios, None),
        (
            "513 bytes",
            xen_config("xen", &a(200), &a(233), 1, ""),
            ClientArch::Bios,
            Some("multiboot command lines take 513 bytes (226 + 263 + 24 = each image's URI"),
        ),
        ("600 bytes", xen_config("xen", &a(200), &a(320), 1, ""), ClientArch::Bios, Some("take 600 bytes")),
        ("8 modules", xen_config("xen", "x", "y", 7, ""), ClientArch::Bios, None),
        (
            "9 modules",
            xen_config("xen", "x", "y", 8, ""),
            ClientArch::Bios,
            Some("9 multiboot modules (the dom0 kernel and 8 more); iPXE passes at most 8"),
        ),
        ("gzip, unpacking on", xen_config("xen.gz", "x", "y", 1, ""), ClientArch::Bios, None),
        (
            "gzip, unpacking off",
            xen_config("xen.gz", "x", "y", 1, "[server]\ngunzip = false\n"),
            ClientArch::Bios,
            Some("hypervisor xen.gz is gzip-compressed and iPXE cannot boot it"),
        ),
        (
            "remote gzip",
            xen_config("http://mirror/xen.gz", "x", "y", 1, ""),
            ClientArch::Bios,
            Some("is a gzip'd file on another server"),
        ),
        (
            "not multiboot",
            xen_config("vmlinuz", "x", "y", 1, ""),
            ClientArch::Bios,
            Some("is not a Multiboot ELF image"),
        ),
        (
            "EFI, multiboot only",
            xen_config("xen", "x", "y", 1, ""),
            ClientArch::X64,
            Some(
                "Xen boots through iPXE's multiboot loader, which iPXE builds only for BIOS, and this client is x64 UEFI; set `efi = ",
            ),
        ),
        ("EFI with xen.efi", xen_config("xen", "x", "y", 1, "efi = \"xen.efi\"\n"), ClientArch::X64, None),
        (
            "nfs root, no initrd",
            xen_config("xen", "x", "root=/dev/nfs ip=dhcp", 0, ""),
            ClientArch::Bios,
            Some("has root=/dev/nfs but no initrd"),
        ),
        (
            "nfs root, no ip=",
            xen_config("xen", "x", "root=/dev/nfs boot=nfs", 1, ""),
            ClientArch::Bios,
            Some("has root=/dev/nfs but no ip= setting"),
        ),
        ("nfs root ok", xen_config("xen", "x", "root=/dev/nfs boot=nfs ip=dhcp", 1, ""), ClientArch::Bios, None),
    ];
    for (name, toml, arch, expected) in cases {
        let policy = root.policy(&toml);
        let d = policy.explain(&ipxe(arch, "52:54:00:00:00:01"), &urls());
        let errs = errors(&d);
        match expected {
            None => assert!(errs.is_empty(), "{name}: unexpected {errs:?}\n{}", d.script),
            Some(fragment) => {
                assert!(
                    errs.iter().any(|e| e.starts_with("error: item `xen`: ") && e.contains(fragment)),
                    "{name}: {errs:?}"
                );
                // The client is told too; the item is not offered.
                assert!(!d.script.contains("\nboot "), "{name}:\n{}", d.script);
                // `--check` fails on it.
                assert!(policy.check(&urls()).has_errors(), "{name}");
            }
        }
    }
}

/// The issue's classic Xen-over-NFS line (`nfsroot=…,vers=3,udp`) boots nothing with Debian 12's
/// kernel (measured: crates/cli/tests/serve_nfs.rs got "Invalid argument" before it used tcp): a
/// warning that names the fix; the item is still offered (other kernels may have NFS over UDP).
#[test]
fn xen_nfs_root_over_udp_is_warned_about() {
    let root = Root::new();
    let udp = "root=/dev/nfs boot=nfs ip=dhcp nfsroot=10.0.0.1:/srv/nfs/debian,vers=3,udp";
    let policy = root.policy(&xen_config("xen", "x", udp, 1, ""));
    let d = policy.explain(&ipxe(ClientArch::Bios, "52:54:00:00:00:01"), &urls());
    assert!(errors(&d).is_empty(), "{:?}", d.findings);
    let warning = d.findings.iter().find(|f| f.severity == Severity::Warning).map(|f| f.to_string());
    assert_eq!(
        warning.as_deref(),
        Some(
            "warning: item `xen`: the dom0 command line mounts the NFS root over UDP (nfsroot=…,udp); Debian 12's \
             kernel is built with CONFIG_NFS_DISABLE_UDP_SUPPORT=y and fails that mount with \"Invalid argument\" — use tcp"
        )
    );
    assert!(d.script.contains("\nboot "), "still offered:\n{}", d.script);
    let tcp = udp.replace(",udp", ",tcp");
    let policy = root.policy(&xen_config("xen", "x", &tcp, 1, ""));
    let d = policy.explain(&ipxe(ClientArch::Bios, "52:54:00:00:00:01"), &urls());
    assert!(d.findings.iter().all(|f| f.severity == Severity::Note), "{:?}", d.findings);
}

#[test]
fn xen_bios_script_and_efi_alternative() {
    let root = Root::new();
    let policy = root.policy(&xen_config(
        "xen.gz",
        "dom0_mem=512M console=com1",
        "console=hvc0 token=T",
        1,
        "efi = \"xen.efi\"\n",
    ));
    let d = policy.script(&ipxe(ClientArch::Bios, "52:54:00:00:00:01"), &urls());
    let expected = "imgfree\nkernel http://10.0.0.1:8080/xen.gz dom0_mem=512M console=com1\n\
                    module http://10.0.0.1:8080/vmlinuz console=hvc0 token=T\nmodule http://10.0.0.1:8080/m0\n\
                    boot || goto optrom_failed\n";
    assert!(d.script.contains(expected), "{}", d.script);
    assert!(d.findings.iter().any(|f| f.severity == Severity::Note && f.message.contains("served decompressed")));

    // The same menu for a UEFI client selects Xen's EFI loader and says so.
    let d = policy.script(&ipxe(ClientArch::X64, "52:54:00:00:00:01"), &urls());
    assert!(
        d.script.contains("chain --name xen.efi http://10.0.0.1:8080/xen.efi || goto optrom_failed"),
        "{}",
        d.script
    );
    assert!(d.script.contains("imgfetch --name xen.cfg http://10.0.0.1:8080/_/boot.ipxe?xen_cfg=xen&platform=efi&buildarch=x86_64&mac=52:54:00:00:00:01"), "{}", d.script);
    assert!(
        d.findings.iter().any(|f| f.message.contains("x64 UEFI clients boot Xen's EFI loader xen.efi")),
        "{:?}",
        d.findings
    );
    let cfg = policy.xen_efi_config("xen", &ipxe(ClientArch::X64, "52:54:00:00:00:01"), &urls()).unwrap();
    assert_eq!(
        cfg,
        "[global]\ndefault=optrom\n\n[optrom]\noptions=dom0_mem=512M console=com1\nkernel=vmlinuz console=hvc0 token=T\nramdisk=m0\n"
    );
}

#[test]
fn efi_client_with_mixed_menu_gets_warning_and_other_items() {
    let root = Root::new();
    let toml = xen_config("xen", "x", "y", 1, "")
        .replace("items = [\"xen\"]", "items = [\"xen\", \"deb\"]\ndefault = \"xen\"\ntimeout = 3")
        + "[item.deb]\nkind = \"linux\"\nkernel = \"vmlinuz\"\n";
    let policy = root.policy(&toml);
    let d = policy.explain(&ipxe(ClientArch::X64, "52:54:00:00:00:01"), &urls());
    assert!(errors(&d).is_empty(), "{:?}", d.findings);
    assert!(
        d.findings.iter().any(
            |f| f.severity == Severity::Warning && f.to_string().contains("item `xen`: not offered to x64 clients")
        )
    );
    assert!(
        d.script.contains("item --gap xen (unavailable: Xen boots through iPXE's multiboot loader"),
        "{}",
        d.script
    );
    assert!(d.script.contains("item i_deb deb"));
}

#[test]
fn gzip_hypervisor_is_served_decompressed() {
    let root = Root::new();
    let policy = root.policy(&xen_config("xen.gz", "x", "y", 1, ""));
    let served = policy.resolve_file("/xen.gz").expect("served");
    assert!(served.gunzip);
    let bytes = policy.gunzipped(&served).unwrap();
    // Independent: the system gzip's view of the same file.
    let out = Command::new("gzip").arg("-dc").arg(root.path().join("xen.gz")).output().unwrap();
    assert!(out.status.success());
    assert_eq!(&bytes[..], &out.stdout[..]);
    assert_eq!(bytes.len(), multiboot_image().len());
    // Other files are served as they are; traversal is refused.
    assert!(!policy.resolve_file("/vmlinuz").unwrap().gunzip);
    assert!(policy.resolve_file("/../etc/passwd").is_none());
    assert!(policy.resolve_file("/nope").is_none());
}

// ---------------------------------------------------------------------------------------------
// "Boot item X once, then local".

#[test]
fn once_then_local_survives_restart() {
    let root = Root::new();
    let toml = "[menu.main]\nitems = [\"l\", \"k\"]\n[item.l]\nkind = \"local\"\n[item.k]\nkind = \"linux\"\nkernel = \"vmlinuz\"\n\
                [[rule]]\nname = \"reinstall\"\nmac = \"52:54:00:00:00:07\"\nitem = \"k\"\nonce = true\n";
    std::fs::write(root.path().join("boot.toml"), toml).unwrap();
    let db = root.path().join("state.sqlite");
    let load = || {
        let store = Arc::new(SqliteOnceStore::open(&db).unwrap());
        Policy::with_once_store(BootConfig::load(&root.path().join("boot.toml")).unwrap(), store)
    };
    let facts = ipxe(ClientArch::Bios, "52:54:00:00:00:07");
    let policy = load();
    // --explain does not use up the one-shot boot.
    assert_eq!(policy.explain(&facts, &urls()).target, Target::Item("k".into()));
    let first = policy.script(&facts, &urls());
    assert_eq!(first.target, Target::Item("k".into()));
    assert!(first.script.contains("kernel http://10.0.0.1:8080/vmlinuz\n"));
    let second = policy.script(&facts, &urls());
    assert_eq!(second.target, Target::LocalAfterOnce { rule: "reinstall".into(), item: "k".into() });
    assert!(second.script.ends_with("exit\n"), "{}", second.script);
    // Another machine is unaffected.
    assert_eq!(
        policy.script(&ipxe(ClientArch::Bios, "52:54:00:00:00:08"), &urls()).target,
        Target::Menu("main".into())
    );
    drop(policy);
    let policy = load();
    assert!(matches!(policy.script(&facts, &urls()).target, Target::LocalAfterOnce { .. }));
    assert!(policy.once_store().reset("reinstall", "52:54:00:00:00:07").unwrap());
    assert_eq!(policy.script(&facts, &urls()).target, Target::Item("k".into()));
}

// ---------------------------------------------------------------------------------------------
// Quick modes and --check.

#[test]
fn quick_modes() {
    let root = Root::new();
    let p = |f: &str| root.path().join(f);
    let linux = quick::quick_linux(&p("vmlinuz"), &[p("initrd")], Some("console=ttyS0 token=abc")).unwrap();
    let d = linux.script(&ipxe(ClientArch::X64, "52:54:00:00:00:01"), &urls());
    assert!(
        d.script.contains("kernel http://10.0.0.1:8080/quick/0/vmlinuz initrd=initrd console=ttyS0 token=abc\n"),
        "{}",
        d.script
    );
    assert!(d.script.contains("goto i_linux\n"), "timeout 0: straight to the item\n{}", d.script);
    assert_eq!(linux.resolve_file("/quick/1/initrd").unwrap().path, std::fs::canonicalize(p("initrd")).unwrap());

    let xen = quick::quick_multiboot(
        &p("xen.gz"),
        Some("console=com1"),
        &[format!("{} console=hvc0", p("vmlinuz").display()), p("initrd").display().to_string()],
    )
    .unwrap();
    let d = xen.script(&ipxe(ClientArch::Bios, "52:54:00:00:00:01"), &urls());
    assert!(d.script.contains("kernel http://10.0.0.1:8080/quick/0/xen.gz console=com1\nmodule http://10.0.0.1:8080/quick/1/vmlinuz console=hvc0\nmodule http://10.0.0.1:8080/quick/2/initrd\n"), "{}", d.script);
    assert!(xen.resolve_file("/quick/0/xen.gz").unwrap().gunzip);
    let report = xen.check(&urls());
    assert!(report.has_errors(), "x64 UEFI clients cannot multiboot");
    assert!(report.render().contains("menu `main` has nothing bootable for x64 clients"), "{}", report.render());
    assert!(quick::quick_multiboot(&p("xen"), None, &[]).unwrap_err().contains("at least one --module"));
    assert!(quick::quick_linux(&p("missing"), &[], None).unwrap_err().contains("--kernel"));
}

#[test]
fn check_prints_every_class_and_architecture() {
    let root = Root::new();
    let policy = root.policy("[menu.main]\nitems = [\"k\"]\n[item.k]\nkind = \"linux\"\nkernel = \"vmlinuz\"\n");
    let report = policy.check(&urls());
    let text = report.render();
    assert!(!report.has_errors(), "{text}");
    for line in [
        "== bios / pxe: TFTP undionly.kpxe",
        "== bios / ipxe: URL http://10.0.0.1:8080/_/boot.ipxe",
        "== x64 / pxe: TFTP snponly.efi",
        "== x64 / http: URL http://10.0.0.1:8080/snponly.efi",
        "== arm64 / http: URL http://10.0.0.1:8080/ipxe-arm64.efi",
        "== loong64 / ipxe: URL http://10.0.0.1:8080/_/boot.ipxe",
        "   | kernel http://10.0.0.1:8080/vmlinuz initrd",
    ] {
        assert!(text.lines().any(|l| l.starts_with(line.trim_end_matches(" initrd"))), "missing {line:?} in\n{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Debian's real Xen and kernel packages (scripts/fetch-boot-packages.sh).

/// The unpacked Debian packages, fetched once per target dir; `None` only when they cannot be
/// fetched and skipping is allowed (`OPTROM_SKIP_DEBIAN_PACKAGES=1`, never under CI=true).
fn debian_packages() -> Option<std::path::PathBuf> {
    match optrom_testsupport::fetch_boot_packages() {
        Ok(cache) => Some(cache),
        Err(e) => {
            let what = format!(
                "Debian's xen-hypervisor-4.17-amd64, linux-image-amd64 and busybox-static                  (scripts/fetch-boot-packages.sh failed: {e})"
            );
            optrom_testsupport::needs("DEBIAN_PACKAGES", false, &what);
            None
        }
    }
}

#[test]
fn debian_xen_package_is_recognised_and_unpacked() {
    let Some(cache) = debian_packages() else { return };
    let root = cache.join("root");
    let toml = "[menu.main]\nitems = [\"xen\"]\n[item.xen]\nkind = \"xen\"\nhypervisor = \"boot/xen-4.17-amd64.gz\"\n\
                hypervisor_args = \"console=com1\"\nkernel = \"vmlinuz\"\nefi = \"boot/xen-4.17-amd64.efi\"\n\
                [server]\nroot = \"ROOT\"\n"
        .replace("ROOT", &root.display().to_string());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("boot.toml"), &toml).unwrap();
    let vmlinuz = std::fs::read_link(cache.join("vmlinuz")).unwrap();
    std::fs::copy(&vmlinuz, root.join("vmlinuz")).unwrap();
    let policy = Policy::new(BootConfig::load(&dir.path().join("boot.toml")).unwrap());
    let d = policy.explain(&ipxe(ClientArch::Bios, "52:54:00:00:00:01"), &urls());
    assert!(errors(&d).is_empty(), "{:?}", d.findings);
    assert!(
        d.findings.iter().any(|f| f.message.contains("boot/xen-4.17-amd64.gz is gzip'd; it is served decompressed"))
    );
    // Served decompressed: exactly what gzip -dc gives (the unpacked hypervisor in the cache).
    let served = policy.resolve_file("/boot/xen-4.17-amd64.gz").unwrap();
    assert!(served.gunzip);
    let bytes = policy.gunzipped(&served).unwrap();
    assert_eq!(&bytes[..], &std::fs::read(cache.join("xen")).unwrap()[..]);
    // Debian's vmlinuz and xen.efi are not multiboot images.
    for wrong in ["vmlinuz", "boot/xen-4.17-amd64.efi"] {
        let policy = Policy::new(
            BootConfig::parse(
                "t.toml",
                &toml.replace("hypervisor = \"boot/xen-4.17-amd64.gz\"", &format!("hypervisor = \"{wrong}\"")),
            )
            .unwrap(),
        );
        let errs = errors(&policy.explain(&ipxe(ClientArch::Bios, "52:54:00:00:00:01"), &urls()));
        assert!(errs.iter().any(|e| e.contains("is not a Multiboot ELF image")), "{wrong}: {errs:?}");
    }
    // With unpacking off, the real package is refused with the fix.
    let policy = Policy::new(BootConfig::parse("t.toml", &format!("{toml}gunzip = false\n")).unwrap());
    let errs = errors(&policy.explain(&ipxe(ClientArch::Bios, "52:54:00:00:00:01"), &urls()));
    assert!(
        errs.iter().any(|e| e.contains("is gzip-compressed and iPXE cannot boot it") && e.contains("gunzip -k")),
        "{errs:?}"
    );
}

#[test]
fn script_endpoint_answers_bootstrap_script_and_xen_cfg() {
    use optrom_netboot::policy::Answer;
    let root = Root::new();
    let policy = root.policy(&xen_config("xen", "console=com1", "console=hvc0", 1, "efi = \"xen.efi\"\n"));
    let split = |url: &str| -> Vec<(String, String)> {
        url.split_once('?')
            .map(|(_, q)| q.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect())
            .unwrap_or_default()
    };
    assert!(matches!(policy.answer(&[], &urls()), Answer::Bootstrap(s) if s.contains("chain --autofree")));
    let query = split("/_/boot.ipxe?mac=52:54:00:00:00:01&platform=efi&buildarch=x86_64&uuid=&serial=");
    let Answer::Script { decision, .. } = policy.answer(&query, &urls()) else { panic!("no script") };
    // The xen.cfg URL in the EFI script, fed back to the endpoint, gives the config.
    let line = decision.script.lines().find(|l| l.starts_with("imgfetch --name xen.cfg ")).unwrap();
    let url = line.rsplit(' ').next().unwrap();
    assert!(url.starts_with(&format!("{BASE}/_/boot.ipxe?xen_cfg=xen&")), "{url}");
    match policy.answer(&split(url), &urls()) {
        Answer::XenCfg(cfg) => {
            assert!(cfg.contains("options=console=com1\nkernel=vmlinuz console=hvc0\nramdisk=m0\n"), "{cfg}")
        }
        other => panic!("{other:?}"),
    }
    let bad = split("/_/boot.ipxe?mac=52:54:00:00:00:01&platform=sparc&buildarch=x");
    assert!(
        matches!(policy.answer(&bad, &urls()), Answer::Invalid { script, .. } if script.contains("echo optrom: bad script request"))
    );
}

#[test]
fn explain_report_and_config_kind() {
    use optrom_netboot::policy::{explain_facts, explain_report, is_boot_config};
    let root = Root::new();
    let policy = root.policy(
        "[menu.main]\nitems=[\"k\"]\n[item.k]\nkind=\"linux\"\nkernel=\"vmlinuz\"\n[[rule]]\nname=\"n7\"\nmac=\"52:54:00:00:00:07\"\nitem=\"k\"\n",
    );
    assert!(is_boot_config(&root.path().join("boot.toml")));
    std::fs::write(root.path().join("serve.toml"), "root = \"/srv\"\n[tftp]\nport = 69\n").unwrap();
    assert!(!is_boot_config(&root.path().join("serve.toml")));
    let facts = explain_facts("52-54-00-00-00-07", "0", None).unwrap();
    let (text, errors) = explain_report(&policy, &facts, &urls());
    assert!(!errors);
    for line in [
        "client: 52:54:00:00:00:07, bios",
        "pxe stage: TFTP undionly.kpxe",
        "http stage: no answer (BIOS HTTP boot is not served (no iPXE build for it))",
        "ipxe stage: URL http://10.0.0.1:8080/_/boot.ipxe",
        "rule: `n7` (matched on mac)",
        "decision: item `k`",
        "  | kernel http://10.0.0.1:8080/vmlinuz",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    assert!(explain_facts("52:54:00:00:00:07", "sparc", None).unwrap_err().starts_with("--arch: unknown architecture"));
    assert!(explain_facts("nope", "x64", None).unwrap_err().starts_with("--mac: invalid MAC"));
}
