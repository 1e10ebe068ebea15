"""Variables as a flow uses them: set, read back, overwrite, refuse a second set, read a
missing one with a default, delete. Prints one line a step for the test to check."""

from prefect import flow
from prefect.variables import Variable


@flow
def variables_flow():
    Variable.set("answer", {"n": 42, "names": ["a", "b"]}, tags=["demo"])
    print("got", Variable.get("answer"))
    try:
        Variable.set("answer", 1)
    except ValueError as e:
        print("refused", e)
    Variable.set("answer", 43, overwrite=True)
    print("overwritten", Variable.get("answer"))
    print("missing", Variable.get("no-such-variable", default="fallback"))
    Variable.set("scratch", "temporary")
    Variable.unset("scratch")
    print("unset", Variable.get("scratch"))
    return Variable.get("answer")


if __name__ == "__main__":
    print("result", variables_flow())
