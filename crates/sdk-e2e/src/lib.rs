//! Tasks and flows shared by the end-to-end tests and their task-worker binary.

use std::time::Duration;

use flowgate::{DistributedTaskRunner, ThreadPoolTaskRunner, flow, task, wait};

/// `x²`, with the id of the process that computed it.
#[task]
pub fn square_in_worker(x: u64) -> (u64, u32) {
    std::thread::sleep(Duration::from_millis(200));
    (x * x, std::process::id())
}

/// Sleeps `millis`, then returns the process id.
#[task]
pub fn sleepy(millis: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(millis));
    std::process::id()
}

/// Fails when `x` is odd.
#[task]
pub fn even_only(x: u64) -> Result<u64, String> {
    if x % 2 == 1 {
        Err(format!("{x} is odd"))
    } else {
        Ok(x)
    }
}

/// Squares `0..n` in task workers; returns the squares and the worker process ids.
#[flow(task_runner = DistributedTaskRunner)]
pub fn fan_out(n: u64) -> Vec<(u64, u32)> {
    square_in_worker::map(0..n)
        .iter()
        .map(|f| f.result().expect("a worker squared it"))
        .collect()
}

/// Runs one long task in a worker.
#[flow(task_runner = DistributedTaskRunner)]
pub fn one_long_task(millis: u64) -> u32 {
    sleepy::submit(millis)
        .result()
        .expect("some worker finished it")
}

/// A task failing in a worker.
#[flow(task_runner = DistributedTaskRunner)]
pub fn odd_one_out() -> String {
    even_only::submit(3).result().unwrap_err().to_string()
}

/// An async task: `x + 1` after a tokio timer, with the id of the process that computed it.
#[task]
pub async fn async_increment(x: u64) -> (u64, u32) {
    tokio::time::sleep(Duration::from_millis(20)).await;
    (x + 1, std::process::id())
}

/// Increments `0..n` in task workers with an async task.
#[flow(task_runner = DistributedTaskRunner)]
pub async fn async_fan_out(n: u64) -> Vec<(u64, u32)> {
    let mut out = Vec::new();
    for future in async_increment::map(0..n) {
        out.push(future.await.expect("a worker incremented it"));
    }
    out
}

/// Every task the worker serves.
pub fn tasks() -> [&'static flowgate::RemoteTask; 4] {
    [
        &square_in_worker::WORKER,
        &sleepy::WORKER,
        &even_only::WORKER,
        &async_increment::WORKER,
    ]
}

/// Sizes the shirt shop sells.
#[derive(
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    flowgate::RunInput,
    Debug,
    Clone,
    PartialEq,
)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// S.
    Small,
    /// M.
    Medium,
    /// L.
    Large,
}

/// Colours the shirt shop sells.
#[derive(
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    flowgate::RunInput,
    Debug,
    Clone,
    PartialEq,
)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    /// Red.
    Red,
    /// Green.
    Green,
    /// Black.
    Black,
}

/// The seed's ShirtOrder, as a person fills it in on the resume form.
#[derive(
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    flowgate::RunInput,
    Debug,
    Clone,
    PartialEq,
)]
#[run_input(validate = in_stock)]
pub struct ShirtOrder {
    /// Shirt size.
    pub size: Size,
    /// Shirt colour.
    pub color: Color,
    /// How many.
    #[schemars(range(min = 1, max = 10))]
    pub count: u32,
    /// Gift wrapping.
    #[serde(default)]
    pub gift: bool,
}

fn in_stock(order: &ShirtOrder) -> Result<(), String> {
    if order.color == Color::Green && order.size == Size::Small {
        return Err("Green is only in-stock for medium, large, and XL sizes.".to_owned());
    }
    Ok(())
}

/// Pauses for a shirt order, then logs it.
#[flow]
pub fn get_shirt_order() -> ShirtOrder {
    let initial = ShirtOrder {
        size: Size::Medium,
        color: Color::Black,
        count: 1,
        gift: false,
    };
    let order = flowgate::pause_flow_run_for(
        flowgate::Pause::new()
            .description(
                "## Pick a shirt\nWe ship **tomorrow**. <img src=x onerror=\"window.__xss=1\">",
            )
            .with_initial_data(initial),
    )
    .expect("someone orders");
    flowgate::logger().info(format!(
        "Shirt order: {} {:?} {:?} shirt(s)",
        order.count, order.size, order.color
    ));
    order
}

/// One stop of the seed's elevator: `floor` seconds at the floor, its moves logged to its task run.
#[task(log_prints)]
pub fn stop_at_floor(floor: u64) {
    println!("elevator moving to floor {floor}");
    std::thread::sleep(Duration::from_secs(floor));
    println!("elevator stops on floor {floor}");
}

/// The seed's elevator: floors 3, 2 and 1 at once on a pool of three threads, so its timeline
/// shows three overlapping task runs of 3, 2 and 1 s.
#[flow(task_runner = ThreadPoolTaskRunner::new(3))]
pub fn elevator() {
    let floors: Vec<_> = (1..=3).rev().map(stop_at_floor::submit).collect();
    wait(&floors);
}
