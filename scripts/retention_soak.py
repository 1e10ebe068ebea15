"""`scripts/bench retention-soak`'s driver: writers add a steady stream of finished flow runs
(with task runs, log lines and events) to a running server whose retention is RETAIN, for
MINUTES, while every 30 s a sample records the database's size, the rows alive and retention's
counters. Prints the samples as a table, then one JSON line with the verdict.

argv: API URL, /metrics URL, MINUTES, RETAIN seconds, and the database: a SQLite file (read
through a separate read-only connection: its size, page and freelist counts) or a postgres://
URL (read with psql: the size of the tables retention prunes, and of the whole database). On
PostgreSQL the freed space is reused only after a vacuum: with the server's `autovacuum` off
(as on some test machines) the soak runs a plain VACUUM of those tables every minute in its
place (autovacuum's default naptime), and says so.

Each writer cycle is one flow run as a client would make it: created Pending, set Running, 3
task runs created Running and set Completed, 20 log lines (flow's and tasks'), 3 events, then
set Completed (1 in 20 Failed); every 4th cycle also a task run outside any flow run. At the
default 10 cycles/s that is ~115 requests/s and ~400 rows/s (runs, states, task runs, logs and
the events the client and the server emit: ~12 a run); SOAK_RUNS_PER_S changes the rate."""
import datetime, http.client, json, os, re, sqlite3, subprocess, sys, threading, time, uuid
import urllib.parse, urllib.request

api, metrics_url, minutes, retain_s, database = sys.argv[1:6]
minutes, retain_s = float(minutes), float(retain_s)
RATE = float(os.environ.get("SOAK_RUNS_PER_S", "10"))
WRITERS, EVERY = 4, 30.0
postgres = database.startswith(("postgres://", "postgresql://"))
# The size settles once retention's pass (every minute) has removed what aged: give it one
# pass after RETAIN and one more minute of margin. On PostgreSQL the space of those first
# passes' rows is reused only after vacuums have caught up with them: in both soaks measured
# (2- and 5-minute retention, vacuums by the soak or by autovacuum) the tables settled 5-6
# minutes after RETAIN.
PLATEAU_S = retain_s + (360 if postgres else 120)
FLAT = 0.10  # growth after the plateau the verdict tolerates
base = urllib.parse.urlsplit(api)
iso = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat()


class Client:
    """One keep-alive connection to the API; `call` returns the JSON answer and the request's
    milliseconds, and raises on a status outside 2xx."""

    def __init__(self):
        self.conn = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        t = time.perf_counter()
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(base.hostname, base.port, timeout=60)
            try:
                self.conn.request(method, base.path + path, data, {"content-type": "application/json"})
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (ConnectionError, http.client.HTTPException):
                # A keep-alive connection the server closed: once more on a new one.
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        ms = (time.perf_counter() - t) * 1000
        if not 200 <= r.status < 300:
            raise RuntimeError(f"{method} {path}: {r.status} {raw[:300]!r}")
        return json.loads(raw or b"null"), ms


setup = Client()
flow = setup.call("POST", "/flows/", {"name": "retention-soak"})[0]["id"]
latencies = {}  # request kind -> [ms]
errors, error_samples, cycles = [0], [], [0]
lock, stop = threading.Lock(), threading.Event()


def writer(w, t0):
    c, k = Client(), 0
    def call(kind, method, path, body=None):
        out, ms = c.call(method, path, body)
        with lock:
            latencies.setdefault(kind, []).append(ms)
        return out
    def state(kind, path, ty):
        out = call(kind, "POST", path, {"state": {"type": ty}})
        if out.get("status") != "ACCEPT":
            raise RuntimeError(f"{path} -> {ty}: {out.get('status')} {out.get('details')}")
    while not stop.is_set():
        # Cycle k of writer w is due at t0 + (k * WRITERS + w) / RATE: the writers interleave.
        due = t0 + (k * WRITERS + w) / RATE
        if (pause := due - time.time()) > 0:
            if stop.wait(pause):
                break
        try:
            run = call("flow_run_create", "POST", "/flow_runs/", {
                "flow_id": flow, "name": f"soak-{w}-{k}", "tags": ["soak"],
                "parameters": {"batch": k, "source": f"s3://bucket/in/{w}/{k}.parquet"},
                "state": {"type": "PENDING"}})["id"]
            state("flow_run_set_state", f"/flow_runs/{run}/set_state", "RUNNING")
            tasks = []
            for j in range(3):
                task = call("task_run_create", "POST", "/task_runs/", {
                    "flow_run_id": run, "task_key": f"soak.step_{j}", "dynamic_key": str(j),
                    "name": f"step_{j}-{k}", "state": {"type": "RUNNING"}})["id"]
                state("task_run_set_state", f"/task_runs/{task}/set_state", "COMPLETED")
                tasks.append(task)
            now = iso(time.time())
            call("logs", "POST", "/logs/", [{
                "name": "prefect.task_runs" if i % 4 else "prefect.flow_runs", "level": 20 if i % 7 else 30,
                "message": f"step {i % 3} of batch {k}: processed {1000 + i * 37} records from "
                           f"s3://bucket/in/{w}/{k}.parquet in {0.1 * i:.1f}s",
                "timestamp": now, "flow_run_id": run, "task_run_id": tasks[i % 3] if i % 4 else None}
                for i in range(20)])
            call("events", "POST", "/events/", [{
                "id": str(uuid.uuid4()), "occurred": now, "event": f"soak.step.{j}.done",
                "resource": {"prefect.resource.id": f"prefect.task-run.{tasks[j]}"},
                "related": [{"prefect.resource.id": f"prefect.flow-run.{run}", "prefect.resource.role": "flow-run"}],
                "payload": {"records": 1000 + j}} for j in range(3)])
            state("flow_run_set_state", f"/flow_runs/{run}/set_state", "FAILED" if k % 20 == 19 else "COMPLETED")
            if k % 4 == 0:
                lone = call("task_run_create", "POST", "/task_runs/", {
                    "task_key": "soak.background", "dynamic_key": f"{w}-{k}",
                    "name": f"background-{w}-{k}", "state": {"type": "RUNNING"}})["id"]
                state("task_run_set_state", f"/task_runs/{lone}/set_state", "COMPLETED")
            with lock:
                cycles[0] += 1
        except Exception as e:  # counted and shown; the soak goes on
            with lock:
                errors[0] += 1
                if len(error_samples) < 5:
                    error_samples.append(str(e))
        k += 1


def metrics():
    with urllib.request.urlopen(metrics_url) as r:
        return r.read().decode()


def series(text, name):
    """{kind: value} of a metric labelled by kind alone."""
    return {k: float(v) for k, v in re.findall(rf'^{name}{{kind="(\w+)"}} (\S+)$', text, re.M)}


def over_10ms(text):
    """Retention batches that took over 10 ms, over all kinds."""
    total = series(text, "flowgate_retention_batch_seconds_count")
    quick = {k: float(v) for k, v in re.findall(
        r'^flowgate_retention_batch_seconds_bucket{kind="(\w+)",le="0.01"} (\S+)$', text, re.M)}
    return int(sum(total.values()) - sum(quick.values()))


def psql(sql):
    return subprocess.run(["psql", database, "-Atc", sql], check=True, capture_output=True,
                          text=True).stdout.split("|")


TABLES = ["flow_runs", "flow_run_states", "task_runs", "logs", "events"]
AUTOVACUUM = psql("SHOW autovacuum")[0].strip() if postgres else None
vacuums = []  # seconds each stand-in VACUUM took


def vacuumer():
    while not stop.wait(60):
        t = time.perf_counter()
        subprocess.run(["psql", database, "-qc", f"VACUUM {', '.join(TABLES)}"], check=True)
        vacuums.append(time.perf_counter() - t)


def database_sample():
    """The database's size (bytes) and what else can be read without disturbing the server."""
    if postgres:
        tables = ", ".join(f"'{t}'" for t in TABLES)
        size, whole, logs = psql(
            f"SELECT (SELECT sum(pg_total_relation_size(t)) FROM unnest(array[{tables}]) t),"
            " pg_database_size(current_database()), (SELECT count(*) FROM logs)")
        return {"size": int(size), "db_whole": int(whole), "logs": int(logs)}
    # A fresh read-only connection each time: it holds no snapshot between samples, so it never
    # keeps the server's checkpoints from resetting the WAL.
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        logs = conn.execute("SELECT count(*) FROM logs").fetchone()[0]
    finally:
        conn.close()
    db = os.path.getsize(database)
    wal = os.path.getsize(database + "-wal") if os.path.exists(database + "-wal") else 0
    return {"size": db + wal, "db": db, "wal": wal, "page_size": page, "pages": pages,
            "free_pages": free, "logs": logs}


def sample(t0):
    s = {"t": round(time.time() - t0), **database_sample()}
    s["flow_runs"] = setup.call("POST", "/flow_runs/count", {})[0]
    s["task_runs"] = setup.call("POST", "/task_runs/count", {})[0]
    window = {"occurred": {"since": iso(t0 - 3600), "until": iso(time.time() + 3600)}}
    s["events"] = sum(g["count"] for g in setup.call("POST", "/events/count-by/event", {"filter": window})[0])
    text = metrics()
    s["pruned"] = {k: int(v) for k, v in series(text, "flowgate_retention_pruned_total").items()}
    s["batches"] = int(sum(series(text, "flowgate_retention_batch_seconds_count").values()))
    s["batches_over_10ms"] = over_10ms(text)
    s["load1"] = float(open("/proc/loadavg").read().split()[0])
    with lock:
        s["cycles"], s["errors"] = cycles[0], errors[0]
    return s


MB = 1 << 20
def show(s):
    p = s["pruned"]
    size = (f"{s['db'] / MB:8.1f} {s['wal'] / MB:7.1f} {s['pages']:8d} {s['free_pages']:7d}" if not postgres
            else f"{s['size'] / MB:8.1f} {s['db_whole'] / MB:8.1f}")
    print(f"{s['t'] / 60:6.1f} {size} {s['flow_runs']:7d} {s['task_runs']:7d} {s['logs']:8d} "
          f"{s['events']:8d} {p.get('flow_runs', 0):8d} {p.get('task_runs', 0):7d} "
          f"{p.get('logs', 0):8d} {p.get('events', 0):8d} {s['batches']:6d} {s['batches_over_10ms']:5d} "
          f"{s['load1']:5.1f} {s['errors']:4d}", flush=True)


head = (" db_MB  wal_MB    pages    free" if not postgres else " tbl_MB    db_MB")
print(f"{'min':>6} {head} {'runs':>7} {'tasks':>7} {'logs':>8} {'events':>8} {'pr_runs':>8} "
      f"{'pr_task':>7} {'pr_logs':>8} {'pr_evts':>8} {'batch':>6} {'>10ms':>5} {'load':>5} {'err':>4}",
      flush=True)
t0 = time.time()
threads = [threading.Thread(target=writer, args=(w, t0)) for w in range(WRITERS)]
if AUTOVACUUM == "off":
    threads.append(threading.Thread(target=vacuumer))
for t in threads:
    t.start()
samples = []
while True:
    samples.append(sample(t0))
    show(samples[-1])
    if time.time() - t0 >= minutes * 60 - 0.5:
        break
    # The next sample on the 30 s grid, or at the end.
    time.sleep(max(0.0, min(t0 + len(samples) * EVERY, t0 + minutes * 60) - time.time()))
stop.set()
for t in threads:
    t.join()
elapsed = time.time() - t0

# The verdict: the size at the plateau against the size at the end, and the slope in between.
after = [s for s in samples if s["t"] >= PLATEAU_S]
out = {"mode": "retention-soak", "backend": "postgres" if postgres else "sqlite",
       "minutes": minutes, "retain_s": retain_s, "runs_per_s_target": RATE,
       "runs_per_s": round(cycles[0] / elapsed, 2), "runs": cycles[0],
       "requests": sum(len(v) for v in latencies.values()), "errors": errors[0],
       "error_samples": error_samples}
if len(after) >= 2:
    first, last = after[0], after[-1]
    peak = max(s["size"] for s in after)
    # Least-squares slope of the size over the samples after the plateau, in MB per hour.
    xs, ys = [s["t"] for s in after], [s["size"] for s in after]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    growth = last["size"] / first["size"] - 1
    out.update({
        "plateau_at_min": round(first["t"] / 60, 1), "size_mb_at_plateau": round(first["size"] / MB, 1),
        "size_mb_at_end": round(last["size"] / MB, 1), "size_mb_peak_after_plateau": round(peak / MB, 1),
        "growth_after_plateau_pct": round(growth * 100, 1),
        "slope_mb_per_hour_after_plateau": round(slope * 3600 / MB, 2),
        "flat": growth < FLAT and peak / first["size"] - 1 < FLAT,
        "flat_means": f"size at the end and at its peak after the plateau < {FLAT:.0%} above the plateau's"})
    if not postgres:
        out["wal_mb_at_plateau_and_end"] = [round(first["wal"] / MB, 1), round(last["wal"] / MB, 1)]
        out["free_pages_at_end"] = last["free_pages"]
else:
    out["flat"] = None
    out["flat_means"] = f"too short: the plateau is at {PLATEAU_S / 60:.1f} min; run longer"
if postgres:
    out["autovacuum"] = AUTOVACUUM if AUTOVACUUM != "off" else (
        f"off: the soak ran VACUUM on the pruned tables every minute instead ({len(vacuums)} "
        f"times, {max(vacuums, default=0):.1f} s at most)")
out["alive_at_end"] = {k: samples[-1][k] for k in ("flow_runs", "task_runs", "logs", "events")}
out["pruned"] = samples[-1]["pruned"]
out["retention_batches"], out["retention_batches_over_10ms"] = samples[-1]["batches"], samples[-1]["batches_over_10ms"]
for kind, ms in sorted(latencies.items()):
    ms.sort()
    out[f"{kind}_ms"] = {"n": len(ms), "p50": round(ms[len(ms) // 2], 2),
                         "p99": round(ms[int(len(ms) * .99)], 2), "max": round(ms[-1], 1)}
every = sorted(m for ms in latencies.values() for m in ms)
out["all_requests_ms"] = {"p50": round(every[len(every) // 2], 2), "p99": round(every[int(len(every) * .99)], 2)}
out["load1_min_max"] = [min(s["load1"] for s in samples), max(s["load1"] for s in samples)]
print(json.dumps(out))
