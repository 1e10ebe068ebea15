#[flowgate::flow(tags = [nightly])]
fn report() {}

fn main() {}
