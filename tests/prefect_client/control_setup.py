"""Creates work pool POOL and deploys deployed/controlled_flow.py's `suspendable` and
`hooked_parent` to it; with an argument FLOW, asks for one run of that deployment and prints its
id. Arguments: POOL [FLOW]."""
import os
import sys

from prefect import flow, get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectAlreadyExists

POOL = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))

if len(sys.argv) > 2:
    name = {"suspendable": "suspendable/s", "hooked_parent": "hooked-parent/h"}[sys.argv[2]]
    print(run_deployment(name, timeout=0).id)
    sys.exit(0)

with get_client(sync_client=True) as c:
    try:
        c.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
    except ObjectAlreadyExists:
        pass  # a create retried by the client after a slow first answer
for entry, name in (("suspendable", "s"), ("hooked_parent", "h")):
    source = flow.from_source(source=os.path.join(HERE, "deployed"),
                              entrypoint=f"controlled_flow.py:{entry}")
    source.deploy(name=name, work_pool_name=POOL, print_next_steps=False, ignore_warnings=True)
print("deployed")
