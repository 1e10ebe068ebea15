"""Creates a work pool with two queues of different priorities and limits, deploys
deployed/priority_flow.py to each queue, and asks for runs with run_deployment: the program a
`prefect worker start --type process` then executes. Prints one JSON line describing what it made.

Arguments: POOL HIGH_RUNS LOW_RUNS POOL_LIMIT HIGH_LIMIT LOW_LIMIT (a limit may be "none")."""
import json
import os
import sys

from prefect import flow, get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments import run_deployment


def limit(text):
    return None if text == "none" else int(text)


POOL = sys.argv[1]
HIGH_RUNS, LOW_RUNS = int(sys.argv[2]), int(sys.argv[3])
POOL_LIMIT, HIGH_LIMIT, LOW_LIMIT = (limit(a) for a in sys.argv[4:7])
HERE = os.path.dirname(os.path.abspath(__file__))

with get_client(sync_client=True) as c:
    pool = c.create_work_pool(WorkPoolCreate(name=POOL, type="process", concurrency_limit=POOL_LIMIT))
    c.create_work_queue(name="high", work_pool_name=POOL, priority=1, concurrency_limit=HIGH_LIMIT)
    c.create_work_queue(name="low", work_pool_name=POOL, priority=5, concurrency_limit=LOW_LIMIT)
    queues = {q.name: q.priority for q in c.read_work_queues(work_pool_name=POOL)}

source = flow.from_source(source=os.path.join(HERE, "deployed"), entrypoint="priority_flow.py:priority_flow")
for queue in ("high", "low"):
    source.deploy(name=f"to-{queue}", work_pool_name=POOL, work_queue_name=queue,
                  parameters={"label": queue}, print_next_steps=False, ignore_warnings=True)

runs = []
# The low-priority runs are asked for first: the worker must still start the high ones first.
for queue, count in (("low", LOW_RUNS), ("high", HIGH_RUNS)):
    for i in range(count):
        fr = run_deployment(f"priority-flow/to-{queue}", parameters={"n": i}, timeout=0)
        runs.append({"id": str(fr.id), "queue": queue, "state": fr.state.name})

print(json.dumps({"pool": str(pool.id), "queues": queues, "runs": runs}))
