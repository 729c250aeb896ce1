//! Every valid record is accepted as sent; every kind of bad field is refused with its code
//! and name, alone or together with others (SPEC ING-5).

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn codes(issues: &[FieldIssue]) -> Vec<(String, IssueCode)> {
    issues.iter().map(|i| (i.field.clone(), i.code)).collect()
}

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,40}"
}

fn past() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..3 * 365 * 24 * 3600).prop_map(|ago| now() - Duration::seconds(ago))
}

fn money() -> impl Strategy<Value = Decimal> {
    (0i64..10_000_000, 0u32..3).prop_map(|(units, scale)| Decimal::new(units, scale).normalize())
}

fn currency() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["EUR", "USD", "GBP", "JPY", "CHF", "SEK"])
}

/// A JSON number or, as CSV sends it, a string.
fn number_as(value: Decimal, as_text: bool) -> Value {
    if as_text {
        Value::String(value.to_string())
    } else {
        serde_json::from_str(&value.to_string()).unwrap()
    }
}

prop_compose! {
    fn interaction()(
        external_id in id(),
        customer in id(),
        at in past(),
        channel in prop::sample::select(Channel::ALL.to_vec()),
        event_type in "[a-z_]{1,30}",
        content in proptest::option::of("[a-zA-Z][a-zA-Z ,.!?]{0,199}"),
    ) -> (Value, Channel, Option<String>) {
        // Conversations always have words.
        let content = if channel.requires_content() { Some(content.unwrap_or_else(|| "hello".into())) } else { content };
        let mut record = json!({
            "external_id": external_id,
            "customer_external_id": customer,
            "occurred_at": at.to_rfc3339(),
            "channel": channel.as_str(),
            "event_type": event_type,
            "metadata": { "device": "ios" },
        });
        if let Some(text) = &content {
            record["content"] = json!(text);
        }
        (record, channel, content.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()))
    }
}

prop_compose! {
    fn order()(
        external_id in id(),
        customer in id(),
        at in past(),
        currency in currency(),
        total in money(),
        as_text in any::<bool>(),
        lines in proptest::collection::vec((id(), 1i64..100, money()), 0..5),
        status in prop::sample::select(OrderStatus::ALL.to_vec()),
    ) -> (Value, Decimal, usize) {
        let record = json!({
            "external_id": external_id,
            "customer_external_id": customer,
            "ordered_at": at.to_rfc3339(),
            "status": status.as_str(),
            "currency": currency.to_lowercase(),
            "total": number_as(total, as_text),
            "country": "de",
            "channel": "web",
            "lines": lines.iter().map(|(sku, quantity, price)| json!({
                "sku": sku, "quantity": if as_text { json!(quantity.to_string()) } else { json!(quantity) },
                "unit_price": number_as(*price, as_text),
            })).collect::<Vec<_>>(),
        });
        (record, total, lines.len())
    }
}

proptest! {
    #[test]
    fn every_valid_interaction_is_accepted_as_sent((record, channel, content) in interaction()) {
        let parsed = Interaction::parse(&record, now()).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(parsed.channel, channel);
        prop_assert_eq!(parsed.external_id.as_str(), record["external_id"].as_str().unwrap());
        prop_assert_eq!(parsed.content, content);
        prop_assert_eq!(parsed.metadata["device"].as_str(), Some("ios"));
    }

    #[test]
    fn every_valid_order_is_accepted_from_json_or_csv_text((record, total, lines) in order()) {
        let parsed = Order::parse(&record, now()).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(parsed.total, total);
        prop_assert_eq!(parsed.lines.len(), lines);
        prop_assert_eq!(parsed.currency.code(), record["currency"].as_str().unwrap().to_uppercase());
        prop_assert_eq!(parsed.country.as_ref().map(Country::code), Some("DE"));
    }

    #[test]
    fn each_kind_of_bad_interaction_field_gets_its_code(
        (record, _, _) in interaction(),
        fault in 0usize..6,
    ) {
        let mut record = record;
        let expected = match fault {
            0 => { record["channel"] = json!("fax"); ("channel", IssueCode::UnknownChannel) }
            1 => { record["occurred_at"] = json!((now() + Duration::hours(1)).to_rfc3339()); ("occurred_at", IssueCode::InFuture) }
            2 => { record["occurred_at"] = json!("yesterday"); ("occurred_at", IssueCode::Invalid) }
            3 => { record.as_object_mut().unwrap().remove("external_id"); ("external_id", IssueCode::Required) }
            4 => { record["channel"] = json!("chat"); record.as_object_mut().unwrap().remove("content"); ("content", IssueCode::Required) }
            _ => { record["colour"] = json!("red"); ("colour", IssueCode::UnknownField) }
        };
        let issues = Interaction::parse(&record, now()).unwrap_err();
        prop_assert_eq!(codes(&issues), vec![(expected.0.to_owned(), expected.1)]);
    }

    #[test]
    fn each_kind_of_bad_order_field_gets_its_code((record, _, _) in order(), fault in 0usize..6) {
        let mut record = record;
        let expected = match fault {
            0 => { record["currency"] = json!("EUX"); ("currency", IssueCode::UnknownCurrency) }
            1 => { record["total"] = json!(-1); ("total", IssueCode::Negative) }
            2 => { record["country"] = json!("XX"); ("country", IssueCode::UnknownCountry) }
            3 => { record["lines"] = json!([{ "sku": "A", "quantity": -2, "unit_price": 1 }]); ("lines[0].quantity", IssueCode::Negative) }
            4 => { record["lines"] = json!([{ "sku": "A", "quantity": 1, "unit_price": "-0.5" }]); ("lines[0].unit_price", IssueCode::Negative) }
            _ => { record["total"] = json!("twelve"); ("total", IssueCode::Invalid) }
        };
        let issues = Order::parse(&record, now()).unwrap_err();
        prop_assert_eq!(codes(&issues), vec![(expected.0.to_owned(), expected.1)]);
    }
}

#[test]
fn every_bad_field_is_reported_at_once() {
    let record = json!({ "channel": "fax", "occurred_at": "2999-01-01T00:00:00Z", "event_type": "x" });

    let issues = Interaction::parse(&record, now()).unwrap_err();

    assert_eq!(
        codes(&issues),
        vec![
            ("external_id".into(), IssueCode::Required),
            ("customer_external_id".into(), IssueCode::Required),
            ("occurred_at".into(), IssueCode::InFuture),
            ("channel".into(), IssueCode::UnknownChannel),
        ]
    );
}

#[test]
fn a_record_that_is_not_an_object_is_refused_whole() {
    let issues = Review::parse(&json!([1, 2]), now()).unwrap_err();
    assert_eq!(codes(&issues), vec![(String::new(), IssueCode::Invalid)]);
}

#[test]
fn reviews_competitor_prices_inventory_products_and_customers_parse_and_refuse() {
    let review = json!({ "external_id": "r1", "sku": "S1", "rating": "5", "content": "Great", "reviewed_at": "2026-11-01T10:00:00Z" });
    assert_eq!(Review::parse(&review, now()).unwrap().rating, 5);
    let bad_review = json!({ "external_id": "r1", "sku": "S1", "rating": 6, "content": "Great", "reviewed_at": "2026-11-01T10:00:00Z" });
    assert_eq!(
        codes(&Review::parse(&bad_review, now()).unwrap_err()),
        vec![("rating".into(), IssueCode::OutOfRange)]
    );

    let price = json!({ "competitor_sku": "B07", "competitor": "Amazon", "price": 9.5, "currency": "EUR", "observed_at": "2026-11-01T10:00:00Z" });
    assert_eq!(
        CompetitorPrice::parse(&price, now()).unwrap().price,
        Decimal::new(95, 1)
    );
    let no_sku = json!({ "competitor": "Amazon", "price": 9.5, "currency": "EUR", "observed_at": "2026-11-01T10:00:00Z" });
    assert_eq!(
        codes(&CompetitorPrice::parse(&no_sku, now()).unwrap_err()),
        vec![("sku".into(), IssueCode::Required)]
    );

    let stock = json!({ "sku": "S1", "on_hand": -3, "observed_at": "2026-11-01T10:00:00Z" });
    assert_eq!(
        codes(&InventoryLevel::parse(&stock, now()).unwrap_err()),
        vec![("on_hand".into(), IssueCode::Negative)]
    );

    let product = json!({ "sku": "S1", "name": "Mug", "price": "12.90" });
    assert_eq!(
        codes(&Product::parse(&product, now()).unwrap_err()),
        vec![("currency".into(), IssueCode::Required)]
    );
    let product = json!({ "sku": "S1", "name": "Mug", "price": "12.90", "currency": "jpy" });
    assert_eq!(
        Product::parse(&product, now())
            .unwrap()
            .currency
            .unwrap()
            .minor_digits(),
        0
    );

    let customer = json!({ "external_id": "c1", "email": "not-an-email", "country": "DE" });
    assert_eq!(
        codes(&Customer::parse(&customer, now()).unwrap_err()),
        vec![("email".into(), IssueCode::Invalid)]
    );
}

#[test]
fn blank_csv_cells_count_as_absent() {
    let record = json!({ "external_id": "o1", "customer_external_id": "c1", "ordered_at": "2026-11-01T10:00:00Z",
        "currency": "EUR", "total": "10", "payment_method": "", "country": " ", "region": "", "channel": "", "status": "" });
    let order = Order::parse(&record, now()).unwrap();
    assert_eq!(
        (order.country, order.channel, order.status),
        (None, None, OrderStatus::Paid)
    );
}

proptest! {
    #[test]
    fn sku_spellings_normalize_to_one_form(core in "[A-Za-z0-9]{1,12}", seps in proptest::collection::vec(prop::sample::select(vec!["-", "_", " ", ".", "/", ""]), 0..4)) {
        let mut spelled = String::new();
        for (i, c) in core.chars().enumerate() {
            spelled.push(c);
            if let Some(sep) = seps.get(i) { spelled.push_str(sep); }
        }
        prop_assert_eq!(normalize_sku(&spelled.to_lowercase()), core.to_uppercase());
        prop_assert_eq!(normalize_sku(&normalize_sku(&spelled)), normalize_sku(&spelled));
    }
}

#[test]
fn spam_reviews_are_flagged_with_a_reason_and_ordinary_ones_are_not() {
    let review = |content: &str| Review {
        external_id: "r".into(),
        sku: "S".into(),
        customer_external_id: None,
        rating: 5,
        content: content.into(),
        reviewed_at: now(),
        marketplace: None,
    };
    let cases = [
        ("Great mug, keeps tea hot for an hour. Would buy again!", None),
        ("Cheap watches at https://example.test", Some("contains a link")),
        ("THIS IS THE BEST PRODUCT EVER MADE", Some("written in capitals")),
        ("sooooooo good!!!!!", Some("repeated characters")),
        ("buy buy buy buy buy buy buy buy buy", Some("repeated words")),
    ];
    for (text, expected) in cases {
        assert_eq!(review(text).spam_reason(), expected, "{text}");
    }
}

#[test]
fn a_user_agent_adds_the_device_and_a_given_device_stays() {
    let mut phone = serde_json::json!({ "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1" });
    let mut desktop = serde_json::json!({ "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36" });
    let mut given = serde_json::json!({ "user_agent": "curl/8.0", "device": "kiosk" });
    for value in [&mut phone, &mut desktop, &mut given] {
        super::enrich_device(value.as_object_mut().unwrap());
    }
    assert_eq!(phone["device"]["type"], "mobile");
    assert_eq!(phone["device"]["os"], "iPhone");
    assert_eq!(desktop["device"]["type"], "desktop");
    assert_eq!(desktop["device"]["browser"], "Chrome");
    assert_eq!(given["device"], "kiosk");
}
