//! What optrom's tests share, and nothing a product crate may use (a dev-dependency only): the
//! one rule for external dependencies ([`needs`]) with the prerequisite probes several tests
//! make (root + iproute2, QEMU, Debian's `ipxe-qemu`/`ipxe`); network namespaces, bridges, veth
//! pairs and taps the test creates and removes ([`Netns`]); dnsmasq as the network's DHCP server
//! ([`DhcpRouter`], [`proxy_lan`]) or as any other role ([`dnsmasq`]); servers as child processes
//! ([`Server`], [`optrom_serve`]); QEMU TCG guests on a tap and waiting for markers on their
//! serial console ([`qemu_on_tap`], [`wait_for_console`]); scratch directories, Debian's boot
//! packages from `scripts/fetch-boot-packages.sh` ([`boot_packages`]) and per-run tokens; guests
//! booted by `optrom serve` ([`Serve`], [`Guest`], [`wait_all`]) and an NFSv3 server ([`NfsServer`]).

mod console;
mod dnsmasq;
mod files;
mod guests;
mod netns;
mod process;
mod skip;

pub use console::{ConsoleMiss, console_text, markers_in_order, qemu_on_tap, seabios_sercon, wait_for_console};
pub use dnsmasq::{DhcpRouter, dnsmasq, expect_running, ipxe_boot_root, proxy_lan};
pub use files::{boot_packages, fetch_boot_packages, repo_root, scratch_in, token, write_exec};
pub use guests::{Guest, NfsServer, Serve, linux_and_xen_menu, ovmf_args, wait_all};
pub use netns::{Netns, add_tap, attach, bridge, sh};
pub use process::{Server, optrom_serve, port, sigterm};
pub use skip::{
    E1000, IPXE_DIR, IPXE_EFI, IPXE_QEMU_DIR, OVMF_CODE, OVMF_VARS, PXE_VIRTIO_ROM, SNPONLY, have_debian,
    have_proxy_guest_tools, have_qemu, is_root, needs, netns_available, read_debian, require, runs,
};
