"""ThreadPoolTaskRunner with submit, wait, as_completed and map (the seed's concurrency chapter)."""
import time

from prefect import flow, task
from prefect.futures import as_completed, wait
from prefect.task_runners import ThreadPoolTaskRunner


@task
def slow_square(x):
    time.sleep(0.2)
    return x * x


@flow(task_runner=ThreadPoolTaskRunner(max_workers=3))
def threadpool_flow():
    futures = [slow_square.submit(i) for i in range(5)]
    done = wait(futures)
    squares = sorted(f.result() for f in done.done)
    mapped = slow_square.map([10, 11])
    more = sorted(f.result() for f in as_completed(mapped))
    return squares, more


if __name__ == "__main__":
    print(threadpool_flow())
