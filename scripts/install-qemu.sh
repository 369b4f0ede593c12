#!/usr/bin/env bash
# Installs QEMU and the firmware the QEMU boot tests need (`optrom boot-test`,
# crates/cli/tests/qemu_boot.rs, crates/qemu/tests) on Debian bookworm. Idempotent; run as root (or with sudo).
#
#   bash scripts/install-qemu.sh
#
# Prefers QEMU 10 from bookworm-backports: a backports apt source is derived from the
# existing bookworm entry (same URIs and Signed-By) and written to
# /etc/apt/sources.list.d/optrom-bookworm-backports.sources. If backports cannot be used,
# falls back to bookworm's own QEMU (7.2). Exits non-zero only if no qemu-system-x86_64
# ends up installed. apt output goes to a log file, shown only on failure.
set -uo pipefail

PACKAGES=(qemu-system-x86 ovmf seabios ipxe-qemu qemu-system-arm qemu-efi-aarch64 qemu-system-misc)
# Installed from backports when possible (the rest come from bookworm via dependencies).
# qemu-system-misc: qemu-system-riscv64 and qemu-system-loongarch64 (bookworm has no loongarch64).
BPO_PACKAGES=(qemu-system-x86 qemu-system-arm qemu-system-misc seabios)
BPO_FILE=/etc/apt/sources.list.d/optrom-bookworm-backports.sources

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_q() { as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0 "$@" >>"$LOG" 2>&1; }
say() { echo "install-qemu: $*"; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
qemu_version() { qemu-system-x86_64 --version 2>/dev/null | head -n1; }
all_installed() { for p in "${PACKAGES[@]}"; do installed "$p" || return 1; done; }

# Does any apt source already provide bookworm-backports?
have_backports_source() {
  grep -rqsE '(^|[[:space:]])bookworm-backports([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null
}

# Print a deb822 stanza for bookworm-backports, derived from the stanza (in a *.sources file)
# whose Suites contain plain "bookworm"; or from a one-line "deb URI bookworm ..." entry.
derive_backports_source() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() {
        if (is_bookworm && uris != "") {
          print "Types: deb"; print "URIs: " uris; print "Suites: bookworm-backports"
          print "Components: " (comps != "" ? comps : "main")
          if (signed != "") print "Signed-By: " signed
          found = 1; exit
        }
        is_bookworm = 0; uris = ""; comps = ""; signed = ""; types_deb = 0
      }
      /^[[:space:]]*$/ { flush(); next }
      /^#/ { next }
      /^Types:/ { types_deb = ($0 ~ /(^|[[:space:]])deb([[:space:]]|$)/) }
      /^URIs:/ { sub(/^URIs:[[:space:]]*/, ""); uris = $0 }
      /^Components:/ { sub(/^Components:[[:space:]]*/, ""); comps = $0 }
      /^Signed-By:/ { sub(/^Signed-By:[[:space:]]*/, ""); signed = $0 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") is_bookworm = 1 }
      END { if (!found) flush() }
    ' "$f" | grep . && return 0
  done
  # One-line format: "deb [opts] URI bookworm comps..."
  local line
  line=$(grep -hsE '^[[:space:]]*deb[[:space:]].*[[:space:]]bookworm([[:space:]]|$)' \
           /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1)
  if [ -n "$line" ]; then
    echo "${line/ bookworm / bookworm-backports }" | sed 's/^[[:space:]]*//'
    return 0
  fi
  return 1
}

if all_installed && qemu-system-x86_64 --version >/dev/null 2>&1; then
  say "already installed: $(qemu_version)"
  exit 0
fi

LOG=$(mktemp /tmp/install-qemu.XXXXXX.log)
BPO_OK=0
if have_backports_source; then
  BPO_OK=1
else
  if src=$(derive_backports_source); then
    case "$src" in
      deb\ *) as_root sh -c "printf '%s\n' \"\$1\" > \"\$2\"" sh "$src" "${BPO_FILE%.sources}.list" ;;
      *) as_root sh -c "printf '%s\n' \"\$1\" > \"\$2\"" sh "$src" "$BPO_FILE" ;;
    esac
    say "added bookworm-backports source"
    BPO_OK=1
  else
    say "no bookworm entry found in apt sources; backports not used"
  fi
fi

if ! apt_q update; then
  say "apt-get update failed (continuing with whatever lists exist)"
fi

if [ "$BPO_OK" = 1 ] && apt_q install -t bookworm-backports "${BPO_PACKAGES[@]}" \
   && apt_q install "${PACKAGES[@]}"; then
  say "installed from bookworm-backports"
else
  [ "$BPO_OK" = 1 ] && say "backports install failed; falling back to bookworm's QEMU"
  apt_q install "${PACKAGES[@]}" || {
    # Last resort: at least the x86 pieces.
    apt_q install qemu-system-x86 ovmf seabios ipxe-qemu || true
  }
fi

if qemu-system-x86_64 --version >/dev/null 2>&1; then
  say "ok: $(qemu_version)"
  for p in "${PACKAGES[@]}"; do installed "$p" || say "warning: $p not installed"; done
  rm -f "$LOG"
  exit 0
fi
say "FAILED: qemu-system-x86_64 is not installed; last apt output ($LOG):"
tail -n 30 "$LOG" >&2
exit 1
