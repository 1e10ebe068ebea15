//! The seed's elevator: floors 3, 2, 1 submitted to a thread pool of 3, each stop taking `floor`
//! seconds; the moves print at once, the stops come in order 1, 2, 3.
//!
//! `cargo run -p flowgate --example elevator`

use std::time::Duration;

use flowgate::{ThreadPoolTaskRunner, flow, task, wait};

#[task]
fn stop_at_floor(floor: u64) {
    println!("elevator moving to floor {floor}");
    std::thread::sleep(Duration::from_secs(floor));
    println!("elevator stops on floor {floor}");
}

#[flow(task_runner = ThreadPoolTaskRunner::new(3))]
fn elevator() {
    let floors: Vec<_> = (1..=3).rev().map(stop_at_floor::submit).collect();
    wait(&floors);
}

fn main() {
    elevator();
}
