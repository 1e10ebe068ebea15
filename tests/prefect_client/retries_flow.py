"""A task that fails twice then succeeds (retries=2), and a flow that fails for good."""
import sys

from prefect import flow, task

attempts = {"flaky": 0}


@task(retries=2, retry_delay_seconds=0)
def flaky():
    attempts["flaky"] += 1
    if attempts["flaky"] < 3:
        raise RuntimeError(f"flaky attempt {attempts['flaky']} failed")
    return "ok after retries"


@task
def always_fails():
    raise ValueError("this task always fails")


@flow
def recovers_flow():
    return flaky()


@flow
def failing_flow():
    return always_fails()


if __name__ == "__main__":
    print(recovers_flow())
    try:
        failing_flow()
    except ValueError as e:
        print("failing_flow raised:", e)
    else:
        sys.exit("failing_flow should have raised")
