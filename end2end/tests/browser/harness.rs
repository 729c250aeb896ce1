//! A running server and a headless browser, cleaned up when the test ends.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use playwright_rs::protocol::{Browser, BrowserContextOptions, Locator, Page, WaitForOptions};
use playwright_rs::{LaunchOptions, Playwright};

/// Flags for Chromium on a machine with no network and no GPU (see the README).
const CHROMIUM_ARGS: &[&str] = &[
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// Where screenshots are kept for people to look at.
pub fn artifacts_dir() -> PathBuf {
    let dir = workspace_root().join("end2end/artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `sightline` binary, serving on a free port from its own new database.
pub struct Server {
    pub address: String,
    child: Child,
    database_name: String,
    admin_url: String,
}

impl Server {
    pub async fn start() -> Server {
        let bin = std::env::var_os("SIGHTLINE_BIN")
            .map_or_else(|| target_dir().join("debug/sightline"), PathBuf::from);
        assert!(
            bin.exists(),
            "{} is missing: run `make test`, which builds it",
            bin.display()
        );
        let site_root =
            std::env::var_os("SIGHTLINE_SITE_ROOT").map_or_else(|| target_dir().join("site"), PathBuf::from);
        assert!(
            site_root.join("pkg/sightline_bg.wasm").exists(),
            "no WASM bundle in {}: run `make test`, which builds it",
            site_root.display()
        );
        let admin_url =
            std::env::var("DATABASE_URL").expect("DATABASE_URL names an administrative Postgres URL");
        let database_name = format!("sightline_e2e_{}", uuid::Uuid::new_v4().simple());
        let mut url = reqwest::Url::parse(&admin_url).expect("DATABASE_URL is a URL");
        url.set_path(&format!("/{database_name}"));

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(artifacts_dir().join(format!("{database_name}.log"))).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .env("DATABASE_URL", url.as_str())
            .env("SIGHTLINE_ADDR", format!("127.0.0.1:{port}"))
            .env("SIGHTLINE_SITE_ROOT", &site_root)
            .env("SIGHTLINE_LOG_FORMAT", "json")
            // Requests too, so a failed test's log shows what the page asked and got.
            .env("RUST_LOG", "info,sqlx=warn")
            // Plain http on 127.0.0.1: session cookies cannot be HTTPS-only.
            .env("SIGHTLINE_SECURE_COOKIES", "false")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("sightline starts");
        let mut server = Server {
            address: format!("http://127.0.0.1:{port}"),
            child,
            database_name,
            admin_url,
        };
        server.wait_until_healthy().await;
        server
    }

    async fn wait_until_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = reqwest::get(self.url("/health")).await {
                if response.status() == 200 {
                    return;
                }
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "sightline exited during start-up with {status}; see end2end/artifacts/{}.log",
                    self.database_name
                );
            }
            assert!(Instant::now() < deadline, "sightline was not healthy within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// An administrative URL of this server's database, for checking figures against it.
    pub fn database_url(&self) -> String {
        let mut url = reqwest::Url::parse(&self.admin_url).expect("DATABASE_URL is a URL");
        url.set_path(&format!("/{}", self.database_name));
        url.to_string()
    }

    /// Stops the server and drops its database.
    pub async fn stop(mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.admin_url)
            .await
            .expect("admin connection for clean-up");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "drop database if exists \"{}\" with (force)",
            self.database_name
        )))
        .execute(&admin)
        .await
        .expect("test database dropped");
        let _ = std::fs::remove_file(artifacts_dir().join(format!("{}.log", self.database_name)));
    }
}

/// A headless Chromium driven through playwright-rs (kept alive as long as this value).
pub struct BrowserSession {
    _playwright: Playwright,
    pub browser: Browser,
}

impl BrowserSession {
    pub async fn launch() -> BrowserSession {
        let playwright = Playwright::launch()
            .await
            .expect("playwright driver starts (npm playwright-core)");
        let options = LaunchOptions::new()
            .headless(true)
            .executable_path(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()))
            .args(CHROMIUM_ARGS.iter().map(|s| s.to_string()).collect());
        let browser = playwright
            .chromium()
            .launch_with_options(options)
            .await
            .expect("Chromium launches");
        BrowserSession {
            _playwright: playwright,
            browser,
        }
    }

    /// A new page in a fresh context; `javascript` false shows what the server alone renders.
    pub async fn page(&self, javascript: bool) -> Page {
        let options = BrowserContextOptions::builder()
            .javascript_enabled(javascript)
            .build();
        let context = self.browser.new_context_with_options(options).await.unwrap();
        context.new_page().await.unwrap()
    }

    pub async fn close(self) {
        self.browser.close().await.ok();
    }
}

/// Waits until the WASM has hydrated `page` and returns the app root.
pub async fn hydrated(page: &Page) -> Locator {
    let app = page.locator(".app[data-hydrated=\"true\"]");
    app.wait_for(WaitForOptions::builder().timeout(30_000.0).build())
        .await
        .expect("the WASM hydrates the page within 30 s");
    app
}

pub const PASSWORD: &str = "a long and unusual passphrase";

/// Opens `path` and, with JavaScript on, waits until the page has hydrated so forms are
/// handled by the app rather than submitted before it is ready.
pub async fn open(page: &Page, server: &Server, path: &str, javascript: bool) {
    page.goto(&server.url(path), None).await.unwrap();
    if javascript {
        hydrated(page).await;
    }
}

pub async fn wait_for_path(page: &Page, glob: &str) {
    page.wait_for_url(glob, None)
        .await
        .unwrap_or_else(|e| panic!("expected to reach {glob}, stayed at {}: {e}", page.url()));
}

/// Waits up to 30 s for `selector` to be shown (CI machines are small and busy). On failure
/// the page is saved (screenshot and HTML) beside the server's log in end2end/artifacts.
pub async fn shown(page: &Page, selector: &str, what: &str) -> Locator {
    let locator = page.locator(selector);
    if let Err(e) = locator
        .wait_for(WaitForOptions::builder().timeout(30_000.0).build())
        .await
    {
        let name = format!("failed-{}", uuid::Uuid::new_v4().simple());
        let _ = page
            .screenshot_to_file(&artifacts_dir().join(format!("{name}.png")), None)
            .await;
        let _ = std::fs::write(
            artifacts_dir().join(format!("{name}.html")),
            page.content().await.unwrap_or_default(),
        );
        panic!(
            "{what}: {e}\n  at {}; the page is saved as end2end/artifacts/{name}.png and .html, the server's log beside it",
            page.url()
        );
    }
    locator
}

pub async fn text(page: &Page, selector: &str) -> String {
    page.locator(selector).inner_text().await.unwrap()
}

pub async fn register(page: &Page, server: &Server, javascript: bool, email: &str, organization: &str) {
    open(page, server, "/register", javascript).await;
    page.locator("#organization")
        .fill(organization, None)
        .await
        .unwrap();
    page.locator("#email").fill(email, None).await.unwrap();
    page.locator("#password").fill(PASSWORD, None).await.unwrap();
    page.locator("button[type=submit].primary")
        .click(None)
        .await
        .unwrap();
    wait_for_path(page, "**/app").await;
}
