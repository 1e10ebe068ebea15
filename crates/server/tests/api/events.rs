//! `/events/filter` paging (`next_page` links to `/events/filter/next`) and
//! `/events/count-by/{countable}`.

use super::*;

/// `n` events named `paged.<i>` about one resource, occurring a second apart from `start`.
fn spaced_events(n: usize, start: jiff::Timestamp, resource: &str) -> Value {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let mut e = plain_event(&format!("paged.{i}"), resource);
            e["occurred"] = json!(stamp(start + jiff::SignedDuration::from_secs(i as i64)));
            e
        })
        .collect();
    json!(events)
}

/// The API path of an absolute `next_page` URL.
fn api_path(next_page: &Value) -> String {
    let url = next_page.as_str().expect("a next_page URL");
    let (_, path) = url.split_once("/api").expect("an /api URL");
    path.to_owned()
}

fn ids(events: &Value) -> Vec<String> {
    events["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

on_each_backend!(
    event_pages_follow_next_page_and_hold_still_while_events_arrive,
    async |db: TestDatabase| {
        let s = TestServer::start_on_manual_clock(db).await;
        let resource = "prefect.flow-run.paged";
        let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
        s.post_json("/events/", &spaced_events(25, start, resource))
            .await
            .expect(204);
        let filter = json!({"filter": {"resource": {"id": [resource]}}, "limit": 100});
        let all = ids(&s.post_json("/events/filter", &filter).await.expect(200));
        assert_eq!(all.len(), 25);

        let first = json!({"filter": {"resource": {"id": [resource]}}, "limit": 10});
        let mut page = s.post_json("/events/filter", &first).await.expect(200);
        assert_eq!(page["total"], 25);
        // Events arriving after the first page, among those still to be listed and newer than
        // all of them, appear on no later page.
        s.clock.advance(Duration::from_secs(1));
        let mut late = spaced_events(3, start + jiff::SignedDuration::from_secs(5), resource);
        late[2]["occurred"] = json!(stamp(jiff::Timestamp::now()));
        s.post_json("/events/", &late).await.expect(204);

        let mut seen = ids(&page);
        let mut pages = 1;
        while !page["next_page"].is_null() {
            let url = page["next_page"].as_str().unwrap();
            assert!(
                url.starts_with("http://") && url.contains("/api/events/filter/next?page-token="),
                "{url}"
            );
            page = s.get(&api_path(&page["next_page"])).await.expect(200);
            assert_eq!(page["total"], 25, "the first page's total is kept");
            seen.extend(ids(&page));
            pages += 1;
        }
        assert_eq!(pages, 3);
        assert_eq!(
            seen, all,
            "every event once, newest first, none of the late ones"
        );
        s.stop().await;
    }
);

on_each_backend!(
    an_ascending_listing_pages_in_its_own_order,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let resource = "prefect.flow-run.ascending";
        let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
        s.post_json("/events/", &spaced_events(7, start, resource))
            .await
            .expect(204);
        let body = json!({"filter": {"resource": {"id": [resource]}, "order": "ASC"}, "limit": 3});
        let mut page = s.post_json("/events/filter", &body).await.expect(200);
        let mut names = Vec::new();
        loop {
            names.extend(
                page["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["event"].as_str().unwrap().to_owned()),
            );
            if page["next_page"].is_null() {
                break;
            }
            page = s.get(&api_path(&page["next_page"])).await.expect(200);
        }
        let expected: Vec<String> = (0..7).map(|i| format!("paged.{i}")).collect();
        assert_eq!(names, expected);
        // A listing that fits on one page links nowhere.
        let whole = json!({"filter": {"resource": {"id": [resource]}}, "limit": 7});
        assert!(s.post_json("/events/filter", &whole).await.expect(200)["next_page"].is_null());
        s.stop().await;
    }
);

on_each_backend!(
    a_bad_forged_or_expired_page_token_is_refused_naming_it,
    async |db: TestDatabase| {
        let s = TestServer::start_on_manual_clock(db).await;
        let resource = "prefect.flow-run.tokens";
        let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
        s.post_json("/events/", &spaced_events(4, start, resource))
            .await
            .expect(204);
        for token in ["nonsense", "eyJmb28iOjF9", ""] {
            s.get(&format!("/events/filter/next?page-token={token}"))
                .await
                .expect_error(422, &["page-token", "POST /api/events/filter"]);
        }
        s.get("/events/filter/next")
            .await
            .expect_error(400, &["page-token"]);

        let body = json!({"filter": {"resource": {"id": [resource]}}, "limit": 2});
        let page = s.post_json("/events/filter", &body).await.expect(200);
        let next = api_path(&page["next_page"]);
        let token = next.split_once("page-token=").unwrap().1;
        let text = base64_decode(token);
        let mut forged: Value = serde_json::from_slice(&text).expect("a token is JSON");
        // A token edited by hand is read like any filter body: values are bound, never SQL,
        // and limits are checked.
        forged["filter"]["event"] = json!({"name": ["x' OR '1'='1"]});
        let reply = s
            .get(&format!(
                "/events/filter/next?page-token={}",
                base64_encode(&forged)
            ))
            .await
            .expect(200);
        assert_eq!(reply["events"], json!([]));
        forged["limit"] = json!(1_000_000);
        s.get(&format!(
            "/events/filter/next?page-token={}",
            base64_encode(&forged)
        ))
        .await
        .expect_error(422, &["limit"]);
        assert_eq!(s.events(json!({"resource": {"id": [resource]}})).await.1, 4);

        s.get(&next).await.expect(200);
        s.clock.advance(Duration::from_secs(2 * 3600));
        s.get(&next)
            .await
            .expect_error(422, &["page-token", "expired"]);
        s.stop().await;
    }
);

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .expect("a token is base64url")
}

fn base64_encode(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

on_each_backend!(
    the_prefect_clients_event_filter_is_read_as_prefect_reads_it,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let resource = "prefect.flow-run.client-shape";
        let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
        s.post_json("/events/", &spaced_events(2, start, resource))
            .await
            .expect(204);
        // What `prefect`'s `EventFilter(resource=EventResourceFilter(id=[…]))` sends: an empty
        // id list is no condition, `distinct: false` the default.
        let mut body = json!({"filter": {
            "event": null,
            "resource": {"id": [resource], "id_prefix": null, "labels": null, "distinct": false},
            "related": null, "any_resource": null, "id": {"id": []}, "text": null, "order": "DESC",
        }, "limit": 10});
        assert_eq!(
            s.post_json("/events/filter", &body).await.expect(200)["total"],
            2
        );
        body["filter"]["resource"]["distinct"] = json!(true);
        s.post_json("/events/filter", &body)
            .await
            .expect_error(422, &["body.filter.resource.distinct", "not supported"]);
        s.stop().await;
    }
);

/// An event named `name` about `resource` (named `label`) at `occurred`.
fn event_at(name: &str, resource: &str, label: &str, occurred: &str) -> Value {
    let mut e = plain_event(name, resource);
    e["occurred"] = json!(occurred);
    e["resource"]["prefect.resource.name"] = json!(label);
    e
}

on_each_backend!(
    events_are_counted_by_time_bucket_name_and_resource,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let batch = json!([
            event_at("counted.a", "thing.one", "One", "2026-11-20T10:10:00Z"),
            event_at("counted.a", "thing.two", "Two", "2026-11-20T10:20:00Z"),
            event_at("counted.b", "thing.one", "One", "2026-11-20T12:05:00Z"),
            event_at("counted.a", "thing.one", "One", "2026-11-21T09:00:00Z"),
        ]);
        s.post_json("/events/", &batch).await.expect(204);
        let window = |since: &str, until: &str| json!({"occurred": {"since": since, "until": until}, "event": {"prefix": ["counted."]}});
        let counts = |reply: Value| -> Vec<(String, i64)> {
            reply
                .as_array()
                .expect("a list")
                .iter()
                .map(|c| {
                    (
                        c["value"].as_str().unwrap().to_owned(),
                        c["count"].as_i64().unwrap(),
                    )
                })
                .collect()
        };

        let hours = json!({
            "filter": window("2026-11-20T10:00:00Z", "2026-11-20T12:59:59Z"),
            "time_unit": "hour", "time_interval": 1.0,
        });
        let reply = s
            .post_json("/events/count-by/time", &hours)
            .await
            .expect(200);
        assert_eq!(
            counts(reply.clone()),
            [
                ("2026-11-20T10:00:00.000000Z".to_owned(), 2),
                ("2026-11-20T11:00:00.000000Z".to_owned(), 0),
                ("2026-11-20T12:00:00.000000Z".to_owned(), 1),
            ]
        );
        assert_eq!(reply[1]["label"], reply[1]["value"]);
        assert_eq!(reply[1]["start_time"], "2026-11-20T11:00:00.000000Z");
        assert_eq!(reply[1]["end_time"], "2026-11-20T12:00:00.000000Z");

        let days = json!({"filter": window("2026-11-20T06:00:00Z", "2026-11-21T23:00:00Z")});
        assert_eq!(
            counts(s.post_json("/events/count-by/day", &days).await.expect(200)),
            [
                ("2026-11-20T00:00:00.000000Z".to_owned(), 3),
                ("2026-11-21T00:00:00.000000Z".to_owned(), 1),
            ]
        );

        let by_name = s
            .post_json("/events/count-by/event", &days)
            .await
            .expect(200);
        assert_eq!(
            counts(by_name.clone()),
            [("counted.a".to_owned(), 3), ("counted.b".to_owned(), 1)]
        );
        assert_eq!(by_name[0]["start_time"], "2026-11-20T10:10:00.000000Z");
        assert_eq!(by_name[0]["end_time"], "2026-11-21T09:00:00.000000Z");

        let by_resource = s
            .post_json("/events/count-by/resource", &days)
            .await
            .expect(200);
        assert_eq!(
            counts(by_resource.clone()),
            [("thing.one".to_owned(), 3), ("thing.two".to_owned(), 1)]
        );
        assert_eq!(by_resource[0]["label"], "One");
        s.stop().await;
    }
);

on_each_backend!(
    a_count_that_would_make_too_many_buckets_is_refused,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let day =
            json!({"occurred": {"since": "2026-11-20T00:00:00Z", "until": "2026-11-21T00:00:00Z"}});
        s.post_json(
            "/events/count-by/time",
            &json!({"filter": day, "time_unit": "second", "time_interval": 1}),
        )
        .await
        .expect_error(422, &["1000", "time_interval"]);
        s.post_json(
            "/events/count-by/time",
            &json!({"filter": day, "time_unit": "hour", "time_interval": 0}),
        )
        .await
        .expect_error(422, &["time_interval"]);
        s.post_json(
            "/events/count-by/time",
            &json!({"filter": day, "time_unit": "fortnight"}),
        )
        .await
        .expect_error(422, &["time_unit"]);
        s.post_json("/events/count-by/weekday", &json!({"filter": day}))
            .await
            .expect_error(422, &["countable", "day, time, event, resource"]);
        let backwards =
            json!({"occurred": {"since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"}});
        s.post_json("/events/count-by/day", &json!({"filter": backwards}))
            .await
            .expect_error(422, &["filter.occurred"]);
        s.stop().await;
    }
);
