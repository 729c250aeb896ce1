use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::TestApp;

#[sqlx::test(migrations = false)]
async fn the_landing_page_is_rendered_on_the_server_with_the_product_name(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;

    let response = app.get("/").await;

    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>Sightline</h1>"), "{html}");
    assert!(
        html.contains("/pkg/sightline.js"),
        "the hydration script is linked"
    );
    assert!(
        html.contains(r#"data-hydrated="false""#),
        "server HTML is marked as not yet hydrated"
    );
}

#[sqlx::test(migrations = false)]
async fn an_unknown_address_answers_404_with_the_not_found_page(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;

    let response = app.get("/no/such/page").await;

    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found"), "{html}");
}

#[sqlx::test(migrations = false)]
async fn the_sign_in_page_renders_its_form(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;

    let response = app.get("/sign-in").await;

    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        html.contains(r#"type="email""#) && html.contains(r#"type="password""#),
        "{html}"
    );
}

#[sqlx::test(migrations = false)]
async fn an_unknown_api_address_answers_a_json_404_carrying_the_request_id(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;

    let response = app.get("/api/v1/no-such-resource").await;

    assert_eq!(response.status(), 404);
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["request_id"], request_id.as_str());
}
