//! Real DHCPDISCOVERs captured from QEMU guests (tests/data/README.md) classified correctly,
//! including arm64 (11), the HTTP boot codes, and the option 93 7/9 trap; proxy offers for each
//! checked by decoding them back with dhcproto.

use std::net::Ipv4Addr;

use dhcproto::Decodable;
use dhcproto::v4::{DhcpOption, Message, MessageType, OptionCode};
use optrom_netboot::dhcp::classify::Arch;
use optrom_netboot::dhcp::reply::{binl_ack, encode, proxy_offer};
use optrom_netboot::dhcp::{
    BootFile, BootPolicy, Cpu, Decision, DefaultBootTable, Firmware, IpxeFeature, MacAddr, PacketError, Platform,
    ProxyStyle, Request, UserClass, VendorClass,
};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);

fn capture(name: &str) -> Vec<u8> {
    let p = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn parse(name: &str) -> Request {
    Request::parse(&capture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn mac(last: u8) -> MacAddr {
    MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, last])
}

const UUID: &str = "11111111-2222-3333-4444-555555555555";

#[test]
fn seabios_ipxe_rom_is_bios_ipxe_with_its_features() {
    let r = parse("seabios-ipxe-bios-discover.bin");
    let c = &r.class;
    assert_eq!(r.kind, MessageType::Discover);
    assert_eq!(c.mac, mac(0x56));
    assert_eq!(c.firmware, Firmware::Ipxe);
    assert_eq!(c.arch_codes, vec![0]);
    let arch = c.arch.unwrap();
    assert_eq!((arch.cpu, arch.platform), (Cpu::X86, Platform::Bios));
    assert_eq!(c.user_class, Some(UserClass::Raw(b"iPXE".to_vec())));
    let ipxe = c.ipxe.as_ref().unwrap();
    assert!(ipxe.user_class_ipxe && ipxe.encapsulated);
    // netboot.md Appendix A run A: DNS ELF HTTP iSCSI menu multiboot NFS PXEext PXE TFTP bzImage AoE, no HTTPS.
    for f in [IpxeFeature::Http, IpxeFeature::BzImage, IpxeFeature::Multiboot, IpxeFeature::PxeImage, IpxeFeature::Tftp]
    {
        assert!(ipxe.has(f), "{f:?}");
    }
    assert!(!ipxe.has(IpxeFeature::Https) && !ipxe.has(IpxeFeature::Efi));
    assert_eq!(ipxe.version, Some((1, 0, 0)));
    assert_eq!(ipxe.bus_id, Some((1, 0x1af4, 0x1041)));
    assert_eq!(c.uuid_string().as_deref(), Some(UUID));
    assert_eq!(
        c.vendor_class,
        Some(VendorClass::PxeClient(optrom_netboot::dhcp::classify::VendorClassFields {
            arch: Some(0),
            undi: Some((2, 1))
        }))
    );
}

#[test]
fn ovmf_firmware_pxe_is_x64_uefi_not_dhcprotos_bc() {
    let r = parse("ovmf-x64-pxe-discover.bin");
    let c = &r.class;
    assert_eq!(c.mac, mac(0x57));
    assert_eq!(c.firmware, Firmware::Pxe);
    assert_eq!(c.arch_codes, vec![7]);
    // IANA and RFC 4578 erratum 4624: 7 = x64 UEFI (RFC 4578 as printed said 9).
    assert_eq!(c.arch.unwrap().cpu, Cpu::X64);
    assert_eq!(c.arch.unwrap().platform, Platform::Uefi);
    assert!(c.ipxe.is_none() && c.user_class.is_none());
    assert_eq!(c.network_interface, Some((1, 3, 0)));
    assert_eq!(c.uuid_string().as_deref(), Some(UUID));
}

#[test]
fn code_9_is_ebc_and_boots_the_x64_file() {
    // No firmware at hand sends 9; build it from the OVMF capture by patching option 93.
    let mut p = capture("ovmf-x64-pxe-discover.bin");
    let at = find_option(&p, 93).unwrap();
    p[at + 2..at + 4].copy_from_slice(&[0, 9]);
    let r = Request::parse(&p).unwrap();
    assert_eq!(r.class.arch.unwrap().cpu, Cpu::Ebc);
    let table = DefaultBootTable::new(SERVER, 80);
    assert_eq!(table.decide(&r.class), Decision::Boot(BootFile::Tftp("snponly.efi".into())));
}

#[test]
fn ipxe_efi_rom_and_edk2_over_its_snp() {
    let c = parse("ovmf-ipxe-efi-discover.bin").class;
    assert_eq!(c.firmware, Firmware::Ipxe);
    assert_eq!(c.arch.unwrap().cpu, Cpu::X64);
    let ipxe = c.ipxe.unwrap();
    // "Do not gate on bzImage for EFI": EFI iPXE advertises 0x24 but not 0x18.
    assert!(ipxe.has(IpxeFeature::Efi) && ipxe.has(IpxeFeature::Http));
    assert!(!ipxe.has(IpxeFeature::BzImage) && !ipxe.has(IpxeFeature::Multiboot));
    assert_eq!(c.network_interface, Some((1, 3, 10)));

    let c = parse("ovmf-x64-pxe-over-ipxe-snp-discover.bin").class;
    assert_eq!(c.firmware, Firmware::Pxe);
    assert_eq!(c.network_interface, Some((1, 3, 1)));
}

#[test]
fn uefi_http_boot_x64_and_arm64() {
    for (file, code, cpu, last) in
        [("ovmf-x64-http-discover.bin", 16, Cpu::X64, 0x59), ("aavmf-arm64-http-discover.bin", 19, Cpu::Arm64, 0x5b)]
    {
        let r = parse(file);
        let c = &r.class;
        assert_eq!(c.mac, mac(last));
        assert_eq!(c.firmware, Firmware::HttpBoot, "{file}");
        assert_eq!(c.arch_codes, vec![code]);
        assert_eq!((c.arch.unwrap().cpu, c.arch.unwrap().platform), (cpu, Platform::UefiHttp));
        // The proxy offer: HTTPClient echoed, an IP-literal URL in option 67, yiaddr 0.
        let table = DefaultBootTable::new(SERVER, 8080);
        let Decision::Boot(f) = table.decide(c) else { panic!("{file}: no decision") };
        let m = decode(&proxy_offer(&r, &f, SERVER, ProxyStyle::Auto));
        assert_eq!(class_id(&m), b"HTTPClient");
        let want =
            if cpu == Cpu::X64 { "http://10.99.0.1:8080/snponly.efi" } else { "http://10.99.0.1:8080/ipxe-arm64.efi" };
        assert_eq!(m.opts().get(OptionCode::BootfileName), Some(&DhcpOption::BootfileName(want.into())));
        assert!(m.yiaddr().is_unspecified());
    }
}

#[test]
fn aavmf_arm64_pxe_gets_the_arm64_file() {
    let r = parse("aavmf-arm64-pxe-discover.bin");
    let c = &r.class;
    assert_eq!(c.mac, mac(0x5a));
    assert_eq!(c.firmware, Firmware::Pxe);
    assert_eq!(c.arch_codes, vec![11]);
    assert_eq!(c.arch.unwrap().cpu, Cpu::Arm64);
    let table = DefaultBootTable::new(SERVER, 80);
    assert_eq!(table.decide(c), Decision::Boot(BootFile::Tftp("ipxe-arm64.efi".into())));
}

#[test]
fn every_iana_code_in_netboot_md_maps() {
    // (code, cpu, platform) from reference/netboot.md §2.3 (IANA registry).
    let expected = [
        (0, Cpu::X86, Platform::Bios),
        (6, Cpu::Ia32, Platform::Uefi),
        (7, Cpu::X64, Platform::Uefi),
        (9, Cpu::Ebc, Platform::Uefi),
        (10, Cpu::Arm32, Platform::Uefi),
        (11, Cpu::Arm64, Platform::Uefi),
        (15, Cpu::Ia32, Platform::UefiHttp),
        (16, Cpu::X64, Platform::UefiHttp),
        (17, Cpu::Ebc, Platform::UefiHttp),
        (18, Cpu::Arm32, Platform::UefiHttp),
        (19, Cpu::Arm64, Platform::UefiHttp),
        (20, Cpu::X86, Platform::BiosHttp),
        (21, Cpu::Arm32, Platform::UBoot),
        (22, Cpu::Arm64, Platform::UBoot),
        (23, Cpu::Arm32, Platform::UBootHttp),
        (24, Cpu::Arm64, Platform::UBootHttp),
        (25, Cpu::RiscV32, Platform::Uefi),
        (26, Cpu::RiscV32, Platform::UefiHttp),
        (27, Cpu::RiscV64, Platform::Uefi),
        (28, Cpu::RiscV64, Platform::UefiHttp),
        (37, Cpu::LoongArch32, Platform::Uefi),
        (38, Cpu::LoongArch32, Platform::UefiHttp),
        (39, Cpu::LoongArch64, Platform::Uefi),
        (40, Cpu::LoongArch64, Platform::UefiHttp),
        (41, Cpu::Arm64, Platform::RpiBoot),
    ];
    for (code, cpu, platform) in expected {
        let a = Arch::from_code(code);
        assert_eq!((a.cpu, a.platform), (cpu, platform), "code {code}");
    }
    assert_eq!(Arch::from_code(0xffff).cpu, Cpu::Other);
    assert_eq!(Arch::from_code(0xffff).name(), "unassigned");
}

#[test]
fn user_class_raw_and_rfc3004() {
    assert_eq!(UserClass::parse(b"iPXE"), UserClass::Raw(b"iPXE".to_vec()));
    let rfc = UserClass::parse(b"\x04iPXE\x09pixiecore");
    assert_eq!(rfc, UserClass::Rfc3004(vec![b"iPXE".to_vec(), b"pixiecore".to_vec()]));
    assert!(rfc.contains(b"iPXE") && rfc.contains(b"pixiecore") && !rfc.contains(b"ipxe"));
    // An RFC 3004 `iPXE` marks the client as iPXE too.
    let mut p = capture("ovmf-x64-pxe-discover.bin");
    p.truncate(p.iter().rposition(|&b| b == 255).unwrap());
    p.extend_from_slice(&[77, 5, 4, b'i', b'P', b'X', b'E', 255]);
    let c = Request::parse(&p).unwrap().class;
    assert_eq!(c.firmware, Firmware::Ipxe);
    assert!(c.ipxe.unwrap().user_class_ipxe);
}

#[test]
fn proxy_offers_per_style() {
    let table = DefaultBootTable::new(SERVER, 80);
    // UEFI firmware PXE, auto: BINL-style (no 43, no file), siaddr, 54, 60, 97 echoed.
    let r = parse("ovmf-x64-pxe-discover.bin");
    let Decision::Boot(f) = table.decide(&r.class) else { panic!() };
    let m = decode(&proxy_offer(&r, &f, SERVER, ProxyStyle::Auto));
    assert_eq!(m.opts().msg_type(), Some(MessageType::Offer));
    assert_eq!(m.xid(), r.header.xid());
    assert_eq!(m.chaddr()[..6], r.class.mac.0);
    assert!(m.yiaddr().is_unspecified());
    assert_eq!(m.siaddr(), SERVER);
    assert!(m.opts().get(OptionCode::VendorExtensions).is_none());
    assert!(m.fname().is_none_or(|f| f.iter().all(|&b| b == 0)));
    assert_eq!(m.opts().get(OptionCode::ServerIdentifier), Some(&DhcpOption::ServerIdentifier(SERVER)));
    assert_eq!(class_id(&m), b"PXEClient");
    assert_eq!(
        m.opts().get(OptionCode::ClientMachineIdentifier),
        Some(&DhcpOption::ClientMachineIdentifier(r.class.machine_id.clone().unwrap()))
    );
    assert!(m.flags().broadcast());
    // Same client forced Pxe10: 43 = {6: 8}, file and sname.
    let m = decode(&proxy_offer(&r, &f, SERVER, ProxyStyle::Pxe10));
    assert_eq!(m.opts().get(OptionCode::VendorExtensions), Some(&DhcpOption::VendorExtensions(vec![6, 1, 8, 255])));
    assert_eq!(file(&m), "snponly.efi");
    assert_eq!(sname(&m), "10.99.0.1");
    // BINL ACK on 4011 carries the file.
    let ack = decode(&binl_ack(&r, &f, SERVER));
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(file(&ack), "snponly.efi");
    assert_eq!(class_id(&ack), b"PXEClient");

    // BIOS iPXE ROM: Pxe10-style offer with the HTTP script URL.
    let r = parse("seabios-ipxe-bios-discover.bin");
    let Decision::Boot(f) = table.decide(&r.class) else { panic!() };
    assert_eq!(f, BootFile::Url("http://10.99.0.1/_/boot.ipxe".into()));
    let m = decode(&proxy_offer(&r, &f, SERVER, ProxyStyle::Auto));
    assert_eq!(file(&m), "http://10.99.0.1/_/boot.ipxe");
    assert_eq!(m.siaddr(), SERVER);
    assert!(m.opts().get(OptionCode::VendorExtensions).is_some());
    assert!(m.opts().get(OptionCode::ClientMachineIdentifier).is_some());
}

#[test]
fn ipxe_without_http_gets_a_tftp_script_url() {
    // Drop feature 0x13 (HTTP) from the captured option 175.
    let mut p = capture("seabios-ipxe-bios-discover.bin");
    let at = find_option(&p, 175).unwrap();
    let len = p[at + 1] as usize;
    let mut i = at + 2;
    while i < at + 2 + len {
        if p[i] == 0x13 {
            p[i] = 0x7f; // an unknown feature code instead
        }
        i += 2 + p[i + 1] as usize;
    }
    let c = Request::parse(&p).unwrap().class;
    assert!(!c.ipxe.as_ref().unwrap().has(IpxeFeature::Http));
    let table = DefaultBootTable::new(SERVER, 80);
    assert_eq!(table.decide(&c), Decision::Boot(BootFile::Url("tftp://10.99.0.1/boot.ipxe".into())));
}

#[test]
fn malformed_packets_are_errors_naming_the_field() {
    let good = capture("ovmf-x64-pxe-discover.bin");
    assert_eq!(Request::parse(&good[..100]).unwrap_err(), PacketError::TooShort(100));
    let mut p = good.clone();
    p[236] = 0;
    assert!(matches!(Request::parse(&p), Err(PacketError::BadCookie(_))));
    let mut p = good.clone();
    p[0] = 2;
    assert_eq!(Request::parse(&p).unwrap_err(), PacketError::NotRequest(2));
    // Option 93 claims 200 bytes: overrun, the message names its offset.
    let mut p = good.clone();
    let at = find_option(&p, 93).unwrap();
    p[at + 1] = 200;
    let e = Request::parse(&p).unwrap_err();
    assert!(matches!(e, PacketError::OptionOverrun { code: 93, .. } | PacketError::OptionOverrun { .. }), "{e}");
    assert!(e.to_string().starts_with("offset "), "{e}");
    // No option 53.
    let mut p = good[..240].to_vec();
    p.extend_from_slice(&[60, 9, b'P', b'X', b'E', b'C', b'l', b'i', b'e', b'n', b't', 255]);
    assert_eq!(Request::parse(&p).unwrap_err(), PacketError::NoMessageType);
    // Every truncation of a real packet either parses or is an error; none panics.
    for n in 0..good.len() {
        let _ = Request::parse(&good[..n]);
    }
}

fn find_option(p: &[u8], code: u8) -> Option<usize> {
    let mut i = 240;
    while i < p.len() {
        match p[i] {
            0 => i += 1,
            255 => return None,
            c if c == code => return Some(i),
            _ => i += 2 + p[i + 1] as usize,
        }
    }
    None
}

fn file(m: &Message) -> String {
    String::from_utf8_lossy(m.fname().unwrap()).trim_end_matches('\0').to_string()
}

fn sname(m: &Message) -> String {
    String::from_utf8_lossy(m.sname().unwrap()).trim_end_matches('\0').to_string()
}

fn decode(m: &Message) -> Message {
    Message::from_bytes(&encode(m)).unwrap()
}

fn class_id(m: &Message) -> Vec<u8> {
    match m.opts().get(OptionCode::ClassIdentifier) {
        Some(DhcpOption::ClassIdentifier(v)) => v.clone(),
        o => panic!("option 60: {o:?}"),
    }
}

#[test]
fn mutated_captures_never_panic_and_replies_decode() {
    // A deterministic mutation pass over every capture (the fuzz target dhcp_parse goes further).
    let files = std::fs::read_dir(format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let table = DefaultBootTable::new(SERVER, 80);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut parsed = 0;
    for f in files.flatten().filter(|f| f.path().extension().is_some_and(|e| e == "bin")) {
        let base = std::fs::read(f.path()).unwrap();
        for _ in 0..3000 {
            let mut p = base.clone();
            for _ in 0..1 + rand() % 4 {
                let at = 236 + (rand() as usize % (p.len() - 236));
                p[at] = rand() as u8;
            }
            if rand() % 8 == 0 {
                p.truncate(240 + rand() as usize % (p.len() - 240));
            }
            let Ok(r) = Request::parse(&p) else { continue };
            parsed += 1;
            if let Decision::Boot(file) = table.decide(&r.class) {
                for style in [ProxyStyle::Auto, ProxyStyle::Pxe10, ProxyStyle::Binl] {
                    Message::from_bytes(&encode(&proxy_offer(&r, &file, SERVER, style))).unwrap();
                }
                Message::from_bytes(&encode(&binl_ack(&r, &file, SERVER))).unwrap();
            }
        }
    }
    assert!(parsed > 1000, "the mutations should mostly stay parseable ({parsed})");
}
