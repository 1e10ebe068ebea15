"""The seed's default-value flow: a RunInput with initial data, in an async flow."""
import asyncio

from prefect import flow, pause_flow_run
from prefect.input import RunInput


class UserNameInput(RunInput):
    name: str


@flow(log_prints=True)
async def greet_user_by_name():
    user_input = await pause_flow_run(
        wait_for_input=UserNameInput.with_initial_data(name="anonymous"), timeout=120
    )
    if user_input.name == "anonymous":
        print("Hello, stranger!")
    else:
        print(f"Hello, {user_input.name}!")
    return user_input.name


if __name__ == "__main__":
    print("RESULT", asyncio.run(greet_user_by_name()))
