"""Automations made with the client's own classes, then fired by flows.

    automations_flow.py fire      a compound (any order) runs a deployment, a sequence (only in
                                  order) pauses a work pool, a paused flow is resumed
    automations_flow.py before    a compound waiting for two flows; the first one runs
    automations_flow.py after     the second flow runs; waits for the compound to fire
    automations_flow.py metric    a metric trigger (successes below 70% over 5 s, for 1 s)
                                  pauses a work pool once a flow keeps failing

Prints one line a step for the test to check."""

import json
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

from prefect import flow, get_client
from prefect.automations import Automation
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId
from prefect.blocks.notifications import SlackWebhook
from prefect.events.actions import (
    DoNothing,
    PauseWorkPool,
    ResumeFlowRun,
    RunDeployment,
    SendNotification,
)
from prefect.events.schemas.automations import (
    AutomationCore,
    CompoundTrigger,
    EventTrigger,
    MetricTrigger,
    MetricTriggerOperator,
    MetricTriggerQuery,
    Posture,
    PrefectMetric,
    SequenceTrigger,
)
from prefect.flow_runs import pause_flow_run


@flow(name="train-model")
def train():
    return 1


@flow(name="validation-flow")
def validate():
    return 2


@flow(name="needs-approval")
def needs_approval():
    pause_flow_run(timeout=60)
    return "approved"


@flow(name="flaky-job")
def flaky():
    raise RuntimeError("the job failed")


def completed(flow_name):
    return EventTrigger(
        expect={"prefect.flow-run.Completed"},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "flow", "prefect.resource.name": flow_name},
        posture=Posture.Reactive,
        threshold=1,
        within=timedelta(0),
    )


def wait_for(what, check, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise SystemExit(f"waited in vain for {what}")


received = []


class Receiver(BaseHTTPRequestHandler):
    """A local webhook that keeps what is posted to it."""

    def do_POST(self):
        received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def fire():
    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_port}/hook"
    block_id = SlackWebhook(url=hook).save("lab-notify", overwrite=True)
    with get_client(sync_client=True) as c:
        c.create_work_pool(WorkPoolCreate(name="pool1", type="process"))
        pool = c.read_work_pool("pool1")
        flow_id = c.create_flow_from_name("deployed-flow")
        dep_id = c.create_deployment(flow_id=flow_id, name="dep1", work_pool_name="pool1")

    both = Automation(
        name="both-done",
        trigger=CompoundTrigger(
            require="all",
            within=timedelta(seconds=300),
            triggers=[completed("train-model"), completed("validation-flow")],
        ),
        actions=[
            SendNotification(block_document_id=block_id, subject="both done",
                             body="last was {{ event.resource.name }}"),
            RunDeployment(source="selected", deployment_id=dep_id, parameters={"n": 42}),
        ],
    ).create()
    in_order = Automation(
        name="train-then-validate",
        trigger=SequenceTrigger(
            within=timedelta(seconds=600),
            triggers=[completed("train-model"), completed("validation-flow")],
        ),
        actions=[PauseWorkPool(source="selected", work_pool_id=pool.id)],
    ).create()
    Automation(
        name="auto-resume",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Paused"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[ResumeFlowRun()],
    ).create()
    print("created", both.trigger.type, in_order.trigger.type)
    print("read back", Automation.read(id=both.id).name)

    # Out of order for the sequence, any order for the compound.
    validate()
    train()
    with get_client(sync_client=True) as c:
        by_dep = FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[dep_id]))
        runs = wait_for("the deployment's run", lambda: c.read_flow_runs(flow_run_filter=by_dep))
        print("compound ran the deployment with n =", runs[0].parameters.get("n"))
        note = wait_for("the notification", lambda: received)
        body = note[0]["body"]
        rendered = body.startswith("last was ") and len(body) > 9 and "{{" not in body
        print("notified:", note[0]["subject"], "/", "rendered" if rendered else body)
        # The sequence saw the same events before the compound's action ran.
        print("pool paused after validate, train:", c.read_work_pool("pool1").is_paused)
    validate()
    with get_client(sync_client=True) as c:
        wait_for("the pool paused", lambda: c.read_work_pool("pool1").is_paused)
        print("pool paused after train, validate:", c.read_work_pool("pool1").is_paused)
    print("paused flow returned", needs_approval())


def before():
    Automation(
        name="across-a-restart",
        trigger=CompoundTrigger(
            require="all",
            within=timedelta(seconds=300),
            triggers=[completed("train-model"), completed("validation-flow")],
        ),
        actions=[DoNothing()],
    ).create()
    train()
    print("first event sent")


def after():
    validate()
    with get_client(sync_client=True) as c:
        automation = c.read_automations_by_name("across-a-restart")[0]
        related = f"prefect.automation.{automation.id}"

        def fired():
            body = {"filter": {"event": {"name": ["prefect.automation.triggered"]},
                               "resource": {"id": [related]}}}
            return c._client.post("/events/filter", json=body).json()["events"]

        wait_for("the compound to fire", fired)
        print("fired after the restart")


def metric():
    """Prefect's open-source server refuses metric triggers; Flowgate evaluates them. The
    client's MetricTriggerQuery insists on ranges of 5 minutes or more (Prefect Cloud's minimum),
    so the query and the automation holding it are built with model_construct, skipping that
    check, to run in seconds: Flowgate takes ranges from 1 second. Automation.create()
    validates again, so the client's create_automation sends it."""
    with get_client(sync_client=True) as c:
        c.create_work_pool(WorkPoolCreate(name="metric-pool", type="process"))
        pool = c.read_work_pool("metric-pool")
    query = MetricTriggerQuery.model_construct(
        name=PrefectMetric.successes,
        operator=MetricTriggerOperator.LT,
        threshold=0.7,
        range=timedelta(seconds=5),
        firing_for=timedelta(seconds=1),
    )
    failing = AutomationCore.model_construct(
        name="flaky-job-failing",
        trigger=MetricTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": "flaky-job"},
            metric=query,
        ),
        actions=[PauseWorkPool(source="selected", work_pool_id=pool.id)],
    )
    with get_client(sync_client=True) as c:
        failing_id = c.create_automation(failing)
    print("created", failing.trigger.type)
    train()  # another flow's success does not count
    with get_client(sync_client=True) as c:
        print("pool paused before the failures:", c.read_work_pool("metric-pool").is_paused)

    def failing_flows_pause_the_pool():
        flaky(return_state=True)
        with get_client(sync_client=True) as c:
            return c.read_work_pool("metric-pool").is_paused

    # Each failed run is a sample in the 5 s range; the rate stays at 0% until it has held 1 s.
    wait_for("the metric to pause the pool", failing_flows_pause_the_pool)
    with get_client(sync_client=True) as c:
        state = c._client.get(f"/automations/{failing_id}/state").json()
        print("pool paused after the failures:", c.read_work_pool("metric-pool").is_paused)
        print("metric:", state["trigger_state"]["trigger"]["summary"])
        outcomes = [a["type"] + (" ok" if a["ok"] else " failed")
                    for f in state["firings"] for a in (f["actions"] or [])]
        print("actions:", ", ".join(outcomes))


if __name__ == "__main__":
    {"fire": fire, "before": before, "after": after, "metric": metric}[sys.argv[1]]()
