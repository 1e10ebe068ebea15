struct Connection;

#[flowgate::task]
fn query(conn: Connection) -> u32 {
    let _ = conn;
    1
}

fn main() {}
