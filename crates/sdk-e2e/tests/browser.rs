//! The web UI in a real headless Chromium (driven through chromedriver's WebDriver API): a Rust
//! flow pauses for a shirt order; the test opens the run page, fills in the generated form,
//! meets the server's per-field check and the flow's own validator, then orders a shirt the
//! shop has; the flow completes and logs the order. Screenshots land in the test's target
//! folder (`browser-artifacts/`).
//!
//! Needs `chromium` and `chromedriver` (Debian packages; `scripts/test` installs them). Without
//! them the test is skipped loudly, unless `FLOWGATE_REQUIRE_BROWSER=1`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use flowgate::testing::{Harness, harness};
use flowgate_sdk_e2e::{Color, Size, get_shirt_order};
use serde_json::{Value, json};

/// A chromedriver process and one browser session.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Browser {
    fn start() -> Option<Browser> {
        let found = |p: &str| std::path::Path::new(p).exists();
        if !found("/usr/bin/chromedriver") || !found("/usr/bin/chromium") {
            assert!(
                std::env::var("FLOWGATE_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "FLOWGATE_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed"
            );
            eprintln!(
                "\n*** SKIPPING the browser test: install Debian's chromium and chromium-driver ***\n"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let profile = tempfile_dir();
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,900", format!("--user-data-dir={}", profile.display())]}}}});
        let deadline = Instant::now() + Duration::from_secs(20);
        let session = loop {
            let attempt = rt.block_on(async {
                http.post(format!("{base}/session"))
                    .json(&caps)
                    .send()
                    .await?
                    .json::<Value>()
                    .await
            });
            if let Ok(v) = attempt
                && let Some(id) = v["value"]["sessionId"].as_str()
            {
                break id.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start a session"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        Some(Browser {
            driver,
            base,
            session,
            http,
            rt,
        })
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        self.rt.block_on(async {
            let request = self.http.request(method.clone(), url);
            let request = if method == reqwest::Method::GET {
                request
            } else {
                request.json(&body)
            };
            let resp = request.send().await.expect("webdriver answers");
            resp.json::<Value>().await.expect("webdriver JSON")["value"].clone()
        })
    }

    fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({"url": url}));
    }

    /// Runs `script` in the page and returns its value.
    fn js(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    /// Waits until `script` returns true.
    fn wait_for(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.js(script) != json!(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The WebDriver id of the element `css`.
    fn element(&self, css: &str) -> String {
        let el = self.call(
            reqwest::Method::POST,
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        el.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {el}"))
            .to_owned()
    }

    /// Clicks the element `css` the way a person would (WebDriver click).
    fn click(&self, css: &str) {
        let id = self.element(css);
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        );
    }

    /// Replaces the text of the input `css` by typing `text`.
    fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            json!({}),
        );
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        );
    }

    fn screenshot(&self, name: &str) {
        let png = self.call(reqwest::Method::GET, "/screenshot", Value::Null);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 PNG"))
            .expect("PNG");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.rt.block_on(
            self.http
                .delete(format!("{}/session/{}", self.base, self.session))
                .send(),
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowgate-chrome-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits until the shirt flow is paused for the `n`-th time; returns the run's id.
fn paused(h: &Harness, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let runs = h.post(
            "/flow_runs/filter",
            json!({"flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}}}),
        );
        if let Some(run) = runs
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["empirical_policy"]["pause_keys"].as_array().map(Vec::len) == Some(n))
        {
            return run["id"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "the flow did not pause ({n})");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Opens the resume dialog of the run page (waiting for the page's refresh to offer it).
fn open_dialog(b: &Browser) {
    b.wait_for(
        "the Resume button",
        "return !!document.getElementById('resume')",
    );
    b.click("#resume");
    b.wait_for("the form", "return document.getElementById('resume-dialog').open && !!document.querySelector('#resume-fields [name=size]')");
}

#[test]
fn a_person_orders_a_shirt_through_the_resume_form() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    std::thread::scope(|s| {
        let flow = s.spawn(|| {
            let _serve = h.enter();
            get_shirt_order()
        });
        let _cancel = h.cancel_paused_on_panic();
        let run = paused(&h, 1);
        b.open(&format!("{ui}/runs/flow-run/{run}"));
        open_dialog(&b);
        assert_eq!(
            b.js("return document.querySelector('#resume-description h3').textContent"),
            "Pick a shirt",
            "markdown is rendered"
        );
        assert_eq!(
            b.js("return document.querySelector('#resume-fields [name=color]').value"),
            "\"black\"",
            "initial data prefills the form"
        );
        assert_eq!(
            b.js("return window.__xss === undefined"),
            true,
            "markup in the description is shown, not run"
        );
        assert_eq!(
            b.js(
                "return document.getElementById('resume-description').textContent.includes('<img')"
            ),
            true
        );
        b.screenshot("1-form");

        // An out-of-range count: the server's check is shown beside the field; typing is kept.
        b.click("#resume-fields [name=size] option[value='\"small\"']");
        b.click("#resume-fields [name=color] option[value='\"green\"']");
        b.type_into("#resume-fields [name=count]", "11");
        b.click("#resume-submit");
        b.wait_for("the count error", "return document.querySelector('[data-field=count] .field-error').textContent.length > 0");
        assert_eq!(
            b.js("return document.querySelector('#resume-fields [name=size]').value"),
            "\"small\"",
            "what was typed is kept"
        );
        b.screenshot("2-field-error");

        // Small and green passes the schema; the flow's validator sends it back with its message.
        b.type_into("#resume-fields [name=count]", "2");
        b.click("#resume-submit");
        let again = paused(&h, 2);
        assert_eq!(again, run);
        b.js("location.reload(); return true");
        open_dialog(&b);
        b.wait_for("the validator's message", "return document.getElementById('resume-description').textContent.includes('Green is only in-stock')");
        b.screenshot("3-validator-message");

        b.click("#resume-fields [name=size] option[value='\"medium\"']");
        b.click("#resume-fields [name=color] option[value='\"red\"']");
        b.type_into("#resume-fields [name=count]", "2");
        b.click("#resume-submit");
        let order = flow.join().expect("the flow completes");
        assert_eq!(
            (order.size, order.color, order.count),
            (Size::Medium, Color::Red, 2)
        );
        b.wait_for(
            "the completed badge",
            "return !!document.querySelector('.badge.COMPLETED')",
        );
        b.wait_for(
            "the resumes table",
            "return document.getElementById('resumes').textContent.includes('medium')",
        );
        assert_eq!(
            b.js("return document.getElementById('resumes').textContent.includes('the web UI')"),
            true,
            "who resumed is shown"
        );
        b.screenshot("4-completed");
    });
    let runs = h.post(
        "/flow_runs/filter",
        json!({"flows": {"name": {"any_": ["get-shirt-order"]}}}),
    );
    let logs = h.post(
        "/logs/filter",
        json!({"logs": {"flow_run_id": {"any_": [runs[0]["id"]]}}}),
    );
    let messages: Vec<&str> = logs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert!(
        messages.contains(&"Shirt order: 2 Medium Red shirt(s)"),
        "{messages:?}"
    );
    // The theme toggle switches to an explicit theme.
    b.click("#theme");
    assert!(
        b.js("return document.documentElement.dataset.theme")
            .is_string()
    );
}
