"""The seed's basic human-in-the-loop flow: pause for a plain string."""
from prefect import flow, pause_flow_run


@flow(log_prints=True)
def greet_user():
    name = pause_flow_run(str, timeout=120)
    print(f"Hello, {name}!")
    return name


if __name__ == "__main__":
    print("RESULT", greet_user())
