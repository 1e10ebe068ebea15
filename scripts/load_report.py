"""The report of `scripts/bench load`, from its work directory (argv[1]): the server's
/metrics before and after, the clients' JSON lines and logs, and the figures the script took
from /proc (server CPU ticks, wall seconds, peak RSS in kB, load average, client counts).
Prints one JSON line: errors (client failures, 5xx answers, "database is locked" anywhere in
the logs), per-route p50 / p99 from the latency histograms, server CPU and RSS."""
import glob, json, os, re, sys

work, ticks, wall, rss_kb, load, py, rust = sys.argv[1:8]
ticks, wall = int(ticks), float(wall)
SERIES = re.compile(r'^(flowgate_http_request_duration_seconds_bucket|flowgate_http_requests_total)\{(.*)\} (\S+)$')

def read(name):
    buckets, statuses = {}, {}
    for line in open(os.path.join(work, name)):
        m = SERIES.match(line.strip())
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
        key = (labels["route"], labels["method"])
        if m.group(1).endswith("_bucket"):
            le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
            buckets.setdefault(key, {})[le] = float(m.group(3))
        else:
            statuses[(*key, labels["status"])] = float(m.group(3))
    return buckets, statuses

def quantile(cumulative, q):
    """Prometheus' histogram_quantile: linear within the bucket the rank falls in."""
    bounds = sorted(cumulative)
    total = cumulative[bounds[-1]]
    rank, lower, below = q * total, 0.0, 0.0
    for le in bounds:
        if cumulative[le] >= rank:
            if le == float("inf"):
                return lower
            inside = cumulative[le] - below
            return lower + (le - lower) * ((rank - below) / inside if inside else 1)
        lower, below = le, cumulative[le]
    return lower

(b0, s0), (b1, s1) = read("metrics-before"), read("metrics-after")
routes = []
for key, after in b1.items():
    before = b0.get(key, {})
    diff = {le: n - before.get(le, 0) for le, n in after.items()}
    count = diff[float("inf")]
    if count:
        routes.append({"route": f"{key[1]} {key[0]}", "requests": int(count),
                       "p50_ms": round(quantile(diff, 0.5) * 1000, 2),
                       "p99_ms": round(quantile(diff, 0.99) * 1000, 2)})
routes.sort(key=lambda r: -r["requests"])
by_status = {}
for key, n in s1.items():
    n -= s0.get(key, 0)
    if n:
        by_status[key[2]] = by_status.get(key[2], 0) + int(n)
non_2xx = {f"{k[1]} {k[0]} {k[2]}": int(n - s0.get(k, 0)) for k, n in s1.items()
           if not k[2].startswith(("2", "3")) and n - s0.get(k, 0)}
clients = [json.loads(open(f).read().strip().splitlines()[-1]) for f in
           sorted(glob.glob(os.path.join(work, "py-*.json"))) + [os.path.join(work, "rust.json")]
           if open(f).read().strip()]
locked = sum(open(f, errors="replace").read().count("database is locked")
             for f in glob.glob(os.path.join(work, "*.log")))
client_errors = sum(c["errors"] for c in clients)
server_5xx = sum(n for s, n in by_status.items() if s.startswith("5"))
print(json.dumps({
    "mode": "load", "prefect_processes": int(py), "rust_threads": int(rust),
    "clients_reported": len(clients), "seconds": round(wall, 1), "requests": sum(by_status.values()),
    "requests_per_s": round(sum(by_status.values()) / wall), "statuses": by_status,
    "errors": {"client": client_errors, "server_5xx": server_5xx, "database_is_locked": locked,
               "first": [e for c in clients for e in c.get("first_errors", [])][:5]},
    "non_2xx_by_route": non_2xx,
    "server_cpu_s": round(ticks / os.sysconf("SC_CLK_TCK"), 1),
    "server_cpu_share_of_one_core": round(ticks / os.sysconf("SC_CLK_TCK") / wall, 2),
    "server_peak_rss_mb": round(int(rss_kb) / 1024, 1), "load_average_after": load,
    "prefect_flows": sum(c.get("flows", 0) for c in clients if c["client"] == "prefect"),
    "prefect_flow_ms": [(c["p50_ms"], c["p99_ms"]) for c in clients if c["client"] == "prefect"][:3],
    "rust_kinds": next((c["kinds"] for c in clients if c["client"] == "rust-sdk"), None),
    "routes": routes[:15],
}, indent=1))
