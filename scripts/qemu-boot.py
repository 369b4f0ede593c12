#!/usr/bin/env python3
"""Boot proof for a PCI option ROM: boot a QEMU guest (x86_64 or aarch64, TCG, no disk) with a
NIC that carries ROM, read the serial console, and succeed once the expected markers have appeared.

    qemu-boot.py --firmware seabios|ovmf|aavmf --nic MODEL --rom FILE [--timeout S] [--expect REGEX]...

Default markers (used when no --expect is given):
  seabios  'iPXE \\(https?://ipxe\\.org\\) 00:'   iPXE's *legacy* ROM init banner, printed from the
                                                 ROM's init entry point during SeaBIOS's option ROM
                                                 scan (SeaBIOS has no iPXE of its own; it skips a
                                                 ROM with a bad checksum, so nothing is printed);
           NET0 (below)                          the ROM's iPXE, booted via its BEV, drives the NIC.
  ovmf     'Open Source Network Boot Firmware'   iPXE's banner; OVMF has no iPXE of its own and
                                                 the guest has no disk and no boot file, so the only
                                                 iPXE that can run is the EFI image in this ROM;
           'Features:.*\\bEFI\\b'                  ...and it is an EFI build (the legacy build's
                                                 feature list has no "EFI");
           NET0 (below)                          the ROM's EFI driver drives the NIC.
  aavmf    ROM_DRIVER (below), after typing `drivers` at the UEFI shell: aarch64 `virt` guest
                                                 under Debian's AAVMF. Debian ships no arm64 iPXE, so
                                                 the proof is that PciBusDxe loaded and started an EFI
                                                 image of the ROM: the shell lists a driver whose image
                                                 path is the image's place in the ROM. Fails when the
                                                 command's output ends (a new prompt) without it.
  NET0 = 'net0: [0-9a-f:]{17} using \\S+ on '    e.g. "net0: 52:54:00:12:34:56 using 82540em on 0000:00:02.0"
  ROM_DRIVER = 'Offset\\(0x[0-9A-F]+,0x[0-9A-F]+\\)'  a `drivers` line whose IMAGE NAME is an option-ROM
                                                 image: Offset(first byte, last byte) within the ROM.

--shell-command CMD types CMD at the first UEFI shell prompt (ovmf, aavmf); the run then fails
as soon as the next prompt appears with markers missing. Without --expect, its marker is
ROM_DRIVER (so `--firmware ovmf --shell-command drivers` proves any x64 EFI driver ROM, iPXE or not,
on a NIC OVMF has no driver for).

A marker counts when its regex matches the console text seen so far (ANSI escapes and control
characters removed), either as printed or with line breaks removed (SeaBIOS's sercon wraps at
80 columns). Markers may appear in any order.

Exit status: 0 all markers seen; 1 not all markers seen (timeout, or the guest reset/powered off
first; the last 40 console lines go to stderr); 2 usage or setup error, or QEMU itself failed
(non-zero exit status, e.g. a bad option or unreadable romfile).

On success, stdout ends with the time-stamped console transcript after a '--- console ---' line.
QEMU always runs in a fresh temporary directory (ROM copy, OVMF_VARS copy, sercon blob), which is
removed afterwards; QEMU is killed on every exit path (and, via PR_SET_PDEATHSIG, if this script
dies). Networking is QEMU user-mode with restrict=on: the guest can reach nothing outside QEMU.
"""

import argparse
import ctypes
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time

NET0 = r"net0: [0-9a-f:]{17} using \S+ on "
ROM_DRIVER = r"Offset\(0x[0-9A-F]+,0x[0-9A-F]+\)"
DEFAULT_MARKERS = {
    "seabios": [r"iPXE \(https?://ipxe\.org\) 00:", NET0],
    "ovmf": [r"Open Source Network Boot Firmware", r"Features:[^\n]*\bEFI\b", NET0],
    "aavmf": [ROM_DRIVER],
}
DEFAULT_SHELL_COMMAND = {"aavmf": "drivers"}
SHELL_PROMPT = "Shell> "
# Console text that means the markers can no longer appear: stop early with status 1.
DEFAULT_FAIL_ON = {
    "seabios": [r"No bootable device"],  # SeaBIOS tried every boot entry (QEMU also exits: -no-reboot)
    "ovmf": [r'BdsDxe: loading Boot[0-9A-F]{4} "EFI Internal Shell"'],  # OVMF fell through to the shell
    "aavmf": [],  # the shell command's end decides
}
DEFAULT_TIMEOUT = {"seabios": 60.0, "ovmf": 120.0, "aavmf": 120.0}
AAVMF_PAIRS = [("/usr/share/AAVMF/AAVMF_CODE.fd", "/usr/share/AAVMF/AAVMF_VARS.fd")]
OVMF_PAIRS = [
    ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
    ("/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"),
]
TAIL_LINES = 40

ANSI = re.compile(rb"\x1b\[[0-9;?=<>]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>cDEHM78]")
CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted(f"signal {signum}")


def set_pdeathsig():
    """In the child: get SIGKILL if the parent (this script) dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def qemu_version(qemu):
    try:
        out = subprocess.run([qemu, "--version"], capture_output=True, text=True, timeout=30).stdout
        return out.splitlines()[0].strip() if out else "unknown"
    except (OSError, subprocess.SubprocessError):
        return None


class Console:
    """Accumulates serial bytes; keeps time-stamped, cleaned lines."""

    def __init__(self, t0):
        self.t0 = t0
        self.lines = []  # (t, text)
        self.partial = ""
        self.partial_t = None
        self.raw = bytearray()
        self.pending = b""

    def feed(self, data):
        now = time.monotonic() - self.t0
        self.raw += data
        # Serial data arrives in small pieces: hold back an escape sequence cut in two.
        buf = self.pending + data
        cut = len(buf)
        esc = buf.rfind(b"\x1b")
        if esc != -1 and len(buf) - esc < 32 and not ANSI.match(buf, esc):
            cut = esc
        self.pending = buf[cut:]
        text = ANSI.sub(b"", buf[:cut]).decode("latin-1")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = CTRL.sub("", text)
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if part:
                self.partial_t = now  # time of the latest data on the unfinished line
            self.partial += part
            if i < len(parts) - 1:  # a newline followed this part
                if self.partial.strip():
                    self.lines.append((now, self.partial))  # time the line ended
                self.partial, self.partial_t = "", None

    def all_lines(self):
        out = list(self.lines)
        if self.partial.strip():
            out.append((self.partial_t or 0.0, self.partial))
        return out

    def text(self):
        return "\n".join(l for _, l in self.all_lines())

    def transcript(self, last=None):
        lines = self.all_lines()
        if last is not None:
            lines = lines[-last:]
        return "\n".join(f"[{t:8.3f}] {l.rstrip()}" for t, l in lines)


def remove_stale_workdirs():
    """Remove temp dirs left by runs that were SIGKILLed (their owner.pid is dead)."""
    base = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(base) if n.startswith("qemu-boot.")]
    except OSError:
        return
    for n in names:
        d = os.path.join(base, n)
        try:
            with open(os.path.join(d, "owner.pid")) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (OSError, ValueError):
            pass  # not ours, no pid file yet, or another user's: leave it


def build_command(args, qemu, work):
    rom = os.path.join(work, "rom.bin")  # no commas or odd characters in the -device option
    shutil.copyfile(args.rom, rom)
    netdev = "user,id=n0,restrict=on"
    if args.tftp:
        netdev += ",tftp=" + os.path.abspath(args.tftp)
    if args.bootfile:
        netdev += ",bootfile=" + args.bootfile
    device = f"{args.nic},netdev=n0,romfile={rom}"
    cmd = [qemu, "-accel", "tcg", "-display", "none", "-serial", "stdio",
           "-monitor", "none", "-no-reboot", "-nic", "none", "-netdev", netdev, "-device", device]
    if args.firmware != "aavmf":
        cmd[1:1] = ["-vga", "none"]
    if args.firmware == "aavmf":
        code, vars_src = args.ovmf_code, args.ovmf_vars
        if not code:
            code, vars_src = AAVMF_PAIRS[0]
        if not os.path.exists(code) or not os.path.exists(vars_src):
            raise SystemExit("qemu-boot: AAVMF firmware not found (install qemu-efi-aarch64, or scripts/install-qemu.sh)")
        vars_copy = os.path.join(work, "AAVMF_VARS.fd")
        shutil.copyfile(vars_src, vars_copy)
        # No boot-menu timeout: the shell comes 5 s sooner.
        cmd[1:1] = ["-machine", "virt", "-cpu", "cortex-a57", "-m", "512"]
        cmd += ["-boot", "menu=on,splash-time=0",
                "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
                "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}"]
    elif args.firmware == "seabios":
        sercon = os.path.join(work, "sercon-port.bin")
        with open(sercon, "wb") as f:
            f.write(b"\xf8\x03")  # COM1 0x3f8: SeaBIOS mirrors int10h text output to serial
        cmd[1:1] = ["-machine", "pc", "-m", "256"]
        cmd += ["-fw_cfg", f"name=etc/sercon-port,file={sercon}",
                "-boot", "order=n,reboot-timeout=0"]
    else:
        code, vars_src = args.ovmf_code, args.ovmf_vars
        if not code:
            for c, v in OVMF_PAIRS:
                if os.path.exists(c) and os.path.exists(v):
                    code, vars_src = c, v
                    break
        if not code or not vars_src or not os.path.exists(code) or not os.path.exists(vars_src):
            raise SystemExit("qemu-boot: OVMF firmware not found (install ovmf, or scripts/install-qemu.sh)")
        vars_copy = os.path.join(work, "OVMF_VARS.fd")
        shutil.copyfile(vars_src, vars_copy)
        cmd[1:1] = ["-machine", "q35", "-m", "512"]
        cmd += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
                "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}"]
    cmd += args.qemu_arg
    return cmd


def stop(proc):
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=3)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def pump(sel, proc, console, timeout):
    """Feed QEMU's serial output that arrives within `timeout` s to the console; True at EOF."""
    for _key, _ in sel.select(timeout=timeout):
        try:
            data = os.read(proc.stdout.fileno(), 65536)
        except BlockingIOError:
            continue
        if not data:
            return True
        console.feed(data)
    return False


def run(args):
    qemu = shutil.which(args.qemu) or args.qemu
    version = qemu_version(qemu)
    if version is None:
        print(f"qemu-boot: {args.qemu} not found; run scripts/install-qemu.sh (as root)", file=sys.stderr)
        return 2
    if not os.path.isfile(args.rom):
        print(f"qemu-boot: ROM file not found: {args.rom}", file=sys.stderr)
        return 2
    # With a shell command the proof is the ROM_DRIVER line, whatever the firmware.
    markers = args.expect or ([ROM_DRIVER] if args.shell_command else DEFAULT_MARKERS[args.firmware])
    try:
        patterns = [(m, re.compile(m, re.MULTILINE)) for m in markers]
    except re.error as e:
        print(f"qemu-boot: bad --expect regex: {e}", file=sys.stderr)
        return 2
    shell_command = args.shell_command or DEFAULT_SHELL_COMMAND.get(args.firmware)
    if shell_command and args.firmware == "seabios":
        print("qemu-boot: --shell-command needs UEFI firmware (ovmf, aavmf)", file=sys.stderr)
        return 2
    # Typing at the shell means reaching it is no failure: only the explicit --fail-on apply.
    default_fail = [] if shell_command else DEFAULT_FAIL_ON[args.firmware]
    fail_on = [] if args.no_fail_on else (args.fail_on or default_fail)
    try:
        fail_patterns = [(m, re.compile(m, re.MULTILINE)) for m in fail_on]
    except re.error as e:
        print(f"qemu-boot: bad --fail-on regex: {e}", file=sys.stderr)
        return 2
    timeout = args.timeout if args.timeout is not None else DEFAULT_TIMEOUT[args.firmware]

    print(f"qemu-boot: {version}")
    remove_stale_workdirs()
    work = tempfile.mkdtemp(prefix="qemu-boot.")
    with open(os.path.join(work, "owner.pid"), "w") as f:
        f.write(str(os.getpid()))
    proc = None
    try:
        cmd = build_command(args, qemu, work)
        print("qemu-boot: command: " + " ".join(cmd))
        print(f"qemu-boot: firmware={args.firmware} nic={args.nic} rom={args.rom} timeout={timeout:g}s")
        for m in markers:
            print(f"qemu-boot: expect /{m}/")
        for m in fail_on:
            print(f"qemu-boot: fail on /{m}/")
        if shell_command:
            print(f"qemu-boot: type {shell_command!r} at the first {SHELL_PROMPT.strip()} prompt")
        sys.stdout.flush()
        errpath = os.path.join(work, "qemu.stderr")
        errfile = open(errpath, "wb")
        t0 = time.monotonic()
        stdin = subprocess.PIPE if shell_command else subprocess.DEVNULL
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=errfile,
                                cwd=work, start_new_session=True, preexec_fn=set_pdeathsig)
        errfile.close()
        console = Console(t0)
        seen = {}
        sel = selectors.DefaultSelector()
        os.set_blocking(proc.stdout.fileno(), False)
        sel.register(proc.stdout, selectors.EVENT_READ)
        eof = False
        reason = None
        prompts_at_command = None  # prompts seen when the command was typed
        skipped_startup = False
        while True:
            elapsed = time.monotonic() - t0
            if elapsed >= timeout:
                reason = f"timeout after {timeout:g} s"
                break
            if eof:
                break
            eof = pump(sel, proc, console, min(0.5, timeout - elapsed))
            text = console.text()
            joined = text.replace("\n", "")
            now = time.monotonic() - t0
            for m, rx in patterns:
                if m not in seen and (rx.search(text) or rx.search(joined)):
                    seen[m] = now
                    print(f"qemu-boot: marker /{m}/ seen at {now:.2f} s")
                    sys.stdout.flush()
            if len(seen) == len(patterns):
                break
            prompts = text.count(SHELL_PROMPT.strip())
            if shell_command and not skipped_startup and "Press ESC in" in text:
                # The shell's startup.nsh countdown: ESC skips its 5 s.
                skipped_startup = True
                try:
                    proc.stdin.write(b"\x1b")
                    proc.stdin.flush()
                except OSError:
                    pass
            if shell_command and prompts_at_command is None and prompts > 0:
                prompts_at_command = prompts
                print(f"qemu-boot: shell prompt at {now:.2f} s; typing {shell_command!r}")
                sys.stdout.flush()
                try:
                    proc.stdin.write(shell_command.encode() + b"\r")
                    proc.stdin.flush()
                except OSError:
                    pass
            elif prompts_at_command is not None and prompts > prompts_at_command:
                reason = f"{shell_command!r} finished (next prompt at {now:.2f} s) without the markers"
                break
            failed = [m for m, rx in fail_patterns if rx.search(text) or rx.search(joined)]
            if failed:
                reason = f"fail marker /{failed[0]}/ seen at {now:.2f} s"
                break
        elapsed = time.monotonic() - t0
        if len(seen) == len(patterns):
            # Finish the current console line (at most 0.5 s) so the transcript is complete.
            end = time.monotonic() + 0.5
            while console.partial and not eof and time.monotonic() < end:
                eof = pump(sel, proc, console, max(0.0, end - time.monotonic()))
            sel.close()
            stop(proc)
            print(f"qemu-boot: PASS: all {len(patterns)} markers seen after {elapsed:.2f} s")
            print("--- console ---")
            print(console.transcript())
            return 0
        sel.close()
        if reason is None:
            try:
                rc = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                rc = None
            reason = f"QEMU exited (status {rc}) after {elapsed:.2f} s"
        else:
            rc = proc.poll()
        stop(proc)
        with open(errpath, "rb") as f:
            qerr = "\n".join(l for l in f.read().decode("utf-8", "replace").splitlines()
                             if "should be prefixed with \"opt/\"" not in l
                             and "terminating on signal" not in l).strip()
        missing = [m for m, _ in patterns if m not in seen]
        print(f"qemu-boot: FAIL: {reason}; elapsed {elapsed:.2f} s", file=sys.stderr)
        for m in missing:
            print(f"qemu-boot: marker not seen: /{m}/", file=sys.stderr)
        if qerr:
            print("--- qemu stderr ---\n" + qerr, file=sys.stderr)
        print(f"--- last {TAIL_LINES} console lines ---", file=sys.stderr)
        print(console.transcript(last=TAIL_LINES) or "(no console output)", file=sys.stderr)
        if rc not in (None, 0):
            print(f"qemu-boot: QEMU failed with status {rc}", file=sys.stderr)
            return 2
        return 1
    finally:
        if proc is not None:
            stop(proc)
            if proc.stdout:
                proc.stdout.close()
        shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--firmware", required=True, choices=["seabios", "ovmf", "aavmf"],
                   help="seabios/ovmf: qemu-system-x86_64; aavmf: qemu-system-aarch64 virt")
    p.add_argument("--nic", required=True, metavar="MODEL[,PROP=VAL...]",
                   help="QEMU NIC device model, optionally with properties, e.g. e1000, "
                        "virtio-net-pci,disable-legacy=on (needed under SeaBIOS for Debian's "
                        "efi-virtio.rom, whose legacy image says 1af4:1041)")
    p.add_argument("--rom", required=True, help="option ROM file to attach (romfile=)")
    p.add_argument("--timeout", type=float, help="seconds (default: seabios 60, ovmf 120, aavmf 120)")
    p.add_argument("--expect", action="append", default=[], metavar="REGEX",
                   help="marker regex; repeatable; all must be seen (replaces the defaults)")
    p.add_argument("--fail-on", action="append", default=[], metavar="REGEX",
                   help="stop with status 1 as soon as this regex is seen; repeatable (replaces the "
                        "defaults: seabios 'No bootable device', ovmf 'loading ... EFI Internal Shell')")
    p.add_argument("--no-fail-on", action="store_true", help="no fail markers: wait for the timeout")
    p.add_argument("--qemu", help="QEMU binary (default: qemu-system-x86_64; aavmf: qemu-system-aarch64)")
    p.add_argument("--shell-command", metavar="CMD",
                   help="type CMD at the first UEFI shell prompt (default for aavmf: drivers)")
    p.add_argument("--ovmf-code", help="OVMF/AAVMF code image (default: Debian's OVMF_CODE_4M.fd; AAVMF_CODE.fd)")
    p.add_argument("--ovmf-vars", help="OVMF vars template, copied per run (default: OVMF_VARS_4M.fd)")
    p.add_argument("--tftp", metavar="DIR", help="serve DIR over slirp TFTP (10.0.2.2)")
    p.add_argument("--bootfile", help="DHCP boot file name offered by slirp")
    p.add_argument("--qemu-arg", action="append", default=[], metavar="ARG",
                   help="extra argument appended to the QEMU command line; repeatable")
    args = p.parse_args()
    if bool(args.ovmf_code) != bool(args.ovmf_vars):
        p.error("--ovmf-code and --ovmf-vars go together")
    if args.qemu is None:
        args.qemu = "qemu-system-aarch64" if args.firmware == "aavmf" else "qemu-system-x86_64"
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:
        return run(args)
    except Interrupted as e:
        print(f"qemu-boot: interrupted ({e}); QEMU killed", file=sys.stderr)
        return 2
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
