//! The SDK's slot channel against a real server on SQLite and PostgreSQL: many threads
//! hammering a limit over the one websocket never exceed it and lose or double-grant no slot
//! (and make no HTTP request for slots), a server restarted mid-use is waited for over HTTP,
//! the channel reopens, and no slot stays taken; through a faulty proxy, a channel that stops
//! answering without closing is given up for HTTP, and one dropped as soon as it opens is
//! tried less and less often.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use Direction::{Downstream, Upstream};
use flowgate::concurrency;
use flowgate::testing::{Harness, connect};
use flowgate_testkit::{TestDatabase, on_each_backend};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CHANNEL_ROUTE: &str = "/api/v2/concurrency_limits/leases/connect";

/// A server on its own runtime, restartable on the same address and database.
struct Server {
    runtime: tokio::runtime::Runtime,
    running: Option<flowgate_server::RunningServer>,
    addr: SocketAddr,
    db: TestDatabase,
}

impl Server {
    fn start(db: TestDatabase) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let mut server = Server {
            runtime,
            running: None,
            addr: ([127, 0, 0, 1], 0).into(),
            db,
        };
        server.restart();
        server
    }

    /// Starts the server (again) on its address.
    fn restart(&mut self) {
        let config = flowgate_server::ServerConfig::new(self.addr, self.db.url.clone());
        let running = self
            .runtime
            .block_on(flowgate_server::start(config))
            .expect("the server starts");
        self.addr = running.addr();
        self.running = Some(running);
    }

    fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime
                .block_on(running.stop())
                .expect("the server stops");
        }
    }

    fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    fn metrics(&self) -> String {
        let url = format!("http://{}/metrics", self.addr);
        self.runtime.block_on(async move {
            reqwest::get(url)
                .await
                .expect("metrics answered")
                .text()
                .await
                .expect("metrics text")
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn limit(h: &Harness, name: &str) -> Value {
    h.get(&format!("/v2/concurrency_limits/{name}"))
}

/// Holders between acquisition and release, and the most seen at once.
#[derive(Default)]
struct Occupancy {
    inside: AtomicU32,
    most: AtomicU32,
}

impl Occupancy {
    fn hold(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

on_each_backend!(
    many_threads_hammering_a_limit_over_the_slot_channel_never_exceed_it,
    |db: TestDatabase| {
        let server = Server::start(db);
        let h = connect(&server.api_url());
        h.post(
            "/v2/concurrency_limits/",
            json!({"name": "hammered", "limit": 3}),
        );
        let (threads, rounds) = (12, 50);
        let occupancy = Occupancy::default();
        let granted = Mutex::new(HashSet::new());
        std::thread::scope(|s| {
            for t in 0..threads {
                let (h, occupancy, granted) = (&h, &occupancy, &granted);
                s.spawn(move || {
                    let _served = h.enter();
                    for round in 0..rounds {
                        let guard = concurrency("hammered", 1).acquire().expect("a slot");
                        occupancy.hold();
                        let lease = guard.lease_id().expect("a lease");
                        assert!(granted.lock().unwrap().insert(lease), "{lease} twice");
                        if (t + round) % 2 == 0 {
                            guard.release().expect("given back");
                        } else {
                            drop(guard);
                        }
                    }
                });
            }
        });
        assert!(
            occupancy.most.load(Ordering::SeqCst) <= 3,
            "the limit was exceeded"
        );
        assert_eq!(granted.lock().unwrap().len(), threads * rounds);
        assert_eq!(limit(&h, "hammered")["active_slots"], 0, "a slot was lost");
        let metrics = server.metrics();
        assert!(
            !metrics.contains("increment-with-lease") && !metrics.contains("decrement-with-lease"),
            "slots went over HTTP, not the channel:\n{metrics}"
        );
    }
);

on_each_backend!(
    a_server_restarted_mid_use_is_waited_for_and_no_slot_stays_taken,
    |db: TestDatabase| {
        let mut server = Server::start(db);
        let h = connect(&server.api_url());
        h.post(
            "/v2/concurrency_limits/",
            json!({"name": "restarted", "limit": 2}),
        );
        let occupancy = Occupancy::default();
        let (stop, taken) = (AtomicBool::new(false), AtomicU64::new(0));
        std::thread::scope(|s| {
            for _ in 0..6 {
                let (h, occupancy, stop, taken) = (&h, &occupancy, &stop, &taken);
                s.spawn(move || {
                    let _served = h.enter();
                    while !stop.load(Ordering::SeqCst) {
                        // A short lease: a grant lost with the connection frees soon.
                        let guard = concurrency("restarted", 1)
                            .lease_duration(Duration::from_secs(2))
                            .acquire()
                            .expect("a slot, across the restart");
                        occupancy.hold();
                        drop(guard);
                        taken.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(300));
            server.stop();
            std::thread::sleep(Duration::from_millis(300));
            server.restart();
            let after = taken.load(Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(20);
            let reopened = format!("flowgate_websocket_connections{{route=\"{CHANNEL_ROUTE}\"}} 1");
            while !server.metrics().contains(&reopened) {
                assert!(Instant::now() < deadline, "the slot channel never reopened");
                std::thread::sleep(Duration::from_millis(50));
            }
            while taken.load(Ordering::SeqCst) < after + 100 {
                assert!(Instant::now() < deadline, "no progress after the restart");
                std::thread::sleep(Duration::from_millis(10));
            }
            stop.store(true, Ordering::SeqCst);
        });
        assert!(
            occupancy.most.load(Ordering::SeqCst) <= 2,
            "the limit was exceeded"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while limit(&h, "restarted")["active_slots"] != 0 {
            assert!(
                Instant::now() < deadline,
                "a slot stayed taken: {}",
                limit(&h, "restarted")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
);

/// What the proxy does to the slot channel's connections (HTTP always goes through).
#[derive(Default)]
struct Faults {
    /// Stop forwarding them without closing them (a dead network, a proxy holding them open).
    frozen: AtomicBool,
    /// Close each one after its handshake, on the first frame of calls (a proxy that drops
    /// websockets).
    dropping: AtomicBool,
    /// Slot-channel connections opened through the proxy.
    channels: AtomicU32,
}

/// A TCP proxy in front of the server, doing `faults` to the slot channel's connections.
fn faulty_proxy(server: &Server, faults: Arc<Faults>) -> SocketAddr {
    let upstream = server.addr;
    let listener = server
        .runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("a port");
    let addr = listener.local_addr().expect("bound");
    server.runtime.spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let faults = faults.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut client_in, client_out) = client.into_split();
                let (server_in, mut server_out) = server.into_split();
                let mut first = vec![0; 16 * 1024];
                let Ok(n) = client_in.read(&mut first).await else {
                    return;
                };
                let channel = String::from_utf8_lossy(&first[..n]).contains("leases/connect");
                if channel {
                    faults.channels.fetch_add(1, Ordering::SeqCst);
                }
                if server_out.write_all(&first[..n]).await.is_err() {
                    return;
                }
                let up = pipe(client_in, server_out, &faults, channel.then_some(Upstream));
                let down = pipe(
                    server_in,
                    client_out,
                    &faults,
                    channel.then_some(Downstream),
                );
                tokio::join!(up, down);
            });
        }
    });
    addr
}

/// Which way a slot channel's bytes go through the proxy.
#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Upstream,
    Downstream,
}

/// Copies bytes until either side closes; a slot channel's (`channel` says which way) suffers
/// the faults.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    faults: &Faults,
    channel: Option<Direction>,
) {
    let mut buf = vec![0; 64 * 1024];
    for chunk in 0.. {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if channel.is_some() && faults.frozen.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        // The first chunk after the upgrade is the auth frame; the next carries calls.
        if channel == Some(Upstream) && chunk >= 1 && faults.dropping.load(Ordering::SeqCst) {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[test]
fn a_slot_channel_that_stops_answering_is_given_up_for_http() {
    let server = Server::start(flowgate_testkit::sqlite());
    let faults = Arc::new(Faults::default());
    let proxy = faulty_proxy(&server, faults.clone());
    let h = connect(&format!("http://{proxy}/api"));
    h.post(
        "/v2/concurrency_limits/",
        json!({"name": "frozen", "limit": 1}),
    );
    concurrency("frozen", 1)
        .acquire()
        .expect("a slot over the channel")
        .release()
        .expect("given back");

    faults.frozen.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let guard = concurrency("frozen", 1)
        .max_wait(Duration::from_millis(100))
        .acquire()
        .expect("a slot over HTTP once the channel is given up");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(20),
        "given up after {waited:?}"
    );
    faults.frozen.store(false, Ordering::SeqCst);
    guard.release().expect("given back");
    assert_eq!(limit(&h, "frozen")["active_slots"], 0);
}

#[test]
fn a_slot_channel_dropped_as_soon_as_it_opens_is_tried_less_and_less() {
    let server = Server::start(flowgate_testkit::sqlite());
    let faults = Arc::new(Faults::default());
    faults.dropping.store(true, Ordering::SeqCst);
    let proxy = faulty_proxy(&server, faults.clone());
    let h = connect(&format!("http://{proxy}/api"));
    h.post(
        "/v2/concurrency_limits/",
        json!({"name": "dropped", "limit": 1}),
    );
    let started = Instant::now();
    let mut rounds = 0;
    while started.elapsed() < Duration::from_secs(2) {
        concurrency("dropped", 1)
            .acquire()
            .expect("a slot over HTTP")
            .release()
            .expect("given back");
        rounds += 1;
    }
    // Back-offs of 0.25, 0.5 and 1 s fill the two seconds: a handful of attempts, not one per
    // call.
    let channels = faults.channels.load(Ordering::SeqCst);
    assert!(
        rounds > 50 && channels <= 6,
        "{channels} channels for {rounds} rounds"
    );
    assert_eq!(limit(&h, "dropped")["active_slots"], 0);
}
