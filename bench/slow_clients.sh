#!/usr/bin/env bash
# Slow and greedy clients against `smart-album serve` (issue 11, items 5 and 6):
#  1. one request with 1,000,000 header fields (8 MB): the reply and the server's
#     peak RSS before and after;
#  2. 300 connections (10 addresses x 30) dripping a header line every 0.3 s: how
#     long /api/health from another address takes, and how many drips were cut;
#  3. 40 connections from one address: how many the per-address cap refused.
#   bench/slow_clients.sh [build-dir] [head-deadline-s]     (default: build, 10)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build}/smart-album
deadline=${2:-10}
tmp=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; rm -rf "$tmp"' EXIT
ulimit -n 4096 2>/dev/null || true
port=$((20000 + RANDOM % 20000))
"$bin" serve --data-dir "$tmp/album" --port $port --auth off --head-deadline "$deadline" > "$tmp/serve.log" 2>&1 &
srv=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/health" > /dev/null && break; sleep 0.1; done
python3 - "$port" "$srv" <<'PY'
import socket, sys, threading, time
port, pid = int(sys.argv[1]), sys.argv[2]

def hwm():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
def conn(host):
    s = socket.socket()
    s.bind((host, 0))
    s.connect(("127.0.0.1", port))
    return s
def status(data):
    return data.split(b"\r\n", 1)[0].decode(errors="replace") if data else "(closed, no reply)"

print(f"idle peak RSS: {hwm():.1f} MiB")
# 1. A million header fields.
s = conn("127.0.0.2")
reply = []
def reader():
    try:
        reply.append(s.recv(4096))
    except OSError as e:
        reply.append(b"")
t = threading.Thread(target=reader); t.start()
sent = 0
try:
    s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    chunk = b"X-A: b\r\n" * 1000
    for _ in range(1000):
        s.sendall(chunk); sent += 1000
    s.sendall(b"\r\n")
except OSError:
    pass
t.join(10); s.close()
print(f"1,000,000 header fields: reply {status(reply[0] if reply else b'')}; "
      f"{sent} fields sent before the server closed; peak RSS now {hwm():.1f} MiB")

# 2. 300 dripping connections.
drips = [conn(f"127.0.0.{3 + i % 10}") for i in range(300)]
for d in drips:
    d.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
stop = False
def drip():
    n = 0
    while not stop:
        for d in drips:
            try: d.sendall(b"X-Slow-%d: y\r\n" % n)
            except OSError: pass
        n += 1; time.sleep(0.3)
dt = threading.Thread(target=drip); dt.start()
time.sleep(0.5)
t0 = time.time()
h = conn("127.0.0.1"); h.settimeout(120)
h.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
got = h.recv(4096)
print(f"300 dripping connections: /api/health answered {status(got)} after {time.time() - t0:.2f} s")
stop = True; dt.join()
time.sleep(1)
cut = 0
for d in drips:
    d.settimeout(0.2)
    try:
        if d.recv(4096) is not None: cut += 1
    except OSError:
        pass
    d.close()
print(f"  {cut} of 300 drips answered/closed by the server; peak RSS {hwm():.1f} MiB")

# 3. Per-address cap.
held = []
for i in range(40):
    c = conn("127.0.0.20"); c.settimeout(2)
    c.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    held.append(c)
codes = {}
for c in held:
    try: k = status(c.recv(4096)).split(" ")[1] if True else ""
    except (OSError, IndexError): k = "closed"
    codes[k] = codes.get(k, 0) + 1
print(f"40 keep-alive connections from one address: {codes}")
PY
