"""Asks for a run of the served deployment and waits for its end; prints its final state."""
import sys

from prefect.deployments import run_deployment

run = run_deployment("served-flow/served", parameters={"greeting": sys.argv[1]}, timeout=120)
print(run.state.type.value, run.state.name)
