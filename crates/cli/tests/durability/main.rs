//! Nothing acknowledged is lost: a server killed with SIGKILL again and again (3 times here, 20
//! in the soak: `FLOWGATE_SOAK_KILLS=20`) and restarted on the same port and database, while
//! clients work against it, on each backend. Under the kills run four plain HTTP writers
//! (`writers`), the real `prefect` client's flows (`prefect_load`), Rust SDK flows
//! (`sdk_load`), SDK flows paused for input (`paused`) and task-queue workers (`leases`). The
//! server stays down 0, 1.25 or 2.5 s in turn: a quick restart, and ones longer than the quick
//! retries clients make before they treat the server as restarting.
//! Afterwards every acknowledged state, event and log is stored, every flow whose program saw it
//! end has that end on the server, paused runs still wait for their input and can be resumed,
//! and live leases were never handed out while lapsed ones were.

#[path = "../common/mod.rs"]
mod common;
mod leases;
mod paused;
mod prefect_load;
mod sdk_load;
mod writers;

use std::time::{Duration, Instant};

use common::{Api, ServerProcess};
use flowgate_testkit::{TestDatabase, on_each_backend};
use serde_json::json;

/// Kills per test: 3 in the test command; `FLOWGATE_SOAK_KILLS=20` makes it the soak whose
/// figures are in BENCHMARKS.md.
fn kills() -> usize {
    std::env::var("FLOWGATE_SOAK_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

/// Waits until every client made progress since `before` (the writers 60 more acknowledged
/// states, each flow client one more flow), so a kill lands in the middle of their work, not
/// after a fixed time however slow a busy machine makes them.
fn wait_for_progress(
    writers: &writers::Writers,
    sdk: &sdk_load::SdkLoad,
    prefect: Option<&prefect_load::PrefectLoad>,
    before: (usize, usize, usize),
) -> (usize, usize, usize) {
    let now = || {
        (
            writers.progress.load(std::sync::atomic::Ordering::Relaxed),
            sdk.finished.load(std::sync::atomic::Ordering::Relaxed),
            prefect.map_or(usize::MAX, |p| p.finished()),
        )
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (w, s, p) = now();
        if w >= before.0 + 60 && s > before.1 && (p > before.2 || before.2 == usize::MAX) {
            return (w, s, p);
        }
        assert!(
            Instant::now() < deadline,
            "the clients made no progress in 2 minutes: {:?} since {before:?}",
            now()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The wall clock in seconds since the Unix epoch, as Python's `time.time()` reads it.
fn unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

on_each_backend!(
    a_server_killed_again_and_again_keeps_every_acknowledged_write,
    |db: TestDatabase| {
        let home = tempfile::tempdir().unwrap();
        let mut server = ServerProcess::start(home.path(), &db.url);
        let (port, url) = (server.port(), server.api.clone());
        let mut api = Api::new(&url);
        let (status, flow) = api.post("/flows/", &json!({"name": "durable"}));
        assert_eq!(status, 201);
        let flow_id = flow["id"].as_str().unwrap().to_owned();

        let started = Instant::now();
        let writers = writers::Writers::start(&url, &flow_id);
        let sdk = sdk_load::SdkLoad::start(&url);
        let prefect = prefect_load::PrefectLoad::start(&url, home.path());
        let mut leases = leases::Leases::default();
        let mut paused = Vec::new();
        let mut progress = (0, 0, 0);
        let mut kill_times = Vec::new();
        for round in 0..kills() {
            // One pause before the first kill, one among the kills.
            if round == 0 || round == kills() / 2 {
                paused.push(paused::PausedFlow::start(&url, &api));
            }
            leases.round(&api, round);
            progress = wait_for_progress(&writers, &sdk, prefect.as_ref(), progress);
            server.kill();
            kill_times.push(unix_seconds());
            std::thread::sleep(Duration::from_millis(1250 * (round as u64 % 3)));
            server = ServerProcess::start_on(home.path(), &db.url, port);
            // A fresh client: the old one's pooled connections died with the server.
            api = Api::new(&url);
        }
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

        let acked = writers.stop();
        let sdk = sdk.stop_and_check(&api);
        let prefect = prefect.map(|p| p.stop_and_check(&api, &kill_times));
        let elapsed = started.elapsed().as_secs_f64();
        writers::check(&api, &acked);
        assert!(
            acked.states.len() > 20 * kills(),
            "the writers got going before each kill ({} states)",
            acked.states.len()
        );
        assert!(sdk.completed >= kills(), "{sdk:?}");
        for flow in paused {
            flow.check_and_resume(&api);
        }
        leases.check(&api);
        eprintln!(
            "{} kills on {} in {elapsed:.1} s (load average {}): writers {} states and {} \
             events acknowledged; SDK flows {} completed, {} failed {:?}; prefect flows {:?}; \
             0 lost",
            kills(),
            db.backend,
            load.split(' ').take(3).collect::<Vec<_>>().join(" "),
            acked.states.len(),
            acked.events.len(),
            sdk.completed,
            sdk.failed.len(),
            sdk.failed.first(),
            prefect,
        );
        let status = server.terminate();
        assert!(
            status.success(),
            "SIGTERM shuts the server down cleanly: {status:?}"
        );
    }
);
