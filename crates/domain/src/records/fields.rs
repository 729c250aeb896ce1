//! Reading one field of an incoming record, whatever path it came by: JSON gives numbers and
//! strings, CSV gives strings only, so numbers are accepted in both forms. Each reader
//! records a `FieldIssue` and answers `None` when the value is unusable, so one pass over a
//! record reports every bad field at once (SPEC ING-5).

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How far ahead of the server's clock a timestamp may be (clients' clocks drift).
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// Longest accepted identifier (external ids, SKUs, names of things).
pub const MAX_ID_LEN: usize = 200;

/// Longest accepted free text (interaction and review content).
pub const MAX_TEXT_LEN: usize = 20_000;

/// Why a field was refused, as a stable code clients can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueCode {
    Required,
    Invalid,
    InFuture,
    Negative,
    OutOfRange,
    TooLong,
    UnknownChannel,
    UnknownCurrency,
    UnknownCountry,
    UnknownField,
}

impl IssueCode {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueCode::Required => "required",
            IssueCode::Invalid => "invalid",
            IssueCode::InFuture => "in_future",
            IssueCode::Negative => "negative",
            IssueCode::OutOfRange => "out_of_range",
            IssueCode::TooLong => "too_long",
            IssueCode::UnknownChannel => "unknown_channel",
            IssueCode::UnknownCurrency => "unknown_currency",
            IssueCode::UnknownCountry => "unknown_country",
            IssueCode::UnknownField => "unknown_field",
        }
    }
}

/// One refused field of one record (`lines[2].quantity` for nested values).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldIssue {
    pub field: String,
    pub code: IssueCode,
    pub message: String,
}

/// Reads fields of one JSON object and collects what is wrong with them.
pub struct Reader<'a> {
    object: &'a Map<String, Value>,
    prefix: String,
    now: DateTime<Utc>,
    pub issues: Vec<FieldIssue>,
}

impl<'a> Reader<'a> {
    /// A reader for `record` of a kind with `fields`: it must be a JSON object (else the
    /// whole record is refused) and any other field is reported as unknown. `now` bounds
    /// timestamps.
    pub fn for_record(
        record: &'a Value,
        now: DateTime<Utc>,
        fields: &[&str],
    ) -> Result<Self, Vec<FieldIssue>> {
        let Some(object) = record.as_object() else {
            return Err(vec![FieldIssue {
                field: String::new(),
                code: IssueCode::Invalid,
                message: "each record must be a JSON object".into(),
            }]);
        };
        let mut reader = Reader::nested(object, String::new(), now);
        reader.only(fields);
        Ok(reader)
    }

    /// A reader for a nested object, whose issues are named `prefix.field`.
    pub fn nested(object: &'a Map<String, Value>, prefix: String, now: DateTime<Utc>) -> Self {
        Reader {
            object,
            prefix,
            now,
            issues: Vec::new(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    fn name(&self, field: &str) -> String {
        if self.prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.prefix)
        }
    }

    pub fn issue(&mut self, field: &str, code: IssueCode, message: impl Into<String>) {
        let field = self.name(field);
        self.issues.push(FieldIssue {
            field,
            code,
            message: message.into(),
        });
    }

    /// Refuses fields this record kind does not have (usually a typo in a name).
    pub fn only(&mut self, known: &[&str]) {
        let unknown: Vec<String> = self
            .object
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        for field in unknown {
            let expected = known.join(", ");
            self.issue(
                &field,
                IssueCode::UnknownField,
                format!("not a field of this record; expected one of {expected}"),
            );
        }
    }

    /// The raw value, treating JSON `null` and blank strings (empty CSV cells) as absent.
    pub fn raw(&self, field: &str) -> Option<&'a Value> {
        match self.object.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(value) => Some(value),
        }
    }

    /// Trimmed text of at most `max` characters.
    pub fn text(&mut self, field: &str, max: usize) -> Option<String> {
        let value = self.raw(field)?;
        let text = match value {
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
            _ => {
                self.issue(field, IssueCode::Invalid, "expected text");
                return None;
            }
        };
        if text.chars().count() > max {
            self.issue(field, IssueCode::TooLong, format!("at most {max} characters"));
            return None;
        }
        Some(text)
    }

    pub fn required_text(&mut self, field: &str, max: usize) -> Option<String> {
        if self.raw(field).is_none() {
            self.issue(field, IssueCode::Required, "required");
            return None;
        }
        self.text(field, max)
    }

    /// An RFC 3339 timestamp, not later than now (plus clock skew).
    pub fn timestamp(&mut self, field: &str) -> Option<DateTime<Utc>> {
        let Some(value) = self.raw(field) else {
            self.issue(field, IssueCode::Required, "required");
            return None;
        };
        let parsed = value
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
            .map(|t| t.with_timezone(&Utc));
        let Some(at) = parsed else {
            self.issue(
                field,
                IssueCode::Invalid,
                "expected an RFC 3339 timestamp, e.g. 2026-11-22T09:30:00Z",
            );
            return None;
        };
        if at > self.now + CLOCK_SKEW {
            self.issue(field, IssueCode::InFuture, "must not be in the future");
            return None;
        }
        Some(at)
    }

    /// A decimal amount, given as a JSON number or a numeric string; never negative.
    pub fn amount(&mut self, field: &str, required: bool) -> Option<Decimal> {
        let Some(value) = self.raw(field) else {
            if required {
                self.issue(field, IssueCode::Required, "required");
            }
            return None;
        };
        let parsed = match value {
            Value::Number(n) => Decimal::from_str(&n.to_string())
                .or_else(|_| Decimal::from_scientific(&n.to_string()))
                .ok(),
            Value::String(s) => Decimal::from_str(s.trim()).ok(),
            _ => None,
        };
        match parsed {
            None => {
                self.issue(field, IssueCode::Invalid, "expected a number, e.g. 19.99");
                None
            }
            Some(amount) if amount.is_sign_negative() && !amount.is_zero() => {
                self.issue(field, IssueCode::Negative, "must not be negative");
                None
            }
            Some(amount) => Some(amount.normalize()),
        }
    }

    /// A whole number within `range`.
    pub fn integer(
        &mut self,
        field: &str,
        required: bool,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        let Some(value) = self.raw(field) else {
            if required {
                self.issue(field, IssueCode::Required, "required");
            }
            return None;
        };
        let parsed = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match parsed {
            None => {
                self.issue(field, IssueCode::Invalid, "expected a whole number");
                None
            }
            Some(n) if n < 0 && *range.start() >= 0 => {
                self.issue(field, IssueCode::Negative, "must not be negative");
                None
            }
            Some(n) if !range.contains(&n) => {
                self.issue(
                    field,
                    IssueCode::OutOfRange,
                    format!("between {} and {}", range.start(), range.end()),
                );
                None
            }
            Some(n) => Some(n),
        }
    }

    /// An ISO 4217 currency code, upper-cased.
    pub fn currency(&mut self, field: &str, required: bool) -> Option<Currency> {
        let text = if required {
            self.required_text(field, 3)?
        } else {
            self.text(field, 3)?
        };
        let code = text.to_ascii_uppercase();
        match Currency::parse(&code) {
            Some(currency) => Some(currency),
            None => {
                self.issue(
                    field,
                    IssueCode::UnknownCurrency,
                    "an ISO 4217 code such as EUR or USD",
                );
                None
            }
        }
    }

    /// An ISO 3166-1 alpha-2 country code, upper-cased.
    pub fn country(&mut self, field: &str) -> Option<Country> {
        let text = self.text(field, 2)?;
        let code = text.to_ascii_uppercase();
        match Country::parse(&code) {
            Some(country) => Some(country),
            None => {
                self.issue(
                    field,
                    IssueCode::UnknownCountry,
                    "an ISO 3166-1 alpha-2 code such as DE or US",
                );
                None
            }
        }
    }

    /// A JSON object (absent: empty).
    pub fn object(&mut self, field: &str) -> Map<String, Value> {
        match self.raw(field) {
            None => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(_) => {
                self.issue(field, IssueCode::Invalid, "expected a JSON object");
                Map::new()
            }
        }
    }
}

/// An ISO 4217 currency, e.g. `EUR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub fn parse(code: &str) -> Option<Self> {
        iso_currency::Currency::from_code(code).map(Currency)
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Digits after the decimal point in the currency's minor unit (2 for EUR, 0 for JPY).
    pub fn minor_digits(self) -> u32 {
        self.0.exponent().map_or(2, u32::from)
    }
}

/// An ISO 3166-1 alpha-2 country, e.g. `DE`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Country(String);

impl Country {
    pub fn parse(code: &str) -> Option<Self> {
        let country = iso_country::Country::from_str(code).ok()?;
        (country != iso_country::Country::Unspecified && code.len() == 2).then(|| Country(code.to_owned()))
    }

    pub fn code(&self) -> &str {
        &self.0
    }
}
