//! The dashboard in a real browser (SPEC UI-2): its figures equal the same questions asked of
//! the database, the range and channel live in the address and change the figures, the
//! charts are drawn once the page hydrates, and the figures are there without JavaScript.

use playwright_rs::protocol::Page;
use serde_json::{json, Value};

use crate::harness::{artifacts_dir, open, register, shown, wait_for_path, BrowserSession, Server, PASSWORD};

/// POSTs JSON from the page (the browser's session and origin, as the app's own pages do).
async fn post(page: &Page, path: &str, body: Value) -> u16 {
    let script = format!(
        "fetch('{path}', {{ method: 'POST', headers: {{ 'content-type': 'application/json' }}, body: JSON.stringify({body}) }}).then(r => r.status)"
    );
    page.evaluate(&script, None::<&()>).await.unwrap()
}

/// Picks `value` in the filter `select` and applies the filters (a plain GET form).
/// Clicks chart `chart`'s download button for `format` and saves the file in the artifacts;
/// answers where.
async fn download(page: &Page, chart: &str, format: &str) -> std::path::PathBuf {
    let waiter = page.expect_download(None).await.unwrap();
    page.locator(format!("figure:has(#chart-{chart}) button.chart-{format}"))
        .click(None)
        .await
        .unwrap();
    let file = waiter.wait().await.unwrap();
    assert_eq!(
        file.suggested_filename(),
        format!("sightline-chart-{chart}.{format}")
    );
    let saved = artifacts_dir().join(format!("dashboard-{chart}.{format}"));
    file.save_as(&saved).await.unwrap();
    saved
}

async fn choose(page: &Page, select: &str, value: &str) {
    page.locator(select).select_option(value, None).await.unwrap();
    page.locator(".dashboard-filters button[type=submit]")
        .click(None)
        .await
        .unwrap();
}

/// The figure a KPI tile shows, as the number the server rendered.
async fn figure(page: &Page, key: &str) -> f64 {
    page.locator(format!("[data-kpi={key}] .kpi-value"))
        .get_attribute("data-value")
        .await
        .unwrap()
        .unwrap_or_default()
        .parse()
        .unwrap_or(f64::NAN)
}

/// Days ago as a time the server accepts: noon, or now when today's noon is ahead.
fn days_ago(n: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let noon = (now / 86_400 - n) * 86_400 + 43_200;
    let at = noon.min(now);
    let (date, secs) = (at.div_euclid(86_400), at.rem_euclid(86_400));
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        civil(date),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 as an ISO date (Howard Hinnant's algorithm).
fn civil(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[tokio::test]
async fn the_dashboard_shows_the_databases_figures_and_follows_its_filters() {
    let server = Server::start().await;
    let browser = BrowserSession::launch().await;
    let page = browser.page(true).await;
    register(&page, &server, true, "owner@example.com", "Figures Co").await;

    // Two months of activity: a web visit every day, an e-mail every third day, an order
    // every other day.
    let interactions: Vec<Value> = (0..60)
        .map(|n| {
            json!({ "external_id": format!("i{n}"), "customer_external_id": format!("c{}", n % 7),
            "occurred_at": days_ago(n), "channel": if n % 3 == 0 { "email" } else { "web" },
            "event_type": "message", "content": "Thanks, the parcel arrived quickly" })
        })
        .collect();
    let orders: Vec<Value> = (0..30)
        .map(|n| {
            json!({ "external_id": format!("o{n}"), "customer_external_id": format!("c{}", n % 5),
            "ordered_at": days_ago(n * 2), "status": "paid", "currency": "EUR", "channel": "web",
            "total": format!("{}.25", 20 + n), "lines": if n % 3 == 0 {
                json!([{ "sku": "MUG-1", "quantity": 1, "unit_price": "20.25" },
                       { "sku": "TEE-1", "quantity": 1, "unit_price": "15.00" }])
            } else {
                json!([{ "sku": "MUG-1", "quantity": 1, "unit_price": "20.25" }])
            } })
        })
        .collect();
    let products = json!({ "records": [
        { "sku": "MUG-1", "name": "Mug", "category": "Kitchen", "price": "20.25", "currency": "EUR" },
        { "sku": "TEE-1", "name": "T-shirt", "category": "Apparel", "price": "15.00", "currency": "EUR" },
    ]});
    assert_eq!(post(&page, "/api/v1/products/batch", products).await, 201);
    assert_eq!(
        post(
            &page,
            "/api/v1/interactions/batch",
            json!({ "records": interactions })
        )
        .await,
        201
    );
    assert_eq!(
        post(&page, "/api/v1/orders/batch", json!({ "records": orders })).await,
        201
    );

    open(&page, &server, "/app?days=30", true).await;
    shown(&page, "#chart-revenue canvas", "the revenue chart is drawn").await;
    shown(&page, "#chart-sentiment canvas", "the sentiment chart is drawn").await;
    // Each chart downloads as PNG (the chart as drawn, at twice its pixels) …
    let png = std::fs::read(download(&page, "revenue", "png").await).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG file");
    // … and as SVG: ECharts draws the chart once more with its SVG renderer into a file.
    let saved = download(&page, "revenue", "svg").await;
    let svg = std::fs::read_to_string(&saved).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("Revenue") && svg.contains("<path"),
        "an SVG drawing of the revenue chart: {}",
        &svg[..svg.len().min(200)]
    );
    // The server draws the same chart for reports, with the session's credentials.
    let server_image: String = page
        .evaluate(
            "fetch(document.querySelector('a[href^=\"/api/v1/charts/revenue.png\"]').href)
               .then(r => r.status + ' ' + r.headers.get('content-type'))",
            None::<&()>,
        )
        .await
        .unwrap();
    assert_eq!(server_image, "200 image/png");

    // What a screen reader gets: named landmarks, controls and images, nothing unnamed.
    let tree = page.aria_snapshot(None).await.unwrap();
    std::fs::write(artifacts_dir().join("dashboard-aria.yaml"), &tree).unwrap();
    for expected in [
        "heading \"Figures Co\" [level=1]",
        "combobox \"Range\"",
        "textbox \"From\"",
        "combobox \"Channel\"",
        "combobox \"Segment\"",
        "combobox \"Category\"",
        "button \"Apply\"",
        "list \"Key figures\"",
        "img \"Revenue",
        "button \"Download PNG of Revenue and orders\"",
        "button \"Download SVG of Revenue and orders\"",
        "link \"Revenue chart as PNG\"",
    ] {
        assert!(
            tree.contains(expected),
            "the accessibility tree has {expected}:\n{tree}"
        );
    }
    let unnamed: Vec<&str> = tree
        .lines()
        .filter(|line| {
            let node = line.trim_start().trim_start_matches("- ");
            ["button", "link", "combobox", "textbox", "img", "checkbox"]
                .iter()
                .any(|role| {
                    node == *role
                        || node.starts_with(&format!("{role}:"))
                        || node.starts_with(&format!("{role} ["))
                })
        })
        .collect();
    assert!(unnamed.is_empty(), "controls without a name: {unnamed:?}\n{tree}");

    // The keyboard reaches every filter and every chart's download, in reading order, from
    // the page's first link (the download clicks above moved the focus).
    page.evaluate_expression("document.querySelector('a[href]').focus()")
        .await
        .unwrap();
    let mut reached = Vec::new();
    for _ in 0..60 {
        page.keyboard().press("Tab", None).await.unwrap();
        let focused: String = page
            .evaluate(
                "document.activeElement.id || document.activeElement.className || document.activeElement.tagName",
                None::<&()>,
            )
            .await
            .unwrap();
        reached.push(focused);
    }
    let position = |what: &str| reached.iter().position(|r| r == what);
    for control in [
        "dashboard-days",
        "dashboard-channel",
        "dashboard-segment",
        "chart-download chart-png",
    ] {
        assert!(position(control).is_some(), "Tab reaches {control}: {reached:?}");
    }
    assert!(position("dashboard-days") < position("dashboard-segment"));
    assert!(position("dashboard-segment") < position("chart-download chart-png"));
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&server.database_url())
        .await
        .unwrap();
    let direct = |sql: &'static str, days: i32| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, f64>(sql)
                .bind(days)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    const REVENUE: &str = "select coalesce(sum(total), 0)::float8 from orders
        where status not in ('refunded', 'cancelled') and (ordered_at at time zone 'UTC')::date > (now() at time zone 'UTC')::date - $1";
    const ACTIVE: &str = "select count(distinct customer_id)::float8 from (
        select customer_id, occurred_at as at from interactions union all select customer_id, ordered_at from orders) x
        where (at at time zone 'UTC')::date > (now() at time zone 'UTC')::date - $1";
    let revenue_30 = figure(&page, "revenue").await;
    let active_30 = figure(&page, "active_customers").await;

    page.evaluate_expression("window.scrollTo(0, 0)").await.unwrap();
    page.screenshot_to_file(&artifacts_dir().join("dashboard.png"), None)
        .await
        .unwrap();
    assert_eq!(revenue_30, direct(REVENUE, 30).await);
    assert_eq!(active_30, direct(ACTIVE, 30).await);
    assert_eq!(figure(&page, "orders").await, 15.0, "an order every other day");

    // An order sent now shows on the open dashboard without a reload.
    page.evaluate_expression("window.stillHere = 42").await.unwrap();
    let sent = std::time::Instant::now();
    let order = json!({ "records": [{ "external_id": "o-live", "customer_external_id": "c-new",
        "ordered_at": days_ago(0), "status": "paid", "currency": "EUR", "channel": "web", "total": "99.00",
        "lines": [{ "sku": "MUG-1", "quantity": 1, "unit_price": "99.00" }] }] });
    // The page's own request: the dashboard does not know it sent it.
    assert_eq!(post(&page, "/api/v1/orders/batch", order).await, 201);
    shown(
        &page,
        "[data-kpi=orders] .kpi-value[data-value=\"16\"]",
        "the new order appears live",
    )
    .await;
    println!("a new order reached the open dashboard in {:?}", sent.elapsed());
    shown(
        &page,
        "#chart-revenue canvas",
        "the charts are drawn again after the update",
    )
    .await;
    let still_here: i64 = page.evaluate("window.stillHere", None::<&()>).await.unwrap();
    assert_eq!(still_here, 42, "the page was not reloaded");
    let revenue_30 = figure(&page, "revenue").await;
    assert_eq!(
        revenue_30,
        direct(REVENUE, 30).await,
        "the live figures are the database's"
    );
    let active_30 = figure(&page, "active_customers").await;

    // A shorter range through the form: the address and the figures follow.
    choose(&page, "#dashboard-days", "7").await;
    wait_for_path(&page, "**/app?days=7*").await;
    let revenue_7 = figure(&page, "revenue").await;
    assert_eq!(revenue_7, direct(REVENUE, 7).await);
    assert!(revenue_7 < revenue_30, "{revenue_7} < {revenue_30}");

    // The e-mail channel alone has no orders, and says so.
    choose(&page, "#dashboard-channel", "email").await;
    wait_for_path(&page, "**/app?days=7&*channel=email*").await;
    shown(
        &page,
        "#dashboard-range:has-text(\"channel email\")",
        "the range names the channel",
    )
    .await;
    assert_eq!(figure(&page, "orders").await, 0.0);
    let hint = page
        .locator("[data-kpi=revenue] .kpi-hint")
        .inner_text()
        .await
        .unwrap();
    assert!(hint.contains("Import orders"), "{hint}");

    // A segment: customers c0 and c2, put in "champions" by a scoring run; the figures and the
    // address follow, and revenue is theirs alone.
    sqlx::query(
        "insert into customer_scores (org_id, customer_id, computed_at, model_version, recency_days, frequency,
             monetary, r_score, f_score, m_score, segment, horizon_days, p_alive, expected_purchases,
             expected_purchases_low, expected_purchases_high, churn_probability, churn_band, churn_method)
         select org_id, id, now(), 'test', 1, 1, 1, 5, 5, 5,
                case when external_id in ('c0', 'c2') then 'champions' else 'hibernating' end,
                90, 0.5, 1, 0, 2, 0.1, 'low', 'p_alive'
         from customers",
    )
    .execute(&db)
    .await
    .unwrap();
    // The server's background folder moves the scored customers into their segments' rollups
    // within a round or two.
    let waited = std::time::Instant::now();
    loop {
        let pending: i64 = sqlx::query_scalar("select count(*) from segment_moves")
            .fetch_one(&db)
            .await
            .unwrap();
        if pending == 0 {
            break;
        }
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(15),
            "the folder moved the scored customers ({pending} left)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    page.locator("#dashboard-channel")
        .select_option("", None)
        .await
        .unwrap();
    choose(&page, "#dashboard-segment", "champions").await;
    wait_for_path(&page, "**/app?days=7&*segment=champions*").await;
    shown(
        &page,
        "#dashboard-range:has-text(\"customers now in Champions\")",
        "the range names the segment",
    )
    .await;
    const CHAMPION_REVENUE: &str = "select coalesce(sum(o.total), 0)::float8 from orders o
        join customers c on c.id = o.customer_id and c.external_id in ('c0', 'c2')
        where o.status not in ('refunded', 'cancelled') and (o.ordered_at at time zone 'UTC')::date > (now() at time zone 'UTC')::date - $1";
    let champions = figure(&page, "revenue").await;
    assert_eq!(champions, direct(CHAMPION_REVENUE, 7).await);
    assert!(champions < revenue_7, "{champions} < {revenue_7}");

    // A product category: its order lines alone, whoever bought them.
    page.locator("#dashboard-segment")
        .select_option("", None)
        .await
        .unwrap();
    choose(&page, "#dashboard-category", "Apparel").await;
    wait_for_path(&page, "**/app?days=7&*category=Apparel*").await;
    shown(
        &page,
        "#dashboard-range:has-text(\"products in category “Apparel”\")",
        "the range names the category",
    )
    .await;
    const APPAREL_REVENUE: &str = "select coalesce(sum(l.quantity * l.unit_price), 0)::float8 from orders o
        join order_lines l on l.order_id = o.id join products p on p.id = l.product_id and p.category = 'Apparel'
        where o.status not in ('refunded', 'cancelled') and (o.ordered_at at time zone 'UTC')::date > (now() at time zone 'UTC')::date - $1";
    let apparel = figure(&page, "revenue").await;
    assert_eq!(apparel, direct(APPAREL_REVENUE, 7).await);
    assert!(apparel > 0.0 && apparel < revenue_7, "{apparel} < {revenue_7}");

    // The customers list, filtered, downloads as exactly the rows it shows.
    open(
        &page,
        &server,
        "/customers?seen_within_days=7&sort=last_seen",
        true,
    )
    .await;
    let shown_ids: Vec<String> = page
        .evaluate(
            "Array.from(document.querySelectorAll('table[aria-label=Customers] tbody tr')).map(r => r.dataset.externalId)",
            None::<&()>,
        )
        .await
        .unwrap();
    let href = page
        .locator("a[download]")
        .get_attribute("href")
        .await
        .unwrap()
        .unwrap();
    assert!(
        href.contains("seen_within_days=7") && href.contains("sort=last_seen"),
        "{href}"
    );
    let csv: String = page
        .evaluate(&format!("fetch('{href}').then(r => r.text())"), None::<&()>)
        .await
        .unwrap();
    let exported: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert!(!shown_ids.is_empty());
    assert_eq!(exported, shown_ids, "{csv}");

    // Without JavaScript the same figures are rendered by the server.
    let plain = browser.page(false).await;
    open(&plain, &server, "/sign-in", false).await;
    plain
        .locator("#email")
        .fill("owner@example.com", None)
        .await
        .unwrap();
    plain.locator("#password").fill(PASSWORD, None).await.unwrap();
    plain
        .locator("button[type=submit].primary")
        .click(None)
        .await
        .unwrap();
    wait_for_path(&plain, "**/app").await;
    open(&plain, &server, "/app?days=30", false).await;
    assert_eq!(figure(&plain, "revenue").await, revenue_30);
    assert_eq!(figure(&plain, "active_customers").await, active_30);
    let explained = plain
        .locator("[data-kpi=revenue] .kpi-explanation")
        .inner_text()
        .await
        .unwrap();
    assert!(
        explained.contains("refunded and cancelled orders are left out"),
        "{explained}"
    );
    browser.close().await;
    server.stop().await;
}
