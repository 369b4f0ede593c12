#!/usr/bin/env python3
"""EDK2 reference codec server for optrom-codec's tests and benchmark.

Wraps uefi_firmware.efi_compressor (EDK2's EfiCompress/TianoCompress and
decoders). Protocol on stdin/stdout, repeated until EOF:
  request : op (1 byte) | runs (u32 LE) | len (u32 LE) | data
  response: status (1 byte, 0 = ok) | len (u32 LE) | payload
ops: 'c' EfiCompress, 'C' TianoCompress, 'd' EfiDecompress, 'D' TianoDecompress.
payload: median time in ns over `runs` runs (u64 LE; 0 when runs == 0)
followed by the result bytes (or an error message when status != 0).
"""
import statistics
import struct
import sys
import time

from uefi_firmware import efi_compressor as ec

OPS = {
    ord("c"): ec.EfiCompress,
    ord("C"): ec.TianoCompress,
    ord("d"): ec.EfiDecompress,
    ord("D"): ec.TianoDecompress,
}


def read_exact(f, n):
    buf = b""
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def main():
    inp = sys.stdin.buffer
    out = sys.stdout.buffer
    while True:
        hdr = read_exact(inp, 9)
        if hdr is None:
            break
        op, runs, n = struct.unpack("<BII", hdr)
        data = read_exact(inp, n) if n else b""
        fn = OPS[op]
        try:
            res = bytes(fn(data, len(data)))
            ns = 0
            if runs:
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter_ns()
                    fn(data, len(data))
                    times.append(time.perf_counter_ns() - t0)
                ns = int(statistics.median(times))
            payload = struct.pack("<Q", ns) + res
            out.write(struct.pack("<BI", 0, len(payload)) + payload)
        except Exception as e:  # noqa: BLE001 - report any decoder failure
            msg = str(e).encode()
            out.write(struct.pack("<BI", 1, len(msg)) + msg)
        out.flush()


if __name__ == "__main__":
    main()
