use flowgate::flow;

#[derive(serde::Serialize, serde::Deserialize)]
struct Order {
    size: u32,
}

#[flow]
fn ship(order: Order) -> u32 {
    order.size
}

fn main() {
    // The flow itself compiles and runs; deploying it needs a schema for `Order`.
    let _ = ship::deployment("daily").apply();
}
