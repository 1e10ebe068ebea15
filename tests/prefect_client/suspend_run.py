"""Suspends flow run ID from outside (the client's suspend_flow_run), or with `resume`
resumes it. Arguments: ID [resume]."""
import sys
from uuid import UUID

from prefect.flow_runs import resume_flow_run, suspend_flow_run

run = UUID(sys.argv[1])
if len(sys.argv) > 2 and sys.argv[2] == "resume":
    resume_flow_run(run)
else:
    suspend_flow_run(flow_run_id=run)
print("ok")
