//! Leases: slots held on a deadline that the holder keeps pushing back.
//!
//! A lease records which limits it charged, how many slots, who holds it and until when. A
//! holder renews it before it expires; a lease past its deadline is dead and its slots are free,
//! whether or not anyone has yet deleted it (every acquisition treats an expired lease as gone,
//! and the lease reaper deletes them in the background so waiters are woken).
//!
//! **What a restart means: nothing.** A lease's deadline is an absolute instant, stored with the
//! lease. A server that stops and starts again finds every lease as it was: one whose deadline
//! has not passed still holds its slots (its holder is presumably alive and renewing), one whose
//! deadline passed while the server was down is dead and freed at once. Nothing about a lease
//! lives only in memory.

use std::time::Duration;

use uuid::Uuid;

use crate::time::Micros;

/// Shortest lease accepted, in seconds. (Prefect asks for at least 60; Flowgate accepts
/// shorter leases so that a holder's death is noticed sooner when the caller wants that.)
pub const MIN_LEASE_SECONDS: f64 = 1.0;

/// Longest lease accepted, in seconds (one day, as Prefect).
pub const MAX_LEASE_SECONDS: f64 = 86_400.0;

/// Who holds a lease, as Prefect's client reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Holder {
    /// What kind of run or object holds it.
    pub kind: HolderKind,
    /// Its id.
    pub id: Uuid,
}

/// The kinds of lease holder Prefect's API knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HolderKind {
    /// A flow run.
    FlowRun,
    /// A task run (tag limits).
    TaskRun,
    /// A deployment.
    Deployment,
}

impl HolderKind {
    /// Prefect's name (`flow_run`, `task_run`, `deployment`).
    pub fn as_str(self) -> &'static str {
        match self {
            HolderKind::FlowRun => "flow_run",
            HolderKind::TaskRun => "task_run",
            HolderKind::Deployment => "deployment",
        }
    }

    /// Reads Prefect's name.
    pub fn parse(s: &str) -> Option<HolderKind> {
        match s {
            "flow_run" => Some(HolderKind::FlowRun),
            "task_run" => Some(HolderKind::TaskRun),
            "deployment" => Some(HolderKind::Deployment),
            _ => None,
        }
    }
}

/// A checked lease duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LeaseDuration(Duration);

impl LeaseDuration {
    /// Reads a duration in seconds, from [`MIN_LEASE_SECONDS`] to [`MAX_LEASE_SECONDS`].
    pub fn seconds(s: f64) -> Result<LeaseDuration, LeaseDurationError> {
        if !(MIN_LEASE_SECONDS..=MAX_LEASE_SECONDS).contains(&s) {
            return Err(LeaseDurationError(s));
        }
        Ok(LeaseDuration(Duration::from_secs_f64(s)))
    }

    /// For holders that cannot renew (Prefect's v1 tag API, a reset's `slot_override`): a
    /// century. Such a lease ends when released, or when its holder run finishes (the lease
    /// reaper releases leases of finished runs).
    pub fn until_released() -> LeaseDuration {
        LeaseDuration(Duration::from_secs(100 * 365 * 24 * 3600))
    }

    /// As a standard duration.
    pub fn get(self) -> Duration {
        self.0
    }

    fn micros(self) -> i64 {
        i64::try_from(self.0.as_micros()).unwrap_or(i64::MAX)
    }
}

/// A lease duration out of range.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error(
    "lease_duration must be from {MIN_LEASE_SECONDS} to {MAX_LEASE_SECONDS} seconds, got {0}; a holder renews its lease before it runs out, so pick about four times the renewal interval you can afford"
)]
pub struct LeaseDurationError(pub f64);

/// Slots held on a deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The lease's id (what the holder renews and releases).
    pub id: Uuid,
    /// The limits whose slots it holds (inactive limits named in the request are not charged).
    pub limits: Vec<Uuid>,
    /// Slots held on each of those limits.
    pub slots: u32,
    /// Who holds it, if the client said.
    pub holder: Option<Holder>,
    /// When the slots were taken.
    pub acquired_at: Micros,
    /// When the lease dies unless renewed.
    pub expires_at: Micros,
}

/// A renewal or release of a lease that is no longer there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeaseGone {
    /// It expired unrenewed; its slots are free.
    #[error("lease {id} expired at {at} without being renewed; its slots were released")]
    Expired {
        /// The lease.
        id: Uuid,
        /// When it expired.
        at: Micros,
    },
}

impl Lease {
    /// A new lease on `limits`, taken at `now`.
    pub fn grant(
        id: Uuid,
        limits: Vec<Uuid>,
        slots: u32,
        holder: Option<Holder>,
        now: Micros,
        duration: LeaseDuration,
    ) -> Lease {
        Lease {
            id,
            limits,
            slots,
            holder,
            acquired_at: now,
            expires_at: Micros(now.0.saturating_add(duration.micros())),
        }
    }

    /// Whether the lease is dead at `now` (its deadline is not after `now`).
    pub fn is_expired(&self, now: Micros) -> bool {
        self.expires_at <= now
    }

    /// Pushes the deadline to `now + duration`; a dead lease cannot be revived.
    pub fn renew(&mut self, now: Micros, duration: LeaseDuration) -> Result<(), LeaseGone> {
        if self.is_expired(now) {
            return Err(LeaseGone::Expired {
                id: self.id,
                at: self.expires_at,
            });
        }
        self.expires_at = Micros(now.0.saturating_add(duration.micros()));
        Ok(())
    }

    /// Seconds the slots have been held at `now`.
    pub fn held_seconds(&self, now: Micros) -> f64 {
        now.seconds_since(self.acquired_at).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(now: Micros, seconds: f64) -> Lease {
        Lease::grant(
            Uuid::from_u128(1),
            vec![Uuid::from_u128(2)],
            1,
            None,
            now,
            LeaseDuration::seconds(seconds).unwrap(),
        )
    }

    #[test]
    fn a_lease_lives_until_its_deadline_and_renewal_moves_it() {
        let mut l = lease(Micros(0), 10.0);
        assert_eq!(l.expires_at, Micros(10_000_000));
        assert!(!l.is_expired(Micros(9_999_999)));
        l.renew(Micros(9_000_000), LeaseDuration::seconds(10.0).unwrap())
            .unwrap();
        assert_eq!(l.expires_at, Micros(19_000_000));
        assert!(l.is_expired(Micros(19_000_000)));
    }

    #[test]
    fn a_dead_lease_cannot_be_renewed() {
        let mut l = lease(Micros(0), 1.0);
        let e = l
            .renew(Micros(1_000_000), LeaseDuration::seconds(60.0).unwrap())
            .unwrap_err();
        assert_eq!(
            e,
            LeaseGone::Expired {
                id: l.id,
                at: Micros(1_000_000)
            }
        );
        assert!(e.to_string().contains("slots were released"));
    }

    #[test]
    fn a_restart_changes_nothing_because_deadlines_are_absolute() {
        // The server stores the lease, stops at t=5 s and starts again at t=8 s: the lease is
        // judged only by its stored deadline, which is a fact about the lease, not the process.
        let stored = lease(Micros(0), 10.0);
        let after_restart = stored.clone();
        for t in [5_000_000, 8_000_000, 9_999_999, 10_000_000, 60_000_000] {
            assert_eq!(
                stored.is_expired(Micros(t)),
                after_restart.is_expired(Micros(t))
            );
        }
        assert!(!after_restart.is_expired(Micros(8_000_000)));
        assert!(after_restart.is_expired(Micros(60_000_000)));
    }

    #[test]
    fn durations_out_of_range_say_what_to_send() {
        assert!(LeaseDuration::seconds(1.0).is_ok());
        assert!(LeaseDuration::seconds(86_400.0).is_ok());
        for bad in [0.0, 0.5, -1.0, f64::NAN, 86_401.0] {
            let e = LeaseDuration::seconds(bad).unwrap_err().to_string();
            assert!(e.contains("lease_duration must be from 1 to 86400"), "{e}");
        }
    }

    #[test]
    fn holder_kinds_use_prefects_names() {
        for k in [
            HolderKind::FlowRun,
            HolderKind::TaskRun,
            HolderKind::Deployment,
        ] {
            assert_eq!(HolderKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(HolderKind::parse("worker"), None);
    }
}
