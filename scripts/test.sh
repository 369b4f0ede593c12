#!/usr/bin/env bash
# The one test command: installs what the tests need on a Debian bookworm machine
# (as root, or with sudo), then runs the whole suite and a bounded fuzz pass.
#
#   bash scripts/test.sh            # install, test, fuzz (about a minute per target)
#   OPTROM_NO_INSTALL=1 bash scripts/test.sh   # skip the apt/pip step
#   OPTROM_FUZZ_SECONDS=0 bash scripts/test.sh # skip fuzzing
# rustfmt, clippy and cargo-fuzz are installed when missing (rustup component add,
# cargo install --locked); when they cannot be, the run fails. Tests that need an
# external program or package fail when it is missing; OPTROM_SKIP_<X>=1 skips
# them with a "SKIPPED: …" line, except under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

# curl, atftp, tftp-hpa: real clients of the serve tests; tftpd-hpa, dnsmasq-base,
# nginx-light: the reference servers of scripts/bench-serve.sh; busybox-static (udhcpc),
# isc-dhcp-client (dhclient), iproute2: the DHCP tests' clients and namespaces (dnsmasq-base is
# also the network's DHCP server and a TFTP server there).
APT_PACKAGES=(ipxe-qemu ipxe seabios ovmf python3-dev python3-pip gcc chromium man-db dnsmasq-base libvirt-clients libxml2-utils busybox-static iproute2 isc-dhcp-client curl atftp tftp-hpa tftpd-hpa nginx-light cpio nfs-ganesha nfs-ganesha-vfs rpcbind)
PY_PACKAGES=(uefi_firmware)
FUZZ_SECONDS=${OPTROM_FUZZ_SECONDS:-60}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_deps() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== apt-get install ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  # QEMU 10 from bookworm-backports (7.2 as a fallback), OVMF, SeaBIOS, AAVMF.
  bash scripts/install-qemu.sh
  # Debian trixie's riscv64/loongarch64 firmware, iPXE builds, arm64 kernel, into the
  # cache the tests read ($OPTROM_CACHE, default ~/.cache/optrom; nothing system-wide).
  bash scripts/fetch-testdata.sh >/dev/null
  if ! python3 -c 'import uefi_firmware' 2>/dev/null; then
    echo "== pip install ${PY_PACKAGES[*]}"
    python3 -m pip install -q "${PY_PACKAGES[@]}" 2>/dev/null \
      || python3 -m pip install -q --break-system-packages "${PY_PACKAGES[@]}"
  fi
}

# The Rust tools the suite needs: installed when missing, and their absence is a
# failure, never a skipped step.
install_rust_tools() {
  for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
      echo "== rustup component add $component"
      rustup component add "$component" || { echo "FAILED: $component cannot be installed"; exit 1; }
    fi
  done
  if [ "$FUZZ_SECONDS" -gt 0 ] && ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "== cargo install --locked cargo-fuzz"
    cargo install --locked -q cargo-fuzz || { echo "FAILED: cargo-fuzz cannot be installed"; exit 1; }
  fi
}

run_fuzz() {
  [ "$FUZZ_SECONDS" -gt 0 ] || return 0
  # cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
  export RUSTC_BOOTSTRAP=1
  local targets
  targets=$(cd fuzz && cargo fuzz list)
  for t in $targets; do
    mkdir -p "fuzz/corpus/$t"
    case "$t" in
      parse_rom) cp /usr/lib/ipxe/qemu/*.rom /usr/share/seabios/vgabios-isavga.bin /usr/share/seabios/vgabios-stdvga.bin "fuzz/corpus/$t/" ;;
      identify) cp /usr/lib/ipxe/qemu/pxe-*.rom /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/snponly.efi "fuzz/corpus/$t/" ;;
    esac
    [ -d "fuzz/seeds/$t" ] && cp fuzz/seeds/"$t"/* "fuzz/corpus/$t/" 2>/dev/null || true
    echo "== fuzz $t for ${FUZZ_SECONDS}s"
    (cd fuzz && cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$FUZZ_SECONDS" -max_len=300000 -print_final_stats=1 2>&1 \
      | grep -E "^(Done|stat::number_of_executed_units|==[0-9]+==|SUMMARY|thread .* panicked)" ) \
      || { echo "fuzz target $t failed"; return 1; }
  done
}

[ "${OPTROM_NO_INSTALL:-0}" = 1 ] || install_deps
install_rust_tools
echo "== cargo fmt --check (rustfmt.toml)"
cargo fmt --all -- --check
(cd fuzz && cargo fmt --all -- --check)
echo "== cargo clippy, rustdoc (warnings are errors)"
cargo clippy -q --workspace --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc -q --workspace --no-deps
echo "== cargo test --workspace"
cargo test --workspace --release
run_fuzz
