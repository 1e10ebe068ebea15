//! Actions' targets given by name, looked up when the automation is applied: the API's
//! actions take ids, programs know names.

use flowgate_wire::automations::{self as wire, AutomationFilter, AutomationFilterRequest};
use flowgate_wire::deployments::Deployment;
use flowgate_wire::filters::AnyOf;
use flowgate_wire::segment;
use flowgate_wire::work_pools::{WorkPool, WorkQueue};
use uuid::Uuid;

use super::{Action, AutomationError};
use crate::engine::Engine;
use crate::error::ApiError;

/// Why a name was not turned into an id.
enum Miss {
    /// Nothing (or several things) has the name, or the name is not shaped as it should be.
    Name(String),
    /// The server could not be asked.
    Api(ApiError),
}

impl From<ApiError> for Miss {
    fn from(e: ApiError) -> Miss {
        Miss::Api(e)
    }
}

/// Fills in the id of every target in `actions` (the list called `list` of the automation
/// `automation`) given by name; an unknown name is an error naming the action (`actions[0]`).
pub(crate) async fn resolve(
    engine: &Engine,
    automation: &str,
    list: &str,
    actions: &mut [Action],
) -> Result<(), AutomationError> {
    for (i, action) in actions.iter_mut().enumerate() {
        let Some(name) = action.named.take() else {
            continue;
        };
        match lookup(engine, &action.wire, &name).await {
            Ok(id) => set_id(&mut action.wire, id),
            Err(Miss::Api(e)) => return Err(e.into()),
            Err(Miss::Name(message)) => {
                return Err(AutomationError::Invalid {
                    automation: automation.to_owned(),
                    message: format!("{list}[{i}] ({}): {message}", action.wire.kind()),
                });
            }
        }
    }
    Ok(())
}

/// `None` for a read that found nothing (a 404).
fn found<T>(read: Result<T, ApiError>) -> Result<Option<T>, Miss> {
    match read {
        Ok(v) => Ok(Some(v)),
        Err(ApiError::Refused { status: 404, .. }) => Ok(None),
        Err(e) => Err(Miss::Api(e)),
    }
}

/// `first/second`, or what the name should look like.
fn pair<'a>(name: &'a str, shape: &str) -> Result<(&'a str, &'a str), Miss> {
    name.split_once('/')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| {
            Miss::Name(format!(
                "{name:?} is not {shape}; name it so, or give its id"
            ))
        })
}

async fn lookup(engine: &Engine, action: &wire::Action, name: &str) -> Result<Uuid, Miss> {
    use wire::Action as A;
    let api = &engine.api;
    match action {
        A::PauseWorkPool(_) | A::ResumeWorkPool(_) => {
            let path = format!("/work_pools/{}", segment(name));
            found(api.get::<WorkPool>("a work pool", &path).await)?
                .map(|p| p.id)
                .ok_or_else(|| Miss::Name(format!("there is no work pool named {name:?}")))
        }
        A::PauseWorkQueue(_) | A::ResumeWorkQueue(_) => {
            let (pool, queue) = pair(name, "pool/queue")?;
            let path = format!("/work_pools/{}/queues/{}", segment(pool), segment(queue));
            found(api.get::<WorkQueue>("a work queue", &path).await)?
                .map(|q| q.id)
                .ok_or_else(|| {
                    Miss::Name(format!(
                        "there is no work queue {queue:?} in a pool {pool:?}"
                    ))
                })
        }
        A::RunDeployment(_) | A::PauseDeployment(_) | A::ResumeDeployment(_) => {
            let (flow, deployment) = pair(name, "flow/deployment")?;
            let path = format!(
                "/deployments/name/{}/{}",
                segment(flow),
                segment(deployment)
            );
            found(api.get::<Deployment>("a deployment", &path).await)?
                .map(|d| d.id)
                .ok_or_else(|| Miss::Name(format!("there is no deployment {name:?}")))
        }
        A::PauseAutomation(_) | A::ResumeAutomation(_) => {
            let request = AutomationFilterRequest {
                automations: Some(AutomationFilter {
                    name: Some(AnyOf::new([name.to_owned()])),
                    ..Default::default()
                }),
                limit: Some(2),
                ..Default::default()
            };
            let found: Vec<wire::Automation> = api
                .post("looking up an automation", "/automations/filter", &request)
                .await?;
            match found.as_slice() {
                [one] => Ok(one.id),
                [] => Err(Miss::Name(format!("there is no automation named {name:?}"))),
                _ => Err(Miss::Name(format!(
                    "several automations are named {name:?}; give the id of the one you mean"
                ))),
            }
        }
        // Only the constructors above take a target.
        _ => Err(Miss::Name("this action takes no target".to_owned())),
    }
}

fn set_id(action: &mut wire::Action, id: Uuid) {
    use wire::Action as A;
    match action {
        A::PauseWorkPool(t) | A::ResumeWorkPool(t) => t.work_pool_id = Some(id),
        A::PauseWorkQueue(t) | A::ResumeWorkQueue(t) => t.work_queue_id = Some(id),
        A::PauseDeployment(t) | A::ResumeDeployment(t) => t.deployment_id = Some(id),
        A::RunDeployment(r) => r.deployment_id = Some(id),
        A::PauseAutomation(t) | A::ResumeAutomation(t) => t.automation_id = Some(id),
        _ => {}
    }
}
