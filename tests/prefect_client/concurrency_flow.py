"""Global concurrency limits, a rate limit and a tag limit, measured from inside the program.

Prints one JSON line: the most holders of the limit `db` (limit 2) seen at once, the times
around each `rate_limit("rl")` call (limit 1, 4 slots/s), the most tagged task runs seen
running at once (tag limit 1), and what the server says each limit holds after the flow.
"""
import json
import threading
import time

from prefect import flow, get_client, task
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency, rate_limit
from prefect.task_runners import ThreadPoolTaskRunner


class Gauge:
    """Counts how many threads are inside a block at once, and the most ever seen."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __enter__(self):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc):
        with self.lock:
            self.now -= 1


db_holders = Gauge()
tagged_running = Gauge()


def setup():
    with get_client(sync_client=True) as c:
        c.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name="db", limit=2))
        c.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name="rl", limit=1, slot_decay_per_second=4.0)
        )
        c.create_concurrency_limit(tag="db-tag", concurrency_limit=1)


@task
def use_db(i):
    with concurrency("db", occupy=1):
        with db_holders:
            time.sleep(0.2)
    return i


@task(tags=["db-tag"])
def tagged(i):
    with tagged_running:
        time.sleep(0.2)
    return i


@flow(task_runner=ThreadPoolTaskRunner(max_workers=6))
def concurrency_flow():
    held = [use_db.submit(i) for i in range(6)]
    tags = [tagged.submit(i) for i in range(3)]
    calls = []
    for _ in range(5):
        before = time.monotonic()
        rate_limit("rl")
        calls.append((before, time.monotonic()))
    return [f.result() for f in held + tags], calls


if __name__ == "__main__":
    setup()
    results, calls = concurrency_flow()
    with get_client(sync_client=True) as c:
        after = {
            "db": c.read_global_concurrency_limit_by_name("db").active_slots,
            "db-tag": [str(r) for r in c.read_concurrency_limit_by_tag("db-tag").active_slots],
        }
    print(json.dumps({
        "results": results,
        "most_db_holders": db_holders.most,
        "most_tagged_running": tagged_running.most,
        "rate_limit_calls": calls,
        "after": after,
    }))
