#[flowgate::task]
fn echo<T: Clone>(value: T) -> T {
    value
}

fn main() {}
