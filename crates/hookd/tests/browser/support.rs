//! The browser harness: finding Chromium and chromedriver, one chromedriver per run, and
//! [`Browser`], a WebDriver session on a freshly booted hookd with the helpers tests use.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use serde_json::{json, Value};

use super::harness::{self, TestApp};
use super::BrowserTest;

/// The Chromium binary chromedriver is told to start.
static CHROMIUM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// axe-core 4.10.2 from npm, vendored with its licence header (MPL-2.0).
const AXE: &str = include_str!("axe.min.js");

/// Where Chromium and chromedriver are.
pub struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

fn find_binary(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    candidates
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .map(Path::to_path_buf)
}

impl Tools {
    /// Debian's `chromium` and `chromium-driver`, or `CHROMIUM` / `CHROMEDRIVER`.
    pub fn find() -> Result<Self, String> {
        let chromium = find_binary(
            "CHROMIUM",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        )
        .ok_or("no Chromium (apt-get install chromium, or set CHROMIUM to its path)")?;
        let chromedriver = find_binary("CHROMEDRIVER", &["/usr/bin/chromedriver"]).ok_or(
            "no chromedriver (apt-get install chromium-driver, or set CHROMEDRIVER to its path)",
        )?;
        Ok(Self {
            chromium,
            chromedriver,
        })
    }
}

/// The run's chromedriver, stopped when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
    pub chromium: PathBuf,
}

impl Driver {
    pub fn start(tools: &Tools) -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port for chromedriver: {e}"))?
            .port();
        let child = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", tools.chromedriver.display()))?;
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium: tools.chromium.clone(),
        };
        // Ready when it answers /status (a condition, bounded).
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let _ = CHROMIUM.set(driver.chromium.clone());
                return Ok(driver);
            }
            if std::time::Instant::now() > deadline {
                return Err("chromedriver did not start listening within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/screenshots/`.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screenshots")
}

/// A browser session on its own hookd.
pub struct Browser {
    pub client: Client,
    pub app: TestApp,
    name: String,
    shots: usize,
    /// The window's width and height between screenshots (laptop, or phone in `check_on_phone`).
    size: (u32, u32),
}

const LAPTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

/// Runs one test: boots hookd, opens a session, runs `test`, and always closes the session (a
/// failing test leaves a `…-failed.png` screenshot).
pub fn run(webdriver: &str, name: &str, test: BrowserTest) -> Result<(), libtest_mimic::Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    // This test's screenshots of an earlier run would mislead: remove them.
    let prefix = format!("{}-", name.replace("::", "-"));
    if let Ok(entries) = std::fs::read_dir(screenshot_dir()) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    runtime.block_on(async {
        let app = harness::spawn_app().await;
        let client = connect(webdriver).await?;
        let mut browser = Browser {
            client,
            app,
            name: name.replace("::", "-"),
            shots: 0,
            size: LAPTOP,
        };
        let outcome = std::panic::AssertUnwindSafe(test(&mut browser))
            .catch_unwind()
            .await;
        if outcome.is_err() {
            let _ = browser.screenshot("failed").await;
        }
        let Browser { client, app, .. } = browser;
        let _ = client.close().await;
        app.stop().await;
        outcome.map_err(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the test panicked".into());
            libtest_mimic::Failed::from(message)
        })
    })
}

async fn connect(webdriver: &str) -> Result<Client, libtest_mimic::Failed> {
    let chromium = CHROMIUM.get().cloned().unwrap_or_default();
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--no-first-run", "--no-default-browser-check",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--disable-extensions",
                "--no-proxy-server", "--hide-scrollbars", "--force-device-scale-factor=1"
            ]
        }
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!("a JSON object literal")
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(webdriver)
        .await
        .map_err(|e| libtest_mimic::Failed::from(format!("WebDriver session: {e}")))
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        self.app.url(path)
    }

    pub async fn goto(&self, path: &str) {
        self.client.goto(&self.url(path)).await.expect("navigate");
    }

    /// The current path (and query).
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Waits (bounded) for an element.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css:?} on {}: {e}", self.url("")))
    }

    /// Replaces an input's value.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        element.clear().await.expect("clear");
        element.send_keys(text).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// Waits until the page's main text contains `needle`; returns that text.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        harness::eventually(Duration::from_secs(10), || async {
            let body = self.client.find(Locator::Css("body")).await.ok()?;
            let text = body.text().await.ok()?;
            text.contains(needle).then_some(text)
        })
        .await
    }

    /// Waits until the browser is on `path` (ignoring the query).
    pub async fn wait_for_path(&self, path: &str) {
        harness::eventually(Duration::from_secs(10), || async {
            let url = self.client.current_url().await.ok()?;
            (url.path() == path).then_some(())
        })
        .await;
    }

    /// Signs in through the form with `key` and waits to leave the sign-in page.
    pub async fn sign_in(&self, key: &str) {
        self.goto("/sign-in").await;
        self.fill("#api_key", key).await;
        self.click("button[type=submit]").await;
        harness::eventually(Duration::from_secs(10), || async {
            let url = self.client.current_url().await.ok()?;
            (url.path() != "/sign-in").then_some(())
        })
        .await;
    }

    /// Saves a screenshot of the whole page (the window is stretched to the page's height for
    /// it, up to 6000 px, then restored).
    pub async fn screenshot(&mut self, step: &str) -> PathBuf {
        let height = self
            .client
            .execute(
                "window.scrollTo(0, 0); return document.documentElement.scrollHeight;",
                vec![],
            )
            .await
            .ok()
            .and_then(|h| h.as_u64())
            .map_or(self.size.1, |h| (h as u32).clamp(self.size.1, 6000));
        self.client
            .set_window_size(self.size.0, height)
            .await
            .expect("resize");
        let png = self.client.screenshot().await;
        self.client
            .set_window_size(self.size.0, self.size.1)
            .await
            .expect("resize");
        let png = png.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("create target/screenshots");
        self.shots += 1;
        let path = dir.join(format!("{}-{:02}-{step}.png", self.name, self.shots));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Checks the current screen: axe-core finds no violation of impact serious or critical;
    /// then saves a screenshot named after `step`.
    pub async fn check(&mut self, step: &str) {
        self.client
            .execute(AXE, vec![])
            .await
            .expect("inject axe-core");
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ["violations"] })
              .then(r => done(r.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map(n => n.target.join(" ")).join(", ")}`)))
              .catch(e => done([`axe-core failed: ${e}`]));
        "#;
        let violations = self
            .client
            .execute_async(script, vec![])
            .await
            .expect("run axe-core");
        let shot = self.screenshot(step).await;
        let violations: Vec<String> = serde_json::from_value(violations).expect("axe result");
        assert!(
            violations.is_empty(),
            "accessibility violations on {step} (screenshot {}):\n{}",
            shot.display(),
            violations.join("\n")
        );
    }

    /// Runs `check` at a phone's width too, then restores the laptop size.
    pub async fn check_on_phone(&mut self, step: &str) {
        self.size = PHONE;
        self.client
            .set_window_size(PHONE.0, PHONE.1)
            .await
            .expect("resize");
        self.check(&format!("{step}-phone")).await;
        self.size = LAPTOP;
        self.client
            .set_window_size(LAPTOP.0, LAPTOP.1)
            .await
            .expect("resize");
    }
}
