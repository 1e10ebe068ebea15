//! A task worker for the end-to-end tests: serves the tasks of `flowgate_sdk_e2e` from the
//! server at `FLOWGATE_API_URL` until killed. `e2e-task-worker fan-out N` instead runs the
//! `fan_out(N)` flow (its tasks go to workers) and prints the squares, as a program run from a
//! shell with `FLOWGATE_API_URL` (and `FLOWGATE_API_KEY`) set would.

fn main() {
    let mut args = std::env::args().skip(1);
    let outcome = match args.next().as_deref() {
        Some("fan-out") => {
            let n = args.next().and_then(|n| n.parse().ok()).unwrap_or(4);
            flowgate_sdk_e2e::fan_out::run(n)
                .map(|out| println!("{:?}", out.iter().map(|(sq, _)| sq).collect::<Vec<_>>()))
                .map_err(|e| e.to_string())
        }
        _ => flowgate::serve(&flowgate_sdk_e2e::tasks()).map_err(|e| e.to_string()),
    };
    if let Err(e) = outcome {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
