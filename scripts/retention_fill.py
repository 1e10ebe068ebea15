"""`scripts/bench retention`'s filler: multiplies what a stopped server's SQLite database
(argv[1]) holds of flow runs, their states, task runs, logs and events to COPIES (argv[2])
times, each copy's ids (and the references to them) rewritten so that copies are distinct
and still belong together: a copied task run belongs to the copied flow run. Copy n is moved
n × 1,000 s into the past (its times) and its ids get COPIES − n as their top bits: as in a real
database, whose ids (UUIDv7) grow with time, the oldest runs have neighbouring ids, so
pruning the oldest first deletes neighbouring rows of every id index."""
import sqlite3, sys

db, copies = sys.argv[1], int(sys.argv[2])
TABLES = ["flow_runs", "flow_run_states", "task_runs", "logs", "events"]
conn = sqlite3.connect(db)
ids = set()
for table in TABLES:
    ids.update(row[0] for row in conn.execute(f"SELECT id FROM {table}"))

def moved(value, n):
    """The id `value` in copy `n` (its first 8 hex digits, a v7 id's top time bits, replaced by
    `copies - n`: older copies, smaller ids), or `value` if not ours."""
    return format(copies - n, "08x") + value[8:] if value in ids else value

conn.create_function("moved", 2, moved, deterministic=True)
TIMES = {"created", "updated", "state_timestamp", "start_time", "end_time", "expected_start_time",
         "next_scheduled_start_time", "timestamp", "occurred", "received"}
for table in TABLES:
    columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    ours = lambda c: c == "id" or c.endswith("_id")
    def value(c):
        if ours(c):
            return f"moved({c}, n.i)"
        return f"{c} - n.i * 1000000000" if c in TIMES else c
    select = ", ".join(value(c) for c in columns)
    conn.execute(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {copies - 1}) "
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM {table}, n")
conn.commit()
print({t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES})
