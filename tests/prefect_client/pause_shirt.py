"""The seed's custom-validation flow: Literal fields and a validator; invalid input re-pauses."""
from typing import Literal

import pydantic
from prefect import flow, pause_flow_run
from prefect.input import RunInput


class ShirtOrder(RunInput):
    size: Literal["small", "medium", "large", "xlarge"]
    color: Literal["red", "green", "black"]

    @pydantic.field_validator("color")
    @classmethod
    def validate_color(cls, value, info):
        if value == "green" and info.data.get("size") == "small":
            raise ValueError("Green is only in-stock for medium, large, and XL sizes.")
        return value


@flow(log_prints=True)
def get_shirt_order():
    shirt_order = None
    while shirt_order is None:
        try:
            shirt_order = pause_flow_run(wait_for_input=ShirtOrder, timeout=120)
            print(f"Shirt order: {shirt_order}")
        except pydantic.ValidationError:
            print("Invalid shirt order. Please try again.")
    return shirt_order.size, shirt_order.color


if __name__ == "__main__":
    print("RESULT", get_shirt_order())
