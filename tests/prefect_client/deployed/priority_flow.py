"""A deployed flow: records when it started and ran, then sleeps briefly so runs overlap."""
import time

from prefect import flow, task


@task
def note(label: str, n: int) -> str:
    return f"{label}-{n}"


@flow(log_prints=True)
def priority_flow(label: str = "none", n: int = 0, sleep: float = 0.3):
    print(note(label, n))
    time.sleep(sleep)
    return n
