"""A parent flow calling a child flow (a subflow) between two tasks."""
from prefect import flow, task


@task
def double(x):
    return 2 * x


@flow
def child_flow(x):
    return double(x) + 1


@flow(log_prints=True)
def parent_flow():
    a = double(5)
    b = child_flow(a)
    print("child returned", b)
    return b


if __name__ == "__main__":
    print(parent_flow())
