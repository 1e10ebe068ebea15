//! Task-queue leases across kills. Each round queues two background task calls: a live
//! worker claims one under a long lease and renews all it holds, a worker that then "dies"
//! claims the other under a 2 s lease and is never heard of again. After the kills, another
//! worker's claim gets exactly the dead worker's calls (their leases lapsed) and none of the
//! live worker's, and the live worker still holds and finishes its own.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::Api;

const KEY: &str = "kill-soak-lease";
const LIVE: &str = "live-worker";

/// The calls queued, and those the live worker claimed.
#[derive(Default)]
pub struct Leases {
    queued: BTreeSet<String>,
    live: BTreeSet<String>,
}

fn claim(api: &Api, worker: &str, lease_seconds: f64, limit: u32) -> Vec<String> {
    let (status, claimed) = api.post(
        "/flowgate/task_queue/claim",
        &json!({"task_keys": [KEY], "worker": worker, "limit": limit,
                "lease_seconds": lease_seconds, "max_attempts": 5}),
    );
    assert_eq!(status, 200, "{claimed}");
    claimed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

fn heartbeat(api: &Api, ids: &BTreeSet<String>) -> Value {
    let (status, answer) = api.post(
        "/flowgate/task_queue/heartbeat",
        &json!({"worker": LIVE, "ids": ids, "lease_seconds": 3600.0}),
    );
    assert_eq!(status, 200, "{answer}");
    answer
}

impl Leases {
    /// Before a round's kill: queues two calls; the live worker claims one and renews every
    /// lease it holds, a short-lived worker claims the other.
    pub fn round(&mut self, api: &Api, round: usize) {
        for _ in 0..2 {
            let id = Uuid::now_v7().to_string();
            let (status, body) = api.post(
                "/flowgate/task_queue/",
                &json!({"id": id, "task_key": KEY, "parameters": {"round": round}}),
            );
            assert_eq!(status, 201, "{body}");
            self.queued.insert(id);
        }
        // A claim takes the oldest call it may: a new one, or one whose lease lapsed (an
        // earlier round's dead worker's), never one under a live lease.
        let live = claim(api, LIVE, 3600.0, 1);
        assert_eq!(live.len(), 1, "the live worker claims one call");
        self.live.extend(live);
        let held = heartbeat(api, &self.live);
        assert_eq!(
            held["held"],
            json!(self.live.len()),
            "the live worker holds all it claimed"
        );
        let dead = claim(api, &format!("dead-worker-{round}"), 2.0, 1);
        assert_eq!(
            dead.len(),
            1,
            "the short-lived worker claims the other call"
        );
        for id in dead {
            assert!(
                !self.live.contains(&id),
                "call {id} under a live lease was handed out"
            );
        }
    }

    /// After the kills: the dead workers' calls (and any left queued) go to a new worker once
    /// their leases lapse, never the live worker's; the live worker still holds its calls and
    /// finishes them.
    pub fn check(self, api: &Api) {
        let others: BTreeSet<String> = self.queued.difference(&self.live).cloned().collect();
        let mut taken = BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while taken.len() < others.len() && Instant::now() < deadline {
            taken.extend(claim(api, "after-worker", 60.0, 100));
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(
            taken, others,
            "a new worker gets exactly the dead workers' calls, not the live worker's"
        );
        let held = heartbeat(api, &self.live);
        assert_eq!(
            held["held"],
            json!(self.live.len()),
            "the live worker still holds every call it claimed before the kills"
        );
        for (worker, ids) in [(LIVE, &self.live), ("after-worker", &others)] {
            for id in ids {
                let (status, body) = api.post(
                    &format!("/flowgate/task_queue/{id}/finish"),
                    &json!({"worker": worker, "result": {"ok": true}}),
                );
                assert_eq!(status, 204, "{worker} finishes {id}: {body}");
                let (_, task) = api.get(&format!("/flowgate/task_queue/{id}"));
                assert_eq!(task["status"], "done", "{task}");
            }
        }
        let dead = others.first().expect("at least one round");
        let (status, _) = api.post(
            &format!("/flowgate/task_queue/{dead}/finish"),
            &json!({"worker": "dead-worker-0", "result": {"late": true}}),
        );
        assert_eq!(status, 409, "a dead worker's late report is refused");
    }
}
