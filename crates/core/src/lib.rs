//! Flowgate's domain, free of IO: run states and the rules that move runs between them, the
//! folding of client-reported task-run events into task-run records, run names and time.
//!
//! Everything here is deterministic given its inputs (the caller passes "now" and randomness in),
//! so it is unit- and property-tested without a server, a database or a real clock.

pub mod artifacts;
pub mod automations;
pub mod blocks;
pub mod concurrency;
pub mod deployment;
pub mod event;
pub mod event_counts;
pub mod hand_out;
pub mod history;
pub mod late_runs;
pub mod names;
pub mod orchestration;
pub mod pause;
pub mod pools;
pub mod retention;
pub mod schedule;
pub mod scheduler;
mod spelling;
pub mod state;
pub mod task_queue;
pub mod task_run;
pub mod time;
pub mod variables;
pub mod work_queue;

pub use event::{Event, Payload};
pub use state::{State, StateType};
pub use time::Micros;
