"""Artifacts as a flow reports them: markdown, a table, a link, an image and a progress bar
updated as the work goes, from the flow and from a task. Prints the ids for the test."""

from prefect import flow, task
from prefect.artifacts import (
    Artifact,
    create_image_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)


@task
def summarise(rows):
    create_table_artifact(key="sales-table", table=rows, description="Sales by region")
    return len(rows)


@flow
def artifacts_flow():
    progress = create_progress_artifact(progress=0.0, description="Loading")
    create_markdown_artifact(key="sales-report", markdown="# Sales\n\n**Up** 5%")
    update_progress_artifact(artifact_id=progress, progress=50.0)
    n = summarise([{"region": "north", "sales": 10}, {"region": "south", "sales": None}])
    create_link_artifact(key="dashboard", link="https://example.com/d", link_text="Dashboard")
    create_image_artifact(image_url="https://example.com/chart.png", key="chart")
    update_progress_artifact(artifact_id=progress, progress=100.0)
    print("progress", progress)
    latest = Artifact.get("sales-report")
    print("latest", latest.data)
    return n


if __name__ == "__main__":
    print("result", artifacts_flow())
