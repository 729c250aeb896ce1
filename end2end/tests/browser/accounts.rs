//! Account journeys as a person meets them (SPEC AUTH-2, TEN-1): register, sign out, be sent
//! to sign in from a protected page and come back to it; invite someone and let them join.
//! Each runs twice: hydrated, and with JavaScript off (plain HTML forms).

use playwright_rs::protocol::Page;

use crate::harness::{
    artifacts_dir, open, register, shown, text, wait_for_path, BrowserSession, Server, PASSWORD,
};

/// Has the owner on `page` invite `email` (default role unless given) and answers the link.
async fn invite(page: &Page, server: &Server, javascript: bool, email: &str, role: Option<&str>) -> String {
    open(page, server, "/settings/members", javascript).await;
    page.locator("#invite-email").fill(email, None).await.unwrap();
    if let Some(role) = role {
        page.locator("#invite-role")
            .select_option(role, None)
            .await
            .unwrap();
    }
    page.locator("button:has-text(\"Create invitation link\")")
        .click(None)
        .await
        .unwrap();
    let link = shown(
        page,
        "[data-testid=invitation-link]",
        "the invitation link is shown",
    )
    .await;
    link.inner_text().await.unwrap()
}

async fn sign_out(page: &Page) {
    page.locator("form.inline button:has-text(\"Sign out\")")
        .click(None)
        .await
        .unwrap();
    wait_for_path(page, "**/sign-in").await;
}

async fn journey_register_sign_out_and_return(javascript: bool) {
    let server = Server::start().await;
    let browser = BrowserSession::launch().await;
    let page = browser.page(javascript).await;
    let email = format!("founder-{javascript}@example.com");

    register(&page, &server, javascript, &email, "Acme Shoes").await;
    let home = text(&page, "main").await;
    sign_out(&page).await;
    open(&page, &server, "/settings/members", javascript).await;
    wait_for_path(&page, "**/sign-in?next=/settings/members").await;
    let asked_to_sign_in = page.url();
    page.locator("#email").fill(&email, None).await.unwrap();
    page.locator("#password").fill(PASSWORD, None).await.unwrap();
    page.locator("button[type=submit].primary")
        .click(None)
        .await
        .unwrap();
    wait_for_path(&page, "**/settings/members").await;
    let members = text(&page, "table[aria-label=Members]").await;
    page.screenshot_to_file(
        &artifacts_dir().join(format!("members-js-{javascript}.png")),
        None,
    )
    .await
    .unwrap();

    assert!(home.contains("Acme Shoes") && home.contains(&email), "{home}");
    assert!(home.contains("owner"), "{home}");
    assert!(
        asked_to_sign_in.contains("next=/settings/members"),
        "{asked_to_sign_in}"
    );
    assert!(members.contains(&email), "{members}");
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn register_sign_out_and_sign_in_returns_to_the_page_asked_for() {
    journey_register_sign_out_and_return(true).await;
}

#[tokio::test]
async fn register_sign_out_and_sign_in_work_without_javascript() {
    journey_register_sign_out_and_return(false).await;
}

async fn journey_invitation(javascript: bool) {
    let server = Server::start().await;
    let browser = BrowserSession::launch().await;
    let owner = browser.page(javascript).await;
    register(&owner, &server, javascript, "owner@example.com", "Acme").await;

    let link = invite(
        &owner,
        &server,
        javascript,
        "newcomer@example.com",
        Some("viewer"),
    )
    .await;

    let newcomer = browser.page(javascript).await;
    let path = link.trim().trim_start_matches(&server.address).to_owned();
    open(&newcomer, &server, &path, javascript).await;
    newcomer
        .locator("#password")
        .fill("another long passphrase", None)
        .await
        .unwrap();
    newcomer
        .locator("button[type=submit].primary")
        .click(None)
        .await
        .unwrap();
    wait_for_path(&newcomer, "**/app").await;
    let home = text(&newcomer, "main").await;
    open(&owner, &server, "/settings/members", javascript).await;
    let members = text(&owner, "table[aria-label=Members]").await;

    assert!(link.contains("/invitations/accept?token=sli_"), "{link}");
    assert!(
        home.contains("newcomer@example.com") && home.contains("viewer"),
        "{home}"
    );
    assert!(members.contains("newcomer@example.com"), "{members}");
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn an_invited_person_joins_through_the_shared_link() {
    journey_invitation(true).await;
}

#[tokio::test]
async fn an_invited_person_joins_without_javascript() {
    journey_invitation(false).await;
}

async fn journey_switch_organization(javascript: bool) {
    let server = Server::start().await;
    let browser = BrowserSession::launch().await;
    let first = browser.page(javascript).await;
    register(&first, &server, javascript, "first@example.com", "First Shop").await;
    let second = browser.page(javascript).await;
    register(&second, &server, javascript, "second@example.com", "Second Shop").await;
    // The second shop invites the first shop's owner, who accepts with their own password.
    let link = invite(&second, &server, javascript, "first@example.com", None).await;
    let path = link.trim().trim_start_matches(&server.address).to_owned();
    open(&first, &server, &path, javascript).await;
    first.locator("#password").fill(PASSWORD, None).await.unwrap();
    first
        .locator("button[type=submit].primary")
        .click(None)
        .await
        .unwrap();
    wait_for_path(&first, "**/app").await;
    let after_joining = text(&first, "main h1").await;

    open(&first, &server, "/app", javascript).await;
    first
        .locator("#org-switch")
        .select_option("first-shop", None)
        .await
        .unwrap();
    first.locator(".org-switcher button").click(None).await.unwrap();
    shown(
        &first,
        "main h1:has-text(\"First Shop\")",
        "the home page shows the organization switched to",
    )
    .await;
    first
        .screenshot_to_file(
            &artifacts_dir().join(format!("switched-js-{javascript}.png")),
            None,
        )
        .await
        .unwrap();

    assert_eq!(
        after_joining.trim(),
        "Second Shop",
        "accepting lands in the inviting organization"
    );
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn a_person_in_two_organizations_switches_between_them() {
    journey_switch_organization(true).await;
}

#[tokio::test]
async fn the_organization_switcher_works_without_javascript() {
    journey_switch_organization(false).await;
}

async fn journey_api_keys_and_audit_log(javascript: bool) {
    let server = Server::start().await;
    let browser = BrowserSession::launch().await;
    let page = browser.page(javascript).await;
    register(&page, &server, javascript, "owner@example.com", "Acme").await;

    open(&page, &server, "/settings/api-keys", javascript).await;
    page.locator("#key-name")
        .fill("Shop webhook", None)
        .await
        .unwrap();
    page.locator("input[name=scope_read]").check(None).await.unwrap();
    page.locator("button:has-text(\"Create key\")")
        .click(None)
        .await
        .unwrap();
    let key = shown(&page, "[data-testid=new-api-key]", "the new key is shown").await;
    let key = key.inner_text().await.unwrap();
    let row = shown(&page, "tr[data-key-name=\"Shop webhook\"]", "the key is listed").await;
    let listed = row.inner_text().await.unwrap();
    open(&page, &server, "/settings/api-keys", javascript).await;
    let shown_again = page.locator("[data-testid=new-api-key]").count().await.unwrap();
    page.locator("tr[data-key-name=\"Shop webhook\"] button:has-text(\"Revoke\")")
        .click(None)
        .await
        .unwrap();
    shown(
        &page,
        "tr[data-key-name=\"Shop webhook\"] .hint:has-text(\"revoked\")",
        "the key shows as revoked",
    )
    .await;
    let after_revoke = reqwest::Client::new()
        .get(server.url("/api/v1/members"))
        .bearer_auth(key.trim())
        .send()
        .await
        .unwrap()
        .status();

    open(
        &page,
        &server,
        "/settings/audit-log?action=api_key.revoked",
        javascript,
    )
    .await;
    let log = text(&page, "table[aria-label=\"Audit log\"]").await;
    page.screenshot_to_file(
        &artifacts_dir().join(format!("audit-log-js-{javascript}.png")),
        None,
    )
    .await
    .unwrap();
    let csv_link = page
        .locator("a:has-text(\"Download CSV\")")
        .get_attribute("href")
        .await
        .unwrap()
        .unwrap_or_default();

    assert!(key.trim().starts_with("slk_"), "{key}");
    assert!(listed.contains("read") && listed.contains("ingest"), "{listed}");
    assert!(
        !listed.contains(key.trim()),
        "the list never shows the key itself"
    );
    assert_eq!(shown_again, 0, "the key is shown once");
    assert_eq!(after_revoke, 401, "a revoked key opens nothing");
    assert!(
        log.contains("api_key.revoked") && !log.contains("api_key.created"),
        "{log}"
    );
    assert!(
        csv_link.contains("format=csv") && csv_link.contains("action=api_key.revoked"),
        "{csv_link}"
    );
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn api_keys_are_created_shown_once_and_revoked_and_the_audit_log_filters() {
    journey_api_keys_and_audit_log(true).await;
}

#[tokio::test]
async fn api_keys_and_the_audit_log_work_without_javascript() {
    journey_api_keys_and_audit_log(false).await;
}
