"""Tasks on prefect-ray's RayTaskRunner: a local Ray cluster (started by the runner) runs ten
task calls in its worker processes, each reporting its own task run. Prints the results."""

import os

# No usage report to Ray's servers from a test.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from prefect import flow, task  # noqa: E402
from prefect_ray import RayTaskRunner  # noqa: E402


@task
def square(n):
    return n * n, os.getpid()


@flow(task_runner=RayTaskRunner(init_kwargs={"num_cpus": 2, "include_dashboard": False}))
def ray_flow():
    futures = square.map(range(10))
    results = [f.result() for f in futures]
    print("ran in", "another process" if all(pid != os.getpid() for _, pid in results) else "this process")
    return sum(v for v, _ in results)


if __name__ == "__main__":
    print("result", ray_flow())
