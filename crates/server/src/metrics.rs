//! `GET /metrics`: the server's measurements in Prometheus' text format (version 0.0.4).
//!
//! Kept in memory, per server process (each replica reports its own): API requests by route
//! template, method and status with latency histograms ([`track`], a middleware on the API's
//! matched routes), and named counters and gauges any part of the server registers once and
//! keeps a handle to ([`Metrics::counter`], [`Metrics::gauge`], [`Metrics::histogram`]): that
//! is how a capability adds its own (`flowgate_flow_runs_handed_out_total`,
//! `flowgate_concurrency_slots_granted_total`, `flowgate_retention_batch_seconds`; automations
//! fired belong there too). Read at scrape time: the ingest queue's depth, each
//! service's health, and the paused runs (one indexed count in the database), so a scrape
//! costs the same with 100 runs stored or 100,000.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flowgate_core::StateType;
use flowgate_store::model::FlowRunFilter;

use crate::app::AppState;
use crate::error::ApiResult;

/// Upper bounds (seconds) of every histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The server's measurements; cheap to clone (one shared registry).
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Registry>,
}

#[derive(Default)]
struct Registry {
    /// Per route template: per method, its statuses and latencies.
    routes: RwLock<HashMap<String, Arc<RouteStats>>>,
    /// Named counters and gauges: their kind and help by name, their values by name and labels.
    families: Mutex<BTreeMap<&'static str, Family>>,
    /// Named histograms: their help by name, their distributions by name and labels.
    histograms: Mutex<BTreeMap<&'static str, HistogramFamily>>,
}

struct HistogramFamily {
    help: &'static str,
    series: BTreeMap<String, Arc<Mutex<Distribution>>>,
}

struct Family {
    kind: &'static str,
    help: &'static str,
    series: BTreeMap<String, Arc<AtomicI64>>,
}

/// One route's measurements, by method.
type RouteStats = Mutex<BTreeMap<&'static str, Timings>>;

#[derive(Default)]
struct Timings {
    statuses: BTreeMap<u16, u64>,
    latency: Distribution,
}

/// Durations counted into [`BUCKETS`] (each bucket counts those at or under its bound).
#[derive(Default)]
struct Distribution {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    seconds: f64,
}

impl Distribution {
    fn observe(&mut self, took: Duration) {
        let seconds = took.as_secs_f64();
        self.count += 1;
        self.seconds += seconds;
        for (bucket, le) in self.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= le {
                *bucket += 1;
            }
        }
    }

    /// The series of histogram `name` with `labels` (a label list, possibly empty).
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (le, n) in BUCKETS.iter().zip(self.buckets) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {n}");
        }
        let braced = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {0}\n{name}_sum{braced} {1}\n\
             {name}_count{braced} {0}",
            self.count, self.seconds
        );
    }
}

/// A distribution of durations (how long each retention batch held the writer); clone it where it is
/// measured.
#[derive(Clone)]
pub struct Histogram(Arc<Mutex<Distribution>>);

impl Histogram {
    /// Counts one duration.
    pub fn observe(&self, took: Duration) {
        self.0.lock().expect("metrics lock").observe(took);
    }
}

/// A count that only grows; clone it where it is counted.
#[derive(Clone, Debug)]
pub struct Counter(Arc<AtomicI64>);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0
            .fetch_add(i64::try_from(n).unwrap_or(i64::MAX), Ordering::Relaxed);
    }
}

/// A value that goes up and down (open connections).
#[derive(Clone, Debug)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    /// Sets the value (a reading, such as the write-ahead log's size).
    pub fn set(&self, value: u64) {
        self.0
            .store(i64::try_from(value).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// Adds one until the returned guard is dropped (a connection while it is open).
    pub fn track(&self) -> GaugeGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        GaugeGuard(self.0.clone())
    }
}

/// Holds one unit of a [`Gauge`]; dropping it gives the unit back.
#[derive(Debug)]
pub struct GaugeGuard(Arc<AtomicI64>);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// The counter `name` with `labels` (registered on first use; later calls share it). Get
    /// it once and keep the handle: this takes a lock.
    pub fn counter(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
    ) -> Counter {
        Counter(self.series(name, "counter", help, labels))
    }

    /// The gauge `name` with `labels`, as [`Metrics::counter`].
    pub fn gauge(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)]) -> Gauge {
        Gauge(self.series(name, "gauge", help, labels))
    }

    /// The histogram `name` with `labels`, as [`Metrics::counter`]; its buckets are the request
    /// latencies' (1 ms to 10 s).
    pub fn histogram(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
    ) -> Histogram {
        let mut families = self.inner.histograms.lock().expect("metrics lock");
        let family = families.entry(name).or_insert_with(|| HistogramFamily {
            help,
            series: BTreeMap::new(),
        });
        Histogram(family.series.entry(label_text(labels)).or_default().clone())
    }

    fn series(
        &self,
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
    ) -> Arc<AtomicI64> {
        let mut families = self.inner.families.lock().expect("metrics lock");
        let family = families.entry(name).or_insert_with(|| Family {
            kind,
            help,
            series: BTreeMap::new(),
        });
        family.series.entry(label_text(labels)).or_default().clone()
    }

    /// Records one answered request.
    fn observe(&self, route: &str, method: &Method, status: u16, took: Duration) {
        let known = self
            .inner
            .routes
            .read()
            .expect("metrics lock")
            .get(route)
            .cloned();
        let stats = match known {
            Some(stats) => stats,
            None => self
                .inner
                .routes
                .write()
                .expect("metrics lock")
                .entry(route.to_owned())
                .or_default()
                .clone(),
        };
        let mut by_method = stats.lock().expect("metrics lock");
        let t = by_method.entry(method_name(method)).or_default();
        *t.statuses.entry(status).or_default() += 1;
        t.latency.observe(took);
    }

    /// Writes every request measurement and named series in the text format.
    fn render(&self, out: &mut String) {
        let routes: Vec<_> = {
            let routes = self.inner.routes.read().expect("metrics lock");
            let mut all: Vec<_> = routes.iter().map(|(r, s)| (r.clone(), s.clone())).collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all
        };
        family_head(
            out,
            "flowgate_http_requests_total",
            "counter",
            "API requests answered, by route template, method and status",
        );
        let mut histograms = String::new();
        for (route, stats) in &routes {
            let route = escape(route);
            for (method, t) in stats.lock().expect("metrics lock").iter() {
                for (status, n) in &t.statuses {
                    let _ = writeln!(
                        out,
                        "flowgate_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                    );
                }
                t.latency.render(
                    &mut histograms,
                    "flowgate_http_request_duration_seconds",
                    &format!("route=\"{route}\",method=\"{method}\""),
                );
            }
        }
        family_head(
            out,
            "flowgate_http_request_duration_seconds",
            "histogram",
            "Time from a request's arrival to its answer, by route template and method",
        );
        out.push_str(&histograms);
        let families = self.inner.families.lock().expect("metrics lock");
        for (name, family) in families.iter() {
            family_head(out, name, family.kind, family.help);
            for (labels, value) in &family.series {
                let value = value.load(Ordering::Relaxed);
                if labels.is_empty() {
                    let _ = writeln!(out, "{name} {value}");
                } else {
                    let _ = writeln!(out, "{name}{{{labels}}} {value}");
                }
            }
        }
        drop(families);
        let histograms = self.inner.histograms.lock().expect("metrics lock");
        for (name, family) in histograms.iter() {
            family_head(out, name, "histogram", family.help);
            for (labels, distribution) in &family.series {
                distribution
                    .lock()
                    .expect("metrics lock")
                    .render(out, name, labels);
            }
        }
    }
}

fn family_head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn label_text(labels: &[(&str, &str)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// A label value as the text format quotes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The middleware measuring each API request under its route template (`/api/flow_runs/{id}`,
/// so ids do not make a series each); requests no route matched count as `unmatched`.
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let response = next.run(request).await;
    metrics.observe(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// `GET /metrics`.
pub async fn scrape(State(app): State<AppState>) -> ApiResult<Response> {
    let paused = app
        .store
        .count_flow_runs(&FlowRunFilter {
            state_types: Some(vec![StateType::Paused]),
            ..FlowRunFilter::default()
        })
        .await?;
    let mut out = String::with_capacity(16 * 1024);
    app.metrics.render(&mut out);
    family_head(
        &mut out,
        "flowgate_paused_flow_runs",
        "gauge",
        "Flow runs paused now",
    );
    let _ = writeln!(out, "flowgate_paused_flow_runs {paused}");
    family_head(
        &mut out,
        "flowgate_ingest_queue_depth",
        "gauge",
        "Events, log batches and flushes waiting for the ingest writer",
    );
    let _ = writeln!(out, "flowgate_ingest_queue_depth {}", app.ingest.queued());
    family_head(
        &mut out,
        "flowgate_service_up",
        "gauge",
        "Whether each background service is running (1) or has ended (0)",
    );
    for (service, up) in app.services.report() {
        let _ = writeln!(
            out,
            "flowgate_service_up{{service=\"{service}\"}} {}",
            u8::from(up)
        );
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_method_and_status_with_cumulative_buckets() {
        let m = Metrics::default();
        m.observe(
            "/api/flows/{id}",
            &Method::GET,
            200,
            Duration::from_micros(500),
        );
        m.observe(
            "/api/flows/{id}",
            &Method::GET,
            404,
            Duration::from_millis(30),
        );
        m.observe(
            "/api/flows/{id}",
            &Method::DELETE,
            204,
            Duration::from_secs(20),
        );
        let mut out = String::new();
        m.render(&mut out);
        for line in [
            "flowgate_http_requests_total{route=\"/api/flows/{id}\",method=\"GET\",status=\"200\"} 1",
            "flowgate_http_requests_total{route=\"/api/flows/{id}\",method=\"GET\",status=\"404\"} 1",
            "flowgate_http_request_duration_seconds_bucket{route=\"/api/flows/{id}\",method=\"GET\",le=\"0.001\"} 1",
            "flowgate_http_request_duration_seconds_bucket{route=\"/api/flows/{id}\",method=\"GET\",le=\"0.05\"} 2",
            "flowgate_http_request_duration_seconds_bucket{route=\"/api/flows/{id}\",method=\"DELETE\",le=\"10\"} 0",
            "flowgate_http_request_duration_seconds_bucket{route=\"/api/flows/{id}\",method=\"DELETE\",le=\"+Inf\"} 1",
            "flowgate_http_request_duration_seconds_count{route=\"/api/flows/{id}\",method=\"GET\"} 2",
        ] {
            assert!(out.contains(line), "no {line} in:\n{out}");
        }
    }

    #[test]
    fn named_series_are_shared_and_gauges_fall_when_their_guards_drop() {
        let m = Metrics::default();
        let a = m.counter("flowgate_things_total", "Things", &[]);
        a.add(2);
        m.counter("flowgate_things_total", "Things", &[]).add(1);
        let open = m.gauge("flowgate_sockets", "Sockets", &[("path", "/a\"b")]);
        let first = open.track();
        let _second = open.track();
        drop(first);
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("# TYPE flowgate_things_total counter\nflowgate_things_total 3\n"),
            "{out}"
        );
        assert!(
            out.contains("flowgate_sockets{path=\"/a\\\"b\"} 1\n"),
            "{out}"
        );
    }

    #[test]
    fn named_histograms_count_into_cumulative_buckets_with_and_without_labels() {
        let m = Metrics::default();
        let logs = m.histogram("flowgate_batch_seconds", "Batches", &[("kind", "logs")]);
        logs.observe(Duration::from_millis(3));
        logs.observe(Duration::from_millis(20));
        m.histogram("flowgate_batch_seconds", "Batches", &[("kind", "logs")])
            .observe(Duration::from_secs(60));
        m.histogram("flowgate_other_seconds", "Other", &[])
            .observe(Duration::from_micros(10));
        let mut out = String::new();
        m.render(&mut out);
        for line in [
            "# TYPE flowgate_batch_seconds histogram\n",
            "flowgate_batch_seconds_bucket{kind=\"logs\",le=\"0.0025\"} 0\n",
            "flowgate_batch_seconds_bucket{kind=\"logs\",le=\"0.005\"} 1\n",
            "flowgate_batch_seconds_bucket{kind=\"logs\",le=\"0.025\"} 2\n",
            "flowgate_batch_seconds_bucket{kind=\"logs\",le=\"10\"} 2\n",
            "flowgate_batch_seconds_bucket{kind=\"logs\",le=\"+Inf\"} 3\n",
            "flowgate_batch_seconds_count{kind=\"logs\"} 3\n",
            "flowgate_other_seconds_bucket{le=\"0.001\"} 1\n",
            "flowgate_other_seconds_count 1\n",
        ] {
            assert!(out.contains(line), "no {line} in:\n{out}");
        }
    }
}
