#[flowgate::task]
struct Adder;

fn main() {}
