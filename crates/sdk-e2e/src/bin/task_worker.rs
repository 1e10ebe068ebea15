//! A task worker for the end-to-end tests: serves the tasks of `flowgate_sdk_e2e` from the
//! server at `FLOWGATE_API_URL` until killed.

fn main() {
    if let Err(e) = flowgate::serve(&flowgate_sdk_e2e::tasks()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
