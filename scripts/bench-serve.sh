#!/usr/bin/env bash
# Throughput of `optrom serve` against tftpd-hpa, dnsmasq and nginx, on loopback
# inside a private network namespace (so the fixed ports 69/80 of the reference
# servers collide with nothing), every server pinned to one CPU and every client to
# another (or the same: BENCH_PLACEMENT=same). Prints a Markdown table.
#
#   sudo bash scripts/bench-serve.sh            # needs root (ip netns), curl, atftp,
#                                               # tftpd-hpa, dnsmasq-base, nginx-light
#   BENCH_RUNS=5 BENCH_PLACEMENT=same sudo -E bash scripts/bench-serve.sh
#
# Each cell is the median of BENCH_RUNS runs (default 3); every download is
# compared with the source file and a mismatch aborts the benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${BENCH_RUNS:-3}
PLACEMENT=${BENCH_PLACEMENT:-cross}
SERVER_CPU=0
if [ "$PLACEMENT" = same ]; then CLIENT_CPU=0; else CLIENT_CPU=1; fi
NS=optrom-bench-$$
W=$(mktemp -d /tmp/optrom-bench.XXXXXX)
chmod 755 "$W"
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.2
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

for tool in curl atftp in.tftpd dnsmasq nginx taskset ip; do
  command -v "$tool" >/dev/null || { echo "bench-serve: $tool is not installed" >&2; exit 2; }
done

cargo build -q --release -p optrom-cli
cargo build -q --release -p optrom-netboot --example proxy_latency --example lockstep_floor
OPTROM=$PWD/target/release/optrom

mkdir -p "$W/root"
chmod 755 "$W/root"
head -c $((50 << 20)) /dev/urandom >"$W/root/big50m.bin"
head -c $((1 << 30)) /dev/urandom >"$W/root/big1g.bin"
chmod 644 "$W/root/"*
SUM50=$(sha256sum <"$W/root/big50m.bin" | cut -d' ' -f1)
SUM1G=$(sha256sum <"$W/root/big1g.bin" | cut -d' ' -f1)

ip netns add "$NS"
ip -n "$NS" link set lo up
# tftpd-hpa resolves its bind address with AI_ADDRCONFIG, which ignores loopback:
# give the namespace one (carrier-less) tap with an address so 127.0.0.1 resolves.
ip -n "$NS" tuntap add dev bench0 mode tap
ip -n "$NS" addr add 10.255.0.1/24 dev bench0
ip -n "$NS" link set bench0 up
# `ip netns exec` and taskset exec, so $! after `"${SERVER[@]}" cmd &` is the server's PID.
SERVER=(ip netns exec "$NS" taskset -c "$SERVER_CPU")
client() { ip netns exec "$NS" taskset -c "$CLIENT_CPU" "$@"; }

# optrom serve: TFTP 6969, HTTP 8081.
"${SERVER[@]}" "$OPTROM" serve --dhcp off --address 127.0.0.1 --tftp-port 6969 --http-port 8081 --root "$W/root" \
  >"$W/optrom.out" 2>"$W/optrom.log" &
PIDS+=($!)
# The same without busy-polling (tftp.busy_poll_us = 0), TFTP 6971.
printf '[tftp]\nbusy_poll_us = 0\n[http]\nenabled = false\n' >"$W/nopoll.toml"
"${SERVER[@]}" "$OPTROM" serve --config "$W/nopoll.toml" --dhcp off --address 127.0.0.1 --tftp-port 6971 \
  --root "$W/root" >"$W/optrom-nopoll.out" 2>"$W/optrom-nopoll.log" &
PIDS+=($!)
# The lock-step floor on 6972: send + recv per block and nothing else (see the example's doc).
"${SERVER[@]}" "$PWD/target/release/examples/lockstep_floor" 127.0.0.1:6972 "$W/root" >"$W/floor.log" 2>&1 &
PIDS+=($!)
# tftpd-hpa 5.2 on 6970 (foreground, secure mode).
"${SERVER[@]}" in.tftpd -L -a 127.0.0.1:6970 -u root -s "$W/root" >"$W/tftpd.log" 2>&1 &
PIDS+=($!)
# dnsmasq (TFTP only, DNS off) on its fixed port 69.
"${SERVER[@]}" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --no-resolv --no-hosts \
  --listen-address=127.0.0.1 --bind-interfaces --enable-tftp --tftp-root="$W/root" \
  --pid-file="$W/dnsmasq.pid" --user=root --log-facility="$W/dnsmasq.log" >/dev/null 2>&1 &
PIDS+=($!)
# nginx (nginx-light), one worker, sendfile on, on 8082.
mkdir -p "$W/nginx"
cat >"$W/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 64; }
http {
  sendfile on;
  tcp_nopush on;
  access_log off;
  client_body_temp_path $W/nginx;
  proxy_temp_path $W/nginx;
  fastcgi_temp_path $W/nginx;
  uwsgi_temp_path $W/nginx;
  scgi_temp_path $W/nginx;
  server { listen 127.0.0.1:8082; root $W/root; }
}
EOF
"${SERVER[@]}" nginx -c "$W/nginx/nginx.conf" -p "$W/nginx" >/dev/null 2>&1 &
PIDS+=($!)
sleep 1
for p in "${PIDS[@]}"; do
  kill -0 "$p" 2>/dev/null || { echo "bench-serve: a server (pid $p) did not start; logs in $W" >&2; exit 1; }
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

check() { # file expected-sum what
  local got
  got=$(sha256sum <"$1" | cut -d' ' -f1)
  [ "$got" = "$2" ] || { echo "bench-serve: $3: download differs from the source" >&2; exit 1; }
  rm -f "$1"
}

# Seconds for one TFTP download with curl: port blksize.
curl_tftp() {
  local t
  t=$(client curl -sS -o "$W/out" -w '%{time_total}' --tftp-blksize "$2" "tftp://127.0.0.1:$1/big50m.bin")
  check "$W/out" "$SUM50" "curl tftp :$1 blksize $2"
  echo "$t"
}

# Seconds for one TFTP download with atftp: port blksize windowsize.
atftp_tftp() {
  local s e
  s=$(date +%s.%N)
  client atftp --option "blksize $2" --option "windowsize $3" -g -r big50m.bin -l "$W/out" 127.0.0.1 "$1" >/dev/null 2>&1
  e=$(date +%s.%N)
  check "$W/out" "$SUM50" "atftp :$1 blksize $2 windowsize $3"
  printf '%.3f\n' "$(echo "$e - $s" | bc -l)"
}

# Seconds for one HTTP download of 1 GiB: port.
curl_http() {
  local t
  t=$(client curl -sS -o "$W/out" -w '%{time_total}' "http://127.0.0.1:$1/big1g.bin")
  check "$W/out" "$SUM1G" "curl http :$1"
  echo "$t"
}

measure() { # command...
  for _ in $(seq "$RUNS"); do "$@"; done | median
}

mbps() { echo "scale=1; $1 / $2 / 1048576" | bc -l; }

row() { # label size ours theirs theirs-name
  local ratio
  ratio=$(echo "scale=2; $4 / $3" | bc -l)
  printf '| %s | %.3f s (%s MiB/s) | %s: %.3f s (%s MiB/s) | %s× |\n' "$1" "$3" "$(mbps "$2" "$3")" "$5" "$4" "$(mbps "$2" "$4")" "$ratio"
}

S50=$((50 << 20))
S1G=$((1 << 30))
echo "optrom serve benchmark: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
echo "servers pinned to CPU $SERVER_CPU, clients to CPU $CLIENT_CPU ($PLACEMENT-CPU), loopback in a private netns,"
echo "median of $RUNS runs; 50 MiB file for TFTP, 1 GiB for HTTP; every download checked by sha256."
echo
echo "| test (client) | optrom serve | reference | speed-up |"
echo "|---|---|---|---|"
for bs in 512 1468; do
  ours=$(measure curl_tftp 6969 "$bs")
  hpa=$(measure curl_tftp 6970 "$bs")
  dns=$(measure curl_tftp 69 "$bs")
  row "TFTP blksize $bs (curl)" "$S50" "$ours" "$hpa" "tftpd-hpa 5.2"
  row "TFTP blksize $bs (curl)" "$S50" "$ours" "$dns" "dnsmasq $(dnsmasq --version | head -1 | awk '{print $3}')"
  nopoll=$(measure curl_tftp 6971 "$bs")
  row "TFTP blksize $bs (curl), optrom busy_poll_us=0" "$S50" "$nopoll" "$hpa" "tftpd-hpa 5.2"
  floor=$(measure curl_tftp 6972 "$bs")
  row "TFTP blksize $bs (curl), lock-step floor (send+recv only)" "$S50" "$floor" "$hpa" "tftpd-hpa 5.2"
done
for ws in 16 64; do
  ours=$(measure atftp_tftp 6969 1468 "$ws")
  hpa=$(measure atftp_tftp 6970 1468 "$ws")
  dns=$(measure atftp_tftp 69 1468 "$ws")
  row "TFTP blksize 1468 windowsize $ws (atftp)" "$S50" "$ours" "$hpa" "tftpd-hpa 5.2 (no windowsize)"
  row "TFTP blksize 1468 windowsize $ws (atftp)" "$S50" "$ours" "$dns" "dnsmasq (no windowsize before 2.92)"
done
ours=$(measure curl_http 8081)
ngx=$(measure curl_http 8082)
row "HTTP 1 GiB (curl)" "$S1G" "$ours" "$ngx" "nginx $(nginx -v 2>&1 | cut -d/ -f2)"
echo
echo "optrom serve peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/${PIDS[0]}/status" 2>/dev/null || echo n/a)"
echo
# proxyDHCP: client and service in one process (2 tokio workers), loopback, log lines formatted
# as the server does (into a sink); not pinned.
"$PWD/target/release/examples/proxy_latency" 10000 log
