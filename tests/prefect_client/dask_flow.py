"""Tasks on prefect-dask's DaskTaskRunner: a local Dask cluster of two worker processes runs
ten task calls (each reports its own task run from its worker process). Prints the results."""

import os

from prefect import flow, task
from prefect_dask import DaskTaskRunner


@task
def square(n):
    return n * n, os.getpid()


@flow(task_runner=DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": True, "dashboard_address": None}))
def dask_flow():
    futures = square.map(range(10))
    results = [f.result() for f in futures]
    print("workers", len({pid for _, pid in results}))
    return sum(v for v, _ in results)


if __name__ == "__main__":
    print("result", dask_flow())
