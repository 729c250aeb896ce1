//! Getting data in through the browser (SPEC UI-5): a CSV upload with a few bad rows runs to
//! 100 % with a summary that matches and an error report naming the bad lines; the manual
//! entry form shows field errors and then saves; the new customer appears in the list and
//! their page shows the timeline.

use playwright_rs::protocol::{FilePayload, Page};

use crate::harness::Server;
use crate::harness::{artifacts_dir, open, register, shown, text, wait_for_path, BrowserSession};

const FILE: &str = "Event ID,customer_external_id,occurred_at,channel,event_type,content,Notes\n\
e-1,cust-a,2026-10-01T09:00:00Z,chat,message,\"Hello, where is my parcel?\",x\n\
e-2,cust-a,2026-10-02T09:00:00Z,fax,message,hi,x\n\
e-3,cust-b,2026-10-03T09:00:00Z,web,page_view,,x\n\
e-4,cust-b,2026-10-04T09:00:00Z,chat,message,broken \"quote,x\n\
e-5,cust-c,2026-10-05T09:00:00Z,email,newsletter,Thanks for the tips,x\n\
e-6,cust-c,2026-10-06T09:00:00Z,mobile,page_view,,x\n";

#[tokio::test]
async fn a_csv_upload_with_bad_rows_reaches_100_percent_and_reports_the_bad_lines() {
    let server = Server::start().await;
    let browser = BrowserSession::launch().await;
    let page = browser.page(true).await;
    register(&page, &server, true, "importer@example.com", "Import Co").await;

    open(&page, &server, "/imports/new", true).await;
    page.locator("#import-file")
        .set_input_files_payload(
            FilePayload::new("october.csv", "text/csv", FILE.as_bytes().to_vec()),
            None,
        )
        .await
        .unwrap();
    shown(&page, "table[aria-label=Preview]", "the preview appears").await;
    // The unknown columns start ignored; map the id column and leave the notes out.
    page.locator("select[data-column=\"Event ID\"]")
        .select_option("external_id", None)
        .await
        .unwrap();
    let preview = text(&page, "table[aria-label=Preview]").await;
    page.screenshot_to_file(&artifacts_dir().join("import-preview.png"), None)
        .await
        .unwrap();
    page.locator("button:has-text(\"Upload and import\")")
        .click(None)
        .await
        .unwrap();
    shown(
        &page,
        "[data-testid=import-summary]",
        "the import finishes with a summary",
    )
    .await;
    let percent = text(&page, "[data-testid=import-percent]").await;
    let accepted = text(&page, "[data-testid=rows-accepted]").await;
    let rejected = text(&page, "[data-testid=rows-rejected]").await;
    let report_href = page
        .locator("[data-testid=error-report]")
        .get_attribute("href")
        .await
        .unwrap()
        .unwrap();
    page.screenshot_to_file(&artifacts_dir().join("import-summary.png"), None)
        .await
        .unwrap();
    let report: String = page
        .evaluate(
            &format!("fetch('{report_href}').then(r => r.text())"),
            None::<&()>,
        )
        .await
        .unwrap();

    assert!(preview.contains("Hello, where is my parcel?"), "{preview}");
    assert!(percent.starts_with("100%"), "{percent}");
    assert_eq!((accepted.as_str(), rejected.as_str()), ("4", "2"));
    let lines: Vec<&str> = report
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(lines, ["3", "5"], "{report}");

    // The imported customers are in the list, and a customer's page shows their timeline.
    open(&page, &server, "/customers", true).await;
    let list = text(&page, "table[aria-label=Customers]").await;
    assert!(list.contains("cust-a") && list.contains("cust-c"), "{list}");
    page.locator("tr[data-external-id=cust-a] a")
        .click(None)
        .await
        .unwrap();
    wait_for_path(&page, "**/customers/*").await;
    let timeline = text(&page, "ol[aria-label=Timeline]").await;
    assert!(timeline.contains("Hello, where is my parcel?"), "{timeline}");
    // The text is scored in the background; the open page shows its label and the trend
    // as the scores arrive (live), without a reload.
    shown(
        &page,
        "ol[aria-label=Timeline] [data-sentiment]",
        "the message gets its sentiment",
    )
    .await;
    shown(
        &page,
        "#customer-sentiment canvas",
        "the sentiment trend is drawn",
    )
    .await;
    // Scores describe buying: a customer who has only written says what is missing.
    let scores = text(&page, "[data-testid=customer-scores]").await;
    assert!(
        scores.contains("No scores yet") && scores.contains("order"),
        "{scores}"
    );
    // So do behaviour patterns, for a customer seen only a few times.
    let patterns = text(&page, "[data-testid=customer-patterns]").await;
    assert!(
        patterns.contains("No patterns yet") && patterns.contains("5 interactions"),
        "{patterns}"
    );
    browser.close().await;
    server.stop().await;
}

/// Fills the interaction form with a chat from customer `walk-in-7` saying `words`, and sends it.
async fn send_chat(page: &Page, server: &Server, javascript: bool, words: Option<&str>) {
    open(page, server, "/data/interaction", javascript).await;
    page.locator("#customer_external_id")
        .fill("walk-in-7", None)
        .await
        .unwrap();
    page.locator("#occurred_at")
        .fill("2026-10-05T14:30", None)
        .await
        .unwrap();
    page.locator("#channel")
        .select_option("chat", None)
        .await
        .unwrap();
    page.locator("#event_type").fill("question", None).await.unwrap();
    if let Some(words) = words {
        page.locator("#interaction-content")
            .fill(words, None)
            .await
            .unwrap();
    }
    page.locator("button:has-text(\"Save interaction\")")
        .click(None)
        .await
        .unwrap();
}

async fn manual_entry(javascript: bool) {
    let server = Server::start().await;
    let browser = BrowserSession::launch().await;
    let page = browser.page(javascript).await;
    register(
        &page,
        &server,
        javascript,
        &format!("clerk-{javascript}@example.com"),
        "Manual Co",
    )
    .await;

    send_chat(&page, &server, javascript, None).await;
    let missing = text(&page, "#content-error").await;
    page.screenshot_to_file(
        &artifacts_dir().join(format!("manual-entry-errors-js-{javascript}.png")),
        None,
    )
    .await
    .unwrap();
    assert!(
        missing.contains("required"),
        "a chat without words is refused beside the field: {missing}"
    );

    send_chat(&page, &server, javascript, Some("Would love delivery on Sundays")).await;
    if javascript {
        shown(
            &page,
            ".notice:has-text(\"Interaction saved\")",
            "the form confirms",
        )
        .await;
    } else {
        page.wait_for_load_state(None).await.unwrap();
    }

    open(&page, &server, "/customers?q=walk", javascript).await;
    let list = text(&page, "table[aria-label=Customers]").await;
    assert!(list.contains("walk-in-7"), "{list}");

    // The server's text worker scores the chat and makes it searchable within moments; the
    // search page finds it by a word's start and links to its customer.
    let mut hits = 0;
    for _ in 0..30 {
        open(&page, &server, "/search?q=sund*", javascript).await;
        hits = page.locator("ol.hits li").count().await.unwrap();
        if hits > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(hits, 1, "the chat is found by searching");
    let found = text(&page, "ol.hits").await;
    assert!(
        found.contains("walk-in-7") && found.contains("Sundays"),
        "{found}"
    );
    assert_eq!(text(&page, "ol.hits mark").await, "Sundays");
    page.screenshot_to_file(&artifacts_dir().join(format!("search-js-{javascript}.png")), None)
        .await
        .unwrap();
    page.locator("ol.hits a").click(None).await.unwrap();
    wait_for_path(&page, "**/customers/*").await;

    // The chat asks for something: "What customers say" lists it as a feature request, and
    // says plainly that there are no complaints yet.
    open(&page, &server, "/insights?days=365", javascript).await;
    let requests = text(&page, "table[aria-label=\"Feature requests\"]").await;
    assert!(
        requests.contains("delivery on sundays") && requests.contains("Would love delivery on Sundays"),
        "{requests}"
    );
    let body = text(&page, "main").await;
    assert!(body.contains("No negative texts in the range yet"), "{body}");
    page.screenshot_to_file(
        &artifacts_dir().join(format!("insights-js-{javascript}.png")),
        None,
    )
    .await
    .unwrap();
    page.locator("table[aria-label=\"Feature requests\"] td.example a")
        .click(None)
        .await
        .unwrap();
    wait_for_path(&page, "**/customers/*").await;
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn the_manual_form_shows_field_errors_and_the_new_customer_is_listed() {
    manual_entry(true).await;
}

#[tokio::test]
async fn the_manual_form_works_without_javascript() {
    manual_entry(false).await;
}
