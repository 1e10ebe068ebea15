//! A limit's settings as the rules read them: how many slots, how fast a rate limit drains, and
//! whether it limits at all; with the checks that turn bad input into a sentence.

use std::fmt;

/// Characters a limit name may not contain (Prefect's rule for names that appear in URLs).
pub const BANNED_NAME_CHARACTERS: [char; 5] = ['/', '%', '&', '>', '<'];

/// Longest accepted limit name, in bytes.
pub const MAX_NAME_BYTES: usize = 500;

/// Slowest accepted drain: one slot per ten years (in nanoseconds per slot).
const MAX_NANOS_PER_SLOT: u64 = 10 * 365 * 24 * 3600 * 1_000_000_000;

/// Longest a full rate limit may take to drain, so that every drain instant fits the ledger's
/// nanosecond clock until long after anyone reading this (100 years, in nanoseconds).
pub const MAX_DRAIN_NANOS: u128 = 100 * 365 * 24 * 3600 * 1_000_000_000;

/// Largest accepted limit (Prefect stores limits as 32-bit signed integers).
pub const MAX_LIMIT: u32 = i32::MAX as u32;

/// The drain speed of a rate limit, held exactly as the whole number of nanoseconds one slot
/// takes to drain. Every later computation is integer arithmetic on this number, so occupancy
/// never drifts however many acquisitions happen; the only rounding is this one, done once,
/// when the user's slots-per-second figure is read (at most half a nanosecond per slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Decay {
    nanos_per_slot: u64,
}

impl Decay {
    /// Reads a `slot_decay_per_second` figure: `0` means no decay (`None`); negative, NaN,
    /// infinite and absurdly slow figures are errors. Rates above 10⁹ slots/s drain a slot per
    /// nanosecond.
    pub fn per_second(rate: f64) -> Result<Option<Decay>, SettingsError> {
        if !rate.is_finite() || rate < 0.0 {
            return Err(SettingsError::Decay(DecayProblem::NotANonNegativeNumber(
                rate,
            )));
        }
        if rate == 0.0 {
            return Ok(None);
        }
        let nanos = (1e9 / rate).round();
        if nanos > MAX_NANOS_PER_SLOT as f64 {
            return Err(SettingsError::Decay(DecayProblem::TooSlow(rate)));
        }
        Ok(Some(Decay {
            nanos_per_slot: (nanos as u64).max(1),
        }))
    }

    /// A decay given directly as nanoseconds per slot (at least 1).
    pub fn from_nanos_per_slot(nanos: u64) -> Decay {
        Decay {
            nanos_per_slot: nanos.clamp(1, MAX_NANOS_PER_SLOT),
        }
    }

    /// Nanoseconds one slot takes to drain.
    pub fn nanos_per_slot(self) -> u64 {
        self.nanos_per_slot
    }

    /// The rate this decay really drains at, in slots per second.
    pub fn slots_per_second(self) -> f64 {
        1e9 / self.nanos_per_slot as f64
    }
}

/// One limit's settings, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSettings {
    /// Most slots occupied at once.
    pub limit: u32,
    /// How fast occupied rate-limit slots drain; `None` for a plain concurrency limit.
    pub decay: Option<Decay>,
    /// An inactive limit limits nothing: acquisitions pass without taking its slots.
    pub active: bool,
}

impl LimitSettings {
    /// Checks a limit and decay as the API receives them.
    pub fn new(
        limit: i64,
        slot_decay_per_second: f64,
        active: bool,
    ) -> Result<Self, SettingsError> {
        let limit = u32::try_from(limit)
            .ok()
            .filter(|l| *l <= MAX_LIMIT)
            .ok_or(SettingsError::Limit(limit))?;
        let decay = Decay::per_second(slot_decay_per_second)?;
        if let Some(d) = decay
            && u128::from(limit) * u128::from(d.nanos_per_slot()) > MAX_DRAIN_NANOS
        {
            return Err(SettingsError::Decay(DecayProblem::DrainTooLong {
                limit,
                rate: slot_decay_per_second,
            }));
        }
        Ok(LimitSettings {
            limit,
            decay,
            active,
        })
    }
}

/// Checks a limit's name: not empty, not too long, none of [`BANNED_NAME_CHARACTERS`], no
/// control characters.
pub fn check_name(name: &str) -> Result<(), SettingsError> {
    let problem = if name.trim().is_empty() {
        Some(NameProblem::Empty)
    } else if name.len() > MAX_NAME_BYTES {
        Some(NameProblem::TooLong(name.len()))
    } else {
        name.chars()
            .find(|c| BANNED_NAME_CHARACTERS.contains(c) || c.is_control())
            .map(NameProblem::Character)
    };
    match problem {
        Some(p) => Err(SettingsError::Name(name.to_owned(), p)),
        None => Ok(()),
    }
}

/// Why settings were refused. Each message says what is wrong and what to send instead.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SettingsError {
    /// The limit is negative or too large.
    #[error("limit must be a whole number from 0 to {MAX_LIMIT}, got {0}")]
    Limit(i64),
    /// The decay rate is unusable.
    #[error("{0}")]
    Decay(DecayProblem),
    /// The name is unusable.
    #[error("invalid limit name {0:?}: {1}")]
    Name(String, NameProblem),
}

/// What is wrong with a `slot_decay_per_second`.
#[derive(Clone, Debug, PartialEq)]
pub enum DecayProblem {
    /// Negative, NaN or infinite.
    NotANonNegativeNumber(f64),
    /// Slower than one slot per ten years.
    TooSlow(f64),
    /// The full limit would take more than a century to drain.
    DrainTooLong {
        /// The limit asked for.
        limit: u32,
        /// The decay asked for.
        rate: f64,
    },
}

impl fmt::Display for DecayProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecayProblem::NotANonNegativeNumber(r) => write!(
                f,
                "slot_decay_per_second must be 0 (no decay) or a positive number of slots per second, got {r}"
            ),
            DecayProblem::TooSlow(r) => write!(
                f,
                "slot_decay_per_second {r} drains less than one slot in ten years; use 0 for no decay or a larger rate"
            ),
            DecayProblem::DrainTooLong { limit, rate } => write!(
                f,
                "a limit of {limit} slots draining at {rate} per second would take over a century to drain; raise the decay or lower the limit"
            ),
        }
    }
}

/// What is wrong with a name.
#[derive(Clone, Debug, PartialEq)]
pub enum NameProblem {
    /// Empty or only spaces.
    Empty,
    /// Longer than [`MAX_NAME_BYTES`].
    TooLong(usize),
    /// Contains a banned or control character.
    Character(char),
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::Empty => write!(f, "a name must not be empty"),
            NameProblem::TooLong(n) => {
                write!(
                    f,
                    "a name is at most {MAX_NAME_BYTES} bytes, this one is {n}"
                )
            }
            NameProblem::Character(c) => write!(
                f,
                "a name may not contain {c:?} (nor any of / % & > < or control characters)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_is_read_once_into_whole_nanoseconds() {
        assert_eq!(Decay::per_second(0.0), Ok(None));
        assert_eq!(
            Decay::per_second(2.0).unwrap().unwrap().nanos_per_slot(),
            500_000_000
        );
        assert_eq!(
            Decay::per_second(3.0).unwrap().unwrap().nanos_per_slot(),
            333_333_333
        );
        assert_eq!(
            Decay::per_second(1.0 / 60.0)
                .unwrap()
                .unwrap()
                .nanos_per_slot(),
            60_000_000_000
        );
        assert_eq!(
            Decay::per_second(1e12).unwrap().unwrap().nanos_per_slot(),
            1
        );
        let rate = Decay::per_second(4.0).unwrap().unwrap().slots_per_second();
        assert_eq!(rate, 4.0);
    }

    #[test]
    fn bad_decays_say_what_to_send() {
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let e = Decay::per_second(bad).unwrap_err().to_string();
            assert!(
                e.contains("must be 0 (no decay) or a positive number"),
                "{e}"
            );
        }
        let e = Decay::per_second(1e-12).unwrap_err().to_string();
        assert!(e.contains("ten years"), "{e}");
        let e = LimitSettings::new(2_000_000_000, 0.01, true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("over a century") && e.contains("raise the decay"),
            "{e}"
        );
    }

    #[test]
    fn limits_are_whole_non_negative_and_32_bit() {
        assert_eq!(LimitSettings::new(0, 0.0, true).unwrap().limit, 0);
        assert!(LimitSettings::new(i64::from(MAX_LIMIT), 0.0, true).is_ok());
        for bad in [-1, i64::from(MAX_LIMIT) + 1] {
            let e = LimitSettings::new(bad, 0.0, true).unwrap_err().to_string();
            assert!(e.contains("limit must be a whole number from 0"), "{e}");
        }
    }

    #[test]
    fn names_follow_prefects_rule_and_explain_refusals() {
        assert!(check_name("db").is_ok());
        assert!(check_name("tag:db-tag").is_ok());
        assert!(check_name("résumé writers").is_ok());
        let e = check_name("a/b").unwrap_err().to_string();
        assert!(e.contains("'/'") && e.contains("may not contain"), "{e}");
        assert!(
            check_name("  ")
                .unwrap_err()
                .to_string()
                .contains("must not be empty")
        );
        assert!(check_name("a\0b").is_err());
        assert!(
            check_name(&"x".repeat(501))
                .unwrap_err()
                .to_string()
                .contains("at most 500")
        );
    }
}
