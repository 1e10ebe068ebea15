use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

fn at(s: &str) -> Micros {
    Micros::parse(s).unwrap()
}

const ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/Sao_Paulo",
];

/// 2024-01-01 .. 2027-01-01 in microseconds: three years with DST changes both ways.
fn instant() -> impl Strategy<Value = Micros> {
    (1_704_067_200_000_000i64..1_798_761_600_000_000).prop_map(Micros)
}

fn zone_name() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(ZONES)
}

fn local(t: Micros, schedule: &Schedule) -> jiff::civil::DateTime {
    let zone = match schedule {
        Schedule::Cron(c) => c.zone(),
        Schedule::Interval(i) => i.zone(),
    };
    zone.at(t).datetime()
}

#[test]
fn a_weekday_cron_runs_at_nine_new_york_time() {
    let s = Schedule::cron("0 9 * * 1-5", Some("America/New_York"), true).unwrap();
    // Friday 2026-03-06 10:00 local (15:00Z): next is Monday 09:00 EDT (DST began Sunday 8 March).
    let next = s.next_after(at("2026-03-06T15:00:00Z")).unwrap();
    assert_eq!(next, at("2026-03-09T13:00:00Z"));
}

#[test]
fn a_fixed_time_in_the_spring_gap_runs_once_right_after_it() {
    let s = Schedule::cron("30 2 * * *", Some("America/New_York"), true).unwrap();
    // 2026-03-08 02:30 does not exist in New York; the run is at 03:00 EDT (07:00Z).
    let runs = s.occurrences(at("2026-03-07T00:00:00Z"), at("2026-03-10T00:00:00Z"), 10);
    assert_eq!(
        runs,
        [
            at("2026-03-07T07:30:00Z"),
            at("2026-03-08T07:00:00Z"),
            at("2026-03-09T06:30:00Z")
        ]
    );
}

#[test]
fn a_fixed_time_in_the_autumn_overlap_runs_once_at_the_earlier_instant() {
    let s = Schedule::cron("30 1 * * *", Some("America/New_York"), true).unwrap();
    // 2026-11-01 01:30 happens twice (EDT then EST); the run is at the EDT one (05:30Z).
    let runs = s.occurrences(at("2026-11-01T00:00:00Z"), at("2026-11-02T12:00:00Z"), 10);
    assert_eq!(
        runs,
        [at("2026-11-01T05:30:00Z"), at("2026-11-02T06:30:00Z")]
    );
}

#[test]
fn an_hourly_cron_stays_an_hour_apart_across_both_dst_changes() {
    let s = Schedule::cron("0 * * * *", Some("America/New_York"), true).unwrap();
    for (from, to) in [
        ("2026-03-08T04:00:00Z", "2026-03-08T10:00:00Z"),
        ("2026-11-01T03:00:00Z", "2026-11-01T09:00:00Z"),
    ] {
        let runs = s.occurrences(at(from), at(to), 100);
        assert_eq!(runs.len(), 6, "{runs:?}");
        for pair in runs.windows(2) {
            assert_eq!(pair[1].seconds_since(pair[0]), 3600.0, "{runs:?}");
        }
    }
}

#[test]
fn day_or_false_requires_both_day_fields() {
    // Midnight on the 1st of the month, only when it is a Monday.
    let s = Schedule::cron("0 0 1 * 1", None, false).unwrap();
    let runs = s.occurrences(at("2026-01-01T00:00:00Z"), at("2027-01-01T00:00:00Z"), 20);
    assert_eq!(runs, [at("2026-06-01T00:00:00Z")]);
    // With the standard OR, every 1st and every Monday match.
    let or = Schedule::cron("0 0 1 * 1", None, true).unwrap();
    let count = or
        .occurrences(at("2026-01-01T00:00:00Z"), at("2027-01-01T00:00:00Z"), 100)
        .len();
    assert_eq!(count, 12 + 52 - 1);
}

#[test]
fn a_daily_interval_keeps_new_york_wall_clock_across_dst() {
    let anchor = at("2026-01-05T14:00:00Z"); // 09:00 EST
    let s = Schedule::interval(86_400.0, anchor, Some("America/New_York")).unwrap();
    let runs = s.occurrences(anchor, at("2027-01-05T00:00:00Z"), 400);
    assert_eq!(runs.len(), 365);
    for run in &runs {
        let wall = local(*run, &s);
        assert_eq!((wall.hour(), wall.minute()), (9, 0), "{run}");
    }
}

#[test]
fn an_hourly_interval_steps_in_absolute_time() {
    let anchor = at("2026-03-08T00:00:00Z");
    let s = Schedule::interval(3600.0, anchor, Some("America/New_York")).unwrap();
    let runs = s.occurrences(anchor, at("2026-03-09T00:00:00Z"), 100);
    assert_eq!(runs.len(), 24);
    assert!(runs.windows(2).all(|p| p[1].seconds_since(p[0]) == 3600.0));
}

#[test]
fn bad_schedules_are_refused_with_the_field_named() {
    let cases = [
        (Schedule::cron("every day", None, true), "cron:"),
        (Schedule::cron("", None, true), "cron:"),
        (Schedule::cron("0 0 0 9 * *", None, true), "cron:"), // six fields
        (Schedule::cron("61 * * * *", None, true), "cron:"),
        (Schedule::cron("0 0 30 2 *", None, true), "never matches"),
        (
            Schedule::cron("0 9 * * *", Some("Mars/Olympus"), true),
            "timezone:",
        ),
        (Schedule::interval(0.0, Micros(0), None), "interval:"),
        (Schedule::interval(-5.0, Micros(0), None), "interval:"),
        (Schedule::interval(f64::NAN, Micros(0), None), "interval:"),
        (
            Schedule::interval(60.0, Micros(0), Some("Nowhere")),
            "timezone:",
        ),
        (Schedule::rrule("FREQ=DAILY"), "rrule:"),
    ];
    for (result, expected) in cases {
        let message = result.unwrap_err().to_string();
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
}

#[test]
fn nicknames_and_names_parse() {
    for expression in ["@hourly", "@daily", "0 9 * JAN-MAR MON-FRI"] {
        assert!(
            Schedule::cron(expression, None, true).is_ok(),
            "{expression}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A daily fixed-time cron's next run is later than `t`, within a day and an hour, and at the
    /// requested wall-clock time (or, on a spring-forward day, the first instant after the gap).
    #[test]
    fn daily_cron_next_run_is_the_next_matching_wall_clock(
        t in instant(), zone in zone_name(), hour in 0u8..24, minute in 0u8..60,
    ) {
        let s = Schedule::cron(&format!("{minute} {hour} * * *"), Some(zone), true).unwrap();
        let next = s.next_after(t).unwrap();
        prop_assert!(next > t);
        prop_assert!(next.seconds_since(t) <= 25.0 * 3600.0);
        let wall = local(next, &s);
        let exact = (wall.hour(), wall.minute()) == (hour as i8, minute as i8);
        // In a gap the run moves to the first real instant after it, on the same local date.
        let moved_past_gap = wall.minute() == 0 && wall.hour() > hour as i8;
        prop_assert!(exact || moved_past_gap, "{zone} {t} -> {next} ({wall})");
        // Nothing matched in between: the run before `next` is not after `t`.
        let before = s.occurrences(t, next, 10);
        prop_assert!(before.is_empty(), "{before:?}");
    }

    /// Over any window, a daily cron runs exactly once per local calendar day.
    #[test]
    fn daily_cron_runs_once_per_local_day(
        start in instant(), zone in zone_name(), hour in 0u8..24, minute in 0u8..60,
    ) {
        let s = Schedule::cron(&format!("{minute} {hour} * * *"), Some(zone), true).unwrap();
        let runs = s.occurrences(start, start.plus_seconds(60.0 * 86_400.0), 1000);
        let days: BTreeSet<_> = runs.iter().map(|r| local(*r, &s).date()).collect();
        prop_assert_eq!(days.len(), runs.len());
        prop_assert!((59..=61).contains(&runs.len()), "{}", runs.len());
    }

    /// Splitting a window anywhere and concatenating gives the same runs (what makes the
    /// scheduler's look-ahead idempotent however often it runs).
    #[test]
    fn occurrences_split_anywhere_concatenate(
        start in instant(), split_hours in 0u32..72, zone in zone_name(),
        every in prop_oneof![Just(None), (60u32..200_000).prop_map(Some)],
        cron in proptest::sample::select(&["*/7 * * * *", "0 */3 * * *", "15 2 * * 0", "0 0 L * *"][..]),
    ) {
        let s = match every {
            Some(seconds) => Schedule::interval(seconds as f64, start.plus_seconds(-12_345.0), Some(zone)).unwrap(),
            None => Schedule::cron(cron, Some(zone), true).unwrap(),
        };
        let end = start.plus_seconds(72.0 * 3600.0);
        let split = start.plus_seconds(split_hours as f64 * 3600.0);
        let whole = s.occurrences(start, end, 10_000);
        let mut parts = s.occurrences(start, split, 10_000);
        parts.extend(s.occurrences(split, end, 10_000));
        prop_assert_eq!(&whole, &parts);
        prop_assert!(whole.windows(2).all(|p| p[0] < p[1]));
    }

    /// A sub-day interval's runs lie on the anchor's grid, `every` apart, and the next run is the
    /// first grid point after `t`.
    #[test]
    fn short_intervals_lie_on_the_anchor_grid(
        t in instant(), anchor in instant(), every in 1u32..86_400, zone in zone_name(),
    ) {
        let s = Schedule::interval(every as f64, anchor, Some(zone)).unwrap();
        let next = s.next_after(t).unwrap();
        let step = every as i64 * 1_000_000;
        prop_assert_eq!((next.0 - anchor.0).rem_euclid(step), 0);
        prop_assert!(next > t && next.0 - step <= t.0);
    }

    /// A daily-or-longer interval keeps the anchor's wall-clock time in its zone (unless that
    /// time falls in a DST gap on the day) and the next run is the first after `t`.
    #[test]
    fn day_intervals_keep_the_anchor_wall_clock(
        t in instant(), anchor in instant(), days in 1u32..10, zone in zone_name(),
    ) {
        let s = Schedule::interval(days as f64 * 86_400.0, anchor, Some(zone)).unwrap();
        let next = s.next_after(t).unwrap();
        prop_assert!(next > t);
        let (want, got) = (local(anchor, &s).time(), local(next, &s).time());
        let shifted_by_a_gap = (got - want).get_hours().abs() <= 1;
        prop_assert!(want == got || shifted_by_a_gap, "{want} vs {got}");
        let Schedule::Interval(i) = &s else { unreachable!() };
        // The grid point before `next` is not after `t`.
        let base = (t.0 - anchor.0).div_euclid(i.every_micros);
        let k = (base - 2..base + 3).find(|k| i.nth(*k) == Some(next)).unwrap();
        prop_assert!(i.nth(k - 1).unwrap() <= t);
    }
}
