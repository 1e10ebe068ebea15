//! Schedule math: when a deployment's runs are due.
//!
//! Two kinds, as Prefect's deployments carry them:
//! - **cron** in an IANA time zone. Expressions match local wall-clock times. Across daylight-saving
//!   changes a fixed-time job (`30 2 * * *`) runs once a day: a time that falls in the spring-forward
//!   gap runs at the first instant after the gap, a time that occurs twice in the fall-back overlap
//!   runs at the earlier one. An interval-like job (`0 * * * *`, `*/15 * * * *`) runs on every real
//!   instant that matches, so an hourly job stays an hour apart in absolute time.
//! - **interval** with an anchor: the runs are `anchor + k × every` for every integer `k`. Intervals
//!   shorter than a day step in absolute time; intervals of a day or more step in the time zone's
//!   wall clock, so "every day from 09:00 New York" stays at 09:00 across DST (Prefect's rule).
//!
//! `rrule` schedules are refused with [`ScheduleError::RRuleUnsupported`], which says what to use.
//!
//! Every function is pure: "now" is an argument.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Zoned};

use crate::time::Micros;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Why a schedule cannot be used. Each message names the field and says what would work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression does not parse.
    #[error(
        "cron: {expression:?} is not a valid cron expression ({reason}); use five fields: minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1-5\""
    )]
    InvalidCron {
        /// The expression as given.
        expression: String,
        /// What the parser objected to.
        reason: String,
    },
    /// The cron expression parses but no date ever matches it (e.g. 30 February).
    #[error("cron: {expression:?} never matches any date; check its day-of-month and month fields")]
    CronNeverMatches {
        /// The expression as given.
        expression: String,
    },
    /// The time zone is not an IANA name known to the time zone database.
    #[error(
        "timezone: {name:?} is not a known IANA time zone; use a name like \"UTC\" or \"America/New_York\""
    )]
    UnknownTimeZone {
        /// The name as given.
        name: String,
    },
    /// The interval is zero, negative, not finite or too small to be useful.
    #[error("interval: {seconds} s is not a positive number of seconds; give at least 1 second")]
    InvalidInterval {
        /// The interval as given, in seconds.
        seconds: f64,
    },
    /// RRULE schedules are not implemented.
    #[error(
        "rrule: RRULE schedules are not supported by this server; express the schedule as a cron expression (\"cron\") or an interval in seconds (\"interval\")"
    )]
    RRuleUnsupported,
}

/// A named IANA time zone together with its rules.
#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    /// Looks a zone up by IANA name; `None` means UTC (Prefect's default).
    pub fn named(name: Option<&str>) -> Result<Zone, ScheduleError> {
        let name = name.unwrap_or("UTC");
        let tz = TimeZone::get(name).map_err(|_| ScheduleError::UnknownTimeZone {
            name: name.to_owned(),
        })?;
        Ok(Zone {
            name: name.to_owned(),
            tz,
        })
    }

    /// The IANA name, as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn at(&self, t: Micros) -> Zoned {
        t.to_timestamp().to_zoned(self.tz.clone())
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name
    }
}

/// A cron expression evaluated in a time zone.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    expression: String,
    zone: Zone,
    day_or: bool,
    cron: Cron,
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &CronSchedule) -> bool {
        self.expression == other.expression
            && self.zone == other.zone
            && self.day_or == other.day_or
    }
}

impl CronSchedule {
    /// The expression as given.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone the expression is read in.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// `true` (the cron standard and Prefect's default): a day matches when its day of month
    /// **or** its day of week matches; `false`: both must match.
    pub fn day_or(&self) -> bool {
        self.day_or
    }

    fn next_after(&self, t: Micros) -> Option<Micros> {
        let next = self
            .cron
            .find_next_occurrence(&self.zone.at(t), false)
            .ok()?;
        Some(Micros::from_timestamp(next.timestamp()))
    }
}

/// Runs every `every`, on the grid through `anchor`.
#[derive(Clone, Debug, PartialEq)]
pub struct IntervalSchedule {
    every_micros: i64,
    anchor: Micros,
    zone: Zone,
}

impl IntervalSchedule {
    /// The interval in seconds.
    pub fn every_seconds(&self) -> f64 {
        self.every_micros as f64 / MICROS_PER_SECOND as f64
    }

    /// The instant the grid of runs passes through.
    pub fn anchor(&self) -> Micros {
        self.anchor
    }

    /// The zone whose wall clock intervals of a day or more keep.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    fn steps_in_wall_clock(&self) -> bool {
        self.every_micros >= MICROS_PER_DAY
    }

    /// The `k`-th run (`k = 0` is the anchor).
    fn nth(&self, k: i64) -> Option<Micros> {
        let offset = k.checked_mul(self.every_micros)?;
        if !self.steps_in_wall_clock() {
            return self.anchor.0.checked_add(offset).map(Micros);
        }
        let local = self.zone.at(self.anchor).datetime();
        let moved = local
            .checked_add(SignedDuration::from_micros(offset))
            .ok()?;
        let zoned = moved.to_zoned(self.zone.tz.clone()).ok()?;
        Some(Micros::from_timestamp(zoned.timestamp()))
    }

    fn next_after(&self, t: Micros) -> Option<Micros> {
        // Estimate k in absolute time, then correct for the hour a DST change may shift it.
        let mut k = (t.0 - self.anchor.0).div_euclid(self.every_micros);
        while self.nth(k)? > t {
            k -= 1;
        }
        loop {
            let at = self.nth(k)?;
            if at > t {
                return Some(at);
            }
            k += 1;
        }
    }
}

/// When a deployment's runs are due.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// A cron expression in a time zone.
    Cron(Box<CronSchedule>),
    /// A fixed interval through an anchor.
    Interval(IntervalSchedule),
}

impl Schedule {
    /// A cron schedule. `timezone` `None` is UTC; `day_or` as in [`CronSchedule::day_or`].
    pub fn cron(
        expression: &str,
        timezone: Option<&str>,
        day_or: bool,
    ) -> Result<Schedule, ScheduleError> {
        let zone = Zone::named(timezone)?;
        let invalid = |reason: String| ScheduleError::InvalidCron {
            expression: expression.to_owned(),
            reason,
        };
        if expression.trim().is_empty() {
            return Err(invalid("it is empty".to_owned()));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .dom_and_dow(!day_or)
            .build()
            .parse(expression)
            .map_err(|e| invalid(e.to_string()))?;
        let schedule = CronSchedule {
            expression: expression.to_owned(),
            zone,
            day_or,
            cron,
        };
        // An expression like "0 0 30 2 *" parses but never fires: refuse it now, not at runtime.
        // Any valid day matches within 28 years (the Gregorian weekday/leap cycle).
        let probe = Micros::parse("2000-01-01T00:00:00Z").expect("a valid literal");
        match schedule.next_after(probe) {
            Some(at) if at.seconds_since(probe) < 29.0 * 366.0 * 86_400.0 => {}
            _ => {
                return Err(ScheduleError::CronNeverMatches {
                    expression: expression.to_owned(),
                });
            }
        }
        Ok(Schedule::Cron(Box::new(schedule)))
    }

    /// An interval schedule of `seconds` through `anchor`; `timezone` `None` is UTC.
    pub fn interval(
        seconds: f64,
        anchor: Micros,
        timezone: Option<&str>,
    ) -> Result<Schedule, ScheduleError> {
        let zone = Zone::named(timezone)?;
        if !(1.0..=1e12).contains(&seconds) {
            return Err(ScheduleError::InvalidInterval { seconds });
        }
        Ok(Schedule::Interval(IntervalSchedule {
            every_micros: (seconds * MICROS_PER_SECOND as f64).round() as i64,
            anchor,
            zone,
        }))
    }

    /// An RRULE schedule: refused, with a message naming what to use instead.
    pub fn rrule(_rule: &str) -> Result<Schedule, ScheduleError> {
        Err(ScheduleError::RRuleUnsupported)
    }

    /// The first run strictly after `t`, or `None` past the end of time.
    pub fn next_after(&self, t: Micros) -> Option<Micros> {
        match self {
            Schedule::Cron(c) => c.next_after(t),
            Schedule::Interval(i) => i.next_after(t),
        }
    }

    /// Runs at or after `start` and before `end`, at most `max`, in order.
    pub fn occurrences(&self, start: Micros, end: Micros, max: usize) -> Vec<Micros> {
        self.runs_between(start, end).take(max).collect()
    }

    /// Runs at or after `start` and before `end`, in order, each computed only when asked for
    /// (a cron step costs microseconds, so a caller that stops early saves them).
    pub fn runs_between(&self, start: Micros, end: Micros) -> impl Iterator<Item = Micros> + '_ {
        let mut cursor = Micros(start.0 - 1);
        std::iter::from_fn(move || {
            let at = self.next_after(cursor).filter(|at| *at < end)?;
            cursor = at;
            Some(at)
        })
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
