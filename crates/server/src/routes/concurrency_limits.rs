//! `/v2/concurrency_limits`: global concurrency limits and rate limits (create, read by id or
//! name, update, delete, list), slot traffic (increment, increment-with-lease, lease renewal,
//! decrement, decrement-with-lease) and, as a Flowgate extension, who holds a limit's slots
//! and how many requests wait. The slot channel (`slot_channel.rs`) takes, renews and gives
//! back slots through the same functions.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use flowgate_core::concurrency::book::{LeaseTerms, LimitBrief, SlotOp, SlotOutcome};
use flowgate_core::concurrency::settings::check_name;
use flowgate_core::concurrency::{Lease, LeaseDuration, LimitSettings, Mode};
use flowgate_store::model::{LimitKey, LimitKind, LimitUpdate, NewLimit, Page};
use flowgate_wire::concurrency_limits::{
    GlobalLimit, GlobalLimitCreate, GlobalLimitUpdate, LeaseGranted, LeaseRelease, LeaseRenewal,
    LimitHolders, LimitPage, MinimalLimit, SlotRelease, SlotRequest,
};
use uuid::Uuid;

use super::parse_id;
use crate::app::AppState;
use crate::concurrency::{Acquired, retry_after};
use crate::convert::concurrency_limits::{global_limit, holder, lease_view, minimal, page};
use crate::error::{ApiError, ApiResult, Body};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

/// How long a request may wait at the server for slots when it does not say (Prefect's client
/// never does): a slot freed within it is granted at once. Long, so that a holder's release is
/// not slept through: a 423 makes Prefect's client sleep the `Retry-After` (an estimate) before
/// asking again, while a held request is granted the moment the slot frees. It stays well
/// under the Prefect client's 60 s read timeout (`PREFECT_API_REQUEST_TIMEOUT`; a shorter one
/// only makes the client ask again). A client that asked for no retries (`max_retries=0`) waits
/// up to this long before its 423; one with `timeout_seconds` gives up at its own deadline.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(20);

/// Longest wait a request may ask for (`wait_seconds`, Flowgate's extension).
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// Why a request for slots may be answered 423.
const LOCKED: &str = "the slots are taken: ask again after `Retry-After` seconds (a request first waits at the server up to `wait_seconds`, 20 s by default, and is granted the moment a slot frees)";

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Concurrency limits")
        .post(
            "/v2/concurrency_limits/",
            create,
            doc("Create a global concurrency limit or rate limit").status(201, "the new limit"),
        )
        .post(
            "/v2/concurrency_limits/filter",
            filter,
            doc("List concurrency limits by name (tag limits too)"),
        )
        .post(
            "/v2/concurrency_limits/increment",
            increment,
            doc("Take slots without a lease (a rate limit's, or held until a decrement)")
                .error(423, LOCKED),
        )
        .post(
            "/v2/concurrency_limits/increment-with-lease",
            increment_with_lease,
            doc("Take slots under a lease that the holder renews")
                .describe("Names without a limit are ignored; an inactive limit is listed but not charged. A request that can never be granted (more slots than the limit) is a 422, not a wait.")
                .error(423, LOCKED),
        )
        .post(
            "/v2/concurrency_limits/decrement",
            decrement,
            doc("Give back slots taken without a lease"),
        )
        .post(
            "/v2/concurrency_limits/decrement-with-lease",
            decrement_with_lease,
            doc("Give back a lease's slots (a lease already gone is not an error)")
                .status(204, "released"),
        )
        .post(
            "/v2/concurrency_limits/leases/{id}/renew",
            renew,
            doc("Push a lease's deadline back").status(204, "renewed"),
        )
        .get(
            "/v2/concurrency_limits/{id_or_name}",
            read,
            doc("Read a concurrency limit by id or name"),
        )
        .patch(
            "/v2/concurrency_limits/{id_or_name}",
            update,
            doc("Change a concurrency limit (active_slots 0 releases every slot)")
                .status(204, "changed"),
        )
        .delete(
            "/v2/concurrency_limits/{id_or_name}",
            delete,
            doc("Delete a concurrency limit").status(204, "deleted"),
        )
        .get(
            "/v2/concurrency_limits/{id_or_name}/holders",
            holders,
            doc("Who holds a limit's slots, and how many requests wait (Flowgate)"),
        )
}

async fn create(
    State(app): State<AppState>,
    Body(body): Body<GlobalLimitCreate>,
) -> ApiResult<(StatusCode, Json<GlobalLimit>)> {
    check_name(&body.name).map_err(refused)?;
    let settings =
        LimitSettings::new(body.limit, body.slot_decay_per_second, body.active).map_err(refused)?;
    let active_slots = u32::try_from(body.active_slots)
        .ok()
        .filter(|n| *n <= settings.limit)
        .ok_or_else(|| {
            ApiError::Invalid(format!(
                "active_slots must be from 0 to the limit ({}), got {}",
                settings.limit, body.active_slots
            ))
        })?;
    let new = NewLimit {
        name: body.name,
        settings,
        slot_decay_per_second: body.slot_decay_per_second,
        active_slots,
        denied_slots: non_negative("denied_slots", body.denied_slots)?,
    };
    let limit = app.store.create_limit(&new, app.now()).await?;
    Ok((StatusCode::CREATED, Json(global_limit(&limit, app.now()))))
}

async fn read(
    State(app): State<AppState>,
    Path(id_or_name): Path<String>,
) -> ApiResult<Json<GlobalLimit>> {
    let limit = app.store.read_limit(&LimitKey::parse(&id_or_name)).await?;
    Ok(Json(global_limit(&limit, app.now())))
}

async fn filter(
    State(app): State<AppState>,
    FilterBody(body): FilterBody<LimitPage>,
) -> ApiResult<Json<Vec<GlobalLimit>>> {
    let limits = app
        .store
        .read_limits(LimitKind::All, page_of(&body)?)
        .await?;
    let at = app.now();
    Ok(Json(limits.iter().map(|l| global_limit(l, at)).collect()))
}

async fn update(
    State(app): State<AppState>,
    Path(id_or_name): Path<String>,
    Body(body): Body<GlobalLimitUpdate>,
) -> ApiResult<StatusCode> {
    let key = LimitKey::parse(&id_or_name);
    if let Some(name) = &body.name {
        check_name(name).map_err(refused)?;
    }
    let limit = body
        .limit
        .map(|l| {
            u32::try_from(l).map_err(|_| {
                ApiError::Invalid(format!("limit must be a whole number from 0, got {l}"))
            })
        })
        .transpose()?;
    let update = LimitUpdate {
        name: body.name,
        limit,
        active: body.active,
        slot_decay_per_second: body.slot_decay_per_second,
        active_slots: body
            .active_slots
            .map(|n| non_negative("active_slots", n).map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
            .transpose()?,
        denied_slots: body
            .denied_slots
            .map(|n| non_negative("denied_slots", n))
            .transpose()?,
    };
    let before = app.store.read_limit(&key).await?;
    let after = app.store.update_limit(&key, &update, app.now()).await?;
    app.slots.wake(vec![before.name, after.name]);
    Ok(StatusCode::NO_CONTENT)
}

async fn delete(
    State(app): State<AppState>,
    Path(id_or_name): Path<String>,
) -> ApiResult<StatusCode> {
    let limit = app
        .store
        .delete_limit(&LimitKey::parse(&id_or_name))
        .await?;
    app.slots.wake(vec![limit.name]);
    Ok(StatusCode::NO_CONTENT)
}

async fn holders(
    State(app): State<AppState>,
    Path(id_or_name): Path<String>,
) -> ApiResult<Json<LimitHolders>> {
    let limit = app.store.read_limit(&LimitKey::parse(&id_or_name)).await?;
    let leases = app.store.leases_of_limit(limit.id, app.now()).await?;
    Ok(Json(LimitHolders {
        leases: leases.iter().map(lease_view).collect(),
        waiting: app.slots.waiting_on(&limit.name).await?,
    }))
}

async fn increment(
    State(app): State<AppState>,
    Body(body): Body<SlotRequest>,
) -> ApiResult<Json<Vec<MinimalLimit>>> {
    let request = read_request(&body)?;
    let op = request.op(None);
    let (limits, _) = acquire(&app, op, request.slots, request.wait).await?;
    Ok(Json(limits.into_iter().map(minimal).collect()))
}

async fn increment_with_lease(
    State(app): State<AppState>,
    Body(body): Body<SlotRequest>,
) -> ApiResult<Json<LeaseGranted>> {
    let request = read_request(&body)?;
    let terms = lease_terms(&body)?;
    let (limits, lease) =
        acquire(&app, request.op(Some(terms)), request.slots, request.wait).await?;
    Ok(Json(LeaseGranted {
        lease_id: lease.map_or(terms.id, |l| l.id),
        limits: limits.into_iter().map(minimal).collect(),
    }))
}

/// A new lease on the terms a request for slots asks for.
fn lease_terms(body: &SlotRequest) -> ApiResult<LeaseTerms> {
    let duration = LeaseDuration::seconds(body.lease_duration).map_err(refused)?;
    let holder = body
        .holder
        .as_ref()
        .map(holder)
        .transpose()
        .map_err(ApiError::Invalid)?;
    Ok(LeaseTerms {
        id: Uuid::now_v7(),
        duration,
        holder,
    })
}

/// Takes slots as the slot channel asks: in `concurrency` mode under a new lease (as
/// `/increment-with-lease`), in `rate_limit` mode without (as `/increment`). Answers the
/// limits named that exist and, in `concurrency` mode, the lease's id.
pub(super) async fn take_slots(
    app: &AppState,
    body: &SlotRequest,
) -> ApiResult<(Vec<MinimalLimit>, Option<Uuid>)> {
    let request = read_request(body)?;
    let terms = match request.mode {
        Mode::Concurrency => Some(lease_terms(body)?),
        Mode::RateLimit => None,
    };
    let (limits, lease) = acquire(app, request.op(terms), request.slots, request.wait).await?;
    let lease_id = terms.map(|t| lease.map_or(t.id, |l| l.id));
    Ok((limits.into_iter().map(minimal).collect(), lease_id))
}

async fn renew(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<LeaseRenewal>,
) -> ApiResult<StatusCode> {
    let lease = parse_id(&id, "lease")?;
    renew_lease(&app, lease, body.lease_duration).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pushes `lease`'s deadline `seconds` from now; a lease gone is a 404.
pub(super) async fn renew_lease(app: &AppState, lease: Uuid, seconds: f64) -> ApiResult<()> {
    let duration = LeaseDuration::seconds(seconds).map_err(refused)?;
    match app.slots.run(SlotOp::Renew { lease, duration }).await? {
        SlotOutcome::Renewed { .. } => Ok(()),
        _ => Err(ApiError::NotFound(format!(
            "lease {lease} not found: it expired without being renewed, or was released, and its slots are free; acquire the slots again"
        ))),
    }
}

async fn decrement_with_lease(
    State(app): State<AppState>,
    Body(body): Body<LeaseRelease>,
) -> ApiResult<StatusCode> {
    release_lease(&app, body.lease_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives back `lease`'s slots. Releasing is idempotent: a lease already gone has nothing left
/// to give back.
pub(super) async fn release_lease(app: &AppState, lease: Uuid) -> ApiResult<()> {
    app.slots.run(SlotOp::Release { lease }).await?;
    Ok(())
}

async fn decrement(
    State(app): State<AppState>,
    Body(body): Body<SlotRelease>,
) -> ApiResult<Json<Vec<MinimalLimit>>> {
    let names = read_names(&body.names)?;
    let slots = read_slots(body.slots)?;
    let op = SlotOp::Decrement {
        names,
        slots,
        occupancy_seconds: body.occupancy_seconds,
    };
    match app.slots.run(op).await? {
        SlotOutcome::Decremented(limits) => Ok(Json(limits.into_iter().map(minimal).collect())),
        SlotOutcome::DecrementRefused(refused) => Err(ApiError::Invalid(refused.to_string())),
        other => Err(ApiError::Internal(format!("decrement answered {other:?}"))),
    }
}

/// A checked slot request.
pub(super) struct Request {
    pub names: Vec<String>,
    pub slots: u32,
    pub mode: Mode,
    pub wait: Duration,
}

impl Request {
    pub fn op(&self, lease: Option<LeaseTerms>) -> SlotOp {
        SlotOp::Acquire {
            names: self.names.clone(),
            slots: self.slots,
            mode: self.mode,
            lease,
        }
    }
}

fn read_request(body: &SlotRequest) -> ApiResult<Request> {
    let mode = Mode::parse(&body.mode).ok_or_else(|| {
        ApiError::Invalid(format!(
            "mode must be \"concurrency\" or \"rate_limit\", got {:?}",
            body.mode
        ))
    })?;
    let wait = match body.wait_seconds {
        None => DEFAULT_WAIT,
        Some(s) if s.is_finite() && (0.0..=MAX_WAIT.as_secs_f64()).contains(&s) => {
            Duration::from_secs_f64(s)
        }
        Some(s) => {
            return Err(ApiError::Invalid(format!(
                "wait_seconds must be from 0 to {}, got {s}",
                MAX_WAIT.as_secs()
            )));
        }
    };
    Ok(Request {
        names: read_names(&body.names)?,
        slots: read_slots(body.slots)?,
        mode,
        wait,
    })
}

/// Most limits one request may name.
const MAX_NAMES: usize = 100;

pub(super) fn read_names(names: &[String]) -> ApiResult<Vec<String>> {
    if names.is_empty() || names.len() > MAX_NAMES {
        return Err(ApiError::Invalid(format!(
            "names must list from 1 to {MAX_NAMES} concurrency limits, got {}",
            names.len()
        )));
    }
    for n in names {
        check_name(n).map_err(refused)?;
    }
    Ok(names.to_vec())
}

fn read_slots(slots: i64) -> ApiResult<u32> {
    u32::try_from(slots).ok().filter(|s| *s > 0).ok_or_else(|| {
        ApiError::Invalid(format!("slots must be a whole number above 0, got {slots}"))
    })
}

/// Takes slots through the engine, waiting up to `wait`: the limits named and the lease, a 422
/// for a request no wait can satisfy, or a 423 with an honest `Retry-After`.
pub(super) async fn acquire(
    app: &AppState,
    op: SlotOp,
    slots: u32,
    wait: Duration,
) -> ApiResult<(Vec<LimitBrief>, Option<Lease>)> {
    let names = match &op {
        SlotOp::Acquire { names, .. } => names.clone(),
        _ => Vec::new(),
    };
    match app.slots.acquire(op, wait).await? {
        Acquired::Decided(SlotOutcome::Granted { limits, lease }) => Ok((limits, lease)),
        Acquired::Decided(SlotOutcome::Refused(refusal)) => {
            Err(ApiError::Invalid(refusal.to_string()))
        }
        Acquired::Decided(other) => Err(ApiError::Internal(format!("acquire answered {other:?}"))),
        Acquired::Waited {
            blocked,
            queued_ahead,
        } => {
            let (after, limit) =
                retry_after(&app.store, app.now(), &blocked, slots, queued_ahead).await?;
            app.slots.run(SlotOp::Deny { names, slots }).await?;
            let detail = match limit {
                Some(l) => format!(
                    "concurrency limit {:?} has no room for {slots} more slot(s) ({} of {} taken{}); retry in {:.3} s",
                    l.name,
                    l.active_slots(app.now()),
                    l.settings.limit,
                    if queued_ahead > 0 {
                        format!(", {queued_ahead} slot(s) asked for before this request")
                    } else {
                        String::new()
                    },
                    after.as_secs_f64()
                ),
                None => "the concurrency limit was deleted; retry".to_owned(),
            };
            Err(ApiError::Locked(detail, after))
        }
    }
}

/// The page a `/filter` body asks for.
pub(super) fn page_of(body: &LimitPage) -> ApiResult<Page> {
    page(body).map_err(ApiError::Invalid)
}

fn non_negative(field: &str, n: i64) -> ApiResult<u64> {
    u64::try_from(n)
        .map_err(|_| ApiError::Invalid(format!("{field} must be a whole number from 0, got {n}")))
}

/// A core check's refusal as a 422.
pub(super) fn refused(e: impl std::fmt::Display) -> ApiError {
    ApiError::Invalid(e.to_string())
}
