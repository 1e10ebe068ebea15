"""Deployed flows steered from outside while a `prefect worker` runs them. Each leaves marks
(one line per event) in the directory `$FLOWGATE_TEST_MARKS`, so the test sees what ran and
which hooks were called.

- `suspendable`: task `first`, then one `tick` task after another until the mark `go` exists,
  then task `second`. Suspended from outside, it stops at its next task boundary; resumed, it
  runs again with `first` and the ticks found in its persisted results, not run twice.
- `hooked_parent`: a subflow that waits; both flows have an `on_cancellation` hook."""
import os
import pathlib
import time

from prefect import flow, task

MARKS = pathlib.Path(os.environ["FLOWGATE_TEST_MARKS"])


def mark(name: str) -> None:
    with open(MARKS / name, "a") as f:
        f.write(f"{os.getpid()}\n")


@task(persist_result=True)
def first() -> str:
    mark("first")
    return "first"


@task(persist_result=True)
def tick(i: int) -> int:
    mark("tick")
    return i


@task(persist_result=True)
def second() -> str:
    mark("second")
    return "second"


@flow(persist_result=True)
def suspendable() -> str:
    first()
    i = 0
    while not (MARKS / "go").exists():
        tick(i)
        i += 1
        time.sleep(0.2)
    return second()


def parent_cancelled(flow, flow_run, state):
    mark("parent-hook")


def child_cancelled(flow, flow_run, state):
    mark("child-hook")


@flow(on_cancellation=[child_cancelled])
def waiting_child() -> None:
    mark("child-started")
    time.sleep(600)


@flow(on_cancellation=[parent_cancelled])
def hooked_parent() -> None:
    waiting_child()
