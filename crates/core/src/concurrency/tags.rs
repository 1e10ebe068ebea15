//! Tag limits for task runs. A tag limit is an ordinary limit named `tag:<tag>` (as in Prefect
//! 3, whose v1 `/concurrency_limits/` API is a view onto these); a task run takes one slot on
//! the limit of each of its tags for as long as it runs, held by a lease whose holder is the
//! task run. The v1 view lists, as a tag's `active_slots`, the task runs holding those leases.

use uuid::Uuid;

use super::lease::{HolderKind, Lease};

/// The prefix that makes a limit a tag limit.
pub const TAG_PREFIX: &str = "tag:";

/// The name of the limit for `tag`.
pub fn limit_name(tag: &str) -> String {
    format!("{TAG_PREFIX}{tag}")
}

/// The tag a limit name stands for, if it is a tag limit.
pub fn tag_of(limit_name: &str) -> Option<&str> {
    limit_name.strip_prefix(TAG_PREFIX)
}

/// The limits a task run with `tags` must take a slot on: one per distinct tag, sorted, so that
/// every caller names them in the same order.
pub fn limit_names_for<S: AsRef<str>>(tags: &[S]) -> Vec<String> {
    let mut names: Vec<String> = tags.iter().map(|t| limit_name(t.as_ref())).collect();
    names.sort();
    names.dedup();
    names
}

/// The task runs holding slots of `limit` (the v1 API's `active_slots`), in the order they
/// took them, each once.
pub fn task_runs_holding<'a>(
    limit: Uuid,
    leases: impl IntoIterator<Item = &'a Lease>,
) -> Vec<Uuid> {
    let mut holding: Vec<&Lease> = leases
        .into_iter()
        .filter(|l| l.limits.contains(&limit))
        .filter(|l| l.holder.is_some_and(|h| h.kind == HolderKind::TaskRun))
        .collect();
    holding.sort_by_key(|l| (l.acquired_at, l.id));
    let mut runs: Vec<Uuid> = Vec::with_capacity(holding.len());
    for l in holding {
        let id = l.holder.map(|h| h.id).unwrap_or_default();
        if !runs.contains(&id) {
            runs.push(id);
        }
    }
    runs
}

/// The leases to release when a run has finished (reached a terminal state): those it holds
/// itself. Its client normally releases them first; this catches a client that died without
/// doing so, long before the lease would expire.
pub fn leases_of_finished_run<'a>(
    run: Uuid,
    leases: impl IntoIterator<Item = &'a Lease>,
) -> Vec<Uuid> {
    leases
        .into_iter()
        .filter(|l| {
            l.holder.is_some_and(|h| {
                h.id == run && matches!(h.kind, HolderKind::TaskRun | HolderKind::FlowRun)
            })
        })
        .map(|l| l.id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Micros;
    use crate::concurrency::lease::{Holder, LeaseDuration};

    fn lease(n: u128, limit: u128, holder: Option<Holder>, at: i64) -> Lease {
        Lease::grant(
            Uuid::from_u128(n),
            vec![Uuid::from_u128(limit)],
            1,
            holder,
            Micros(at),
            LeaseDuration::seconds(60.0).unwrap(),
        )
    }

    fn task_run(n: u128) -> Option<Holder> {
        Some(Holder {
            kind: HolderKind::TaskRun,
            id: Uuid::from_u128(n),
        })
    }

    #[test]
    fn tag_limits_are_named_limits() {
        assert_eq!(limit_name("db-tag"), "tag:db-tag");
        assert_eq!(tag_of("tag:db-tag"), Some("db-tag"));
        assert_eq!(tag_of("db"), None);
        assert_eq!(
            limit_names_for(&["b", "a", "b"]),
            vec!["tag:a".to_owned(), "tag:b".to_owned()]
        );
        assert!(limit_names_for::<&str>(&[]).is_empty());
    }

    #[test]
    fn the_v1_view_lists_task_runs_holding_the_tag_in_order() {
        let leases = [
            lease(1, 7, task_run(20), 2),
            lease(2, 7, task_run(10), 1),
            lease(3, 8, task_run(30), 0),
            lease(4, 7, None, 0),
            lease(
                5,
                7,
                Some(Holder {
                    kind: HolderKind::FlowRun,
                    id: Uuid::from_u128(40),
                }),
                0,
            ),
        ];
        assert_eq!(
            task_runs_holding(Uuid::from_u128(7), &leases),
            vec![Uuid::from_u128(10), Uuid::from_u128(20)]
        );
    }

    #[test]
    fn a_finished_run_gives_back_what_it_held() {
        let leases = [
            lease(1, 7, task_run(10), 0),
            lease(2, 8, task_run(10), 0),
            lease(3, 7, task_run(11), 0),
        ];
        assert_eq!(
            leases_of_finished_run(Uuid::from_u128(10), &leases),
            vec![Uuid::from_u128(1), Uuid::from_u128(2)]
        );
    }
}
