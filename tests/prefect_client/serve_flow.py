"""Serves a flow (flow.serve): this process runs its own deployment's runs until stopped."""
from prefect import flow


@flow(log_prints=True)
def served_flow(greeting: str = "hello"):
    print(f"{greeting} from a served flow")
    return greeting


if __name__ == "__main__":
    served_flow.serve(name="served", print_starting_message=False)
