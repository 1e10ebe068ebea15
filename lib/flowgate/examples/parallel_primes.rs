//! CPU-bound tasks on every core: count the primes in 8 ranges, first one task at a time, then
//! on a `ParallelTaskRunner` (one thread per core), and print the speed-up.
//!
//! `cargo run --release -p flowgate --example parallel_primes`

use std::time::Instant;

use flowgate::{ParallelTaskRunner, SequentialTaskRunner, flow, task};

/// Primes in `[start, end)`, by trial division (deliberately CPU-heavy).
#[task]
fn count_primes(start: u64, end: u64) -> u64 {
    (start..end)
        .filter(|&n| n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

const CHUNKS: u64 = 8;
const SIZE: u64 = 250_000;

fn ranges() -> impl Iterator<Item = (u64, u64)> {
    (0..CHUNKS).map(|i| (i * SIZE, (i + 1) * SIZE))
}

#[flow(task_runner = SequentialTaskRunner)]
fn primes_one_at_a_time() -> u64 {
    count_primes::map(ranges())
        .iter()
        .map(|f| f.result().expect("counted"))
        .sum()
}

#[flow(task_runner = ParallelTaskRunner::new())]
fn primes_on_every_core() -> u64 {
    count_primes::map(ranges())
        .iter()
        .map(|f| f.result().expect("counted"))
        .sum()
}

fn main() {
    let t = Instant::now();
    let a = primes_one_at_a_time();
    let sequential = t.elapsed();
    let t = Instant::now();
    let b = primes_on_every_core();
    let parallel = t.elapsed();
    assert_eq!(a, b);
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1);
    println!("{a} primes below {}", CHUNKS * SIZE);
    println!("one at a time: {:.2} s", sequential.as_secs_f64());
    println!(
        "on {cores} cores: {:.2} s ({:.1}x faster)",
        parallel.as_secs_f64(),
        sequential.as_secs_f64() / parallel.as_secs_f64()
    );
}
