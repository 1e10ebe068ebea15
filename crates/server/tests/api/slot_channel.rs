//! The slot channel (`/v2/concurrency_limits/leases/connect`): calls answered by id with what
//! their HTTP routes would answer, waiters served when slots free, a dropped connection's
//! waiters out of the line, bad frames refused with an error frame and a close.

use std::collections::HashMap;

use super::*;
use crate::support::Ws;

const CHANNEL: &str = "/v2/concurrency_limits/leases/connect";

async fn create_limit(s: &TestServer, body: Value) {
    s.post_json("/v2/concurrency_limits/", &body)
        .await
        .expect(201);
}

fn acquire(id: u64, name: &str, wait: f64) -> Value {
    json!({"type": "acquire", "id": id,
           "request": {"names": [name], "slots": 1, "lease_duration": 60, "wait_seconds": wait}})
}

/// Reads answer frames until `n` answers came; they are returned by id.
async fn answers(ws: &mut Ws, n: usize) -> HashMap<u64, Value> {
    let mut got = HashMap::new();
    while got.len() < n {
        let frame = next_json(ws).await;
        assert_eq!(frame["type"], "answers", "{frame}");
        for a in frame["answers"].as_array().unwrap() {
            got.insert(a["id"].as_u64().unwrap(), a.clone());
        }
    }
    got
}

async fn active_slots(s: &TestServer, name: &str) -> Value {
    s.get(&format!("/v2/concurrency_limits/{name}"))
        .await
        .expect(200)["active_slots"]
        .clone()
}

async fn until_waiting(s: &TestServer, name: &str, n: u64) {
    let path = format!("/v2/concurrency_limits/{name}/holders");
    s.eventually(&format!("{n} waiting on {name}"), || async {
        (s.get(&path).await.expect(200)["waiting"] == json!(n)).then_some(())
    })
    .await;
}

on_each_backend!(
    slot_channel_calls_are_answered_by_id_as_their_http_routes_answer,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        create_limit(&s, json!({"name": "db", "limit": 2})).await;
        let mut ws = s.ws_connect_authenticated(CHANNEL).await;
        let gone = Uuid::new_v4();
        let frame = json!({"calls": [
            acquire(7, "db", 0.0),
            acquire(8, "db", 0.0),
            {"type": "renew", "id": 9, "lease_id": gone, "lease_duration": 30},
            {"type": "acquire", "id": 10, "request": {"names": ["db"], "slots": 3}},
            {"type": "acquire", "id": 11, "request": {"names": ["db"], "slots": 1, "mode": "rate_limit"}},
        ]});
        send_json(&mut ws, &frame).await;
        let got = answers(&mut ws, 5).await;
        for id in [7, 8] {
            assert_eq!(got[&id]["outcome"], "granted", "{}", got[&id]);
            assert_eq!(got[&id]["limits"][0]["name"], "db");
        }
        assert_ne!(got[&7]["lease_id"], got[&8]["lease_id"]);
        assert_eq!(active_slots(&s, "db").await, 2);
        assert_eq!(got[&9]["status"], 404, "{}", got[&9]);
        assert!(got[&9]["detail"].as_str().unwrap().contains("not found"));
        // Refusals say what the HTTP routes say.
        let too_many = s
            .post_json(
                "/v2/concurrency_limits/increment-with-lease",
                &json!({"names": ["db"], "slots": 3}),
            )
            .await;
        assert_eq!(too_many.status, 422);
        assert_eq!(got[&10]["status"], 422);
        assert_eq!(got[&10]["detail"], too_many.body["detail"]);
        assert_eq!(got[&11]["status"], 422);
        assert!(
            got[&11]["detail"]
                .as_str()
                .unwrap()
                .contains("no slot decay"),
            "{}",
            got[&11]
        );

        let release =
            |id: u64, lease: &Value| json!({"type": "release", "id": id, "lease_id": lease});
        let frame = json!({"calls": [release(12, &got[&7]["lease_id"]), release(13, &got[&8]["lease_id"])]});
        send_json(&mut ws, &frame).await;
        let done = answers(&mut ws, 2).await;
        assert!(done.values().all(|a| a["outcome"] == "done"), "{done:?}");
        assert_eq!(active_slots(&s, "db").await, 0);

        let document = s.get("/openapi.json").await.expect(200);
        let frames = &document["paths"][CHANNEL]["get"]["x-websocket-frames"];
        assert!(frames["send"]["$ref"].is_string(), "{frames}");
        assert!(frames["receive"]["$ref"].is_string(), "{frames}");
        s.stop().await;
    }
);

on_each_backend!(
    a_slot_channel_waiter_is_granted_when_a_slot_frees_or_waits_out_with_a_423,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        create_limit(&s, json!({"name": "db", "limit": 1})).await;
        let mut ws = s.ws_connect_authenticated(CHANNEL).await;
        send_json(&mut ws, &json!({"calls": [acquire(1, "db", 0.0)]})).await;
        let held = answers(&mut ws, 1).await.remove(&1).unwrap();
        assert_eq!(held["outcome"], "granted");

        send_json(&mut ws, &json!({"calls": [acquire(2, "db", 0.2)]})).await;
        let waited = answers(&mut ws, 1).await.remove(&2).unwrap();
        assert_eq!(waited["status"], 423, "{waited}");
        assert!(waited["retry_after_seconds"].as_f64().unwrap() > 0.0);
        assert!(
            waited["detail"].as_str().unwrap().contains("no room"),
            "{waited}"
        );

        send_json(&mut ws, &json!({"calls": [acquire(3, "db", 30.0)]})).await;
        until_waiting(&s, "db", 1).await;
        let release = json!({"type": "release", "id": 4, "lease_id": held["lease_id"]});
        send_json(&mut ws, &json!({"calls": [release]})).await;
        let got = answers(&mut ws, 2).await;
        assert_eq!(got[&4]["outcome"], "done");
        assert_eq!(got[&3]["outcome"], "granted", "{}", got[&3]);
        assert_eq!(active_slots(&s, "db").await, 1);
        s.stop().await;
    }
);

on_each_backend!(
    a_dropped_slot_channel_leaves_the_line_and_gets_nothing,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        create_limit(&s, json!({"name": "db", "limit": 1})).await;
        let held = s
            .post_json(
                "/v2/concurrency_limits/increment-with-lease",
                &json!({"names": ["db"], "slots": 1}),
            )
            .await
            .expect(200);
        let mut ws = s.ws_connect_authenticated(CHANNEL).await;
        let calls: Vec<Value> = (1..=3).map(|id| acquire(id, "db", 30.0)).collect();
        send_json(&mut ws, &json!({ "calls": calls })).await;
        until_waiting(&s, "db", 3).await;
        drop(ws);
        until_waiting(&s, "db", 0).await;
        s.post_json(
            "/v2/concurrency_limits/decrement-with-lease",
            &json!({"lease_id": held["lease_id"]}),
        )
        .await
        .expect(204);
        assert_eq!(
            active_slots(&s, "db").await,
            0,
            "nobody holds the freed slot"
        );
        s.stop().await;
    }
);

on_each_backend!(
    a_bad_slot_channel_frame_gets_an_error_frame_and_a_close,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let too_many: Vec<Value> = (0..=4096).map(|id| acquire(id, "db", 0.0)).collect();
        let bad = [
            ("not json".to_owned(), "not a slot-channel frame"),
            (
                json!({"calls": [{"type": "steal", "id": 1}]}).to_string(),
                "steal",
            ),
            (
                json!({ "calls": too_many }).to_string(),
                "at most 4096 calls",
            ),
        ];
        for (frame, needle) in bad {
            let mut ws = s.ws_connect_authenticated(CHANNEL).await;
            ws.send(Message::text(frame)).await.unwrap();
            let error = next_json(&mut ws).await;
            assert_eq!(error["type"], "error", "{error}");
            let detail = error["detail"].as_str().unwrap();
            assert!(detail.contains(needle), "{detail:?} lacks {needle:?}");
            match next_message(&mut ws).await {
                Some(Message::Close(Some(close))) => assert_eq!(close.code, CloseCode::Policy),
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
        // The server is none the worse.
        create_limit(&s, json!({"name": "db", "limit": 1})).await;
        let mut ws = s.ws_connect_authenticated(CHANNEL).await;
        send_json(&mut ws, &json!({"calls": [acquire(1, "db", 0.0)]})).await;
        assert_eq!(answers(&mut ws, 1).await[&1]["outcome"], "granted");
        s.stop().await;
    }
);
