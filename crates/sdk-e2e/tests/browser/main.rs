//! The web UI in a real headless Chromium, driven through chromedriver's WebDriver API over
//! HTTP. Each test runs a real server (the SDK's test harness) and its own browser; screenshots
//! land in the test's target folder (`browser-artifacts/`).
//!
//! Needs `chromium` and `chromedriver` (Debian packages; `scripts/test` installs them). Without
//! them the tests are skipped loudly, unless `FLOWGATE_REQUIRE_BROWSER=1`.

mod api_key_dialog;
mod artifacts_variables;
mod automations;
mod concurrency_page;
mod hostile;
mod overview;
mod resume_form;
mod run_actions;
mod run_page;
mod runs;
mod webdriver;
mod work_pools;
