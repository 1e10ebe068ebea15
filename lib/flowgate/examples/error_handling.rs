//! Failures as values: a flow's `run` returns a `FlowError` to match, with the body's own error
//! kept typed; a task's `run` returns a `TaskError` the same way; a plain call panics on
//! anything but the body's own error. Run with
//! `cargo run -p flowgate --example error_handling`.

use std::fmt;

use flowgate::{FlowError, TaskError, flow, task};

/// A bank's own error type.
#[derive(Debug)]
struct Overdrawn {
    missing: u64,
}

impl fmt::Display for Overdrawn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "overdrawn by {}", self.missing)
    }
}

/// `Err` is a recorded failure, retried as asked.
#[task(retries = 1)]
fn withdraw(balance: u64, amount: u64) -> Result<u64, Overdrawn> {
    balance.checked_sub(amount).ok_or_else(|| Overdrawn {
        missing: amount - balance,
    })
}

#[task]
fn audit(balance: u64) -> u64 {
    assert!(balance < 1_000_000, "the balance {balance} looks wrong");
    balance
}

#[flow]
fn pay(balance: u64, amount: u64) -> Result<u64, TaskError> {
    // `run` hands the task's failure back as a value, here passed on with `?`.
    let left = withdraw::run(balance, amount)?;
    // A plain call returns the body's value; a panic in it fails the flow.
    Ok(audit(left))
}

fn report(balance: u64, amount: u64) {
    match pay::run(balance, amount) {
        Ok(left) => println!("paid {amount}, {left} left"),
        Err(FlowError::Failed(error)) => match error
            .downcast_ref::<TaskError>()
            .and_then(|e| e.user_error::<Overdrawn>())
        {
            Some(overdrawn) => println!("not paid: {} missing", overdrawn.missing),
            None => println!("not paid: {error}"),
        },
        Err(FlowError::Panicked(message)) => println!("the flow panicked: {message}"),
        Err(FlowError::Infrastructure(e)) => println!("the server: {e}"),
        Err(FlowError::Unrecorded { value, cause }) => {
            println!("paid, {value:?} left, but not recorded: {cause}")
        }
        Err(other) => println!("{other}"),
    }
}

fn main() {
    report(100, 30);
    report(100, 250);
    report(2_000_000, 1);
}
