//! The app shell as a user meets it: server rendering, hydration, 404s, health endpoints.

use serde_json::Value;

use crate::harness::{artifacts_dir, hydrated, BrowserSession, Server};

#[tokio::test]
async fn the_landing_page_is_readable_with_javascript_disabled() {
    let server = Server::start().await;
    let browser = BrowserSession::launch().await;
    let page = browser.page(false).await;

    let response = page
        .goto(&server.url("/"), None)
        .await
        .unwrap()
        .expect("a response");
    let heading = page.locator("h1").text_content().await.unwrap();
    let title = page.title().await.unwrap();
    let hydration_marker = page.locator(".app").get_attribute("data-hydrated").await.unwrap();
    let features = page.locator(".feature").count().await.unwrap();
    page.screenshot_to_file(&artifacts_dir().join("landing-no-js.png"), None)
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(heading.as_deref(), Some("Sightline"));
    assert!(title.contains("Sightline"), "{title}");
    assert_eq!(
        hydration_marker.as_deref(),
        Some("false"),
        "nothing ran in the browser"
    );
    assert_eq!(features, 4);
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn the_theme_toggle_works_once_hydrated_and_is_remembered() {
    let server = Server::start().await;
    let browser = BrowserSession::launch().await;
    let page = browser.page(true).await;
    page.goto(&server.url("/"), None).await.unwrap();
    let app = hydrated(&page).await;
    let before = app.get_attribute("data-theme").await.unwrap();

    page.locator("button.theme-toggle").click(None).await.unwrap();
    let after = app.get_attribute("data-theme").await.unwrap();
    let pressed = page
        .locator("button.theme-toggle")
        .get_attribute("aria-pressed")
        .await
        .unwrap();
    page.screenshot_to_file(&artifacts_dir().join("landing-dark.png"), None)
        .await
        .unwrap();
    page.reload(None).await.unwrap();
    let reloaded = hydrated(&page).await;
    let after_reload = reloaded.get_attribute("data-theme").await.unwrap();

    assert_eq!(before.as_deref(), Some("light"));
    assert_eq!(after.as_deref(), Some("dark"));
    assert_eq!(pressed.as_deref(), Some("true"));
    assert_eq!(
        after_reload.as_deref(),
        Some("dark"),
        "the choice survives a reload"
    );
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn client_side_navigation_reaches_sign_in_and_an_unknown_page_answers_404() {
    let server = Server::start().await;
    let browser = BrowserSession::launch().await;
    let page = browser.page(true).await;
    page.goto(&server.url("/"), None).await.unwrap();
    hydrated(&page).await;

    page.locator("nav a[href=\"/sign-in\"]")
        .click(None)
        .await
        .unwrap();
    page.locator("h1:text(\"Sign in\")").wait_for(None).await.unwrap();
    let signed_in_url = page.url();
    let missing = page
        .goto(&server.url("/definitely/not/here"), None)
        .await
        .unwrap()
        .expect("a response");
    let missing_heading = page.locator("h1").text_content().await.unwrap();
    page.screenshot_to_file(&artifacts_dir().join("not-found.png"), None)
        .await
        .unwrap();

    assert!(signed_in_url.ends_with("/sign-in"), "{signed_in_url}");
    assert_eq!(missing.status(), 404);
    assert_eq!(missing_heading.as_deref(), Some("Page not found"));
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn health_and_ready_answer_as_specified_and_static_files_are_compressed() {
    let server = Server::start().await;

    let health = reqwest::get(server.url("/health")).await.unwrap();
    let ready = reqwest::get(server.url("/ready")).await.unwrap();
    let ready_status = ready.status();
    let ready_body: Value = ready.json().await.unwrap();
    let wasm = reqwest::Client::new()
        .get(server.url("/pkg/sightline_bg.wasm"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();

    assert_eq!(health.status(), 200);
    assert_eq!(ready_status, 200, "{ready_body}");
    assert_eq!(ready_body["checks"]["database"]["status"], "ok");
    assert_eq!(ready_body["checks"]["migrations"]["status"], "ok");
    assert_eq!(wasm.status(), 200);
    assert_eq!(wasm.headers()["content-encoding"], "gzip");
    assert_eq!(
        wasm.headers()["cache-control"],
        "no-cache",
        "browsers revalidate the bundle"
    );
    server.stop().await;
}
