//! The records merchants send (SPEC ING-1..3), parsed from one JSON object each — the REST
//! API's records as they are, CSV rows as objects of strings — into typed values, or into the
//! list of every field that is wrong. One parser per kind, shared by every write path (ING-4).

mod fields;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use fields::{Country, Currency, FieldIssue, IssueCode, Reader, CLOCK_SKEW, MAX_ID_LEN, MAX_TEXT_LEN};

use crate::Email;

/// The canonical form of a SKU, so `ab-123`, `AB 123` and `AB_123` from different
/// marketplaces and spreadsheets name one product (SPEC ING-7): upper case, without
/// spaces, dashes, underscores, dots and slashes.
pub fn normalize_sku(sku: &str) -> String {
    sku.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_' | '.' | '/'))
        .flat_map(char::to_uppercase)
        .collect()
}

/// Where an interaction happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Web,
    Mobile,
    Email,
    Chat,
    Phone,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Web,
        Channel::Mobile,
        Channel::Email,
        Channel::Chat,
        Channel::Phone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Mobile => "mobile",
            Channel::Email => "email",
            Channel::Chat => "chat",
            Channel::Phone => "phone",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim().to_ascii_lowercase();
        Channel::ALL.into_iter().find(|c| c.as_str() == value)
    }

    /// Conversations carry words; their interactions must have content (ING-1).
    pub fn requires_content(self) -> bool {
        matches!(self, Channel::Email | Channel::Chat | Channel::Phone)
    }
}

fn channel(reader: &mut Reader<'_>, field: &str, required: bool) -> Option<Channel> {
    let text = if required {
        reader.required_text(field, 20)?
    } else {
        reader.text(field, 20)?
    };
    let parsed = Channel::parse(&text);
    if parsed.is_none() {
        reader.issue(
            field,
            IssueCode::UnknownChannel,
            "one of web, mobile, email, chat, phone",
        );
    }
    parsed
}

/// Adds `device: {type, os, browser}` to an interaction's metadata from its `user_agent`
/// (SPEC ING-7), unless the sender gave a device already: `type` is one of desktop, mobile,
/// bot, appliance or unknown.
pub fn enrich_device(metadata: &mut Map<String, Value>) {
    if metadata.contains_key("device") {
        return;
    }
    let Some(agent) = metadata.get("user_agent").and_then(Value::as_str) else {
        return;
    };
    let Some(found) = woothee::parser::Parser::new().parse(agent) else {
        return;
    };
    let kind = match found.category {
        "pc" => "desktop",
        "smartphone" | "mobilephone" => "mobile",
        "crawler" => "bot",
        "appliance" => "appliance",
        _ => "unknown",
    };
    let known =
        |value: &str| (value != "UNKNOWN" && !value.is_empty()).then(|| Value::String(value.to_owned()));
    let mut device = Map::new();
    device.insert("type".into(), Value::String(kind.into()));
    if let Some(os) = known(found.os) {
        device.insert("os".into(), os);
    }
    if let Some(browser) = known(found.name) {
        device.insert("browser".into(), browser);
    }
    metadata.insert("device".into(), Value::Object(device));
}

/// The lifecycle of an order; refunded and cancelled orders stay, marked (ING-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Paid,
    Fulfilled,
    Refunded,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Pending,
        OrderStatus::Paid,
        OrderStatus::Fulfilled,
        OrderStatus::Refunded,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Fulfilled => "fulfilled",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim().to_ascii_lowercase();
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// Something a customer did or said.
#[derive(Clone, Debug, PartialEq)]
pub struct Interaction {
    pub external_id: String,
    pub customer_external_id: String,
    pub occurred_at: DateTime<Utc>,
    pub channel: Channel,
    pub event_type: String,
    pub content: Option<String>,
    pub metadata: Map<String, Value>,
}

impl Interaction {
    pub const FIELDS: [&'static str; 7] = [
        "external_id",
        "customer_external_id",
        "occurred_at",
        "channel",
        "event_type",
        "content",
        "metadata",
    ];

    /// Parses one record; `now` bounds `occurred_at`.
    pub fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>> {
        let mut r = Reader::for_record(record, now, &Self::FIELDS)?;
        let external_id = r.required_text("external_id", MAX_ID_LEN);
        let customer_external_id = r.required_text("customer_external_id", MAX_ID_LEN);
        let occurred_at = r.timestamp("occurred_at");
        let channel = channel(&mut r, "channel", true);
        let event_type = r.required_text("event_type", 100);
        let content = r.text("content", MAX_TEXT_LEN);
        if channel.is_some_and(Channel::requires_content) && content.is_none() && r.raw("content").is_none() {
            r.issue(
                "content",
                IssueCode::Required,
                "required for email, chat and phone interactions",
            );
        }
        let mut metadata = r.object("metadata");
        enrich_device(&mut metadata);
        match (
            external_id,
            customer_external_id,
            occurred_at,
            channel,
            event_type,
        ) {
            (
                Some(external_id),
                Some(customer_external_id),
                Some(occurred_at),
                Some(channel),
                Some(event_type),
            ) if r.issues.is_empty() => Ok(Interaction {
                external_id,
                customer_external_id,
                occurred_at,
                channel,
                event_type,
                content,
                metadata,
            }),
            _ => Err(r.issues),
        }
    }
}

/// One product line of an order.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: i64,
    pub unit_price: Decimal,
}

/// A purchase.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    pub external_id: String,
    pub customer_external_id: String,
    pub ordered_at: DateTime<Utc>,
    pub status: OrderStatus,
    pub currency: Currency,
    pub total: Decimal,
    pub payment_method: Option<String>,
    pub country: Option<Country>,
    pub region: Option<String>,
    pub channel: Option<Channel>,
    pub lines: Vec<OrderLine>,
}

impl Order {
    pub const FIELDS: [&'static str; 11] = [
        "external_id",
        "customer_external_id",
        "ordered_at",
        "status",
        "currency",
        "total",
        "payment_method",
        "country",
        "region",
        "channel",
        "lines",
    ];

    pub fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>> {
        let mut r = Reader::for_record(record, now, &Self::FIELDS)?;
        let external_id = r.required_text("external_id", MAX_ID_LEN);
        let customer_external_id = r.required_text("customer_external_id", MAX_ID_LEN);
        let ordered_at = r.timestamp("ordered_at");
        let status = match r.text("status", 20) {
            None => Some(OrderStatus::Paid),
            Some(text) => {
                let parsed = OrderStatus::parse(&text);
                if parsed.is_none() {
                    r.issue(
                        "status",
                        IssueCode::Invalid,
                        "one of pending, paid, fulfilled, refunded, cancelled",
                    );
                }
                parsed
            }
        };
        let currency = r.currency("currency", true);
        let total = r.amount("total", true);
        let payment_method = r.text("payment_method", 50);
        let country = r.country("country");
        let region = r.text("region", 100);
        let channel = channel(&mut r, "channel", false);
        let lines = order_lines(&mut r);
        match (
            external_id,
            customer_external_id,
            ordered_at,
            status,
            currency,
            total,
        ) {
            (
                Some(external_id),
                Some(customer_external_id),
                Some(ordered_at),
                Some(status),
                Some(currency),
                Some(total),
            ) if r.issues.is_empty() => Ok(Order {
                external_id,
                customer_external_id,
                ordered_at,
                status,
                currency,
                total,
                payment_method,
                country,
                region,
                channel,
                lines,
            }),
            _ => Err(r.issues),
        }
    }
}

/// Reads `lines`: an array of `{sku, quantity, unit_price}`; an order may have none.
fn order_lines(r: &mut Reader<'_>) -> Vec<OrderLine> {
    let Some(value) = r.raw("lines") else {
        return Vec::new();
    };
    let Some(items) = value.as_array() else {
        r.issue(
            "lines",
            IssueCode::Invalid,
            "expected a list of {sku, quantity, unit_price}",
        );
        return Vec::new();
    };
    if items.len() > 1_000 {
        r.issue("lines", IssueCode::TooLong, "at most 1,000 lines per order");
        return Vec::new();
    }
    let now = r.now();
    let mut lines = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let prefix = format!("lines[{index}]");
        let Some(object) = item.as_object() else {
            r.issue(
                &prefix,
                IssueCode::Invalid,
                "expected an object {sku, quantity, unit_price}",
            );
            continue;
        };
        let mut line = Reader::nested(object, prefix, now);
        line.only(&["sku", "quantity", "unit_price"]);
        let sku = line.required_text("sku", MAX_ID_LEN);
        let quantity = line.integer("quantity", true, 1..=1_000_000);
        let unit_price = line.amount("unit_price", true);
        if let (Some(sku), Some(quantity), Some(unit_price)) = (sku, quantity, unit_price) {
            lines.push(OrderLine {
                sku,
                quantity,
                unit_price,
            });
        }
        r.issues.append(&mut line.issues);
    }
    lines
}

/// Something the merchant sells.
#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub category: Option<String>,
    pub cost: Option<Decimal>,
    pub price: Option<Decimal>,
    pub currency: Option<Currency>,
    pub marketplace: Option<String>,
}

impl Product {
    pub const FIELDS: [&'static str; 7] = [
        "sku",
        "name",
        "category",
        "cost",
        "price",
        "currency",
        "marketplace",
    ];

    pub fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>> {
        let mut r = Reader::for_record(record, now, &Self::FIELDS)?;
        let sku = r.required_text("sku", MAX_ID_LEN);
        let name = r.required_text("name", 500);
        let category = r.text("category", 200);
        let cost = r.amount("cost", false);
        let price = r.amount("price", false);
        let currency = r.currency("currency", false);
        if (cost.is_some() || price.is_some()) && currency.is_none() && r.raw("currency").is_none() {
            r.issue("currency", IssueCode::Required, "required with a cost or price");
        }
        let marketplace = r.text("marketplace", 100);
        match (sku, name) {
            (Some(sku), Some(name)) if r.issues.is_empty() => Ok(Product {
                sku,
                name,
                category,
                cost,
                price,
                currency,
                marketplace,
            }),
            _ => Err(r.issues),
        }
    }
}

/// A customer's review of a product.
#[derive(Clone, Debug, PartialEq)]
pub struct Review {
    pub external_id: String,
    pub sku: String,
    pub customer_external_id: Option<String>,
    pub rating: i64,
    pub content: String,
    pub reviewed_at: DateTime<Utc>,
    pub marketplace: Option<String>,
}

impl Review {
    pub const FIELDS: [&'static str; 7] = [
        "external_id",
        "sku",
        "customer_external_id",
        "rating",
        "content",
        "reviewed_at",
        "marketplace",
    ];

    pub fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>> {
        let mut r = Reader::for_record(record, now, &Self::FIELDS)?;
        let external_id = r.required_text("external_id", MAX_ID_LEN);
        let sku = r.required_text("sku", MAX_ID_LEN);
        let customer_external_id = r.text("customer_external_id", MAX_ID_LEN);
        let rating = r.integer("rating", true, 1..=5);
        let content = r.required_text("content", MAX_TEXT_LEN);
        let reviewed_at = r.timestamp("reviewed_at");
        let marketplace = r.text("marketplace", 100);
        match (external_id, sku, rating, content, reviewed_at) {
            (Some(external_id), Some(sku), Some(rating), Some(content), Some(reviewed_at))
                if r.issues.is_empty() =>
            {
                Ok(Review {
                    external_id,
                    sku,
                    customer_external_id,
                    rating,
                    content,
                    reviewed_at,
                    marketplace,
                })
            }
            _ => Err(r.issues),
        }
    }
}

impl Review {
    /// Why this review looks like spam, if it does (SPEC ING-7): such reviews are kept and
    /// flagged for a person to look at, never dropped.
    pub fn spam_reason(&self) -> Option<&'static str> {
        let text = self.content.as_str();
        let lower = text.to_lowercase();
        if lower.contains("http://") || lower.contains("https://") || lower.contains("www.") {
            return Some("contains a link");
        }
        let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
        if letters.len() >= 20 && letters.iter().all(|c| c.is_uppercase()) {
            return Some("written in capitals");
        }
        // The same character five or more times in a row ("!!!!!", "sooooo").
        let mut run = 1;
        let mut previous = None;
        for c in text.chars() {
            run = if Some(c) == previous { run + 1 } else { 1 };
            previous = Some(c);
            if run >= 5 && !c.is_whitespace() {
                return Some("repeated characters");
            }
        }
        let words: Vec<&str> = lower.split_whitespace().collect();
        let distinct: std::collections::BTreeSet<&str> = words.iter().copied().collect();
        if words.len() >= 8 && distinct.len() * 3 < words.len() {
            return Some("repeated words");
        }
        None
    }
}

/// A competitor's price for one of our products (by our SKU) or for theirs.
#[derive(Clone, Debug, PartialEq)]
pub struct CompetitorPrice {
    pub sku: Option<String>,
    pub competitor_sku: Option<String>,
    pub competitor: String,
    pub price: Decimal,
    pub currency: Currency,
    pub promotion: Option<String>,
    pub observed_at: DateTime<Utc>,
}

impl CompetitorPrice {
    pub const FIELDS: [&'static str; 7] = [
        "sku",
        "competitor_sku",
        "competitor",
        "price",
        "currency",
        "promotion",
        "observed_at",
    ];

    pub fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>> {
        let mut r = Reader::for_record(record, now, &Self::FIELDS)?;
        let sku = r.text("sku", MAX_ID_LEN);
        let competitor_sku = r.text("competitor_sku", MAX_ID_LEN);
        if r.raw("sku").is_none() && r.raw("competitor_sku").is_none() {
            r.issue(
                "sku",
                IssueCode::Required,
                "give sku (ours) or competitor_sku (theirs)",
            );
        }
        let competitor = r.required_text("competitor", 200);
        let price = r.amount("price", true);
        let currency = r.currency("currency", true);
        let promotion = r.text("promotion", 500);
        let observed_at = r.timestamp("observed_at");
        match (competitor, price, currency, observed_at) {
            (Some(competitor), Some(price), Some(currency), Some(observed_at)) if r.issues.is_empty() => {
                Ok(CompetitorPrice {
                    sku,
                    competitor_sku,
                    competitor,
                    price,
                    currency,
                    promotion,
                    observed_at,
                })
            }
            _ => Err(r.issues),
        }
    }
}

/// Stock on hand for a product at a moment.
#[derive(Clone, Debug, PartialEq)]
pub struct InventoryLevel {
    pub sku: String,
    pub on_hand: i64,
    pub observed_at: DateTime<Utc>,
}

impl InventoryLevel {
    pub const FIELDS: [&'static str; 3] = ["sku", "on_hand", "observed_at"];

    pub fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>> {
        let mut r = Reader::for_record(record, now, &Self::FIELDS)?;
        let sku = r.required_text("sku", MAX_ID_LEN);
        let on_hand = r.integer("on_hand", true, 0..=i64::from(i32::MAX));
        let observed_at = r.timestamp("observed_at");
        match (sku, on_hand, observed_at) {
            (Some(sku), Some(on_hand), Some(observed_at)) if r.issues.is_empty() => Ok(InventoryLevel {
                sku,
                on_hand,
                observed_at,
            }),
            _ => Err(r.issues),
        }
    }
}

/// A customer sent explicitly (they are also created on first sight by other records).
#[derive(Clone, Debug, PartialEq)]
pub struct Customer {
    pub external_id: String,
    pub email: Option<Email>,
    pub name: Option<String>,
    pub country: Option<Country>,
    pub segment: Option<String>,
    pub metadata: Map<String, Value>,
}

impl Customer {
    pub const FIELDS: [&'static str; 6] = ["external_id", "email", "name", "country", "segment", "metadata"];

    pub fn parse(record: &Value, now: DateTime<Utc>) -> Result<Self, Vec<FieldIssue>> {
        let mut r = Reader::for_record(record, now, &Self::FIELDS)?;
        let external_id = r.required_text("external_id", MAX_ID_LEN);
        let email = r.text("email", 254).and_then(|text| match Email::parse(&text) {
            Ok(email) => Some(email),
            Err(e) => {
                r.issue("email", IssueCode::Invalid, e.to_string());
                None
            }
        });
        let name = r.text("name", 500);
        let country = r.country("country");
        let segment = r.text("segment", 100);
        let metadata = r.object("metadata");
        match external_id {
            Some(external_id) if r.issues.is_empty() => Ok(Customer {
                external_id,
                email,
                name,
                country,
                segment,
                metadata,
            }),
            _ => Err(r.issues),
        }
    }
}

#[cfg(test)]
mod tests;
