#[derive(serde::Serialize, serde::Deserialize, flowgate::RunInput)]
struct Order {
    size: u32,
}

fn main() {}
