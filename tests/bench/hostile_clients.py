#!/usr/bin/env python3
"""Figures for BENCHMARKS.md "Hostile clients": a running sanctuary (URL, PID) under
(1) thousands of idle sockets and (2) a flood of anonymous MCP `initialize` calls.
Measures the server's RSS (from /proc/PID/status) and the latency of GET /api/dev/ping
during each attack, against a baseline from the same run. Prints a Markdown table.

    python3 tests/bench/hostile_clients.py http://127.0.0.1:5000 <pid> [idle] [initialize]
"""
import json
import socket
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request

URL, PID = sys.argv[1], int(sys.argv[2])
IDLE = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
FLOOD = int(sys.argv[4]) if len(sys.argv) > 4 else 5000
HOST, PORT = URL.split("//")[1].split(":")[0], int(URL.rsplit(":", 1)[1])


def rss_mb():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def ping_ms(n=50):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        with urllib.request.urlopen(URL + "/api/dev/ping", timeout=30) as r:
            assert r.status == 200
            r.read()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def initialize():
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "flood", "version": "0"}}}).encode()
    request = urllib.request.Request(URL + "/mcp", data=body, headers={
        "content-type": "application/json",
        "accept": "application/json, text/event-stream"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            r.read(1)
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


rows = []
base = ping_ms()
rows.append(("baseline", IDLE and 0, rss_mb(), *base))

sockets = []
for _ in range(IDLE):
    s = socket.create_connection((HOST, PORT))
    sockets.append(s)
time.sleep(1)
during = ping_ms()
rows.append((f"{IDLE} idle sockets open", IDLE, rss_mb(), *during))
for s in sockets:
    s.close()
time.sleep(2)

statuses = {}
lock = threading.Lock()


def flood(count):
    for _ in range(count):
        status = initialize()
        with lock:
            statuses[status] = statuses.get(status, 0) + 1


threads = [threading.Thread(target=flood, args=(FLOOD // 8,)) for _ in range(8)]
for t in threads:
    t.start()
flooding = ping_ms()
for t in threads:
    t.join()
rows.append((f"{FLOOD} `initialize` (answers {dict(sorted(statuses.items()))})", 0, rss_mb(), *flooding))
time.sleep(5)
rows.append(("5 s after the flood", 0, rss_mb(), *ping_ms()))

print("| phase | sockets | RSS (MB) | ping p50 (ms) | ping p99 (ms) |")
print("|---|---|---|---|---|")
for name, socks, rss, p50, p99 in rows:
    print(f"| {name} | {socks} | {rss:.0f} | {p50:.2f} | {p99:.2f} |")
