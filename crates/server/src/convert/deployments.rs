//! Deployments and their schedules between the wire and the store.

use flowgate_core::Micros;
use flowgate_core::deployment::{CollisionStrategy, LateRunPolicy};
use flowgate_core::pools::check_limit;
use flowgate_core::schedule::Schedule;
use flowgate_store::model::{
    Deployment, DeploymentSchedule, DeploymentUpdate, NewDeployment, NewDeploymentSchedule,
};
use flowgate_wire::deployments as wire;

use super::object_or_empty;

type R<T> = Result<T, String>;

/// A schedule from the wire, checked by the core; errors name the field (`at` is its path).
pub fn schedule_in(at: &str, s: wire::Schedule, now: Micros) -> R<Schedule> {
    let zone = s.timezone.as_deref();
    let kinds = [s.cron.is_some(), s.interval.is_some(), s.rrule.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(format!(
            "{at}: give exactly one of cron, interval (seconds) or rrule"
        ));
    }
    let schedule = if let Some(cron) = &s.cron {
        Schedule::cron(cron, zone, s.day_or.unwrap_or(true))
    } else if let Some(seconds) = s.interval {
        Schedule::interval(seconds, s.anchor_date.unwrap_or(now), zone)
    } else {
        Schedule::rrule(s.rrule.as_deref().unwrap_or_default())
    };
    schedule.map_err(|e| format!("{at}.{e}"))
}

/// A core schedule as Prefect writes it.
pub fn schedule_out(s: &Schedule) -> wire::Schedule {
    match s {
        Schedule::Cron(c) => wire::Schedule {
            cron: Some(c.expression().to_owned()),
            day_or: Some(c.day_or()),
            timezone: Some(c.zone().name().to_owned()),
            ..Default::default()
        },
        Schedule::Interval(i) => wire::Schedule {
            interval: Some(i.every_seconds()),
            anchor_date: Some(i.anchor()),
            timezone: Some(i.zone().name().to_owned()),
            ..Default::default()
        },
    }
}

fn schedules_in(
    list: Vec<wire::DeploymentScheduleCreate>,
    now: Micros,
) -> R<Vec<NewDeploymentSchedule>> {
    list.into_iter()
        .enumerate()
        .map(|(i, s)| {
            Ok(NewDeploymentSchedule {
                schedule: schedule_in(&format!("schedules[{i}].schedule"), s.schedule, now)?,
                active: s.active.unwrap_or(true),
                max_scheduled_runs: check_limit("max_scheduled_runs", s.max_scheduled_runs)
                    .map_err(|e| format!("schedules[{i}].{e}"))?,
                parameters: object_or_empty(s.parameters.unwrap_or_default()),
                slug: s.slug,
            })
        })
        .collect()
}

fn collision(options: Option<wire::ConcurrencyOptions>) -> R<Option<CollisionStrategy>> {
    options
        .map(|o| {
            CollisionStrategy::parse(&o.collision_strategy).ok_or_else(|| {
                format!(
                    "concurrency_options.collision_strategy: {:?} is not a strategy; use ENQUEUE or CANCEL_NEW",
                    o.collision_strategy
                )
            })
        })
        .transpose()
}

fn late_policy(p: Option<String>) -> R<Option<LateRunPolicy>> {
    p.map(|p| {
        LateRunPolicy::parse(&p).ok_or_else(|| {
            format!("late_run_policy: {p:?} is not a policy; use RUN_ALL, NEWEST_ONLY or SKIP")
        })
    })
    .transpose()
}

/// The deployment a create request describes.
pub fn new_deployment(c: wire::DeploymentCreate, now: Micros) -> R<NewDeployment> {
    if c.name.trim().is_empty() || c.name.contains('/') {
        return Err(format!(
            "name: {:?} is not a valid deployment name; give a non-empty name without '/'",
            c.name
        ));
    }
    Ok(NewDeployment {
        flow_id: c.flow_id,
        name: c.name,
        version: c.version,
        description: c.description,
        paused: c.paused.unwrap_or(false),
        parameters: object_or_empty(c.parameters.unwrap_or_default()),
        parameter_openapi_schema: object_or_empty(c.parameter_openapi_schema.unwrap_or_default()),
        enforce_parameter_schema: c.enforce_parameter_schema.unwrap_or(true),
        job_variables: object_or_empty(c.job_variables.unwrap_or_default()),
        tags: c.tags.unwrap_or_default(),
        labels: object_or_empty(c.labels.unwrap_or_default()),
        work_pool_name: c.work_pool_name,
        work_queue_name: c.work_queue_name,
        concurrency_limit: check_limit("concurrency_limit", c.concurrency_limit)
            .map_err(|e| e.to_string())?,
        collision_strategy: collision(c.concurrency_options)?.unwrap_or_default(),
        late_run_policy: late_policy(c.late_run_policy)?.unwrap_or_default(),
        pull_steps: c.pull_steps.unwrap_or_else(|| serde_json::json!([])),
        entrypoint: c.entrypoint,
        path: c.path,
        schedules: schedules_in(c.schedules.unwrap_or_default(), now)?,
    })
}

/// A deployment change from a PATCH body.
pub fn deployment_update(u: wire::DeploymentUpdate, now: Micros) -> R<DeploymentUpdate> {
    Ok(DeploymentUpdate {
        description: u.description,
        paused: u.paused,
        parameters: u.parameters.map(object_or_empty),
        job_variables: u.job_variables.map(object_or_empty),
        tags: u.tags,
        work_queue_name: u.work_queue_name,
        concurrency_limit: u
            .concurrency_limit
            .map(|l| check_limit("concurrency_limit", l).map_err(|e| e.to_string()))
            .transpose()?,
        collision_strategy: collision(u.concurrency_options)?,
        late_run_policy: late_policy(u.late_run_policy)?,
        enforce_parameter_schema: u.enforce_parameter_schema,
        schedules: u.schedules.map(|s| schedules_in(s, now)).transpose()?,
    })
}

fn schedule_record_out(s: DeploymentSchedule) -> wire::DeploymentSchedule {
    wire::DeploymentSchedule {
        id: s.id,
        created: s.created,
        updated: s.updated,
        deployment_id: s.deployment_id,
        schedule: schedule_out(&s.schedule),
        active: s.active,
        max_scheduled_runs: s.max_scheduled_runs.map(i64::from),
        parameters: object_or_empty(s.parameters),
        slug: s.slug,
    }
}

/// A deployment as the client reads it.
pub fn deployment_out(d: Deployment) -> wire::Deployment {
    wire::Deployment {
        id: d.id,
        created: d.created,
        updated: d.updated,
        name: d.name,
        version: d.version,
        description: d.description,
        flow_id: d.flow_id,
        paused: d.paused,
        schedules: d.schedules.into_iter().map(schedule_record_out).collect(),
        concurrency_limit: d.concurrency_limit.map(i64::from),
        global_concurrency_limit: None,
        concurrency_options: d.concurrency_limit.map(|_| wire::ConcurrencyOptions {
            collision_strategy: d.collision_strategy.as_str().to_owned(),
        }),
        late_run_policy: d.late_run_policy.as_str().to_owned(),
        job_variables: object_or_empty(d.job_variables),
        parameters: object_or_empty(d.parameters),
        tags: d.tags,
        labels: object_or_empty(d.labels),
        work_queue_name: d.work_queue_name,
        work_queue_id: d.work_queue_id,
        last_polled: d.last_polled,
        parameter_openapi_schema: object_or_empty(d.parameter_openapi_schema),
        path: d.path,
        pull_steps: d.pull_steps,
        entrypoint: d.entrypoint,
        storage_document_id: None,
        infrastructure_document_id: None,
        created_by: None,
        updated_by: None,
        work_pool_name: d.work_pool_name,
        status: d.status.as_str().to_owned(),
        enforce_parameter_schema: d.enforce_parameter_schema,
    }
}
