//! A flow run named on the command line: by id, or by the name a program prints
//! (`calm-roadrunner`). Names are not unique; an ambiguous name lists the runs it matches.

use anyhow::{Context, bail};
use flowgate_wire::filters::{FlowRunFilter, FlowRunFilterRequest, FlowRunSort, NameFilter};
use flowgate_wire::flow_runs::FlowRun;
use uuid::Uuid;

use crate::client::Client;

/// The id of the run `reference` names: the id itself, or the one run of that name.
pub async fn resolve(client: &Client, reference: &str) -> anyhow::Result<Uuid> {
    if let Ok(id) = Uuid::parse_str(reference) {
        return Ok(id);
    }
    let body = FlowRunFilterRequest {
        flow_runs: Some(FlowRunFilter {
            name: Some(NameFilter {
                any_: Some(vec![reference.to_owned()]),
                like_: None,
            }),
            ..Default::default()
        }),
        sort: Some(FlowRunSort::IdDesc),
        limit: Some(10),
        ..Default::default()
    };
    let runs: Vec<FlowRun> = client
        .post("/flow_runs/filter", &body)
        .await
        .with_context(|| format!("cannot look up the flow run named {reference:?}"))?;
    let ids: Vec<Uuid> = runs.iter().map(|r| r.id).collect();
    match ids.as_slice() {
        [id] => Ok(*id),
        [] => bail!(
            "no flow run is named {reference:?} (nor is it an id); `flowgate flow-run ls` lists runs"
        ),
        _ => {
            let mut message = format!(
                "{} flow runs are named {reference:?}; pass the id of the one you mean:",
                runs.len()
            );
            for r in &runs {
                let state = r.state_name.as_deref().unwrap_or("-");
                message.push_str(&format!("\n  {}  {state}", r.id));
            }
            bail!(message)
        }
    }
}
