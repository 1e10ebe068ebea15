//! Concurrency limits between the wire and the store: limits as Prefect's v2 and v1 APIs show
//! them, leases, lease holders and pages.

use flowgate_core::Micros;
use flowgate_core::concurrency::book::LimitBrief;
use flowgate_core::concurrency::{Holder, HolderKind, Lease, tags};
use flowgate_store::model::{ConcurrencyLimit, Page};
use flowgate_wire::concurrency_limits::{
    GlobalLimit, LeaseHolder, LeaseView, LimitPage, MinimalLimit, TagLimit,
};

/// A limit as `/v2/concurrency_limits` shows it, its slots counted at `now`.
pub fn global_limit(l: &ConcurrencyLimit, now: Micros) -> GlobalLimit {
    GlobalLimit {
        id: l.id,
        created: l.created,
        updated: l.updated,
        active: l.settings.active,
        name: l.name.clone(),
        limit: i64::from(l.settings.limit),
        active_slots: i64::try_from(l.active_slots(now)).unwrap_or(i64::MAX),
        denied_slots: i64::try_from(l.denied_slots).unwrap_or(i64::MAX),
        slot_decay_per_second: l.slot_decay_per_second,
        avg_slot_occupancy_seconds: l.avg_slot_occupancy_seconds,
    }
}

/// A tag limit as the v1 API shows it: its holders are the task runs among `leases`.
pub fn tag_limit(l: &ConcurrencyLimit, leases: &[Lease]) -> TagLimit {
    TagLimit {
        id: l.id,
        created: l.created,
        updated: l.updated,
        tag: tags::tag_of(&l.name).unwrap_or(&l.name).to_owned(),
        concurrency_limit: i64::from(l.settings.limit),
        active_slots: tags::task_runs_holding(l.id, leases),
    }
}

/// A limit as an acquisition reports it.
pub fn minimal(l: LimitBrief) -> MinimalLimit {
    MinimalLimit {
        id: l.id,
        name: l.name,
        limit: i64::from(l.limit),
    }
}

/// A limit as the v1 API's increment and decrement report it: named by its tag.
pub fn minimal_tag(l: LimitBrief) -> MinimalLimit {
    let mut out = minimal(l);
    if let Some(tag) = tags::tag_of(&out.name) {
        out.name = tag.to_owned();
    }
    out
}

/// A lease as Flowgate shows it.
pub fn lease_view(l: &Lease) -> LeaseView {
    LeaseView {
        id: l.id,
        slots: i64::from(l.slots),
        holder: l.holder.map(|h| LeaseHolder {
            kind: h.kind.as_str().to_owned(),
            id: h.id,
        }),
        acquired_at: l.acquired_at,
        expires_at: l.expires_at,
    }
}

/// Reads who will hold a lease.
pub fn holder(h: &LeaseHolder) -> Result<Holder, String> {
    let kind = HolderKind::parse(&h.kind).ok_or_else(|| {
        format!(
            "holder type must be \"flow_run\", \"task_run\" or \"deployment\", got {:?}",
            h.kind
        )
    })?;
    Ok(Holder { kind, id: h.id })
}

/// The page a `/filter` body asks for (`limit`, default 200, and `offset`).
pub fn page(p: &LimitPage) -> Result<Page, String> {
    let (limit, offset) = (p.limit.unwrap_or(200), p.offset.unwrap_or(0));
    match (u32::try_from(limit), u32::try_from(offset)) {
        (Ok(limit), Ok(offset)) => Ok(Page { limit, offset }),
        _ => Err(format!(
            "limit and offset must be whole numbers from 0, got {limit} and {offset}"
        )),
    }
}
