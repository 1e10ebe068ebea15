//! Human in the loop: the flow pauses until a person fills in a shirt order (in the web UI's
//! form, or with the CLI), checks it, and goes on. Run it and, in another terminal, look at what
//! it waits for and answer it by the run's name:
//!
//! ```text
//! cargo run -p flowgate --example pause_for_input
//! flowgate flow-run inspect NAME
//! flowgate flow-run resume NAME --input '{"size": "large", "color": "red"}'
//! ```
//!
//! (Point both at one server: `flowgate server start` and `FLOWGATE_API_URL`.)

use std::time::Duration;

use flowgate::{Pause, PauseError, RunInput, current_flow_run_name, flow};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, schemars::JsonSchema, Debug, Clone, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Size {
    Small,
    Medium,
    Large,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Debug, Clone, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Color {
    Red,
    Green,
}

/// What a person fills in; the server checks the schema's rules, `in_stock` the rest.
#[derive(Serialize, Deserialize, schemars::JsonSchema, RunInput, Debug)]
#[run_input(validate = in_stock)]
struct ShirtOrder {
    size: Size,
    color: Color,
    #[schemars(range(min = 1, max = 10))]
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

fn in_stock(order: &ShirtOrder) -> Result<(), String> {
    if order.color == Color::Green && order.size == Size::Small {
        return Err("Green is only in stock for medium and large sizes.".to_owned());
    }
    Ok(())
}

#[flow]
fn get_shirt_order() -> Result<String, PauseError> {
    let name = current_flow_run_name().unwrap_or_default();
    eprintln!("waiting for an order: flowgate flow-run inspect {name}");
    let order = flowgate::pause_flow_run_for(
        Pause::new()
            .description("## Pick a shirt\nWe ship tomorrow.")
            .with_initial_data(ShirtOrder {
                size: Size::Medium,
                color: Color::Red,
                count: 1,
            })
            .timeout(Duration::from_secs(600)),
    )?;
    Ok(format!(
        "{} {:?} {:?} shirt(s)",
        order.count, order.size, order.color
    ))
}

fn main() {
    match get_shirt_order() {
        Ok(order) => println!("ordered: {order}"),
        Err(e) => eprintln!("no order: {e}"),
    }
}
