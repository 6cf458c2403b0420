#!/usr/bin/env python3
"""A/B of mcpage's -loops and -mc-conns (README, "Tuning"): starts the demo origin, one
memcached and one mcpage per variant on free loopback ports, warms a page in each, then runs
`wrk -t1 -c<conns> -d<DUR> --latency` on the variants in alternating order for ROUNDS rounds and
prints median req/s, p99 and CPU per request (mcpage, plus memcached for its variants), and what
/metrics says of memcached errors. Every process is started here and stopped by PID at the end.

  make build && scripts/tuning-ab.py                       # all variants, 5 rounds, c=64 and 256
  ONLY='memcached loops=2' ROUNDS=3 CONNS=64 scripts/tuning-ab.py

Needs wrk and memcached. Environment: ROUNDS (5), CONNS ("64 256"), DUR (3s), SIZE (1024),
ONLY (regexp on variant names), BIN (bin)."""
import os, re, subprocess, sys, time, statistics, urllib.request, signal

BINDIR = os.environ.get("BIN", "bin")
BIN = os.path.join(BINDIR, "mcpage")
ROUNDS = int(os.environ.get("ROUNDS", "5"))
CONNS = [int(c) for c in os.environ.get("CONNS", "64 256").split()]
DUR = os.environ.get("DUR", "3s")
SIZE = os.environ.get("SIZE", "1024")
procs = []
LOG = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "tuning-ab.log"), "w")

def freeport():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port

def start(args, **kw):
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=LOG, **kw)
    procs.append(p)
    return p

def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def metrics(port):
    out = {}
    for line in urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port).read().decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out

OP, MP = freeport(), freeport()
origin = start([os.path.join(BINDIR, "demo-origin"), "-listen", "127.0.0.1:%d" % OP])
mc = start(["memcached", "-l", "127.0.0.1", "-p", str(MP), "-U", "0", "-m", "256", "-u", "nobody"])
variants = [
    ("embedded loops=1", ["-loops", "1"]),
    ("embedded loops=2", ["-loops", "2"]),
    ("embedded loops=4", ["-loops", "4"]),
    ("memcached loops=1", ["-loops", "1", "-memcached", "127.0.0.1:%d" % MP]),
    ("memcached loops=2", ["-loops", "2", "-memcached", "127.0.0.1:%d" % MP]),
    ("memcached loops=4", ["-loops", "4", "-memcached", "127.0.0.1:%d" % MP]),
    ("memcached loops=2 mc-conns=2", ["-loops", "2", "-memcached", "127.0.0.1:%d" % MP, "-mc-conns", "2"]),
    ("memcached loops=2 mc-conns=4", ["-loops", "2", "-memcached", "127.0.0.1:%d" % MP, "-mc-conns", "4"]),
]
only = os.environ.get("ONLY")
if only:
    variants = [v for v in variants if re.search(only, v[0])]
runs = []
for i, (name, args) in enumerate(variants):
    port, admin = freeport(), freeport()
    p = start([BIN, "-listen", "127.0.0.1:%d" % port, "-upstream", "127.0.0.1:%d" % OP, "-admin", "127.0.0.1:%d" % admin, "-log-level", "warn"] + args)
    runs.append(dict(name=name, port=port, admin=admin, p=p, rps={}, p99={}, cpu={}))
time.sleep(1.5)
for p in procs:
    if p.poll() is not None:
        sys.exit("a process exited at start: see " + LOG.name)
try:
    for r in runs:
        for _ in range(2):
            urllib.request.urlopen("http://127.0.0.1:%d/page/%s" % (r["port"], SIZE)).read()
    for conns in CONNS:
        for rnd in range(ROUNDS):
            order = runs if rnd % 2 == 0 else runs[::-1]
            for r in order:
                url = "http://127.0.0.1:%d/page/%s" % (r["port"], SIZE)
                subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d1s", url], capture_output=True)
                pids = [r["p"].pid] + ([mc.pid] if "memcached" in r["name"] else [])
                c0 = sum(cpu(x) for x in pids)
                out = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d" + DUR, "--latency", url], capture_output=True, text=True).stdout
                c1 = sum(cpu(x) for x in pids)
                rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
                total = int(re.search(r"(\d+) requests in", out).group(1))
                m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
                p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
                if "Non-2xx" in out or "Socket errors" in out:
                    print("  errors:", r["name"], [l for l in out.splitlines() if "rror" in l or "Non-2xx" in l])
                r["rps"].setdefault(conns, []).append(rps)
                r["p99"].setdefault(conns, []).append(p99)
                r["cpu"].setdefault(conns, []).append((c1 - c0) / total * 1e6)
            print("conns %d round %d done, loadavg %s" % (conns, rnd + 1, open("/proc/loadavg").read().split()[:3]), flush=True)
    print("\n%-32s %5s %9s %17s %8s %10s   %s" % ("variant", "conns", "req/s", "[min-max]", "p99 ms", "cpu us/req", "metrics"))
    for conns in CONNS:
        for r in runs:
            m = metrics(r["admin"])
            tmo = sum(v for k, v in m.items() if k.startswith("mcpage_memcached_server_errors_total") and 'kind="timeout"' in k)
            look = m.get("mcpage_store_lookup_errors_total", 0)
            miss = m.get("mcpage_cache_misses_total", 0)
            rp = r["rps"][conns]
            print("%-32s %5d %9.0f [%7.0f-%7.0f] %8.2f %10.1f   mc timeouts %d, lookup errors %d, misses %d" % (
                r["name"], conns, statistics.median(rp), min(rp), max(rp), statistics.median(r["p99"][conns]),
                statistics.median(r["cpu"][conns]), tmo, look, miss))
    for r in runs:
        m = metrics(r["admin"])
        print(r["name"], {k.split("{")[0].replace("mcpage_memcached_server_", "") + ("" if "kind" not in k else "/" + k.split('kind="')[1].rstrip('"}')): int(v)
              for k, v in m.items() if k.startswith("mcpage_memcached_server_") and v and "_total" in k})
        print("   ", {k: int(v) for k, v in m.items() if k.startswith(("mcpage_store_lookup_errors_total", "mcpage_cache_misses_total", "mcpage_upstream_requests_total", "mcpage_cache_hits_total"))})
finally:
    for p in procs[::-1]:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
