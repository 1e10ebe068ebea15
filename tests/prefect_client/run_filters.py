"""Reads the runs and deployments work_pool_setup.py made (once a worker ran them) through the
client's filters of Prefect's deployment model, and prints what each found as one JSON line:
runs by deployment, pool, queue, queue name and task run; deployments by name and pool;
queues of every pool.

Argument: POOL."""
import json
import sys

from prefect import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterWorkQueueName,
    TaskRunFilter,
    TaskRunFilterState,
    TaskRunFilterStateType,
    WorkPoolFilter,
    WorkPoolFilterName,
    WorkQueueFilter,
    WorkQueueFilterName,
)

POOL = sys.argv[1]


def pool(name):
    return WorkPoolFilter(name=WorkPoolFilterName(any_=[name]))


with get_client(sync_client=True) as c:
    to_high = DeploymentFilter(name=DeploymentFilterName(any_=["to-high"]))
    completed_tasks = TaskRunFilter(
        state=TaskRunFilterState(type=TaskRunFilterStateType(any_=["COMPLETED"]))
    )
    runs = c.read_flow_runs()
    found = {
        "runs": len(runs),
        "by_deployment": len(c.read_flow_runs(deployment_filter=to_high)),
        "count_by_deployment": c.count_flow_runs(deployment_filter=to_high),
        "by_pool": len(c.read_flow_runs(work_pool_filter=pool(POOL))),
        "by_other_pool": c.count_flow_runs(work_pool_filter=pool("elsewhere")),
        "by_queue_prefix": len(
            c.read_flow_runs(
                work_queue_filter=WorkQueueFilter(name=WorkQueueFilterName(startswith_=["lo"]))
            )
        ),
        "by_queue_name": len(
            c.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    work_queue_name=FlowRunFilterWorkQueueName(any_=["low"])
                )
            )
        ),
        "with_completed_tasks": c.count_flow_runs(task_run_filter=completed_tasks),
        "deployments_like": sorted(
            d.name
            for d in c.read_deployments(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(like_="HIG"))
            )
        ),
        "deployments_in_pool": len(c.read_deployments(work_pool_filter=pool(POOL))),
        "queues": sorted(f"{q.work_pool_name}/{q.name}" for q in c.read_work_queues()),
        "pools_of_runs": sorted({r.work_pool_name for r in runs}),
        "queues_known": all(r.work_queue_id is not None for r in runs),
    }
print(json.dumps(found))
