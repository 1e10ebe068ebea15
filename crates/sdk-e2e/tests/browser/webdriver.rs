//! A headless Chromium driven through chromedriver's WebDriver API over HTTP (no browser
//! automation crate): open pages, run scripts, click, type, take screenshots.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// A chromedriver process and one browser session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a session; `None` (after a loud note) when Chromium is missing.
    pub fn start() -> Option<Browser> {
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
            profile,
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

    /// Navigates to `url`.
    pub fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({"url": url}));
    }

    /// Runs `script` in the page and returns its value.
    pub fn js(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    /// Waits until `script` returns true.
    pub fn wait_for(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.js(script) != json!(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The WebDriver id of the element `css`.
    pub fn element(&self, css: &str) -> String {
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
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        );
    }

    /// Replaces the text of the input `css` by typing `text`.
    pub fn type_into(&self, css: &str, text: &str) {
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

    /// Switches the page to the `light` or `dark` theme with its theme button, as a person would.
    pub fn theme(&self, theme: &str) {
        let current = "return document.documentElement.dataset.theme || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light')";
        if self.js(current) != theme {
            self.click("#theme");
        }
        assert_eq!(self.js(current), theme);
    }

    /// Saves a screenshot as `browser-artifacts/{name}.png` in the test's target folder.
    pub fn screenshot(&self, name: &str) {
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
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A profile folder of its own for each browser (two sessions cannot share one).
fn tempfile_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "flowgate-chrome-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
