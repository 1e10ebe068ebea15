//! `/work_pools/{name}/workers/connect`: the worker channel of `prefect worker` (and
//! `flowgate worker`). After the auth frame a worker says hello; the server creates the pool if
//! asked (or gives a pool without a job template the worker's), records the worker's heartbeat,
//! answers ready with the pool as it is, and takes heartbeats until the worker leaves.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Extension, Path, State};
use axum::response::Response;
use flowgate_core::Micros;
use flowgate_core::pools::DEFAULT_HEARTBEAT_SECONDS;
use flowgate_store::StoreError;
use flowgate_store::model::{NewWorkPool, Page, WorkPoolUpdate, WorkQueueFilter};
use flowgate_wire::worker_channel::{
    CHANNEL_VERSION, Hello, QueueRef, Ready, ServerFrame, Snapshot, WorkerFrame,
};
use uuid::Uuid;

use super::sockets::{authenticated, close, count_open, next_text, send_json, upgrade};
use crate::app::AppState;
use crate::auth::Caller;
use crate::convert::work_pools::work_pool_out;
use crate::openapi::{ApiRoutes, doc};

/// Capabilities Flowgate grants.
const CAPABILITIES: [&str; 2] = ["worker_heartbeat.v1", "work_pool_snapshot.v1"];

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Work pools").websocket(
        "/work_pools/{name}/workers/connect",
        connect,
        doc("Websocket: a worker's channel (hello, ready with the pool, heartbeats)").describe(
            "Subprotocol `prefect`. Send `{\"type\": \"auth\", \"token\": null}`, then \
             `worker.hello.v1`; the answer is `worker.ready.v1` with the pool's snapshot, then \
             send `worker.heartbeat.v1` frames.",
        ),
    )
}

async fn connect(
    ws: WebSocketUpgrade,
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(pool): Path<String>,
) -> Response {
    upgrade(ws, move |socket| channel(socket, app, caller, pool))
}

async fn channel(mut socket: WebSocket, app: AppState, caller: Caller, pool: String) {
    let _open = count_open(&app, "/api/work_pools/{name}/workers/connect");
    if !authenticated(&mut socket, &app, &caller).await {
        return;
    }
    let hello = match next_text(&mut socket).await {
        Some(Ok(text)) => serde_json::from_str::<WorkerFrame>(&text),
        _ => return,
    };
    let Ok(WorkerFrame::Hello { payload: hello, .. }) = hello else {
        close(
            &mut socket,
            close_code::POLICY,
            "expected worker.hello.v1 after auth",
        )
        .await;
        return;
    };
    let ready = match greet(&app, &pool, &hello, app.now()).await {
        Ok(ready) => ready,
        Err(e) => {
            tracing::info!(pool, error = %e, "worker channel refused");
            close(&mut socket, close_code::POLICY, &e.to_string()).await;
            return;
        }
    };
    let frame = ServerFrame::Ready {
        id: Uuid::now_v7(),
        sent_at: app.now(),
        payload: Box::new(ready),
    };
    if send_json(&mut socket, &frame).await.is_err() {
        return;
    }
    let mut shutdown = app.shutdown.clone();
    loop {
        let msg = tokio::select! {
            m = socket.recv() => m,
            () = shutdown.requested() => {
                close(&mut socket, close_code::AWAY, "server shutting down").await;
                return;
            }
        };
        let text = match msg {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
            Some(Ok(Message::Text(t))) => t.to_string(),
            Some(Ok(_)) => continue,
        };
        match serde_json::from_str::<WorkerFrame>(&text) {
            Ok(WorkerFrame::Heartbeat { payload, .. }) => {
                let interval = payload.heartbeat_interval_seconds;
                if let Err(e) = app
                    .store
                    .worker_heartbeat(&pool, &payload.worker_name, interval, app.now())
                    .await
                {
                    tracing::warn!(pool, error = %e, "recording a worker's heartbeat failed");
                }
            }
            Ok(WorkerFrame::Hello { .. }) => {}
            Err(e) => tracing::debug!(pool, error = %e, "ignoring a worker-channel frame"),
        }
    }
}

/// Creates or completes the pool as the hello asks, records the worker, and says what was agreed.
async fn greet(
    app: &AppState,
    pool: &str,
    hello: &Hello,
    now: Micros,
) -> Result<Ready, StoreError> {
    let template = hello
        .default_base_job_template
        .clone()
        .filter(|t| t.is_object());
    let found = match app.store.read_work_pool(pool, now).await {
        Err(StoreError::NotFound { .. }) if hello.create_pool_if_not_found => {
            let new = NewWorkPool {
                name: pool.to_owned(),
                pool_type: hello
                    .worker_type
                    .clone()
                    .unwrap_or_else(|| "process".into()),
                base_job_template: template.clone().unwrap_or_default(),
                ..Default::default()
            };
            match app.store.create_work_pool(new, now).await {
                // Another worker created it meanwhile.
                Err(StoreError::Conflict(_)) => app.store.read_work_pool(pool, now).await?,
                other => other?,
            }
        }
        other => other?,
    };
    let empty = found
        .base_job_template
        .as_object()
        .is_none_or(|t| t.is_empty());
    let found = match template {
        Some(t) if empty => {
            let update = WorkPoolUpdate {
                base_job_template: Some(t),
                ..Default::default()
            };
            app.store.update_work_pool(pool, update, now).await?
        }
        _ => found,
    };
    let interval = hello
        .heartbeat_interval_seconds
        .unwrap_or(DEFAULT_HEARTBEAT_SECONDS);
    let worker = app
        .store
        .worker_heartbeat(pool, &hello.worker_name, Some(interval), now)
        .await?;
    let filter = WorkQueueFilter {
        names: (!hello.work_queue_names.is_empty()).then(|| hello.work_queue_names.clone()),
        ..Default::default()
    };
    let queues = app
        .store
        .filter_work_queues(Some(pool), &filter, Page::default(), now)
        .await?;
    let (accepted, rejected) = hello
        .requested_capabilities
        .iter()
        .cloned()
        .partition(|c| CAPABILITIES.contains(&c.as_str()));
    Ok(Ready {
        consumer_id: hello.consumer_id,
        worker_id: Some(worker.id),
        selected_channel_version: CHANNEL_VERSION.to_owned(),
        effective_heartbeat_interval_seconds: interval,
        accepted_capabilities: accepted,
        rejected_capabilities: rejected,
        effective_max_cleanup_concurrency: 0,
        resolved_work_queues: queues
            .into_iter()
            .map(|q| QueueRef {
                id: q.id,
                name: q.name,
            })
            .collect(),
        initial_snapshot: Snapshot {
            snapshot_sequence: 1,
            reason: "initial".to_owned(),
            work_pool: work_pool_out(found),
        },
    })
}
