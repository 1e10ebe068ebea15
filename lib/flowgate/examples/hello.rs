//! The smallest flow: two tasks, recorded. Run with `cargo run -p flowgate --example hello`
//! (no server needed: an embedded one records the runs in ~/.flowgate/flowgate.db).

use flowgate::{flow, logger, task};

#[task]
fn greet(name: String) -> String {
    format!("Hello, {name}!")
}

#[task(retries = 1)]
fn shout(text: String) -> String {
    text.to_uppercase()
}

#[flow(log_prints)]
fn hello(name: String) -> String {
    let greeting = greet(name);
    logger().info(format!("greeting is {greeting:?}"));
    let loud = shout(greeting);
    println!("{loud}");
    loud
}

fn main() {
    let out = hello("world".to_owned());
    assert_eq!(out, "HELLO, WORLD!");
}
