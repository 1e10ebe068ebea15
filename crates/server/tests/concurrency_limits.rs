//! Concurrency limits over HTTP, as the `prefect` client and Flowgate's SDK use them, on a real
//! server over SQLite and PostgreSQL: Prefect's shapes and statuses, leases, the line of
//! waiters, rate limits, tag limits, and every kind of bad input.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowgate_testkit::{TestDatabase, on_each_backend};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use support::{PATIENCE, Reply, TestServer};

const V2: &str = "/v2/concurrency_limits";

async fn patch(s: &TestServer, path: &str, body: Value) -> Reply {
    let body = ("application/json", body.to_string().into_bytes());
    s.request(Method::PATCH, path, Some(body)).await
}

async fn post(s: &TestServer, path: &str, body: Value) -> Reply {
    s.post_json(path, &body).await
}

async fn create(s: &TestServer, body: Value) -> Value {
    s.post_json(&format!("{V2}/"), &body).await.expect(201)
}

/// Takes one slot of `name` under a lease of `seconds`, waiting at most `wait` seconds.
async fn lease(s: &TestServer, name: &str, seconds: f64, wait: f64) -> Reply {
    let body = json!({"names": [name], "slots": 1, "mode": "concurrency",
                      "lease_duration": seconds, "wait_seconds": wait});
    s.post_json(&format!("{V2}/increment-with-lease"), &body)
        .await
}

async fn release(s: &TestServer, lease_id: &Value) {
    s.post_json(
        &format!("{V2}/decrement-with-lease"),
        &json!({"lease_id": lease_id}),
    )
    .await
    .expect(204);
}

/// Waits (polling the server, no fixed sleeps) until `n` requests wait for `name`.
async fn until_waiting(s: &TestServer, name: &str, n: u64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let holders = s.get(&format!("{V2}/{name}/holders")).await.expect(200);
        if holders["waiting"] == json!(n) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} waiters never queued: {holders}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn active_slots(s: &TestServer, name: &str) -> i64 {
    s.get(&format!("{V2}/{name}")).await.expect(200)["active_slots"]
        .as_i64()
        .unwrap()
}

on_each_backend!(
    global_limits_are_created_read_updated_and_deleted_like_prefect,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        s.delete(&format!("{V2}/db"))
            .await
            .expect_error(404, &["concurrency limit", "not found"]);
        let created = create(&s, json!({"name": "db", "limit": 2})).await;
        for field in ["id", "created", "updated"] {
            assert!(created[field].is_string(), "{created}");
        }
        assert_eq!(created["active"], true);
        assert_eq!(created["limit"], 2);
        assert_eq!(created["active_slots"], 0);
        assert_eq!(created["denied_slots"], 0);
        assert_eq!(created["slot_decay_per_second"], 0.0);
        assert_eq!(created["avg_slot_occupancy_seconds"], 2.0);
        let by_name = s.get(&format!("{V2}/db")).await.expect(200);
        let by_id = s
            .get(&format!("{V2}/{}", created["id"].as_str().unwrap()))
            .await
            .expect(200);
        assert_eq!(by_name, by_id);
        s.post_json(&format!("{V2}/"), &json!({"name": "db", "limit": 5}))
            .await
            .expect_error(409, &["already exists"]);
        create(
            &s,
            json!({"name": "rl", "limit": 2, "slot_decay_per_second": 2.0}),
        )
        .await;
        let all = s
            .post_json(&format!("{V2}/filter"), &json!({"limit": 10, "offset": 0}))
            .await
            .expect(200);
        let names: Vec<_> = all
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].clone())
            .collect();
        assert_eq!(names, [json!("db"), json!("rl")]);
        patch(
            &s,
            &format!("{V2}/db"),
            json!({"limit": 3, "active": false}),
        )
        .await
        .expect(204);
        let updated = s.get(&format!("{V2}/db")).await.expect(200);
        assert_eq!(
            (updated["limit"].clone(), updated["active"].clone()),
            (json!(3), json!(false))
        );
        patch(&s, &format!("{V2}/nope"), json!({"limit": 3}))
            .await
            .expect_error(404, &["not found"]);
        s.delete(&format!("{V2}/db")).await.expect(204);
        s.get(&format!("{V2}/db"))
            .await
            .expect_error(404, &["not found"]);
        s.stop().await;
    }
);

on_each_backend!(
    bad_settings_and_requests_get_a_sentence_not_a_wait,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let create_path = format!("{V2}/");
        post(&s, &create_path, json!({"name": "x", "limit": -1}))
            .await
            .expect_error(422, &["limit must be a whole number from 0"]);
        post(
            &s,
            &create_path,
            json!({"name": "x", "limit": 1, "slot_decay_per_second": -2.0}),
        )
        .await
        .expect_error(
            422,
            &["slot_decay_per_second must be 0 (no decay) or a positive number"],
        );
        post(&s, &create_path, json!({"name": "a/b", "limit": 1}))
            .await
            .expect_error(422, &["may not contain"]);
        create(&s, json!({"name": "db", "limit": 2})).await;
        let inc_path = format!("{V2}/increment-with-lease");
        post(&s, &inc_path, json!({"names": ["db"], "slots": 3}))
            .await
            .expect_error(
                422,
                &["holds at most 2 slots, so asking for 3 can never succeed"],
            );
        post(
            &s,
            &inc_path,
            json!({"names": ["db"], "slots": 1, "mode": "rate_limit"}),
        )
        .await
        .expect_error(422, &["has no slot decay"]);
        post(&s, &inc_path, json!({"names": [], "slots": 1}))
            .await
            .expect_error(422, &["from 1 to 100 concurrency limits"]);
        let many: Vec<String> = (0..101).map(|i| format!("l{i}")).collect();
        post(&s, &inc_path, json!({"names": many, "slots": 1}))
            .await
            .expect_error(422, &["got 101"]);
        post(&s, &inc_path, json!({"names": ["db"], "slots": 0}))
            .await
            .expect_error(422, &["slots must be a whole number above 0"]);
        post(
            &s,
            &inc_path,
            json!({"names": ["db"], "slots": 1, "mode": "fast"}),
        )
        .await
        .expect_error(422, &["mode must be"]);
        post(
            &s,
            &inc_path,
            json!({"names": ["db"], "slots": 1, "lease_duration": 0.5}),
        )
        .await
        .expect_error(422, &["lease_duration must be from 1"]);
        post(
            &s,
            &inc_path,
            json!({"names": ["db"], "slots": 1, "holder": {"type": "worker", "id": Uuid::nil()}}),
        )
        .await
        .expect_error(422, &["holder type must be"]);
        // Nothing above took a slot.
        assert_eq!(active_slots(&s, "db").await, 0);
        let dec_path = format!("{V2}/decrement");
        post(&s, &dec_path, json!({"names": ["db"], "slots": 1}))
            .await
            .expect_error(422, &["only 0 are held without a lease"]);
        s.post_json(
            &format!("{V2}/increment"),
            &json!({"names": ["db"], "slots": 1}),
        )
        .await
        .expect(200);
        post(&s, &dec_path, json!({"names": ["db"], "slots": 2}))
            .await
            .expect_error(422, &["cannot release 2 slots"]);
        assert_eq!(
            post(&s, &dec_path, json!({"names": ["db"], "slots": 1}))
                .await
                .expect(200)[0]["name"],
            "db"
        );
        assert_eq!(
            active_slots(&s, "db").await,
            0,
            "the count never went negative"
        );
        s.stop().await;
    }
);

on_each_backend!(
    leases_are_granted_renewed_refused_when_full_and_released,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        create(&s, json!({"name": "db", "limit": 1})).await;
        let granted = lease(&s, "db", 60.0, 0.0).await.expect(200);
        assert_eq!(granted["limits"][0]["name"], "db");
        assert_eq!(granted["limits"][0]["limit"], 1);
        let lease_id = granted["lease_id"].clone();
        let full = lease(&s, "db", 60.0, 0.0).await;
        assert_eq!(full.status.as_u16(), 423, "{}", full.body);
        let detail = full.body["detail"].as_str().unwrap();
        assert!(detail.contains("1 of 1 taken"), "{detail}");
        let holders = s.get(&format!("{V2}/db/holders")).await.expect(200);
        assert_eq!(holders["leases"][0]["id"], lease_id);
        assert_eq!(holders["waiting"], 0);
        let renew = |id: &str| format!("{V2}/leases/{id}/renew");
        let sixty = json!({"lease_duration": 60});
        post(&s, &renew(lease_id.as_str().unwrap()), sixty.clone())
            .await
            .expect(204);
        post(&s, &renew(&Uuid::now_v7().to_string()), sixty)
            .await
            .expect_error(404, &["not found"]);
        release(&s, &lease_id).await;
        release(&s, &lease_id).await;
        assert_eq!(active_slots(&s, "db").await, 0);
        let denied = s.get(&format!("{V2}/db")).await.expect(200)["denied_slots"].clone();
        assert_eq!(denied, 1);
        lease(&s, "db", 60.0, 0.0).await.expect(200);
        // Names without a limit are ignored, as Prefect does.
        let none = lease(&s, "no-such-limit", 60.0, 0.0).await.expect(200);
        assert_eq!(none["limits"], json!([]));
        s.stop().await;
    }
);

on_each_backend!(a_423_says_when_to_come_back, async |db: TestDatabase| {
    let s = TestServer::start(db).await;
    create(
        &s,
        json!({"name": "rl", "limit": 1, "slot_decay_per_second": 4.0}),
    )
    .await;
    let once = json!({"names": ["rl"], "slots": 1, "mode": "rate_limit", "wait_seconds": 0});
    post(&s, &format!("{V2}/increment"), once).await.expect(200);
    let busy = s
        .http_raw(
            Method::POST,
            &format!("{V2}/increment"),
            json!({"names": ["rl"], "slots": 1, "mode": "rate_limit", "wait_seconds": 0}),
        )
        .await;
    assert_eq!(busy.status().as_u16(), 423);
    let after: f64 = busy.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        after > 0.0 && after <= 0.25,
        "the decay frees the slot within 0.25 s, not {after} s"
    );
    // Waiting at the server instead: granted the moment the slot drains.
    s.post_json(
        &format!("{V2}/increment"),
        &json!({"names": ["rl"], "slots": 1, "mode": "rate_limit", "wait_seconds": 5}),
    )
    .await
    .expect(200);
    s.stop().await;
});

on_each_backend!(
    waiters_are_served_first_come_first_served,
    async |db: TestDatabase| {
        let s = Arc::new(TestServer::start(db).await);
        create(&s, json!({"name": "db", "limit": 1})).await;
        let first = lease(&s, "db", 60.0, 0.0).await.expect(200);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for who in 0..3 {
            let (server, order) = (s.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let got = lease(&server, "db", 60.0, 30.0).await.expect(200);
                order.lock().unwrap().push(who);
                release(&server, &got["lease_id"]).await;
            }));
            until_waiting(&s, "db", who + 1).await;
        }
        release(&s, &first["lease_id"]).await;
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2]);
        assert_eq!(active_slots(&s, "db").await, 0);
    }
);

on_each_backend!(
    a_waiter_that_hangs_up_leaves_the_line_and_gets_nothing,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        create(&s, json!({"name": "db", "limit": 1})).await;
        let held = lease(&s, "db", 60.0, 0.0).await.expect(200);
        let impatient = reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let gave_up = impatient
            .post(s.url(&format!("{V2}/increment-with-lease")))
            .json(&json!({"names": ["db"], "slots": 1, "wait_seconds": 30}))
            .send()
            .await;
        assert!(gave_up.is_err(), "the client timed out");
        until_waiting(&s, "db", 0).await;
        release(&s, &held["lease_id"]).await;
        assert_eq!(
            active_slots(&s, "db").await,
            0,
            "nobody holds the freed slot"
        );
        lease(&s, "db", 60.0, 0.0).await.expect(200);
        s.stop().await;
    }
);

on_each_backend!(
    switching_a_limit_off_lets_its_waiters_through,
    async |db: TestDatabase| {
        let s = Arc::new(TestServer::start(db).await);
        create(&s, json!({"name": "db", "limit": 1})).await;
        lease(&s, "db", 60.0, 0.0).await.expect(200);
        let waiter = {
            let server = s.clone();
            tokio::spawn(async move { lease(&server, "db", 60.0, 30.0).await.expect(200) })
        };
        until_waiting(&s, "db", 1).await;
        patch(&s, &format!("{V2}/db"), json!({"active": false}))
            .await
            .expect(204);
        let got = waiter.await.unwrap();
        assert_eq!(
            got["limits"][0]["name"], "db",
            "an inactive limit is reported, not charged"
        );
        assert_eq!(active_slots(&s, "db").await, 1);
    }
);

on_each_backend!(
    an_expired_lease_frees_its_slot_for_the_next_waiter,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        create(&s, json!({"name": "db", "limit": 1})).await;
        // Taken for one second and never renewed: its holder is as good as dead.
        lease(&s, "db", 1.0, 0.0).await.expect(200);
        let next = lease(&s, "db", 60.0, 30.0).await.expect(200);
        assert_eq!(next["limits"][0]["name"], "db");
        let holders = s.get(&format!("{V2}/db/holders")).await.expect(200);
        assert_eq!(holders["leases"].as_array().unwrap().len(), 1);
        assert_eq!(holders["leases"][0]["id"], next["lease_id"]);
        s.stop().await;
    }
);

on_each_backend!(tag_limits_answer_the_v1_api, async |db: TestDatabase| {
    let s = TestServer::start(db).await;
    s.delete("/concurrency_limits/tag/db-tag")
        .await
        .expect_error(404, &["no concurrency limit on tag"]);
    let created = s
        .post_json(
            "/concurrency_limits/",
            &json!({"tag": "db-tag", "concurrency_limit": 1}),
        )
        .await
        .expect(201);
    assert_eq!(created["tag"], "db-tag");
    assert_eq!(created["active_slots"], json!([]));
    // Prefect 3 keeps tag limits as limits named tag:<tag>: both APIs see the same one.
    let v2 = s.get(&format!("{V2}/tag:db-tag")).await.expect(200);
    assert_eq!(v2["id"], created["id"]);
    let again = s
        .post_json(
            "/concurrency_limits/",
            &json!({"tag": "db-tag", "concurrency_limit": 2}),
        )
        .await
        .expect(200);
    assert_eq!(again["concurrency_limit"], 2);
    let run = Uuid::now_v7();
    let took = s
        .post_json(
            "/concurrency_limits/increment",
            &json!({"names": ["db-tag"], "task_run_id": run}),
        )
        .await
        .expect(200);
    assert_eq!(took[0]["name"], "db-tag");
    let read = s.get("/concurrency_limits/tag/db-tag").await.expect(200);
    assert_eq!(read["active_slots"], json!([run]));
    let by_id = s
        .get(&format!(
            "/concurrency_limits/{}",
            created["id"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(by_id, read);
    s.post_json(
        "/concurrency_limits/decrement",
        &json!({"names": ["db-tag"], "task_run_id": run}),
    )
    .await
    .expect(200);
    assert_eq!(
        s.get("/concurrency_limits/tag/db-tag").await.expect(200)["active_slots"],
        json!([])
    );
    let other = Uuid::now_v7();
    s.post_json(
        "/concurrency_limits/tag/db-tag/reset",
        &json!({"slot_override": [other]}),
    )
    .await
    .expect(200);
    assert_eq!(
        s.get("/concurrency_limits/tag/db-tag").await.expect(200)["active_slots"],
        json!([other])
    );
    let listed = s
        .post_json(
            "/concurrency_limits/filter",
            &json!({"limit": 10, "offset": 0}),
        )
        .await
        .expect(200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    s.post_json(
        "/concurrency_limits/",
        &json!({"tag": "zero", "concurrency_limit": 0}),
    )
    .await
    .expect(201);
    s.post_json(
        "/concurrency_limits/increment",
        &json!({"names": ["zero"], "task_run_id": run}),
    )
    .await
    .expect_error(422, &["tag \"zero\" has a concurrency limit of 0"]);
    s.delete("/concurrency_limits/tag/db-tag").await.expect(200);
    s.get("/concurrency_limits/tag/db-tag")
        .await
        .expect_error(404, &["no concurrency limit on tag"]);
    s.stop().await;
});

on_each_backend!(
    holders_list_each_lease_with_its_holder_slots_and_expiry,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        create(&s, json!({"name": "db", "limit": 3})).await;
        let run = Uuid::new_v4();
        let body = json!({"names": ["db"], "slots": 2, "mode": "concurrency", "lease_duration": 60,
                      "holder": {"type": "task_run", "id": run}});
        let granted = post(&s, &format!("{V2}/increment-with-lease"), body)
            .await
            .expect(200);
        let holders = s.get(&format!("{V2}/db/holders")).await.expect(200);
        let leases = holders["leases"].as_array().expect("a list of leases");
        assert_eq!(leases.len(), 1, "{holders}");
        let lease = &leases[0];
        assert_eq!(lease["id"], granted["lease_id"]);
        assert_eq!(lease["holder"], json!({"type": "task_run", "id": run}));
        assert_eq!(lease["slots"], 2);
        let at = |field: &str| -> jiff::Timestamp {
            lease[field].as_str().expect(field).parse().expect(field)
        };
        let term = at("expires_at").duration_since(at("acquired_at"));
        assert_eq!(term.as_secs(), 60, "{lease}");

        release(&s, &granted["lease_id"]).await;
        let holders = s.get(&format!("{V2}/db/holders")).await.expect(200);
        assert_eq!(holders["leases"], json!([]), "the released lease is gone");
        s.get(&format!("{V2}/nowhere/holders"))
            .await
            .expect_error(404, &["nowhere"]);
        s.stop().await;
    }
);
