"""One prefect client process of `scripts/bench load`: runs flows until SECONDS (argv[1]) have
passed, each calling five tasks, logging, taking a slot of the global concurrency limit
`load-py` and emitting an event (over the events websocket). Prints one JSON line: flows run,
errors, the flow's client-side p50 / p99 in milliseconds, and the first few errors."""
import json, os, sys, time

from prefect import flow, get_run_logger, task
from prefect.concurrency.sync import concurrency
from prefect.events import emit_event

@task
def add(x, y):
    return x + y

@flow(name="load-python")
def load_flow(n: int) -> int:
    get_run_logger().info("load flow %s", n)
    total = 0
    for i in range(5):
        total = add(total, i)
    with concurrency("load-py", occupy=1):
        pass
    emit_event(event="load.python", resource={"prefect.resource.id": f"load.python.{os.getpid()}"}, payload={"n": n})
    return total

deadline = time.monotonic() + float(sys.argv[1])
times, errors, n = [], [], 0
while time.monotonic() < deadline:
    started = time.perf_counter()
    try:
        got = load_flow(n)
        if got != 10:
            raise AssertionError(f"the flow returned {got}, not 10")
        times.append((time.perf_counter() - started) * 1000)
    except Exception as e:  # every failure counts
        errors.append(repr(e))
    n += 1
times.sort()
q = lambda p: round(times[min(len(times) - 1, int(len(times) * p))], 1) if times else None
print(json.dumps({"client": "prefect", "flows": len(times) + len(errors), "errors": len(errors),
                  "p50_ms": q(0.5), "p99_ms": q(0.99), "first_errors": errors[:5]}))
