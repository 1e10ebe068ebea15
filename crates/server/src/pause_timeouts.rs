//! The `pause-timeouts` service: a paused flow run whose `pause_timeout` passed with nobody
//! resuming it is marked Failed, with a message saying so.

use std::time::Duration;

use flowgate_core::{Micros, State, StateType};
use flowgate_store::model::{FlowRunFilter, FlowRunSort, Page};
use uuid::Uuid;

use crate::app::{AppState, now};
use crate::services::Shutdown;

/// How often paused runs are checked.
const EVERY: Duration = Duration::from_secs(1);

/// Runs until shutdown.
pub async fn run(app: AppState, mut shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = shutdown.requested() => return,
        }
        if let Err(e) = expire(&app, now()).await {
            tracing::warn!(error = %e, "checking paused runs for timeouts failed");
        }
    }
}

/// Fails every paused run whose timeout is before `now`; returns how many.
pub async fn expire(app: &AppState, now: Micros) -> Result<usize, flowgate_store::StoreError> {
    let paused = FlowRunFilter {
        state_types: Some(vec![StateType::Paused]),
        ..Default::default()
    };
    let page = Page {
        limit: 1000,
        offset: 0,
    };
    let mut failed = 0;
    for run in app
        .store
        .filter_flow_runs(&paused, FlowRunSort::IdDesc, page)
        .await?
    {
        let Some(deadline) = run
            .state
            .as_ref()
            .and_then(|s| s.detail_str("pause_timeout"))
            .and_then(|t| Micros::parse(t).ok())
        else {
            continue;
        };
        if deadline > now {
            continue;
        }
        let mut state = State::new(Uuid::now_v7(), StateType::Failed, now);
        state.message = Some(format!(
            "The run was paused until {deadline} and nobody resumed it; it timed out."
        ));
        let (_, events) = app
            .store
            .set_flow_run_state(run.id, state, false, now)
            .await?;
        if !events.is_empty() {
            failed += 1;
            tracing::info!(flow_run = %run.id, "paused run timed out");
        }
        app.publish(events);
    }
    Ok(failed)
}
