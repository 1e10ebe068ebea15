"""Runs small flows (three tasks, three log lines each) one after another until the file named
by the second argument exists, while the kill soak (crates/cli/tests/durability) kills and
restarts the server under it. Appends one JSON line per flow call to the file named by the first
argument: {"run": id, "state": type, "value": n, "ended": unix seconds} when the call returned
a state, else {"error": text} (the client gave up on the server). The client's own retries (PREFECT_CLIENT_*
settings) are what carries a flow across a restart; the program adds none."""
import json
import os
import sys
import time

from prefect import flow, get_run_logger, task


@task
def square(x):
    return x * x


@flow
def soak_flow(i: int):
    logger = get_run_logger()
    total = 0
    for k in range(3):
        total += square(i + k)
        logger.info("soak step %d of flow %d", k, i)
    return total


def main():
    out_path, stop_path = sys.argv[1], sys.argv[2]
    i = 0
    while not os.path.exists(stop_path):
        i += 1
        try:
            state = soak_flow(i, return_state=True)
            line = {
                "run": str(state.state_details.flow_run_id),
                "state": state.type.value,
                "value": state.result() if state.is_completed() else None,
                "expected": sum((i + k) ** 2 for k in range(3)),
                "ended": time.time(),
            }
        except Exception as e:  # the client gave up: the run's end is not known
            line = {"error": f"{type(e).__name__}: {e}"}
            time.sleep(0.5)
        with open(out_path, "a") as out:
            out.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
