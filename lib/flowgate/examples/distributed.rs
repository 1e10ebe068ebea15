//! A flow whose tasks run in two task-worker processes. This program is both: run plainly it
//! starts two copies of itself as workers (`distributed worker`), pointed at its own server,
//! then runs the flow; each task reports which worker ran it.
//!
//! `cargo run -p flowgate --example distributed`

use std::process::{Child, Command};
use std::time::Duration;

use flowgate::{DistributedTaskRunner, flow, task};

#[task(retries = 1)]
fn checksum(chunk: u64) -> (u64, u32) {
    std::thread::sleep(Duration::from_millis(300));
    let sum = (chunk * 1000..(chunk + 1) * 1000)
        .map(|n| n * n % 7919)
        .sum();
    (sum, std::process::id())
}

#[flow(task_runner = DistributedTaskRunner)]
fn distributed_checksums(chunks: u64) -> u64 {
    let futures = checksum::map(0..chunks);
    let mut total = 0;
    for (chunk, f) in futures.iter().enumerate() {
        let (sum, worker) = f.result().expect("a worker computed it");
        println!("chunk {chunk} summed by worker process {worker}");
        total += sum;
    }
    total
}

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().nth(1).as_deref() == Some("worker") {
        flowgate::serve(&[&checksum::WORKER])?;
        return Ok(());
    }
    let api = flowgate::api_url()?;
    let me = std::env::current_exe()?;
    let spawn = || {
        Command::new(&me)
            .arg("worker")
            .env("FLOWGATE_API_URL", &api)
            .env("FLOWGATE_WORKER_CONCURRENCY", "2")
            .spawn()
            .map(Worker)
    };
    let _workers = [spawn()?, spawn()?];
    let total = distributed_checksums(8);
    println!("total checksum: {total}");
    Ok(())
}
