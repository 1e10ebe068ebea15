//! What a flow or task body's return type means. A type implementing [`Fallible`] (every
//! `Result<T, E>`, whatever alias names it) splits into a value and a failure: `Err` is
//! recorded as Failed and retried. Any other type is a plain value.
//!
//! `#[flow]` and `#[task]` decide with a trait, not by the type's name: for the concrete return
//! type `R` they evaluate `Probe::<R>::FALLIBLE`, an inherent constant that exists only when
//! `R: Fallible` and otherwise falls back to [`NotFallible`]'s `false`; then
//! `<R as Outcome<FALLIBLE>>` names the value and error types.

use std::convert::Infallible;
use std::fmt::Display;
use std::marker::PhantomData;

use serde::Serialize;
use serde_json::{Value, json};

/// Results larger than this are recorded as a size, not inline.
const MAX_INLINE_RESULT: usize = 64 * 1024;

/// A return type whose value may be a failure. Implemented for every `Result<T, E>`; implement
/// it for your own type to make `#[task]` and `#[flow]` treat it as one.
pub trait Fallible: Sized {
    /// What a success carries.
    type Value;
    /// What a failure carries.
    type Error;
    /// The outcome as a `Result`.
    fn into_result(self) -> Result<Self::Value, Self::Error>;
    /// The outcome back from a `Result`.
    fn from_result(result: Result<Self::Value, Self::Error>) -> Self;
}

impl<T, E> Fallible for Result<T, E> {
    type Value = T;
    type Error = E;
    fn into_result(self) -> Result<T, E> {
        self
    }
    fn from_result(result: Result<T, E>) -> Self {
        result
    }
}

/// What a body's error must be: printable (its message is recorded), and able to travel
/// between threads and be kept typed in a [`crate::UserError`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error of a flow or task",
    label = "the error type must be `Display + Send + Sync + 'static`",
    note = "use a type like `anyhow::Error`, `std::io::Error`, `String`, your own `thiserror` enum, or `Box<dyn std::error::Error + Send + Sync>`"
)]
pub trait ErrorValue: Display + Send + Sync + 'static {}

impl<E: Display + Send + Sync + 'static> ErrorValue for E {}

/// Asks, for a concrete type `T`, whether `T: Fallible` (see the module's docs).
#[doc(hidden)]
pub struct Probe<T: ?Sized>(PhantomData<T>);

impl<T: Fallible> Probe<T> {
    /// `T` is fallible.
    pub const FALLIBLE: bool = true;
}

/// The answer for types that are not [`Fallible`].
#[doc(hidden)]
pub trait NotFallible {
    /// `T` is a plain value.
    const FALLIBLE: bool = false;
}

impl<T: ?Sized> NotFallible for Probe<T> {}

/// How a body's return type splits into a value and an error, and joins back.
#[doc(hidden)]
pub trait Outcome<const FALLIBLE: bool>: Sized {
    /// The value a success carries.
    type Value;
    /// The error a failure carries (`Infallible` for plain values).
    type Error;
    /// Splits the return value.
    fn split(self) -> Result<Self::Value, Self::Error>;
    /// Joins it back (what a plain call returns).
    fn join(result: Result<Self::Value, Self::Error>) -> Self;
}

impl<R: Fallible> Outcome<true> for R {
    type Value = R::Value;
    type Error = R::Error;
    fn split(self) -> Result<R::Value, R::Error> {
        self.into_result()
    }
    fn join(result: Result<R::Value, R::Error>) -> Self {
        R::from_result(result)
    }
}

impl<T> Outcome<false> for T {
    type Value = T;
    type Error = Infallible;
    fn split(self) -> Result<T, Infallible> {
        Ok(self)
    }
    fn join(result: Result<T, Infallible>) -> Self {
        match result {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }
}

/// The value as JSON for the record, or the serialiser's message.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|e| e.to_string())
}

/// The result reference recorded in a state: the value inline, or its size when large.
pub(crate) fn result_reference(json: Value) -> Value {
    let size = json.to_string().len();
    if size <= MAX_INLINE_RESULT {
        json!({"type": "json", "value": json})
    } else {
        json!({"type": "json", "omitted": true, "bytes": size})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Res<T> = Result<T, String>;
    struct Plain;

    #[test]
    fn fallibility_follows_the_trait_not_the_name() {
        let answers = [
            Probe::<Res<i64>>::FALLIBLE,
            Probe::<std::io::Result<()>>::FALLIBLE,
            Probe::<Plain>::FALLIBLE,
            Probe::<Vec<Result<i64, String>>>::FALLIBLE,
        ];
        assert_eq!(answers, [true, true, false, false]);
        let split = <Res<i64> as Outcome<{ Probe::<Res<i64>>::FALLIBLE }>>::split(Err("no".into()));
        assert_eq!(split, Err("no".to_owned()));
    }
}
