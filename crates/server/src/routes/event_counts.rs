//! `/events/count-by/{countable}`: events counted per time bucket (`day`, `time`), per event
//! name (`event`) or per resource (`resource`), in one `GROUP BY`; the bucket arithmetic is the
//! core's (`flowgate_core::event_counts`).

use axum::Json;
use axum::extract::{Path, State};
use flowgate_core::event_counts::{MAX_BUCKETS, TimeBuckets, TimeUnit};
use flowgate_store::model::{EventGroup, EventGroupKey, EventGrouping};
use flowgate_wire::events::{self as wire, Countable, EventCount, EventCountRequest};

use super::invalid;
use crate::app::AppState;
use crate::convert::filters;
use crate::error::{ApiError, ApiResult};
use crate::extract::FilterBody;

/// Counts the events matching the body's filter by `countable`.
pub(super) async fn count_by(
    State(app): State<AppState>,
    Path(countable): Path<String>,
    FilterBody(req): FilterBody<EventCountRequest>,
) -> ApiResult<Json<Vec<EventCount>>> {
    let countable: Countable = serde_json::from_value(countable.clone().into()).map_err(|_| {
        ApiError::Invalid(format!(
            "countable: {countable:?} is not one of day, time, event, resource"
        ))
    })?;
    let mut f = invalid(filters::events("body.filter", req.filter))?;
    let (unit, interval) = match countable {
        Countable::Day => (TimeUnit::Day, 1.0),
        Countable::Time => (
            unit(req.time_unit.unwrap_or(wire::TimeUnit::Day)),
            req.time_interval.unwrap_or(1.0),
        ),
        Countable::Event | Countable::Resource => {
            // One more than allowed says whether there are too many.
            let limit = MAX_BUCKETS as u32 + 1;
            let by = match countable {
                Countable::Event => EventGrouping::Name(limit),
                _ => EventGrouping::Resource(limit),
            };
            let groups = app.store.count_events_by(&f, by).await?;
            if groups.len() > MAX_BUCKETS as usize {
                return Err(ApiError::Invalid(format!(
                    "more than {MAX_BUCKETS} groups match; narrow body.filter (a shorter \
                     occurred window, event names or resources)"
                )));
            }
            return Ok(Json(groups.into_iter().map(named).collect()));
        }
    };
    let until = f.occurred.before.unwrap_or_else(|| app.now());
    let since = f
        .occurred
        .after
        .unwrap_or_else(|| until.plus_seconds(-86_400.0));
    let buckets = TimeBuckets::new(since, until, unit, interval)
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
    f.occurred.after = Some(since);
    f.occurred.before = Some(until);
    let groups = app
        .store
        .count_events_by(&f, EventGrouping::Buckets(buckets))
        .await?;
    let counts: Vec<(i64, i64)> = groups
        .iter()
        .filter_map(|g| match g.key {
            EventGroupKey::Bucket(i) => Some((i, g.count)),
            _ => None,
        })
        .collect();
    Ok(Json(
        buckets
            .lay_out(&counts)
            .into_iter()
            .map(|b| EventCount {
                value: b.start.to_string(),
                label: b.start.to_string(),
                count: b.count,
                start_time: b.start,
                end_time: b.end,
            })
            .collect(),
    ))
}

fn unit(u: wire::TimeUnit) -> TimeUnit {
    match u {
        wire::TimeUnit::Second => TimeUnit::Second,
        wire::TimeUnit::Minute => TimeUnit::Minute,
        wire::TimeUnit::Hour => TimeUnit::Hour,
        wire::TimeUnit::Day => TimeUnit::Day,
        wire::TimeUnit::Week => TimeUnit::Week,
    }
}

/// A group of events by name or resource, in Prefect's shape.
fn named(g: EventGroup) -> EventCount {
    let (value, label) = match g.key {
        EventGroupKey::Name(name) => (name.clone(), name),
        EventGroupKey::Resource { id, name } => (id.clone(), name.unwrap_or(id)),
        EventGroupKey::Bucket(i) => (i.to_string(), i.to_string()),
    };
    EventCount {
        value,
        label,
        count: g.count,
        start_time: g.first,
        end_time: g.last,
    }
}
